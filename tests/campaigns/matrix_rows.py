"""Authorization matrix rows for this domain (merged by tests/test_authorization_matrix.py)."""

from __future__ import annotations

from typing import Any

from tests.matrix import Row

ROWS: dict[tuple[str, str], Row] = {}
GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """Extra path parameters and objects the rows above need (merged into the shared context)."""
    return {}
