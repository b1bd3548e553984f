"""The sequencer: numbers committed events in the order readers follow (`seq`).

An event's `position` is taken at insert, so on PostgreSQL a transaction that began earlier
can commit a smaller position after a larger one was read: a stream resuming "after position
N", or a fan-out cursor, would skip it for good. The sequencer sees only committed events, and
numbers them one batch at a time, continuing from the largest `seq` given: a `seq` is never
given below one a reader may already have seen. Streams resume by `seq` (`Last-Event-ID`),
and what reacts to events in the worker (the webhooks' fan-out) runs in the same transaction
as the numbering, so each event is handed on exactly once.

One sequencer at a time: on PostgreSQL a transaction-level advisory lock (a replica that does
not get it leaves the batch to the one that did); on SQLite the database's write lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import is_postgres, use_case
from service.events.models import OutboxEvent

# The PostgreSQL channel a replica's streams wake on: its payload is the newest `seq`.
CHANNEL = "cuecard_events"
# pg_try_advisory_xact_lock's key: any constant that no other lock of ours uses ("cueseq").
_LOCK_KEY = 0x637565736571

Handler = Callable[[AsyncSession, list[OutboxEvent]], Awaitable[None]]
_handlers: list[Handler] = []


def on_sequenced(handler: Handler) -> None:
    """Runs `handler` on every batch, in the sequencing transaction (idempotent registration).

    A handler's writes commit with the numbering or not at all: the events are handed to it
    exactly once. It must not commit, and should not make network calls (the lock is held)."""
    if handler not in _handlers:
        _handlers.append(handler)


async def _take_turn(session: AsyncSession) -> bool:
    if is_postgres(session):
        return bool(await session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(_LOCK_KEY))))
    # SQLite: begin the write transaction now (what `FOR UPDATE` does there, see service.db),
    # so the largest seq read below is still the largest when we write.
    await session.execute(sa.select(OutboxEvent.__table__.c.position).limit(1).with_for_update())
    return True


async def sequence(sessionmaker: async_sessionmaker[AsyncSession], *, limit: int = 500) -> int:
    """Numbers up to `limit` committed events and hands them on; returns the newest `seq` it
    gave (0 when there was nothing to number, or another replica was numbering)."""
    async with sessionmaker() as session, use_case(session):
        if not await _take_turn(session):
            return 0
        pending = list(
            (
                await session.execute(
                    sa.select(OutboxEvent)
                    .where(OutboxEvent.seq.is_(None))  # type: ignore[union-attr]  # a column here
                    .order_by(OutboxEvent.position)  # type: ignore[arg-type]  # a column here
                    .limit(limit)
                )
            ).scalars()
        )
        if not pending:
            return 0
        newest = await session.scalar(sa.select(sa.func.max(OutboxEvent.seq))) or 0
        for event in pending:
            newest += 1
            event.seq = newest
        await session.flush()
        for handler in _handlers:
            await handler(session, pending)
        if is_postgres(session):
            # Sent at commit, and only if it commits: other replicas' streams wake on it.
            await session.execute(sa.select(sa.func.pg_notify(CHANNEL, str(newest))))
        return newest
