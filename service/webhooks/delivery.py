"""Webhook delivery: events fanned out to the webhooks that want them, and the worker sending them.

- `fan_out` runs in the sequencer's transaction (registered in service/wiring.py): one
  `webhook_deliveries` row per sequenced event and active, matching webhook, in a few
  statements per batch.
- `deliver_due` is what the worker calls in its loop: it claims due deliveries (PostgreSQL
  `FOR UPDATE SKIP LOCKED`; on SQLite the locking read takes the write lock) with a lease and
  commits, POSTs them outside any transaction, signed with every current secret, then records
  each attempt in a transaction of its own.

Order: a webhook's deliveries of one product (a *lane*: the same `product_key`, or no product)
go out in `seq` order: one is not claimed while an earlier one of its lane is unfinished, so a
retrying `pitch.changed` holds the next one of that product back, not other products'.
Deliveries asked for by hand (test pings, redeliveries) carry no `event_seq`: they hold no lane.

At least once: a worker that dies mid-send leaves its lease to run out, and the delivery is
claimed and sent again (with the same `webhook-id`; receivers de-duplicate by it).
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col

from service.auth.principal import Principal
from service.clients import service as clients_service
from service.config import Settings
from service.db import use_case, utcnow
from service.errors import NotFound
from service.events.catalogue import EventType, readable_types
from service.events.models import OutboxEvent
from service.events.service import envelope, iso_utc
from service.logging import get_logger
from service.people import service as people_service
from service.webhooks import service as webhooks_service
from service.webhooks.models import (
    UNFINISHED,
    AttemptOutcome,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from service.webhooks.signing import signed_headers
from service.webhooks.ssrf import DeliveryResult, deliver, guarded_client

log = get_logger("cuecard.webhooks.delivery")

# The worker acts for nobody in particular: it reads clients and people as the operator would.
WORKER = Principal.operator("webhook-delivery")
MAX_TEXT = 500  # `error`, `reason` and `paused_reason` are bounded columns
_BODY_IN_ERROR = 200  # characters of a failing receiver's answer kept in `error`
_PENDING, _DELIVERING = DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value

# Attempts recorded by this process, by outcome: for a Prometheus counter
# (`cuecard_webhook_deliveries_total{outcome}`) the app may expose.
attempt_outcomes: Counter[str] = Counter()


def _bounded(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- fan-out (in the sequencer's transaction) ------------------------------------------------------


async def fan_out(session: AsyncSession, events: list[OutboxEvent]) -> None:
    """Adds one pending delivery per event and active webhook that wants it (its type, and its
    product when the webhook filters by product): two statements per batch, whatever its size.

    `webhook.ping` is never fanned out: only the test endpoint sends it, to one webhook."""
    wanted = [e for e in events if e.type != EventType.WEBHOOK_PING.value]
    if not wanted:
        return
    hooks = (
        await session.execute(
            sa.select(col(Webhook.id), col(Webhook.events), col(Webhook.product_keys)).where(
                col(Webhook.active)
            )
        )
    ).all()
    if not hooks:
        return
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for event in wanted:  # seq order
        for hook in hooks:
            if event.type not in hook.events:
                continue
            if hook.product_keys is not None and event.product_key not in hook.product_keys:
                continue
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "created_at": now,
                    "updated_at": now,
                    "revision": 1,
                    "webhook_id": hook.id,
                    "event_id": event.id,
                    "event_seq": event.seq,
                    "event_type": event.type,
                    "product_key": event.product_key,
                    "status": _PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            )
    if rows:
        await session.execute(WebhookDelivery.__table__.insert(), rows)


# --- sending (the worker) ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    """A delivery claimed for one attempt: everything the send needs, read before commit."""

    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    attempt: int
    url: str
    secrets: list[str]
    msg_id: str
    body: bytes


def retry_delay(attempt: int, settings: Settings) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): full jitter, capped."""
    ceiling = min(
        settings.webhook_retry_cap_seconds, settings.webhook_retry_base_seconds * 2 ** min(attempt - 1, 32)
    )
    return random.uniform(0, ceiling)  # noqa: S311 - spreading retries, not a secret


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    limit: int = 20,
    client: httpx.AsyncClient | None = None,
    now: datetime | None = None,
) -> int:
    """Sends up to `limit` due deliveries once each; returns how many attempts it made.

    Never raises for what a receiver does. `client` defaults to a guarded client built from
    `settings.webhook_allow_hosts` (and closed again); `now` moves the clock (tests)."""
    at = now or utcnow()
    await _give_up_waiting(sessionmaker, settings, at)
    claimed = await _claim(sessionmaker, settings, at, limit)
    if not claimed:
        return 0
    http = client or guarded_client(settings.webhook_allow_hosts)
    try:
        results = await asyncio.gather(*(_send(http, c, settings) for c in claimed))
    finally:
        if client is None:
            await http.aclose()
    for one, result in zip(claimed, results, strict=True):
        await _record(sessionmaker, settings, one, result, now or utcnow())
    return len(claimed)


async def _give_up_waiting(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, at: datetime
) -> None:
    """Deliveries that waited out the give-up window unsent (their webhook paused, or an earlier
    delivery of their lane held them back) are failed; retried ones are judged when recorded."""
    window = timedelta(hours=settings.webhook_give_up_hours)
    expired = sa.and_(col(WebhookDelivery.status) == _PENDING, col(WebhookDelivery.created_at) < at - window)
    async with sessionmaker() as session, use_case(session):
        # Looked for first: an UPDATE takes SQLite's write lock even when it changes nothing.
        if await session.scalar(sa.select(col(WebhookDelivery.id)).where(expired).limit(1)) is None:
            return
        await session.execute(
            sa.update(WebhookDelivery)
            .where(expired)
            .values(
                status=DeliveryStatus.FAILED.value,
                reason=f"gave up: not delivered within {settings.webhook_give_up_hours:g} h",
                finished_at=at,
                updated_at=at,
                revision=col(WebhookDelivery.revision) + 1,
            )
        )


def _claim_statement(at: datetime, limit: int) -> sa.Select[WebhookDelivery, Webhook, OutboxEvent]:
    delivery = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    held_back = (
        sa.select(sa.literal(1))
        .where(
            col(earlier.webhook_id) == col(delivery.webhook_id),
            sa.or_(
                col(earlier.product_key) == col(delivery.product_key),
                sa.and_(col(earlier.product_key).is_(None), col(delivery.product_key).is_(None)),
            ),
            # NULL (a ping, a redelivery) on either side compares to NULL: no lane is held.
            col(earlier.event_seq) < col(delivery.event_seq),
            col(earlier.status).in_(UNFINISHED),
        )
        .exists()
    )
    due = sa.or_(
        sa.and_(col(delivery.status) == _PENDING, col(delivery.next_attempt_at) <= at),
        sa.and_(col(delivery.status) == _DELIVERING, col(delivery.locked_until) <= at),
    )
    return (
        sa.select(delivery, Webhook, OutboxEvent)
        .join(Webhook, col(Webhook.id) == col(delivery.webhook_id))
        .join(OutboxEvent, col(OutboxEvent.id) == col(delivery.event_id))
        .where(col(Webhook.active), due, ~held_back)
        .order_by(col(delivery.next_attempt_at), col(delivery.event_seq))
        .limit(limit)
        .with_for_update(of=delivery, skip_locked=True)
    )


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, at: datetime, limit: int
) -> list[_Claimed]:
    """Marks due deliveries `delivering` under a lease, and commits before anything is sent."""
    lease = timedelta(seconds=settings.webhook_delivery_lease_seconds)
    claimed: list[_Claimed] = []
    refusals: dict[str, str | frozenset[str]] = {}
    async with sessionmaker() as session, use_case(session):
        rows = (await session.execute(_claim_statement(at, limit))).all()
        for delivery, webhook, event in rows:
            refusal = await _subscriber_refusal(session, webhook.created_by, delivery.event_type, refusals)
            delivery.revision += 1
            delivery.updated_at = at
            if refusal is not None:
                delivery.status = DeliveryStatus.CANCELLED.value
                delivery.reason = _bounded(f"cancelled: {refusal}")
                delivery.finished_at, delivery.locked_until = at, None
                continue
            if delivery.status == _DELIVERING:  # its worker's lease ran out
                session.add(
                    WebhookDeliveryAttempt(
                        delivery_id=delivery.id,
                        webhook_id=delivery.webhook_id,
                        attempt=delivery.attempts,
                        attempted_at=delivery.last_attempt_at or at,
                        outcome=AttemptOutcome.LOST.value,
                        error="the worker's lease ran out before it recorded an outcome; sent again",
                        next_attempt_at=at,
                    )
                )
                attempt_outcomes[AttemptOutcome.LOST.value] += 1
            delivery.status = _DELIVERING
            delivery.attempts += 1
            delivery.locked_until = at + lease
            delivery.first_attempt_at = delivery.first_attempt_at or at
            delivery.last_attempt_at = at
            # The same bytes on every attempt: the envelope is rebuilt from the stored event.
            body = json.dumps(envelope(event), ensure_ascii=False, separators=(",", ":")).encode()
            claimed.append(
                _Claimed(
                    delivery_id=delivery.id,
                    webhook_id=webhook.id,
                    attempt=delivery.attempts,
                    url=webhook.url,
                    secrets=webhooks_service.signing_secrets(webhook, now=utcnow()),
                    msg_id=str(event.id),
                    body=body,
                )
            )
    return claimed


async def _subscriber_refusal(
    session: AsyncSession, created_by: str, event_type: str, cache: dict[str, str | frozenset[str]]
) -> str | None:
    """Why the webhook's subscriber may no longer receive this event type, or None if it may.

    A client must still exist, be active and hold a scope that reads the type; a person must
    still be an active admin (only admins register webhooks as people). Tested per event type
    at send time, so narrowing a client's scopes stops what it may no longer read at once."""
    if event_type == EventType.WEBHOOK_PING.value:
        return None  # only the webhook's own test: it carries nothing but the webhook's id
    if created_by not in cache:
        cache[created_by] = await _subscriber_reads(session, created_by)
    reads = cache[created_by]
    if isinstance(reads, str):
        return reads
    if event_type not in reads:
        return f"the subscriber ({created_by}) may no longer read {event_type}"
    return None


async def _subscriber_reads(session: AsyncSession, created_by: str) -> str | frozenset[str]:
    kind, _, ident = created_by.partition(":")
    if kind == "client":
        try:
            client = await clients_service.get_client(session, WORKER, ident)
        except NotFound:
            return f"the client that registered this webhook ({ident}) no longer exists"
        if not client.active:
            return f"the client that registered this webhook ({ident}) is deactivated"
        return frozenset(t.value for t in readable_types(frozenset(client.scopes)))
    if kind == "person":
        try:
            person = await people_service.get_person(session, WORKER, uuid.UUID(ident))
        except (NotFound, ValueError):
            person = None
        if person is None or not person.active or person.role != "admin":
            return "the person who registered this webhook is no longer an active admin"
        return frozenset(t.value for t in readable_types(frozenset(), admin=True))
    if kind == "operator":
        return frozenset(t.value for t in readable_types(frozenset(), admin=True))
    return f"unknown subscriber {created_by!r}"


async def _send(http: httpx.AsyncClient, claimed: _Claimed, settings: Settings) -> DeliveryResult:
    # Signed now (receivers refuse stale timestamps), by every secret that signs now.
    headers = signed_headers(claimed.secrets, claimed.msg_id, utcnow(), claimed.body)
    return await deliver(
        http,
        claimed.url,
        content=claimed.body,
        headers=headers,
        deadline_seconds=settings.webhook_delivery_timeout_seconds,
    )


def _outcome(result: DeliveryResult) -> tuple[AttemptOutcome, str | None]:
    if result.ok:
        return AttemptOutcome.DELIVERED, None
    if result.failure is not None:
        return AttemptOutcome(result.failure), _bounded(result.error or result.failure)
    answer = result.body.decode("utf-8", errors="replace").strip()
    text = f"HTTP {result.status_code}" + (f": {answer[:_BODY_IN_ERROR]}" if answer else "")
    if result.status_code == 410:
        return AttemptOutcome.GONE, _bounded(text)
    return AttemptOutcome.HTTP_ERROR, _bounded(text)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    claimed: _Claimed,
    result: DeliveryResult,
    at: datetime,
) -> None:
    """Records the attempt; moves the delivery on if this attempt still holds it."""
    outcome, error = _outcome(result)
    attempt_outcomes[outcome.value] += 1
    async with sessionmaker() as session, use_case(session):
        delivery = await session.get(WebhookDelivery, claimed.delivery_id, with_for_update=True)
        webhook = await session.get(Webhook, claimed.webhook_id)
        if delivery is None or webhook is None:
            return  # the webhook was deleted meanwhile: nothing to record against
        # A worker whose lease ran out may find its delivery claimed again: it records what it
        # did, and leaves the delivery to the attempt that holds it now.
        holds = delivery.status == _DELIVERING and delivery.attempts == claimed.attempt
        retry_at: datetime | None = None
        if holds:
            delivery.locked_until = None
            delivery.revision += 1
            delivery.updated_at = at
            if outcome is AttemptOutcome.DELIVERED:
                delivery.status, delivery.finished_at = DeliveryStatus.DELIVERED.value, at
            elif outcome is AttemptOutcome.GONE:
                delivery.status, delivery.finished_at = DeliveryStatus.FAILED.value, at
                delivery.reason = "the receiver answered 410 Gone: the webhook is disabled"
            else:
                retry_at = at + timedelta(seconds=retry_delay(claimed.attempt, settings))
                give_up_at = delivery.created_at + timedelta(hours=settings.webhook_give_up_hours)
                if retry_at > give_up_at:
                    retry_at = None
                    delivery.status, delivery.finished_at = DeliveryStatus.FAILED.value, at
                    delivery.reason = _bounded(
                        f"gave up after {claimed.attempt} attempts in {settings.webhook_give_up_hours:g} h; "
                        f"last: {error}"
                    )
                else:
                    delivery.status, delivery.next_attempt_at = _PENDING, retry_at
        session.add(
            WebhookDeliveryAttempt(
                delivery_id=claimed.delivery_id,
                webhook_id=claimed.webhook_id,
                attempt=claimed.attempt,
                attempted_at=at,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                outcome=outcome.value,
                error=error,
                next_attempt_at=retry_at,
            )
        )
        await session.flush()
        if outcome is AttemptOutcome.GONE:
            _stop(webhook, at, f"disabled: the receiver answered 410 Gone at {iso_utc(at)}")
        elif outcome is not AttemptOutcome.DELIVERED and webhook.active:
            await _pause_if_failing(session, settings, webhook, at, error or outcome.value)


def _stop(webhook: Webhook, at: datetime, reason: str) -> None:
    webhook.active = False
    webhook.paused_reason = _bounded(f"{reason}; PATCH active: true to resume")
    webhook.revision += 1
    webhook.updated_at = at
    log.warning("webhook stopped", extra={"webhook_id": str(webhook.id), "reason": webhook.paused_reason})


async def _pause_if_failing(
    session: AsyncSession, settings: Settings, webhook: Webhook, at: datetime, error: str
) -> None:
    """Pauses a webhook whose newest N attempts all failed, the first of them H hours ago or more."""
    n = settings.webhook_pause_after_failures
    attempt = WebhookDeliveryAttempt
    newest = (
        await session.execute(
            sa.select(col(attempt.outcome), col(attempt.attempted_at))
            .where(
                col(attempt.webhook_id) == webhook.id,
                col(attempt.outcome) != AttemptOutcome.LOST.value,  # says nothing of the receiver
            )
            .order_by(col(attempt.attempted_at).desc())
            .limit(n)
        )
    ).all()
    if len(newest) < n or any(row.outcome == AttemptOutcome.DELIVERED.value for row in newest):
        return
    since = min(row.attempted_at for row in newest)
    if at - since < timedelta(hours=settings.webhook_pause_after_hours):
        return
    _stop(webhook, at, f"paused: the newest {n} attempts failed, since {iso_utc(since)}; last error: {error}")


# --- metrics -----------------------------------------------------------------------------------


async def delivery_stats(session: AsyncSession, *, now: datetime | None = None) -> dict[str, Any]:
    """What a dashboard watches: events not yet sequenced, deliveries not yet finished (their sum
    is the outbox depth), the oldest of either's age, and the last hour's attempts by outcome."""
    at = now or utcnow()
    unsequenced, oldest_event = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.min(col(OutboxEvent.timestamp))).where(
                col(OutboxEvent.seq).is_(None)
            )
        )
    ).one()
    unfinished, oldest_delivery = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.min(col(WebhookDelivery.created_at))).where(
                col(WebhookDelivery.status).in_(UNFINISHED)
            )
        )
    ).one()
    outcomes = (
        await session.execute(
            sa.select(col(WebhookDeliveryAttempt.outcome), sa.func.count())
            .where(col(WebhookDeliveryAttempt.attempted_at) >= at - timedelta(hours=1))
            .group_by(col(WebhookDeliveryAttempt.outcome))
        )
    ).all()
    oldest = min((t for t in (_aware(oldest_event), _aware(oldest_delivery)) if t is not None), default=None)
    return {
        "unsequenced_events": int(unsequenced),
        "pending_deliveries": int(unfinished),
        "outbox_depth": int(unsequenced) + int(unfinished),
        "oldest_undelivered_age_seconds": max((at - oldest).total_seconds(), 0.0) if oldest else 0.0,
        "attempts_last_hour": {outcome: int(count) for outcome, count in outcomes},
    }


def _aware(value: datetime | None) -> datetime | None:
    # min() keeps the column's type (UTC-aware on both databases); this only guards a naive one.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def not_awaiting_delivery(event_id: sa.ColumnElement[uuid.UUID]) -> sa.ColumnElement[bool]:
    """An event may be pruned only once none of its deliveries waits: a delivery (or a
    redelivery) still to be sent needs the event's payload."""
    waiting = sa.select(WebhookDelivery.__table__.c.id).where(
        WebhookDelivery.__table__.c.event_id == event_id,
        WebhookDelivery.__table__.c.status.in_(UNFINISHED),
    )
    return ~sa.exists(waiting)
