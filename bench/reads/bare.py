"""The ceiling for a page of people: a bare ASGI app, one asyncpg query with the joins, JSON out.

No framework, no ORM, no middleware, no auth, no validation. It serves the same 50 rows in
the same order with the same fields as `GET /api/v1/people?limit=50` (an admin's view: every
field of `PersonRead`), plus what the GraphQL page asks for through its nested fields (the
department's name, the manager's display name), all from one query with two LEFT JOINs.
Whatever CueCard does on top of this is overhead; `bench/reads/run.py` measures both.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/cuecard_reads_x \\
        uvicorn bench.reads.bare:app --workers 1 --no-access-log

Environment:
    BENCH_DATABASE_URL  plain libpq URL of the database (required)
    BENCH_POOL_SIZE     asyncpg pool size (default 20, the service's pool + overflow)
"""

from __future__ import annotations

import base64
import os
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import orjson

POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "20"))

# The REST page's order (oldest first, id as tie-break) and one extra row to know whether
# there is a next page, as the service's keyset paging does.
PEOPLE = """
SELECT p.id, p.email, p.display_name, p.role, p.department_id, d.key AS department_key,
       p.locale, p.active, p.manager_id, p.employee_number, p.hire_date, p.external_id,
       p.created_at, p.updated_at, p.revision,
       d.name AS department_name, m.display_name AS manager_display_name
FROM people p
LEFT JOIN departments d ON d.id = p.department_id
LEFT JOIN people m ON m.id = p.manager_id
ORDER BY p.created_at, p.id
LIMIT $1
"""

JSON_HEADERS = [(b"content-type", b"application/json")]
PLAIN_HEADERS = [(b"content-type", b"text/plain")]
NOT_FOUND = b'{"title":"Not Found","status":404}'


def _cursor(row: asyncpg.Record) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([row["created_at"], row["id"]], default=str)).decode()


async def people_page(pool: asyncpg.Pool, query_string: bytes) -> bytes:
    limit = int(parse_qs(query_string.decode()).get("limit", ["50"])[0])
    rows = await pool.fetch(PEOPLE, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    # asyncpg's UUID is its own class, which orjson does not know: `default=str` writes it.
    return orjson.dumps(
        {"items": [dict(row) for row in rows], "next_cursor": _cursor(rows[-1]) if more and rows else None},
        default=str,
    )


async def _send(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        pool: asyncpg.Pool | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                pool = await asyncpg.create_pool(
                    os.environ["BENCH_DATABASE_URL"], min_size=min(10, POOL_SIZE), max_size=POOL_SIZE
                )
                scope["state"]["pool"] = pool
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if pool is not None:
                    await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/people":
        await _send(send, 200, JSON_HEADERS, await people_page(scope["state"]["pool"], scope["query_string"]))
    elif path == "/ping":
        # No database: how fast the load generator and uvicorn go with nothing to do.
        await _send(send, 200, PLAIN_HEADERS, b"ok")
    else:
        await _send(send, 404, JSON_HEADERS, NOT_FOUND)
