"""The worker: its jobs run on their own, a failing one never stops the others, stopping drains,
and `cuecard worker` is a process an operator runs and stops with SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import uuid

import sqlalchemy as sa

from service.db import use_case
from service.events.catalogue import EventType
from service.events.models import OutboxEvent
from service.events.service import emit
from service.worker import Job, Worker, running
from tests.test_cli import CUECARD


async def _emit(app) -> None:
    async with app.state.sessionmaker() as session, use_case(session):
        emit(session, EventType.PERSON_LEFT, {"person_id": uuid.uuid4()})


async def _unsequenced(app) -> int:
    async with app.state.sessionmaker() as session:
        stmt = sa.select(sa.func.count()).where(OutboxEvent.__table__.c.seq.is_(None))
        return int(await session.scalar(stmt) or 0)


async def test_a_run_numbers_events_and_tells_this_process(app, settings) -> None:
    heard: list[int] = []
    worker = Worker(app.state.sessionmaker, settings, published=heard.append)
    await _emit(app)
    await _emit(app)
    await worker.run_once()
    assert await _unsequenced(app) == 0
    assert len(heard) == 1 and heard[0] >= 2


async def test_a_failing_job_is_retried_later_and_never_stops_the_others(app, settings) -> None:
    worker = Worker(app.state.sessionmaker, settings)
    calls = 0

    async def broken() -> int:
        nonlocal calls
        calls += 1
        raise ConnectionError("database restarting")

    worker.jobs.insert(0, Job("broken", broken, every_seconds=0.01))
    await _emit(app)
    await worker.run_once()
    assert calls == 1
    assert await _unsequenced(app) == 0  # the job after it ran
    assert worker.jobs[0].failures == 1
    assert worker.jobs[0].due_at > 0  # backed off, not retried in a tight loop


async def test_the_background_worker_picks_up_new_events_and_stopping_drains(app, settings) -> None:
    fast = settings.model_copy(update={"worker_poll_seconds": 0.05})
    worker = Worker(app.state.sessionmaker, fast)
    finished: list[str] = []

    async def slow() -> int:
        await asyncio.sleep(0.3)
        finished.append("slow")
        return 0

    worker.jobs.append(Job("slow", slow, every_seconds=0.05))
    async with running(worker, grace_seconds=5):
        await _emit(app)
        for _ in range(100):
            if await _unsequenced(app) == 0:
                break
            await asyncio.sleep(0.05)
        assert await _unsequenced(app) == 0
        await asyncio.sleep(0.1)  # the slow job is (most likely) under way now
    assert finished  # leaving waited for the job under way rather than cancelling it


async def test_a_worker_that_cannot_drain_in_time_is_cancelled(app, settings) -> None:
    worker = Worker(app.state.sessionmaker, settings)
    cancelled = asyncio.Event()

    async def stuck() -> int:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    worker.jobs = [Job("stuck", stuck, every_seconds=1)]
    async with running(worker, grace_seconds=0.2):
        await asyncio.sleep(0.05)
    assert cancelled.is_set()


async def test_cuecard_worker_runs_until_sigterm_and_exits_cleanly(app, cli_env) -> None:
    await _emit(app)
    process = await asyncio.create_subprocess_exec(
        CUECARD,
        "worker",
        env={**cli_env, "CUECARD_WORKER_POLL_SECONDS": "0.1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(200):
            if await _unsequenced(app) == 0:
                break
            await asyncio.sleep(0.05)
        assert await _unsequenced(app) == 0  # the separate process numbered the event
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    assert "worker running" in err.decode()


async def test_metrics_show_the_backlog_and_its_age(app, client, settings) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    def gauges(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.startswith("cuecard_outbox")
        }

    empty = gauges((await client.get("/metrics")).text)
    assert empty[("cuecard_outbox_depth", (("stage", "sequencing"),))] == 0
    assert empty[("cuecard_outbox_depth", (("stage", "delivering"),))] == 0
    assert empty[("cuecard_outbox_oldest_undelivered_seconds", ())] == 0
    await _emit(app)
    await _emit(app)
    await asyncio.sleep(0.05)
    waiting = gauges((await client.get("/metrics")).text)
    assert waiting[("cuecard_outbox_depth", (("stage", "sequencing"),))] == 2
    assert waiting[("cuecard_outbox_oldest_undelivered_seconds", ())] > 0
    await Worker(app.state.sessionmaker, settings).run_once()
    assert (
        gauges((await client.get("/metrics")).text)[("cuecard_outbox_depth", (("stage", "sequencing"),))] == 0
    )


async def test_the_embedded_worker_hands_on_a_commit_at_once_not_at_its_next_poll(settings) -> None:
    """`cuecard serve`'s worker: a use case committing events wakes it (its poll is an hour)."""
    from asgi_lifespan import LifespanManager

    from service.main import create_app

    slow_poll = settings.model_copy(update={"embedded_worker": True, "worker_poll_seconds": 60})
    application = create_app(slow_poll)
    async with LifespanManager(application):
        assert application.state.worker is not None
        await asyncio.sleep(0.2)  # its first round ran; the next is a minute away
        await _emit(application)
        for _ in range(100):
            if await _unsequenced(application) == 0:
                break
            await asyncio.sleep(0.02)
        assert await _unsequenced(application) == 0
    await application.state.engine.dispose()


async def test_pruning_removes_only_events_handed_on_before_the_window(app, settings) -> None:
    from datetime import UTC, datetime, timedelta

    from service.events.service import prune_expired

    for _ in range(3):
        await _emit(app)
    await Worker(app.state.sessionmaker, settings).run_once()  # numbered (handed on)
    await _emit(app)  # not numbered yet
    old = datetime.now(UTC) - timedelta(hours=settings.event_retention_hours + 1)
    outbox = OutboxEvent.__table__.c
    async with app.state.engine.begin() as conn:
        first = sa.select(sa.func.min(outbox.position)).scalar_subquery()
        await conn.execute(sa.update(OutboxEvent).where(outbox.position == first).values(timestamp=old))
        await conn.execute(sa.update(OutboxEvent).where(outbox.seq.is_(None)).values(timestamp=old))
    retention = settings.event_retention_hours
    assert await prune_expired(app.state.sessionmaker, retention_hours=retention) == 1  # old, handed on
    async with app.state.sessionmaker() as session:
        left = (await session.execute(sa.select(outbox.seq).order_by(outbox.position))).scalars().all()
    assert len(left) == 3 and left[-1] is None  # the recent ones and the one nobody has seen


async def test_the_worker_notices_what_time_made_due_and_hands_it_on_in_the_same_round(app, settings) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.factories import make_brief, make_person, make_product
    from tests.messages.test_messages import make_evidence

    editor = await make_person(app, role="editor")
    product = await make_product(app)
    verify_by = datetime.now(UTC).date() + timedelta(days=3)  # inside the expiring window
    evidence_id = await make_evidence(app, verify_by=verify_by)
    await make_brief(app, editor, product.key, status="published", evidence=[{"id": evidence_id}])
    worker = Worker(app.state.sessionmaker, settings)
    await worker.run_once()  # the clock fires evidence.expiring; it wakes the sequencer
    await worker.run_once()
    async with app.state.sessionmaker() as session:
        rows = (
            await session.execute(sa.select(OutboxEvent).where(OutboxEvent.type == "evidence.expiring"))
        ).scalars()
        (expiring,) = list(rows)
    assert expiring.data["evidence_id"] == evidence_id
    assert expiring.seq is not None  # handed on
    await worker.run_once()
    async with app.state.sessionmaker() as session:
        count = await session.scalar(
            sa.select(sa.func.count()).where(OutboxEvent.type == "evidence.expiring")
        )
    assert count == 1  # once, however often the worker runs
