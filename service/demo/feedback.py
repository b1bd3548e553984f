"""Scene two of the demo: a week of customer voice in one place, and the loop closing on it.

About forty items from the support tool, the CRM, an NPS survey, a customer survey and a new
hire's customer interview, in Japanese and English, received over the last seven days. The
weekly review already happened for what came in before the last two days: those items are
triaged, some decided (one of them a deliberate *stop*), one implemented but not yet announced
to sales (a loop gap), one announced; one ticket was never triaged and is overdue.

Everything goes through the same service functions the API uses.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.db import utcnow
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.feedback.schemas import FeedbackCreate, FeedbackUpdate, LoopStage, ThemeCreate, Transition
from service.messages import service as messages_service
from service.messages.schemas import MessageCreate
from service.pagination import PageParams
from service.people.schemas import PersonRead

SUPPORT = "watanabe.aoi@hoshino.example"
SALES_JA = "tanaka.hiroshi@hoshino.example"
SALES_EN = "emma.wilson@hoshino.example"
SALES_MANAGER = "suzuki.yui@hoshino.example"
NEW_HIRE = "nakamura.rin@hoshino.example"
HR = "kobayashi.mai@hoshino.example"
EDITOR = "sato.misaki@hoshino.example"
PRODUCT_EDITOR = "takahashi.ken@hoshino.example"
SUPPORT_MANAGER = "ito.daisuke@hoshino.example"

# Themes the weekly review grouped the voice into (key → name, description).
THEMES = {
    "speed": ("月末の一括読み取りが遅い", "100枚を超える請求書をまとめて読むと待たされる。"),
    "handwritten": ("手書き請求書", "手書きの請求書も読み取ってほしいという声。"),
    "accounting": ("会計ソフト連携", "CSV出力と会計ソフトへの取り込みのつまずき。"),
    "approval": ("承認フロー", "Approval inside the product: asked for in deals we lost."),
}

# (external id, hours ago, filed by, account, segment, tags, theme, body)
TICKETS: list[tuple[str, float, str, str, str, list[str], str | None, str]] = [
    (
        "ZD-261101",
        150,
        SUPPORT,
        "株式会社みどり商事",
        "mid-market",
        ["速度", "一括読み取り"],
        "speed",
        "請求書を100枚以上まとめて読み込むと画面が固まる。月末に毎回発生し、経理担当が30分待っている。",
    ),
    (
        "ZD-261102",
        146,
        SUPPORT,
        "大和建設株式会社",
        "smb",
        ["手書き"],
        "handwritten",
        "手書きの請求書を読み取れない。取引先の3割がまだ手書きで送ってくる。",
    ),
    (
        "ZD-261103",
        124,
        SUPPORT,
        "北斗物流株式会社",
        "mid-market",
        ["連携", "CSV"],
        "accounting",
        "弥生会計へのCSV出力で勘定科目コードが1桁ずれる。手で直してから取り込んでいる。",
    ),
    (
        "ZD-261104",
        120,
        SUPPORT,
        "さくら食品株式会社",
        "smb",
        ["インボイス"],
        None,
        "インボイスの登録番号を自動でチェックできるか、という問い合わせが今週3件あった。",
    ),
    (
        "ZD-261105",
        98,
        SUPPORT,
        "Blue Harbor KK",
        "mid-market",
        ["UI"],
        None,
        "The PDF preview is too small to read on a 13-inch laptop; users zoom in for every invoice.",
    ),
    (
        "ZD-261106",
        96,
        SUPPORT,
        "株式会社ひかり設計",
        "smb",
        ["監査"],
        None,
        "読み取り結果を手で直した履歴を、監査のために残しておきたい。",
    ),
    (
        "ZD-261107",
        74,
        SUPPORT,
        "株式会社みどり商事",
        "mid-market",
        ["重複"],
        None,
        "同じ請求書を二重に取り込んでしまった。重複しているときに警告がほしい。",
    ),
    (
        "ZD-261108",
        140,
        SUPPORT,
        "東邦精機株式会社",
        "mid-market",
        ["連携", "設定"],
        "accounting",
        "freeeとの連携設定の手順がわからず、設定に2時間かかった。手順書がほしい。",
    ),
    (
        "ZD-261109",
        30,
        SUPPORT,
        "株式会社みどり商事",
        "mid-market",
        ["速度"],
        "speed",
        "月末の読み取りが昨日から速くなった気がする、とお礼の電話があった。",
    ),
    (
        "ZD-261110",
        12,
        SUPPORT,
        "北斗物流株式会社",
        "mid-market",
        ["CSV"],
        "accounting",
        "CSV出力の文字コードをShift_JISに切り替えたい。古い会計ソフトが UTF-8 を読めない。",
    ),
    (
        "ZD-261111",
        20,
        SUPPORT,
        "Kestrel Trading",
        "smb",
        ["language"],
        None,
        "Supplier invoices in English are read, but the currency field is left empty for USD.",
    ),
    (
        "ZD-261112",
        6,
        SUPPORT,
        "大和建設株式会社",
        "smb",
        ["手書き"],
        "handwritten",
        "手書き請求書の件、代替案(スキャンしてPDF化)を案内したら納得してもらえた。",
    ),
    (
        "SF-OPP-4711",
        118,
        SALES_JA,
        "株式会社あおば",
        "mid-market",
        ["失注", "承認フロー"],
        "approval",
        "失注理由: 競合は承認フローを持っている。経理課長が承認まで一つの画面で済ませたいと言っていた。",
    ),
    (
        "SF-OPP-4720",
        100,
        SALES_JA,
        "株式会社つばさ",
        "smb",
        ["受注理由"],
        None,
        "導入の決め手は『初期設定30分』。デモでその場で設定して見せると決まる。",
    ),
    (
        "SF-OPP-4733",
        95,
        SALES_EN,
        "Northwind Japan",
        "enterprise",
        ["english", "invoices"],
        None,
        "Prospect asked whether we read English-language invoices from overseas suppliers.",
    ),
    (
        "SF-OPP-4741",
        76,
        SALES_EN,
        "Contoso KK",
        "mid-market",
        ["won"],
        "speed",
        "Won: the AP clerk saved three hours a week in the trial, and that, not price, closed it.",
    ),
    (
        "SF-OPP-4752",
        36,
        SALES_JA,
        "株式会社かえで",
        "smb",
        ["価格"],
        None,
        "価格の話になる前に月末の残業時間を聞くと、話が前に進む。",
    ),
    (
        "SF-OPP-4760",
        22,
        SALES_EN,
        "Fabrikam Japan",
        "mid-market",
        ["notifications"],
        None,
        "Customer wants a Slack message when an invoice fails to read, instead of checking the screen.",
    ),
    (
        "SF-OPP-4764",
        80,
        SALES_MANAGER,
        "大手見込み客(非公開)",
        "enterprise",
        ["電子帳簿保存法"],
        None,
        "大口見込み客から、電子帳簿保存法への対応状況を1枚の資料にまとめてほしいと依頼。",
    ),
]

# (response id, hours ago, score, body): promoters, passives and detractors all answer.
NPS = [
    ("NPS-2611-001", 140, 10, "月末の残業がなくなった。もう手入力には戻れない。"),
    ("NPS-2611-002", 130, 9, "設定が30分で終わったのが良かった。"),
    ("NPS-2611-003", 110, 3, "手書きの請求書が読めないので、結局半分は手入力。"),
    ("NPS-2611-004", 90, 8, "Works well; the preview could be bigger."),
    ("NPS-2611-005", 70, 10, "Three hours a week back for our AP team."),
    ("NPS-2611-006", 52, 6, "CSV出力のたびに勘定科目を直している。"),
    ("NPS-2611-007", 40, 9, "サポートの返信が早い。"),
    ("NPS-2611-008", 34, 7, "便利だが、承認は別のシステムでやっている。"),
    ("NPS-2611-009", 28, 10, "Invoice reading is accurate; we stopped double-checking totals."),
    ("NPS-2611-010", 24, 2, "100枚を超えると固まる。月末に使えないと意味がない。"),
    ("NPS-2611-011", 18, 8, "満足。英語の請求書にも対応してほしい。"),
    ("NPS-2611-012", 14, 9, "経理課長が入力ミスの減少を評価している。"),
    ("NPS-2611-013", 9, 7, "Good value; onboarding material was thin."),
    ("NPS-2611-014", 4, 5, "承認フローがないので、稟議は結局紙。"),
]

# (response id, hours ago, body)
SURVEYS = [
    ("SV-2611-01", 100, "年末調整の時期は請求書以外の書類(領収書)も読めると助かる。"),
    ("SV-2611-02", 60, "Reports on how much time we saved each month would help us justify the renewal."),
    ("SV-2611-03", 26, "導入前の比較資料に、他社との違い(できないことも含めて)が書いてあって信頼できた。"),
]

INTERVIEW = (
    "顧客インタビュー(北斗物流 経理課長): なぜ選んだか——会計ソフトを変えずに使えるから。"
    "不便だったこと——最初のCSV設定で勘定科目の対応表を作るのに半日かかった。"
    "買わない会社の理由——手書きの請求書が多い会社には合わない、と正直に言われた。"
)
HR_NOTE = "採用面接で、候補者が当社を『月末の残業をなくす会社』として知っていた。営業資料の言葉がそのまま届いている。"


def _principal(people: dict[str, PersonRead], email: str) -> Principal:
    return Principal.for_person(people[email])


def _product_key(products: dict[str, Any], wanted: str) -> str | None:
    """The demo's product key, whether `products` is keyed by key or holds product records."""
    if wanted in products:
        return wanted
    for product in products.values():
        if getattr(product, "key", None) == wanted:
            return wanted
    return None


async def _themes(session: AsyncSession, editor: Principal, product_key: str | None) -> dict[str, Any]:
    created = {}
    for key, (name, description) in THEMES.items():
        theme = await themes_service.create_theme(
            session, editor, ThemeCreate(name=name, description=description, product_key=product_key)
        )
        created[key] = theme.id
    return created


async def _announcement(
    session: AsyncSession, editor: Principal, publisher: Principal, product_key: str | None
) -> Any:
    """The talking point that tells sales the month-end slowdown is fixed."""
    draft = await messages_service.create_message(
        session,
        editor,
        MessageCreate(
            kind="talking_point",
            product_key=product_key,
            channel="briefing",
            locale="ja",
            title="月末の一括読み取りが3倍速くなりました",
            body="100枚を超える請求書の一括読み取りを改善し、300枚で10分かかっていた処理が3分になりました。"
            "『月末に固まる』と言っていたお客様に、直ったことを伝えてください。",
        ),
    )
    # Four eyes: the editor submits, a colleague approves what the editor wrote.
    await messages_service.submit_message(session, editor, draft.id)
    return (await messages_service.publish_message(session, publisher, draft.id)).id


async def load_feedback(
    session: AsyncSession, people: dict[str, PersonRead], products: dict[str, Any]
) -> None:
    """Loads a week of feedback and walks part of it through the loop."""
    now = utcnow()
    product_key = _product_key(products, "kuradesk")
    operator = Principal.operator("demo")
    editor = _principal(people, EDITOR)
    product_editor = _principal(people, PRODUCT_EDITOR)
    support_manager = _principal(people, SUPPORT_MANAGER)

    def at(hours: float) -> str:
        return (now - timedelta(hours=hours)).isoformat()

    items: list[dict[str, Any]] = []
    for external_id, hours, filer, account, segment, tags, _theme, body in TICKETS:
        items.append(
            {
                "source": "sales" if external_id.startswith("SF-") else "support",
                "external_id": external_id,
                "product_key": product_key,
                "customer": {"account": account, "segment": segment},
                "body": body,
                "tags": tags,
                "received_at": at(hours),
                "filed_by_email": filer,
            }
        )
    for external_id, hours, score, body in NPS:
        items.append(
            {
                "source": "nps",
                "external_id": external_id,
                "product_key": product_key,
                "nps_score": score,
                "body": body,
                "received_at": at(hours),
            }
        )
    for external_id, hours, body in SURVEYS:
        items.append(
            {
                "source": "survey",
                "external_id": external_id,
                "product_key": product_key,
                "body": body,
                "received_at": at(hours),
            }
        )
    result = await feedback_service.ingest_batch(session, operator, items)
    if result.errors:  # demo data is ours: a refusal here is a bug in it
        raise ValueError(f"demo feedback refused: {result.errors}")

    # People file what they heard themselves: a new hire's customer interview, HR's note.
    interview = await feedback_service.create_feedback(
        session,
        _principal(people, NEW_HIRE),
        FeedbackCreate(
            source="interview",
            product_key=product_key,
            customer={"account": "北斗物流株式会社", "segment": "mid-market"},
            body=INTERVIEW,
            tags=["オンボーディング", "なぜ選んだか"],
            received_at=now - timedelta(hours=78),
        ),
    )
    await feedback_service.create_feedback(
        session,
        _principal(people, HR),
        FeedbackCreate(source="other", body=HR_NOTE, tags=["採用"], received_at=now - timedelta(hours=60)),
    )

    # The weekly review: group, then triage everything older than the triage target — but one.
    themes = await _themes(session, editor, product_key)
    listed = await feedback_service.list_feedback(
        session, editor, PageParams(limit=200), status=LoopStage.NEW
    )
    by_external = {item.external_id: item for item in listed.items}
    for external_id, _hours, _filer, _account, _segment, _tags, theme, _body in TICKETS:
        if theme is not None:
            await feedback_service.update_feedback(
                session, editor, by_external[external_id].id, FeedbackUpdate(theme_id=themes[theme])
            )
    triage_hours = 24 * feedback_service.loop_targets(session).get("triaged", 2)
    overdue = "ZD-261108"  # the freee set-up ticket nobody picked up: the digest lists it
    for item in [*listed.items]:
        age_hours = (now - item.received_at).total_seconds() / 3600
        if item.external_id == overdue or age_hours < triage_hours - 4:
            continue
        if item.id == interview.id:  # the new hire's interview feeds the onboarding brief
            reviewer, note = product_editor, "オンボーディング資料に反映"
        else:
            reviewer = support_manager if item.source == "support" else editor
            note = "週次レビューで確認"
        await feedback_service.transition_feedback(
            session, reviewer, item.id, Transition(to="triaged", note=note)
        )

    def step(external_id: str) -> Any:
        return by_external[external_id].id

    # Decided: build the speed fix and the CSV fix; deliberately stop on handwriting.
    await feedback_service.transition_feedback(
        session,
        product_editor,
        step("ZD-261101"),
        Transition(
            to="decided",
            decision="build",
            rationale="月末に使えないと価値がない。NPSの批判者2人も同じ理由。",
            note="次のスプリントで対応",
        ),
    )
    await feedback_service.transition_feedback(
        session,
        product_editor,
        step("ZD-261103"),
        Transition(to="decided", decision="build", rationale="CSVの科目ずれは全顧客に影響し、修正は小さい。"),
    )
    await feedback_service.transition_feedback(
        session,
        product_editor,
        step("ZD-261102"),
        Transition(
            to="decided",
            decision="stop",
            rationale="手書き請求書の読み取りは作らない。精度が9割に届かず、手書きが多い顧客は対象の3%。"
            "営業は『スキャンしてPDF化』の運用を案内する。",
            note="やらないと決めた: ブリーフの『諦めること』に追記",
        ),
    )
    # Implemented: both fixes shipped; only the speed fix has been announced to sales.
    for external_id in ("ZD-261101", "ZD-261103"):
        await feedback_service.transition_feedback(
            session, product_editor, step(external_id), Transition(to="implemented", note="リリース済み")
        )
    message_id = await _announcement(session, editor, product_editor, product_key)
    await feedback_service.transition_feedback(
        session,
        editor,
        step("ZD-261101"),
        Transition(to="announced", message_id=message_id, note="営業に『直りました』と再提案を依頼"),
    )
