"""Loads the demo company through the same service functions the API uses."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from service.auth import cache as auth_cache
from service.auth.principal import Principal
from service.briefs import service as briefs_service
from service.briefs.schemas import BriefCreate
from service.db import transactional, utcnow
from service.demo import data
from service.demo.campaigns import load_campaigns
from service.demo.feedback import load_feedback
from service.evidence import service as evidence_service
from service.evidence.freshness import today
from service.evidence.schemas import EvidenceCreate
from service.messages import service as messages_service
from service.messages.schemas import MessageCreate
from service.pagination import PageParams
from service.people import service as people_service
from service.people.schemas import DepartmentCreate, PersonCreate, PersonRead
from service.pitch import cache as pitch_cache
from service.products import service as products_service
from service.products.schemas import ProductCreate
from service.review import Approval, ExpiredEvidenceOverride


@transactional
async def wipe(session: AsyncSession) -> None:
    """Delete every row of every table (the schema stays), in one transaction: the demo is then
    loaded into an empty database (`demo load --reset`)."""
    import service.main  # noqa: F401  every domain's models, so every table is in the metadata

    for table in reversed(SQLModel.metadata.sorted_tables):
        await session.execute(table.delete())
    # Running servers forget who and what they cached (tokens of deleted people and clients
    # stop working), on commit, as with any other change.
    await auth_cache._changed(session, "all")
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": pitch_cache.CHANNEL})


@transactional
async def load(session: AsyncSession, principal: Principal, *, if_empty: bool, reset: bool = False) -> bool:
    """Loads the demo data in one transaction (all of it or, on any error, nothing); with
    `if_empty`, only into a database without people; with `reset`, into an emptied one (in the
    same transaction: a load that fails leaves the data as it was)."""
    if reset:
        await wipe(session)
    if if_empty:
        existing = await people_service.list_people(session, principal, PageParams(limit=1))
        if existing.items:
            return False
    for fields in data.DEPARTMENTS:
        await people_service.create_department(session, principal, DepartmentCreate(**fields))
    products = {}
    for product in data.PRODUCTS:
        created = await products_service.create_product(session, principal, ProductCreate(**product))
        products[created.key] = created
    managers: dict[str | None, uuid.UUID] = {}
    people = {}
    today = utcnow().date()
    for email, name, role, department in data.PEOPLE:
        person = await people_service.create_person(
            session,
            principal,
            PersonCreate(
                email=email,
                display_name=name,
                role=role,
                department_key=department,
                manager_id=managers.get(department) if role != "manager" else None,
                locale="en" if name.isascii() else "ja",
                hire_date=today - timedelta(days=data.HIRED_DAYS_AGO[email])
                if email in data.HIRED_DAYS_AGO
                else None,
            ),
        )
        people[email] = person
        if role == "manager" and department:
            managers[department] = person.id
    brief_id = await _launch_story(session, people)
    await load_feedback(session, people, products)  # scene two: a week of the customer's voice
    await load_campaigns(session, people, brief_id)  # scene three: the training camp and the launch tour
    return True


async def _launch_story(session: AsyncSession, people: dict[str, PersonRead]) -> uuid.UUID:
    """Scene one: a published Japanese brief with value translations, one claim gone stale,
    and the company's own story in review. Returns the published brief's id."""
    editor = Principal.for_person(people["sato.misaki@hoshino.example"])
    sales_manager = Principal.for_person(people["suzuki.yui@hoshino.example"])
    product_editor = Principal.for_person(people["takahashi.ken@hoshino.example"])
    evidence = []
    for kind, claim, source, days in data.KURADESK_EVIDENCE:
        item = await evidence_service.create_evidence(
            session,
            editor,
            EvidenceCreate(kind=kind, claim=claim, source=source, verify_by=today() + timedelta(days)),
        )
        evidence.append({"id": item.id})
    brief = await briefs_service.create_brief(
        session, editor, BriefCreate(**data.KURADESK_BRIEF, evidence=evidence)
    )
    await briefs_service.submit_brief(session, editor, brief.id)
    # Four eyes: sales takes the baton, publishing over the stale quote with its reason on record.
    await briefs_service.approve_brief(
        session,
        sales_manager,
        brief.id,
        Approval(override_expired_evidence=ExpiredEvidenceOverride(reason=data.STALE_QUOTE_OVERRIDE)),
    )
    for message in data.KURADESK_MESSAGES:
        created = await messages_service.create_message(
            session,
            editor,
            MessageCreate(brief_id=brief.id, locale="ja", evidence_ids=[evidence[0]["id"]], **message),
        )
        # Four eyes: marketing submits, the product editor approves what marketing wrote.
        await messages_service.submit_message(session, editor, created.id)
        await messages_service.publish_message(session, product_editor, created.id, if_match=None)
    company = await briefs_service.create_brief(session, editor, BriefCreate(**data.COMPANY_BRIEF))
    await briefs_service.submit_brief(session, editor, company.id)
    return brief.id
