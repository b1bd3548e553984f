"""Time the weekly digest over a million feedback items on PostgreSQL.

    .venv/bin/python -m bench.digest.run                      # 1,000,000 items, 15 timed requests each
    .venv/bin/python -m bench.digest.run --items 200000 --requests 5

What it does, end to end (everything it starts it stops, even on failure):

1. creates a fresh database `cuecard_bench_<random>` on CUECARD_BENCH_POSTGRES_URL and migrates it
   with the real `cuecard db upgrade` (production settings, a fixed benchmark secret);
2. bulk-loads ~200 themes (a few merged into others) and N feedback items with one
   `generate_series` INSERT: sources weighted like a real hub (support, sales, NPS, ...), NPS
   scores skewed high, received over the last 90 days, walked through the loop stages with
   realistic delays (some stall, some are decided `stop`), stage due times from the default loop
   targets, ~20% unthemed, customer accounts skewed so a few raise much; then VACUUM ANALYZE;
3. creates a `feedback:read` service account, starts `cuecard serve` (CUECARD_ENV=production,
   CUECARD_LOG_LEVEL=WARNING, no embedded worker: see `measure`), exchanges the account's
   secret for a token;
4. per case (7-day and 90-day windows as JSON, the 7-day Markdown agenda) warms up, then times
   sequential requests over one keep-alive connection and reports median / p95 / min / max ms;
5. prints a Markdown table, writes the raw timings to bench/digest/results/<timestamp>.json and
   drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
    sys.exit(f"bench/digest/run.py needs httpx and asyncpg ({exc}); run it with the project's venv.")

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
    service_token,
    start_server,
    stop_server,
    wait_ready,
)

DIGEST_DIR = Path(__file__).resolve().parent
RESULTS_DIR = DIGEST_DIR / "results"
DIGEST_PATH = "/api/v1/feedback/digest"
TARGET_MS = 500

THEMES_SQL = """
INSERT INTO themes (id, created_at, updated_at, revision, name, description, product_id, merged_into_id)
SELECT gen_random_uuid(), now() - (200 - t) * interval '1 hour', now(), 1,
       (ARRAY['請求書の読み取り', 'Month-end close', '権限管理', 'CSV export', 'モバイル対応',
              'Onboarding', '価格', 'API limits', '通知', 'Search'])[1 + t % 10] || ' ' || t,
       '', NULL, NULL
FROM generate_series(1, $1::int) AS t
"""

# A few duplicates found later: merged into another theme (their items stay where they were
# filed, as if filed while the merge ran: the digest must count them under the survivor).
MERGE_SQL = """
WITH ordered AS (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM themes),
     pairs AS (SELECT a.id AS merged, b.id AS survivor
               FROM ordered a JOIN ordered b ON b.n = a.n - 1 WHERE a.n % 20 = 0)
UPDATE themes SET merged_into_id = pairs.survivor FROM pairs WHERE themes.id = pairs.merged
"""

# Customer accounts (issue 14): `acct-0` … `acct-19999`, the ones feedback names; annual revenue
# in JPY for 70%, USD 20%, EUR 5%, none 5% (the digest ranks themes by it, per currency).
ACCOUNTS_SQL = """
INSERT INTO accounts (id, created_at, updated_at, revision, key, name, segment, revenue_amount,
                      revenue_currency, merged_into_id)
SELECT gen_random_uuid(), now() - (20000 - a) * interval '1 second', now(), 1, 'acct-' || a,
       'acct-' || a, (ARRAY['smb', 'mid_market', 'enterprise'])[1 + a % 3],
       CASE WHEN a % 20 < 19 THEN round((1000000 + random() * 1e9)::numeric, 2) END,
       CASE WHEN a % 20 < 14 THEN 'JPY' WHEN a % 20 < 18 THEN 'USD' WHEN a % 20 < 19 THEN 'EUR' END,
       NULL
FROM generate_series(0, $1::int - 1) AS a
"""
# Three products the items are about (the digest can be filtered by one).
PRODUCTS_SQL = """
INSERT INTO products (id, created_at, updated_at, revision, key, name, description, is_company)
SELECT gen_random_uuid(), now(), now(), 1, 'bench-product-' || p, 'Bench product ' || p, NULL, false
FROM generate_series(1, 3) AS p
"""
ACCOUNTS = 20_000

# One pass of generate_series. The innermost subquery draws every random number once per row
# (PostgreSQL does not flatten a subquery with volatile outputs); the outer ones derive the stage
# times, how far the item got by now, and its due time from the default loop targets
# (triaged=2, decided=14, implemented=30, announced=7 days).
ITEMS_SQL = """
INSERT INTO feedback_items (
    id, created_at, updated_at, revision, source, external_id, product_id, customer_account,
    customer_segment, body, nps_score, tags, received_at, content_hash, status, decision, rationale,
    theme_id, filed_by_id, filed_by_client, stage_due_at, triaged_at, decided_at, implemented_at,
    announced_at, announcement_message_id, account_id)
SELECT gen_random_uuid(), c.received_at, c.received_at, 1, c.source, 'bench-' || c.i,
       (SELECT array_agg(id ORDER BY key) FROM products WHERE key LIKE 'bench-product-%')
           [1 + floor(c.r_product * 3)::int],
       'acct-' || floor(power(c.r_account, 2) * 20000)::int,
       (ARRAY['smb', 'mid-market', 'enterprise'])[1 + floor(c.r_segment * 3)::int],
       (ARRAY['請求書の読み取りが遅く、月末に残業が続いている',
              'Exporting to CSV garbles Japanese customer names',
              '承認フローに代理承認が欲しい',
              'We would renew if the API rate limit were higher',
              'モバイルで領収書を撮影して登録したい',
              'Onboarding took our team three weeks, too long',
              '権限の設定画面がわかりにくい',
              'The search cannot find invoices by amount',
              '通知が多すぎて重要なものを見落とす',
              'Price is fine, but the annual contract is a blocker'])[1 + c.i % 10] || ' (#' || c.i || ')',
       CASE WHEN c.source = 'nps' THEN least(10, floor(power(c.r_score, 0.6) * 11))::int END,
       '[]'::json, c.received_at, md5(c.i::text),
       (ARRAY['new', 'triaged', 'decided', 'implemented', 'announced'])[c.stage + 1],
       CASE WHEN c.stage >= 2 THEN CASE WHEN c.stop THEN 'stop' ELSE 'build' END END,
       CASE WHEN c.stage >= 2 THEN 'bench rationale' END,
       CASE WHEN c.r_theme < 0.8
            THEN (SELECT array_agg(id ORDER BY created_at, id) FROM themes)[1 + floor(c.r_theme / 0.8 * $2)::int]
       END,
       NULL, 'bench',
       CASE c.stage WHEN 0 THEN c.received_at + interval '2 days'
                    WHEN 1 THEN c.t1 + interval '14 days'
                    WHEN 2 THEN c.t2 + interval '30 days'
                    WHEN 3 THEN c.t3 + interval '7 days' END,
       CASE WHEN c.stage >= 1 THEN c.t1 END,
       CASE WHEN c.stage >= 2 THEN c.t2 END,
       CASE WHEN c.stage >= 3 THEN c.t3 END,
       CASE WHEN c.stage >= 4 THEN c.t4 END,
       NULL,
       (SELECT array_agg(id ORDER BY created_at, id) FROM accounts)[1 + floor(power(c.r_account, 2) * 20000)::int]
FROM (
    SELECT b.*,
           CASE WHEN b.max_stage >= 4 AND b.t4 <= b.now THEN 4
                WHEN b.max_stage >= 3 AND b.t3 <= b.now THEN 3
                WHEN b.max_stage >= 2 AND b.t2 <= b.now THEN 2
                WHEN b.max_stage >= 1 AND b.t1 <= b.now THEN 1
                ELSE 0 END AS stage
    FROM (
        SELECT a.*,
               a.received_at + a.r1 * interval '3 days' AS t1,
               a.received_at + a.r1 * interval '3 days' + a.r2 * interval '20 days' AS t2,
               a.received_at + a.r1 * interval '3 days' + a.r2 * interval '20 days'
                   + a.r3 * interval '40 days' AS t3,
               a.received_at + a.r1 * interval '3 days' + a.r2 * interval '20 days'
                   + a.r3 * interval '40 days' + a.r4 * interval '10 days' AS t4,
               CASE WHEN a.stop THEN least(a.reach, 2) ELSE a.reach END AS max_stage,
               CASE WHEN a.r_source < 0.40 THEN 'support'
                    WHEN a.r_source < 0.60 THEN 'sales'
                    WHEN a.r_source < 0.85 THEN 'nps'
                    WHEN a.r_source < 0.93 THEN 'survey'
                    WHEN a.r_source < 0.98 THEN 'interview'
                    ELSE 'other' END AS source
        FROM (
            SELECT i, now() AS now,
                   now() - random() * interval '90 days' AS received_at,
                   random() AS r_source, random() AS r_score, random() AS r_theme,
                   random() AS r_account, random() AS r_segment, random() AS r_product,
                   random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                   random() < 0.25 AS stop,
                   (ARRAY[0, 1, 2, 2, 3, 4, 4, 4, 4, 4])[1 + floor(random() * 10)::int] AS reach
            FROM generate_series(1, $1::int) AS i
        ) a
    ) b
) c
"""


# --- loading ------------------------------------------------------------------------------------


async def load_items(url: str, items: int, themes: int) -> dict[str, Any]:
    connection = await asyncpg.connect(url, timeout=10, command_timeout=3600)
    try:
        started = time.perf_counter()
        await connection.execute(PRODUCTS_SQL)
        await connection.execute(ACCOUNTS_SQL, ACCOUNTS)
        await connection.execute(THEMES_SQL, themes)
        await connection.execute(MERGE_SQL)
        await connection.execute(ITEMS_SQL, items, themes)
        loaded = time.perf_counter() - started
        await connection.execute("VACUUM ANALYZE themes")
        await connection.execute("VACUUM ANALYZE accounts")
        await connection.execute("VACUUM ANALYZE products")
        await connection.execute("VACUUM ANALYZE feedback_items")
        shape = await connection.fetch(
            "SELECT status, count(*) AS n FROM feedback_items GROUP BY status ORDER BY status"
        )
        size = await connection.fetchval("SELECT pg_size_pretty(pg_total_relation_size('feedback_items'))")
        version = await connection.fetchval("SHOW server_version")
        return {
            "load_seconds": round(loaded, 1),
            "by_status": {row["status"]: row["n"] for row in shape},
            "table_size": size,
            "postgres": version,
        }
    finally:
        await connection.close()


# --- timing -------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 15 values is the 15th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


CASES = (
    {"name": "7-day window, JSON", "days": 7, "accept": "application/json"},
    {"name": "90-day window, JSON", "days": 90, "accept": "application/json"},
    {"name": "7-day window, Markdown agenda", "days": 7, "accept": "text/markdown"},
    {
        "name": "90-day window, one product, JSON",
        "days": 90,
        "accept": "application/json",
        "product_key": "bench-product-1",
    },
)


def cases(now: datetime) -> list[dict[str, Any]]:
    until = now.replace(microsecond=0)
    return [
        {
            **case,
            "params": {
                "since": (until - timedelta(days=case["days"])).isoformat(),
                "until": until.isoformat(),
                **({"product_key": case["product_key"]} if "product_key" in case else {}),
            },
        }
        for case in CASES
    ]


def time_case(base_url: str, token: str, case: dict[str, Any], warmup: int, requests: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept": case["accept"]}
    timings: list[float] = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        sample: Any = None
        for n in range(warmup + requests):
            started = time.perf_counter()
            response = http.get(DIGEST_PATH, params=case["params"])
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise BenchError(f"{case['name']}: {response.status_code} {response.text[:300]}")
            if n >= warmup:
                timings.append(elapsed)
            sample = response.json() if case["accept"] == "application/json" else response.text[:400]
    return {
        "name": case["name"],
        "params": case["params"],
        "accept": case["accept"],
        "timings_ms": [round(t, 2) for t in timings],
        "median_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "min_ms": min(timings),
        "max_ms": max(timings),
        "sample": _summary(sample),
    }


def _summary(sample: Any) -> Any:
    if not isinstance(sample, dict):
        return sample
    return {
        "total": sample["total"],
        "nps": sample["nps"],
        "decided": sample["decided"],
        "themes": len(sample["by_theme"]),
        "currencies": sample.get("currencies"),
        "top_themes": [
            {k: t[k] for k in ("label", "count", "accounts", "revenue")} for t in sample.get("themes", [])[:3]
        ],
        "decisions": len(sample.get("decisions", [])),
        "loop_gaps": len(sample["loop_gaps"]),
        "overdue": len(sample["overdue"]),
        "median_loop_days": sample["median_loop_days"],
    }


def markdown(results: list[dict[str, Any]], items: int, requests: int) -> str:
    lines = [
        f"`GET {DIGEST_PATH}` over {items:,} items, {requests} sequential requests per case "
        f"(one keep-alive connection, `feedback:read` token), target < {TARGET_MS} ms:",
        "",
        "| case | items in window | median ms | p95 ms | min ms | max ms | target |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for r in results:
        total = f"{r['sample']['total']:,}" if isinstance(r["sample"], dict) else "(as above)"
        met = "met" if r["p95_ms"] < TARGET_MS else "MISSED"
        lines.append(
            f"| {r['name']} | {total} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['min_ms']:.1f} | {r['max_ms']:.1f} | {met} |"
        )
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.digest.run",
        description="Time the weekly digest over a bulk-loaded PostgreSQL database.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--themes", type=int, default=200)
    parser.add_argument("--requests", type=int, default=15, help="timed requests per case")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per case first")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (env CUECARD_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its name)")
    args = parser.parse_args(argv)
    if args.items < 1 or args.themes < 2 or args.requests < 1 or args.warmup < 0:
        parser.error("--items, --requests positive; --themes at least 2; --warmup not negative")
    return args


def measure(args: argparse.Namespace, database: str, log_dir: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "CUECARD_ENV": "production",
        "CUECARD_DATABASE_URL": database_url(args.postgres_url, database, "postgresql+asyncpg"),
        "CUECARD_JWT_SECRET": JWT_SECRET,
        "CUECARD_LOG_LEVEL": "WARNING",
        "CUECARD_CLIENT_TOKEN_TTL_SECONDS": "86400",
        # Every request computes the answer: repeated identical reads would otherwise be
        # answered from memory (service/readcache.py), which is not what this measures.
        "CUECARD_READ_CACHE_SECONDS": "0",
        # The API alone, as docs/deploy.md runs its replicas: the loaded history leaves ~66,000
        # items overdue within the clock's 7-day lookback, and an embedded worker would fire
        # their `feedback.overdue` events (minutes of catching up, ~200 ms of PostgreSQL a tick
        # after) on the same two cores the digest is timed on.
        "CUECARD_EMBEDDED_WORKER": "false",
    }
    print(f"database {database}: migrating", file=sys.stderr)
    run_cli(["db", "upgrade"], env)
    print(f"loading {args.items:,} items and {args.themes} themes", file=sys.stderr)
    loaded = asyncio.run(
        load_items(database_url(args.postgres_url, database, "postgresql"), args.items, args.themes)
    )
    print(f"loaded in {loaded['load_seconds']} s: {loaded}", file=sys.stderr)
    client = json.loads(run_cli(["clients", "create", "--name", "bench", "--scope", "feedback:read"], env))
    port = free_port()
    command = [cuecard_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = start_server("cuecard", command, env, port, log_dir)
    try:
        wait_ready(server, "/readyz")
        token = service_token(server, client)
        results = []
        for case in cases(datetime.now(UTC)):
            result = time_case(server.base_url, token, case, args.warmup, args.requests)
            print(
                f"  {result['name']:<32} median {result['median_ms']:7.1f} ms  p95 {result['p95_ms']:7.1f} ms",
                file=sys.stderr,
            )
            results.append(result)
    finally:
        stop_server(server)
    return {"loaded": loaded, "results": results}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = f"cuecard_bench_{secrets.token_hex(4)}"
    started = datetime.now(UTC)
    created = False
    try:
        with tempfile.TemporaryDirectory(prefix="cuecard-bench-digest-") as log_dir:
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

    table = markdown(measured["results"], args.items, args.requests)
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
