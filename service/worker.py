"""The worker: what CueCard does when nobody is asking — hands events on and notices time.

One loop, a few jobs, each on its own interval: number committed events (the sequencer, which
also fans them out to webhooks), send webhook deliveries and notifications (e-mail, chat) that
are due, detect what time made due (campaign steps, evidence nearing and passing `verify_by`,
overdue feedback, checks waiting), and prune events older than the retention window and what the
clock fired that can never fall due again. Every job is safe to run in
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

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.config import Settings
from service.events import clock, sequencer
from service.events import service as events_service
from service.logging import get_logger
from service.notifications import sender as notification_sender
from service.webhooks import delivery as webhook_delivery
from service.webhooks.ssrf import guarded_client

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
        # Delivery rounds run beside the loop: a receiver slow to answer holds its round (up to
        # the delivery timeout), not the sequencer, the clock or other receivers' rounds.
        self._rounds: set[asyncio.Task[int]] = set()
        self._notify_rounds: set[asyncio.Task[int]] = set()
        self._http: httpx.AsyncClient | None = None
        self.jobs = self._jobs()

    def _jobs(self) -> list[Job]:
        poll = self.settings.worker_poll_seconds
        return [
            Job("sequence", self._sequence, poll, batch=_SEQUENCE_BATCH, on_commit=True),
            Job("deliver", self._deliver, poll, on_commit=True),
            # E-mail and chat posts to people (service/notifications/sender.py), in rounds beside
            # the loop like deliveries: a slow SMTP server holds its round, nothing else.
            Job("notify", self._notify, poll, on_commit=True),
            # Exactly once per occurrence however often it runs (service/events/clock.py).
            Job("clock", self._clock, self.settings.clock_interval_seconds, batch=_CLOCK_BATCH),
            Job("prune", self._prune, _PRUNE_EVERY_SECONDS, batch=_PRUNE_BATCH),
            # What the clock fired and can never find due again (service/events/clock.py).
            Job("prune_clock", self._prune_clock, _PRUNE_EVERY_SECONDS, batch=_PRUNE_BATCH),
        ]

    async def _sequence(self) -> int:
        before = time.monotonic()
        newest = await sequencer.sequence(self.sessionmaker, limit=_SEQUENCE_BATCH)
        if newest and self.published is not None:
            self.published(newest)
        log.debug("sequenced", newest=newest, ms=round((time.monotonic() - before) * 1000, 1))
        return _SEQUENCE_BATCH if newest else 0

    async def _deliver(self) -> int:
        """Starts a delivery round unless the most allowed are under way; returns 1 if it did."""
        self._rounds = {task for task in self._rounds if not task.done()}
        if len(self._rounds) >= _DELIVERY_ROUNDS:
            return 0
        if self._http is None:
            self._http = guarded_client(self.settings.webhook_allow_hosts)
        round_ = asyncio.create_task(self._deliver_round(self._http), name="webhook-delivery-round")
        self._rounds.add(round_)
        return 1

    async def _deliver_round(self, http: httpx.AsyncClient) -> int:
        try:
            sent = await webhook_delivery.deliver_due(
                self.sessionmaker, self.settings, limit=_DELIVERY_BATCH, client=http
            )
        except Exception:  # logged; the next round claims again (leases expire)
            log.exception("webhook delivery round failed")
            return 0
        if sent:
            self.wake()  # an answered delivery may free the next one of its lane
        return sent

    async def _notify(self) -> int:
        """Starts a sending round of notifications unless the most allowed are under way."""
        self._notify_rounds = {task for task in self._notify_rounds if not task.done()}
        if len(self._notify_rounds) >= _NOTIFY_ROUNDS:
            return 0
        if self._http is None:
            self._http = guarded_client(self.settings.webhook_allow_hosts)
        round_ = asyncio.create_task(self._notify_round(self._http), name="notification-round")
        self._notify_rounds.add(round_)
        return 1

    async def _notify_round(self, http: httpx.AsyncClient) -> int:
        try:
            sent = await notification_sender.send_due(
                self.sessionmaker, self.settings, limit=_NOTIFY_BATCH, http=http
            )
        except Exception:  # logged; the next round claims again (leases expire)
            log.exception("notification round failed")
            return 0
        if sent >= _NOTIFY_BATCH:
            self.wake()  # a backlog: the next round at once
        return sent

    async def settle(self) -> None:
        """Waits for the delivery and notification rounds under way (tests; and draining at stop)."""
        while self._rounds or self._notify_rounds:
            rounds, self._rounds = self._rounds | self._notify_rounds, set()
            self._notify_rounds = set()
            await asyncio.gather(*rounds)

    async def _clock(self) -> int:
        fired = await clock.detect_due(self.sessionmaker, limit=_CLOCK_BATCH)
        if fired:
            self.wake()  # what fired is handed on now, not at the next poll
        return fired

    async def _prune(self) -> int:
        retention = self.settings.event_retention_hours
        return await events_service.prune_expired(
            self.sessionmaker, retention_hours=retention, limit=_PRUNE_BATCH
        )

    async def _prune_clock(self) -> int:
        return await clock.prune_fired(self.sessionmaker, limit=_PRUNE_BATCH)

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
        await self.settle()  # draining: deliveries under way are sent and recorded
        if self._http is not None:
            await self._http.aclose()
        log.info("worker stopped")


_SEQUENCE_BATCH = 500
_CLOCK_BATCH = 500
_DELIVERY_BATCH = 20
_DELIVERY_ROUNDS = 4
_NOTIFY_BATCH = 50
_NOTIFY_ROUNDS = 2
_PRUNE_BATCH = 5_000
_PRUNE_EVERY_SECONDS = 600.0


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
    events not yet handed on and webhook deliveries not yet finished, the age of the oldest of
    them, and the last hour's delivery attempts by outcome; with this process's own attempts
    as a counter."""
    stats = await webhook_delivery.delivery_stats(session)
    depth = GaugeMetricFamily(
        "cuecard_outbox_depth",
        "Events not yet handed on (sequencing) and webhook deliveries not yet finished (delivering)",
        labels=["stage"],
    )
    depth.add_metric(["sequencing"], stats["unsequenced_events"])
    depth.add_metric(["delivering"], stats["pending_deliveries"])
    age = GaugeMetricFamily(
        "cuecard_outbox_oldest_undelivered_seconds",
        "Age of the oldest event or delivery still waiting (0 when none)",
    )
    age.add_metric([], stats["oldest_undelivered_age_seconds"])
    recent = GaugeMetricFamily(
        "cuecard_webhook_delivery_attempts_last_hour",
        "Webhook delivery attempts in the last hour, by outcome (all worker processes)",
        labels=["outcome"],
    )
    for outcome, count in sorted(stats["attempts_last_hour"].items()):
        recent.add_metric([outcome], count)
    attempts = CounterMetricFamily(
        "cuecard_webhook_delivery_attempts",
        "Webhook delivery attempts made by this process, by outcome",
        labels=["outcome"],
    )
    for outcome, count in sorted(webhook_delivery.attempt_outcomes.items()):
        attempts.add_metric([outcome], count)
    return [depth, age, recent, attempts, *await notification_metrics(session)]


async def notification_metrics(session: AsyncSession) -> list[Metric]:
    """E-mail and chat notifications waiting (pending or sending) by channel, the age of the
    oldest due one, and this process's outcomes (sent, retried, failed, cancelled)."""
    stats = await notification_sender.notification_stats(session)
    waiting = GaugeMetricFamily(
        "cuecard_notifications_waiting",
        "Notifications not yet sent, failed or cancelled, by channel (all worker processes)",
        labels=["channel"],
    )
    for channel in ("email", "chat"):
        waiting.add_metric([channel], stats["waiting"].get(channel, 0))
    age = GaugeMetricFamily(
        "cuecard_notifications_oldest_due_seconds",
        "How long the oldest due notification has waited past its time (0 when none)",
    )
    age.add_metric([], stats["oldest_due_age_seconds"])
    sent = CounterMetricFamily(
        "cuecard_notifications",
        "Notifications this process sent, retried, failed or cancelled",
        labels=["outcome"],
    )
    for outcome in ("sent", "retried", "failed", "cancelled"):
        sent.add_metric([outcome], notification_sender.outcomes.get(outcome, 0))
    return [waiting, age, sent]
