"""Queries for evidence. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.briefs.models import Brief, BriefEvidence
from service.evidence.models import Evidence
from service.messages.models import Message, MessageEvidence
from service.pagination import PageParams, RowPage, fetch_row_page
from service.reads import ReadRow, read_one, rows_in, rows_of

EVIDENCE: sa.Table = Evidence.__table__


def published_or_owned(owner_id: uuid.UUID | None) -> sa.ColumnElement[bool]:
    """Evidence cited by a published brief or message, or owned by `owner_id`: one SQL
    condition (two indexed EXISTS probes), so lists filter and page in the database."""
    cited_by_brief = (
        sa.select(1)
        .select_from(BriefEvidence)
        .join(Brief, col(Brief.id) == col(BriefEvidence.brief_id))
        .where(col(BriefEvidence.evidence_id) == col(Evidence.id), col(Brief.status) == "published")
        .exists()
    )
    cited_by_message = (
        sa.select(1)
        .select_from(MessageEvidence)
        .join(Message, col(Message.id) == col(MessageEvidence.message_id))
        .where(col(MessageEvidence.evidence_id) == col(Evidence.id), col(Message.status) == "published")
        .exists()
    )
    visible = sa.or_(cited_by_brief, cited_by_message)
    if owner_id is not None:
        visible = sa.or_(col(Evidence.owner_id) == owner_id, visible)
    return visible


async def get(
    session: AsyncSession,
    evidence_id: uuid.UUID,
    *,
    visible: sa.ColumnElement[bool] | None = None,
    for_update: bool = False,
) -> Evidence | None:
    if visible is None and not for_update:
        return await session.get(Evidence, evidence_id)
    stmt = select(Evidence).where(col(Evidence.id) == evidence_id)
    if visible is not None:
        stmt = stmt.where(visible)
    if for_update:  # a row lock on PostgreSQL, the write lock on SQLite (service/db.py)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def read_row(
    session: AsyncSession, evidence_id: uuid.UUID, *, visible: sa.ColumnElement[bool] | None = None
) -> ReadRow | None:
    """One item as a named row (reads; see service/reads.py)."""
    stmt = rows_of(Evidence).where(col(Evidence.id) == evidence_id)
    if visible is not None:
        stmt = stmt.where(visible)
    return await read_one(session, stmt)


async def by_ids(
    session: AsyncSession, ids: Iterable[uuid.UUID], *, visible: sa.ColumnElement[bool] | None = None
) -> dict[uuid.UUID, sa.Row[Any]]:
    """Items as named rows (reads; see service/reads.py)."""
    stmt = rows_of(Evidence) if visible is None else rows_of(Evidence).where(visible)
    return {e.id: e for e in await rows_in(session, stmt, EVIDENCE.c.id, ids)}


async def list_evidence(
    session: AsyncSession,
    params: PageParams,
    *,
    expired_before: object = None,
    visible: sa.ColumnElement[bool] | None = None,
) -> RowPage[ReadRow]:
    """A page of items as named rows (reads; see service/reads.py)."""
    stmt = rows_of(Evidence)
    if expired_before is not None:
        stmt = stmt.where(col(Evidence.verify_by) < expired_before)
    if visible is not None:
        stmt = stmt.where(visible)
    return await fetch_row_page(session, stmt, Evidence, params)
