"""Reminders that stop (after acknowledging, after leaving, at CUECARD_REMINDER_MAX), and
managers told when someone in their department falls overdue; time driven through the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.events.catalogue import EventType
from tests.campaigns.helpers import acknowledge, make_campaign
from tests.factories import bearer, make_department, make_person, token_for
from tests.notifications.helpers import drive, notifications
from tests.test_clock import events_after, position, shaped_as_documented


async def test_reminders_stop_after_acknowledging_leaving_and_at_the_maximum(app, client, callers):
    settings = app.state.settings
    assert settings.reminder_max == 2
    after = timedelta(hours=settings.reminder_after_hours)
    department = await make_department(app)
    slow = await make_person(app, department_key=department.key, locale="ja", display_name="遅い 人")
    reader = await make_person(app, department_key=department.key)
    leaver = await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(seconds=1)
    campaign = await make_campaign(
        app,
        departments=[department.key],
        steps=[{"channel": "intranet", "title": "読んでください", "at": at.isoformat()}],
    )
    await drive(app, at + timedelta(minutes=1))
    assert await notifications(app, kind="reminder") == []

    ack = await acknowledge(client, bearer(token_for(app, reader)), campaign.id)
    assert ack.status_code in (200, 201), ack.text
    gone = await client.patch(
        f"/api/v1/people/{leaver.id}", json={"active": False}, headers=callers.headers("admin")
    )
    assert gone.status_code == 200

    # Not yet: the delay has not passed.
    await drive(app, at + after - timedelta(minutes=1))
    assert await notifications(app, kind="reminder") == []

    mark = await position(app)
    await drive(app, at + after + timedelta(minutes=1))
    (event,) = await events_after(app, mark, EventType.CAMPAIGN_REMINDER_DUE)
    shaped_as_documented(event)
    first = await notifications(app, kind="reminder")
    assert {(r.person_id, r.channel) for r in first} == {(slow.id, "intranet"), (slow.id, "email")}
    mail = next(r for r in first if r.channel == "email")
    assert (
        mail.data["reminder_number"] == 1
        and mail.locale == "ja"
        and mail.step_id == str(campaign.steps[0].id)
    )
    assert mail.data["step_title"] == "読んでください" and mail.status == "pending"

    # Again right away: nothing; again after another delay: the second and last.
    await drive(app, at + after + timedelta(minutes=2))
    assert len(await notifications(app, kind="reminder")) == 2
    await drive(app, at + 2 * after + timedelta(minutes=2))
    second = [r for r in await notifications(app, kind="reminder") if r.data["reminder_number"] == 2]
    assert {r.channel for r in second} == {"intranet", "email"}
    await drive(app, at + 5 * after)
    assert len(await notifications(app, kind="reminder")) == 4
    assert all(r.person_id == slow.id for r in await notifications(app, kind="reminder"))


async def test_acknowledging_stops_the_reminders_still_to_come(app, client):
    after = timedelta(hours=app.state.settings.reminder_after_hours)
    department = await make_department(app)
    person = await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(seconds=1)
    campaign = await make_campaign(
        app, departments=[department.key], steps=[{"channel": "email", "title": "件名", "at": at.isoformat()}]
    )
    await drive(app, at + timedelta(minutes=1))
    await drive(app, at + after + timedelta(minutes=1))
    assert {r.data["reminder_number"] for r in await notifications(app, kind="reminder")} == {1}
    assert (await acknowledge(client, bearer(token_for(app, person)), campaign.id)).status_code in (200, 201)
    await drive(app, at + 3 * after)
    assert {r.data["reminder_number"] for r in await notifications(app, kind="reminder")} == {1}


async def test_managers_hear_when_someone_in_their_department_falls_overdue(app, client):
    grace = timedelta(hours=app.state.settings.reminder_after_hours)
    department = await make_department(app, name="営業部")
    other = await make_department(app)
    manager = await make_person(app, role="manager", department_key=department.key, display_name="課長")
    elsewhere = await make_person(app, role="manager", department_key=other.key)
    late = await make_person(app, department_key=department.key, display_name="遅刻 太郎")
    at = datetime.now(UTC) + timedelta(seconds=1)
    campaign = await make_campaign(
        app,
        departments=[department.key],
        steps=[{"channel": "briefing", "title": "説明会", "at": at.isoformat()}],
    )
    await drive(app, at + timedelta(minutes=1))
    # Overdue from the step's time on (readiness), but told only once a reminder's delay passed.
    assert not await notifications(app, kind="person_overdue")
    mark = await position(app)
    await drive(app, at + grace + timedelta(minutes=1))
    overdue = await events_after(app, mark, EventType.CAMPAIGN_PERSON_OVERDUE)
    assert {e.data["person_id"] for e in overdue} == {str(late.id), str(manager.id)}
    for event in overdue:
        shaped_as_documented(event)
        assert event.data["state"] == "not_acknowledged"
    told = await notifications(app, kind="person_overdue")
    assert {(r.person_id, r.channel) for r in told} == {(manager.id, "intranet"), (manager.id, "email")}
    assert {r.data["person_name"] for r in told} == {"遅刻 太郎"}
    assert told[0].data["department_name"] == "営業部" and told[0].campaign_id == campaign.id
    assert not await notifications(app, person_id=elsewhere.id, kind="person_overdue")
    # Once: the clock does not fire it again.
    await drive(app, at + grace + timedelta(hours=3))
    assert len(await notifications(app, kind="person_overdue")) == 2
