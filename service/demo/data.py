"""The demo company: 星野オフィスシステム (Hoshino Office Systems), Japanese and English."""

from __future__ import annotations

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
]
