"""Query parameters an operation does not declare are refused, not ignored.

A misspelt or unsupported filter (`?chanel=`, `?q=` on a list without search) used to be
dropped silently: the caller got a quietly different answer. Under `/api/v1` it is a 422
naming the unknown parameters and listing the ones the operation accepts. The accepted set is
what the operation declares (its FastAPI query parameters, or the parameters it documents by
hand in `openapi_extra`), so the OpenAPI document and the check cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote

from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute

from service.errors import Invalid, field_error

API_PREFIX = "/api/v1/"

# Per route object (routes compare by value, so keyed by identity; holding the route keeps its
# id from being reused): computed on its first request, then a dict lookup, so the set
# difference below is the whole per-request cost.
_accepted: dict[int, tuple[BaseRoute, frozenset[str]]] = {}


def declared_query_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameter names an operation declares, through its dependencies or by hand."""
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(field.alias for field in dependant.query_params)
        pending.extend(dependant.dependencies)
    for parameter in (route.openapi_extra or {}).get("parameters", ()):
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    return frozenset(names)


def query_names(query_string: bytes) -> set[str]:
    """The parameter names of a raw query string, decoded as Starlette decodes them (its
    `parse_qsl`), without decoding the values: this runs on the pitch's hot path."""
    names = set()
    for part in query_string.decode("latin-1").split("&"):
        if part:
            name = part.partition("=")[0]
            if "%" in name or "+" in name:
                name = unquote(name.replace("+", " "))
            names.add(name)
    return names


def check_query_parameters(query_string: bytes, accepted: frozenset[str]) -> None:
    """Raise a 422 problem when the query names a parameter outside `accepted`."""
    if not query_string:
        return
    unknown = query_names(query_string) - accepted
    if unknown:
        raise unknown_parameters(sorted(unknown), accepted)


def unknown_parameters(unknown: Iterable[str], accepted: Iterable[str]) -> Invalid:
    unknown, accepted = list(unknown), sorted(accepted)
    allowed = ", ".join(accepted) if accepted else "none"
    plural = "s" if len(unknown) > 1 else ""
    return Invalid(
        f"Unknown query parameter{plural} {', '.join(unknown)}; this operation accepts: {allowed}.",
        errors=[
            field_error(
                name, f"Unknown parameter; accepted: {allowed}.", location="query", type_="unknown_parameter"
            )
            for name in unknown
        ],
        accepted=accepted,
    )


async def refuse_unknown_query_parameters(request: HTTPConnection) -> None:
    """App-wide dependency: every REST operation under /api/v1 refuses undeclared parameters.
    Typed as a connection, not a request: app-wide dependencies also run for WebSocket routes
    (GraphQL's, which refuses the upgrade itself)."""
    query_string = request.scope.get("query_string")
    if not query_string or not request.scope["path"].startswith(API_PREFIX):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _accepted.get(id(route))
    if known is None or known[0] is not route:
        known = _accepted[id(route)] = (route, declared_query_parameters(route))
    check_query_parameters(query_string, known[1])
