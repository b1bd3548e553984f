"""The two ceilings of the pitch read: bare ASGI apps that serve the same document.

No framework, no ORM, no middleware, no auth, no logging: whatever the real endpoint does on
top of these is its own cost; `bench/pitch/run.py` measures all three in one run.

- `/pitch/{product_key}?locale=ja` — the **database ceiling**: one pooled asyncpg query of
  the indexed row, its JSON column sent as stored.
- `/cached/{product_key}?locale=ja` — the **cached ceiling**: the same row, fetched once and
  then served from a dict (what the pitch does on a cache hit), with a strong ETag; an
  `If-None-Match` naming it gets a 304 without a body.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cuecard_bench_x \\
        uvicorn bench.pitch.bare_app:app --workers 1 --no-access-log

Environment:
    BENCH_DATABASE_URL  plain libpq URL of the database (required)
    BENCH_BARE_QUERY    "pitch" (default) or "products": which row `/pitch/` serves, see QUERIES
    BENCH_POOL_SIZE     asyncpg pool size per worker (default 20, the service's
                        db_pool_size + db_max_overflow)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import asyncpg

# Each query: the SQL, and how its parameters come out of the path's last segment and query.
QUERIES: dict[str, tuple[str, Callable[[str, dict[str, list[str]]], tuple[Any, ...]]]] = {
    # What GET /api/v1/pitch/{product_key}?locale= serves: the precomputed pitch document.
    "pitch": (
        "SELECT document::text FROM pitch_documents WHERE product_key = $1 AND locale = $2",
        lambda key, query: (key, query.get("locale", ["en"])[0]),
    ),
    # What GET /api/v1/products/{product_key} serves (every column of the row, as JSON).
    "products": ("SELECT row_to_json(p)::text FROM products p WHERE key = $1", lambda key, _query: (key,)),
}
QUERY_NAME = os.environ.get("BENCH_BARE_QUERY", "pitch")
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "20"))

JSON = [(b"content-type", b"application/json")]
NOT_FOUND = b'{"title":"Not Found","status":404}'
Send = Callable[[dict], Awaitable[None]]


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


class CachedPitches:
    """`/cached/{key}`: a document from a dict, with its ETag; If-None-Match → 304.

    Filled on first use by `load` (the database row), or given up front (in-process profiling)."""

    def __init__(
        self,
        documents: dict[str, bytes] | None = None,
        load: Callable[[str, bytes], Awaitable[bytes | None]] | None = None,
    ) -> None:
        self.documents: dict[str, bytes] = {}
        self.etags: dict[str, bytes] = {}
        self.load = load
        for key, body in (documents or {}).items():
            self.keep(key, body)

    def keep(self, key: str, body: bytes) -> None:
        self.documents[key] = body
        self.etags[key] = etag_of(body)

    async def __call__(self, scope: dict, receive: Any, send: Send) -> None:
        key = scope["path"].rpartition("/")[2]
        body = self.documents.get(key)
        if body is None and self.load is not None:
            loaded = await self.load(key, scope["query_string"])
            if loaded is not None:
                self.keep(key, loaded)
                body = loaded
        if body is None:
            await respond(send, 404, NOT_FOUND, JSON)
            return
        etag = self.etags[key]
        for name, value in scope["headers"]:
            if name == b"if-none-match" and value == etag:
                await respond(send, 304, b"", [(b"etag", etag)])
                return
        await respond(send, 200, body, [*JSON, (b"etag", etag)])


class BareApp:
    """Routes by path prefix; a pool of PostgreSQL connections for the lifespan."""

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        self.sql, self.params = QUERIES[QUERY_NAME]
        self.cached = CachedPitches(load=self.fetch)

    async def fetch(self, key: str, query_string: bytes) -> bytes | None:
        assert self.pool is not None
        query = parse_qs(query_string.decode("latin-1"))
        value = await self.pool.fetchval(self.sql, *self.params(key, query))
        return None if value is None else value.encode()

    async def from_database(self, scope: dict, send: Send) -> None:
        body = await self.fetch(scope["path"].rpartition("/")[2], scope["query_string"])
        if body is None:
            await respond(send, 404, NOT_FOUND, JSON)
        else:
            await respond(send, 200, body, JSON)

    async def __call__(self, scope: dict, receive: Any, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/cached/"):
            await self.cached(scope, receive, send)
        elif path.startswith("/pitch/"):
            await self.from_database(scope, send)
        else:
            await respond(send, 404, NOT_FOUND, JSON)

    async def lifespan(self, receive: Any, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(
                    os.environ["BENCH_DATABASE_URL"], min_size=min(10, POOL_SIZE), max_size=POOL_SIZE
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = BareApp()
