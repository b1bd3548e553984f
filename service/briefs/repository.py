"""Queries for briefs and their citations. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.briefs.models import Brief, BriefEvidence
from service.evidence.models import Evidence
from service.pagination import PageParams, RowPage, fetch_row_page
from service.reads import ReadRow, read_one, read_rows, rows_in, rows_of

BRIEFS: sa.Table = Brief.__table__
CITATIONS: sa.Table = BriefEvidence.__table__
_CITED = sa.select(CITATIONS.c.brief_id, CITATIONS.c.evidence_id).order_by(
    CITATIONS.c.brief_id, CITATIONS.c.position
)
_PUBLISHED = sa.select(
    BRIEFS.c.lineage_id, BRIEFS.c.id, BRIEFS.c.version, BRIEFS.c.change, BRIEFS.c.status, BRIEFS.c.product_id
).where(BRIEFS.c.published_at.is_not(None))


async def get(session: AsyncSession, brief_id: uuid.UUID, *, for_update: bool = False) -> Brief | None:
    stmt = select(Brief).where(Brief.id == brief_id)
    if for_update:
        # PostgreSQL locks the row; on SQLite the locking read takes the write lock (service/db.py).
        # Either way the next writer waits, then re-reads what this one committed.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def read_row(session: AsyncSession, brief_id: uuid.UUID) -> ReadRow | None:
    """One version as a named row (reads; see service/reads.py)."""
    stmt = rows_of(Brief).where(col(Brief.id) == brief_id)
    return await read_one(session, stmt)


async def list_briefs(
    session: AsyncSession,
    params: PageParams,
    *,
    statuses: Sequence[str] | None,
    product_id: uuid.UUID | None = None,
    status: str | None = None,
    locale: str | None = None,
) -> RowPage[ReadRow]:
    """A page of versions as named rows (reads; see service/reads.py)."""
    stmt = rows_of(Brief)
    if statuses is not None:
        stmt = stmt.where(col(Brief.status).in_(statuses))
    if product_id is not None:
        stmt = stmt.where(col(Brief.product_id) == product_id)
    if status is not None:
        stmt = stmt.where(col(Brief.status) == status)
    if locale is not None:
        stmt = stmt.where(col(Brief.locale) == locale)
    return await fetch_row_page(session, stmt, Brief, params)


async def versions(session: AsyncSession, lineage_ids: Iterable[uuid.UUID]) -> list[Brief]:
    ids = set(lineage_ids)
    if not ids:
        return []
    stmt = (
        select(Brief)
        .where(col(Brief.lineage_id).in_(ids))
        .order_by(col(Brief.lineage_id), col(Brief.version))
    )
    return list((await session.execute(stmt)).scalars())


async def by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, sa.Row[Any]]:
    """Versions as named rows (reads; see service/reads.py)."""
    return {b.id: b for b in await rows_in(session, rows_of(Brief), BRIEFS.c.id, ids)}


async def story_rows(session: AsyncSession, ids: Iterable[uuid.UUID]) -> list[sa.Row[Any]]:
    """(id, value_proposition, differentiators, customer_next_action) of versions: their story."""
    wanted = set(ids)
    if not wanted:
        return []
    stmt = sa.select(
        col(Brief.id),
        col(Brief.value_proposition),
        col(Brief.differentiators),
        col(Brief.customer_next_action),
    ).where(col(Brief.id).in_(wanted))
    return list((await session.execute(stmt)).all())


async def cited_claims(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The claims of the evidence each version cites, in order (one query)."""
    wanted = set(ids)
    if not wanted:
        return {}
    stmt = (
        sa.select(col(BriefEvidence.brief_id), col(Evidence.claim))
        .join(Evidence, col(Evidence.id) == BriefEvidence.evidence_id)
        .where(col(BriefEvidence.brief_id).in_(wanted))
        .order_by(col(BriefEvidence.brief_id), col(BriefEvidence.position))
    )
    result: dict[uuid.UUID, list[str]] = {}
    for brief_id, claim in (await session.execute(stmt)).all():
        result.setdefault(brief_id, []).append(claim)
    return result


async def published_for(session: AsyncSession, product_id: uuid.UUID, locale: str) -> Brief | None:
    stmt = select(Brief).where(
        Brief.product_id == product_id, Brief.locale == locale, Brief.status == "published"
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def citations(
    session: AsyncSession, brief_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Evidence ids each brief cites, in order (one query for any number of briefs)."""
    result: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in brief_ids}
    for brief_id, evidence_id in await rows_in(session, _CITED, CITATIONS.c.brief_id, result):
        result[brief_id].append(evidence_id)
    return result


async def set_citations(
    session: AsyncSession, brief_id: uuid.UUID, evidence_ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(sa.delete(BriefEvidence).where(col(BriefEvidence.brief_id) == brief_id))
    session.add_all(
        BriefEvidence(brief_id=brief_id, evidence_id=evidence_id, position=position)
        for position, evidence_id in enumerate(evidence_ids)
    )
    await session.flush()


# (lineage_id, id, version, change, status, product_id)
PublishedVersion: TypeAlias = "sa.Row[uuid.UUID, uuid.UUID, int, str | None, str, uuid.UUID]"


async def published_versions(
    session: AsyncSession, lineage_ids: Iterable[uuid.UUID] | None
) -> list[PublishedVersion]:
    """(lineage_id, id, version, change, status, product_id) of every version ever published
    (all lineages when None): enough to tell the current version and its last substantive one."""
    if lineage_ids is not None:
        return await rows_in(session, _PUBLISHED, BRIEFS.c.lineage_id, lineage_ids)
    return await read_rows(session, _PUBLISHED)


async def published_for_product(session: AsyncSession, product_id: uuid.UUID) -> list[Brief]:
    """The product's published versions (one per locale), the oldest lineage first."""
    stmt = (
        select(Brief)
        .where(Brief.product_id == product_id, Brief.status == "published")
        .order_by(col(Brief.created_at), col(Brief.id))
    )
    return list((await session.execute(stmt)).scalars())


async def citing(session: AsyncSession, evidence_id: uuid.UUID) -> list[Brief]:
    """Every brief version citing this evidence item, locked."""
    stmt = (
        select(Brief)
        .join(BriefEvidence, col(BriefEvidence.brief_id) == col(Brief.id))
        .where(col(BriefEvidence.evidence_id) == evidence_id)
        .order_by(col(Brief.lineage_id), col(Brief.version))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars())


async def scheduled_due(session: AsyncSession, *, now: datetime, limit: int) -> list[Brief]:
    """Scheduled versions whose `publish_at` has come, earliest first, locked; rows another
    worker holds are skipped (it is publishing them)."""
    stmt = (
        select(Brief)
        .where(col(Brief.status) == "scheduled", col(Brief.publish_at) <= now)
        .order_by(col(Brief.publish_at), col(Brief.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(stmt)).scalars())
