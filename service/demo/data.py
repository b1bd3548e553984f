"""The demo company: 星野オフィスシステム (Hoshino Office Systems), Japanese and English."""

from __future__ import annotations

from typing import Any

# Request bodies as a client would send them: the schemas validate them on the way in.
DEPARTMENTS = [
    {"key": "sales", "name": "営業部 (Sales)", "description": "法人営業。価格ではなく価値で語る。"},
    {"key": "product", "name": "商品企画部 (Product Planning)", "description": "Writes the launch briefs."},
    {"key": "development", "name": "開発部 (Development)", "description": "Builds what customers value."},
    {
        "key": "support",
        "name": "カスタマーサポート部 (Customer Support)",
        "description": "顧客理解の最前線。",
    },
    {"key": "marketing", "name": "マーケティング部 (Marketing)", "description": "Keeps the common score."},
    {"key": "hr", "name": "人事部 (HR)", "description": "Recruits and onboards with the same story."},
]

PRODUCTS = [
    {
        "key": "hoshino",
        "name": "星野オフィスシステム",
        "description": "私たちはPCを売っているのではない。お客様の事務作業を速くしている。"
        " (We don't sell PCs; we make our customers' office work faster.)",
        "is_company": True,
    },
    {
        "key": "kuradesk",
        "name": "クラデスク 請求書AI (KuraDesk Invoice AI)",
        "description": "紙とPDFの請求書を読み取り、会計ソフトへ自動入力するクラウドサービス。",
        "is_company": False,
    },
]

# (email, display name, role, department key)
PEOPLE = [
    ("admin@hoshino.example", "システム管理者 (Admin)", "admin", None),
    ("sato.misaki@hoshino.example", "佐藤 美咲", "editor", "marketing"),
    ("takahashi.ken@hoshino.example", "高橋 健", "editor", "product"),
    ("suzuki.yui@hoshino.example", "鈴木 結衣", "manager", "sales"),
    ("tanaka.hiroshi@hoshino.example", "田中 浩", "employee", "sales"),
    ("emma.wilson@hoshino.example", "Emma Wilson", "employee", "sales"),
    ("ito.daisuke@hoshino.example", "伊藤 大輔", "manager", "support"),
    ("watanabe.aoi@hoshino.example", "渡辺 葵", "employee", "support"),
    ("yamamoto.sho@hoshino.example", "山本 翔", "manager", "development"),
    ("nakamura.rin@hoshino.example", "中村 凛", "employee", "development"),
    ("kobayashi.mai@hoshino.example", "小林 舞", "manager", "hr"),
    # New hires in their onboarding (hire dates in HIRED_DAYS_AGO); each gets their department's manager.
    ("matsumoto.hina@hoshino.example", "松本 陽菜", "employee", "sales"),
    ("liam.carter@hoshino.example", "Liam Carter", "employee", "support"),
    ("sasaki.takumi@hoshino.example", "佐々木 拓海", "employee", "development"),
]

# Hire dates, in days before the day the demo is loaded: the onboarding campaign (last step
# on day 14) enrolls whoever started within the last 14 days.
HIRED_DAYS_AGO = {
    "nakamura.rin@hoshino.example": 4,
    "matsumoto.hina@hoshino.example": 12,
    "liam.carter@hoshino.example": 9,
    "sasaki.takumi@hoshino.example": 14,
}

# The launch baton for クラデスク, in Japanese: published, approved by sales.
KURADESK_BRIEF: dict[str, Any] = {
    "product_key": "kuradesk",
    "locale": "ja",
    "title": "クラデスク 請求書AI ローンチ・ブリーフ",
    "background": "インボイス制度の開始で、請求書の確認と入力の作業が増えた。"
    "中堅企業の経理は人手が増えず、月末に残業が集中している。",
    "target_customer": "従業員50〜300名の企業の経理担当者と経理課長",
    "pains": [
        {"kind": "dissatisfaction", "text": "月末に紙とPDFの請求書を手で入力し、毎月残業が続く"},
        {"kind": "inconvenience", "text": "請求書ごとに形式が違い、会計ソフトへの転記に手間がかかる"},
        {"kind": "anxiety", "text": "入力ミスで支払額を誤り、取引先の信頼を失うのが怖い"},
    ],
    "value_proposition": "請求書の入力時間を週3時間減らし、入力ミスを40%減らす",
    "differentiators": [
        {
            "alternative": "手入力(Excel)",
            "difference": "読み取りから仕訳候補まで自動",
            "trade_off": "手書きの請求書には対応しない",
        },
        {
            "alternative": "大手会計ソフトのOCRオプション",
            "difference": "どの会計ソフトにも連携でき、初期設定は30分",
            "trade_off": "会計ソフト内の高度な承認フローは持たない",
        },
    ],
    "pitch": "クラデスクは紙とPDFの請求書を読み取り、会計ソフトへ自動で入力します。"
    "経理担当者の入力作業を週3時間減らし、入力ミスを40%減らします。",
    "customer_next_action": "無料トライアルで先月分の請求書を読み込んでみる",
    "gut_check": {
        "who_changes": "経理担当者が月末の残業から解放され、確認と分析に時間を使える",
        "next_action": "先月分の請求書30枚でトライアルし、削減時間を自分で測る",
        "what_we_give_up": "手書き請求書への対応と、会計ソフト内の複雑な承認フロー",
    },
}

# (kind, claim, source, verify_by offset in days from today; negative: already expired)
KURADESK_EVIDENCE = [
    ("metric", "パイロット5社で請求書の入力時間が週平均3時間減少", "2026年春 パイロット調査(5社)", 120),
    ("case", "山田商事では月末の経理残業が月20時間から4時間に", "山田商事 経理課長インタビュー", 90),
    ("quote", "「請求書を探して打ち込む時間がほぼゼロになった」", "導入企業アンケート 2026年5月", -20),
]

# Why the brief was approved although the customer quote's verification had lapsed.
STALE_QUOTE_OVERRIDE = "アンケートは再実施中。数値の根拠は有効なため、発表は予定どおり進める。"

KURADESK_MESSAGES: list[dict[str, Any]] = [
    {
        "kind": "value_translation",
        "title": "高速OCR → 入力時間の削減",
        "feature_term": "高速OCR",
        "value_statement": "請求書の入力時間を週3時間削減",
        "metric": {"value": 3, "unit": "hours/week", "basis": "パイロット5社の平均"},
        "audiences": ["all"],
        "channel": "crm_card",
    },
    {
        "kind": "value_translation",
        "title": "自動仕訳 → ミスの削減",
        "feature_term": "自動仕訳",
        "value_statement": "入力ミスを40%削減",
        "metric": {"value": 40, "unit": "%", "basis": "パイロット5社、導入前後3か月の比較"},
        "audiences": ["all"],
        "channel": "crm_card",
    },
    {
        "kind": "key_message",
        "title": "価格ではなく、取り戻せる時間で語る",
        "body": "月額費用の話の前に、経理担当者が毎週取り戻す3時間を伝える。",
        "audiences": ["sales"],
        "channel": "briefing",
    },
    {
        "kind": "key_message",
        "title": "問い合わせは価値の声",
        "body": "「手書きは読めますか」という質問は、私たちが意図して捨てた部分。理由とともに答える。",
        "audiences": ["support"],
        "channel": "intranet",
    },
    {
        "kind": "faq",
        "title": "手書きの請求書は読めますか?",
        "body": "読めません。手書きは全体の5%未満のため、印字された請求書の精度を優先しました。",
        "audiences": ["sales", "support"],
        "channel": "crm_card",
    },
]

# The company's own purpose, in English, under review (step one of internal marketing).
COMPANY_BRIEF: dict[str, Any] = {
    "product_key": "hoshino",
    "locale": "en",
    "title": "What we sell, as value",
    "background": "We are known as a PC reseller; customers stay with us for the time we save them.",
    "target_customer": "Office teams of 50 to 300 people in mid-sized Japanese companies",
    "pains": [{"kind": "inconvenience", "text": "Office work piles up at month end"}],
    "value_proposition": "We make our customers' office work faster: 3 hours a week back per person",
    "differentiators": [
        {
            "alternative": "Online PC shops",
            "difference": "We set up, connect and support the whole office",
            "trade_off": "We are not the cheapest per device",
        }
    ],
    "pitch": "We don't sell PCs. We make your office work faster: our customers get about three "
    "hours a week back for every person on their team.",
    "customer_next_action": "Book a one-hour office work review",
    "evidence": [
        {
            "kind": "small_win",
            "claim": "Three customers renewed citing time saved, not price, in 2026",
            "source": "Sales renewal notes, H1 2026",
        }
    ],
    "gut_check": {
        "who_changes": "Office staff who stop retyping and chasing paper",
        "next_action": "Ask us to measure where their hours go",
        "what_we_give_up": "Competing on device price",
    },
}
