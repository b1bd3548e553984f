"""What the clock fired is pruned only where its detector can never find it due again.

Set up through the real services and REST as in tests/test_clock.py; `detect_due` and
`prune_fired` run with an injected `now` (UTC), and the worker's own job runs against the real
clock. After each prune the clock runs again and fires nothing it had fired before.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from service.campaigns import service as campaigns_service
from service.campaigns.schemas import CheckCreate
from service.events.catalogue import EventType
from service.events.clock import PRUNE_MARGIN, detect_due, prune_fired
from service.events.clock_models import ClockOccurrence
from service.feedback.models import FeedbackItem
from service.worker import Worker
from tests.campaigns.helpers import GUT_CHECK, utc_today
from tests.factories import (
    bearer,
    make_brief,
    make_department,
    make_person,
    make_product,
    principal_of,
    token_for,
)
from tests.feedback.test_loop import filed_feedback_id
from tests.messages.test_messages import make_evidence
from tests.test_clock import (  # noqa: F401 (the fixture: the domains' detectors only)
    _domain_detectors_only,
    events_after,
    launch,
    occurrences,
    position,
    start_of,
)


def beyond(settings, due: datetime) -> datetime:
    """The first moment an occurrence due at `due` is older than the lookback and its margin."""
    return due + timedelta(days=settings.clock_lookback_days) + PRUNE_MARGIN + timedelta(minutes=1)


async def types_kept(app) -> list[str]:
    return sorted(o.type for o in await occurrences(app))


async def test_an_overdue_item_is_pruned_past_the_lookback_and_never_fires_again(
    app, client, callers, settings
):
    product = await make_product(app)
    item_id = await filed_feedback_id(app, await make_person(app), product_key=product.key)
    item = (await client.get(f"/api/v1/feedback/{item_id}", headers=callers.headers("editor"))).json()
    due = datetime.fromisoformat(item["stage_due_at"])
    assert await detect_due(app.state.sessionmaker, now=due + timedelta(minutes=1)) == 1

    # Recent (and at the very edge of the lookback plus its margin): kept.
    assert await prune_fired(app.state.sessionmaker, now=due + timedelta(days=1)) == 0
    assert await prune_fired(app.state.sessionmaker, now=beyond(settings, due) - timedelta(minutes=2)) == 0
    assert await types_kept(app) == ["feedback.overdue"]

    pruned_at = beyond(settings, due)
    assert await prune_fired(app.state.sessionmaker, now=pruned_at) == 1
    assert await occurrences(app) == []
    mark = await position(app)
    # Neither the pruning worker nor one whose clock is up to the margin behind finds it again.
    for now in (pruned_at, pruned_at - PRUNE_MARGIN, pruned_at + timedelta(days=30)):
        assert await detect_due(app.state.sessionmaker, now=now) == 0
    assert await events_after(app, mark) == []


async def test_evidence_still_expiring_is_kept_though_it_fell_due_long_ago(app, settings):
    """`evidence.expiring` falls due 14 days before verify_by, longer ago than the lookback while
    the date is still ahead: its detector would find it again, so it waits for verify_by to pass."""
    editor = await make_person(app, role="editor")
    product = await make_product(app)
    verify_by = utc_today() + timedelta(days=12)
    evidence_id = await make_evidence(app, verify_by=verify_by)
    await make_brief(app, editor, product.key, status="published", evidence=[{"id": evidence_id}])
    assert await detect_due(app.state.sessionmaker, now=datetime.now(UTC)) == 1

    last_valid_day = start_of(verify_by) + timedelta(hours=12)  # fell due 13.5 days before
    assert await prune_fired(app.state.sessionmaker, now=last_valid_day) == 0
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=last_valid_day) == 0
    assert await events_after(app, mark) == []

    expired_at = start_of(verify_by + timedelta(days=1))
    assert await detect_due(app.state.sessionmaker, now=expired_at) == 1
    assert await types_kept(app) == ["evidence.expired", "evidence.expiring"]
    pruned_at = beyond(settings, expired_at)
    assert await prune_fired(app.state.sessionmaker, now=pruned_at) == 2
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=pruned_at) == 0
    assert await detect_due(app.state.sessionmaker, now=pruned_at - PRUNE_MARGIN) == 0
    assert await events_after(app, mark) == []


async def test_a_campaign_step_is_kept_while_the_campaign_is_active_then_pruned(
    app, client, callers, settings
):
    department = await make_department(app)
    await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(hours=1)
    campaign = await launch(app, department.key, at)
    assert await detect_due(app.state.sessionmaker, now=at) == 1

    # Long past, but active: the step may still be moved into the lookback (keeping its id) and
    # its row is what keeps it from firing again.
    later = beyond(settings, at) + timedelta(days=20)
    assert await prune_fired(app.state.sessionmaker, now=later) == 0
    editor = callers.headers("editor")
    read = await client.get(f"/api/v1/campaigns/{campaign.id}", headers=editor)
    step = {**read.json()["steps"][0], "at": (later + timedelta(hours=1)).isoformat()}
    patched = await client.patch(
        f"/api/v1/campaigns/{campaign.id}",
        json={"steps": [{k: step[k] for k in ("id", "channel", "title", "at")}]},
        headers={**editor, "If-Match": read.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=later + timedelta(hours=2)) == 0
    assert await events_after(app, mark) == []

    # Completed: no detector reads it any more.
    admin = await make_person(app, role="admin")
    async with app.state.sessionmaker() as session:
        await campaigns_service.complete_campaign(session, principal_of(admin), campaign.id)
    assert await prune_fired(app.state.sessionmaker, now=later) == 1
    assert await occurrences(app) == []
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=later + timedelta(hours=2)) == 0
    assert await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE) == []


async def test_a_check_still_waiting_is_kept_and_pruned_once_graded(app, client, settings):
    department = await make_department(app)
    person = await make_person(app, department_key=department.key)
    campaign = await launch(app, department.key, datetime.now(UTC) + timedelta(days=30))
    async with app.state.sessionmaker() as session:
        check = await campaigns_service.submit_check(
            session, principal_of(person), campaign.id, CheckCreate.model_validate(GUT_CHECK)
        )
    waited = check.submitted_at + timedelta(hours=settings.check_waiting_hours)
    assert await detect_due(app.state.sessionmaker, now=waited + timedelta(minutes=1)) == 1

    later = beyond(settings, waited)
    assert await prune_fired(app.state.sessionmaker, now=later) == 0  # still waiting: kept
    grader = await make_person(app, role="editor")
    graded = await client.post(
        f"/api/v1/checks/{check.id}/grade", json={"result": "passed"}, headers=bearer(token_for(app, grader))
    )
    assert graded.status_code == 200, graded.text
    assert await prune_fired(app.state.sessionmaker, now=later) == 1
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=later) == 0
    assert await events_after(app, mark) == []


async def test_the_worker_prunes_in_bounded_batches_what_fell_due_before_the_lookback(app, settings):
    """The worker's job, against the real clock: two items overdue long ago and one recently."""
    product = await make_product(app)
    person = await make_person(app)
    now = datetime.now(UTC)
    old_due = now - timedelta(days=settings.clock_lookback_days) - PRUNE_MARGIN - timedelta(hours=1)
    items = [await filed_feedback_id(app, person, product_key=product.key) for _ in range(3)]
    dues = [old_due, old_due - timedelta(hours=1), now - timedelta(hours=1)]
    async with app.state.engine.begin() as conn:
        for item_id, due in zip(items, dues, strict=True):
            await conn.execute(
                sa.update(FeedbackItem).where(FeedbackItem.id == uuid.UUID(item_id)).values(stage_due_at=due)
            )
    for due in sorted(dues):  # each fired when it fell due
        assert await detect_due(app.state.sessionmaker, now=due + timedelta(minutes=1)) >= 1
    assert len(await occurrences(app)) == 3

    assert await prune_fired(app.state.sessionmaker, limit=1) == 1  # bounded
    worker = Worker(app.state.sessionmaker, settings)
    (job,) = [job for job in worker.jobs if job.name == "prune_clock"]
    assert await job.run() == 1
    (kept,) = await occurrences(app)
    assert kept.due_at == dues[2]
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker) == 0
    assert await events_after(app, mark) == []
    assert isinstance(kept, ClockOccurrence)
