"""Issue 13 as it is judged, end to end over HTTP: a launch campaign with an e-mail step and a chat
step, activated with both due now; the worker's clock, sequencer (fan-out) and sender run; a
loopback SMTP server gets one mail per audience member in their language, a loopback chat
receiver one post per department; a manager lists who is behind in their department only and
nudges them (once a day); an opted-out person receives nothing; readiness says which part of the
story people drop.

Only 127.0.0.1 is connected to (tests/mailserver.py, tests/chatreceiver.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from service.notifications import sender
from tests.campaigns.helpers import published_brief
from tests.chatreceiver import ChatReceiver, chat_receiver
from tests.factories import bearer, make_department, make_person, token_for
from tests.mailserver import MailServer, smtp_server
from tests.notifications.helpers import drive, set_preferences

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
def mail_on(app, monkeypatch, mailserver: MailServer) -> None:
    """The running app as an operator would set it: SMTP on the loopback server, absolute links,
    and chat destinations on loopback allowed (the SSRF guard refuses them otherwise)."""
    settings = app.state.settings
    monkeypatch.setattr(settings, "smtp_url", mailserver.url())
    monkeypatch.setattr(settings, "mail_from", "CueCard <cuecard@example.com>")
    monkeypatch.setattr(settings, "public_url", PUBLIC)
    monkeypatch.setattr(settings, "webhook_allow_hosts", frozenset({"127.0.0.1"}))


async def work(app, now: datetime) -> None:
    """One turn of the worker at `now`: what fell due, numbered and fanned out, then sent."""
    await drive(app, now)
    while await sender.send_due(app.state.sessionmaker, app.state.settings, now=now):
        pass


async def test_a_launch_reaches_everyone_once_in_their_language_and_managers_nudge_their_own(
    app, client, callers, mail_on, mailserver: MailServer, chatreceiver: ChatReceiver
):
    sales = await make_department(app, name="営業部")
    support = await make_department(app, name="Support")
    aiko = await make_person(app, department_key=sales.key, locale="ja", display_name="田中 愛子")
    bob = await make_person(app, department_key=sales.key, locale="en", display_name="Bob Smith")
    dan = await make_person(app, department_key=sales.key, locale="en", display_name="Dan Quiet")
    carol = await make_person(app, department_key=support.key, locale="ja", display_name="佐藤 花子")
    manager = await make_person(app, role="manager", department_key=sales.key, display_name="Mia Lead")
    # Dan wants no e-mail of any kind.
    await set_preferences(
        client,
        bearer(token_for(app, dan)),
        kinds={kind: {"email": False} for kind in ("campaign_step", "reminder", "nudge")},
    )
    admin, editor = callers.headers("admin"), callers.headers("editor")
    for department, kind in ((sales, "slack"), (support, "teams")):
        made = await client.post(
            "/api/v1/chat-destinations",
            json={
                "kind": kind,
                "url": chatreceiver.url(f"/{department.key}"),
                "department_key": department.key,
            },
            headers=admin,
        )
        assert made.status_code == 201, made.text
        assert chatreceiver.url("") not in made.json()["url"]  # masked on read

    at = datetime.now(UTC) + timedelta(minutes=1)
    brief = await published_brief(app)
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "brief_id": str(brief.id),
            "name": "請求書AI ローンチ",
            "kind": "launch",
            "audience": {"departments": [sales.key, support.key], "roles": []},
            "steps": [
                {"channel": "email", "title": "ローンチのお知らせ", "at": at.isoformat()},
                {"channel": "chat", "title": "チャットで共有", "at": at.isoformat()},
            ],
        },
        headers=editor,
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert (await client.post(f"/api/v1/campaigns/{campaign_id}/activate", headers=editor)).status_code == 200

    await work(app, at + timedelta(minutes=1))
    await work(app, at + timedelta(minutes=2))  # a second turn sends nothing twice

    # One mail per audience member who wants it, in their language; none for Dan.
    # (Publishing the brief told its reviewers and author too: those mails are not the step's.)
    step_mails = [m for m in mailserver.messages if "ローンチのお知らせ" in str(m.message["Subject"])]
    to = sorted(address for m in step_mails for address in m.rcpt_tos)
    assert to == sorted([aiko.email, bob.email, carol.email, manager.email])
    by_person = {m.rcpt_tos[0]: m for m in mailserver.messages}
    japanese = by_person[aiko.email]
    assert "ローンチのお知らせ" in str(japanese.message["Subject"]) or "ローンチのお知らせ" in japanese.part(
        "plain"
    )
    assert "田中 愛子" in japanese.part("plain") and f"{PUBLIC}/" in japanese.part("plain")
    assert japanese.message["List-Unsubscribe"].strip() == f"<{PUBLIC}/api/v1/me/notification-preferences>"
    assert str(by_person[bob.email].message["Subject"]) == "[請求書AI ローンチ] ローンチのお知らせ"
    english = by_person[bob.email].part("plain")
    assert "Bob Smith" in english and "田中" not in english
    # One chat post per department's destination: Slack for sales, Teams for support.
    assert len(chatreceiver.to(f"/{sales.key}")) == 1 and len(chatreceiver.to(f"/{support.key}")) == 1
    assert "text" in chatreceiver.to(f"/{sales.key}")[0].json
    assert chatreceiver.to(f"/{support.key}")[0].json["type"] == "message"

    # Admins see what reached whom.
    records = await client.get(
        f"/api/v1/campaigns/{campaign_id}/deliveries?status=sent&limit=100", headers=admin
    )
    assert records.status_code == 200, records.text
    sent_mail = {i["person_id"] for i in records.json()["items"] if i["channel"] == "email"}
    assert sent_mail == {str(p.id) for p in (aiko, bob, carol, manager)}

    # The manager lists who is behind in her department only, and may not look at support's.
    lead = bearer(token_for(app, manager))
    behind = await client.get(f"/api/v1/campaigns/{campaign_id}/people?state=not_acknowledged", headers=lead)
    assert behind.status_code == 200, behind.text
    names = {i["display_name"] for i in behind.json()["items"]}
    assert {"田中 愛子", "Bob Smith", "Dan Quiet"} <= names and "佐藤 花子" not in names
    assert {i["department_key"] for i in behind.json()["items"]} == {sales.key}
    other = await client.get(f"/api/v1/campaigns/{campaign_id}/people?department={support.key}", headers=lead)
    assert other.status_code == 403, other.text

    # She nudges them: Carol (support) is not hers; once a day.
    nudged = await client.post(
        f"/api/v1/campaigns/{campaign_id}/nudges",
        json={
            "person_ids": [str(aiko.id), str(bob.id), str(dan.id), str(carol.id)],
            "note": "今週中にお願いします",
        },
        headers=lead,
    )
    assert nudged.status_code == 200, nudged.text
    assert nudged.json() == {"nudged": 3, "skipped": 1}
    again = await client.post(
        f"/api/v1/campaigns/{campaign_id}/nudges",
        json={"person_ids": [str(aiko.id), str(bob.id), str(dan.id), str(carol.id)]},
        headers=lead,
    )
    assert again.status_code == 200 and again.json() == {"nudged": 0, "skipped": 4}, again.text
    before = len(mailserver.messages)
    await work(app, at + timedelta(minutes=3))
    nudges = mailserver.messages[before:]
    assert sorted(a for m in nudges for a in m.rcpt_tos) == sorted([aiko.email, bob.email])
    assert "今週中にお願いします" in next(m for m in nudges if m.rcpt_tos == [aiko.email]).part("plain")
    # Dan, who opted out of e-mail, received nothing at all.
    assert all(dan.email not in m.rcpt_tos for m in mailserver.messages)

    # Readiness says which parts of the story people drop (shares over graded checks).
    readiness = await client.get(f"/api/v1/campaigns/{campaign_id}/readiness", headers=editor)
    assert readiness.status_code == 200, readiness.text
    assert "story_gaps" in readiness.json() and "attended" in readiness.json()
