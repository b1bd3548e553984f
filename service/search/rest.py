"""REST adapter for search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service.api.rest import PageDep, page_response
from service.auth.dependencies import PrincipalDep
from service.db import SessionDep
from service.pagination import Page
from service.search import service as search_service
from service.search.schemas import SearchHit

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.get("", response_model=Page[SearchHit])
async def search(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    q: Annotated[str, Query(description="Words to find (Japanese, English or both); every one must match.")],
    types: Annotated[
        str | None,
        Query(description="Comma list of brief, message, evidence, feedback, theme (default: all)."),
    ] = None,
    product_key: Annotated[str | None, Query(max_length=64)] = None,
    locale: Annotated[
        str | None, Query(max_length=35, description="Briefs and messages in this locale (others have none).")
    ] = None,
) -> Response:
    """Search what the caller may read: best match first, then by type and id."""
    # A session with a transaction (not the read session's autocommit): the candidates' read
    # sets its planner mode for itself only (SET LOCAL, service/search/repository.py).
    return page_response(
        request,
        await search_service.search(
            session, principal, q, page, types=types, product_key=product_key, locale=locale
        ),
    )
