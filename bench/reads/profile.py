"""Where a people page's time goes, in process: REST and GraphQL through httpx's ASGITransport
against the app on a throwaway PostgreSQL database (the same data as `bench.reads.run`).

    .venv/bin/python -m bench.reads.profile                   # 300 requests per page
    .venv/bin/python -m bench.reads.profile --requests 500 --top 40
    .venv/bin/python -m bench.reads.profile --routes               # every read route, timed only
    .venv/bin/python -m bench.reads.profile --route /api/v1/briefs  # profile one REST route

Per page: the median time of one request without the profiler, then cProfile over
`--requests` sequential requests: own time per library (where the CPU goes), the cumulative
time of the service's stages per request, and the top functions by own time. No network, no
load generator: the figures are CPU per request on one core, comparable between runs on the
same machine. Only the standard library's cProfile (no profiler to install).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import secrets
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

import asyncpg
import httpx

from bench.pitch.run import BenchError, create_database, drop_database
from bench.reads.run import DEFAULT_POSTGRES_URL, HOME_QUERY, PEOPLE_QUERY, add_people, prepare

# Own time is attributed to the first matching fragment of a function's file path.
LIBRARIES = [
    ("service/", "cuecard (service/)"),
    ("/strawberry/", "strawberry"),
    ("/graphql/", "graphql-core"),
    ("/sqlalchemy/", "sqlalchemy"),
    ("/sqlmodel/", "sqlmodel"),
    ("/pydantic/", "pydantic"),
    ("/pydantic_core/", "pydantic"),
    ("/fastapi/", "fastapi"),
    ("/starlette/", "starlette"),
    ("/asyncpg/", "asyncpg"),
    ("/jwt/", "pyjwt"),
    ("/cryptography/", "cryptography"),
    ("/httpx/", "httpx (the test client)"),
    ("/httpcore/", "httpx (the test client)"),
    ("/anyio/", "anyio"),
]

# Stages of a request, by function name (file fragment, function): cumulative time per request.
STAGES = [
    ("the whole ASGI call", "fastapi/applications.py", "__call__"),
    ("middleware stack (starlette)", "starlette/middleware/errors.py", "__call__"),
    ("route handler (FastAPI run_endpoint_function)", "fastapi/routing.py", "run_endpoint_function"),
    (
        "dependencies (solve_dependencies: session, principal, paging)",
        "fastapi/dependencies/utils.py",
        "solve_dependencies",
    ),
    ("response validation + serialisation (serialize_response)", "fastapi/routing.py", "serialize_response"),
    ("JSON rendering (JSONResponse.render)", "starlette/responses.py", "render"),
    ("pydantic model_validate", "pydantic/main.py", "model_validate"),
    ("SQLAlchemy execute (session)", "sqlalchemy/ext/asyncio/session.py", "execute"),
    ("SQLAlchemy ORM row hydration (loading.instances)", "sqlalchemy/orm/loading.py", "instances"),
    ("asyncpg queries (prepare + bind_execute)", "asyncpg/connection.py", "_do_execute"),
    ("session commit/close", "sqlalchemy/ext/asyncio/session.py", "close"),
    ("strawberry execute", "strawberry/schema/schema.py", "execute"),
    ("graphql-core parse", "graphql/language/parser.py", "parse"),
    ("graphql-core validate", "graphql/validation/validate.py", "validate"),
    ("graphql-core execute_operation", "graphql/execution/execute.py", "execute_operation"),
    ("GraphQL context (service/api/graphql.py get_context)", "service/api/graphql.py", "get_context"),
    ("principal from the token (resolve_principal)", "service/auth/dependencies.py", "resolve_principal"),
    ("token verification (TokenService.verify)", "service/auth/tokens.py", "verify"),
    ("JWT decode (pyjwt)", "jwt/api_jwt.py", "decode_complete"),
    # Sync (`def`) dependencies and endpoints run in a worker thread, which cProfile does not
    # see: their count per request is what to look at.
    ("threadpool hops (anyio to_thread.run_sync)", "anyio/to_thread.py", "run_sync"),
]


class Counters:
    """SQL statements, pool checkouts and threadpool hops while a page is served: what the
    profile's cumulative times cannot say reliably (SQLAlchemy's greenlets and worker threads
    confuse cProfile's attribution)."""

    def __init__(self, app: Any) -> None:
        from fastapi.dependencies import utils as dependency_utils
        from sqlalchemy import event

        self.statements: list[str] = []
        self.checkouts = 0
        self.hops: list[str] = []
        engine = app.state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine.pool, "checkout", self._checkout)
        # FastAPI runs `def` dependencies in a worker thread through this name.
        original = dependency_utils.run_in_threadpool

        async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
            self.hops.append(getattr(func, "__qualname__", repr(func)))
            return await original(func, *args, **kwargs)

        dependency_utils.run_in_threadpool = counted

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(" ".join(statement.split()))

    def _checkout(self, *_args: Any) -> None:
        self.checkouts += 1

    def reset(self) -> None:
        self.statements.clear()
        self.hops.clear()
        self.checkouts = 0

    def report(self, requests: int) -> dict[str, Any]:
        return {
            "sql_per_request": len(self.statements) / requests,
            "pool_checkouts_per_request": self.checkouts / requests,
            "threadpool_hops_per_request": len(self.hops) / requests,
            "threadpool_functions": sorted(set(self.hops)),
            "statements": [s[:160] for s in dict.fromkeys(self.statements)],
        }


async def timed(http: httpx.AsyncClient, send: Any, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = await send(http)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise BenchError(f"{response.status_code} {response.text[:300]}")
    return times


def library_split(stats: pstats.Stats, requests: int) -> list[tuple[str, float]]:
    own: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == "~":
            label = "C functions (builtins, orjson, pydantic-core, asyncpg's codecs, …)"
        elif "site-packages" not in filename and "/lib/python3" in filename:
            label = f"stdlib {os.path.basename(filename)}"
        else:
            label = next((lab for frag, lab in LIBRARIES if frag in filename), f"other {filename}")
        own[label] += tottime
    return sorted(((k, v * 1000 / requests) for k, v in own.items()), key=lambda kv: -kv[1])


def stage_times(stats: pstats.Stats, requests: int) -> list[tuple[str, float, int]]:
    out = []
    for label, fragment, function in STAGES:
        cumulative, calls = 0.0, 0
        for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            if name == function and fragment in filename:
                cumulative += ct
                calls += nc
        if calls:
            out.append((label, cumulative * 1000 / requests, calls // requests))
    return out


def top_functions(stats: pstats.Stats, top: int) -> str:
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    text = buffer.getvalue()
    return text[text.find("   ncalls") :]


async def profile_page(
    http: httpx.AsyncClient, counters: Counters, name: str, send: Any, requests: int, top: int
) -> dict[str, Any]:
    await timed(http, send, 30)  # warm: caches, prepared statements, pool
    counters.reset()
    plain = await timed(http, send, requests)
    counted = counters.report(requests)
    profiler = cProfile.Profile()
    profiler.enable()
    await timed(http, send, requests)
    profiler.disable()
    stats = pstats.Stats(profiler)
    result = {
        "page": name,
        "median_ms": statistics.median(plain),
        "mean_ms": statistics.fmean(plain),
        "profiled_ms_per_request": stats.total_tt * 1000 / requests,  # type: ignore[attr-defined]
        "libraries_own_ms": library_split(stats, requests),
        "stages_cumulative_ms": stage_times(stats, requests),
        **counted,
    }
    print(
        f"\n## {name}: median {result['median_ms']:.2f} ms per request (mean {result['mean_ms']:.2f}) unprofiled"
    )
    print(
        f"per request: {counted['sql_per_request']:g} SQL statements, {counted['pool_checkouts_per_request']:g} "
        f"pool checkouts, {counted['threadpool_hops_per_request']:g} threadpool hops "
        f"({', '.join(counted['threadpool_functions'])})"
    )
    for statement in counted["statements"]:
        print(f"  SQL: {statement}")
    print(f"profiled: {result['profiled_ms_per_request']:.2f} ms per request; own time per library:")
    for label, ms in [kv for kv in result["libraries_own_ms"] if kv[1] >= 0.1]:
        print(f"  {ms:7.3f} ms  {label}")
    print("cumulative per request (calls per request):")
    for label, ms, calls in result["stages_cumulative_ms"]:
        print(f"  {ms:7.3f} ms  {label} ({calls})")
    print(f"top {top} functions by own time over {requests} requests:")
    print(top_functions(stats, top))
    return result


# The REST list and detail routes of issue 11: (list path, detail path template or None).
# A detail route is timed on the first item of its list.
READ_ROUTES = [
    ("/api/v1/people?limit=50", "/api/v1/people/{id}"),
    ("/api/v1/briefs?limit=50", "/api/v1/briefs/{id}"),
    ("/api/v1/messages?limit=50", "/api/v1/messages/{id}"),
    ("/api/v1/evidence?limit=50", "/api/v1/evidence/{id}"),
    ("/api/v1/feedback?limit=50", "/api/v1/feedback/{id}"),
    ("/api/v1/campaigns?limit=50", "/api/v1/campaigns/{id}"),
]
FEED_ROUTE = "/api/v1/me/feed"


async def route_sweep(
    http: httpx.AsyncClient, counters: Counters, requests: int, home_headers: dict[str, str]
) -> list[dict[str, Any]]:
    """CPU time of this process (app and test client; PostgreSQL's work is not in it) and
    median wall time per request, SQL statements per request, of every read route: on a shared
    machine the CPU time is the figure to compare, wall time waits for other processes."""
    targets: list[tuple[str, dict[str, str]]] = []
    for listing, detail in READ_ROUTES:
        targets.append((listing, {}))
        items = (await http.get(listing)).json()["items"]
        if detail and items:
            targets.append((detail.format(id=items[0]["id"]), {}))
    targets.append((FEED_ROUTE, home_headers))
    results = []
    for path, headers in targets:

        async def send(http: httpx.AsyncClient, path: str = path, headers: dict[str, str] = headers):
            return await http.get(path, headers=headers)

        await timed(http, send, 20)
        counters.reset()
        cpu = time.process_time()
        times = await timed(http, send, requests)
        cpu_ms = (time.process_time() - cpu) * 1000 / requests
        counted = counters.report(requests)
        size = len((await send(http)).content)
        results.append(
            {
                "route": path,
                "median_ms": statistics.median(times),
                "cpu_ms": cpu_ms,
                "sql_per_request": counted["sql_per_request"],
                "hops_per_request": counted["threadpool_hops_per_request"],
                "bytes": size,
            }
        )
        print(
            f"{cpu_ms:8.3f} ms CPU {statistics.median(times):8.3f} ms wall  {counted['sql_per_request']:g} SQL  "
            f"{counted['threadpool_hops_per_request']:g} hops  {size:7d} B  GET {path}"
        )
    return results


async def run(args: argparse.Namespace, tokens: dict[str, str]) -> list[dict[str, Any]]:
    from asgi_lifespan import LifespanManager

    from service.config import get_settings
    from service.main import create_app  # after the environment points at the database

    # What a request costs to answer: repeated identical requests would otherwise be answered
    # from memory (service/readcache.py; bench.reads.run measures both).
    app = create_app(get_settings().model_copy(update={"read_cache_seconds": 0}))
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    async with LifespanManager(app):
        counters = Counters(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=admin
        ) as http:
            await add_people(http, args.people)
            async with app.state.engine.begin() as connection:
                await connection.exec_driver_sql("ANALYZE")  # as in bench.reads.run

            async def rest(http: httpx.AsyncClient) -> httpx.Response:
                return await http.get("/api/v1/people", params={"limit": 50})

            async def graphql(http: httpx.AsyncClient) -> httpx.Response:
                return await http.post("/graphql", json={"query": PEOPLE_QUERY})

            home_headers = {"Authorization": f"Bearer {tokens['home']}"}

            async def home(http: httpx.AsyncClient) -> httpx.Response:
                return await http.post("/graphql", json={"query": HOME_QUERY}, headers=home_headers)

            if args.home:
                return [
                    await profile_page(http, counters, "GraphQL intranet home", home, args.requests, args.top)
                ]
            if args.routes:
                print(f"\n## every read route, {args.requests} requests each, unprofiled")
                return await route_sweep(http, counters, args.requests, home_headers)
            if args.route:
                path = args.route

                async def one(http: httpx.AsyncClient) -> httpx.Response:
                    return await http.get(path)

                return [await profile_page(http, counters, f"REST GET {path}", one, args.requests, args.top)]

            rest_page, graphql_page = (await rest(http)).json(), (await graphql(http)).json()
            if len(rest_page["items"]) != 50 or len(graphql_page["data"]["people"]["edges"]) != 50:
                raise BenchError("pages not full")
            results = [
                await profile_page(
                    http, counters, "REST GET /api/v1/people?limit=50", rest, args.requests, args.top
                ),
                await profile_page(
                    http,
                    counters,
                    "GraphQL people(first: 50) with department and manager",
                    graphql,
                    args.requests,
                    args.top,
                ),
            ]

            async def ping(http: httpx.AsyncClient) -> httpx.Response:
                return await http.get("/healthz")

            # The intranet home: timed and counted only (`--home` profiles it).
            await timed(http, home, 10)
            counters.reset()
            home_times = await timed(http, home, max(args.requests // 3, 20))
            counted = counters.report(len(home_times))
            print(
                f"\n## GraphQL intranet home: median {statistics.median(home_times):.2f} ms per request unprofiled; "
                f"{counted['sql_per_request']:g} SQL statements, {counted['pool_checkouts_per_request']:g} pool checkouts"
            )
            # For scale: the test client's and the middleware's own cost, a route with no work.
            await timed(http, ping, 30)
            noop = await timed(http, ping, args.requests)
            print(
                f"\nfor scale: GET /healthz (no auth, no database) median {statistics.median(noop):.3f} ms in process"
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reads.profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    parser.add_argument("--routes", action="store_true", help="time every REST read route instead")
    parser.add_argument("--route", help="profile this REST GET path (admin token) instead")
    parser.add_argument("--home", action="store_true", help="profile the intranet home query instead")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON at the end")
    args = parser.parse_args(argv)
    database = f"cuecard_reads_{secrets.token_hex(4)}"
    create_database(args.postgres_url, database)
    try:
        env, _bare_env, tokens = prepare(args, database)
        # The in-process app reads the same settings `cuecard serve` gets.
        os.environ.update({k: v for k, v in env.items() if k.startswith("CUECARD_")})
        results = asyncio.run(run(args, tokens))
    except BenchError as exc:
        print(f"profile failed: {exc}", file=sys.stderr)
        return 1
    finally:
        try:
            drop_database(args.postgres_url, database)
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"warning: could not drop database {database}: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
