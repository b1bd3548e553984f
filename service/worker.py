"""The worker: what CueCard does when nobody is asking — hands events on and notices time.

One loop, a few jobs, each on its own interval: number committed events (the sequencer, which
also fans them out to webhooks), send webhook deliveries that are due, detect what time made
due (campaign steps, evidence nearing and passing `verify_by`, overdue feedback, checks
waiting), and prune events older than the retention window. Every job is safe to run in
several processes at once (row locks with SKIP LOCKED, advisory locks, unique occurrence
keys), so `cuecard serve` embeds one in each API process by default and `cuecard worker` runs
one on its own; `CUECARD_EMBEDDED_WORKER=false` leaves the work to the latter.

A failing job is logged and retried on its next turn (the database may be restarting); it
never stops the loop or the others. Stopping drains: the job running finishes (a delivery in
flight is recorded), then the loop ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.db import use_case, utcnow
from service.events import clock, sequencer
from service.events.models import OutboxEvent
from service.logging import get_logger

log = get_logger("cuecard.worker")

# What a job returns: how much it did (a job that did a full batch runs again at once).
JobRun = Callable[[], Awaitable[int]]


@dataclass
class Job:
    name: str
    run: JobRun
    every_seconds: float
    # A run that did at least this much work is followed at once by another (a backlog).
    batch: int = 0
    # Whether a commit of new events brings its next run forward (see `Worker.wake`).
    on_commit: bool = False
    due_at: float = 0.0
    failures: int = field(default=0)


class Worker:
    """Runs the jobs until `stop()`; `published` hears each newly numbered `seq` (this
    process's live streams wake on it without waiting for a NOTIFY round trip)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        published: Callable[[int], None] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.published = published
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self.jobs = self._jobs()

    def _jobs(self) -> list[Job]:
        poll = self.settings.worker_poll_seconds
        return [
            Job("sequence", self._sequence, poll, batch=_SEQUENCE_BATCH, on_commit=True),
            # Exactly once per occurrence however often it runs (service/events/clock.py).
            Job("clock", self._clock, self.settings.clock_interval_seconds, batch=_CLOCK_BATCH),
            Job("prune", self._prune, _PRUNE_EVERY_SECONDS, batch=_PRUNE_BATCH),
        ]

    async def _sequence(self) -> int:
        before = time.monotonic()
        newest = await sequencer.sequence(self.sessionmaker, limit=_SEQUENCE_BATCH)
        if newest and self.published is not None:
            self.published(newest)
        log.debug("sequenced", newest=newest, ms=round((time.monotonic() - before) * 1000, 1))
        return _SEQUENCE_BATCH if newest else 0

    async def _clock(self) -> int:
        fired = await clock.detect_due(self.sessionmaker, limit=_CLOCK_BATCH)
        if fired:
            self.wake()  # what fired is handed on now, not at the next poll
        return fired

    async def _prune(self) -> int:
        cutoff = utcnow() - timedelta(hours=self.settings.event_retention_hours)
        return await prune_events(self.sessionmaker, cutoff, limit=_PRUNE_BATCH)

    def wake(self) -> None:
        """Run the jobs now rather than at their next interval (a change was just committed)."""
        for job in self.jobs:
            if job.on_commit and not job.failures:  # a failing job keeps its back-off
                job.due_at = 0.0
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run_once(self) -> int:
        """Runs every job that is due once; returns the work done (for tests and the loop)."""
        done = 0
        now = time.monotonic()
        for job in self.jobs:
            if self._stopping.is_set():
                break
            if job.due_at > now:
                continue
            try:
                work = await job.run()
            except Exception:  # a job's failure is logged and retried, never fatal
                job.failures += 1
                # Back off a failing job (the database restarting) up to a minute.
                job.due_at = time.monotonic() + min(60.0, job.every_seconds * 2**job.failures)
                log.exception("worker job failed", job=job.name, failures=job.failures)
                continue
            job.failures = 0
            more = job.batch and work >= job.batch
            job.due_at = now if more else time.monotonic() + job.every_seconds
            done += work
        return done

    async def run(self) -> None:
        log.info("worker started", jobs=[job.name for job in self.jobs])
        while not self._stopping.is_set():
            self._wake.clear()  # before the run: a wake during it runs the jobs again
            await self.run_once()
            wait = max(0.0, min(job.due_at for job in self.jobs) - time.monotonic())
            if wait and not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
            else:
                await asyncio.sleep(0)  # a backlog: let the API's requests in between batches
        log.info("worker stopped")


_SEQUENCE_BATCH = 500
_CLOCK_BATCH = 500
_PRUNE_BATCH = 5_000
_PRUNE_EVERY_SECONDS = 600.0


async def prune_events(
    sessionmaker: async_sessionmaker[AsyncSession], older_than: datetime, *, limit: int = _PRUNE_BATCH
) -> int:
    """Deletes up to `limit` events handed on before `older_than`; returns how many. Events
    not yet numbered are kept whatever their age: nothing has seen them."""
    outbox = OutboxEvent.__table__.c
    async with sessionmaker() as session, use_case(session):
        old = (
            sa.select(outbox.position)
            .where(outbox.timestamp < older_than, outbox.seq.is_not(None))
            .order_by(outbox.position)
            .limit(limit)
        )
        result = await session.execute(sa.delete(OutboxEvent).where(outbox.position.in_(old)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a DELETE's CursorResult


@contextlib.asynccontextmanager
async def running(worker: Worker, *, grace_seconds: float) -> AsyncIterator[Worker]:
    """Runs `worker` in the background for the block; on exit lets it finish its job (drain),
    cancelling it only after `grace_seconds`."""
    task = asyncio.create_task(worker.run(), name="cuecard-worker")
    try:
        yield worker
    finally:
        worker.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=grace_seconds)
        except TimeoutError:
            log.warning("worker did not drain in time; cancelled", grace_seconds=grace_seconds)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def backlog_metrics(session: AsyncSession) -> list[Metric]:
    """What an operator alerts on, read from the database (so it covers every worker process):
    events not yet handed on, and how old the oldest of them is."""
    outbox = OutboxEvent.__table__.c
    count, oldest = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.min(outbox.timestamp)).where(outbox.seq.is_(None))
        )
    ).one()
    depth = GaugeMetricFamily(
        "cuecard_outbox_depth", "Events committed but not yet handed on by a worker", labels=["stage"]
    )
    depth.add_metric(["sequencing"], int(count))
    age = GaugeMetricFamily(
        "cuecard_outbox_oldest_undelivered_seconds",
        "Age of the oldest event or delivery still waiting (0 when none)",
    )
    waiting = [oldest] if oldest is not None else []
    age.add_metric([], max((utcnow() - at).total_seconds() for at in waiting) if waiting else 0.0)
    return [depth, age]
