"""Reading the outbox in commit order (`seq`): what live streams and retention need."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.events.models import OutboxEvent

_T = OutboxEvent.__table__.c


async def newest_seq(session: AsyncSession) -> int:
    """The largest `seq` given so far (0 when none)."""
    return int(await session.scalar(sa.select(sa.func.max(_T.seq))) or 0)


async def oldest_seq(session: AsyncSession) -> int | None:
    """The smallest `seq` still kept (None when no sequenced event is)."""
    value = await session.scalar(sa.select(sa.func.min(_T.seq)))
    return None if value is None else int(value)


async def events_after(
    session: AsyncSession,
    after: int,
    *,
    upto: int,
    limit: int,
    types: Collection[str] | None = None,
    product_key: str | None = None,
) -> list[OutboxEvent]:
    """Sequenced events with `after < seq <= upto`, in `seq` order, at most `limit` of them."""
    stmt = sa.select(OutboxEvent).where(_T.seq > after, _T.seq <= upto).order_by(_T.seq).limit(limit)
    if types is not None:
        stmt = stmt.where(_T.type.in_(list(types)))
    if product_key is not None:
        stmt = stmt.where(_T.product_key == product_key)
    return list((await session.execute(stmt)).scalars())


async def prune_before(
    session: AsyncSession,
    cutoff: datetime,
    *,
    limit: int | None = None,
    only_if: Collection[sa.ColumnElement[bool]] = (),
) -> int:
    """Deletes sequenced events older than `cutoff` (at most `limit`, oldest first), always
    keeping the newest one: the sequencer continues from the largest `seq` kept, so it must
    never be pruned (a `seq` given twice would let a stream resume past an event it never
    sent). Events not yet sequenced are kept whatever their age: nothing has seen them."""
    newest = await newest_seq(session)
    old = (
        sa.select(_T.position)
        .where(_T.seq.is_not(None), _T.seq < newest, _T.timestamp < cutoff, *only_if)
        .order_by(_T.seq)
        .limit(limit)
    )
    result = await session.execute(sa.delete(OutboxEvent.__table__).where(_T.position.in_(old)))
    return int(getattr(result, "rowcount", 0) or 0)
