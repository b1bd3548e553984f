"""Domain errors. Services raise these; REST renders RFC 9457 problems, GraphQL `extensions.code`.

They build on the `rfc9457` problem classes (via fastapi-problem) so the REST mapping is the
library's, and each carries a stable GraphQL `code`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi_problem.error import StatusProblem


class CueCardError(StatusProblem):
    """Base of every error a service may raise on purpose."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"


class BadRequest(CueCardError):
    status = 400
    title = "Bad request"
    type_ = "bad-request"
    code = "BAD_REQUEST"


class Unauthenticated(CueCardError):
    status = 401
    title = "Authentication required"
    type_ = "unauthenticated"
    code = "UNAUTHENTICATED"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        # RFC 6750: a missing token gets a bare challenge, a bad one says invalid_token.
        challenge = 'Bearer error="invalid_token"' if detail else "Bearer"
        super().__init__(detail, headers={"WWW-Authenticate": challenge}, **kwargs)


class Forbidden(CueCardError):
    status = 403
    title = "Forbidden"
    type_ = "forbidden"
    code = "FORBIDDEN"


class NotFound(CueCardError):
    status = 404
    title = "Not found"
    type_ = "not-found"
    code = "NOT_FOUND"


class MethodNotAllowed(CueCardError):
    status = 405
    title = "Method not allowed"
    type_ = "method-not-allowed"
    code = "METHOD_NOT_ALLOWED"


class Conflict(CueCardError):
    status = 409
    title = "Conflict"
    type_ = "conflict"
    code = "CONFLICT"


class PreconditionFailed(CueCardError):
    status = 412
    title = "Precondition failed"
    type_ = "precondition-failed"
    code = "PRECONDITION_FAILED"


class PayloadTooLarge(CueCardError):
    status = 413
    title = "Payload too large"
    type_ = "payload-too-large"
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(CueCardError):
    status = 415
    title = "Unsupported media type"
    type_ = "unsupported-media-type"
    code = "UNSUPPORTED_MEDIA_TYPE"


class Invalid(CueCardError):
    """Input that parses but breaks a rule; `errors` lists every offending field at once."""

    status = 422
    title = "Validation failed"
    type_ = "validation-error"
    code = "BAD_USER_INPUT"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(detail, errors=errors or [], **kwargs)


class PreconditionRequired(CueCardError):
    status = 428
    title = "Precondition required"
    type_ = "precondition-required"
    code = "PRECONDITION_REQUIRED"


class TooManyRequests(CueCardError):
    status = 429
    title = "Too many requests"
    type_ = "too-many-requests"
    code = "TOO_MANY_REQUESTS"

    def __init__(self, detail: str, retry_after: int, **kwargs: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **kwargs)


class InternalError(CueCardError):
    status = 500
    title = "Internal server error"
    type_ = "internal-error"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        # Whatever went wrong stays in the log; the caller gets no exception text.
        super().__init__("An unexpected error occurred; it has been logged.")


class ServiceUnavailable(CueCardError):
    status = 503
    title = "Service unavailable"
    type_ = "service-unavailable"
    code = "SERVICE_UNAVAILABLE"

    def __init__(self, detail: str, retry_after: int = 5, **kwargs: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **kwargs)


def field_error(
    field: str, detail: str, *, location: str = "body", type_: str = "value_error"
) -> dict[str, str]:
    """One entry of a validation problem's `errors` list."""
    pointer = "#/" + field.replace(".", "/") if location == "body" and field else None
    entry = {"location": location, "field": field, "detail": detail, "type": type_}
    if pointer:
        entry["pointer"] = pointer
    return entry


def json_syntax_error(document: str | bytes | None, position: int, message: str) -> dict[str, str | int]:
    """The `errors` entry for a body that is not JSON: what is wrong and where, as people and
    editors count (line and column from 1, in characters), not a character offset dressed
    up as a JSON pointer — there is no field to point at in a document that does not parse."""
    if isinstance(document, bytes):
        document = document.decode("utf-8", "replace")
    text = document or ""
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return {
        "location": "body",
        "field": "",
        "detail": f"{message} at line {line}, column {column}",
        "type": "json_invalid",
        "line": line,
        "column": column,
    }
