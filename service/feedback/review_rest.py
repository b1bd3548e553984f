"""REST adapter for the weekly review: themes and the digest.

Registered before the feedback router: `/api/v1/feedback/digest` must be matched before
`/api/v1/feedback/{feedback_id}`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, json, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.db import SessionDep
from service.feedback import digest as digest_service
from service.feedback import themes as themes_service
from service.feedback.schemas import Digest, ThemeCreate, ThemeMerge, ThemeRead
from service.fields import Slug, Timestamp
from service.pagination import Page

router = APIRouter(prefix="/api/v1")
MARKDOWN = "text/markdown"


def _wants_markdown(request: Request) -> bool:
    """`Accept: text/markdown` (listed before any JSON type) asks for the meeting agenda."""
    accept = request.headers.get("accept", "").lower()
    return MARKDOWN in accept and "application/json" not in accept.split(MARKDOWN)[0]


@router.get(
    "/feedback/digest",
    tags=["feedback"],
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
) -> Response:
    """The weekly review (editors, managers, admins, scope feedback:read).

    Over items received in [since, until): the total, counts by source and by theme (items of
    merged themes count under the survivor; `key: null` is the unthemed ones), NPS (promoters
    9–10, passives 7–8, detractors 0–6; score = % promoters − % detractors, one decimal, null
    without responses), decisions made in the window; whatever the window, `loop_gaps` (implemented,
    not yet announced, oldest first) and `overdue` (a stage past its due time, longest overdue
    first), up to 100 ids each; the median days from received to announced for items announced
    in the window. `since` must be before `until` (else 422).

    `Accept: text/markdown` returns the same as a 15-minute meeting agenda.
    """
    if _wants_markdown(request):
        agenda = await digest_service.digest_agenda(session, principal, since=since, until=until)
        return Response(agenda, media_type=f"{MARKDOWN}; charset=utf-8", headers={"Vary": "Accept"})
    result = await digest_service.weekly_digest(session, principal, since=since, until=until)
    return json(result, headers={"Vary": "Accept"})


@router.get("/themes", tags=["themes"], response_model=Page[ThemeRead])
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


@router.post("/themes", tags=["themes"], status_code=201, response_model=ThemeRead)
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


@router.get("/themes/{theme_id}", tags=["themes"], response_model=ThemeRead, responses=NOT_MODIFIED)
async def get_theme(
    request: Request, theme_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Get a theme with its counts; a merged theme names its survivor and counts nothing.
    Honours `If-None-Match`."""
    theme = await themes_service.get_theme(session, principal, theme_id)
    return resource_response(request, theme, themes_service.theme_etag(theme))


@router.post("/themes/{theme_id}/merge", tags=["themes"], response_model=ThemeRead)
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
