"""Health, readiness and metrics for orchestrators and Prometheus."""

from __future__ import annotations

import hmac
import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import Metric
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from service.errors import NotFound, ServiceUnavailable, Unauthenticated
from service.migrate import current_revision
from service.worker import backlog_metrics

router = APIRouter(tags=["operations"])


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def is_operator(request: Request) -> bool:
    """The caller presents CUECARD_METRICS_TOKEN (compared in constant time): the scraper or
    an operator, who may read what anonymous callers may not (metrics, schema revisions)."""
    expected = request.app.state.settings.metrics_token
    presented = _bearer(request)
    return bool(expected and presented) and hmac.compare_digest(presented.encode(), expected.encode())


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (liveness): no dependencies are checked."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the migration head (readiness)."""
    expected = request.app.state.migration_head
    current = await current_revision(request.app.state.engine)
    # Ahead (a revision this build does not know: a newer release migrated during a rolling
    # update) is ready — migrations are additive; behind or empty is not.
    ahead = current is not None and current not in request.app.state.known_migrations
    # Revisions tell an attacker which release (and so which known bugs) runs here: only an
    # operator (the metrics token) reads them.
    operator = is_operator(request)
    if current != expected and not ahead:
        where = (
            f" at {current or 'nothing'}, expected {expected}" if operator else " not at this build's head"
        )
        raise ServiceUnavailable(f"Database schema is{where}: run `cuecard db upgrade`.", retry_after=10)
    body: dict[str, object] = {"status": "ready", "database": "ok"}
    if operator:
        body |= {"migration": current, "ahead_of_this_build": ahead}
    return JSONResponse(body)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (all worker processes when PROMETHEUS_MULTIPROC_DIR is set)."""
    # In production only with `Authorization: Bearer <CUECARD_METRICS_TOKEN>`; without that
    # setting the endpoint does not exist there (404), so metrics are never open by accident.
    settings = request.app.state.settings
    if settings.env == "production" and not is_operator(request):
        if not settings.metrics_token:
            raise NotFound("Not Found")
        raise Unauthenticated(
            "Send Authorization: Bearer <CUECARD_METRICS_TOKEN>." if _bearer(request) else None
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest()
    return Response(text + await _backlog(request), media_type=CONTENT_TYPE_LATEST)


async def _backlog(request: Request) -> bytes:
    """The outbox's backlog, from the database; left out (not an error) while it is down,
    since the scrape still tells about the process."""
    try:
        async with request.app.state.sessionmaker() as session:
            families = await backlog_metrics(session)
    except (OSError, SQLAlchemyError):
        return b""
    registry = CollectorRegistry()
    registry.register(_Families(families))
    return generate_latest(registry)


class _Families:
    """A collector of metric families read once (for a registry of this scrape only)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families
