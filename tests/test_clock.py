"""Time that passes (issue 12 item 4): the clock emits what fell due, each occurrence once.

Data is set up through the real services and REST; `detect_due` runs with an injected `now`
and the outbox is read back. Exactly once is proven as the worker meets it: called again, called
from a fresh engine (a restart), called by two workers at once (PostgreSQL: two engines racing
on one database), and after a transaction that rolled back. Not retroactive: a person enrolled
after a step's time gets nothing for it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.campaigns import clock as campaigns_clock
from service.campaigns import service as campaigns_service
from service.campaigns.schemas import CheckCreate
from service.config import Settings
from service.db import create_engine, create_sessionmaker, use_case
from service.events.catalogue import CATALOGUE, EventType
from service.events.clock import detect_due, fire
from service.events.clock_models import ClockOccurrence
from service.events.models import OutboxEvent
from tests.campaigns.helpers import GUT_CHECK, make_campaign, utc_today
from tests.factories import (
    bearer,
    make_brief,
    make_department,
    make_person,
    make_product,
    principal_of,
    token_for,
)
from tests.feedback.test_loop import filed_feedback_id, move
from tests.messages.test_messages import make_evidence


async def position(app) -> int:
    async with app.state.sessionmaker() as session:
        return (await session.execute(sa.select(sa.func.max(OutboxEvent.position)))).scalar() or 0


async def events_after(app, mark: int, event_type: EventType | None = None) -> list[OutboxEvent]:
    async with app.state.sessionmaker() as session:
        stmt = sa.select(OutboxEvent).where(OutboxEvent.position > mark).order_by(OutboxEvent.position)
        if event_type is not None:
            stmt = stmt.where(OutboxEvent.type == event_type.value)
        return list((await session.execute(stmt)).scalars())


async def occurrences(app) -> list[ClockOccurrence]:
    async with app.state.sessionmaker() as session:
        return list((await session.execute(sa.select(ClockOccurrence))).scalars())


@pytest.fixture(autouse=True)
def _domain_detectors_only(monkeypatch):
    """These tests count what the domains' detectors fire; the reminders and overdue people the
    notifications add as time passes are tested in tests/notifications/test_reminders.py."""
    from service.events import clock

    kept = {n: d for n, d in clock._DETECTORS.items() if not d.__module__.startswith("service.notifications")}
    monkeypatch.setattr(clock, "_DETECTORS", kept)


def shaped_as_documented(event: OutboxEvent) -> None:
    """What is emitted is what docs/events.md shows: the example has exactly the same fields."""
    spec = CATALOGUE[EventType(event.type)]
    assert spec.emitted and event.version == spec.version
    assert set(event.data) == set(spec.example), event.type


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


@asynccontextmanager
async def fresh_sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A second process's view of the database: its own engine and pool (a restart, a worker)."""
    engine = create_engine(settings)
    try:
        yield create_sessionmaker(engine, info={"settings": settings})
    finally:
        await engine.dispose()


async def launch(app, department_key: str, *steps_at: datetime, status: str = "active"):
    return await make_campaign(
        app,
        departments=[department_key],
        steps=[
            {"channel": "chat", "title": f"ステップ {i}", "at": at.isoformat()}
            for i, at in enumerate(steps_at)
        ],
        status=status,
    )


# --- campaign steps -------------------------------------------------------------------------------


async def test_a_due_launch_step_fires_once_per_enrolled_person_and_never_again(app, settings):
    department = await make_department(app)
    people = [await make_person(app, department_key=department.key) for _ in range(3)]
    at = datetime.now(UTC) + timedelta(hours=1)
    campaign = await launch(app, department.key, at)
    mark = await position(app)

    assert await detect_due(app.state.sessionmaker, now=at - timedelta(seconds=1)) == 0
    assert await events_after(app, mark) == []

    fired = await detect_due(app.state.sessionmaker, now=at + timedelta(minutes=1))
    events = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    assert fired == len(events) == 3
    assert sorted(e.data["person_id"] for e in events) == sorted(str(p.id) for p in people)
    for event in events:
        shaped_as_documented(event)
        assert event.product_key == campaign.product_key
        assert event.data["campaign_id"] == str(campaign.id)
        assert event.data["kind"] == "launch" and event.data["product_key"] == campaign.product_key
        assert event.data["step_index"] == 0 and event.data["channel"] == "chat"
        assert event.data["title"] == "ステップ 0" and event.data["message_id"] is None
        assert datetime.fromisoformat(event.data["due_at"]) == at.replace(microsecond=at.microsecond)

    # Called again, and from a fresh engine as after a restart: nothing more.
    assert await detect_due(app.state.sessionmaker, now=at + timedelta(minutes=2)) == 0
    async with fresh_sessionmaker(settings) as restarted:
        assert await detect_due(restarted, now=at + timedelta(hours=5)) == 0
    assert len(await events_after(app, mark)) == 3


async def test_a_person_enrolled_after_a_launch_step_gets_nothing_for_it(app, client, callers):
    department = await make_department(app)
    early = await make_person(app, department_key=department.key)
    leaver = await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(seconds=1)
    later = at + timedelta(hours=2)
    campaign = await launch(app, department.key, at, later)
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 0.05)
    # Joins the audience after the first step's time: enrolled now, past `at`.
    late = await make_person(app, department_key=department.key)
    # Leaves before anything is due: deactivated people leave their campaigns.
    gone = await client.patch(
        f"/api/v1/people/{leaver.id}", json={"active": False}, headers=callers.headers("admin")
    )
    assert gone.status_code == 200, gone.text
    mark = await position(app)

    assert await detect_due(app.state.sessionmaker, now=at + timedelta(minutes=1)) == 1
    (first,) = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    assert first.data["person_id"] == str(early.id) and first.data["step_index"] == 0

    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=later) == 2  # both were enrolled by then
    second = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    assert {e.data["person_id"] for e in second} == {str(early.id), str(late.id)}
    assert {e.data["step_index"] for e in second} == {1}
    assert str(campaign.id) == second[0].data["campaign_id"]


async def test_a_step_that_fired_does_not_fire_again_when_edited_but_a_new_step_does(app, client, callers):
    department = await make_department(app)
    await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(hours=1)
    campaign = await launch(app, department.key, at)
    assert await detect_due(app.state.sessionmaker, now=at) == 1

    editor = callers.headers("editor")
    read = await client.get(f"/api/v1/campaigns/{campaign.id}", headers=editor)
    moved, added = at + timedelta(hours=1), at + timedelta(hours=2)
    # The edited step keeps its identity by its id; the one without an id is new.
    step_id = read.json()["steps"][0]["id"]
    steps = [
        {"id": step_id, "channel": "chat", "title": "ステップ 0 (moved)", "at": moved.isoformat()},
        {"channel": "email", "title": "ステップ 1", "at": added.isoformat()},
    ]
    patched = await client.patch(
        f"/api/v1/campaigns/{campaign.id}",
        json={"steps": steps},
        headers={**editor, "If-Match": read.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=added) == 1
    (event,) = await events_after(app, mark)
    assert event.data["step_index"] == 1 and event.data["channel"] == "email"
    assert event.data["step_id"] == patched.json()["steps"][1]["id"] != step_id


async def test_only_active_campaigns_fire_and_nothing_older_than_the_lookback(app, settings):
    department = await make_department(app)
    await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(hours=1)
    await launch(app, department.key, at, status="planned")
    cancelled = await launch(app, department.key, at)
    admin = await make_person(app, role="admin")
    async with app.state.sessionmaker() as session:
        await campaigns_service.cancel_campaign(session, principal_of(admin), cancelled.id)
    await launch(app, department.key, at)  # active: fires, but only within the lookback
    mark = await position(app)

    too_late = at + timedelta(days=settings.clock_lookback_days, minutes=1)
    assert await detect_due(app.state.sessionmaker, now=too_late) == 0
    assert await detect_due(app.state.sessionmaker, now=at + timedelta(days=1)) == 1
    assert len(await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)) == 1


async def test_onboarding_steps_count_days_from_the_hire_date_and_not_before_enrollment(app):
    department = await make_department(app)
    steps = [
        {"channel": "briefing", "title": "初日", "day_offset": 0},
        {"channel": "chat", "title": "3日目", "day_offset": 3},
        {"channel": "training", "title": "30日目", "day_offset": 30},
    ]
    campaign = await make_campaign(app, kind="onboarding", departments=[department.key], steps=steps)
    today = utc_today()
    # Enrolled (by HR's push) on the first day: day 0 is due today and still fires.
    new_hire = await make_person(app, department_key=department.key, hire_date=today)
    # Enrolled five days into the job: days 0 and 3 passed before the enrollment.
    late_hire = await make_person(app, department_key=department.key, hire_date=today - timedelta(days=5))
    mark = await position(app)

    assert await detect_due(app.state.sessionmaker, now=datetime.now(UTC)) == 1
    (day0,) = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    shaped_as_documented(day0)
    assert day0.data["person_id"] == str(new_hire.id) and day0.data["step_index"] == 0
    assert day0.data["kind"] == "onboarding" and day0.data["campaign_id"] == str(campaign.id)
    assert day0.data["due_at"] == f"{today.isoformat()}T00:00:00Z"

    mark = await position(app)
    day3 = start_of(today + timedelta(days=3))
    assert await detect_due(app.state.sessionmaker, now=day3 - timedelta(seconds=1)) == 0
    assert await detect_due(app.state.sessionmaker, now=day3) == 1
    (event,) = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    assert event.data["person_id"] == str(new_hire.id) and event.data["step_index"] == 1

    mark = await position(app)
    late_day30 = start_of(today - timedelta(days=5) + timedelta(days=30))
    assert await detect_due(app.state.sessionmaker, now=late_day30 + timedelta(hours=9)) == 1
    (event,) = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    assert event.data["person_id"] == str(late_hire.id) and event.data["step_index"] == 2
    assert event.data["due_at"] == late_day30.isoformat().replace("+00:00", "Z")


# --- exactly once, whoever asks ----------------------------------------------------------------------


async def test_two_workers_at_once_fire_each_occurrence_exactly_once(app, settings):
    department = await make_department(app)
    people = [await make_person(app, department_key=department.key) for _ in range(12)]
    base = datetime.now(UTC) + timedelta(hours=1)
    steps = [base + timedelta(minutes=i) for i in range(4)]
    await launch(app, department.key, *steps)
    mark = await position(app)
    async with fresh_sessionmaker(settings) as one, fresh_sessionmaker(settings) as two:
        for round_ in range(len(steps)):
            now = steps[round_] + timedelta(seconds=1)
            counts = await asyncio.gather(detect_due(one, now=now), detect_due(two, now=now))
            assert sum(counts) == len(people), counts
    events = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    pairs = [(e.data["step_index"], e.data["person_id"]) for e in events]
    assert len(pairs) == len(set(pairs)) == len(steps) * len(people)
    assert len(await occurrences(app)) == len(pairs)


async def test_a_worker_that_found_the_same_occurrences_emits_none_of_them(app, settings):
    """The race itself, made certain: B finds what A claimed but has not committed yet, then
    waits on A's keys (PostgreSQL) or the write lock (SQLite) and, once A commits, inserts none."""
    department = await make_department(app)
    people = [await make_person(app, department_key=department.key) for _ in range(3)]
    at = datetime.now(UTC) + timedelta(hours=1)
    await launch(app, department.key, at)
    mark = await position(app)
    now = at + timedelta(minutes=1)
    found_by_b = asyncio.Event()

    async def worker_b(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        async with sessionmaker() as session, use_case(session):
            found = await campaigns_clock.steps_due(session, now, 100)
            assert len(found) == len(people)  # A's claims are not committed: B sees them due
            found_by_b.set()
            return await fire(session, found)

    async with fresh_sessionmaker(settings) as one, fresh_sessionmaker(settings) as two, one() as session_a:
        async with use_case(session_a):
            found = await campaigns_clock.steps_due(session_a, now, 100)
            assert await fire(session_a, found) == len(people)
            b = asyncio.create_task(worker_b(two))
            await asyncio.wait_for(found_by_b.wait(), 10)
            await asyncio.sleep(0.2)  # B is now inserting the same keys, and waits
            assert not b.done()
        assert await asyncio.wait_for(b, 20) == 0  # A committed: B's inserts took nothing
    assert len(await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)) == len(people)


async def test_a_rolled_back_transaction_leaves_no_occurrence_and_fires_later(app):
    department = await make_department(app)
    await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(hours=1)
    await launch(app, department.key, at)
    mark = await position(app)
    now = at + timedelta(minutes=1)
    async with app.state.sessionmaker() as session:
        with pytest.raises(LookupError):
            async with use_case(session):
                found = await campaigns_clock.steps_due(session, now, 100)
                assert await fire(session, found) == 1
                raise LookupError("the worker's transaction fails after claiming")
    assert await occurrences(app) == []
    assert await events_after(app, mark) == []
    assert await detect_due(app.state.sessionmaker, now=now) == 1
    (occurrence,) = await occurrences(app)
    assert occurrence.type == "campaign.step_due" and occurrence.step == 0


async def test_a_failing_detector_rolls_back_alone_and_is_reported_after_the_others_ran(app, monkeypatch):
    from service.events import clock

    department = await make_department(app)
    await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(hours=1)
    await launch(app, department.key, at)
    mark = await position(app)

    async def broken(session: AsyncSession, now: datetime, budget: int) -> list[clock.Due]:
        await fire(session, await campaigns_clock.steps_due(session, now, budget))  # claims, then fails
        raise LookupError("a detector that breaks after claiming")

    monkeypatch.setattr(clock, "_DETECTORS", {"broken": broken, **clock._DETECTORS})
    with pytest.raises(LookupError):
        await detect_due(app.state.sessionmaker, now=at + timedelta(minutes=1))
    # The broken one's claims rolled back; the real step detector after it still fired.
    (event,) = await events_after(app, mark)
    assert event.type == "campaign.step_due"
    assert len(await occurrences(app)) == 1


async def test_the_budget_bounds_each_call_and_the_rest_follows(app):
    department = await make_department(app)
    for _ in range(5):
        await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(hours=1)
    await launch(app, department.key, at)
    now = at + timedelta(minutes=1)
    assert [await detect_due(app.state.sessionmaker, now=now, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    with pytest.raises(ValueError, match="naive"):
        await detect_due(app.state.sessionmaker, now=datetime(2026, 12, 1))


# --- evidence --------------------------------------------------------------------------------------


async def test_evidence_expiring_then_expired_once_each_and_again_for_a_new_date(app, client):
    editor = await make_person(app, role="editor")
    product = await make_product(app)
    verify_by = utc_today() + timedelta(days=10)
    evidence_id = await make_evidence(app, verify_by=verify_by)
    uncited = await make_evidence(app, verify_by=verify_by)  # cited by nothing published: silent
    await make_brief(app, editor, product.key, status="published", evidence=[{"id": evidence_id}])
    await make_brief(app, editor, product.key, evidence=[{"id": uncited}])  # a draft
    mark = await position(app)

    now = datetime.now(UTC)
    assert await detect_due(app.state.sessionmaker, now=now) == 1
    (expiring,) = await events_after(app, mark)
    assert expiring.type == "evidence.expiring"
    shaped_as_documented(expiring)
    assert expiring.data["evidence_id"] == evidence_id and expiring.data["days_left"] == 10
    assert expiring.data["verify_by"] == verify_by.isoformat()
    assert expiring.data["product_keys"] == [product.key] and expiring.product_key == product.key
    assert await detect_due(app.state.sessionmaker, now=now + timedelta(days=3)) == 0

    # The verify_by day is still good; expired from the start of the next.
    mark = await position(app)
    expired_at = start_of(verify_by + timedelta(days=1))
    assert await detect_due(app.state.sessionmaker, now=expired_at - timedelta(seconds=1)) == 0
    assert await detect_due(app.state.sessionmaker, now=expired_at) == 1
    (expired,) = await events_after(app, mark)
    assert expired.type == "evidence.expired"
    shaped_as_documented(expired)
    assert expired.data["expired_at"] == expired_at.isoformat().replace("+00:00", "Z")
    assert await detect_due(app.state.sessionmaker, now=expired_at + timedelta(days=1)) == 0

    # Re-verified to a later date: that date may expire in its turn.
    new_date = utc_today() + timedelta(days=60)
    verified = await client.post(
        f"/api/v1/evidence/{evidence_id}/verify",
        json={"verify_by": new_date.isoformat()},
        headers=bearer(token_for(app, editor)),
    )
    assert verified.status_code == 200, verified.text
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=start_of(new_date - timedelta(days=14))) == 1
    (again,) = await events_after(app, mark)
    assert again.type == "evidence.expiring" and again.data["verify_by"] == new_date.isoformat()
    assert again.data["days_left"] == 14


# --- feedback and checks ------------------------------------------------------------------------


async def test_feedback_overdue_once_per_item_and_stage_due_time(app, client, callers):
    product = await make_product(app)
    filer = await make_person(app)
    item_id = await filed_feedback_id(app, filer, product_key=product.key)
    item = (await client.get(f"/api/v1/feedback/{item_id}", headers=callers.headers("editor"))).json()
    due = datetime.fromisoformat(item["stage_due_at"])
    mark = await position(app)

    assert await detect_due(app.state.sessionmaker, now=due) == 0  # due, not yet past
    assert await detect_due(app.state.sessionmaker, now=due + timedelta(minutes=1)) == 1
    (overdue,) = await events_after(app, mark)
    assert overdue.type == "feedback.overdue"
    shaped_as_documented(overdue)
    assert overdue.data["feedback_id"] == item_id and overdue.data["status"] == "new"
    assert datetime.fromisoformat(overdue.data["stage_due_at"]) == due
    assert overdue.product_key == product.key and overdue.data["product_key"] == product.key
    assert await detect_due(app.state.sessionmaker, now=due + timedelta(days=1)) == 0

    # Triaged late: the next stage has its own due time, and may go overdue in its turn.
    triaged = await move(client, callers.headers("editor"), item_id, to="triaged")
    assert triaged.status_code == 200, triaged.text
    next_due = datetime.fromisoformat(triaged.json()["stage_due_at"])
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=next_due + timedelta(minutes=1)) == 1
    (again,) = await events_after(app, mark)
    assert (
        again.data["status"] == "triaged" and datetime.fromisoformat(again.data["stage_due_at"]) == next_due
    )


async def test_a_check_left_waiting_for_a_grade_fires_once(app, client, settings):
    department = await make_department(app)
    waiting_person = await make_person(app, department_key=department.key)
    graded_person = await make_person(app, department_key=department.key)
    campaign = await launch(app, department.key, datetime.now(UTC) + timedelta(days=30))
    async with app.state.sessionmaker() as session:
        check = await campaigns_service.submit_check(
            session, principal_of(waiting_person), campaign.id, CheckCreate.model_validate(GUT_CHECK)
        )
    submitted = await client.post(
        f"/api/v1/campaigns/{campaign.id}/checks",
        json=GUT_CHECK,
        headers=bearer(token_for(app, graded_person)),
    )
    assert submitted.status_code == 201, submitted.text
    grader = await make_person(app, role="editor")
    graded = await client.post(
        f"/api/v1/checks/{submitted.json()['id']}/grade",
        json={"result": "passed"},
        headers=bearer(token_for(app, grader)),
    )
    assert graded.status_code == 200, graded.text
    mark = await position(app)

    waited = check.submitted_at + timedelta(hours=settings.check_waiting_hours)
    assert await detect_due(app.state.sessionmaker, now=waited - timedelta(minutes=1)) == 0
    assert await detect_due(app.state.sessionmaker, now=waited + timedelta(minutes=1)) == 1
    (event,) = await events_after(app, mark)
    assert event.type == "check.waiting"
    shaped_as_documented(event)
    assert event.data["check_id"] == str(check.id) and event.data["person_id"] == str(waiting_person.id)
    assert event.data["campaign_id"] == str(campaign.id) and event.product_key == campaign.product_key
    assert event.data["waiting_hours"] == settings.check_waiting_hours
    assert await detect_due(app.state.sessionmaker, now=waited + timedelta(hours=5)) == 0


def test_the_clock_settings_have_their_documented_defaults_and_bounds():
    defaults = Settings(env="test", jwt_secret="x" * 32)
    assert (defaults.evidence_expiring_days, defaults.check_waiting_hours, defaults.clock_lookback_days) == (
        14,
        48,
        7,
    )
    with pytest.raises(ValueError):
        Settings(env="test", jwt_secret="x" * 32, evidence_expiring_days=0)


def test_occurrence_keys_name_what_fires_once():
    from service.events.clock import Due

    subject, person = uuid.UUID(int=1), uuid.UUID(int=2)
    at = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)
    step_id = uuid.UUID(int=3)
    step = Due(EventType.CAMPAIGN_STEP_DUE, subject, at, {}, person_id=person, step_id=step_id, step=3)
    assert step.key == f"campaign.step_due:{subject}:{step_id}:{person}"  # the id, not the index
    by_index = Due(EventType.CAMPAIGN_STEP_DUE, subject, at, {}, person_id=person, step=3)
    assert by_index.key == f"campaign.step_due:{subject}:3:{person}"  # without an id: the index
    overdue = Due(EventType.FEEDBACK_OVERDUE, subject, at, {}, once_per_due_at=True)
    assert overdue.key == f"feedback.overdue:{subject}:2026-12-09T15:00:00Z"
    expired = Due(EventType.EVIDENCE_EXPIRED, subject, at, {}, due_on=date(2026, 12, 8))
    assert expired.key == f"evidence.expired:{subject}:2026-12-08"
