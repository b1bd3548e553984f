"""Queries for evidence. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.evidence.models import Evidence
from service.pagination import PageParams, RowPage, fetch_page


async def get(session: AsyncSession, evidence_id: uuid.UUID, *, for_update: bool = False) -> Evidence | None:
    if for_update:  # a row lock on PostgreSQL, the write lock on SQLite (service/db.py)
        stmt = select(Evidence).where(Evidence.id == evidence_id).with_for_update()
        return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()
    return await session.get(Evidence, evidence_id)


async def by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Evidence]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.execute(select(Evidence).where(col(Evidence.id).in_(wanted)))).scalars()
    return {e.id: e for e in rows}


async def list_evidence(
    session: AsyncSession, params: PageParams, *, expired_before: object = None
) -> RowPage[Evidence]:
    stmt = select(Evidence)
    if expired_before is not None:
        stmt = stmt.where(col(Evidence.verify_by) < expired_before)
    return await fetch_page(session, stmt, Evidence, params)
