"""Queries for people and departments. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from service.pagination import PageParams, RowPage, fetch_row_page
from service.people.models import Department, Person
from service.reads import ReadRow, rows_in, rows_of

# What a person is read as (service.people.schemas.PersonRead): their columns and their
# department's key, joined, as named rows: one statement and no ORM objects per page.
_READ_COLUMNS = (
    "id",
    "email",
    "display_name",
    "role",
    "department_id",
    "locale",
    "active",
    "manager_id",
    "employee_number",
    "hire_date",
    "external_id",
    "created_at",
    "updated_at",
    "revision",
)
_PERSON_READS = sa.select(
    *(Person.__table__.c[name] for name in _READ_COLUMNS),
    Department.__table__.c.key.label("department_key"),
).outerjoin(Department, col(Person.department_id) == col(Department.id))


async def get_department_by_key(session: AsyncSession, key: str) -> Department | None:
    return (await session.execute(select(Department).where(Department.key == key))).scalar_one_or_none()


async def existing_department_keys(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    wanted = set(keys)
    if not wanted:
        return set()
    stmt = select(Department.key).where(col(Department.key).in_(wanted))
    return set((await session.execute(stmt)).scalars())


async def department_keys(session: AsyncSession) -> list[str]:
    return list((await session.execute(select(Department.key).order_by(Department.key))).scalars())


async def departments_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ReadRow]:
    """Departments as named rows (reads; see service/reads.py)."""
    return {d.id: d for d in await rows_in(session, rows_of(Department), Department.__table__.c.id, ids)}


async def list_departments(session: AsyncSession, params: PageParams) -> RowPage[ReadRow]:
    """A page of departments as named rows (reads; see service/reads.py)."""
    return await fetch_row_page(session, rows_of(Department), Department, params)


async def get_person(session: AsyncSession, person_id: uuid.UUID) -> Person | None:
    return await session.get(Person, person_id)


async def get_person_by_email(session: AsyncSession, email: str) -> Person | None:
    stmt = select(Person).where(Person.email == email.lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def people_by_emails(session: AsyncSession, emails: Iterable[str]) -> list[Person]:
    wanted = set(emails)
    if not wanted:
        return []
    return list((await session.execute(select(Person).where(col(Person.email).in_(wanted)))).scalars())


async def existing_person_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = set(ids)
    if not wanted:
        return set()
    return set((await session.execute(select(Person.id).where(col(Person.id).in_(wanted)))).scalars())


async def people_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Person]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.execute(select(Person).where(col(Person.id).in_(wanted)))).scalars()
    return {p.id: p for p in rows}


async def person_reads_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> list[ReadRow]:
    """People as read rows (`_READ_COLUMNS` and `department_key`), in no particular order."""
    return await rows_in(session, _PERSON_READS, Person.__table__.c.id, ids)


async def list_people(
    session: AsyncSession,
    params: PageParams,
    *,
    department_id: uuid.UUID | None = None,
    email: str | None = None,
    active: bool | None = None,
) -> RowPage[ReadRow]:
    """A page of people as read rows (`_READ_COLUMNS` and `department_key`)."""
    stmt = _PERSON_READS
    if department_id is not None:
        stmt = stmt.where(col(Person.department_id) == department_id)
    if email is not None:
        stmt = stmt.where(col(Person.email) == email.lower())
    if active is not None:
        stmt = stmt.where(col(Person.active) == active)
    return await fetch_row_page(session, stmt, Person, params)


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


# --- SCIM support ---------------------------------------------------------------------
# Provisioning clients (SCIM, RFC 7644 §3.4.2.4) page by position and want the total count.


def _user_name_is(user_name: str) -> sa.ColumnElement[bool]:
    """A SCIM userName matches ignoring case (RFC 7643: caseExact false); people provisioned
    without one answer their e-mail as userName."""
    wanted = user_name.lower()
    return sa.or_(
        sa.func.lower(Person.scim_user_name) == wanted,
        sa.and_(col(Person.scim_user_name).is_(None), col(Person.email) == wanted),
    )


def _people_matching(
    user_name: str | None, email: str | None, external_id: str | None
) -> SelectOfScalar[Person]:
    # A person whose SCIM identity was deleted is gone for SCIM (RFC 7644 §3.6).
    stmt = select(Person).where(col(Person.scim_deleted_at).is_(None))
    if user_name is not None:
        stmt = stmt.where(_user_name_is(user_name))
    if email is not None:
        stmt = stmt.where(Person.email == email.lower())
    if external_id is not None:
        stmt = stmt.where(Person.external_id == external_id)
    return stmt


async def people_with_user_name(session: AsyncSession, user_name: str) -> list[Person]:
    """Everyone holding this SCIM userName (ignoring case), deleted SCIM identities included."""
    return list((await session.execute(select(Person).where(_user_name_is(user_name)))).scalars())


async def count_people(
    session: AsyncSession, *, user_name: str | None, email: str | None, external_id: str | None
) -> int:
    matching = _people_matching(user_name, email, external_id).subquery()
    return (await session.execute(sa.select(sa.func.count()).select_from(matching))).scalar_one()


async def people_at(
    session: AsyncSession,
    *,
    offset: int,
    limit: int,
    user_name: str | None,
    email: str | None,
    external_id: str | None,
) -> list[Person]:
    """SCIM-visible people in a stable order (created_at, id), from a 0-based position."""
    stmt = (
        _people_matching(user_name, email, external_id)
        .order_by(col(Person.created_at), col(Person.id))
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def departments_named(session: AsyncSession, name: str) -> list[Department]:
    """Departments whose name is `name`, ignoring case (names are not unique)."""
    stmt = select(Department).where(sa.func.lower(Department.name) == name.lower()).limit(2)
    return list((await session.execute(stmt)).scalars())
