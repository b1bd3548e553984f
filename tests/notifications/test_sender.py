"""The sender end to end: notification rows (written here directly, as the fan-out writes them)
reach a real SMTP server and a real chat receiver on loopback, in the person's language, once
each; failures are retried and given up; rows that no longer hold are cancelled unsent.

Only 127.0.0.1 is ever connected to: tests/mailserver.py and tests/chatreceiver.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from service.campaigns.models import Enrollment
from service.config import Settings
from service.db import utcnow
from service.notifications import sender
from service.notifications.models import ChatDestination, Notification, NotificationPreferences
from service.people import service as people_service
from service.people.schemas import PersonUpdate
from tests.campaigns.helpers import acknowledge, make_campaign
from tests.chatreceiver import ChatReceiver, chat_receiver
from tests.factories import OPERATOR, bearer, make_department, make_person, token_for
from tests.mailserver import MailServer, smtp_server

PUBLIC = "https://cuecard.example.com"


@pytest.fixture
async def mailserver() -> AsyncIterator[MailServer]:
    async with smtp_server() as server:
        yield server


@pytest.fixture
async def chatreceiver() -> AsyncIterator[ChatReceiver]:
    async with chat_receiver() as receiver:
        yield receiver


@pytest.fixture
def mail_settings(app, mailserver: MailServer) -> Settings:
    """SMTP on the loopback server, loopback chat allowed; retries a minute apart."""
    settings: Settings = app.state.settings
    return settings.model_copy(
        update={
            "smtp_url": mailserver.url(),
            "mail_from": "CueCard <cuecard@example.com>",
            "public_url": PUBLIC,
            "webhook_allow_hosts": frozenset({"127.0.0.1"}),
            "notification_retry_base_seconds": 60.0,
        }
    )


def step_data(**extra: Any) -> dict[str, Any]:
    return {
        "title": "全社説明会",
        "link": "/campaigns/abc/acknowledge",
        "digest": False,
        "display_name": "山田 太郎",
        "campaign_id": str(uuid.uuid4()),
        "campaign_name": "請求書AI ローンチ",
        "step_title": "全社説明会",
        "channel": "briefing",
        "message_title": "請求書の入力が週3時間減ります",
        "message_body": "月末の残業をなくします。\n<script>alert(1)</script>",
        "pitch": "請求書を読み取って会計ソフトに自動で入れます。",
    } | extra


def decided_data(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Approved",
        "link": "/briefs/123",
        "digest": False,
        "display_name": "Alex Smith",
        "item_type": "brief",
        "item_title": "Invoice AI launch",
        "outcome": "approved",
    } | extra


async def add(
    app, *, kind: str, channel: str = "email", person=None, destination=None, **fields: Any
) -> uuid.UUID:
    """A notification row as the fan-out writes it."""
    recipient = person.id if person is not None else destination.id
    row = Notification(
        kind=kind,
        channel=channel,
        person_id=person.id if person is not None else None,
        destination_id=destination.id if destination is not None else None,
        dedupe_key=f"{kind}:{uuid.uuid4()}:{recipient}:{channel}",
        locale=fields.pop("locale", person.locale if person is not None else "en"),
        **fields,
    )
    async with app.state.sessionmaker() as session:
        session.add(row)
        await session.commit()
        return row.id


async def row(app, row_id: uuid.UUID) -> Notification:
    async with app.state.sessionmaker() as session:
        found = await session.get(Notification, row_id)
        assert found is not None
        return found


async def destination(app, kind: str, url: str, department_key: str | None = None) -> ChatDestination:
    async with app.state.sessionmaker() as session:
        dest = ChatDestination(kind=kind, url=url, department_key=department_key, created_by="person:test")
        session.add(dest)
        await session.commit()
        return dest


async def test_one_multipart_mail_per_row_in_the_persons_language(app, mailserver, mail_settings):
    ja = await make_person(app, display_name="山田 太郎", locale="ja-JP")
    en = await make_person(app, display_name="Alex Smith", locale="en")
    step = await add(app, kind="campaign_step", person=ja, data=step_data())
    decided = await add(app, kind="review_decided", person=en, data=decided_data(comment="Nice <b>work</b>"))

    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 2
    assert len(mailserver.messages) == 2
    by_to = {m.rcpt_tos[0]: m for m in mailserver.messages}
    mail = by_to[ja.email]
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    # Japanese survives the trip: the subject is encoded (RFC 2047) and decodes back.
    assert b"=?utf-8?" in mail.raw.split(b"\r\n\r\n")[0].lower()
    assert message["Subject"] == "【請求書AI ローンチ】全社説明会"
    assert "山田 太郎" in str(message["To"]) and ja.email in str(message["To"])
    assert message["From"] == "CueCard <cuecard@example.com>"
    assert message["Message-ID"] == f"<{step}@cuecard.example.com>"
    # Folded onto its own line when long (RFC 5322 folding; clients unfold it).
    assert message["List-Unsubscribe"].strip() == f"<{PUBLIC}/api/v1/me/notification-preferences>"
    assert message["List-Unsubscribe-Post"] is None  # not one-click: the page needs a sign-in
    text = mail.part("plain")
    assert "山田 太郎 さん" in text and "時期になりました" in text
    assert "請求書の入力が週3時間減ります" in text and "月末の残業をなくします。" in text
    assert "請求書を読み取って会計ソフトに自動で入れます。" in text  # the pitch
    assert f"{PUBLIC}/campaigns/abc/acknowledge" in text  # absolute
    assert f"{PUBLIC}/api/v1/me/notification-preferences" in text
    page = mail.part("html")
    assert f'<a href="{PUBLIC}/campaigns/abc/acknowledge">' in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<html lang="ja">' in page

    english = by_to[en.email].message
    assert english["Subject"] == 'Your brief "Invoice AI launch" was approved'
    assert "Nice <b>work</b>" in by_to[en.email].part("plain")
    assert "Nice &lt;b&gt;work&lt;/b&gt;" in by_to[en.email].part("html")

    for row_id in (step, decided):
        sent = await row(app, row_id)
        assert (sent.status, sent.attempts, sent.locked_until) == ("sent", 1, None)
        assert sent.sent_at is not None
    # Nothing more is due: nothing goes twice.
    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 0
    assert len(mailserver.messages) == 2


async def test_optional_parts_absent_leave_no_empty_headings(app, mailserver, mail_settings):
    person = await make_person(app, locale="ja")
    bare = {k: v for k, v in step_data().items() if k not in ("message_title", "message_body", "pitch")}
    await add(app, kind="campaign_step", person=person, data=bare)
    await add(
        app,
        kind="check_graded",
        person=person,
        data={
            "title": "t",
            "link": "/c",
            "digest": False,
            "campaign_name": "オンボーディング",
            "result": "needs_work",
        },
    )
    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 2
    texts = {m.message["Subject"]: m.part("plain") for m in mailserver.messages}
    step_text = texts["【請求書AI ローンチ】全社説明会"]
    assert "■" not in step_text and "ピッチ" not in step_text
    graded = texts["理解度チェックの結果：要再提出（オンボーディング）"]
    assert "コメント" not in graded and "さん" not in graded.splitlines()[0]  # no name, no greeting


async def test_smtp_login_and_a_refusal_that_is_retried(app, mailserver, mail_settings):
    mailserver.credentials = ("notify", "p@ss:word")
    settings = mail_settings.model_copy(
        update={"smtp_url": f"smtp://notify:p%40ss%3Aword@127.0.0.1:{mailserver.port}"}
    )
    person = await make_person(app)
    mailserver.refusals.append("451 4.3.0 try again later")
    row_id = await add(app, kind="review_decided", person=person, data=decided_data())
    start = utcnow()
    assert await sender.send_due(app.state.sessionmaker, settings, now=start) == 1
    waiting = await row(app, row_id)
    assert waiting.status == "pending" and waiting.attempts == 1
    assert waiting.reason is not None and "451" in waiting.reason
    assert start <= waiting.next_attempt_at <= start + timedelta(seconds=61)
    assert await sender.send_due(app.state.sessionmaker, settings, now=start + timedelta(seconds=61)) == 1
    assert (await row(app, row_id)).status == "sent"
    assert mailserver.logins == ["notify", "notify"] and len(mailserver.messages) == 1


async def test_chat_reaches_slack_and_teams_and_names_the_person(
    app,
    chatreceiver: ChatReceiver,
    mail_settings,
):
    sales = await make_department(app, name="営業部")
    slack = await destination(app, "slack", chatreceiver.url("/slack"), department_key=sales.key)
    teams = await destination(app, "teams", chatreceiver.url("/teams"))
    person = await make_person(app, display_name="佐藤 花子", locale="ja", department_key=sales.key)
    await add(
        app,
        kind="campaign_step",
        channel="chat",
        destination=slack,
        locale="ja",
        data={k: v for k, v in step_data().items() if k != "display_name"},
    )
    await add(
        app,
        kind="campaign_step",
        channel="chat",
        destination=teams,
        locale="en",
        data=step_data(display_name=None, campaign_name="Invoice AI", step_title="Kick-off"),
    )
    # A person's notification in chat: their department's channel, naming them.
    await add(
        app, kind="campaign_step", channel="chat", person=person, data=step_data(display_name="佐藤 花子")
    )

    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 3
    slack_posts = chatreceiver.to("/slack")
    assert len(slack_posts) == 2
    for post in slack_posts:
        assert post.headers["content-type"] == "application/json"
        body = post.json
        assert "【請求書AI ローンチ】全社説明会" in body["text"]
        assert f"{PUBLIC}/campaigns/abc/acknowledge" in body["text"]
        [block] = body["blocks"]
        assert block["type"] == "section" and f"<{PUBLIC}/campaigns/abc/acknowledge|" in block["text"]["text"]
    assert sum("佐藤 花子 さんへ" in p.json["text"] for p in slack_posts) == 1
    [card_post] = chatreceiver.to("/teams")
    payload = card_post.json
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "[Invoice AI] Kick-off"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in CueCard", "url": f"{PUBLIC}/campaigns/abc/acknowledge"}
    ]
    async with app.state.sessionmaker() as session:
        statuses = (await session.execute(sa.select(Notification.status))).scalars().all()
    assert statuses == ["sent"] * 3


async def test_a_failing_receiver_is_retried_then_given_up(app, chatreceiver, mail_settings):
    chatreceiver.status["/down"] = 500
    dest = await destination(app, "slack", chatreceiver.url("/down"))
    row_id = await add(app, kind="campaign_step", channel="chat", destination=dest, data=step_data())
    start = (await row(app, row_id)).next_attempt_at

    assert await sender.send_due(app.state.sessionmaker, mail_settings, now=start) == 1
    first = await row(app, row_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert start <= first.next_attempt_at <= start + timedelta(seconds=60)
    assert first.reason is not None and "HTTP 500" in first.reason
    # Not due before its time.
    assert await sender.send_due(app.state.sessionmaker, mail_settings, now=start - timedelta(seconds=1)) == 0

    later = start + timedelta(hours=1)
    assert await sender.send_due(app.state.sessionmaker, mail_settings, now=later) == 1
    second = await row(app, row_id)
    assert (second.status, second.attempts) == ("pending", 2) and second.next_attempt_at > later

    past = start + timedelta(hours=mail_settings.notification_give_up_hours, seconds=1)
    assert await sender.send_due(app.state.sessionmaker, mail_settings, now=past) == 1
    given_up = await row(app, row_id)
    assert (given_up.status, given_up.attempts) == ("failed", 3)
    assert given_up.reason is not None and given_up.reason.startswith("gave up after 3 attempts")
    assert len(chatreceiver.to("/down")) == 3
    assert await sender.send_due(app.state.sessionmaker, mail_settings, now=past + timedelta(days=1)) == 0


async def test_a_refused_destination_fails_at_once(app, chatreceiver, mail_settings):
    chatreceiver.status["/gone"] = 404
    dest = await destination(app, "teams", chatreceiver.url("/gone"))
    row_id = await add(app, kind="campaign_step", channel="chat", destination=dest, data=step_data())
    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 1
    failed = await row(app, row_id)
    assert failed.status == "failed" and failed.reason is not None and "HTTP 404" in failed.reason


async def test_loopback_is_refused_unless_allowed(app, chatreceiver, mail_settings):
    dest = await destination(app, "slack", chatreceiver.url("/slack"))
    row_id = await add(app, kind="campaign_step", channel="chat", destination=dest, data=step_data())
    guarded = mail_settings.model_copy(update={"webhook_allow_hosts": frozenset()})
    assert await sender.send_due(app.state.sessionmaker, guarded) == 1
    refused = await row(app, row_id)
    assert refused.status == "failed" and refused.reason is not None and "loopback" in refused.reason
    assert chatreceiver.posts == []


async def test_what_no_longer_holds_is_cancelled_unsent(app, mailserver, mail_settings):
    opted_out = await make_person(app)
    kept = await make_person(app)
    deactivated = await make_person(app)
    turned_off = await add(app, kind="review_decided", person=opted_out, data=decided_data())
    other_kind = await add(
        app,
        kind="check_graded",
        person=opted_out,
        data={"title": "t", "link": "/c", "digest": False, "campaign_name": "C", "result": "passed"},
    )
    sent = await add(app, kind="review_decided", person=kept, data=decided_data())
    gone = await add(app, kind="review_decided", person=deactivated, data=decided_data())
    # After the rows were written: one turns review_decided e-mail off, one is deactivated.
    async with app.state.sessionmaker() as session:
        session.add(
            NotificationPreferences(person_id=opted_out.id, kinds={"review_decided": {"email": False}})
        )
        await session.commit()
    async with app.state.sessionmaker() as session:
        await people_service.update_person(
            session, OPERATOR, deactivated.id, PersonUpdate(active=False), if_match=None
        )

    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 2
    assert sorted(m.rcpt_tos[0] for m in mailserver.messages) == sorted([opted_out.email, kept.email])
    cancelled = await row(app, turned_off)
    assert cancelled.status == "cancelled" and cancelled.attempts == 0
    assert cancelled.reason == "review_decided by email is turned off in the person's preferences"
    assert (await row(app, other_kind)).status == "sent"  # only that kind was turned off
    assert (await row(app, sent)).status == "sent"
    dropped = await row(app, gone)
    assert (dropped.status, dropped.reason) == ("cancelled", "the person is deactivated")


async def test_campaign_rows_of_people_who_left_or_acknowledged_are_cancelled(
    app,
    client,
    mailserver,
    mail_settings,
):
    team = await make_department(app)
    stays = await make_person(app, department_key=team.key, locale="ja")
    leaves = await make_person(app, department_key=team.key)
    acked = await make_person(app, department_key=team.key)
    campaign = await make_campaign(app, departments=[team.key])
    async with app.state.sessionmaker() as session:
        await session.execute(
            sa.update(Enrollment)
            .where(Enrollment.campaign_id == campaign.id, Enrollment.person_id == leaves.id)
            .values(left_at=utcnow())
        )
        await session.commit()
    answered = await acknowledge(client, bearer(token_for(app, acked)), campaign.id)
    assert answered.status_code in (200, 201), answered.text

    def data(**extra: Any) -> dict[str, Any]:
        return step_data(campaign_id=str(campaign.id), **extra)

    ids = {
        "step_stays": await add(
            app, kind="campaign_step", person=stays, campaign_id=campaign.id, data=data()
        ),
        "step_leaves": await add(
            app, kind="campaign_step", person=leaves, campaign_id=campaign.id, data=data()
        ),
        "reminder_stays": await add(
            app, kind="reminder", person=stays, campaign_id=campaign.id, data=data(reminder_number=1)
        ),
        "reminder_acked": await add(
            app, kind="reminder", person=acked, campaign_id=campaign.id, data=data(reminder_number=1)
        ),
        # A step's own mail still goes to who acknowledged already: only reminders stop.
        "step_acked": await add(
            app, kind="campaign_step", person=acked, campaign_id=campaign.id, data=data()
        ),
    }
    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 3
    got = {name: await row(app, row_id) for name, row_id in ids.items()}
    assert {name: r.status for name, r in got.items()} == {
        "step_stays": "sent",
        "step_leaves": "cancelled",
        "reminder_stays": "sent",
        "reminder_acked": "cancelled",
        "step_acked": "sent",
    }
    assert got["step_leaves"].reason == "the person left the campaign's audience"
    assert got["reminder_acked"].reason == "the person acknowledged the current version already"
    reminder = next(m for m in mailserver.messages if m.message["Subject"].startswith("【リマインド】"))
    assert "1 回目のお知らせ" in reminder.part("plain")


async def test_a_digest_persons_rows_go_out_as_one_mail(app, mailserver, mail_settings):
    person = await make_person(app, display_name="鈴木 一郎", locale="ja")
    other = await make_person(app, locale="en")
    ids = [
        await add(
            app,
            kind="review_decided",
            person=person,
            data=decided_data(digest=True, item_title="請求書ブリーフ"),
        ),
        await add(
            app,
            kind="check_graded",
            person=person,
            data={
                "title": "t",
                "link": "/checks/1",
                "digest": True,
                "campaign_name": "新人研修",
                "result": "passed",
            },
        ),
        await add(
            app,
            kind="evidence_expiring",
            person=person,
            data={
                "title": "t",
                "link": "/evidence/9",
                "digest": True,
                "claim": "導入企業 300 社",
                "expires_at": "2026-12-20T00:00:00+00:00",
            },
        ),
    ]
    alone = await add(app, kind="review_decided", person=other, data=decided_data())
    # Only one row fits the claim: the digest's other rows ride along with it.
    assert await sender.send_due(app.state.sessionmaker, mail_settings, limit=1) == 1
    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 1
    mine = [m for m in mailserver.messages if m.rcpt_tos == [person.email]]
    assert len(mine) == 1 and len(mailserver.messages) == 2
    digest = mine[0]
    assert digest.message["Subject"] == "CueCard 今日のお知らせ（3 件）"
    text = digest.part("plain")
    assert "ブリーフ「請求書ブリーフ」が承認されました" in text
    assert "理解度チェックの結果：合格（新人研修）" in text
    assert "導入企業 300 社" in text and "2026-12-20" in text
    for link in ("/briefs/123", "/checks/1", "/evidence/9"):
        assert f"{PUBLIC}{link}" in text and f'href="{PUBLIC}{link}"' in digest.part("html")
    for row_id in [*ids, alone]:
        assert (await row(app, row_id)).status == "sent"


async def test_a_sending_row_whose_lease_ran_out_is_sent_again(app, mailserver, mail_settings):
    person = await make_person(app)
    now = utcnow()
    lost = await add(
        app,
        kind="review_decided",
        person=person,
        data=decided_data(),
        status="sending",
        attempts=1,
        locked_until=now - timedelta(seconds=1),
    )
    held = await add(
        app,
        kind="review_decided",
        person=person,
        data=decided_data(),
        status="sending",
        attempts=1,
        locked_until=now + timedelta(minutes=2),
    )
    assert await sender.send_due(app.state.sessionmaker, mail_settings, now=now) == 1
    again = await row(app, lost)
    assert (again.status, again.attempts) == ("sent", 2)
    # Sent again with the same Message-ID as the first time: recognisable as a copy.
    assert mailserver.messages[0].message["Message-ID"] == f"<{lost}@cuecard.example.com>"
    still = await row(app, held)
    assert (still.status, still.attempts) == ("sending", 1)  # its worker still holds it


async def test_concurrent_senders_send_each_row_once(app, mailserver, mail_settings):
    person = await make_person(app)
    for _ in range(6):
        await add(app, kind="review_decided", person=person, data=decided_data())
    counts = await asyncio.gather(
        *(sender.send_due(app.state.sessionmaker, mail_settings, limit=2) for _ in range(3))
    )
    while sum(counts) < 6:  # SQLite's write lock lets one claim at a time: catch up
        more = await sender.send_due(app.state.sessionmaker, mail_settings, limit=2)
        assert more, counts
        counts.append(more)
    ids = [m.message["Message-ID"] for m in mailserver.messages]
    assert len(ids) == 6 == len(set(ids))


async def test_an_operator_template_overrides_the_shipped_one(app, mailserver, mail_settings, tmp_path):
    (tmp_path / "review_decided.en.subject").write_text("ACME: ${item_title} is ${outcome_label}\n", "utf-8")
    (tmp_path / "_labels.en.txt").write_text("outcome.approved=good to go\n", "utf-8")
    settings = mail_settings.model_copy(update={"templates_dir": tmp_path})
    person = await make_person(app, locale="de-DE")  # no German templates: English
    await add(app, kind="review_decided", person=person, data=decided_data())
    assert await sender.send_due(app.state.sessionmaker, settings) == 1
    [mail] = mailserver.messages
    assert mail.message["Subject"] == "ACME: Invoice AI launch is good to go"
    assert "Invoice AI launch" in mail.part("plain")  # the body is still the shipped one


async def test_without_smtp_email_rows_are_cancelled_and_chat_still_goes(app, chatreceiver, mail_settings):
    settings = mail_settings.model_copy(update={"smtp_url": None})
    person = await make_person(app)
    dest = await destination(app, "slack", chatreceiver.url("/slack"))
    mail = await add(app, kind="review_decided", person=person, data=decided_data())
    post = await add(app, kind="campaign_step", channel="chat", destination=dest, data=step_data())
    intranet = await add(
        app,
        kind="review_decided",
        channel="intranet",
        person=person,
        data=decided_data(),
        status="sent",
        sent_at=utcnow(),
    )
    assert await sender.send_due(app.state.sessionmaker, settings) == 1
    off = await row(app, mail)
    assert (off.status, off.reason) == ("cancelled", "e-mail is not configured")
    assert (await row(app, post)).status == "sent" and len(chatreceiver.posts) == 1
    assert (await row(app, intranet)).status == "sent"


async def test_quiet_hours_set_later_hold_a_row_until_they_end(app, mailserver, mail_settings):
    person = await make_person(app)
    row_id = await add(app, kind="review_decided", person=person, data=decided_data())
    async with app.state.sessionmaker() as session:
        session.add(
            NotificationPreferences(
                person_id=person.id, timezone="Asia/Tokyo", quiet_start="22:00", quiet_end="07:00"
            )
        )
        await session.commit()
    # The next 14:30 UTC (23:30 in Tokyo) after the row fell due: it is due then, and quiet.
    written = utcnow()
    night = written.replace(hour=14, minute=30, second=0, microsecond=0)
    if night <= written:
        night += timedelta(days=1)
    assert await sender.send_due(app.state.sessionmaker, mail_settings, now=night) == 0
    waiting = await row(app, row_id)
    assert waiting.status == "pending" and waiting.attempts == 0
    assert waiting.next_attempt_at == night.replace(hour=22, minute=0)  # 07:00 the next day in Tokyo
    assert mailserver.messages == []


async def test_metrics_count_waiting_notifications(app, client, mail_settings):
    person = await make_person(app)
    await add(app, kind="review_decided", person=person, data=decided_data())
    text = (await client.get("/metrics")).text
    assert 'cuecard_notifications_waiting{channel="email"} 1.0' in text
    assert "cuecard_notifications_oldest_due_seconds" in text
    assert 'cuecard_notifications_total{outcome="sent"}' in text


async def test_the_worker_sends_them(app, mailserver, mail_settings):
    from service.worker import Worker

    person = await make_person(app)
    row_id = await add(app, kind="review_decided", person=person, data=decided_data())
    worker = Worker(app.state.sessionmaker, mail_settings)
    assert "notify" in [job.name for job in worker.jobs]
    await worker.run_once()
    await worker.settle()
    if worker._http is not None:
        await worker._http.aclose()
    assert (await row(app, row_id)).status == "sent" and len(mailserver.messages) == 1


async def test_an_unknown_recipient_fails_at_once_and_a_broken_template_is_retried(
    app, mailserver, mail_settings, tmp_path
):
    gone = await make_person(app)
    mailserver.unknown.add(gone.email)
    refused = await add(app, kind="review_decided", person=gone, data=decided_data())
    assert await sender.send_due(app.state.sessionmaker, mail_settings) == 1
    failed = await row(app, refused)
    assert failed.status == "failed" and failed.reason is not None and "550" in failed.reason

    # An operator's template that is not UTF-8: nothing is sent, it is tried again.
    (tmp_path / "review_decided.en.subject").write_bytes(b"\xff\xfe broken")
    person = await make_person(app)
    broken = await add(app, kind="review_decided", person=person, data=decided_data())
    settings = mail_settings.model_copy(update={"templates_dir": tmp_path})
    assert await sender.send_due(app.state.sessionmaker, settings) == 1
    waiting = await row(app, broken)
    assert waiting.status == "pending" and waiting.reason is not None and "could not render" in waiting.reason
    assert len(mailserver.messages) == 0
