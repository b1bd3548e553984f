"""REST adapter for the current pitch: the hottest read path (CRM side panels)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from service.api.query import check_query_parameters
from service.api.rest import json
from service.auth.dependencies import PrincipalDep, required_principal, resolve_principal
from service.concurrency import if_none_match_hits
from service.db import SessionDep
from service.fields import Slug
from service.pitch import service as pitch_service
from service.pitch.schemas import PitchRead, PitchRequest, UsageCreate, UsageRecorded, UsageSummary

router = APIRouter(prefix="/api/v1/pitch", tags=["pitch"])
# Clients may keep a copy but must revalidate: a 304 costs little, and a publish shows at once.
CACHE_CONTROL = "private, max-age=0, must-revalidate"
# The HTML card is a static fragment with inline styles: no script may ever run in it, it
# loads nothing, and it is sandboxed. No frame-ancestors: CRMs embed it (their origins are
# not ours to list), and with nothing active inside, being framed gives nothing away.
CARD_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; sandbox"


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split("text/html")[0]


def _parameters() -> list[dict]:
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


async def get_current_pitch(request: Request) -> Response:
    """The current pitch for a product (JSON, or an embeddable HTML card with `Accept: text/html`).

    The hottest read path. It is served as a plain Starlette route matched before any other
    (see `fast_routes`): FastAPI's routing and dependency solving measured at over half of
    its CPU time. So the caller and the parameters are resolved here, by the same functions
    and schema the rest of the API uses.
    """
    # This route bypasses FastAPI (and so the app-wide dependency): the same rule, at the same
    # point, before the caller is resolved, as for every other operation.
    check_query_parameters(request.scope["query_string"], QUERY_PARAMETERS)
    principal = await required_principal(await resolve_principal(request))
    try:
        query = PitchRequest.model_validate({**request.query_params, **request.path_params})
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**e, "loc": ("path" if e["loc"][0] == "product_key" else "query", *e["loc"])}
                for e in exc.errors()
            ]
        ) from exc
    pitch = await pitch_service.current_pitch(
        request.app.state.sessionmaker,
        principal,
        cache=request.app.state.pitch_cache,
        product_key=query.product_key,
        locale=query.locale,
        audience=query.audience,
        segment=query.segment,
        competitor=query.competitor,
        media="html" if _wants_html(request) else "json",
    )
    headers = {"ETag": pitch.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept, Authorization"}
    if pitch.media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = CARD_POLICY
    if if_none_match_hits(request.headers.get("if-none-match"), pitch.etag):
        return Response(status_code=304, headers=headers)
    return Response(pitch.body, media_type=pitch.media_type, headers=headers)


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


class _LabelledRoute(Route):
    """A plain route that names itself in the scope, as FastAPI's do (metrics by template)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


def fast_routes() -> list[Route]:
    """... and served, first, by this plain route (the same endpoint, without FastAPI's layers)."""
    return [_LabelledRoute(PITCH_PATH, get_current_pitch, methods=["GET"], name="get_current_pitch")]


@router.post("/{product_key}/usage", status_code=201, response_model=UsageRecorded)
async def record_pitch_usage(
    product_key: Slug, body: UsageCreate, session: SessionDep, principal: PrincipalDep
):
    """Report that the pitch was shown, used or copied in a CRM (scope pitch:read)."""
    return json(await pitch_service.record_usage(session, principal, product_key, body), status_code=201)


@router.get("/{product_key}/usage", response_model=UsageSummary)
async def get_pitch_usage(product_key: Slug, session: SessionDep, principal: PrincipalDep):
    """Usage of the pitch per version, locale, audience and event (editors and admins)."""
    return json(await pitch_service.usage_summary(session, principal, product_key))
