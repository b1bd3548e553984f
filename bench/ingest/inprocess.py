"""Time the feedback batch in process on PostgreSQL: wall, Python CPU and the backend's CPU.

    # no-run: long benchmark
    .venv/bin/python -m bench.ingest.inprocess                 # 5 batches of 10,000 items
    .venv/bin/python -m bench.ingest.inprocess --batches 3 --profile

`bench.ingest.run` measures the HTTP request; on a shared machine its wall times move with
whatever else runs. This calls `service.feedback.service.ingest_batch` directly (no HTTP, no
JSON parsing, no Idempotency-Key) on a throwaway database and reports, per 10,000-item batch,
the wall time, this process's CPU time and the CPU time of the PostgreSQL backend serving the
batch's connection (read from /proc: Linux, database on this machine). CPU times are less
disturbed by other load than wall times (not immune: two busy cores slow each other), so
compare trees by running both, interleaved (`PYTHONPATH=<tree>`). The batch is bench.ingest's
own (`make_items`). `--profile` prints a cProfile of the last batch.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import statistics
import time
from typing import Any

import sqlalchemy as sa

from bench.ingest.run import PRODUCT_KEY, make_items
from bench.pitch.run import DEFAULT_POSTGRES_URL, JWT_SECRET, create_database, database_url, drop_database


def backend_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) the process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from service import wiring
    from service.auth.principal import Principal
    from service.config import get_settings
    from service.db import create_engine, create_sessionmaker
    from service.feedback import service as feedback_service
    from service.products import service as products_service
    from service.products.schemas import ProductCreate

    wiring.connect_domains()
    settings = get_settings()
    engine = create_engine(settings)
    maker = create_sessionmaker(engine, wiring.session_info(settings))
    pipe = Principal(
        kind="service", subject="client:bench", client_id="bench", scopes=frozenset({"feedback:write"})
    )
    runs: list[dict[str, Any]] = []
    try:
        async with maker() as session:
            await products_service.create_product(
                session, Principal.operator(), ProductCreate(key=PRODUCT_KEY, name="bench")
            )
        async with maker() as session:
            await feedback_service.ingest_batch(session, pipe, make_items("warmup", 200))
        profile = cProfile.Profile() if args.profile else None
        for batch in range(args.batches):
            items = make_items(f"b{batch}", args.items)
            async with maker() as session:
                pid = (await session.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
                await session.commit()
                backend, cpu, wall = backend_cpu(pid), time.process_time(), time.perf_counter()
                last = profile is not None and batch == args.batches - 1
                if last and profile is not None:
                    profile.enable()
                result = await feedback_service.ingest_batch(session, pipe, items)
                if last and profile is not None:
                    profile.disable()
                run = {
                    "wall_ms": (time.perf_counter() - wall) * 1000,
                    "python_cpu_ms": (time.process_time() - cpu) * 1000,
                    "postgres_cpu_ms": (backend_cpu(pid) - backend) * 1000,
                }
                if result.created != args.items:
                    raise SystemExit(f"batch {batch}: created {result.created}, errors {result.errors[:3]}")
            async with maker() as session:
                wall = time.perf_counter()
                result = await feedback_service.ingest_batch(session, pipe, items)
                run["resend_wall_ms"] = (time.perf_counter() - wall) * 1000
                if result.unchanged != args.items:
                    raise SystemExit(f"batch {batch} re-sent: unchanged {result.unchanged}")
            print(
                f"batch {batch}: first {run['wall_ms']:.0f} ms wall, {run['python_cpu_ms']:.0f} ms Python CPU, "
                f"{run['postgres_cpu_ms']:.0f} ms PostgreSQL CPU; re-send {run['resend_wall_ms']:.0f} ms wall",
                flush=True,
            )
            runs.append(run)
        if profile is not None:
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    finally:
        await engine.dispose()
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest.inprocess", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the last batch")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    args = parser.parse_args()
    name = "cuecard_inprocess_" + secrets.token_hex(4)
    create_database(args.postgres_url, name)
    try:
        os.environ.update(
            {
                "CUECARD_ENV": "production",
                "CUECARD_DATABASE_URL": database_url(args.postgres_url, name, "postgresql+asyncpg"),
                "CUECARD_JWT_SECRET": JWT_SECRET,
                "CUECARD_LOG_LEVEL": "WARNING",
            }
        )
        from service.migrate import upgrade

        upgrade(os.environ["CUECARD_DATABASE_URL"])
        runs = asyncio.run(measure(args))
    finally:
        drop_database(args.postgres_url, name)
    for key in ("wall_ms", "python_cpu_ms", "postgres_cpu_ms", "resend_wall_ms"):
        print(f"median {key}: {statistics.median(r[key] for r in runs):.0f}")


if __name__ == "__main__":
    main()
