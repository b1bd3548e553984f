"""REST adapter for briefs and their workflow."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, ReadSessionDep, json, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.briefs import service as briefs_service
from service.briefs.schemas import BriefCreate, BriefRead, BriefStatus, BriefUpdate, RequestChanges, Revise
from service.db import SessionDep
from service.fields import Locale, Slug
from service.pagination import Page
from service.review import Approval

router = APIRouter(prefix="/api/v1/briefs", tags=["briefs"])


def _one(request: Request, brief: BriefRead, status_code: int = 200) -> Response:
    location = f"/api/v1/briefs/{brief.id}" if status_code == 201 else None
    return resource_response(
        request, brief, briefs_service.brief_etag(brief), status_code=status_code, location=location
    )


@router.get("", response_model=Page[BriefRead])
async def list_briefs(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    product_key: Annotated[Slug | None, Query()] = None,
    status: Annotated[BriefStatus | None, Query()] = None,
    locale: Annotated[Locale | None, Query()] = None,
) -> Response:
    """List brief versions (employees and integrations see published ones)."""
    result = await briefs_service.list_briefs(
        session, principal, page, product_key=product_key, status=status, locale=locale
    )
    return page_response(request, result)


@router.post("", status_code=201, response_model=BriefRead)
async def create_brief(
    request: Request,
    body: BriefCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a draft brief (version 1). Inline evidence becomes evidence items."""

    async def produce() -> Response:
        return _one(request, await briefs_service.create_brief(session, principal, body), 201)

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/{brief_id}", response_model=BriefRead, responses=NOT_MODIFIED)
async def get_brief(
    request: Request, brief_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Get one brief version, with its freshness, speaking time and lint warnings."""
    return _one(request, await briefs_service.get_brief(session, principal, brief_id))


@router.patch("/{brief_id}", response_model=BriefRead)
async def update_brief(
    request: Request,
    brief_id: uuid.UUID,
    body: BriefUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: Annotated[str | None, Header(description="The ETag you last read (required).")] = None,
) -> Response:
    """Change a draft. Requires If-Match (428 without, 412 when stale); published versions are immutable."""
    return _one(
        request, await briefs_service.update_brief(session, principal, brief_id, body, if_match=if_match)
    )


@router.post("/{brief_id}/submit", response_model=BriefRead)
async def submit_brief(
    request: Request, brief_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Send a draft to review; 422 lists every missing part and the pitch's estimated speaking time."""
    return _one(request, await briefs_service.submit_brief(session, principal, brief_id))


@router.post("/{brief_id}/approve", response_model=BriefRead)
async def approve_brief(
    request: Request,
    brief_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[Approval | None, Body()] = None,
    if_match: Annotated[
        str | None, Header(description="Optional: publish only the version you reviewed (stale → 412).")
    ] = None,
) -> Response:
    """Approve a brief in review (neither by its author nor by its last editor → else 403):
    published now, superseding the previous published version, or `scheduled` until
    `publish_at`. Citing expired evidence needs `override_expired_evidence` (else 409 listing
    `expired_evidence_ids`)."""
    return _one(
        request, await briefs_service.approve_brief(session, principal, brief_id, body, if_match=if_match)
    )


@router.post("/{brief_id}/request-changes", response_model=BriefRead)
async def request_brief_changes(
    request: Request, brief_id: uuid.UUID, body: RequestChanges, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Send a brief in review back to draft, with a comment."""
    return _one(request, await briefs_service.request_changes(session, principal, brief_id, body))


@router.post("/{brief_id}/archive", response_model=BriefRead)
async def archive_brief(
    request: Request, brief_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Archive a version (archiving the published one withdraws the current pitch)."""
    return _one(request, await briefs_service.archive_brief(session, principal, brief_id))


@router.post("/{brief_id}/revise", status_code=201, response_model=BriefRead)
async def revise_brief(
    request: Request,
    brief_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[Revise | None, Body()] = None,
) -> Response:
    """Open the next draft version of a published brief (`change`: substantive by default, or minor)."""
    revised = await briefs_service.revise_brief(session, principal, brief_id, body or Revise())
    return _one(request, revised, 201)


@router.get("/{brief_id}/versions", response_model=Page[BriefRead])
async def list_brief_versions(
    request: Request, brief_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Every version of this brief the caller may see, oldest first."""
    versions = await briefs_service.list_versions(session, principal, brief_id)
    return json(Page(items=versions, next_cursor=None))
