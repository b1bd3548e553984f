"""Scene three of the demo: the training camp and the launch tour.

An onboarding campaign (新入社員オンボーディング) walks every new hire through the *why*:
the company's own story on day 0, the current pitch on day 1, a customer interview on day 3,
a check-in with their manager on day 7 and the comprehension check on day 14. A launch
campaign for クラデスク takes sales and support through small briefings in Tokyo, Osaka and
online, with a newsletter and e-mails; some steps are behind us, some still ahead.

Where people stand, so readiness has something to say:
- 中村 凛 (development, started 4 days ago) interviewed a customer — her answers are now
  feedback items of source `interview` she follows in her feed —, acknowledged the brief and
  submitted her check, which waits for her manager;
- 松本 陽菜 (sales, 12 days) passed; Liam Carter (support, 9 days) needs work, with his
  manager's comment; 佐々木 拓海 (development, 14 days) only acknowledged: his check day has
  come, so he counts as overdue;
- 木村 颯太 joins HR in three days: pushed in after the campaign started, he is enrolled
  the moment his record arrives and sees every step as upcoming;
- on the launch, 田中 浩 passed, Emma Wilson needs work, 渡辺 葵 acknowledged.

Everything goes through the same service functions the API uses, each with the principal
of the person who would do it. Times are relative to the day the demo is loaded.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.campaigns import service as campaigns_service
from service.campaigns.schemas import CampaignCreate, CheckCreate, Grade, InterviewCreate
from service.db import utcnow
from service.feedback import service as feedback_service
from service.feedback.schemas import Transition
from service.people import service as people_service
from service.people.schemas import PersonCreate, PersonRead

EDITOR = "sato.misaki@hoshino.example"
PRODUCT_EDITOR = "takahashi.ken@hoshino.example"
SALES_MANAGER = "suzuki.yui@hoshino.example"
SUPPORT_MANAGER = "ito.daisuke@hoshino.example"
HR_MANAGER = "kobayashi.mai@hoshino.example"
NEW_HIRE = "nakamura.rin@hoshino.example"

ONBOARDING_NAME = "新入社員オンボーディング / New-hire onboarding"
LAUNCH_NAME = "クラデスク 請求書AI ローンチ説明会 / KuraDesk Invoice AI launch"

# (day_offset, channel, title, exercise): counted from each new hire's start date.
ONBOARDING_STEPS: list[tuple[int, str, str, str | None]] = [
    (
        0,
        "briefing",
        "なぜお客様は私たちを選ぶのか: 私たちはPCではなく『速くなる事務作業』を売っている"
        " / Why customers choose us",
        None,
    ),
    (1, "intranet", "今のピッチを読む: クラデスク 請求書AIの30秒ピッチ / Read the current pitch", None),
    (
        3,
        "training",
        "お客様インタビュー: なぜ選んだか・何が不便だったか・買わない人はなぜ買わないか"
        " / Interview a customer",
        "customer_interview",
    ),
    (7, "chat", "上司と15分の振り返り: インタビューで聞いたこと / Check-in with your manager", None),
    (14, "training", "理解度チェック: 3つの問いと自分の言葉のピッチ / Comprehension check", None),
]

# (days from today, channel, title): at 10:00 JST (01:00 UTC) that day.
LAUNCH_STEPS: list[tuple[int, str, str]] = [
    (-6, "email", "ローンチのお知らせ: クラデスク 請求書AI が出ました"),
    (-5, "briefing", "少人数説明会 東京本社 第1回 (10名)"),
    (-3, "briefing", "少人数説明会 大阪支店 (8名)"),
    (-1, "newsletter", "社内報: 山田商事、月末の経理残業が月20時間から4時間に"),
    (2, "briefing", "Online briefing in English / オンライン説明会(英語)"),
    (5, "briefing", "少人数説明会 東京本社 第2回: ピッチを声に出して言えるまで"),
    (9, "email", "理解度チェックのお願い(まだの方へ) / Reminder: the comprehension check"),
]

INTERVIEW_CUSTOMER = {"account": "株式会社つばさ", "segment": "smb"}
INTERVIEW_ANSWERS = {
    "why_chose_us": "初期設定が30分で終わり、今の会計ソフトをそのまま使えたから。"
    "比較した他社は設定に2週間かかると言われた。",
    "what_was_inconvenient": "PDFのプレビューが小さく、ノートPCでは請求書ごとに拡大して確認している。",
    "why_not_buy": "同業の知り合いは『取引先の手書き請求書が多いので合わない』と言って導入を見送った。",
}

# Gut-check answers and pitches, by person: (who_changes, next_action, what_we_give_up, pitch).
CHECKS = {
    NEW_HIRE: (
        "経理担当者。月末の手入力がなくなり、確認と分析に時間を使えるようになる。",
        "先月分の請求書でトライアルして、減った時間を自分で測る。",
        "手書きの請求書の読み取りと、会計ソフト内の複雑な承認フロー。",
        "クラデスクは請求書を読み取って会計ソフトに自動で入力します。経理の入力作業が週3時間減り、"
        "ミスも4割減ります。インタビューした株式会社つばさ様も『設定30分』が決め手でした。",
    ),
    "matsumoto.hina@hoshino.example": (
        "月末に残業している経理担当者と、その残業を減らしたい経理課長。",
        "先月分の請求書30枚で無料トライアルをする。",
        "手書き請求書への対応と、承認フロー。その分、印字された請求書の精度と設定の速さを取った。",
        "紙とPDFの請求書を読み取って会計ソフトへ自動で入力します。経理の方の入力作業が週3時間減り、"
        "入力ミスも40%減ります。",
    ),
    "liam.carter@hoshino.example": (
        "The accounting team.",
        "Buy the premium plan.",
        "Nothing important.",
        "KuraDesk is a high-performance OCR engine with multi-format support and AI-powered accuracy.",
    ),
    "tanaka.hiroshi@hoshino.example": (
        "経理担当者が月末の残業から解放され、課長は入力ミスの心配が減る。",
        "先月分の請求書でトライアルし、削減時間を自分で測る。",
        "手書き請求書と、会計ソフト内の複雑な承認フロー。",
        "月額の話の前に: クラデスクで経理担当者は毎週3時間を取り戻し、入力ミスは40%減ります。"
        "紙とPDFの請求書を読み取り、今の会計ソフトに自動で入力します。",
    ),
    "emma.wilson@hoshino.example": (
        "AP clerks who retype invoices at month end.",
        "Start a free trial with last month's invoices.",
        "Nothing really; it does everything the competitors do.",
        "KuraDesk reads paper and PDF invoices and fills in your accounting software, so your AP "
        "team gets about three hours a week back and makes 40% fewer input errors.",
    ),
}

# (person, grader, result, comment)
GRADES = [
    (
        "matsumoto.hina@hoshino.example",
        SALES_MANAGER,
        "passed",
        "お客様の言葉で言えています。諦めたことも理由つきで言えているので、商談でそのまま使ってください。",
    ),
    (
        "liam.carter@hoshino.example",
        SUPPORT_MANAGER,
        "needs_work",
        "機能の言葉になっています。お客様が取り戻す時間(週3時間)と、手書きは意図して読まないことを入れて、"
        "もう一度。 / These are feature words: say the three hours a week the customer gets back, "
        "and that we deliberately do not read handwriting.",
    ),
    ("tanaka.hiroshi@hoshino.example", SALES_MANAGER, "passed", "価格の前に時間の話ができている。"),
    (
        "emma.wilson@hoshino.example",
        SALES_MANAGER,
        "needs_work",
        "We do give things up on purpose: handwritten invoices and in-app approval flows. Say so "
        "before the customer finds out. / 手書きと承認フローは意図して捨てた部分です。",
    ),
]

FUTURE_HIRE = {
    "email": "kimura.sota@hoshino.example",
    "display_name": "木村 颯太",
    "role": "employee",
    "department_key": "hr",
    "locale": "ja",
    "employee_number": "H-2611-007",
}
FUTURE_HIRE_STARTS_IN_DAYS = 3


def _at_10_jst(day: date) -> datetime:
    return datetime.combine(day, time(1, 0), tzinfo=UTC)


def _check(email: str) -> CheckCreate:
    who_changes, next_action, what_we_give_up, pitch = CHECKS[email]
    return CheckCreate(
        answers={"who_changes": who_changes, "next_action": next_action, "what_we_give_up": what_we_give_up},
        pitch_in_own_words=pitch,
    )


async def load_campaigns(
    session: AsyncSession, people: dict[str, PersonRead], brief_id: uuid.UUID
) -> dict[str, Any]:
    """Runs the onboarding and launch campaigns for the published brief; returns their ids."""
    today = utcnow().date()
    editor = Principal.for_person(people[EDITOR])

    def person(email: str) -> Principal:
        return Principal.for_person(people[email])

    onboarding = await campaigns_service.create_campaign(
        session,
        editor,
        CampaignCreate.model_validate(
            {
                "brief_id": brief_id,
                "name": ONBOARDING_NAME,
                "kind": "onboarding",
                "audience": {"departments": [], "roles": []},  # every new hire, whatever the department
                "steps": [
                    {"channel": channel, "title": title, "day_offset": day, "exercise": exercise}
                    for day, channel, title, exercise in ONBOARDING_STEPS
                ],
            }
        ),
    )
    await campaigns_service.activate_campaign(session, editor, onboarding.id)
    launch = await campaigns_service.create_campaign(
        session,
        editor,
        CampaignCreate.model_validate(
            {
                "brief_id": brief_id,
                "name": LAUNCH_NAME,
                "kind": "launch",
                "audience": {"departments": ["sales", "support"], "roles": []},
                "steps": [
                    {"channel": channel, "title": title, "at": _at_10_jst(today + timedelta(days=days))}
                    for days, channel, title in LAUNCH_STEPS
                ],
            }
        ),
    )
    await campaigns_service.activate_campaign(session, editor, launch.id)

    # The new hire's week: a customer interview on day 3, the brief read, the check sent in.
    new_hire = person(NEW_HIRE)
    interview = await campaigns_service.record_interview(
        session,
        new_hire,
        onboarding.id,
        InterviewCreate.model_validate(
            {
                "customer": INTERVIEW_CUSTOMER,
                "interviewed_on": today - timedelta(days=1),
                "answers": INTERVIEW_ANSWERS,
            }
        ),
    )
    # The weekly review already picked up why people do not buy: she sees it move in her feed.
    await feedback_service.transition_feedback(
        session,
        person(PRODUCT_EDITOR),
        interview.feedback_ids[-1],
        Transition(to="triaged", note="失注理由として営業と共有。手書きはブリーフの『諦めること』どおり"),
    )
    await campaigns_service.acknowledge(session, new_hire, onboarding.id)
    await campaigns_service.submit_check(session, new_hire, onboarding.id, _check(NEW_HIRE))

    # The others: one passed, one needs work (onboarding); one passed, one needs work (launch).
    submitted = {}
    for email, campaign_id in [
        ("matsumoto.hina@hoshino.example", onboarding.id),
        ("liam.carter@hoshino.example", onboarding.id),
        ("tanaka.hiroshi@hoshino.example", launch.id),
        ("emma.wilson@hoshino.example", launch.id),
    ]:
        check = await campaigns_service.submit_check(session, person(email), campaign_id, _check(email))
        submitted[email] = check.id
    for email, grader, result, comment in GRADES:
        await campaigns_service.grade_check(
            session, person(grader), submitted[email], Grade(result=result, comment=comment)
        )
    await campaigns_service.acknowledge(session, person("sasaki.takumi@hoshino.example"), onboarding.id)
    await campaigns_service.acknowledge(session, person("watanabe.aoi@hoshino.example"), launch.id)

    # Who was at the briefings that took place: the new hire at her first-day orientation; at
    # the launch, two sellers in Tokyo and a support engineer in Osaka.
    await campaigns_service.confirm_attendance(session, new_hire, onboarding.id, onboarding.steps[0].id)
    tokyo, osaka = (
        step.id
        for step in launch.steps
        if step.channel == "briefing" and step.at is not None and step.at <= utcnow()
    )
    for email, step_id in [
        ("tanaka.hiroshi@hoshino.example", tokyo),
        ("emma.wilson@hoshino.example", tokyo),
        ("watanabe.aoi@hoshino.example", osaka),
    ]:
        await campaigns_service.confirm_attendance(session, person(email), launch.id, step_id)

    # HR pushes a hire who starts in three days: enrollment follows the person.
    future_hire = await people_service.create_person(
        session,
        Principal.operator("demo"),
        PersonCreate(
            **FUTURE_HIRE,
            manager_id=people[HR_MANAGER].id,
            hire_date=today + timedelta(days=FUTURE_HIRE_STARTS_IN_DAYS),
        ),
    )
    people[future_hire.email] = future_hire
    return {"onboarding": onboarding.id, "launch": launch.id, "interview": interview.feedback_ids}
