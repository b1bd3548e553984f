"""Shared REST adapter helpers: page parameters, Link headers, ETag responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import pydantic_core
from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from service.concurrency import if_none_match_hits
from service.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, PageParams


# `async def`: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for an operation that only reads: its statements run without a transaction.

    Under READ COMMITTED each statement sees its own snapshot either way, so a transaction
    around a read gives it nothing, and costs two round trips per request on PostgreSQL
    (BEGIN, then ROLLBACK when the session closes) next to a page that is one query. Only for
    services that never write: autocommit would make each write its own transaction."""
    state = request.app.state
    async with state.sessionmaker(bind=state.read_engine) as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]


class JSONBytes(Response):
    """A JSON body already rendered to bytes."""

    media_type = "application/json"


def json(
    model: BaseModel | Any, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Render a read model (or plain JSON data) straight to bytes with pydantic-core.

    The one JSON path of the REST adapters: the service built and validated `model` already,
    so no `model_dump` → Python dicts → stdlib `json` round trip and no response-model
    validation (routes return a Response; `response_model` only documents them)."""
    if isinstance(model, BaseModel):
        body = model.__pydantic_serializer__.to_json(model)
    else:
        body = pydantic_core.to_json(model)
    return JSONBytes(body, status_code=status_code, headers=headers)


def public_url(request: Request, path: str, query: str = "") -> str:
    """The URL of `path` (an app path, e.g. /api/v1/people) as callers should use it.

    Absolute under the configured CUECARD_PUBLIC_URL, otherwise relative: never built from the
    request's Host header, which the caller controls (a forged Host would be echoed into links
    a client follows with its token)."""
    suffix = f"{path}?{query}" if query else path
    base = request.app.state.settings.public_url
    if base:
        return f"{base}{suffix}"
    return f"{request.scope.get('root_path', '')}{suffix}"


def page_response(request: Request, page: Page[Any]) -> Response:
    """A list page with an RFC 8288 `Link: <...>; rel="next"` header when there is more."""
    headers = {}
    if page.next_cursor:
        query = request.url.include_query_params(cursor=page.next_cursor).query
        headers["Link"] = f'<{public_url(request, request.scope["path"], query)}>; rel="next"'
    return json(page, headers=headers)


# For GET routes answered by `resource_response`: a matching If-None-Match gets a bodiless 304.
# Declaring this response is what makes a route honour If-None-Match (see `resource_response`)
# and what documents the header on it (service/api/openapi.py): one marker for both.
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: `If-None-Match` names the current ETag."}
}


def declares_not_modified(route: Any) -> bool:
    """Whether a route declares a 304 response, and so honours (and documents) If-None-Match."""
    responses = getattr(route, "responses", None) or {}
    return 304 in responses or "304" in responses


def resource_response(
    request: Request, model: BaseModel, etag: str, *, status_code: int = 200, location: str | None = None
) -> Response:
    """A single resource with its ETag; 304 when the caller already holds this version."""
    headers = {"ETag": etag}
    if location:
        headers["Location"] = location
    if (
        request.method == "GET"
        and declares_not_modified(request.scope.get("route"))
        and if_none_match_hits(request.headers.get("if-none-match"), etag)
    ):
        return Response(status_code=304, headers=headers)
    return json(model, status_code=status_code, headers=headers)
