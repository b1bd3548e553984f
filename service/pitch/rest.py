"""REST adapter for the current pitch: the hottest read path (CRM side panels)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from service.api.rest import json
from service.auth.dependencies import PrincipalDep, required_principal, resolve_principal
from service.concurrency import if_none_match_hits
from service.db import SessionDep
from service.fields import Locale, Slug
from service.pitch import service as pitch_service
from service.pitch.schemas import PitchRead, UsageCreate, UsageRecorded, UsageSummary

router = APIRouter(prefix="/api/v1/pitch", tags=["pitch"])
# Clients may keep a copy but must revalidate: a 304 costs little, and a publish shows at once.
CACHE_CONTROL = "private, max-age=0, must-revalidate"


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split("text/html")[0]


class PitchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    locale: Locale | None = None
    audience: Annotated[
        str | None, Field(max_length=64, description="A department key: its key messages.")
    ] = None
    segment: Annotated[str | None, Field(max_length=100, description="The deal's customer segment.")] = None
    competitor: Annotated[str | None, Field(max_length=100, description="The competitor in the deal.")] = None


def _query_parameters() -> list[dict]:
    schema = PitchQuery.model_json_schema()
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": prop,
            "description": prop.get("description", ""),
        }
        for name, prop in schema["properties"].items()
    ]


@router.get(
    "/{product_key}",
    response_model=PitchRead,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        304: {"description": "Not modified"},
    },
    openapi_extra={"parameters": _query_parameters()},
)
async def get_current_pitch(request: Request, product_key: Slug):
    """The current pitch for a product (JSON, or an embeddable HTML card with `Accept: text/html`).

    The hottest read path: the caller and the query are resolved by hand here rather than by
    dependency injection, which measured at over half of this endpoint's CPU time.
    """
    principal = await required_principal(await resolve_principal(request))
    try:
        query = PitchQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from exc
    pitch = await pitch_service.current_pitch(
        request.app.state.sessionmaker,
        principal,
        cache=request.app.state.pitch_cache,
        product_key=product_key,
        locale=query.locale,
        audience=query.audience,
        segment=query.segment,
        competitor=query.competitor,
        media="html" if _wants_html(request) else "json",
    )
    headers = {"ETag": pitch.etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept, Authorization"}
    if if_none_match_hits(request.headers.get("if-none-match"), pitch.etag):
        return Response(status_code=304, headers=headers)
    return Response(pitch.body, media_type=pitch.media_type, headers=headers)


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
