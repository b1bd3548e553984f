"""What the OpenAPI document adds to FastAPI's: how to authenticate and which conditional
headers an operation honours, so a generated client can do everything a hand-written one can."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service.auth.principal import SCOPE_DESCRIPTIONS, SCOPES

OpenAPI = Callable[[], dict[str, Any]]

CLIENT_CREDENTIALS_PATH = "/api/v1/auth/token"
# Answer from the process alone, or hand out the token itself: no credentials.
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics", CLIENT_CREDENTIALS_PATH)

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "A JWT from `POST /api/v1/auth/token`, `cuecard token` or your identity provider, or a "
            "long-lived API token (`cca_…`) issued to a service client (`POST /api/v1/clients/{id}/api-tokens`)."
        ),
    },
    "oauth2": {
        "type": "oauth2",
        "description": (
            "Service clients (integrations) exchange their `client_id` and `client_secret` for a "
            "bearer token (form fields or HTTP Basic). Each operation checks the scopes it needs "
            "and says so in its description; a token without them gets 403."
        ),
        "flows": {
            "clientCredentials": {
                "tokenUrl": CLIENT_CREDENTIALS_PATH,
                "scopes": {scope: SCOPE_DESCRIPTIONS.get(scope, scope) for scope in SCOPES},
            }
        },
    },
}
# Either scheme will do: the same bearer token, however it was obtained.
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"oauth2": []}]

IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "ETags you hold (weak comparison, `*` for any): the current one → 304 without a body.",
    "schema": {"type": "string"},
}


def document_security(openapi: OpenAPI) -> OpenAPI:
    """Declare the bearer scheme and the client-credentials flow, required by every operation
    but the public ones."""

    def wrapper() -> dict[str, Any]:
        schema = openapi()
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
        schema["security"] = SECURITY
        for path in PUBLIC_PATHS:
            for operation in schema["paths"].get(path, {}).values():
                operation["security"] = []
        return schema

    return wrapper


def document_conditional_reads(openapi: OpenAPI) -> OpenAPI:
    """An operation that declares a 304 honours If-None-Match (`resource_response` checks the
    same declaration), so it lists the header; If-Match and Idempotency-Key are declared by
    the operations themselves as header parameters."""

    def wrapper() -> dict[str, Any]:
        schema = openapi()
        for methods in schema["paths"].values():
            for operation in methods.values():
                if "304" not in operation.get("responses", {}):
                    continue
                parameters = operation.setdefault("parameters", [])
                if not any(
                    p.get("in") == "header" and p["name"].lower() == "if-none-match" for p in parameters
                ):
                    parameters.append(IF_NONE_MATCH)
        return schema

    return wrapper
