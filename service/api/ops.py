"""Health, readiness and metrics for orchestrators and Prometheus."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from starlette.responses import Response

from service.errors import ServiceUnavailable
from service.migrate import current_revision

router = APIRouter(tags=["operations"])


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
    if current != expected and not ahead:
        raise ServiceUnavailable(
            f"Database schema is at {current or 'nothing'}, expected {expected}: run `cuecard db upgrade`.",
            retry_after=10,
        )
    return JSONResponse(
        {"status": "ready", "database": "ok", "migration": current, "ahead_of_this_build": ahead}
    )


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
async def metrics() -> Response:
    """Prometheus metrics (all worker processes when PROMETHEUS_MULTIPROC_DIR is set)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
