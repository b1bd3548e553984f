"""Readiness: of the people a campaign speaks to, how many acknowledged the current brief
version, passed its check, or are overdue — and, organisation-wide, whether our people can
state what makes us worth buying. Counted in SQL (one grouped query each), never row by row.

Definitions (docs/campaigns.md):
- audience: enrollments not left, of active people;
- acknowledged / passed: an acknowledgement / a passed check on the current version or any
  version since the last substantive one (a minor fix does not ask again);
- overdue: the campaign's last step is due (for onboarding: counted from each hire date) and the
  person has not passed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.auth.principal import Principal
from service.briefs import service as briefs_service
from service.campaigns import policies
from service.campaigns import service as campaigns_service
from service.campaigns.models import Acknowledgement, Campaign, Check, Enrollment
from service.campaigns.schemas import (
    CampaignReadiness,
    DepartmentReadiness,
    DepartmentShare,
    OrganisationReadiness,
    ProductReadiness,
)
from service.db import utcnow
from service.errors import Forbidden
from service.people import service as people_service
from service.people.models import Person
from service.products import service as products_service

HEADLINE = "Can our people state what makes us worth buying, in the customer's words?"


def _allowed(principal: Principal) -> uuid.UUID | None:
    allowed, department = policies.readiness_scope(principal)
    if not allowed:
        raise Forbidden("Readiness is for editors, admins and managers (their own department).")
    return department


def _share(passed: int, audience: int) -> float | None:
    return round(passed / audience, 4) if audience else None


def _overdue_condition(campaign: Campaign, now: datetime) -> sa.ColumnElement[bool]:
    """Whose last step is due: one time for a launch, each hire date plus the last offset for
    onboarding. (No steps, no deadline.)"""
    if not campaign.steps:
        return sa.false()
    if campaign.kind == "onboarding":
        last_offset = max(s.get("day_offset") or 0 for s in campaign.steps)
        # due at 00:00 UTC of anchor + offset: due by now once anchor <= today - offset
        return col(Enrollment.anchor_date) <= (now.date() - timedelta(days=last_offset))
    last_at = max(datetime.fromisoformat(s["at"]) for s in campaign.steps if s.get("at"))
    return sa.true() if last_at <= now else sa.false()


async def campaign_readiness(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> CampaignReadiness:
    """Readiness of one campaign for its brief's current version, in total and per department
    (a manager: their own department only)."""
    department = _allowed(principal)
    campaign = await campaigns_service.visible_campaign(session, principal, campaign_id)
    current = (await briefs_service.current_versions(session, principal, [campaign.lineage_id])).get(
        campaign.lineage_id
    )
    lineage, basis = campaign.lineage_id, current.basis_version if current else None
    acked = (
        sa.select(Acknowledgement.person_id)
        .where(Acknowledgement.lineage_id == lineage, Acknowledgement.version >= basis)
        .distinct()
        .subquery("acked")
    )
    passed = (
        sa.select(Check.person_id)
        .where(Check.lineage_id == lineage, Check.version >= basis, Check.status == "passed")
        .distinct()
        .subquery("passed")
    )
    has_ack = acked.c.person_id.is_not(None) if current else sa.false()
    has_passed = passed.c.person_id.is_not(None) if current else sa.false()
    overdue = sa.and_(_overdue_condition(campaign, utcnow()), sa.not_(has_passed))
    stmt = (
        sa.select(
            Person.department_id,
            sa.func.count(),
            sa.func.sum(sa.case((has_ack, 1), else_=0)),
            sa.func.sum(sa.case((has_passed, 1), else_=0)),
            sa.func.sum(sa.case((overdue, 1), else_=0)),
        )
        .select_from(Enrollment)
        .join(Person, col(Person.id) == Enrollment.person_id)
        .outerjoin(acked, acked.c.person_id == Enrollment.person_id)
        .outerjoin(passed, passed.c.person_id == Enrollment.person_id)
        .where(
            Enrollment.campaign_id == campaign.id,
            col(Enrollment.left_at).is_(None),
            Person.active == sa.true(),
        )
        .group_by(Person.department_id)
    )
    if principal.has_role("manager"):
        stmt = stmt.where(Person.department_id == department) if department else stmt.where(sa.false())
    rows = (await session.execute(stmt)).all()
    names = await people_service.departments_by_ids(session, principal, [r[0] for r in rows if r[0]])
    departments = sorted(
        (
            DepartmentReadiness(
                department=names[d].key if d in names else None,
                department_name=names[d].name if d in names else None,
                audience=n,
                acknowledged=int(a or 0),
                passed=int(p or 0),
                overdue=int(o or 0),
            )
            for d, n, a, p, o in rows
        ),
        key=lambda r: (r.department is None, r.department or ""),
    )
    return CampaignReadiness(
        campaign_id=campaign.id,
        brief_id=current.brief_id if current else None,
        version=current.version if current else None,
        basis_version=basis,
        audience=sum(d.audience for d in departments),
        acknowledged=sum(d.acknowledged for d in departments),
        passed=sum(d.passed for d in departments),
        overdue=sum(d.overdue for d in departments),
        departments=departments,
    )


async def organisation_readiness(session: AsyncSession, principal: Principal) -> OrganisationReadiness:
    """Per product with a published pitch: the share of its campaign audiences (active and
    completed campaigns) that passed a check on the current version, in total and per department."""
    department = _allowed(principal)
    current = await briefs_service.current_versions(session, principal, None)
    if not current:
        return OrganisationReadiness(question=HEADLINE, audience=0, passed=0, share=None, products=[])
    lineages = list(current)
    pairs = (
        sa.select(Campaign.product_id, Enrollment.person_id, Person.department_id)
        .select_from(Enrollment)
        .join(Campaign, col(Campaign.id) == Enrollment.campaign_id)
        .join(Person, col(Person.id) == Enrollment.person_id)
        .where(
            col(Campaign.status).in_(("active", "completed")),
            col(Campaign.lineage_id).in_(lineages),
            col(Enrollment.left_at).is_(None),
            Person.active == sa.true(),
        )
        .distinct()
    )
    if principal.has_role("manager"):
        pairs = pairs.where(Person.department_id == department) if department else pairs.where(sa.false())
    pairs = pairs.subquery("pairs")
    product_of = sa.case(
        *[
            (Check.lineage_id == v.lineage_id, sa.literal(v.product_id, Campaign.product_id.type))
            for v in current.values()
        ]
    )
    basis_of = sa.case(*[(Check.lineage_id == v.lineage_id, v.basis_version) for v in current.values()])
    passed = (
        sa.select(product_of.label("product_id"), Check.person_id)
        .where(Check.status == "passed", col(Check.lineage_id).in_(lineages), Check.version >= basis_of)
        .distinct()
        .subquery("passed")
    )
    stmt = (
        sa.select(
            pairs.c.product_id, pairs.c.department_id, sa.func.count(), sa.func.count(passed.c.person_id)
        )
        .select_from(pairs)
        .outerjoin(
            passed,
            sa.and_(passed.c.product_id == pairs.c.product_id, passed.c.person_id == pairs.c.person_id),
        )
        .group_by(pairs.c.product_id, pairs.c.department_id)
    )
    rows = (await session.execute(stmt)).all()
    products = await products_service.products_by_ids(
        session, principal, {v.product_id for v in current.values()}
    )
    names = await people_service.departments_by_ids(session, principal, [r[1] for r in rows if r[1]])
    per_product: dict[uuid.UUID, list[DepartmentShare]] = {p: [] for p in products}
    for product_id, department_id, audience, passed_count in rows:
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
