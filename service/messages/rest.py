"""REST adapter for messages and the value-word lint."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, ReadSessionDep, json, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.db import SessionDep
from service.fields import Locale, Slug
from service.messages import service as messages_service
from service.messages.schemas import (
    Audience,
    LintRequest,
    LintResponse,
    MessageCreate,
    MessageKind,
    MessageRead,
    MessageStatus,
    MessageUpdate,
    RequestChanges,
    Revise,
)
from service.pagination import Page
from service.review import Approval

router = APIRouter(prefix="/api/v1", tags=["messages"])

IfMatch = Annotated[
    str | None, Header(description="The ETag you last read; required on PATCH (missing → 428, stale → 412).")
]


@router.get("/messages", response_model=Page[MessageRead])
async def list_messages(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    kind: MessageKind | None = None,
    status: Annotated[
        MessageStatus | None, Query(description="Employees and integrations see published messages only.")
    ] = None,
    product_key: Slug | None = None,
    audience: Annotated[
        Audience | None,
        Query(description='A department key (also matches messages for "all"), or `all`.'),
    ] = None,
    locale: Locale | None = None,
    brief_id: uuid.UUID | None = None,
) -> Response:
    """List messages, oldest first, by kind, status, product, audience, locale or brief."""
    result = await messages_service.list_messages(
        session,
        principal,
        page,
        kind=kind,
        status=status,
        product_key=product_key,
        audience=audience,
        locale=locale,
        brief_id=brief_id,
    )
    return page_response(request, result)


@router.post("/messages", status_code=201, response_model=MessageRead)
async def create_message(
    request: Request,
    body: MessageCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a draft message (editor, admin). Accepts `Idempotency-Key`.

    Value translations need `feature_term`, `value_statement` and `metric`; `warnings` lists
    feature words that still lack a measurable outcome.
    """

    async def produce() -> Response:
        message = await messages_service.create_message(session, principal, body)
        return resource_response(
            request, message, message.etag, status_code=201, location=f"/api/v1/messages/{message.id}"
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.post("/messages/lint", response_model=LintResponse)
async def lint_message(request: Request, body: LintRequest, principal: PrincipalDep) -> Response:
    """Find feature words without a measurable outcome in a text (word lists per locale)."""
    return json(messages_service.lint_text(principal, body, word_lists=request.app.state.word_lists))


@router.get("/messages/{message_id}", response_model=MessageRead, responses=NOT_MODIFIED)
async def get_message(
    request: Request, message_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Get a message (drafts: editors, managers and admins). Honours `If-None-Match`."""
    message = await messages_service.get_message(session, principal, message_id)
    return resource_response(request, message, message.etag)


@router.get("/messages/{message_id}/versions", response_model=Page[MessageRead])
async def list_message_versions(
    request: Request, message_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Every version of this message the caller may see, oldest first."""
    versions = await messages_service.list_versions(session, principal, message_id)
    return json(Page(items=versions, next_cursor=None))


@router.patch("/messages/{message_id}", response_model=MessageRead)
async def update_message(
    request: Request,
    message_id: uuid.UUID,
    body: MessageUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: IfMatch = None,
) -> Response:
    """Change a draft message (editor, admin); `If-Match` required. Any other version is
    immutable (409): revise a published one."""
    message = await messages_service.update_message(session, principal, message_id, body, if_match=if_match)
    return resource_response(request, message, message.etag)


@router.post("/messages/{message_id}/submit", response_model=MessageRead)
async def submit_message(
    request: Request, message_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Send a draft to review (editor, admin)."""
    message = await messages_service.submit_message(session, principal, message_id)
    return resource_response(request, message, message.etag)


ApprovalBody = Annotated[Approval | None, Body()]
IfMatchApprove = Annotated[
    str | None, Header(description="Optional: approve only this version (stale → 412).")
]


@router.post("/messages/{message_id}/approve", response_model=MessageRead)
async def approve_message(
    request: Request,
    message_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    body: ApprovalBody = None,
    if_match: IfMatchApprove = None,
) -> Response:
    """Approve a message in review (manager, editor, admin; neither its author nor its last
    editor → else 403): published now, superseding the lineage's published version, or `scheduled` until
    `publish_at`. Citing expired evidence needs `override_expired_evidence` (else 409 listing
    `expired_evidence_ids`)."""
    message = await messages_service.publish_message(session, principal, message_id, body, if_match=if_match)
    return resource_response(request, message, message.etag)


@router.post("/messages/{message_id}/publish", response_model=MessageRead)
async def publish_message(
    request: Request,
    message_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    body: ApprovalBody = None,
    if_match: IfMatchApprove = None,
) -> Response:
    """The same approving step as `/approve`: a message in review, four eyes; 409 for a draft
    (submit it first) or one already published."""
    message = await messages_service.publish_message(session, principal, message_id, body, if_match=if_match)
    return resource_response(request, message, message.etag)


@router.post("/messages/{message_id}/request-changes", response_model=MessageRead)
async def request_message_changes(
    request: Request,
    message_id: uuid.UUID,
    body: RequestChanges,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    """Send a message in review back to draft, with a comment (manager, editor, admin)."""
    message = await messages_service.request_changes(session, principal, message_id, body)
    return resource_response(request, message, message.etag)


@router.post("/messages/{message_id}/withdraw", response_model=MessageRead)
async def withdraw_message(
    request: Request, message_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Take a published (or scheduled) message out of every pitch at once (editor, admin)."""
    message = await messages_service.withdraw_message(session, principal, message_id)
    return resource_response(request, message, message.etag)


@router.post("/messages/{message_id}/revise", status_code=201, response_model=MessageRead)
async def revise_message(
    request: Request,
    message_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[Revise | None, Body()] = None,
) -> Response:
    """Open the next draft version (a new id, the same `lineage_id`) of a published, withdrawn or
    expired message; the published one stays until the new version is approved."""
    message = await messages_service.revise_message(session, principal, message_id, body or Revise())
    return resource_response(
        request, message, message.etag, status_code=201, location=f"/api/v1/messages/{message.id}"
    )
