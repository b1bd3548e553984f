"""GraphQL authorization matrix rows for campaigns (merged via tests/campaigns/matrix_rows.py)."""

from __future__ import annotations

from typing import Any

GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """Extra objects the GraphQL rows need (merged into the shared matrix context)."""
    return {}
