"""Readiness: of the people a campaign speaks to, how many acknowledged the current brief
version, passed its check, or are overdue — and, organisation-wide, whether our people can
state what makes us worth buying. Counted in SQL (one grouped query each), never row by row.

Definitions (docs/campaigns.md):
- audience: enrollments not left, of active people;
- acknowledged / passed: an acknowledgement / a passed check on the current version or any
  version since the last substantive one (a minor fix does not ask again);
- overdue: the campaign's last step is due (for onboarding: counted from each hire date) and the
  person has not passed;
- attended: the person confirmed attending at least one of the campaign's briefing steps.

The same definitions list the people behind the counts (`campaign_people`, one statement a page):
each person's state (schemas.PersonState) and whether they are overdue, so that the people listed
`passed` are the readiness count `passed`, those not `not_acknowledged` are `acknowledged`, and
those listed `overdue` are `overdue`. `story_gaps` measures the pitches of graded checks against
the brief's parts (service/briefs/story.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TypeAlias

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.auth.principal import Principal, Role
from service.briefs import service as briefs_service
from service.briefs.service import CurrentVersion
from service.campaigns import policies, repository
from service.campaigns import service as campaigns_service
from service.campaigns.models import Acknowledgement, Attendance, Campaign, Check, Enrollment
from service.campaigns.schemas import (
    CampaignPerson,
    CampaignReadiness,
    DepartmentReadiness,
    DepartmentShare,
    OrganisationReadiness,
    PersonState,
    ProductReadiness,
    StoryGap,
)
from service.db import needs_transaction, set_local, utcnow
from service.errors import Forbidden
from service.pagination import Page, PageParams, fetch_row_page
from service.people import service as people_service
from service.people.models import Department, Person
from service.products import service as products_service
from service.reads import as_dict

HEADLINE = "Can our people state what makes us worth buying, in the customer's words?"
# Story gaps measure each answer in Python (~20 µs): the latest this many graded checks keep a
# large campaign's readiness fast, and say how people tell the story now, after coaching (the
# shares of a larger audience are then estimates within about ±3 points).
STORY_GAPS_LATEST: Final = 1000


# Whose numbers a caller sees: everyone's, or one department's (None: a manager without one).
EVERYONE: Final = "everyone"
Scope = uuid.UUID | None | Literal["everyone"]
# Statements and rows of counts, their columns chosen at run time.
Statement: TypeAlias = "sa.Select[*tuple[Any, ...]]"
CountRow: TypeAlias = "sa.Row[*tuple[Any, ...]]"


def _allowed(principal: Principal) -> Scope:
    allowed, department = policies.readiness_scope(principal)
    if not allowed:
        raise Forbidden("Readiness is for editors, admins and managers (their own department).")
    return department if principal.has_role(Role.MANAGER) else EVERYONE


def _in_scope(stmt: Statement, department: Scope) -> Statement:
    if department == EVERYONE:
        return stmt
    return stmt.where(col(Person.department_id) == department) if department else stmt.where(sa.false())


def _share(passed: int, audience: int) -> float | None:
    return round(passed / audience, 4) if audience else None


async def _plan_for_this_read(session: AsyncSession) -> None:
    """On PostgreSQL, keep the "has this person answered?" tests hashed, whatever the size.

    Each test is `person_id IN (people who answered)`: one hash of the answers, one probe per
    person (no DISTINCT, no join). PostgreSQL hashes such a subquery only when it expects the
    hash to fit in work_mem (4 MB by default, about 100,000 people) and otherwise falls back
    to scanning the answers once per person; 64 MB keeps it hashed up to ~1.5 million answers,
    and each read only takes what it uses. Custom plans, because a generic one is planned
    without knowing how many answers the lineage has. SET LOCAL ends with the read.
    """
    await set_local(session, "work_mem = '64MB'", "plan_cache_mode = force_custom_plan")


def _due_condition(campaign: Campaign, now: datetime) -> bool | sa.ColumnElement[bool]:
    """Whether the campaign's last step is due: one time for a launch or reinforcement (a plain
    bool), each hire date plus the last offset for onboarding (a condition per enrollment).
    No steps, no deadline."""
    if not campaign.steps:
        return False
    if campaign.kind == "onboarding":
        last_offset = max(s.get("day_offset") or 0 for s in campaign.steps)
        # due at 00:00 UTC of anchor + offset: due by now once anchor <= today - offset
        return col(Enrollment.anchor_date) <= (now.date() - timedelta(days=last_offset))
    times = [datetime.fromisoformat(s["at"]) for s in campaign.steps if s.get("at")]
    return bool(times) and max(times) <= now


def _answered(current: CurrentVersion, *statuses: str) -> sa.ColumnElement[bool]:
    """Whether the enrolled person acknowledged (no statuses) or has a check in one of `statuses`
    on the current version or any since the last substantive one."""
    lineage, basis = current.lineage_id, current.basis_version
    if not statuses:
        answers = sa.select(col(Acknowledgement.person_id)).where(
            col(Acknowledgement.lineage_id) == lineage, col(Acknowledgement.version) >= basis
        )
    else:
        answers = sa.select(col(Check.person_id)).where(
            col(Check.lineage_id) == lineage, col(Check.version) >= basis, col(Check.status).in_(statuses)
        )
    return col(Enrollment.person_id).in_(answers)


def _attended(campaign: Campaign) -> sa.ColumnElement[bool]:
    """Whether the enrolled person confirmed attending any of the campaign's briefing steps
    (attendance is taken for briefing steps only)."""
    attendees = sa.select(col(Attendance.person_id)).where(col(Attendance.campaign_id) == campaign.id)
    return col(Enrollment.person_id).in_(attendees)


def _audience(campaign: Campaign, department: Scope, *columns: sa.ColumnElement[Any]) -> Statement:
    """`columns` for each active person currently in the campaign's audience, in the caller's scope."""
    audience = (
        sa.select(*columns)
        .select_from(Enrollment)
        .join(Person, col(Person.id) == Enrollment.person_id)
        .where(
            col(Enrollment.campaign_id) == campaign.id,
            col(Enrollment.left_at).is_(None),
            col(Person.active) == sa.true(),
        )
    )
    return _in_scope(audience, department)


def campaign_statement(
    campaign: Campaign, current: CurrentVersion | None, department: Scope, now: datetime
) -> Statement:
    """The audience counted by (department, acknowledged?, passed?, attended?[, due?]): one
    grouped query of at most a few rows per department, summed up in Python."""
    flags: list[sa.ColumnElement[Any]] = [
        col(Person.department_id).label("department_id"),
        _attended(campaign).label("is_attended"),
    ]
    if current is not None:
        flags.append(_answered(current).label("is_acknowledged"))
        flags.append(_answered(current, "passed").label("is_passed"))
    due = _due_condition(campaign, now)
    if not isinstance(due, bool):
        flags.append(due.label("is_due"))
    return _grouped(_audience(campaign, department, *flags).subquery("audience"))


def _grouped(rows: sa.Subquery) -> Statement:
    """Count the rows by every column: the tests in the subquery run once per row."""
    return sa.select(*rows.c, sa.func.count().label("people")).group_by(*rows.c)


def _tally(campaign: Campaign, rows: list[CountRow], now: datetime) -> dict[uuid.UUID | None, list[int]]:
    """{department: [audience, acknowledged, passed, overdue, attended]} from the grouped rows."""
    due = _due_condition(campaign, now)
    tally: dict[uuid.UUID | None, list[int]] = {}
    for row in rows:
        counts = tally.setdefault(row.department_id, [0, 0, 0, 0, 0])
        acknowledged = bool(getattr(row, "is_acknowledged", False))
        passed = bool(getattr(row, "is_passed", False))
        is_due = due if isinstance(due, bool) else bool(row.is_due)  # NULL anchor: no deadline
        counts[0] += row.people
        counts[1] += row.people if acknowledged else 0
        counts[2] += row.people if passed else 0
        counts[3] += row.people if is_due and not passed else 0
        counts[4] += row.people if row.is_attended else 0
    return tally


@needs_transaction
async def campaign_readiness(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> CampaignReadiness:
    """Readiness of one campaign for its brief's current version (and who attended its
    briefings), in total and per department (a manager: their own department only)."""
    department = _allowed(principal)
    campaign = await campaigns_service.visible_campaign(session, principal, campaign_id)
    current = (await briefs_service.current_versions(session, principal, [campaign.lineage_id])).get(
        campaign.lineage_id
    )
    now = utcnow()
    await _plan_for_this_read(session)
    rows = list((await session.execute(campaign_statement(campaign, current, department, now))).all())
    tally = _tally(campaign, rows, now)
    names = await people_service.departments_by_ids(session, principal, [d for d in tally if d])
    departments = sorted(
        (
            DepartmentReadiness(
                department=names[d].key if d in names else None,
                department_name=names[d].name if d in names else None,
                audience=n,
                acknowledged=a,
                passed=p,
                overdue=o,
                attended=t,
            )
            for d, (n, a, p, o, t) in tally.items()
        ),
        key=lambda r: (r.department is None, r.department or ""),
    )
    return CampaignReadiness(
        campaign_id=campaign.id,
        brief_id=current.brief_id if current else None,
        version=current.version if current else None,
        basis_version=current.basis_version if current else None,
        audience=sum(d.audience for d in departments),
        acknowledged=sum(d.acknowledged for d in departments),
        passed=sum(d.passed for d in departments),
        overdue=sum(d.overdue for d in departments),
        attended=sum(d.attended for d in departments),
        departments=departments,
        story_gaps=await _story_gaps(session, principal, campaign, current, department),
    )


def _part_order(name: str) -> tuple[int, int]:
    """The brief's order: value proposition, differentiators by number, evidence, next action."""
    kind, _, number = name.partition(":")
    return (["value_proposition", "differentiator", "evidence", "next_action"].index(kind), int(number or 0))


async def _story_gaps(
    session: AsyncSession,
    principal: Principal,
    campaign: Campaign,
    current: CurrentVersion | None,
    department: Scope,
) -> list[StoryGap]:
    """Per part of the brief's story, the share of graded checks (of the people counted, on the
    counted versions; the latest STORY_GAPS_LATEST) whose pitch in one's own words left it out.
    Each check is measured against the version it answered; the current version's parts are
    listed even before any grade."""
    if current is None:
        return []
    graded = (
        sa.select(col(Check.brief_id), col(Check.pitch_in_own_words))
        .where(
            col(Check.lineage_id) == current.lineage_id,
            col(Check.version) >= current.basis_version,
            col(Check.status).in_(("passed", "needs_work")),
            col(Check.person_id).in_(_audience(campaign, department, col(Enrollment.person_id).label("id"))),
        )
        .order_by(col(Check.graded_at).desc(), col(Check.id).desc())
        .limit(STORY_GAPS_LATEST)
    )
    texts: dict[uuid.UUID, list[str]] = {current.brief_id: []}
    for brief_id, pitch in (await session.execute(graded)).all():
        texts.setdefault(brief_id, []).append(pitch)
    tally: dict[str, list[int]] = {}  # part: [graded, told]
    for brief_id, parts in (await briefs_service.story_told(session, principal, texts)).items():
        for part, told in parts:
            counts = tally.setdefault(part, [0, 0])
            counts[0] += len(texts[brief_id])
            counts[1] += told
    return [
        StoryGap(part=part, graded=n, share=_share(n - told, n))
        for part, (n, told) in sorted(tally.items(), key=lambda item: _part_order(item[0]))
    ]


@needs_transaction
async def campaign_people(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    params: PageParams,
    *,
    state: PersonState | None = None,
    overdue: bool | None = None,
    department: str | None = None,
) -> Page[CampaignPerson]:
    """Lists the people behind a campaign's readiness, in enrollment order: each one's state and
    whether they are overdue, as readiness counts them; optionally one state, overdue or not, one
    department (by key). Whoever sees the readiness sees the list: a manager their own department's
    people only, and asking for another department is refused."""
    scope = _allowed(principal)
    campaign = await campaigns_service.visible_campaign(session, principal, campaign_id)
    if department is not None and scope != EVERYONE:
        own = await repository.department_key(session, scope)
        if department != own:
            raise Forbidden("Managers see their own department's people only.")
    current = (await briefs_service.current_versions(session, principal, [campaign.lineage_id])).get(
        campaign.lineage_id
    )
    now = utcnow()
    due = _due_condition(campaign, now)
    is_due = sa.true() if due is True else sa.false() if due is False else due
    person_state: sa.ColumnElement[str] = sa.literal(PersonState.NOT_ACKNOWLEDGED.value)
    passed: sa.ColumnElement[bool] = sa.false()
    if current is not None:
        passed = _answered(current, "passed")
        person_state = sa.case(
            (passed, PersonState.PASSED.value),
            (~_answered(current), PersonState.NOT_ACKNOWLEDGED.value),
            (_answered(current, "submitted"), PersonState.CHECK_PENDING.value),
            (_answered(current, "needs_work"), PersonState.NEEDS_WORK.value),
            else_=PersonState.ACKNOWLEDGED.value,
        )
    people = _audience(
        campaign,
        scope,
        col(Enrollment.id).label("id"),
        col(Enrollment.created_at).label("created_at"),
        col(Person.id).label("person_id"),
        col(Person.display_name).label("display_name"),
        col(Person.email).label("email"),
        col(Department.key).label("department_key"),
        person_state.label("state"),
        sa.and_(is_due, ~passed).label("overdue"),
    ).outerjoin(Department, col(Department.id) == Person.department_id)
    rows = people.subquery("people")
    stmt = sa.select(*rows.c)
    if state is not None:
        stmt = stmt.where(rows.c.state == state.value)
    if overdue is not None:
        stmt = stmt.where(rows.c.overdue if overdue else ~rows.c.overdue)
    if department is not None:
        stmt = stmt.where(rows.c.department_key == department)
    await _plan_for_this_read(session)
    page = await fetch_row_page(session, stmt, rows.c, params)
    items = [
        CampaignPerson.model_validate({**as_dict(row), "overdue": bool(row.overdue)}) for row in page.rows
    ]
    return Page(items=items, next_cursor=page.next_cursor)


def organisation_statement(current: dict[uuid.UUID, CurrentVersion], department: Scope) -> Statement:
    """(product, department, passed?, people) over the audiences of active and completed
    campaigns, each person counted once per product however many of its campaigns they are in."""
    lineages = list(current)
    pairs = (
        sa.select(col(Campaign.product_id), col(Enrollment.person_id))
        .select_from(Enrollment)
        .join(Campaign, col(Campaign.id) == Enrollment.campaign_id)
        .where(
            col(Campaign.status).in_(("active", "completed")),
            col(Campaign.lineage_id).in_(lineages),
            col(Enrollment.left_at).is_(None),
        )
        .distinct()
    )
    if department != EVERYONE:  # a manager: only their department's people take part at all
        pairs = pairs.where(col(Enrollment.person_id).in_(_in_scope(sa.select(col(Person.id)), department)))
    paired = pairs.subquery("pairs")
    product_of = sa.case(
        *[
            (
                col(Check.lineage_id) == v.lineage_id,
                sa.literal(v.product_id, sa.inspect(Campaign).c.product_id.type),
            )
            for v in current.values()
        ]
    )
    basis_of = sa.case(*[(col(Check.lineage_id) == v.lineage_id, v.basis_version) for v in current.values()])
    passed = sa.select(product_of, col(Check.person_id)).where(
        col(Check.status) == "passed", col(Check.lineage_id).in_(lineages), col(Check.version) >= basis_of
    )
    flags = [
        paired.c.product_id.label("product_id"),
        col(Person.department_id).label("department_id"),
        sa.tuple_(paired.c.product_id, paired.c.person_id).in_(passed).label("is_passed"),
    ]
    people = (
        sa.select(*flags)
        .select_from(paired)
        .join(Person, col(Person.id) == paired.c.person_id)
        .where(col(Person.active) == sa.true())
    )
    return _grouped(people.subquery("audience"))


@needs_transaction
async def organisation_readiness(session: AsyncSession, principal: Principal) -> OrganisationReadiness:
    """Per product with a published pitch: the share of its campaign audiences (active and
    completed campaigns) that passed a check on the current version, in total and per department."""
    department = _allowed(principal)
    current = await briefs_service.current_versions(session, principal, None)
    if not current:
        return OrganisationReadiness(question=HEADLINE, audience=0, passed=0, share=None, products=[])
    await _plan_for_this_read(session)
    stmt = organisation_statement(current, department)
    tally: dict[tuple[uuid.UUID, uuid.UUID | None], list[int]] = {}
    for row in (await session.execute(stmt)).all():
        counts = tally.setdefault((row.product_id, row.department_id), [0, 0])
        counts[0] += row.people
        counts[1] += row.people if row.is_passed else 0
    products = await products_service.products_by_ids(
        session, principal, {v.product_id for v in current.values()}
    )
    names = await people_service.departments_by_ids(session, principal, [d for _, d in tally if d])
    per_product: dict[uuid.UUID, list[DepartmentShare]] = {p: [] for p in products}
    for (product_id, department_id), (audience, passed_count) in tally.items():
        name = names.get(department_id) if department_id else None
        per_product[product_id].append(
            DepartmentShare(
                department=name.key if name else None,
                department_name=name.name if name else None,
                audience=audience,
                passed=passed_count,
                share=_share(passed_count, audience),
            )
        )
    result = []
    for product_id, departments in per_product.items():
        departments.sort(key=lambda r: (r.department is None, r.department or ""))
        audience = sum(d.audience for d in departments)
        passed_total = sum(d.passed for d in departments)
        result.append(
            ProductReadiness(
                product_key=products[product_id].key,
                product_name=products[product_id].name,
                audience=audience,
                passed=passed_total,
                share=_share(passed_total, audience),
                departments=departments,
            )
        )
    result.sort(key=lambda p: p.product_key)
    audience = sum(p.audience for p in result)
    passed_total = sum(p.passed for p in result)
    return OrganisationReadiness(
        question=HEADLINE,
        audience=audience,
        passed=passed_total,
        share=_share(passed_total, audience),
        products=result,
    )
