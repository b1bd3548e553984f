"""Evidence: first-class claims with an owner and a verify-by date."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.db import transactional, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.evidence import policies, repository
from service.evidence.freshness import freshness as freshness  # re-exported: briefs, messages use it
from service.evidence.freshness import is_expired, today
from service.evidence.models import Evidence
from service.evidence.schemas import EvidenceCreate, EvidenceRead, EvidenceRef, EvidenceVerify
from service.pagination import Page, PageParams
from service.pitch import projection as pitch_projection
from service.reads import as_dict

DEFAULT_VERIFY_DAYS = 90


def to_read(evidence: Evidence | sa.Row[Any]) -> EvidenceRead:
    return EvidenceRead.model_validate({**as_dict(evidence), "expired": is_expired(evidence.verify_by)})


def _visible_to(principal: Principal) -> sa.ColumnElement[bool] | None:
    """The SQL condition for what this caller may see; None when it sees everything."""
    if policies.sees_all(principal):
        return None
    return repository.published_or_owned(principal.person_id)


def _new_item(principal: Principal, data: EvidenceCreate) -> Evidence:
    return Evidence(**data.model_dump(exclude={"owner_id"}), owner_id=data.owner_id or principal.person_id)


async def _require_owners(
    session: AsyncSession, principal: Principal, owners: dict[str, uuid.UUID | None]
) -> None:
    """Refuses an `owner_id` that names no one (a 422 on that field, not a foreign-key 500)."""
    from service.people import service as people_service

    named = {field: owner for field, owner in owners.items() if owner is not None}
    found = await people_service.existing_person_ids(session, principal, named.values())
    missing = [field_error(field, "no such person") for field, owner in named.items() if owner not in found]
    if missing:
        raise Invalid("The evidence owner does not exist.", errors=missing)


async def list_evidence(
    session: AsyncSession, principal: Principal, params: PageParams, *, expired: bool | None = None
) -> Page[EvidenceRead]:
    """Lists evidence items, oldest first; `expired=true` lists the ones to re-verify."""
    if not policies.can_read(principal):
        raise Forbidden("This caller may not read evidence.")
    page = await repository.list_evidence(
        session, params, expired_before=today() if expired else None, visible=_visible_to(principal)
    )
    return Page(items=[to_read(e) for e in page.rows], next_cursor=page.next_cursor)


async def get_evidence(session: AsyncSession, principal: Principal, evidence_id: uuid.UUID) -> EvidenceRead:
    """Gets one evidence item; one cited only by unpublished work does not exist for employees."""
    evidence = (
        await repository.read_row(session, evidence_id, visible=_visible_to(principal))
        if policies.can_read(principal)
        else None
    )
    if evidence is None:
        raise NotFound("No such evidence item.")
    return to_read(evidence)


async def evidence_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, EvidenceRead]:
    """Gets many evidence items at once (for briefs, messages and DataLoaders)."""
    if not policies.can_read(principal):
        return {}
    found = await repository.by_ids(session, ids, visible=_visible_to(principal))
    return {key: to_read(e) for key, e in found.items()}


@transactional
async def create_evidence(session: AsyncSession, principal: Principal, data: EvidenceCreate) -> EvidenceRead:
    """Creates an evidence item."""
    if not policies.can_write(principal):
        raise Forbidden("Only editors and admins record evidence.")
    await _require_owners(session, principal, {"owner_id": data.owner_id})
    evidence = _new_item(principal, data)
    session.add(evidence)
    return to_read(evidence)


@transactional
async def resolve_citations(
    session: AsyncSession, principal: Principal, items: Sequence[EvidenceCreate | EvidenceRef], *, field: str
) -> list[uuid.UUID]:
    """Turns inline items into stored evidence and checks cited ids exist."""
    cited = [item.id for item in items if isinstance(item, EvidenceRef)]
    found = await repository.by_ids(session, cited)
    missing = [
        field_error(f"{field}.{index}.id", "no such evidence item")
        for index, item in enumerate(items)
        if isinstance(item, EvidenceRef) and item.id not in found
    ]
    if missing:
        raise Invalid("Some cited evidence does not exist.", errors=missing)
    await _require_owners(
        session,
        principal,
        {
            f"{field}.{index}.owner_id": item.owner_id
            for index, item in enumerate(items)
            if isinstance(item, EvidenceCreate)
        },
    )
    ids: list[uuid.UUID] = []
    for item in items:
        if isinstance(item, EvidenceRef):
            ids.append(item.id)
        else:
            evidence = _new_item(principal, item)
            session.add(evidence)
            ids.append(evidence.id)
    await session.flush()
    return list(dict.fromkeys(ids))  # cite each item once, in order


async def require_existing(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID], *, field: str = "evidence_ids"
) -> None:
    """Refuses citations of evidence ids that do not exist."""
    found = await repository.by_ids(session, ids)
    missing = [
        field_error(f"{field}.{i}", "no such evidence item") for i, e in enumerate(ids) if e not in found
    ]
    if missing:
        raise Invalid("Some cited evidence does not exist.", errors=missing)


@transactional
async def verify_evidence(
    session: AsyncSession, principal: Principal, evidence_id: uuid.UUID, data: EvidenceVerify
) -> EvidenceRead:
    """Re-verifies a claim and sets the next date it must be checked."""
    evidence = (
        await repository.get(session, evidence_id, visible=_visible_to(principal))
        if policies.can_read(principal)
        else None
    )
    if evidence is None:
        raise NotFound("No such evidence item.")
    if not policies.can_verify(principal, evidence.owner_id):
        raise Forbidden("Only the claim's owner, editors and admins verify evidence.")
    next_date = data.verify_by or today() + timedelta(days=DEFAULT_VERIFY_DAYS)
    if next_date <= today():
        raise Invalid(
            "verify_by must be in the future.", errors=[field_error("verify_by", "must be after today")]
        )
    evidence.verify_by = next_date
    evidence.verified_at = utcnow()
    evidence.verified_by_id = principal.person_id
    evidence.updated_at = utcnow()
    evidence.revision += 1
    await pitch_projection.refresh_for_evidence(session, evidence_ids=[evidence.id])
    return to_read(evidence)


@transactional
async def replace_evidence(
    session: AsyncSession, principal: Principal, evidence_id: uuid.UUID, data: EvidenceCreate
) -> EvidenceRead:
    """Replaces a claim with a new one. Versions not yet published that cite it cite the new one,
    edited by the replacer (four eyes); a published brief or message stays as published and a
    new minor version citing the new claim opens for review."""
    from service.briefs import citations as brief_citations
    from service.messages import citations as message_citations

    if not policies.can_write(principal):
        seen = policies.can_read(principal) and await repository.get(
            session, evidence_id, visible=_visible_to(principal)
        )
        if seen:
            raise Forbidden("Only editors and admins replace evidence.")
        raise NotFound("No such evidence item.")
    old = await repository.get(session, evidence_id, for_update=True)  # one replacement wins
    if old is None:
        raise NotFound("No such evidence item.")
    if old.replaced_by_id is not None:
        raise Conflict(f"This item was already replaced by {old.replaced_by_id}.")
    await _require_owners(session, principal, {"owner_id": data.owner_id})
    new = _new_item(principal, data)
    session.add(new)
    await session.flush()
    old.replaced_by_id = new.id
    old.updated_at = utcnow()
    old.revision += 1
    # What is published keeps citing the old claim until a new version is approved.
    await brief_citations.follow_replacement(session, principal, old.id, new.id)
    await message_citations.follow_replacement(session, principal, old.id, new.id)
    return to_read(new)
