"""Authorization matrix rows for the live streams (merged by tests/test_authorization_matrix.py).

A stream that is allowed never ends: these rows are opened as streams (`Row(stream=True)`),
their status read and the connection closed. tests/test_streams.py covers what each caller
then sees.
"""

from __future__ import annotations

from typing import Any

from tests.matrix import Row, authed

ROWS: dict[tuple[str, str], Row] = {
    # A person's own events: service accounts have no feed.
    ("GET", "/api/v1/me/events"): Row(authed(200, svc_pitch=403, svc_people=403), stream=True),
    # Whoever may read the pitch: every person and pitch:read (svc_people lacks it).
    ("GET", "/api/v1/pitch/{product_key}/events"): Row(authed(200, svc_people=403), stream=True),
}
GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    return {}
