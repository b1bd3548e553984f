"""REST adapter for feedback: ingest (one or a batch), the hub's lists, triage and the loop, and
the weekly review (the digest and themes).

Item paths take `{feedback_id:uuid}`, so `/feedback/digest` and `/feedback/batch` never reach
them, in whatever order the routes are registered."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.problems import PROBLEM_TYPE_URI
from service.api.rest import NOT_MODIFIED, PageDep, ReadSessionDep, json, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.db import SessionDep
from service.feedback import bulk as bulk_service
from service.feedback import digest as digest_service
from service.feedback import ingest
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.feedback.schemas import (
    BatchResult,
    BulkItemRead,
    BulkRead,
    Digest,
    FeedbackBatch,
    FeedbackBulk,
    FeedbackCreate,
    FeedbackRead,
    FeedbackSource,
    FeedbackUpdate,
    LoopStage,
    ThemeCreate,
    ThemeMerge,
    ThemeRead,
    ThemeTransitionResult,
    Transition,
    TransitionResult,
)
from service.fields import Slug, Timestamp
from service.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["feedback"])
themes_router = APIRouter(prefix="/api/v1", tags=["themes"])
MARKDOWN = "text/markdown"

IfMatch = Annotated[
    str | None, Header(description="Optional: change only this version (the ETag you read; stale → 412).")
]


@router.get("/feedback", response_model=Page[FeedbackRead])
async def list_feedback(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status: LoopStage | None = None,
    source: FeedbackSource | None = None,
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

    with ingest.collector_paused():  # the key's fingerprint re-parses the whole body
        return await idempotent(request, principal, produce, key=idempotency_key)


def _wants_markdown(request: Request) -> bool:
    """`Accept: text/markdown` (listed before any JSON type) asks for the meeting agenda."""
    accept = request.headers.get("accept", "").lower()
    return MARKDOWN in accept and "application/json" not in accept.split(MARKDOWN)[0]


@router.get(
    "/feedback/digest",
    response_model=Digest,
    responses={200: {"content": {MARKDOWN: {"schema": {"type": "string"}}}}},
)
async def get_feedback_digest(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    since: Annotated[
        Timestamp | None, Query(description="Start of the window, inclusive (default: `until` − 7 days).")
    ] = None,
    until: Annotated[
        Timestamp | None, Query(description="End of the window, exclusive (default: now).")
    ] = None,
    product_key: Annotated[
        Slug | None, Query(description="Only items about this product (unknown product → 422).")
    ] = None,
) -> Response:
    """The weekly review (editors, managers, admins, scope feedback:read).

    Over items received in [since, until): the total, counts by source and by theme (items of
    merged themes count under the survivor; `key: null` is the unthemed ones), NPS (promoters
    9–10, passives 7–8, detractors 0–6; score = % promoters − % detractors, one decimal, null
    without responses), decisions made in the window; whatever the window, `loop_gaps` (implemented,
    not yet announced, oldest first) and `overdue` (a stage past its due time, longest overdue
    first), up to 100 ids each; the median days from received to announced for items announced
    in the window. `since` must be before `until` (else 422).

    `themes` ranks the window's themes by revenue-weighted demand, per currency and without
    exchange rates: `currencies` orders the currencies by the demand they carry (theme-account
    pairs whose account reports revenue in them); themes compare by their distinct accounts' revenue in the first, then the
    next, then by distinct accounts, then by items (unthemed last). `decisions` lists each
    decision once per theme (with its item count and latest rationale), not once per item.
    `product_key` narrows everything to one product's items.

    `Accept: text/markdown` returns the same as a 15-minute meeting agenda.
    """
    if _wants_markdown(request):
        agenda = await digest_service.digest_agenda(
            session, principal, since=since, until=until, product_key=product_key
        )
        return Response(agenda, media_type=f"{MARKDOWN}; charset=utf-8", headers={"Vary": "Accept"})
    result = await digest_service.weekly_digest(
        session, principal, since=since, until=until, product_key=product_key
    )
    return json(result, headers={"Vary": "Accept"})


@router.post("/feedback/bulk", response_model=BulkRead)
async def bulk_feedback(
    request: Request,
    body: FeedbackBulk,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Apply one action to up to 1,000 items: `assign_theme` (`theme_id`) or `transition` (`to`,
    and `decision` + `rationale` to decide, `message_id` to announce).

    Each item is checked as its single-item call would be (the same permission and rules) and
    applied entirely or not at all; `results` gives, in order, each item's HTTP `status` and,
    when refused, the RFC 9457 problem as `error` (e.g. 403, 404, 409). The answer is 200
    whatever the items' outcomes; a request wrong as a whole (an unknown action, more than
    1,000 ids, a field its action needs missing) is a 422 and changes nothing. Stop decisions
    propose drafts once per product (`proposals`). Accepts `Idempotency-Key`.
    """

    async def produce() -> Response:
        result = await bulk_service.bulk_feedback(session, principal, body)
        return json(
            BulkRead(
                results=[
                    BulkItemRead(
                        id=one.id,
                        status=one.status,
                        error=one.error.marshal(uri=PROBLEM_TYPE_URI) if one.error is not None else None,
                    )
                    for one in result.results
                ],
                proposals=result.proposals,
            )
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/feedback/{feedback_id:uuid}", response_model=FeedbackRead, responses=NOT_MODIFIED)
async def get_feedback(
    request: Request, feedback_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Get a feedback item (employees: only their own). Honours `If-None-Match`."""
    item = await feedback_service.get_feedback(session, principal, feedback_id)
    return resource_response(request, item, feedback_service.feedback_etag(item))


@router.patch("/feedback/{feedback_id:uuid}", response_model=FeedbackRead)
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


@router.post("/feedback/{feedback_id:uuid}/transition", response_model=TransitionResult)
async def transition_feedback(
    request: Request,
    feedback_id: uuid.UUID,
    body: Transition,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: IfMatch = None,
) -> Response:
    """Move an item one stage on: new → triaged → decided; a `build` decision → implemented →
    announced; a `stop` decision → announced directly (editors, managers, admins).

    Any other move is a 409 naming the `allowed` next stage. Deciding needs `decision`
    (build or stop) and `rationale`; announcing needs the `message_id` of a published
    message. Each step is recorded and sets `stage_due_at` for the next stage from the loop
    targets (null once announced). A stop decision answers `proposals`: a draft of the
    product's brief with the trade-off added under "what we give up", and a draft FAQ message,
    both written on the decider's behalf for an editor to review.
    """
    item = await feedback_service.transition_feedback(
        session, principal, feedback_id, body, if_match=if_match
    )
    return resource_response(request, item, feedback_service.feedback_etag(item))


# --- themes ------------------------------------------------------------------------------------


@themes_router.get("/themes", response_model=Page[ThemeRead])
async def list_themes(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    product_key: Slug | None = None,
    include_merged: Annotated[
        bool, Query(description="Also list themes merged into others (their items count under the survivor).")
    ] = False,
) -> Response:
    """List themes, oldest first, each with its items and distinct customer accounts (editors,
    managers, admins, scope feedback:read)."""
    result = await themes_service.list_themes(
        session, principal, page, product_key=product_key, include_merged=include_merged
    )
    return page_response(request, result)


@themes_router.post("/themes", status_code=201, response_model=ThemeRead)
async def create_theme(
    request: Request,
    body: ThemeCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a theme (editors, managers, admins). Accepts `Idempotency-Key`."""

    async def produce() -> Response:
        theme = await themes_service.create_theme(session, principal, body)
        return resource_response(
            request,
            theme,
            themes_service.theme_etag(theme),
            status_code=201,
            location=f"/api/v1/themes/{theme.id}",
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@themes_router.get("/themes/{theme_id}", response_model=ThemeRead, responses=NOT_MODIFIED)
async def get_theme(
    request: Request, theme_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Get a theme with its counts; a merged theme names its survivor and counts nothing.
    Honours `If-None-Match`."""
    theme = await themes_service.get_theme(session, principal, theme_id)
    return resource_response(request, theme, themes_service.theme_etag(theme))


@themes_router.post("/themes/{theme_id}/merge", response_model=ThemeRead)
async def merge_theme(
    request: Request, theme_id: uuid.UUID, body: ThemeMerge, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Merge this theme into another (editors, managers, admins) and get the survivor back.

    Every item moves to the survivor in one transaction, together with the items of themes
    merged into this one before; nothing is lost. Into itself → 422; this or the target
    already merged → 409.
    """
    survivor = await themes_service.merge_theme(session, principal, theme_id, body)
    return resource_response(request, survivor, themes_service.theme_etag(survivor))


@themes_router.post("/themes/{theme_id}/transition", response_model=ThemeTransitionResult)
async def transition_theme(
    request: Request, theme_id: uuid.UUID, body: Transition, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Decide on the theme: move every open item of it (and of themes merged into it) one stage
    on, in one transaction (editors, managers, admins); the body is an item's.

    Each moved item records its step; `skipped` counts the open items that cannot take this step
    from their stage. The theme keeps its `stage` and `decision`: items filed under it later
    (or merged in) follow it there. One `theme.transitioned` event, not one per item. Only
    forward (a stage reached already → 409); a merged theme → 409; what the step needs is as for
    an item (422). A stop decision answers `proposals` (drafts for an editor to review).
    """
    result = await themes_service.transition_theme(session, principal, theme_id, body)
    return json(result)
