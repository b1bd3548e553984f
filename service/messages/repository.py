"""Queries for messages and their citations. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from service.messages.models import Message, MessageEvidence
from service.pagination import PageParams, RowPage, fetch_row_page
from service.products.models import Product
from service.reads import ReadRow, read_one, rows_in, rows_of

_CITATIONS: sa.Table = MessageEvidence.__table__
_CITED = sa.select(_CITATIONS.c.message_id, _CITATIONS.c.evidence_id).order_by(
    _CITATIONS.c.message_id, _CITATIONS.c.position
)


async def get(session: AsyncSession, message_id: uuid.UUID) -> Message | None:
    return await session.get(Message, message_id)


async def read_row(session: AsyncSession, message_id: uuid.UUID) -> ReadRow | None:
    """One message as a named row (reads; see service/reads.py)."""
    stmt = rows_of(Message).where(col(Message.id) == message_id)
    return await read_one(session, stmt)


async def get_for_update(session: AsyncSession, message_id: uuid.UUID) -> Message | None:
    """The row, locked until commit on PostgreSQL: a concurrent writer waits, then sees this
    write's version (and fails its If-Match) instead of overwriting it."""
    stmt = (
        select(Message)
        .where(Message.id == message_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _audience_clause(audience: str) -> sa.ColumnElement[bool]:
    # Audiences are slugs or "all" (no quotes, `%` or `_`), stored as a JSON array of strings:
    # the quoted key appears in the JSON text exactly when the array holds it, on both databases.
    text = sa.cast(col(Message.audiences), sa.Text)
    return sa.or_(text.like(f'%"{audience}"%'), text.like('%"all"%'))


async def list_messages(
    session: AsyncSession,
    params: PageParams,
    *,
    statuses: Sequence[str] | None = None,
    kind: str | None = None,
    product_id: uuid.UUID | None = None,
    audience: str | None = None,
    locale: str | None = None,
    brief_id: uuid.UUID | None = None,
) -> RowPage[ReadRow]:
    """A page of messages as named rows (reads; see service/reads.py)."""
    stmt = rows_of(Message)
    if statuses is not None:
        stmt = stmt.where(col(Message.status).in_(statuses))
    if kind is not None:
        stmt = stmt.where(col(Message.kind) == kind)
    if product_id is not None:
        stmt = stmt.where(col(Message.product_id) == product_id)
    if audience is not None:
        stmt = stmt.where(_audience_clause(audience))
    if locale is not None:
        stmt = stmt.where(col(Message.locale) == locale)
    if brief_id is not None:
        stmt = stmt.where(col(Message.brief_id) == brief_id)
    return await fetch_row_page(session, stmt, Message, params)


async def by_brief_lineage(
    session: AsyncSession, lineage_ids: Sequence[uuid.UUID], *, published_only: bool
) -> list[sa.Row[Any]]:
    """Messages speaking for any of these briefs (any version), oldest first: one query, named rows."""
    if not lineage_ids:
        return []
    stmt = rows_of(Message).where(col(Message.brief_lineage_id).in_(set(lineage_ids)))
    if published_only:
        stmt = stmt.where(col(Message.status) == "published")
    stmt = stmt.order_by(col(Message.created_at), col(Message.id))
    return list((await session.execute(stmt)).all())


async def evidence_ids(
    session: AsyncSession, message_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The evidence each message cites, in the order it cites them (one query for a page)."""
    result: dict[uuid.UUID, list[uuid.UUID]] = {}
    for message_id, evidence_id in await rows_in(session, _CITED, _CITATIONS.c.message_id, message_ids):
        result.setdefault(message_id, []).append(evidence_id)
    return result


async def add_citations(
    session: AsyncSession, message_id: uuid.UUID, evidence_ids: Sequence[uuid.UUID]
) -> None:
    """Cite the items in the order given (the message row must be flushed already)."""
    session.add_all(
        MessageEvidence(message_id=message_id, evidence_id=evidence_id, position=position)
        for position, evidence_id in enumerate(evidence_ids)
    )


async def replace_citations(
    session: AsyncSession, message_id: uuid.UUID, evidence_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(sa.delete(MessageEvidence).where(col(MessageEvidence.message_id) == message_id))
    await add_citations(session, message_id, evidence_ids)


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> list[sa.Row[Any]]:
    """Messages as named rows (reads; see service/reads.py)."""
    wanted = set(ids)
    if not wanted:
        return []
    return list((await session.execute(rows_of(Message).where(col(Message.id).in_(wanted)))).all())


async def titles(session: AsyncSession, ids: Iterable[uuid.UUID]) -> list[sa.Row[uuid.UUID, str, str]]:
    """(id, title, status) of these messages: what a feed names an announcement by."""
    wanted = set(ids)
    if not wanted:
        return []
    stmt = sa.select(col(Message.id), col(Message.title), col(Message.status)).where(
        col(Message.id).in_(wanted)
    )
    return list((await session.execute(stmt)).all())


async def published_in_lineage(session: AsyncSession, lineage_id: uuid.UUID) -> Message | None:
    """The lineage's published version, locked (one publish at a time per lineage)."""
    stmt = (
        select(Message)
        .where(col(Message.lineage_id) == lineage_id, col(Message.status) == "published")
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def versions(session: AsyncSession, lineage_id: uuid.UUID) -> list[Message]:
    """Every version of a message, oldest first."""
    stmt = select(Message).where(col(Message.lineage_id) == lineage_id).order_by(col(Message.version))
    return list((await session.execute(stmt)).scalars())


async def version_rows(session: AsyncSession, lineage_ids: Iterable[uuid.UUID]) -> list[sa.Row[Any]]:
    """Every version of these messages as named rows, by lineage, oldest first (reads; one query)."""
    wanted = set(lineage_ids)
    if not wanted:
        return []
    stmt = (
        rows_of(Message)
        .where(col(Message.lineage_id).in_(wanted))
        .order_by(col(Message.lineage_id), col(Message.version))
    )
    return list((await session.execute(stmt)).all())


async def product_key(session: AsyncSession, product_id: uuid.UUID) -> str | None:
    key: str | None = (
        await session.execute(sa.select(col(Product.key)).where(col(Product.id) == product_id))
    ).scalar_one_or_none()
    return key


async def due(session: AsyncSession, *, status: str, at: str, now: datetime, limit: int) -> list[Message]:
    """Messages in `status` whose time `at` (publish_at, expires_at) has come, oldest first,
    locked; rows another worker holds are skipped (it is handling them)."""
    moment = getattr(Message, at)
    stmt = (
        select(Message)
        .where(col(Message.status) == status, col(moment).is_not(None), col(moment) <= now)
        .order_by(col(moment), col(Message.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars())


async def published_version_ids(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """For each of these message ids, its lineage's published version's id (one query)."""
    wanted = set(ids)
    if not wanted:
        return {}
    given = aliased(Message)
    stmt = (
        sa.select(col(given.id), col(Message.id))
        .join(Message, col(Message.lineage_id) == col(given.lineage_id))
        .where(col(given.id).in_(wanted), col(Message.status) == "published")
    )
    return {asked: current for asked, current in (await session.execute(stmt)).all()}


async def citing(session: AsyncSession, evidence_id: uuid.UUID) -> list[Message]:
    """Every message version citing this evidence item, locked."""
    stmt = (
        select(Message)
        .join(MessageEvidence, col(MessageEvidence.message_id) == col(Message.id))
        .where(col(MessageEvidence.evidence_id) == evidence_id)
        .order_by(col(Message.lineage_id), col(Message.version))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars())
