"""Firing conflicting requests at the same moment, each over its own connection to the app."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from fastapi import FastAPI


async def race(app: FastAPI, requests: Sequence[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    """Sends every (method, url, httpx kwargs) at once, each through its own client (so its own
    request, session and database connection), and returns the responses in order."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    clients = [httpx.AsyncClient(transport=transport, base_url="http://testserver") for _ in requests]
    try:
        return list(
            await asyncio.gather(
                *(
                    c.request(method, url, **kw)
                    for c, (method, url, kw) in zip(clients, requests, strict=True)
                )
            )
        )
    finally:
        for c in clients:
            await c.aclose()


def statuses(responses: Sequence[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def assert_one_winner(
    responses: Sequence[httpx.Response], *, won: int = 200, lost: frozenset[int] = frozenset({409})
) -> httpx.Response:
    """Exactly one request made the change; every other one was told it did not (never a 5xx)."""
    counts = statuses(responses)
    bodies = [r.text[:300] for r in responses if r.status_code >= 500]
    assert not bodies, f"server errors: {bodies}"
    assert counts[won] == 1, f"want exactly one {won}: {dict(counts)}"
    assert set(counts) - {won} <= lost, f"losers must get {sorted(lost)}: {dict(counts)}"
    return next(r for r in responses if r.status_code == won)
