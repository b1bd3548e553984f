"""REST adapter for feedback items: ingest (one or a batch), the hub's lists, triage and the loop."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, json, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.db import SessionDep
from service.feedback import service as feedback_service
from service.feedback.schemas import (
    BatchResult,
    FeedbackBatch,
    FeedbackCreate,
    FeedbackRead,
    FeedbackUpdate,
    Source,
    Stage,
    Transition,
)
from service.fields import Slug, Timestamp
from service.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["feedback"])

IfMatch = Annotated[
    str | None, Header(description="Optional: change only this version (the ETag you read; stale → 412).")
]


@router.get("/feedback", response_model=Page[FeedbackRead])
async def list_feedback(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status: Stage | None = None,
    source: Source | None = None,
    product_key: Slug | None = None,
    theme_id: uuid.UUID | None = None,
    since: Annotated[
        Timestamp | None, Query(description="Only items received at or after this time (RFC 3339).")
    ] = None,
) -> Response:
    """List feedback items, oldest first. Editors, managers, admins and `feedback:read`
    integrations see every item; an employee sees the items they filed."""
    result = await feedback_service.list_feedback(
        session,
        principal,
        page,
        status=status,
        source=source,
        product_key=product_key,
        theme_id=theme_id,
        since=since,
    )
    return page_response(request, result)


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackRead,
    responses={200: {"description": "The same source and external_id existed: updated or unchanged."}},
)
async def create_feedback(
    request: Request,
    body: FeedbackCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """File one piece of customer voice (any person; integrations with `feedback:write`).

    201 when new; 200 when an item with the same `source` and `external_id` existed (it is
    updated if anything differs). People file `sales`, `interview` and `other` and never send
    `external_id` (422): the service makes one (`cuecard:…`, a prefix integrations may not
    use). Only integrations, editors and admins may name someone else in `filed_by_email`.
    Accepts `Idempotency-Key`.
    """

    async def produce() -> Response:
        item, outcome = await feedback_service.file_feedback(session, principal, body)
        return resource_response(
            request,
            item,
            feedback_service.feedback_etag(item),
            status_code=201 if outcome == "created" else 200,
            location=f"/api/v1/feedback/{item.id}",
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.post("/feedback/batch", response_model=BatchResult)
async def ingest_feedback_batch(
    request: Request,
    body: FeedbackBatch,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upsert up to 10,000 items by `source` + `external_id`, in one transaction.

    Each item is validated on its own: good items are kept, bad ones are reported by `index`
    with their `errors` and write nothing. The counts say what happened: `created`, `updated`
    (something differed) and `unchanged` (re-sent as it was). Items without `external_id` get
    one derived from the caller and the content, so re-sending the same batch adds nothing
    (people's items are always keyed this way, under `cuecard:`). Accepts `Idempotency-Key`
    (same key and body → the first response again).
    """

    async def produce() -> Response:
        return json(await feedback_service.ingest_batch(session, principal, body.items))

    with feedback_service.collector_paused():  # the key's fingerprint re-parses the whole body
        return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/feedback/{feedback_id}", response_model=FeedbackRead, responses=NOT_MODIFIED)
async def get_feedback(
    request: Request, feedback_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Get a feedback item (employees: only their own). Honours `If-None-Match`."""
    item = await feedback_service.get_feedback(session, principal, feedback_id)
    return resource_response(request, item, feedback_service.feedback_etag(item))


@router.patch("/feedback/{feedback_id}", response_model=FeedbackRead)
async def update_feedback(
    request: Request,
    feedback_id: uuid.UUID,
    body: FeedbackUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: IfMatch = None,
) -> Response:
    """Set an item's theme, tags or product (editors, managers, admins); `If-Match` honoured.
    A theme that was merged files the item under its survivor."""
    item = await feedback_service.update_feedback(session, principal, feedback_id, body, if_match=if_match)
    return resource_response(request, item, feedback_service.feedback_etag(item))


@router.post("/feedback/{feedback_id}/transition", response_model=FeedbackRead)
async def transition_feedback(
    request: Request,
    feedback_id: uuid.UUID,
    body: Transition,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: IfMatch = None,
) -> Response:
    """Move an item one stage on: new → triaged → decided → implemented → announced
    (editors, managers, admins).

    Any other move is a 409 naming the `allowed` next stage. Deciding needs `decision`
    (build or stop) and `rationale`; announcing needs the `message_id` of a published
    message. Each step is recorded and sets `stage_due_at` for the next stage from the loop
    targets (null once announced).
    """
    item = await feedback_service.transition_feedback(
        session, principal, feedback_id, body, if_match=if_match
    )
    return resource_response(request, item, feedback_service.feedback_etag(item))
