"""REST adapter for evidence items."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, ReadSessionDep, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.concurrency import etag
from service.db import SessionDep
from service.evidence import service as evidence_service
from service.evidence.schemas import EvidenceCreate, EvidenceRead, EvidenceVerify
from service.pagination import Page

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])


@router.get("", response_model=Page[EvidenceRead])
async def list_evidence(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    expired: Annotated[bool | None, Query(description="Only items past their verify-by date.")] = None,
) -> Response:
    """List evidence items."""
    return page_response(
        request, await evidence_service.list_evidence(session, principal, page, expired=expired)
    )


@router.post("", status_code=201, response_model=EvidenceRead)
async def create_evidence(
    request: Request,
    body: EvidenceCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record a claim: a metric, a customer case, a quote or a small win."""

    async def produce() -> Response:
        evidence = await evidence_service.create_evidence(session, principal, body)
        return resource_response(
            request,
            evidence,
            etag(evidence.revision),
            status_code=201,
            location=f"/api/v1/evidence/{evidence.id}",
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/{evidence_id}", response_model=EvidenceRead, responses=NOT_MODIFIED)
async def get_evidence(
    request: Request, evidence_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Get one evidence item."""
    evidence = await evidence_service.get_evidence(session, principal, evidence_id)
    return resource_response(request, evidence, etag(evidence.revision))


@router.post("/{evidence_id}/verify", response_model=EvidenceRead)
async def verify_evidence(
    request: Request,
    evidence_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[EvidenceVerify | None, Body()] = None,
) -> Response:
    """Re-verify a claim (owner, editors, admins) and set its next verify-by date (default +90 days)."""
    evidence = await evidence_service.verify_evidence(
        session, principal, evidence_id, body or EvidenceVerify()
    )
    return resource_response(request, evidence, etag(evidence.revision))


@router.post("/{evidence_id}/replace", status_code=201, response_model=EvidenceRead)
async def replace_evidence(
    request: Request,
    evidence_id: uuid.UUID,
    body: EvidenceCreate,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """Replace a claim with a new item; everything citing the old one cites the new one."""
    evidence = await evidence_service.replace_evidence(session, principal, evidence_id, body)
    return resource_response(
        request,
        evidence,
        etag(evidence.revision),
        status_code=201,
        location=f"/api/v1/evidence/{evidence.id}",
    )
