"""SCIM error messages (RFC 7644 §3.12) for every response under /scim/.

Services raise the usual domain errors and the one problem handler renders them; for /scim/
paths its post-hook re-renders the problem as a SCIM Error (`status` as a string, `scimType`,
`detail`, `application/scim+json`). The SCIM adapter raises `ScimProblem` for what only SCIM
can say (an unsupported filter, a path the PATCH cannot apply), with the `scimType` to send.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError
from scim2_models import Error, SCIMException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.errors import CueCardError

SCIM_PREFIX = "/scim/"
MEDIA_TYPE = "application/scim+json"

# The scimType a domain error stands for, by its problem type (`urn:cuecard:problem:<kind>`).
_SCIM_TYPES = {
    "bad-request": "invalidSyntax",  # malformed JSON
    "validation-error": "invalidValue",
    "conflict": "uniqueness",  # people are unique by e-mail
}
# Headers a SCIM error keeps from the problem it replaces.
_KEPT_HEADERS = ("www-authenticate", "retry-after", "allow", "etag")


class ScimProblem(CueCardError):
    """A SCIM protocol error with its RFC 7644 §3.12 `scimType`."""

    title = "SCIM error"
    type_ = "scim-error"
    code = "BAD_REQUEST"

    def __init__(self, detail: str, *, status: int = 400, scim_type: str | None = None) -> None:
        self.status = status
        if scim_type:
            super().__init__(detail, scimType=scim_type)
        else:
            super().__init__(detail)


def is_scim_path(path: str) -> bool:
    return path.startswith(SCIM_PREFIX)


def error_document(content: dict[str, Any], status: int) -> tuple[int, dict[str, Any]]:
    """The SCIM Error for a rendered problem; 422 becomes 400 (SCIM has no 422)."""
    if status == 422:
        status = 400
    kind = str(content.get("type", "")).rsplit(":", 1)[-1]
    scim_type = content.get("scimType") or (_SCIM_TYPES.get(kind) if status in (400, 409) else None)
    detail = content.get("detail") or content.get("title") or "Error"
    fields = [
        f"{e.get('field') or e.get('location')}: {e.get('detail')}"
        for e in content.get("errors") or []
        if isinstance(e, dict)
    ]
    if fields:
        detail = f"{detail} ({'; '.join(fields)})"
    error = Error(status=status, scim_type=scim_type, detail=detail)
    return status, error.model_dump(mode="json", exclude_none=True)


def error_response(content: dict[str, Any], status: int, headers: Any = None) -> JSONResponse:
    status, body = error_document(content, status)
    kept = {k: v for k, v in (headers or {}).items() if k.lower() in _KEPT_HEADERS}
    return JSONResponse(body, status_code=status, headers=kept, media_type=MEDIA_TYPE)


def render_on_scim_paths(
    content: dict[str, Any], request: Request, response: Response
) -> tuple[dict[str, Any], Response]:
    """Post-hook of the problem handler: under /scim/ the problem goes out as a SCIM Error."""
    if not is_scim_path(request.url.path):
        return content, response
    rendered = error_response(content, response.status_code, response.headers)
    return content, rendered


@contextmanager
def scim_errors() -> Iterator[None]:
    """Turns scim2-models' exceptions and validation errors into SCIM problems."""
    try:
        yield
    except SCIMException as exc:
        error = exc.to_error()
        raise ScimProblem(
            error.detail or str(exc), status=error.status or 400, scim_type=error.scim_type
        ) from exc
    except ValidationError as exc:
        raise from_validation_error(exc) from exc


def from_validation_error(exc: ValidationError) -> ScimProblem:
    """The first error scim2-models finds, as a SCIM problem."""
    errors = Error.from_validation_errors(exc)
    first = errors[0] if errors else Error(status=400, scim_type="invalidValue", detail=str(exc))
    return ScimProblem(
        first.detail or "invalid", status=first.status or 400, scim_type=first.scim_type or "invalidValue"
    )
