"""Repeated reads answered from memory (service/readcache.py has the rules of what is kept).

Sits inside RequestGuard (the URL and body checks run first) and outside the error boundary
and the routes. Only REST GETs under /api/v1 and GraphQL POSTs are considered; the caller is
resolved first (a bad or revoked token falls through to the stack and gets its 401 there).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.metrics import read_cache_metrics
from service.auth.dependencies import principal_of
from service.concurrency import if_none_match_hits
from service.readcache import Entry, ReadCache, body_key, tracing

# Headers that differ per request without changing the answer: left out of the key (Host and
# the forwarded scheme stay in it: an answer may name this service's own URLs).
_PER_REQUEST = frozenset(
    {
        b"x-request-id",
        b"user-agent",
        b"connection",
        b"content-length",
        b"if-none-match",
        b"traceparent",
        b"tracestate",
        b"accept-encoding",
        b"x-forwarded-for",
        b"x-real-ip",
    }
)
# Not kept however they answer: live streams, and the pitch (it has a cache of its own).
_STREAMS = (b"text/event-stream",)
_EXCLUDED_PREFIXES = ("/api/v1/pitch/",)
_MAX_GRAPHQL_BODY = 64 * 1024
_WAIT_FOR_FIRST = 10.0  # seconds a repeated read waits for the same read under way
_NOT_MODIFIED_HEADERS = frozenset({b"etag", b"cache-control", b"vary", b"content-language"})


class CachedReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        cache: ReadCache | None = getattr(state, "read_cache", None)
        method: str = scope["method"]
        path: str = scope["path"]
        if cache is None or not cache.enabled:
            await self.app(scope, receive, send)
            return
        if method == "GET" and path.startswith("/api/v1/") and not path.startswith(_EXCLUDED_PREFIXES):
            body: bytes | None = b""
        elif method == "POST" and path == "/graphql":
            body, receive = await _read_body(receive)
            if body is None:
                await self.app(scope, receive, send)
                return
        else:
            await self.app(scope, receive, send)
            return
        authorization = None
        rest: list[tuple[bytes, bytes]] = []
        if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if authorization is None:
                    authorization = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value
            elif name not in _PER_REQUEST:
                rest.append((name, value))
        if authorization is None:
            await self.app(scope, receive, send)  # anonymous: nothing worth keeping
            return
        try:
            principal = await principal_of(state, authorization)
        except Exception:  # refused (401) or failed (503) in the stack, with the usual problem
            await self.app(scope, receive, send)
            return
        key = (principal, method, path, scope["query_string"], body_key(body or b""), tuple(rest))
        entry = cache.get(key)
        first = cache.answering.get(key) if entry is None else None
        if first is not None:
            # The same read is being answered right now (a kept answer just ended, and callers
            # keep coming): wait for that answer rather than compute it once per caller.
            await asyncio.wait([first], timeout=_WAIT_FOR_FIRST)
            entry = cache.get(key)
        if entry is not None:
            read_cache_metrics.observe("hit")
            await _serve(entry, if_none_match, scope, send)
            return
        read_cache_metrics.observe("miss")
        if if_none_match is not None:
            await self.app(scope, receive, send)  # may be a 304 without a body: nothing to keep
            return
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        cache.answering.setdefault(key, answered)
        try:
            await self._answer(cache, key, scope, receive, send)
        finally:
            if cache.answering.get(key) is answered:
                del cache.answering[key]
            answered.set_result(None)

    async def _answer(self, cache: ReadCache, key: Any, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer through the stack, watching what the answer reads, and keep it if it may be."""
        trace, stamp = cache.begin()
        start: Message | None = None
        chunks: list[bytes] | None = []

        async def capture(message: Message) -> None:
            nonlocal start, chunks
            if message["type"] == "http.response.start":
                start = message
                headers = message.get("headers", ())
                if message["status"] != 200 or any(
                    (n == b"content-type" and v.startswith(_STREAMS))
                    or n == b"set-cookie"
                    or (n == b"cache-control" and b"no-store" in v)
                    for n, v in headers
                ):
                    chunks = None
            elif message["type"] == "http.response.body" and chunks is not None:
                chunks.append(message.get("body", b""))
                if len(chunks) > 64:
                    chunks = None
            await send(message)

        with tracing(trace):
            await self.app(scope, receive, capture)
        if start is not None and chunks is not None:
            response = (start["status"], list(start.get("headers", ())), b"".join(chunks))
            cache.put(key, trace, stamp, response, scope.get("route"))


async def _serve(entry: Entry, if_none_match: bytes | None, scope: Scope, send: Send) -> None:
    scope["route"] = entry.route
    if (
        if_none_match is not None
        and entry.etag is not None
        and if_none_match_hits(if_none_match.decode("latin-1"), entry.etag.decode("latin-1"))
    ):
        headers = [(n, v) for n, v in entry.headers if n in _NOT_MODIFIED_HEADERS]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": entry.status, "headers": entry.headers})
    await send({"type": "http.response.body", "body": entry.body})


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole body (already bounded by RequestGuard), and a receive that replays it."""
    chunks: list[bytes] = []
    more = True
    size = 0
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None, _replay([message])
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replay = _replay([{"type": "http.request", "body": body, "more_body": False}], receive)
    return (body if size <= _MAX_GRAPHQL_BODY else None), replay


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
