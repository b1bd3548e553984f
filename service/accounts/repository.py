"""Queries and set-based writes for accounts. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.accounts.models import Account
from service.db import is_postgres
from service.pagination import PageParams, RowPage, fetch_page
from service.reads import ReadRow, rows_in, rows_of

ACCOUNTS: sa.Table = Account.__table__
KEY_CHUNK = 1000


async def get(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    return await session.get(Account, account_id)


async def get_for_update(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    stmt = select(Account).where(Account.id == account_id).execution_options(populate_existing=True)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Account]:
    """The accounts, locked until commit on PostgreSQL (in id order: two merges cannot deadlock)."""
    stmt = (
        select(Account)
        .where(col(Account.id).in_(sorted(set(ids))))
        .order_by(col(Account.id))
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return {a.id: a for a in (await session.execute(stmt)).scalars()}


async def by_key_or_name(session: AsyncSession, *, key: str | None, name: str | None) -> list[Account]:
    """Accounts holding this key or this name (to name which one a write would collide with)."""
    conditions = []
    if key is not None:
        conditions.append(col(Account.key) == key)
    if name is not None:
        conditions.append(col(Account.name) == name)
    if not conditions:
        return []
    return list((await session.execute(select(Account).where(sa.or_(*conditions)))).scalars())


async def list_accounts(
    session: AsyncSession, params: PageParams, *, segment: str | None, include_merged: bool
) -> RowPage[Account]:
    stmt = select(Account)
    if segment is not None:
        stmt = stmt.where(col(Account.segment) == segment)
    if not include_merged:
        stmt = stmt.where(col(Account.merged_into_id).is_(None))
    return await fetch_page(session, stmt, Account, params)


async def by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ReadRow]:
    """Accounts as read rows (a GraphQL loader's read: one array-bound statement)."""
    return {row.id: row for row in await rows_in(session, rows_of(Account), Account.__table__.c.id, ids)}


# --- which account a customer name stands for -------------------------------------------------
#
# One rule, in two forms: `matching` (SQL, one value: the pitch's `?account=` lead) and
# `by_keys_or_names` with service._resolve (set-based: feedback ingest names many at once).
# A value names the account whose key it is, else the one whose exact name it is (oldest first;
# names are unique, so there is at most one); a merged account stands for its survivor
# (`merged_into_id` is always the final survivor: a merge repoints what the source absorbed).
# tests/accounts/test_accounts.py holds the two forms to the same answers.


@dataclass(frozen=True, slots=True)
class Known:
    """What matching needs of a stored account."""

    id: uuid.UUID
    key: str
    name: str
    merged_into_id: uuid.UUID | None

    @property
    def survivor(self) -> uuid.UUID:
        return self.merged_into_id or self.id


async def by_keys_or_names(session: AsyncSession, values: Sequence[str]) -> list[Known]:
    """Every account whose key or name is one of `values` (one query per 1,000 values), oldest
    first: service._resolve then prefers the key, as `matching` does."""
    c = ACCOUNTS.c
    found: list[Known] = []
    for start in range(0, len(values), KEY_CHUNK):
        part = list(values[start : start + KEY_CHUNK])
        stmt = (
            sa.select(c.id, c.key, c.name, c.merged_into_id)
            .where(sa.or_(c.key.in_(part), c.name.in_(part)))
            .order_by(c.created_at, c.id)
        )
        found.extend(Known(*row) for row in (await session.execute(stmt)).all())
    return found


def matching(value: str) -> sa.ScalarSelect[uuid.UUID]:
    """The survivor of the account `value` names, as a scalar subquery (NULL when none): to be
    used inside another statement (service.pitch), which stays one statement."""
    asked = ACCOUNTS.alias("asked")
    survivor: sa.ColumnElement[uuid.UUID] = sa.func.coalesce(asked.c.merged_into_id, asked.c.id)
    return (
        sa.select(survivor)
        .where(sa.or_(asked.c.key == value, asked.c.name == value))
        .order_by((asked.c.key == value).desc(), asked.c.created_at, asked.c.id)
        .limit(1)
        .scalar_subquery()
    )


def standing_for(survivor: sa.ColumnElement[uuid.UUID]) -> sa.Select[tuple[uuid.UUID]]:
    """The ids of an account and of those merged into it (what was filed under any of them
    belongs to it), as a subquery for `IN`."""
    return sa.select(ACCOUNTS.c.id).where(
        sa.or_(ACCOUNTS.c.id == survivor, ACCOUNTS.c.merged_into_id == survivor)
    )


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert accounts (each a dict of key, name, segment and the shared columns) in one
    statement; a key or name taken meanwhile by another transaction is skipped, not an error."""
    if not rows:
        return
    insert = postgresql.insert(ACCOUNTS) if is_postgres(session) else sqlite.insert(ACCOUNTS)
    for start in range(0, len(rows), KEY_CHUNK):
        await session.execute(insert.on_conflict_do_nothing(), list(rows[start : start + KEY_CHUNK]))


async def absorbed_by(session: AsyncSession, account_id: uuid.UUID) -> list[uuid.UUID]:
    """Accounts merged into this one earlier."""
    stmt = sa.select(ACCOUNTS.c.id).where(ACCOUNTS.c.merged_into_id == account_id)
    return list((await session.execute(stmt)).scalars())


async def repoint(session: AsyncSession, ids: Sequence[uuid.UUID], into: uuid.UUID, now: Any) -> None:
    """Point accounts at a new survivor (each a new revision)."""
    if not ids:
        return
    await session.execute(
        sa.update(ACCOUNTS)
        .where(ACCOUNTS.c.id.in_(list(ids)))
        .values(merged_into_id=into, revision=ACCOUNTS.c.revision + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
