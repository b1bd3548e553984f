"""The fan-out: a due step becomes one e-mail per enrolled person in their locale, one post per
chat destination, an intranet record per person; nothing for someone who opted out of e-mail
(but the record) or left; a replay adds nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.db import use_case
from service.events.models import OutboxEvent
from service.notifications import fanout
from service.notifications.models import ChatDestination
from tests.campaigns.helpers import make_campaign, soon
from tests.factories import bearer, make_department, make_person, token_for
from tests.notifications.helpers import drive, notifications, set_preferences


async def add_destination(app, department_key: str | None, url: str) -> ChatDestination:
    async with app.state.sessionmaker() as session, use_case(session):
        row = ChatDestination(kind="slack", url=url, department_key=department_key, created_by="tests")
        session.add(row)
    return row


@pytest.fixture
async def launch(app, client, callers):
    """Two departments, a company-wide and a sales destination, and a launch with an e-mail step
    and a chat step both due at `at`; the clock and the sequencer have run past `at`."""
    sales = await make_department(app, name="営業部")
    support = await make_department(app, name="Support")
    aiko = await make_person(app, department_key=sales.key, locale="ja", display_name="田中 愛子")
    bob = await make_person(app, department_key=sales.key, display_name="Bob Smith")
    quiet = await make_person(app, department_key=sales.key, display_name="Opted Out")
    gone = await make_person(app, department_key=sales.key, display_name="Leaver")
    late_leaver = await make_person(app, department_key=support.key, display_name="Late Leaver")
    carol = await make_person(app, department_key=support.key, locale="ja", display_name="佐藤 花子")
    await set_preferences(client, bearer(token_for(app, quiet)), kinds={"campaign_step": {"email": False}})
    company = await add_destination(app, None, "https://hooks.example.com/company/AAAA")
    sales_chat = await add_destination(app, sales.key, "https://hooks.example.com/sales/BBBB")
    await add_destination(app, "somewhere-else", "https://hooks.example.com/other/CCCC")
    at = datetime.now(UTC) + timedelta(hours=1)
    campaign = await make_campaign(
        app,
        departments=[sales.key, support.key],
        steps=[
            {"channel": "email", "title": "ローンチのお知らせ", "at": at.isoformat()},
            {"channel": "chat", "title": "チャットで共有", "at": at.isoformat()},
        ],
    )
    admin = callers.headers("admin")
    assert (
        await client.patch(f"/api/v1/people/{gone.id}", json={"active": False}, headers=admin)
    ).status_code == 200
    await drive(app)  # activation, enrollment events: nothing to tell yet
    from service.events.clock import detect_due

    await detect_due(app.state.sessionmaker, now=at + timedelta(minutes=1))
    # Leaves after the step fell due, before the fan-out ran: told nothing either.
    left = await client.patch(f"/api/v1/people/{late_leaver.id}", json={"active": False}, headers=admin)
    assert left.status_code == 200
    await drive(app)
    return {
        "campaign": campaign,
        "people": {
            "aiko": aiko,
            "bob": bob,
            "quiet": quiet,
            "gone": gone,
            "late": late_leaver,
            "carol": carol,
        },
        "destinations": {"company": company, "sales": sales_chat},
    }


async def test_an_email_step_reaches_each_enrolled_person_once_in_their_locale(app, launch):
    people = launch["people"]
    emails = await notifications(app, kind="campaign_step", channel="email")
    assert {(r.person_id, r.locale) for r in emails} == {
        (people["aiko"].id, "ja"),
        (people["bob"].id, "en"),
        (people["carol"].id, "ja"),
    }
    for row in emails:
        assert (
            row.status == "pending"
            and row.step_id == str(launch["campaign"].steps[0].id)
            and row.campaign_id == launch["campaign"].id
        )
        assert row.data["link"] == f"/api/v1/campaigns/{launch['campaign'].id}/acknowledgements"
        assert row.data["step_title"] == "ローンチのお知らせ" and row.data["channel"] == "email"
        assert row.data["campaign_name"] == launch["campaign"].name and row.data["digest"] is False
        assert row.data["pitch"] and row.data["title"]
        assert row.next_attempt_at <= datetime.now(UTC)
    aiko_mail = next(r for r in emails if r.person_id == people["aiko"].id)
    assert aiko_mail.data["display_name"] == "田中 愛子"


async def test_a_chat_step_is_one_post_per_destination(app, launch):
    posts = await notifications(app, kind="campaign_step", channel="chat")
    # Sales' people: the sales channel and the company-wide one; support has no channel of its
    # own, so its people add nothing beyond the company-wide post.
    assert Counter(r.destination_id for r in posts) == Counter(
        {launch["destinations"]["company"].id: 1, launch["destinations"]["sales"].id: 1}
    )
    for post in posts:
        assert (
            post.person_id is None
            and post.step_id == str(launch["campaign"].steps[1].id)
            and post.status == "pending"
        )
        assert "display_name" not in post.data and post.data["step_title"] == "チャットで共有"


async def test_opted_out_gets_the_record_not_the_mail_and_leavers_get_nothing(app, launch):
    people = launch["people"]
    quiet = await notifications(app, person_id=people["quiet"].id)
    assert {(r.channel, r.step_id) for r in quiet} == {
        ("intranet", str(step.id)) for step in launch["campaign"].steps
    }
    assert all(r.status == "sent" and r.sent_at is not None for r in quiet)
    assert await notifications(app, person_id=people["gone"].id) == []
    assert await notifications(app, person_id=people["late"].id) == []
    # Everyone still in the audience has the intranet record of both steps.
    records = await notifications(app, kind="campaign_step", channel="intranet")
    assert Counter(r.person_id for r in records) == {
        people[name].id: 2 for name in ("aiko", "bob", "quiet", "carol")
    }


async def test_replaying_the_same_events_adds_nothing(app, launch):
    before = len(await notifications(app))
    async with app.state.sessionmaker() as session, use_case(session):
        events = list(
            (await session.execute(sa.select(OutboxEvent).where(OutboxEvent.seq.is_not(None)))).scalars()
        )
        await fanout.fan_out(session, events)
        await fanout.fan_out(session, events)
    assert len(await notifications(app)) == before


async def test_an_event_not_shaped_as_documented_is_skipped_and_holds_nothing_back(app, client):
    from service.events.catalogue import EventType
    from service.events.service import emit

    person = await make_person(app)
    campaign = await make_campaign(app, steps=[{"channel": "email", "title": "告知", "at": soon(1)}])
    async with app.state.sessionmaker() as session, use_case(session):
        # No title, no step index: not what the catalogue promises for campaign.step_due.
        emit(session, EventType.CAMPAIGN_STEP_DUE, {"campaign_id": campaign.id, "person_id": person.id})
        emit(
            session,
            EventType.CAMPAIGN_STEP_DUE,
            {
                "campaign_id": campaign.id,
                "person_id": person.id,
                "step_id": str(campaign.steps[0].id),
                "step_index": 0,
                "title": "告知",
                "channel": "intranet",
            },
        )
    await drive(app)
    async with app.state.sessionmaker() as session:
        unsequenced = await session.scalar(sa.select(sa.func.count()).where(OutboxEvent.seq.is_(None)))
    assert unsequenced == 0  # both numbered: the sequencer did not stall on the misshapen one
    rows = await notifications(app, kind="campaign_step", person_id=person.id)
    # The well-shaped one was told (an intranet step: its record), the misshapen one left out.
    assert [(r.channel, r.step_id) for r in rows] == [("intranet", str(campaign.steps[0].id))]


async def test_a_digest_reader_and_quiet_hours_wait(app, client):
    department = await make_department(app)
    digest = await make_person(app, department_key=department.key)
    night = await make_person(app, department_key=department.key)
    await set_preferences(
        client, bearer(token_for(app, digest)), delivery="daily_digest", timezone="Asia/Tokyo"
    )
    now = datetime.now(UTC)
    # Quiet for the next two hours, whatever the time of day.
    start, end = (now - timedelta(minutes=5)).strftime("%H:%M"), (now + timedelta(hours=2)).strftime("%H:%M")
    await set_preferences(client, bearer(token_for(app, night)), quiet_hours={"start": start, "end": end})
    at = now + timedelta(seconds=1)
    await make_campaign(
        app, departments=[department.key], steps=[{"channel": "email", "title": "件名", "at": at.isoformat()}]
    )
    await drive(app, at + timedelta(seconds=1))
    (digest_mail,) = await notifications(app, person_id=digest.id, channel="email")
    assert digest_mail.data["digest"] is True
    local = digest_mail.next_attempt_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (app.state.settings.digest_hour, 0)
    (night_mail,) = await notifications(app, person_id=night.id, channel="email")
    assert night_mail.next_attempt_at.strftime("%H:%M") == end and night_mail.next_attempt_at > now


async def _statements_for_a_due_step(app, client, size: int) -> tuple[int, int]:
    """SQL statements the sequencing of one step's events takes for a department of `size`."""
    from service.events import sequencer
    from service.events.clock import detect_due
    from tests.factories import counting_statements

    department = await make_department(app)
    people = [await make_person(app, department_key=department.key) for _ in range(size)]
    await set_preferences(
        client, bearer(token_for(app, people[0])), timezone="Asia/Tokyo", delivery="daily_digest"
    )
    await add_destination(app, department.key, f"https://hooks.example.com/{department.key}/DDDD")
    at = datetime.now(UTC) + timedelta(seconds=1)
    await make_campaign(
        app,
        departments=[department.key],
        steps=[
            {"channel": "email", "title": "メール", "at": at.isoformat()},
            {"channel": "chat", "title": "チャット", "at": at.isoformat()},
        ],
    )
    await drive(app)
    await detect_due(app.state.sessionmaker, now=at + timedelta(minutes=1))
    before = len(await notifications(app))
    async with counting_statements(app) as statements:
        await sequencer.sequence(app.state.sessionmaker)
    return len(statements), len(await notifications(app)) - before


async def test_the_fan_out_takes_the_same_statements_for_a_larger_batch(app, client):
    few, few_rows = await _statements_for_a_due_step(app, client, 2)
    many, many_rows = await _statements_for_a_due_step(app, client, 12)
    assert (few_rows, many_rows) == (2 * 3 + 1, 12 * 3 + 1)  # e-mail + 2 records each, one post
    assert many == few, (few, many)
