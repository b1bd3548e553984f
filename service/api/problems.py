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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import BadRequest, InternalError, Invalid, ServiceUnavailable, json_syntax_error
from service.logging import get_logger
from service.scim import errors as scim_errors

PROBLEM_TYPE_URI = "urn:cuecard:problem:{type}"
log = get_logger("cuecard.errors")


def _validation_problem(_eh: ExceptionHandler, _request: Request, exc: RequestValidationError) -> Problem:
    errors: list[dict[str, Any]] = []
    malformed: dict[str, Any] | None = None
    for err in exc.errors():
        location, *path = err.get("loc", ()) or ("body",)
        if err.get("type") == "json_invalid":  # FastAPI's loc is ("body", character offset)
            where = path[0] if path and isinstance(path[0], int) else 0
            malformed = json_syntax_error(exc.body, where, err.get("ctx", {}).get("error", "Invalid JSON"))
            errors.append(malformed)
            continue
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
        return BadRequest(f"The request body is not valid JSON: {malformed['detail']}.", errors=errors)
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
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
        if "HTTPValidationError" in schemas:
            # Every 422 says what is wrong in a sentence too (a generated client reads it).
            schemas["HTTPValidationError"]["properties"].setdefault("detail", {"type": "string"})
        return schema

    return wrapper


# Statuses an operation may answer with a problem body, by cause. 422 keeps FastAPI's own
# entry (its schema lists the offending fields); every other one refers to these components.
PROBLEM_RESPONSES: dict[str, tuple[str, str]] = {
    "400": ("BadRequest", "The body is not valid JSON, or a header is malformed."),
    "401": ("Unauthenticated", "No bearer token, or an invalid or expired one."),
    "403": ("Forbidden", "The caller's role or scopes do not allow this."),
    "404": ("NotFound", "No such resource, or one the caller may not see."),
    "409": ("Conflict", "The resource's state or a unique key does not allow this change."),
    "412": ("PreconditionFailed", "`If-Match` names a version that is no longer current."),
    "413": ("PayloadTooLarge", "The body is larger than the service accepts."),
    "415": ("UnsupportedMediaType", "The body is not sent as the media type the operation takes."),
    "428": ("PreconditionRequired", "This change needs `If-Match` with the ETag last read."),
    "429": ("TooManyRequests", "Too many attempts; retry after `Retry-After` seconds."),
    "500": ("InternalError", "An unexpected error; it is logged, the body carries no details."),
    "503": ("ServiceUnavailable", "The database is unavailable or saturated; retry after `Retry-After`."),
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
}
_RESPONSE_HEADERS = {
    "401": {
        "WWW-Authenticate": {"description": "The Bearer challenge (RFC 6750).", "schema": {"type": "string"}}
    },
    "429": _RETRY_AFTER,
    "503": _RETRY_AFTER,
}
_WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
# Liveness and metrics answer from the process alone; everything else reads the database.
_NO_DATABASE_PATHS = frozenset({"/healthz", "/metrics"})


def _problem_statuses(path: str, method: str, operation: dict[str, Any]) -> set[str]:
    """The problem statuses an operation can answer, from what it takes: a token, path
    parameters, a body, `If-Match`, and whether it writes."""
    statuses = {"500"}
    parameters = operation.get("parameters", [])
    located = {(p.get("in"), p.get("name", "").lower()) for p in parameters}
    if path not in _NO_DATABASE_PATHS:
        statuses.add("503")
    if operation.get("security") != []:
        statuses |= {"401", "403"}
    if any(where == "path" for where, _ in located):
        statuses.add("404")
    if "requestBody" in operation:
        statuses |= {"413", "415"}
    if method in _WRITE_METHODS:
        statuses |= {"400", "409"}  # 400: malformed JSON or Idempotency-Key
    if ("header", "if-match") in located:
        statuses |= {"412", "428"}
    return statuses


_VALIDATION_RESPONSE = {
    "description": "Validation Error",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}


def document_problem_responses(openapi: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Declare every problem status each operation can answer, instead of 4XX/5XX ranges:
    a client (and the contract fuzzer) can tell a documented refusal from a surprise."""

    def wrapper() -> dict[str, Any]:
        schema = openapi()
        components = schema.setdefault("components", {}).setdefault("responses", {})
        for status, (name, description) in PROBLEM_RESPONSES.items():
            components[name] = {
                "description": description,
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
            if status in _RESPONSE_HEADERS:
                components[name]["headers"] = _RESPONSE_HEADERS[status]
        for path, methods in schema["paths"].items():
            for method, operation in methods.items():
                responses = operation["responses"]
                responses.pop("4XX", None)
                responses.pop("5XX", None)
                # Routers may declare more (`responses=problems.declared(429)`): same component.
                declared = {s for s in responses if s in PROBLEM_RESPONSES}
                for status in sorted(declared | _problem_statuses(path, method, operation)):
                    responses[status] = {"$ref": f"#/components/responses/{PROBLEM_RESPONSES[status][0]}"}
                if path.startswith("/api/v1/") or operation.get("parameters") or "requestBody" in operation:
                    # Under /api/v1 an undeclared query parameter is a 422 (service/api/query.py);
                    # parameters documented by hand (the pitch read) get FastAPI's 422 too.
                    responses.setdefault("422", _VALIDATION_RESPONSE)
                operation["responses"] = dict(sorted(responses.items()))
        return schema

    return wrapper


def declared(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Extra problem statuses for a router's `responses=`, beyond those derived from its shape."""
    return {status: {"description": PROBLEM_RESPONSES[str(status)][1]} for status in statuses}


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

        async def tracking_send(message: Message) -> None:
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
