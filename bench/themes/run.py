"""Time deciding a theme of 10,000 feedback items on PostgreSQL, through the app.

    .venv/bin/python -m bench.themes.run                       # 10,000 items a theme, 7 timed decisions
    .venv/bin/python -m bench.themes.run --items 2000 --runs 3 --background 0

What it does, end to end (everything it starts it stops, even on failure):

1. creates a fresh database `cuecard_bench_<random>` on CUECARD_BENCH_POSTGRES_URL and migrates it
   with the real `cuecard db upgrade` (production settings, a fixed benchmark secret);
2. bulk-loads `--background` items in other themes (the table a real hub has around the theme:
   indexes to maintain, rows to skip), then VACUUM ANALYZE;
3. mints an editor's token (`cuecard token --role editor`), starts `cuecard serve`
   (CUECARD_ENV=production, CUECARD_LOG_LEVEL=WARNING);
4. per run: loads a fresh theme with `--items` triaged items (one generate_series INSERT, then
   ANALYZE; untimed), then times `POST /api/v1/themes/{id}/transition` deciding it (`build`),
   checking every item moved; a decided theme only moves forward, so each run decides its own.
   Two untimed warm-up runs on small themes come first;
5. prints the median / min / max ms and the target verdict (< 1,000 ms), writes the raw timings to
   bench/themes/results/<timestamp>.json and drops the database.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import asyncpg
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the interpreter used
    sys.exit(f"bench/themes/run.py needs httpx and asyncpg ({exc}); run it with the project's venv.")

from bench.pitch.run import (
    DEFAULT_POSTGRES_URL,
    JWT_SECRET,
    BenchError,
    create_database,
    cuecard_command,
    database_url,
    drop_database,
    free_port,
    run_cli,
    start_server,
    stop_server,
    wait_ready,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_MS = 1000
DECISION = {"to": "decided", "decision": "build", "rationale": "多くの顧客が月末の締めで困っている"}

THEME_SQL = """
INSERT INTO themes (id, created_at, updated_at, revision, name, description, product_id, merged_into_id)
VALUES (gen_random_uuid(), now(), now(), 1, $1, '', NULL, NULL)
RETURNING id
"""

# Triaged items of one theme (or, for the background, spread over many), as a hub holds them.
ITEMS_SQL = """
INSERT INTO feedback_items (
    id, created_at, updated_at, revision, source, external_id, product_id, customer_account,
    customer_segment, body, nps_score, tags, received_at, content_hash, status, decision, rationale,
    theme_id, filed_by_id, filed_by_client, stage_due_at, triaged_at, decided_at, implemented_at,
    announced_at, announcement_message_id)
SELECT gen_random_uuid(), now(), now(), 1, 'support', $1 || '-' || i, NULL,
       'acct-' || (i % 5000), 'smb', '請求書の読み取りが遅く、月末に残業が続いている (#' || i || ')', NULL,
       '[]'::json, now() - random() * interval '30 days', md5($1 || i::text), 'triaged', NULL, NULL,
       $2, NULL, 'bench', now() + interval '14 days', now(), NULL, NULL, NULL, NULL
FROM generate_series(1, $3::int) AS i
"""


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, timeout=10, command_timeout=3600)


async def load_background(url: str, items: int) -> None:
    connection = await _connect(url)
    try:
        for n in range(20):  # twenty other themes share the table
            theme = await connection.fetchval(THEME_SQL, f"Background {n}")
            await connection.execute(ITEMS_SQL, f"bg{n}", theme, items // 20)
        await connection.execute("VACUUM ANALYZE feedback_items")
    finally:
        await connection.close()


async def load_theme(url: str, items: int, run: int) -> str:
    connection = await _connect(url)
    try:
        theme = await connection.fetchval(THEME_SQL, f"請求書の読み取り {run}")
        await connection.execute(ITEMS_SQL, f"run{run}", theme, items)
        await connection.execute("ANALYZE feedback_items")
        return str(theme)
    finally:
        await connection.close()


def decide(http: httpx.Client, theme_id: str, items: int) -> float:
    started = time.perf_counter()
    response = http.post(f"/api/v1/themes/{theme_id}/transition", json=DECISION)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchError(f"deciding the theme: {response.status_code} {response.text[:300]}")
    answer = response.json()
    if answer["moved"] != items or answer["skipped"] != 0:
        raise BenchError(f"expected {items} moved and none skipped, got {answer}")
    return elapsed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.themes.run",
        description="Time deciding a theme of many items through the app on PostgreSQL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--items", type=int, default=10_000, help="items in each decided theme")
    parser.add_argument("--runs", type=int, default=7, help="timed decisions (each on a fresh theme)")
    parser.add_argument("--background", type=int, default=200_000, help="items in other themes")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (env CUECARD_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its name)")
    args = parser.parse_args(argv)
    if args.items < 1 or args.runs < 1 or args.background < 0:
        parser.error("--items and --runs positive, --background not negative")
    return args


def measure(args: argparse.Namespace, database: str, log_dir: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "CUECARD_ENV": "production",
        "CUECARD_DATABASE_URL": database_url(args.postgres_url, database, "postgresql+asyncpg"),
        "CUECARD_JWT_SECRET": JWT_SECRET,
        "CUECARD_LOG_LEVEL": "WARNING",
    }
    plain_url = database_url(args.postgres_url, database, "postgresql")
    print(f"database {database}: migrating", file=sys.stderr)
    run_cli(["db", "upgrade"], env)
    if args.background:
        print(f"loading {args.background:,} background items", file=sys.stderr)
        asyncio.run(load_background(plain_url, args.background))
    token = run_cli(["token", "--email", "bench-editor@example.com", "--role", "editor"], env).strip()
    port = free_port()
    server = start_server(
        "cuecard",
        [cuecard_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env,
        port,
        log_dir,
    )
    timings: list[float] = []
    try:
        wait_ready(server, "/readyz")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as http:
            for warm in range(2):
                decide(http, asyncio.run(load_theme(plain_url, 100, -1 - warm)), 100)
            for run in range(args.runs):
                theme = asyncio.run(load_theme(plain_url, args.items, run))
                elapsed = decide(http, theme, args.items)
                print(f"  run {run + 1}: {elapsed:8.1f} ms", file=sys.stderr)
                timings.append(elapsed)
    finally:
        stop_server(server)
    return {"timings_ms": [round(t, 2) for t in timings]}


def markdown(timings: list[float], args: argparse.Namespace) -> str:
    median = statistics.median(timings)
    verdict = "met" if median < TARGET_MS else "MISSED"
    return "\n".join(
        [
            f"`POST /api/v1/themes/{{id}}/transition` (decide, `build`) on a theme of {args.items:,} "
            f"triaged items, {args.background:,} other items in the table, {len(timings)} runs "
            f"(each a fresh theme), target < {TARGET_MS} ms:",
            "",
            "| items moved | median ms | min ms | max ms | target |",
            "|--:|--:|--:|--:|---|",
            f"| {args.items:,} | {median:.1f} | {min(timings):.1f} | {max(timings):.1f} | {verdict} |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = f"cuecard_bench_{secrets.token_hex(4)}"
    started = datetime.now(UTC)
    created = False
    try:
        with tempfile.TemporaryDirectory(prefix="cuecard-bench-themes-") as log_dir:
            try:
                create_database(args.postgres_url, database)
            except (OSError, asyncpg.PostgresError) as exc:
                raise BenchError(f"cannot create a database on {args.postgres_url}: {exc}") from exc
            created = True
            measured = measure(args, database, Path(log_dir))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if created and not args.keep:
            try:
                drop_database(args.postgres_url, database)
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"warning: could not drop database {database}: {exc}", file=sys.stderr)
        elif created:
            print(f"kept database {database}", file=sys.stderr)

    table = markdown(measured["timings_ms"], args)
    record = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_after": os.getloadavg(),
        },
        **measured,
        "median_ms": statistics.median(measured["timings_ms"]),
        "markdown": table,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table)
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
