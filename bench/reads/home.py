"""The intranet home query in process: CPU, SQL statements and sessions per request, and where
its time goes (the same data, token and counters as `bench.reads.profile`).

    .venv/bin/python -m bench.reads.home --requests 300

Prints the median wall time and the CPU time (time.process_time) of one request unprofiled,
statements and pool checkouts (one per session) per request, each distinct statement, then a
cProfile of the same requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time

import asyncpg
import httpx

from bench.pitch.run import BenchError, create_database, drop_database
from bench.reads.profile import Counters, profile_page, timed
from bench.reads.run import DEFAULT_POSTGRES_URL, HOME_QUERY, add_people, prepare


async def run(args: argparse.Namespace, tokens: dict[str, str]) -> None:
    from asgi_lifespan import LifespanManager

    from service.config import get_settings
    from service.main import create_app  # after the environment points at the database

    # What a request costs to answer: repeated identical requests would otherwise be answered
    # from memory (service/readcache.py; bench.reads.run measures both).
    app = create_app(get_settings().model_copy(update={"read_cache_seconds": 0}))
    async with LifespanManager(app):
        counters = Counters(app)
        transport = httpx.ASGITransport(app=app)
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=admin
        ) as http:
            await add_people(http, args.people)
            async with app.state.engine.begin() as connection:
                await connection.exec_driver_sql("ANALYZE")
            headers = {"Authorization": f"Bearer {tokens['home']}"}

            async def home(http: httpx.AsyncClient) -> httpx.Response:
                return await http.post("/graphql", json={"query": HOME_QUERY}, headers=headers)

            body = (await home(http)).json()
            if body.get("errors") or not body["data"]["myFeed"]:
                raise BenchError(f"home query: {body}")
            await timed(http, home, 30)
            cpu0 = time.process_time()
            times = await timed(http, home, args.requests)
            cpu = (time.process_time() - cpu0) * 1000 / args.requests
            print(f"home: median {statistics.median(times):.2f} ms wall, {cpu:.2f} ms CPU per request")
            await profile_page(http, counters, "GraphQL intranet home", home, args.requests, args.top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reads.home", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    args = parser.parse_args(argv)
    database = f"cuecard_reads_{secrets.token_hex(4)}"
    create_database(args.postgres_url, database)
    try:
        env, _bare_env, tokens = prepare(args, database)
        os.environ.update({k: v for k, v in env.items() if k.startswith("CUECARD_")})
        asyncio.run(run(args, tokens))
    except BenchError as exc:
        print(f"home profile failed: {exc}", file=sys.stderr)
        return 1
    finally:
        try:
            drop_database(args.postgres_url, database)
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"warning: could not drop database {database}: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
