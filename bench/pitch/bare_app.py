"""The ceiling: a bare Starlette + asyncpg endpoint that serves the same row as the real one.

No FastAPI, no ORM, no middleware, no auth: one pooled query and the row as JSON bytes.
Whatever the real endpoint does on top of this is overhead; `bench/pitch/run.py` measures
both side by side.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cuecard_bench_x \\
        uvicorn bench.pitch.bare_app:app --workers 1 --no-access-log

Environment:
    BENCH_DATABASE_URL  plain libpq URL of the database (required)
    BENCH_BARE_QUERY    "products" (default) or "pitch": which row to serve, see QUERIES
    BENCH_POOL_SIZE     asyncpg pool size per worker (default 20, the service's
                        db_pool_size + db_max_overflow)
"""

from __future__ import annotations

import datetime
import decimal
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - orjson is optional
    import json

    def _default(value: Any) -> Any:
        if isinstance(value, datetime.datetime | datetime.date):
            return value.isoformat()
        if isinstance(value, uuid.UUID | decimal.Decimal):
            return str(value)
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    def dumps(value: Any) -> bytes:
        return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


# Each query: the SQL, and how its parameters come out of the request.
Params = Callable[[Request], tuple[Any, ...]]
QUERIES: dict[str, tuple[str, Params]] = {
    # What GET /api/v1/products/{product_key} serves (every column of the row).
    "products": (
        "SELECT * FROM products WHERE key = $1",
        lambda request: (request.path_params["product_key"],),
    ),
    # What GET /api/v1/pitch/{product_key}?locale= serves: the precomputed pitch document.
    "pitch": (
        "SELECT document FROM pitch_documents WHERE product_key = $1 AND locale = $2",
        lambda request: (request.path_params["product_key"], request.query_params.get("locale", "en")),
    ),
}
QUERY_NAME = os.environ.get("BENCH_BARE_QUERY", "products")
QUERY, query_params = QUERIES[QUERY_NAME]
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "20"))

NOT_FOUND = b'{"title":"Not Found","status":404}'


def render(row: asyncpg.Record) -> bytes:
    """The row as JSON bytes. A single JSON column (asyncpg hands json/jsonb over as text)
    goes out as it is stored, without a decode/encode round trip."""
    if len(row) == 1 and isinstance(row[0], str):
        return row[0].encode()
    return dumps(dict(row))


async def pitch(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    row = await pool.fetchrow(QUERY, *query_params(request))
    if row is None:
        return Response(NOT_FOUND, status_code=404, media_type="application/problem+json")
    return Response(render(row), media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_DATABASE_URL"], min_size=min(10, POOL_SIZE), max_size=POOL_SIZE
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(routes=[Route("/pitch/{product_key}", pitch, methods=["GET"])], lifespan=lifespan)
