"""Shared pieces of the authorization matrix, so each domain's rows can live in its own file
(tests/<domain>/matrix_rows.py: `ROWS`, `GRAPHQL_ROWS` and an async `context(app, ctx)`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tests.factories import ALL_CALLERS

ANY = "*"


@dataclass(frozen=True)
class Row:
    expected: dict[str, int]
    body: Callable[[dict[str, Any]], Any] | None = None
    form: Callable[[dict[str, Any]], dict[str, str]] | None = None
    headers: dict[str, str] | None = None
    query: dict[str, str] | None = None  # query parameters a route requires (search's `q`)
    # Per-caller setup for state-changing rows (a fresh draft to submit, ...): extra path params.
    prepare: Callable[[Any, dict[str, Any]], Awaitable[dict[str, str]]] | None = None
    # A live stream (SSE): opened, its status read, then closed (a 200 never ends).
    stream: bool = False

    def status_for(self, caller: str) -> int:
        return self.expected.get(caller, self.expected.get(ANY, 0))


def authed(ok: int, **overrides: int) -> dict[str, int]:
    """Every authenticated caller gets `ok` unless overridden; anonymous gets 401."""
    return {ANY: ok, "anonymous": 401, **overrides}


def admin_only(ok: int, **overrides: int) -> dict[str, int]:
    others = {name: 403 for name in ALL_CALLERS if name not in ("admin", "anonymous")}
    return {"anonymous": 401, **others, "admin": ok, **overrides}
