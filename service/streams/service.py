"""Live streams: who may open which, and the frames each one sends.

A stream reads the outbox by `seq` (commit order, service/events/sequencer.py) in bounded
batches, after the last `seq` it looked at; between batches it waits on the process's hub
(service/events/hub.py), which holds one number for everyone. So a stalled client holds its
own cursor and at most one batch, never a queue that grows with every event.

Frames (https://html.spec.whatwg.org/multipage/server-sent-events.html):
- `retry: <ms>` and `id: <seq>` first: the reconnection delay a client should use, and where
  the stream starts (so a client that reconnects before any event arrived misses nothing);
- `id: <seq>`, `event: <type>`, `data: <envelope JSON>` per event;
- `id: <newest seq>`, `event: reset`, `data: {"reason": ...}` when `Last-Event-ID` cannot be
  resumed (older than the oldest kept event, not a number, or ahead of the newest): the client
  missed events and should re-read what it shows; the stream goes on from now;
- `: keep-alive` comments when nothing was sent for a while, with `id: <seq>` when events the
  stream skipped (not the caller's) moved its cursor on, so a reconnection does not re-read them
  (and such an `id:` as the last frame of a stream that ends).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.principal import Principal
from service.campaigns import service as campaigns_service
from service.config import Settings
from service.errors import Forbidden
from service.events import repository as events_repository
from service.events.catalogue import EventType
from service.events.hub import EventHub
from service.events.models import OutboxEvent
from service.events.service import envelope
from service.feedback import service as feedback_service
from service.logging import get_logger
from service.people import service as people_service
from service.pitch import service as pitch_service
from service.streams.relevance import PERSON_TYPES, PersonContext, relevant

log = get_logger("cuecard.streams")

BATCH = 200  # events read per query: what one stream holds at most
# A person's context (their campaigns, products, department) is re-read this often, and when
# a campaign they may have just joined starts.
CONTEXT_REFRESH_SECONDS = 60.0
# How many of the person's filed feedback items their stream follows (the feed's newest).
FOLLOWED_FEEDBACK = 500
_MAX_ID_DIGITS = 19  # a bigint
KEEP_ALIVE = b": keep-alive\n"


@dataclass(frozen=True)
class Plan:
    """What one stream reads from the outbox (`types`, `product_key`: filtered in SQL) and keeps."""

    types: Collection[str] | None
    product_key: str | None
    keep: Callable[[OutboxEvent], Awaitable[bool]]


async def _keep_all(_row: OutboxEvent) -> bool:
    return True


async def _person_context(
    sessionmaker: async_sessionmaker[AsyncSession], principal: Principal
) -> PersonContext:
    async with sessionmaker() as session:
        me = await people_service.get_me(session, principal)
        campaigns = await campaigns_service.my_active_campaigns(session, principal)
        filed = await feedback_service.my_filed_ids(session, principal, limit=FOLLOWED_FEEDBACK)
    return PersonContext(
        person_id=me.id,
        department_key=me.department_key,
        campaign_ids=frozenset(campaigns),
        product_keys=frozenset(campaigns.values()),
        filed_feedback_ids=frozenset(filed),
    )


class _PersonFilter:
    """`relevant` with the person's context, reloaded every CONTEXT_REFRESH_SECONDS and when one
    of their campaigns may have started (activation enrolls its audience)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], principal: Principal, context: PersonContext
    ) -> None:
        self.sessionmaker = sessionmaker
        self.principal = principal
        self.context = context
        self.loaded_at = time.monotonic()

    async def keep(self, row: OutboxEvent) -> bool:
        stale = time.monotonic() - self.loaded_at >= CONTEXT_REFRESH_SECONDS
        if stale or row.type == EventType.CAMPAIGN_ACTIVATED:
            self.context = await _person_context(self.sessionmaker, self.principal)
            self.loaded_at = time.monotonic()
        return relevant(row.type, row.data, row.product_key, self.context)


async def person_plan(sessionmaker: async_sessionmaker[AsyncSession], principal: Principal) -> Plan:
    """The calling person's stream (403 for service accounts: they have no feed)."""
    if not principal.is_person or principal.person_id is None:
        raise Forbidden("The event stream of /me belongs to a person; service accounts have none.")
    person = _PersonFilter(sessionmaker, principal, await _person_context(sessionmaker, principal))
    return Plan(types=PERSON_TYPES, product_key=None, keep=person.keep)


async def pitch_plan(
    sessionmaker: async_sessionmaker[AsyncSession], principal: Principal, product_key: str
) -> Plan:
    """`pitch.changed` of one product, for whoever may read its pitch (403; 404 for no product)."""
    async with sessionmaker() as session:
        await pitch_service.watchable_product(session, principal, product_key)
    return Plan(types=(EventType.PITCH_CHANGED,), product_key=product_key, keep=_keep_all)


async def person_stream(
    hub: EventHub, settings: Settings, principal: Principal, last_event_id: str | None
) -> AsyncIterator[bytes]:
    """Opens the calling person's stream: refusals (401/403) happen here, before any byte."""
    plan = await person_plan(hub.sessionmaker, principal)
    return frames(hub, settings, plan, await start_at(hub, last_event_id))


async def pitch_stream(
    hub: EventHub, settings: Settings, principal: Principal, product_key: str, last_event_id: str | None
) -> AsyncIterator[bytes]:
    """Opens a product's pitch stream: refusals (403, 404) happen here, before any byte."""
    plan = await pitch_plan(hub.sessionmaker, principal, product_key)
    return frames(hub, settings, plan, await start_at(hub, last_event_id))


def _frame(*fields: tuple[str, str]) -> bytes:
    return ("".join(f"{name}: {value}\n" for name, value in fields) + "\n").encode()


def _event_frame(row: OutboxEvent) -> bytes:
    data = json.dumps(envelope(row), ensure_ascii=False, separators=(",", ":"))
    return _frame(("id", str(row.seq)), ("event", row.type), ("data", data))


def _parse_last_event_id(value: str) -> int | None:
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > _MAX_ID_DIGITS:
        return None
    return int(value)


@dataclass(frozen=True)
class Start:
    """Where a stream starts: after `cursor`; `reset` says why `Last-Event-ID` was not honoured."""

    cursor: int
    reset: str | None = None


async def start_at(hub: EventHub, last_event_id: str | None) -> Start:
    """After `Last-Event-ID` when the events after it are all still kept; else from now."""
    async with hub.sessionmaker() as session:
        newest = await events_repository.newest_seq(session)
        oldest = await events_repository.oldest_seq(session)
    hub.published(newest)
    if last_event_id is None:
        return Start(newest)
    seen = _parse_last_event_id(last_event_id)
    if seen is None:
        return Start(newest, reset="unparseable")
    if seen > newest:
        return Start(newest, reset="unknown")
    if oldest is not None and seen < oldest - 1:
        return Start(newest, reset="expired")  # events after it were pruned: a gap
    return Start(seen)


async def frames(hub: EventHub, settings: Settings, plan: Plan, start: Start) -> AsyncIterator[bytes]:
    """The stream's bytes, until the hub closes or the stream has run its maximum time (the
    client reconnects with Last-Event-ID). A client that goes away cancels the iteration."""
    heartbeat = settings.sse_heartbeat_seconds
    ends_at = time.monotonic() + settings.sse_max_stream_seconds
    cursor = start.cursor  # every seq up to here was looked at
    told = cursor  # the client's Last-Event-ID as of what we sent
    # The client learns at once where "now" was: a reconnection before any event arrives
    # resumes from there (not from a later "now", which would skip what came in between).
    yield _frame(("retry", str(settings.sse_retry_milliseconds)), ("id", str(cursor)))
    if start.reset is not None:
        yield _frame(("id", str(cursor)), ("event", "reset"), ("data", json.dumps({"reason": start.reset})))
    written = time.monotonic()
    while not hub.closing:
        upto = hub.newest
        if upto > cursor:
            try:
                async with hub.sessionmaker() as session:
                    batch = await events_repository.events_after(
                        session,
                        cursor,
                        upto=upto,
                        limit=BATCH,
                        types=plan.types,
                        product_key=plan.product_key,
                    )
                kept = [row for row in batch if await plan.keep(row)]
            except SQLAlchemyError as exc:
                # The database is unreachable: end the stream; the client reconnects with
                # Last-Event-ID after `retry:` and resumes where this one stopped.
                log.warning("event_stream_read_failed", error=type(exc).__name__)
                return
            for row in kept:
                yield _event_frame(row)
                told = row.seq or told
                written = time.monotonic()
            if len(batch) == BATCH:
                cursor = batch[-1].seq or cursor
                continue  # more to read before waiting
            cursor = upto
        now = time.monotonic()
        if now >= ends_at:
            break
        idle = now - written
        if idle >= heartbeat:
            yield KEEP_ALIVE + (_frame(("id", str(cursor))) if cursor > told else b"\n")
            told = cursor
            written = now
            continue
        await hub.wait(cursor, min(heartbeat - idle, ends_at - now))
    if cursor > told:
        yield _frame(("id", str(cursor)))  # where to resume: past what this stream skipped
