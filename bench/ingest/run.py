"""Benchmark feedback ingest: POST /api/v1/feedback/batch with 10,000 items on PostgreSQL.

    .venv/bin/python -m bench.ingest.run                     # 5 runs of 10,000 items
    .venv/bin/python -m bench.ingest.run --runs 3 --items 2000 --json /tmp/ingest.json

What it does, end to end (everything it starts it stops, even on failure):

1. creates a fresh database `cuecard_bench_<random>` on CUECARD_BENCH_POSTGRES_URL and migrates
   it with the real `cuecard` CLI (production settings, a fixed benchmark secret, log level
   WARNING); creates a `feedback:write` service account (`cuecard clients create`);
2. starts `cuecard serve` (one worker), exchanges the client for a token at
   POST /api/v1/auth/token, creates the product the items name (admin token from
   `cuecard token`) and warms the server up with a small batch;
3. per run, builds a fresh batch (unique external ids; support, sales, NPS with scores,
   surveys, interviews; Japanese and English bodies) and times, one after the other:
   - `first`: the batch sent for the first time, with an Idempotency-Key (all created);
   - `re-send`: the same batch again without a key (all unchanged, no new rows);
   - `key replay`: the same batch with the first Idempotency-Key (the stored first response);
   - `first, no key`: another fresh batch without a key (what the Idempotency-Key costs);
   checking every answer (status, counts) so a fast error is never a result;
4. prints a Markdown table (items/s median, p50 / min / max latency per kind), checks the row
   count in the database, stops the server and drops the database.

Only the standard library, httpx and asyncpg.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    import asyncpg
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the interpreter used
    sys.exit(f"bench/ingest/run.py needs httpx and asyncpg ({exc}); run it with the project's venv.")

from bench.pitch.run import (
    DEFAULT_POSTGRES_URL,
    JWT_SECRET,
    BenchError,
    Server,
    create_database,
    cuecard_command,
    database_url,
    drop_database,
    free_port,
    log_tail,
    run_cli,
    service_token,
    start_server,
    stop_server,
    wait_ready,
)

PRODUCT_KEY = "bench-kuradesk"
KINDS = ("first", "re-send", "key replay", "first, no key")
TARGET_ITEMS_PER_SECOND = 20_000

JA_BODIES = (
    "請求書の読み取りが遅く、月末に画面が固まる。100枚を超えると待ち時間が長い。",
    "手書きの請求書にも対応してほしい。取引先の半分はまだ手書きで送ってくる。",
    "導入の決め手は会計ソフトとの連携が30分で終わったこと。",
    "価格よりも、入力ミスが減ったことを経理部長が評価している。",
)
EN_BODIES = (
    "Export to our accounting package fails when an invoice has more than 50 lines.",
    "The team saves about three hours a week at month end; they want the same for receipts.",
    "Competitor X offers approval flows inside the product; we lost one deal over it.",
    "Onboarding was quick, but the PDF preview is hard to read on a laptop screen.",
)
SOURCES = ("support", "sales", "nps", "survey", "interview")


# --- command line -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest.run",
        description="Benchmark POST /api/v1/feedback/batch (first time, re-send, Idempotency-Key replay).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--items", type=int, default=10_000, help="items per batch")
    parser.add_argument("--runs", type=int, default=5, help="measured runs (each a fresh batch)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (env CUECARD_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--log-level", default="WARNING", help="the server's CUECARD_LOG_LEVEL")
    parser.add_argument("--json", type=Path, default=None, help="also write every raw run to this file")
    args = parser.parse_args(argv)
    if args.items < 1 or args.runs < 1:
        parser.error("--items and --runs must be positive")
    return args


# --- the batch ----------------------------------------------------------------------------------


def make_items(run: str, count: int) -> list[dict[str, Any]]:
    """A realistic batch: every source, NPS scores 0–10, Japanese and English, unique ids."""
    received = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    items = []
    for n in range(count):
        source = SOURCES[n % len(SOURCES)]
        bodies = JA_BODIES if n % 3 else EN_BODIES
        item: dict[str, Any] = {
            "source": source,
            "external_id": f"{run}-{n:06d}",
            "product_key": PRODUCT_KEY,
            # 500 recurring customers (matched to their accounts by exact name) and, every 100th
            # item, one this batch names first (created on ingest: Japanese names, derived keys).
            "customer": {
                "account": f"顧客 {n % 500:03d} 株式会社" if n % 100 else f"新規 {run} {n:06d} 株式会社",
                "segment": ("smb", "mid-market")[n % 2],
            },
            "body": f"{bodies[n % len(bodies)]} (#{n})",
            "tags": ["請求書", ("速度", "連携", "価格")[n % 3]],
            "received_at": (received - timedelta(minutes=n)).isoformat(),
        }
        if source == "nps":
            item["nps_score"] = n % 11
        items.append(item)
    return items


# --- server -------------------------------------------------------------------------------------


def environment(args: argparse.Namespace, database: str) -> dict[str, str]:
    return {
        **os.environ,
        "CUECARD_ENV": "production",
        "CUECARD_DATABASE_URL": database_url(args.postgres_url, database, "postgresql+asyncpg"),
        "CUECARD_JWT_SECRET": JWT_SECRET,
        "CUECARD_LOG_LEVEL": args.log_level,
        "CUECARD_CLIENT_TOKEN_TTL_SECONDS": "86400",
    }


def create_product(server: Server, env: dict[str, str]) -> None:
    admin = run_cli(["token", "--email", "bench-admin@example.com", "--role", "admin"], env).strip()
    response = httpx.post(
        server.base_url + "/api/v1/products",
        json={"key": PRODUCT_KEY, "name": "クラデスク 請求書AI (bench)"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=30,
    )
    if response.status_code != 201:
        raise BenchError(f"creating the product: {response.status_code} {response.text[:300]}")


# --- measuring ----------------------------------------------------------------------------------


def post(
    http: httpx.Client, server: Server, body: bytes, headers: dict[str, str], expect: dict[str, int]
) -> float:
    """POST the batch, check the answer, return the seconds it took."""
    started = time.perf_counter()
    response = http.post(server.base_url + "/api/v1/feedback/batch", content=body, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchError(f"batch answered {response.status_code}: {response.text[:500]}\n{log_tail(server)}")
    result = response.json()
    got = {k: result.get(k) for k in expect}
    if got != expect or result.get("errors"):
        raise BenchError(f"batch answered {got} (errors: {result.get('errors', [])[:3]}), expected {expect}")
    return elapsed


def measure(args: argparse.Namespace, server: Server, token: str) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    runs: list[dict[str, Any]] = []
    with httpx.Client(timeout=120) as http:
        warm = json.dumps({"items": make_items("warmup", 200)}, ensure_ascii=False).encode()
        for expect in ({"created": 200}, {"unchanged": 200}):
            post(http, server, warm, auth, expect)
        tag = secrets.token_hex(3)
        n = args.items
        created = {"created": n, "updated": 0, "unchanged": 0}
        for run in range(1, args.runs + 1):
            body = json.dumps({"items": make_items(f"r{run}-{tag}", n)}, ensure_ascii=False).encode()
            unkeyed = json.dumps({"items": make_items(f"u{run}-{tag}", n)}, ensure_ascii=False).encode()
            keyed = {**auth, "Idempotency-Key": f"bench-{tag}-{run}"}
            timings: dict[str, float] = {}
            if run % 2 == 0:  # every other run the unkeyed batch goes first: order effects hit both
                timings["first, no key"] = post(http, server, unkeyed, auth, created)
            timings["first"] = post(http, server, body, keyed, created)
            timings["re-send"] = post(http, server, body, auth, {"created": 0, "updated": 0, "unchanged": n})
            timings["key replay"] = post(http, server, body, keyed, created)
            if run % 2 == 1:
                timings["first, no key"] = post(http, server, unkeyed, auth, created)
            for kind, seconds in timings.items():
                runs.append(
                    {
                        "run": run,
                        "kind": kind,
                        "items": n,
                        "bytes": len(body),
                        "seconds": seconds,
                        "items_per_second": n / seconds,
                        "loadavg_1m": os.getloadavg()[0],
                    }
                )
            print(
                f"  run {run}/{args.runs}: "
                + "  ".join(f"{k} {n / s:6.0f}/s ({s * 1000:4.0f} ms)" for k, s in timings.items()),
                file=sys.stderr,
            )
    return runs


async def _count_rows(url: str) -> int:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return await connection.fetchval("SELECT count(*) FROM feedback_items")
    finally:
        await connection.close()


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for kind in KINDS:
        mine = [r for r in runs if r["kind"] == kind]
        seconds = [r["seconds"] for r in mine]
        rows.append(
            {
                "kind": kind,
                "items_per_second": statistics.median(r["items_per_second"] for r in mine),
                "p50_ms": statistics.median(seconds) * 1000,
                "min_ms": min(seconds) * 1000,
                "max_ms": max(seconds) * 1000,
                "per_run": [round(r["items_per_second"]) for r in mine],
            }
        )
    return rows


def markdown(summary: list[dict[str, Any]], args: argparse.Namespace, body_bytes: int) -> str:
    lines = [
        f"{args.items:,} items per batch ({body_bytes / 1e6:.1f} MB of JSON), {args.runs} runs, 1 worker",
        "",
        "| request | items/s (median) | p50 ms | min ms | max ms | items/s per run |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for row in summary:
        lines.append(
            f"| {row['kind']} | {row['items_per_second']:,.0f} | {row['p50_ms']:.0f} | {row['min_ms']:.0f} "
            f"| {row['max_ms']:.0f} | {', '.join(f'{v:,}' for v in row['per_run'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = f"cuecard_bench_{secrets.token_hex(4)}"
    started = datetime.now(UTC)
    created = False
    server: Server | None = None
    try:
        cuecard_command()
        with tempfile.TemporaryDirectory(prefix="cuecard-bench-ingest-") as log_dir:
            try:
                create_database(args.postgres_url, database)
            except (OSError, asyncpg.PostgresError) as exc:
                raise BenchError(f"cannot create a database on {args.postgres_url}: {exc}") from exc
            created = True
            env = environment(args, database)
            print(f"database {database}: migrating", file=sys.stderr)
            run_cli(["db", "upgrade"], env)
            client = json.loads(
                run_cli(["clients", "create", "--name", "bench-ingest", "--scope", "feedback:write"], env)
            )
            port = free_port()
            command = [
                cuecard_command(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ]
            server = start_server("cuecard", command, env, port, Path(log_dir))
            try:
                wait_ready(server, "/readyz")
                create_product(server, env)
                token = service_token(server, client)
                loadavg_before = os.getloadavg()
                runs = measure(args, server, token)
            finally:
                stop_server(server)
            rows = asyncio.run(_count_rows(database_url(args.postgres_url, database, "postgresql")))
            expected_rows = 200 + 2 * args.items * args.runs
            if rows != expected_rows:
                raise BenchError(f"{rows} rows stored, expected {expected_rows}: a re-send added rows")
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if created:
            try:
                drop_database(args.postgres_url, database)
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"warning: could not drop database {database}: {exc}", file=sys.stderr)

    summary = summarise(runs)
    table = markdown(summary, args, runs[0]["bytes"])
    verdicts = [
        f"{row['kind']}: {row['items_per_second']:,.0f} items/s — "
        + ("meets" if row["items_per_second"] >= TARGET_ITEMS_PER_SECOND else "misses")
        + f" the {TARGET_ITEMS_PER_SECOND:,} items/s target"
        for row in summary
        if row["kind"] != "key replay"
    ]
    print(table)
    print()
    print("\n".join(verdicts))
    print(f"rows stored: {rows} (warm-up 200 + {args.runs} × 2 × {args.items}): re-sends added none")
    if args.json:
        record = {
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "loadavg_before": loadavg_before,
                "loadavg_after": os.getloadavg(),
            },
            "runs": runs,
            "summary": summary,
            "markdown": table,
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"raw results: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
