"""Idempotency-Key for POSTs that integrations retry: same key and body replay the first
response; another body under the same key is a 422; a duplicate still running is a 409."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import orjson
from fastapi import Header, Request
from starlette.responses import Response

from service.auth.principal import Principal
from service.errors import BadRequest
from service.idempotency import store

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Cache-Control and Pragma too: a replayed answer that shows a secret once (a webhook's) must
# stay out of shared caches as the first one did.
REPLAYED_HEADERS = ("content-type", "location", "etag", "cache-control", "pragma")

# The only way a key reaches `idempotent`: an operation that honours it declares this
# parameter, so the OpenAPI document lists the header exactly where it works.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "1 to 255 visible ASCII characters, unique per logical request: a retry with the same key "
            "and body replays the first response (`Idempotent-Replayed: true`); the same key with "
            "another body → 422; while the first is still running → 409."
        ),
    ),
]


def _fingerprint(body: bytes) -> str:
    try:  # the same JSON in another key order or spacing is the same request
        # orjson: a 16 MiB batch is re-serialised in milliseconds, not a tenth of a second.
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(canonical).hexdigest()


async def idempotent(
    request: Request, principal: Principal, produce: Callable[[], Awaitable[Response]], *, key: str | None
) -> Response:
    """Run `produce` at most once per (caller, Idempotency-Key); `key` is the operation's
    declared `IdempotencyKey` parameter."""
    if key is None:
        return await produce()
    if not _KEY.match(key):
        raise BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters.")
    sessionmaker = request.app.state.sessionmaker
    settings = request.app.state.settings
    endpoint = f"{request.method} {request.url.path}"
    record = await store.claim(
        sessionmaker,
        owner=principal.subject,
        key=key,
        endpoint=endpoint,
        request_hash=_fingerprint(await request.body()),
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        lease=timedelta(seconds=settings.idempotency_claim_seconds),
    )
    if record is not None:
        headers = dict(record.response_headers or {}) | {"idempotent-replayed": "true"}
        return Response(record.response_body, status_code=record.status_code or 200, headers=headers)
    try:
        response = await produce()
    except BaseException:
        # Nothing was written (services commit all or nothing): let a retry run again.
        await store.release(sessionmaker, owner=principal.subject, key=key)
        raise
    if response.status_code >= 500:
        await store.release(sessionmaker, owner=principal.subject, key=key)
        return response
    kept = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
    await store.complete(
        sessionmaker,
        owner=principal.subject,
        key=key,
        status_code=response.status_code,
        body=bytes(response.body),  # already bytes: the same object, not a copy
        headers=kept,
    )
    return response
