"""Routers a path cannot match are skipped with a `startswith` (service/main.py `_include`).

The gate must never change which route serves a request: for every documented operation,
the undocumented doors and paths no route serves, each included router answers exactly what
FastAPI's own match over its routes answers (FULL, PARTIAL for another method, or NONE).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI
from starlette.routing import Match

from service.main import _include

ID = "0b0e3a52-5a5e-4c4e-9d0e-6f1f0d6a1c2b"
# Doors the OpenAPI document leaves out, paths with a slash too many (redirects), and paths
# no route serves.
ODD_PATHS = [
    "/",
    "/graphql",
    "/graphql/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/static/graphiql.css",
    "/api/v1/people/",
    "/api/v1/search/",
    "/api/v1/nothing-here",
    "/api/v2/people",
    "/apiv1/people",
    "",
]


def _paths(app: FastAPI) -> list[tuple[str, str]]:
    cases = []
    for template, operations in app.openapi()["paths"].items():
        path = re.sub(r"\{[^}]+\}", ID, template)
        cases += [(path, method.upper()) for method in operations]
    cases += [(path, method) for path in ODD_PATHS for method in ("GET", "POST", "DELETE")]
    return cases


def _scope(path: str, method: str, root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": root_path + path,
        "root_path": root_path,
        "query_string": b"",
        "headers": [],
    }


def test_each_router_answers_a_path_as_fastapis_own_match_does(app: FastAPI) -> None:
    gated = [route for route in app.router.routes if "matches" in vars(route)]
    assert len(gated) >= 20, "every included router is gated"
    cases = _paths(app)
    documented = sum(len(operations) for operations in app.openapi()["paths"].values())
    assert documented > 100
    served = 0
    for route in gated:
        full_match = type(route).matches.__get__(route)
        for path, method in cases:
            for root_path in ("", "/behind-a-proxy"):
                answer = route.matches(_scope(path, method, root_path))
                assert answer == full_match(_scope(path, method, root_path)), (path, method, root_path)
                served += answer[0] == Match.FULL
    # Every documented operation is served by a router, with and without a root path.
    assert served >= 2 * documented


async def test_a_route_of_the_last_router_is_served_and_an_unknown_path_is_not(client) -> None:
    search = await client.get("/api/v1/search", params={"q": "価格"})
    assert search.status_code == 401  # reached the search route: it wants a token
    assert (await client.get("/api/v1/nothing-here")).status_code == 404


async def test_a_route_added_to_a_router_after_it_was_included_is_served() -> None:
    app, router = FastAPI(), APIRouter()

    @router.get("/first")
    async def first() -> str:
        return "first"

    _include(app, router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/first")).json() == "first"
        assert (await http.get("/second")).status_code == 404

        @router.get("/second")
        async def second() -> str:
            return "second"

        assert (await http.get("/second")).json() == "second"
