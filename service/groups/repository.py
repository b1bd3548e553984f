"""Queries for directory groups and their members. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from service.groups.models import DirectoryGroup, DirectoryGroupMember


async def get_group(session: AsyncSession, group_id: uuid.UUID) -> DirectoryGroup | None:
    return await session.get(DirectoryGroup, group_id)


async def group_named(session: AsyncSession, display_name: str) -> DirectoryGroup | None:
    stmt = select(DirectoryGroup).where(sa.func.lower(DirectoryGroup.display_name) == display_name.lower())
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


def _matching(display_name: str | None, external_id: str | None) -> SelectOfScalar[DirectoryGroup]:
    stmt = select(DirectoryGroup)
    if display_name is not None:
        stmt = stmt.where(sa.func.lower(DirectoryGroup.display_name) == display_name.lower())
    if external_id is not None:
        stmt = stmt.where(DirectoryGroup.external_id == external_id)
    return stmt


async def count_groups(session: AsyncSession, *, display_name: str | None, external_id: str | None) -> int:
    matching = _matching(display_name, external_id).subquery()
    return (await session.execute(sa.select(sa.func.count()).select_from(matching))).scalar_one()


async def groups_at(
    session: AsyncSession, *, offset: int, limit: int, display_name: str | None, external_id: str | None
) -> list[DirectoryGroup]:
    """Groups in a stable order (created_at, id), from a 0-based position."""
    stmt = (
        _matching(display_name, external_id)
        .order_by(col(DirectoryGroup.created_at), col(DirectoryGroup.id))
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def members_of(
    session: AsyncSession, group_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[DirectoryGroupMember]]:
    """Each group's members, first added first; one query."""
    wanted = set(group_ids)
    found: dict[uuid.UUID, list[DirectoryGroupMember]] = {g: [] for g in wanted}
    if not wanted:
        return found
    stmt = (
        select(DirectoryGroupMember)
        .where(col(DirectoryGroupMember.group_id).in_(wanted))
        .order_by(col(DirectoryGroupMember.added_at), col(DirectoryGroupMember.person_id))
    )
    for row in (await session.execute(stmt)).scalars():
        found[row.group_id].append(row)
    return found


async def memberships_of(
    session: AsyncSession, person_id: uuid.UUID
) -> list[tuple[DirectoryGroup, DirectoryGroupMember]]:
    """A person's groups, most recently added first."""
    stmt = (
        select(DirectoryGroup, DirectoryGroupMember)
        .join(DirectoryGroupMember, col(DirectoryGroupMember.group_id) == col(DirectoryGroup.id))
        .where(DirectoryGroupMember.person_id == person_id)
        .order_by(col(DirectoryGroupMember.added_at).desc(), col(DirectoryGroup.id))
    )
    return [(g, m) for g, m in (await session.execute(stmt)).all()]


async def remove_members(session: AsyncSession, group_id: uuid.UUID, person_ids: Iterable[uuid.UUID]) -> None:
    wanted = set(person_ids)
    if wanted:
        await session.execute(
            sa.delete(DirectoryGroupMember).where(
                col(DirectoryGroupMember.group_id) == group_id,
                col(DirectoryGroupMember.person_id).in_(wanted),
            )
        )


async def forget_person(session: AsyncSession, person_id: uuid.UUID) -> None:
    await session.execute(
        sa.delete(DirectoryGroupMember).where(col(DirectoryGroupMember.person_id) == person_id)
    )


async def delete_group(session: AsyncSession, group: DirectoryGroup) -> None:
    await session.execute(
        sa.delete(DirectoryGroupMember).where(col(DirectoryGroupMember.group_id) == group.id)
    )
    await session.delete(group)
    await session.flush()
