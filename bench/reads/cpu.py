"""CPU per request of the REST read routes and two GraphQL reads (the people page, the home query), the app called as an ASGI callable (no HTTP
server, no test client), one tree against another on the same PostgreSQL data.

    PYTHONPATH=$PWD .venv/bin/python -m bench.reads.cpu                        # this tree
    PYTHONPATH=$PWD .venv/bin/python -m bench.reads.cpu --trees /tmp/base,$PWD --rounds 3

One database is made and loaded once (the demo, 500 more people, ANALYZE, as
`bench.reads.run`); then each tree in turn, `--rounds` times in alternation (A B A B …), runs
in a fresh process: the app with the read cache and the embedded worker off, every route
warmed, then `--requests` sequential requests per route timed with `time.process_time`.
What is counted is the app's own work for a request (routing, middleware, dependencies, SQL
on asyncpg, shaping, JSON); uvicorn's HTTP parsing and PostgreSQL's work are not in it.
CPU time rather than wall time: the machine may be shared, and other processes' load only
moves wall time. Medians over the rounds per tree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The read routes timed (list, then the detail of its first item), as bench.reads.profile.
READ_ROUTES = [
    ("/api/v1/people?limit=50", "/api/v1/people/{id}"),
    ("/api/v1/briefs?limit=50", "/api/v1/briefs/{id}"),
    ("/api/v1/messages?limit=50", "/api/v1/messages/{id}"),
    ("/api/v1/evidence?limit=50", "/api/v1/evidence/{id}"),
    ("/api/v1/feedback?limit=50", "/api/v1/feedback/{id}"),
    ("/api/v1/campaigns?limit=50", "/api/v1/campaigns/{id}"),
]
FEED_ROUTE = "/api/v1/me/feed"
# GraphQL operations timed after the REST routes: (label, token name, query).
GRAPHQL_LABELS = ("POST /graphql people(first: 50)", "POST /graphql home")


async def call(app: Any, path: str, token: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One GET (a POST of `body` as JSON when given) through the whole ASGI app, middleware
    included; its status and body."""
    raw_path, _, query = path.partition("?")
    extra = [(b"content-type", b"application/json"), (b"content-length", str(len(body or b"")).encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET" if body is None else "POST",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"accept", b"*/*"),
            (b"authorization", f"Bearer {token}".encode()),
            *(extra if body is not None else []),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body or b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def child(requests: int, tokens: dict[str, str]) -> dict[str, Any]:
    from asgi_lifespan import LifespanManager

    from service.config import get_settings
    from service.main import create_app

    settings = get_settings().model_copy(update={"read_cache_seconds": 0, "embedded_worker": False})
    app = create_app(settings)
    results: dict[str, Any] = {}
    async with LifespanManager(app):
        from bench.reads.run import HOME_QUERY, PEOPLE_QUERY

        targets: list[tuple[str, str, bytes | None]] = []
        for listing, detail in READ_ROUTES:
            targets.append((listing, tokens["admin"], None))
            status, body = await call(app, listing, tokens["admin"])
            items = json.loads(body)["items"] if status == 200 else []
            if detail and items:
                targets.append((detail.format(id=items[0]["id"]), tokens["admin"], None))
        targets.append((FEED_ROUTE, tokens["home"], None))
        for query, token in ((PEOPLE_QUERY, tokens["admin"]), (HOME_QUERY, tokens["home"])):
            targets.append(("/graphql", token, json.dumps({"query": query}).encode()))
        labels = iter(GRAPHQL_LABELS)
        for path, token, sent in targets:
            for _ in range(30):  # warm: compiled statements, prepared statements, caches
                status, body = await call(app, path, token, sent)
                if status != 200 or (sent is not None and b'"errors"' in body):
                    raise SystemExit(f"{path}: {status} {body[:300]!r}")
            start = time.process_time()
            for _ in range(requests):
                await call(app, path, token, sent)
            cpu_ms = (time.process_time() - start) * 1000 / requests
            results[next(labels) if sent is not None else path] = {"cpu_ms": cpu_ms, "bytes": len(body)}
    return results


def route_label(path: str) -> str:
    parts = path.split("/")
    # A detail path's id differs between databases: name it by its template.
    if len(parts) == 5 and len(parts[4]) == 36:
        parts[4] = "{id}"
    return "/".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reads.cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", help="comma-separated source trees to compare (default: this one)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)
    if args.child:
        tokens = json.loads(os.environ["CUECARD_BENCH_TOKENS"])
        print(json.dumps(asyncio.run(child(args.requests, tokens))))
        return 0

    import asyncpg
    import httpx
    from asgi_lifespan import LifespanManager

    from bench.pitch.run import create_database, drop_database
    from bench.reads.run import DEFAULT_POSTGRES_URL, _analyze, add_people, prepare

    postgres_url = os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    args.postgres_url = postgres_url
    here = str(Path(__file__).resolve().parents[2])
    trees = [str(Path(t).resolve()) for t in args.trees.split(",")] if args.trees else [here]
    database = f"cuecard_cpu_{secrets.token_hex(4)}"
    create_database(postgres_url, database)
    try:
        env, _bare_env, tokens = prepare(args, database)
        os.environ.update({k: v for k, v in env.items() if k.startswith("CUECARD_")})

        async def load() -> None:
            from service.config import get_settings
            from service.main import create_app

            app = create_app(get_settings().model_copy(update={"read_cache_seconds": 0}))
            async with LifespanManager(app):
                transport = httpx.ASGITransport(app=app)
                headers = {"Authorization": f"Bearer {tokens['admin']}"}
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://t", headers=headers
                ) as http:
                    await add_people(http, args.people)

        asyncio.run(load())
        asyncio.run(_analyze(postgres_url, database))
        runs: dict[str, list[dict[str, Any]]] = {tree: [] for tree in trees}
        for round_ in range(args.rounds):
            order = trees if round_ % 2 == 0 else list(reversed(trees))
            for tree in order:
                child_env = {
                    **os.environ,
                    "PYTHONPATH": tree,
                    "CUECARD_BENCH_TOKENS": json.dumps(tokens),
                    "CUECARD_LOG_LEVEL": "WARNING",
                }
                out = subprocess.run(  # noqa: S603 - our own command, no shell
                    [sys.executable, __file__, "--child", "--requests", str(args.requests)],
                    env=child_env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode != 0:
                    print(out.stderr[-3000:], file=sys.stderr)
                    return 1
                result = {
                    route_label(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()
                }
                runs[tree].append(result)
                print(
                    f"round {round_ + 1} {tree}: " + ", ".join(f"{v['cpu_ms']:.2f}" for v in result.values()),
                    file=sys.stderr,
                )
        routes = list(runs[trees[0]][0])
        print("\nCPU ms per request (median of rounds; each round's value in brackets)")
        print("| route | " + " | ".join(trees) + " |")
        print("|---|" + "--:|" * len(trees))
        for route in routes:
            cells = []
            for tree in trees:
                values = [run[route]["cpu_ms"] for run in runs[tree] if route in run]
                cells.append(f"{statistics.median(values):.3f} ({', '.join(f'{v:.2f}' for v in values)})")
            print(
                f"| `{route if route.startswith('POST') else 'GET ' + route}` | " + " | ".join(cells) + " |"
            )
        sizes = {tree: {r: runs[tree][0][r]["bytes"] for r in routes if r in runs[tree][0]} for tree in trees}
        if len({json.dumps(s, sort_keys=True) for s in sizes.values()}) > 1:
            print(f"\nresponse sizes differ between trees: {sizes}")
    finally:
        try:
            drop_database(postgres_url, database)
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"warning: could not drop database {database}: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
