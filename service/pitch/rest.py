"""REST adapter for the current pitch: the hottest read path (CRM side panels)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi_problem.handler import ExceptionHandler
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.middleware import Edge, nul_in_url
from service.api.query import check_query_parameters
from service.api.rest import json
from service.auth.dependencies import PrincipalDep, principal_of, required_principal
from service.concurrency import if_none_match_hits
from service.db import SessionDep
from service.errors import Invalid
from service.fields import Slug
from service.pitch import service as pitch_service
from service.pitch.read import RenderedPitch
from service.pitch.schemas import PitchRead, PitchRequest, UsageCreate, UsageRecorded, UsageSummary

router = APIRouter(prefix="/api/v1/pitch", tags=["pitch"])
RawHeaders = list[tuple[bytes, bytes]]  # ASGI response headers
# Clients may keep a copy but must revalidate: a 304 costs little, and a publish shows at once.
CACHE_CONTROL = "private, max-age=0, must-revalidate"
# The HTML card is a static fragment with inline styles: no script may ever run in it, it
# loads nothing, and it is sandboxed. No frame-ancestors: CRMs embed it (their origins are
# not ours to list), and with nothing active inside, being framed gives nothing away.
CARD_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; sandbox"


def _parameters() -> list[dict[str, Any]]:
    schema = PitchRequest.model_json_schema()
    return [
        {
            "name": name,
            "in": "path" if name == "product_key" else "query",
            "required": name == "product_key",
            "schema": prop,
            "description": prop.get("description", ""),
        }
        for name, prop in schema["properties"].items()
    ]


QUERY_PARAMETERS = frozenset(PitchRequest.model_fields) - {"product_key"}
VARY = (b"vary", b"Accept, Authorization")
CACHE = (b"cache-control", CACHE_CONTROL.encode())
CSP = (b"content-security-policy", CARD_POLICY.encode())
# Validated parameters by (product key, raw query): CRMs repeat the same few, and validation
# is a pure function of them. Only valid ones are kept; a bad one is validated (and refused)
# every time.
_validated: dict[tuple[str, bytes], PitchRequest] = {}
_MAX_VALIDATED = 4096
_MAX_KEPT_QUERY = 512  # bytes: longer (repeated parameters) is validated each time, not kept
# Response headers by ETag and media type (200, 304): built once per rendered variant.
_headers: dict[tuple[str, str, str], tuple[RawHeaders, RawHeaders]] = {}


def _wants_html(accept: str) -> bool:
    return "text/html" in accept and "application/json" not in accept.split("text/html")[0]


def _parameters_of(product_key: str, query_string: bytes) -> PitchRequest:
    try:
        query = PitchRequest.model_validate(
            {
                **dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)),
                "product_key": product_key,
            }
        )
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**e, "loc": ("path" if e["loc"][0] == "product_key" else "query", *e["loc"])}
                for e in exc.errors()
            ]
        ) from exc
    if len(query_string) <= _MAX_KEPT_QUERY:
        if len(_validated) >= _MAX_VALIDATED:
            _validated.clear()
        _validated[(product_key, query_string)] = query
    return query


def _response_headers(pitch: RenderedPitch) -> tuple[RawHeaders, RawHeaders]:
    key = (pitch.etag, pitch.media_type, pitch.locale)
    headers = _headers.get(key)
    if headers is None:
        common = [(b"etag", pitch.etag.encode()), CACHE, VARY, (b"content-language", pitch.locale.encode())]
        if pitch.media_type.startswith("text/html"):
            common.append(CSP)
        length = (b"content-length", str(len(pitch.body)).encode())
        headers = [*common, length, (b"content-type", pitch.media_type.encode())], common
        if len(_headers) >= _MAX_VALIDATED:
            _headers.clear()
        _headers[key] = headers
    return headers


async def _answer(scope: Scope) -> tuple[int, RawHeaders, bytes]:
    """Status, raw headers and body of a pitch read (a 304 when If-None-Match names it)."""
    product_key: str = scope["path_params"]["product_key"]
    query_string: bytes = scope["query_string"]
    query = _validated.get((product_key, query_string))
    if query is None:
        # This route bypasses FastAPI (and so the app-wide dependency): the same rule, at the
        # same point, before the caller is resolved, as for every other operation.
        check_query_parameters(query_string, QUERY_PARAMETERS)
    accept = if_none_match = authorization = None
    for name, value in scope["headers"]:  # the first of each, as Headers.get gives it
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"accept" and accept is None:
            accept = value.decode("latin-1")
        elif name == b"if-none-match" and if_none_match is None:
            if_none_match = value.decode("latin-1")
    state = scope["app"].state
    principal = await required_principal(await principal_of(state, authorization))
    if query is None:
        query = _parameters_of(product_key, query_string)
    pitch = await pitch_service.current_pitch(
        state.sessionmaker,
        principal,
        cache=state.pitch_cache,
        product_key=query.product_key,
        locale=query.locale,
        audience=query.audience,
        segment=query.segment,
        competitor=query.competitor,
        account=query.account,
        media="html" if accept and _wants_html(accept) else "json",
    )
    full, revalidated = _response_headers(pitch)
    if if_none_match_hits(if_none_match, pitch.etag):
        return 304, revalidated, b""
    return 200, full, pitch.body


class _ServeCurrentPitch:
    """The pitch read as a bare ASGI app: no Request or Response objects, headers built once
    per variant; the URL's NUL check and the problem responses of the layers it skips."""

    def __init__(self, handler: ExceptionHandler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = _DOCUMENTED  # metrics and logs by route template, as FastAPI's routes
        try:
            nul = nul_in_url(scope)
            if nul is not None:
                raise Invalid("The URL contains a NUL character; see `errors`.", errors=nul)
            status, headers, body = await _answer(scope)
        except Exception as exc:
            await self.handler(Request(scope), exc)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def get_current_pitch(request: Request) -> Response:
    """The current pitch for a product (JSON, or an embeddable HTML card with `Accept: text/html`)."""
    # The hottest read path: a GET is answered before FastAPI's own layers (`fast_path`; its
    # middleware, routing and dependency solving measured at most of its CPU time), by the
    # same functions and schema the rest of the API uses. This route documents it.
    status, headers, body = await _answer(request.scope)
    response = Response(body, status_code=status)
    response.raw_headers = list(headers)
    return response


PITCH_PATH = "/api/v1/pitch/{product_key}"
# Documented (and routable) through FastAPI like every other operation ...
router.add_api_route(
    "/{product_key}",
    get_current_pitch,
    methods=["GET"],
    response_model=PitchRead,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        304: {"description": "Not modified"},
    },
    openapi_extra={"parameters": _parameters()},
)


_DOCUMENTED = next(r for r in router.routes if getattr(r, "name", None) == "get_current_pitch")
_PREFIX = "/api/v1/pitch/"


def fast_path(handler: ExceptionHandler) -> Callable[[Scope], ASGIApp | None]:
    """... and served by this: for a GET (or HEAD) of the pitch, the app to answer it with,
    outside FastAPI's stack (the app calls it first, see service/main.py); None for any other
    request. Only our Edge wraps it: request id, nosniff, metrics and the access log."""
    app = Edge(_ServeCurrentPitch(handler))

    def route(scope: Scope) -> ASGIApp | None:
        if scope["type"] != "http":
            return None
        path: str = scope["path"]
        if (
            path.startswith(_PREFIX)
            and (scope["method"] == "GET" or scope["method"] == "HEAD")
            and not scope.get("root_path")  # behind a path prefix: FastAPI's routing strips it
        ):
            product_key = path[len(_PREFIX) :]
            if product_key and "/" not in product_key:
                scope["path_params"] = {"product_key": product_key}
                return app
        return None

    return route


@router.post("/{product_key}/usage", status_code=201, response_model=UsageRecorded)
async def record_pitch_usage(
    product_key: Slug, body: UsageCreate, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Report that the pitch was shown, used or copied in a CRM (scope pitch:read)."""
    return json(await pitch_service.record_usage(session, principal, product_key, body), status_code=201)


@router.get("/{product_key}/usage", response_model=UsageSummary)
async def get_pitch_usage(product_key: Slug, session: SessionDep, principal: PrincipalDep) -> Response:
    """Usage of the pitch per version, locale, audience and event (editors and admins)."""
    return json(await pitch_service.usage_summary(session, principal, product_key))
