"""Queries for campaigns, enrollments, acknowledgements and checks; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from typing import Any, TypeAlias, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.campaigns.models import Acknowledgement, Attendance, Campaign, Check, Enrollment
from service.campaigns.schemas import CampaignStatus, CheckStatus
from service.db import is_postgres, utcnow
from service.pagination import PageParams, RowPage, fetch_page, fetch_row_page
from service.people.models import Department, Person
from service.products.models import Product
from service.reads import ReadRow, any_of, dialect_of, read_one, read_rows, rows_in, rows_of

_CAMPAIGNS: sa.Table = Campaign.__table__

ENROLLMENTS: sa.Table = Enrollment.__table__
ACKNOWLEDGEMENTS: sa.Table = Acknowledgement.__table__
ATTENDANCE: sa.Table = Attendance.__table__
# Marks an acknowledgement among check statuses in status_by_person's one query.
ACKNOWLEDGED = "acknowledged"

# (person id, hire date) of the people a campaign's audience selects.
Audience: TypeAlias = "sa.Select[uuid.UUID, date | None]"


def insert_ignoring_duplicates(session: AsyncSession, table: sa.Table) -> sa.Insert:
    """INSERT … ON CONFLICT DO NOTHING: concurrent double clicks and racing syncs write one row."""
    if is_postgres(session):
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


# --- campaigns ---------------------------------------------------------------------------------


async def get(session: AsyncSession, campaign_id: uuid.UUID, *, for_update: bool = False) -> Campaign | None:
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if for_update:  # a row lock on PostgreSQL, the write lock on SQLite (service/db.py)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def read_row(session: AsyncSession, campaign_id: uuid.UUID) -> ReadRow | None:
    """One campaign as a named row (reads; see service/reads.py)."""
    stmt = rows_of(Campaign).where(col(Campaign.id) == campaign_id)
    return await read_one(session, stmt)


async def by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, sa.Row[Any]]:
    """Campaigns as named rows (reads; see service/reads.py)."""
    return {c.id: c for c in await rows_in(session, rows_of(Campaign), _CAMPAIGNS.c.id, ids)}


async def by_ids_enrolled(
    session: AsyncSession, ids: Iterable[uuid.UUID], person_id: uuid.UUID | None
) -> dict[uuid.UUID, ReadRow]:
    """The campaigns among `ids` that the person is or was in (none without a person), in one
    query (named rows; see service/reads.py)."""
    if person_id is None:
        return {}
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await read_rows(
        session, _enrolled_in(dialect_of(session)), {"ids": wanted, "person_id": person_id}
    )
    return {c.id: c for c in rows}


@cache
def _enrolled_in(dialect: str) -> sa.Select[*tuple[Any, ...]]:
    return rows_of(Campaign).where(
        any_of(_CAMPAIGNS.c.id, dialect),
        sa.exists().where(
            col(Enrollment.campaign_id) == Campaign.id, col(Enrollment.person_id) == sa.bindparam("person_id")
        ),
    )


async def list_campaigns(
    session: AsyncSession,
    params: PageParams,
    *,
    status: str | None = None,
    kind: str | None = None,
    lineage_id: uuid.UUID | None = None,
    enrolled_person_id: uuid.UUID | None = None,
) -> RowPage[ReadRow]:
    """A page of campaigns as named rows (reads; see service/reads.py)."""
    stmt = rows_of(Campaign)
    if status is not None:
        stmt = stmt.where(col(Campaign.status) == status)
    if kind is not None:
        stmt = stmt.where(col(Campaign.kind) == kind)
    if lineage_id is not None:
        stmt = stmt.where(col(Campaign.lineage_id) == lineage_id)
    if enrolled_person_id is not None:
        stmt = stmt.where(
            sa.exists().where(
                col(Enrollment.campaign_id) == Campaign.id, col(Enrollment.person_id) == enrolled_person_id
            )
        )
    return await fetch_row_page(session, stmt, Campaign, params)


async def active_campaigns(session: AsyncSession) -> list[Campaign]:
    return list((await session.execute(select(Campaign).where(Campaign.status == "active"))).scalars())


# --- audiences and enrollments --------------------------------------------------------------------


async def department_ids(session: AsyncSession, keys: Iterable[str]) -> list[uuid.UUID]:
    wanted = set(keys)
    if not wanted:
        return []
    return list(
        (await session.execute(select(Department.id).where(col(Department.key).in_(wanted)))).scalars()
    )


async def department_key(session: AsyncSession, department_id: uuid.UUID | None) -> str | None:
    if department_id is None:
        return None
    return (
        await session.execute(select(Department.key).where(Department.id == department_id))
    ).scalar_one_or_none()


def audience_select(
    *,
    department_ids: list[uuid.UUID] | None,
    roles: list[str] | None,
    hired_since: date | None = None,
) -> Audience:
    """Active people matching an audience (None: any department / role); `hired_since` keeps
    onboarding to people whose onboarding is still running."""
    stmt = sa.select(col(Person.id), col(Person.hire_date)).where(col(Person.active) == sa.true())
    if department_ids is not None:
        stmt = stmt.where(col(Person.department_id).in_(department_ids))
    if roles is not None:
        stmt = stmt.where(col(Person.role).in_(roles))
    if hired_since is not None:
        stmt = stmt.where(col(Person.hire_date).is_not(None), col(Person.hire_date) >= hired_since)
    return stmt


async def enroll_matching(
    session: AsyncSession, campaign_id: uuid.UUID, audience: Audience, *, anchored: bool
) -> int:
    """Enrolls everyone `audience` selects who is not enrolled yet; returns how many."""
    already = sa.select(col(Enrollment.person_id)).where(col(Enrollment.campaign_id) == campaign_id)
    rows = (await session.execute(audience.where(col(Person.id).not_in(already)))).all()
    if not rows:
        return 0
    now = utcnow()
    values = [
        enrollment_row(campaign_id, person_id, hire_date if anchored else None, now)
        for person_id, hire_date in rows
    ]
    await insert_enrollments(session, values)
    return len(values)


def enrollment_row(
    campaign_id: uuid.UUID, person_id: uuid.UUID, anchor_date: date | None, now: datetime
) -> dict[str, Any]:
    """The values of a new enrollment, for the batch inserts below."""
    return {
        "id": uuid.uuid4(),
        "created_at": now,
        "updated_at": now,
        "revision": 1,
        "campaign_id": campaign_id,
        "person_id": person_id,
        "anchor_date": anchor_date,
        "enrolled_at": now,
        "left_at": None,
    }


async def insert_enrollments(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Inserts enrollments in batches; one already there (a racing sync) is left as it is."""
    for start in range(0, len(rows), 5000):
        await session.execute(insert_ignoring_duplicates(session, ENROLLMENTS), rows[start : start + 5000])


async def leave_unmatched(session: AsyncSession, campaign_id: uuid.UUID, audience: Audience) -> None:
    """Lets go of current members `audience` no longer selects (their rows and history stay)."""
    now = utcnow()
    await session.execute(
        sa.update(ENROLLMENTS)
        .where(
            ENROLLMENTS.c.campaign_id == campaign_id,
            ENROLLMENTS.c.left_at.is_(None),
            ENROLLMENTS.c.person_id.not_in(audience.with_only_columns(col(Person.id))),
        )
        .values(left_at=now, updated_at=now, revision=ENROLLMENTS.c.revision + 1)
    )


async def rejoin_matched(session: AsyncSession, campaign_id: uuid.UUID, audience: Audience) -> None:
    """Takes back former members `audience` selects again."""
    await session.execute(
        sa.update(ENROLLMENTS)
        .where(
            ENROLLMENTS.c.campaign_id == campaign_id,
            ENROLLMENTS.c.left_at.is_not(None),
            ENROLLMENTS.c.person_id.in_(audience.with_only_columns(col(Person.id))),
        )
        .values(left_at=None, updated_at=utcnow(), revision=ENROLLMENTS.c.revision + 1)
    )


async def person_enrollments(
    session: AsyncSession, person_id: uuid.UUID, campaign_ids: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, Enrollment]:
    stmt = select(Enrollment).where(Enrollment.person_id == person_id)
    if campaign_ids is not None:
        stmt = stmt.where(col(Enrollment.campaign_id).in_(set(campaign_ids)))
    return {e.campaign_id: e for e in (await session.execute(stmt)).scalars()}


_MEMBERSHIPS = (  # built once: a statement keeps its cache key (service/reads.py)
    rows_of(Campaign)
    .add_columns(col(Product.key).label("product_key"), col(Enrollment.anchor_date))
    .join(Enrollment, col(Enrollment.campaign_id) == Campaign.id)
    .join(Product, col(Product.id) == Campaign.product_id)
    .where(
        col(Enrollment.person_id) == sa.bindparam("person_id"),
        col(Enrollment.left_at).is_(None),
        col(Campaign.status) == CampaignStatus.ACTIVE,
    )
)


async def active_memberships(session: AsyncSession, person_id: uuid.UUID) -> list[ReadRow]:
    """The active campaigns a person is currently in (a campaign's columns), each with its
    product's key and the person's `anchor_date`, in one query (the feed's campaign steps)."""
    return await read_rows(session, _MEMBERSHIPS, {"person_id": person_id})


async def get_enrollment(
    session: AsyncSession, campaign_id: uuid.UUID, person_id: uuid.UUID, *, for_update: bool = False
) -> Enrollment | None:
    stmt = select(Enrollment).where(Enrollment.campaign_id == campaign_id, Enrollment.person_id == person_id)
    if for_update:  # a row lock on PostgreSQL, the write lock on SQLite (service/db.py)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_enrollments(
    session: AsyncSession,
    params: PageParams,
    *,
    campaign_id: uuid.UUID,
    department_id: uuid.UUID | None = None,
    current_only: bool = False,
) -> RowPage[Enrollment]:
    stmt = select(Enrollment).where(Enrollment.campaign_id == campaign_id)
    if department_id is not None:
        stmt = stmt.join(Person, col(Person.id) == Enrollment.person_id).where(
            Person.department_id == department_id
        )
    if current_only:
        stmt = stmt.where(col(Enrollment.left_at).is_(None))
    return await fetch_page(session, stmt, Enrollment, params)


# --- acknowledgements and checks ------------------------------------------------------------------


async def reporting_lines(
    session: AsyncSession, person_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID | None, uuid.UUID | None]]:
    """{person: (manager, department)}: who may read and grade a person's answers."""
    wanted = set(person_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        sa.select(col(Person.id), col(Person.manager_id), col(Person.department_id)).where(
            col(Person.id).in_(wanted)
        )
    )
    return {person_id: (manager_id, department_id) for person_id, manager_id, department_id in rows.all()}


def _managed_people(reviewer_id: uuid.UUID | None, department_id: uuid.UUID | None) -> sa.Select[Any]:
    """The people a manager reviews: their direct reports and their department (and themself)."""
    return sa.select(col(Person.id)).where(
        sa.or_(
            col(Person.id) == reviewer_id if reviewer_id else sa.false(),
            col(Person.manager_id) == reviewer_id if reviewer_id else sa.false(),
            col(Person.department_id) == department_id if department_id else sa.false(),
        )
    )


async def insert_acknowledgement(
    session: AsyncSession,
    *,
    person_id: uuid.UUID,
    campaign_id: uuid.UUID,
    brief_id: uuid.UUID,
    lineage_id: uuid.UUID,
    version: int,
) -> uuid.UUID | None:
    """Inserts an acknowledgement unless the person already has one for this version (ON CONFLICT
    DO NOTHING: concurrent double clicks write one row); returns its id, None when one was there."""
    ack_id, now = uuid.uuid4(), utcnow()
    result = await session.execute(
        insert_ignoring_duplicates(session, ACKNOWLEDGEMENTS).values(
            id=ack_id,
            created_at=now,
            updated_at=now,
            revision=1,
            person_id=person_id,
            campaign_id=campaign_id,
            brief_id=brief_id,
            lineage_id=lineage_id,
            version=version,
            acknowledged_at=now,
        )
    )
    inserted = cast("sa.CursorResult[Any]", result).rowcount  # 0 when the conflict skipped it
    return ack_id if inserted else None


async def acknowledgement_since(
    session: AsyncSession, person_id: uuid.UUID, lineage_id: uuid.UUID, basis_version: int
) -> Acknowledgement | None:
    """The person's earliest acknowledgement that still counts (this version or a later one)."""
    stmt = (
        select(Acknowledgement)
        .where(
            Acknowledgement.person_id == person_id,
            Acknowledgement.lineage_id == lineage_id,
            Acknowledgement.version >= basis_version,
        )
        .order_by(col(Acknowledgement.version))
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_acknowledgement(session: AsyncSession, ack_id: uuid.UUID) -> Acknowledgement | None:
    return await session.get(Acknowledgement, ack_id)


async def list_acknowledgements(
    session: AsyncSession,
    params: PageParams,
    *,
    campaign_id: uuid.UUID | None = None,
    person_id: uuid.UUID | None = None,
    reviewer_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
) -> RowPage[Acknowledgement]:
    """Acknowledgements, filtered; `reviewer_id` / `department_id` limit to one manager's people."""
    stmt = select(Acknowledgement)
    if campaign_id is not None:
        stmt = stmt.where(Acknowledgement.campaign_id == campaign_id)
    if person_id is not None:
        stmt = stmt.where(Acknowledgement.person_id == person_id)
    if reviewer_id is not None or department_id is not None:
        stmt = stmt.where(col(Acknowledgement.person_id).in_(_managed_people(reviewer_id, department_id)))
    return await fetch_page(session, stmt, Acknowledgement, params)


async def insert_attendance(
    session: AsyncSession, *, campaign_id: uuid.UUID, step_id: uuid.UUID, person_id: uuid.UUID
) -> uuid.UUID | None:
    """Inserts an attendance unless the person already confirmed this step (ON CONFLICT DO
    NOTHING: concurrent double clicks write one row); returns its id, None when one was there."""
    attendance_id, now = uuid.uuid4(), utcnow()
    result = await session.execute(
        insert_ignoring_duplicates(session, ATTENDANCE).values(
            id=attendance_id,
            created_at=now,
            updated_at=now,
            revision=1,
            campaign_id=campaign_id,
            step_id=step_id,
            person_id=person_id,
            attended_at=now,
        )
    )
    inserted = cast("sa.CursorResult[Any]", result).rowcount  # 0 when the conflict skipped it
    return attendance_id if inserted else None


async def get_attendance(
    session: AsyncSession, campaign_id: uuid.UUID, step_id: uuid.UUID, person_id: uuid.UUID
) -> Attendance | None:
    stmt = select(Attendance).where(
        Attendance.campaign_id == campaign_id,
        Attendance.step_id == step_id,
        Attendance.person_id == person_id,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_check(session: AsyncSession, check_id: uuid.UUID, *, for_update: bool = False) -> Check | None:
    stmt = select(Check).where(Check.id == check_id)
    if for_update:  # a row lock on PostgreSQL, the write lock on SQLite (service/db.py)
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def checks_since(
    session: AsyncSession, person_id: uuid.UUID, lineage_id: uuid.UUID, basis_version: int
) -> list[Check]:
    """The person's checks that still count for this brief, newest first."""
    stmt = (
        select(Check)
        .where(Check.person_id == person_id, Check.lineage_id == lineage_id, Check.version >= basis_version)
        .order_by(col(Check.submitted_at).desc())
    )
    return list((await session.execute(stmt)).scalars())


async def list_checks(
    session: AsyncSession,
    params: PageParams,
    *,
    campaign_id: uuid.UUID | None = None,
    status: str | None = None,
    person_id: uuid.UUID | None = None,
    reviewer_id: uuid.UUID | None = None,
    department_id: uuid.UUID | None = None,
) -> RowPage[ReadRow]:
    """Checks as named rows (reads; see service/reads.py), filtered; `reviewer_id` /
    `department_id` limit to one manager's people (either)."""
    stmt = rows_of(Check)
    if campaign_id is not None:
        stmt = stmt.where(col(Check.campaign_id) == campaign_id)
    if status is not None:
        stmt = stmt.where(col(Check.status) == status)
    if person_id is not None:
        stmt = stmt.where(col(Check.person_id) == person_id)
    if reviewer_id is not None or department_id is not None:
        stmt = stmt.where(col(Check.person_id).in_(_managed_people(reviewer_id, department_id)))
    return await fetch_row_page(session, stmt, Check, params)


@cache
def _answers(dialect: str) -> sa.CompoundSelect[uuid.UUID, int, str]:
    """A person's acknowledgements and check statuses on some lineages (status_by_person)."""
    person: sa.BindParameter[uuid.UUID] = sa.bindparam("person_id")
    acks, checks = Acknowledgement.__table__.c, Check.__table__.c
    return sa.union_all(
        sa.select(acks.lineage_id, acks.version, sa.literal(ACKNOWLEDGED)).where(
            acks.person_id == person, any_of(acks.lineage_id, dialect)
        ),
        sa.select(checks.lineage_id, checks.version, checks.status).where(
            checks.person_id == person, any_of(checks.lineage_id, dialect)
        ),
    )


async def status_by_person(
    session: AsyncSession, person_id: uuid.UUID, bases: dict[uuid.UUID, int]
) -> tuple[set[uuid.UUID], dict[uuid.UUID, str]]:
    """For one person and {lineage: basis version}: the lineages acknowledged, and each lineage's
    best check status (passed over submitted over needs_work). One query, for the feed."""
    if not bases:
        return set(), {}
    answers = _answers(dialect_of(session))
    rank: dict[str, int] = {CheckStatus.PASSED: 0, CheckStatus.SUBMITTED: 1, CheckStatus.NEEDS_WORK: 2}
    acked: set[uuid.UUID] = set()
    status: dict[uuid.UUID, str] = {}
    for lineage, version, state in await read_rows(
        session, answers, {"person_id": person_id, "ids": list(bases)}
    ):
        if version < bases[lineage]:
            continue
        if state == ACKNOWLEDGED:
            acked.add(lineage)
        elif (best := status.get(lineage)) is None or rank[state] < rank[best]:
            status[lineage] = state
    return acked, status


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()
