"""RFC 9457 problem details for every error, through fastapi-problem's handler.

One handler renders domain errors, Starlette's HTTP errors (404/405 for unknown routes),
request validation, database outages (503 + Retry-After) and anything unexpected (500,
logged, never a stack trace or exception text).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_problem.error import Problem
from fastapi_problem.handler import ExceptionHandler, http_exception_handler_
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import BadRequest, InternalError, Invalid, ServiceUnavailable
from service.logging import get_logger
from service.scim import errors as scim_errors

PROBLEM_TYPE_URI = "urn:cuecard:problem:{type}"
log = get_logger("cuecard.errors")


def _validation_problem(_eh: ExceptionHandler, _request: Request, exc: RequestValidationError) -> Problem:
    errors: list[dict[str, Any]] = []
    malformed = False
    for err in exc.errors():
        location, *path = err.get("loc", ()) or ("body",)
        if err.get("type") == "json_invalid":
            malformed = True
        field = ".".join(str(p) for p in path)
        entry: dict[str, Any] = {
            "location": str(location),
            "field": field,
            "detail": err.get("msg", "invalid"),
            "type": err.get("type", "value_error"),
        }
        if location == "body":
            entry["pointer"] = "#/" + "/".join(str(p) for p in path)
        errors.append(entry)
    if malformed:
        return BadRequest("The request body is not valid JSON.", errors=errors)
    return Invalid("The request does not match the schema; see `errors`.", errors=errors)


# SQLSTATEs that say "not now", not "not ever": the same request may succeed on a retry.
_SATURATED_SQLSTATES = {
    "57014": "The database took too long to answer; retry shortly.",  # statement_timeout
    "55P03": "The data is locked by other work; retry shortly.",  # lock_timeout
    "40001": "The database could not serialise concurrent work; retry.",  # serialization_failure
    "40P01": "The database broke a deadlock; retry.",  # deadlock_detected
}
# Classes 08 (connection exception), 53 (insufficient resources: too many connections, disk
# full), 57P (the server is shutting down, crashed or not yet accepting connections).
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "53", "57P")


def _sqlstate(exc: BaseException) -> str | None:
    # SQLAlchemy wraps the driver's error in `.orig`; asyncpg's own errors carry it directly.
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str):
            return code
    return None


def database_problem(exc: BaseException) -> Problem | None:
    """A database that is down, saturated or too slow answers 503 with Retry-After.

    The one mapping of "the database cannot serve this now" for every door: REST and SCIM
    (through the handler) and GraphQL (extensions.code SERVICE_UNAVAILABLE).
    """
    if isinstance(exc, sa.exc.TimeoutError):  # connection pool exhausted
        return ServiceUnavailable("The database is saturated; retry shortly.", retry_after=2)
    code = _sqlstate(exc)
    if code in _SATURATED_SQLSTATES:
        return ServiceUnavailable(_SATURATED_SQLSTATES[code], retry_after=2)
    if (
        (code is not None and code.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES))
        or isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
        or (isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated)
        or isinstance(exc, asyncpg.exceptions.InterfaceError)  # ConnectionDoesNotExistError
    ):
        return ServiceUnavailable("The database is unavailable; retry shortly.", retry_after=5)
    if isinstance(exc, OSError | asyncio.TimeoutError):  # refused, reset, connect timeout
        return ServiceUnavailable("The database is unreachable; retry shortly.", retry_after=5)
    return None


def _unexpected(_eh: ExceptionHandler, request: Request, exc: Exception) -> Problem:
    if isinstance(exc, Problem):  # the handler consults every entry: domain errors are expected
        return exc
    problem = database_problem(exc)
    if problem is not None:
        log.warning("database_unavailable", error=type(exc).__name__, path=request.url.path)
        return problem
    log.error("unhandled_exception", path=request.url.path, exc_info=exc)
    return InternalError()


def build_handler() -> ExceptionHandler:
    return ExceptionHandler(
        handlers={
            StarletteHTTPException: http_exception_handler_,
            RequestValidationError: _validation_problem,
            Exception: _unexpected,
        },
        unhandled_wrappers={"default": InternalError},
        documentation_uri_template=PROBLEM_TYPE_URI,
        # SCIM clients (HR systems, identity providers) read RFC 7644 §3.12 errors, not RFC 9457:
        # under /scim/ the rendered problem is re-rendered as a SCIM Error.
        post_hooks=[scim_errors.render_on_scim_paths],
    )


def problem_response(problem: Problem, path: str | None = None) -> Response:
    """Render a problem outside a request handler (middleware); as a SCIM Error under /scim/."""
    body = problem.marshal(uri=PROBLEM_TYPE_URI)
    if path is not None and scim_errors.is_scim_path(path):
        return scim_errors.error_response(body, problem.status, problem.headers)
    headers = {"content-type": "application/problem+json", **dict(problem.headers or {})}
    return JSONResponse(body, status_code=problem.status, headers=headers)


VALIDATION_ERROR_SCHEMA = {
    "title": "ValidationError",
    "type": "object",
    "required": ["location", "field", "detail", "type"],
    "properties": {
        "location": {"type": "string", "enum": ["body", "query", "path", "header"]},
        "field": {"type": "string", "description": "Dotted path of the field, e.g. `pains.0.kind`."},
        "pointer": {"type": "string", "description": "JSON Pointer into the body, e.g. `#/pains/0/kind`."},
        "detail": {"type": "string"},
        "type": {"type": "string", "description": "Machine-readable error kind."},
    },
}


def document_validation_errors(openapi: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Describe our `errors` entries instead of FastAPI's default loc/msg shape."""

    def wrapper() -> dict[str, Any]:
        schema = openapi()
        schema.setdefault("components", {}).setdefault("schemas", {})["ValidationError"] = (
            VALIDATION_ERROR_SCHEMA
        )
        return schema

    return wrapper


def install(app: FastAPI) -> ExceptionHandler:
    handler = build_handler()
    app.add_exception_handler(Problem, handler)
    app.add_exception_handler(StarletteHTTPException, handler)
    app.add_exception_handler(RequestValidationError, handler)
    return handler


class ErrorBoundary:
    """Innermost middleware: unexpected exceptions become problem responses here, inside the
    middleware that adds X-Request-ID, instead of in Starlette's outermost error middleware."""

    def __init__(self, app: ASGIApp, handler: ExceptionHandler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = self.handler(Request(scope), exc)
            await response(scope, receive, send)
