"""Time readiness over 100,000 enrolled people on PostgreSQL.

    .venv/bin/python -m bench.readiness.run                    # 100,000 people, 15 timed requests each
    .venv/bin/python -m bench.readiness.run --people 20000 --requests 5 --keep

What it does, end to end (everything it starts it stops, even on failure):

1. creates a fresh database `cuecard_bench_<random>` on CUECARD_BENCH_POSTGRES_URL and migrates it
   with the real migrations (`service.migrate.upgrade`);
2. starts `cuecard serve` (one worker, CUECARD_ENV=production, CUECARD_LOG_LEVEL=WARNING) and,
   through the API with real tokens: 20 departments, two products, the first product's brief
   published three times (v1, a substantive v2, a minor v3: answers from v2 on count, v1's do
   not), the second product's brief once, and four campaigns (planned);
3. bulk-loads with `generate_series` INSERTs: N people (departments skewed, 3% inactive, hire
   dates over ten years), everyone enrolled in the main launch campaign (3% left), 20% also in a
   reinforcement campaign of the same product, 30% in the second product's campaign, 10% in a
   cancelled one; per person one random draw decides their answers to the main brief: 40% passed
   a check on v2 or v3, 8% needs_work, 4% waiting to be graded, 18% acknowledged only (70% in
   all), 8% answered v1 only (stale: must not count), the rest nothing; a quarter of the second
   campaign passed. Then the campaigns are activated (launch steps in the past: overdue counts)
   and VACUUM ANALYZE;
4. checks every timed endpoint's numbers against the same counts taken directly in SQL (a fast
   wrong answer is no result);
5. per case (the main campaign as an editor and as a department manager, the organisation as
   both) warms up, times sequential requests over one keep-alive connection and reports
   median / p95 / min / max ms, plus EXPLAIN ANALYZE of the campaign's readiness statement;
6. prints a Markdown table, writes the raw timings to bench/readiness/results/<timestamp>.json and
   drops the database.
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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    import asyncpg
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the interpreter used
    sys.exit(f"bench/readiness/run.py needs httpx and asyncpg ({exc}); run it with the project's venv.")

from bench.digest.run import percentile
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
    run_cli,
    seed_brief,
    start_server,
    stop_server,
    wait_ready,
)

READINESS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = READINESS_DIR / "results"
TARGET_MS = 300
DEPARTMENTS = 20
MANAGER_DEPARTMENT = "dept-07"

# One row per person with every random draw it needs, so enrollments, acknowledgements and
# checks agree with each other (and the verification below can recount them).
PLAN_SQL = """
CREATE UNLOGGED TABLE bench_plan AS
SELECT p.id AS person_id, p.n, random() AS progress, random() < 0.03 AS left_main,
       random() AS r_other, random() AS r_second, random() AS r_second_passed, random() AS r_version
FROM (SELECT id, row_number() OVER (ORDER BY email) AS n FROM people WHERE email LIKE 'bench-person-%') p
"""

PEOPLE_SQL = """
INSERT INTO people (id, created_at, updated_at, revision, email, display_name, role, department_id,
                    manager_id, employee_number, hire_date, locale, active, external_id)
SELECT gen_random_uuid(), now(), now(), 1, 'bench-person-' || lpad(i::text, 7, '0') || '@example.com',
       '社員 ' || i, 'employee',
       (SELECT array_agg(id ORDER BY key) FROM departments)[1 + floor(power(random(), 1.4) * $2)::int],
       NULL, 'E' || i, current_date - floor(random() * 3650)::int, 'ja', random() >= 0.03, NULL
FROM generate_series(1, $1::int) AS i
"""

ENROLL_SQL = """
INSERT INTO campaign_enrollments (id, created_at, updated_at, revision, campaign_id, person_id,
                                  anchor_date, enrolled_at, left_at)
SELECT gen_random_uuid(), now(), now(), 1, $1::uuid, person_id, NULL, now() - interval '20 days',
       CASE WHEN {left} THEN now() - interval '3 days' END
FROM bench_plan WHERE {who}
"""

# progress: < .40 passed, < .48 needs_work, < .52 submitted, < .70 acknowledged only,
# < .78 answered v1 only (stale), else nothing. Current answers are on v2 or v3 (the basis is v2).
ACKS_SQL = """
INSERT INTO acknowledgements (id, created_at, updated_at, revision, person_id, brief_id, lineage_id,
                              version, campaign_id, acknowledged_at)
SELECT gen_random_uuid(), now(), now(), 1, person_id,
       CASE WHEN version = 1 THEN $1::uuid WHEN version = 2 THEN $2::uuid ELSE $3::uuid END,
       $1::uuid, version, $4::uuid, now() - interval '5 days'
FROM (SELECT person_id, CASE WHEN progress >= 0.70 THEN 1 WHEN r_version < 0.6 THEN 2 ELSE 3 END AS version
      FROM bench_plan WHERE progress < 0.78) a
"""

CHECKS_SQL = """
INSERT INTO checks (id, created_at, updated_at, revision, person_id, campaign_id, brief_id, lineage_id,
                    version, answers, pitch_in_own_words, status, submitted_at, graded_by_id, graded_at,
                    comment)
SELECT gen_random_uuid(), now(), now(), 1, person_id, $4::uuid,
       CASE WHEN version = 1 THEN $1::uuid WHEN version = 2 THEN $2::uuid ELSE $3::uuid END,
       $1::uuid, version, '{"who_changes": "経理", "next_action": "試用", "what_we_give_up": "手書き"}'::json,
       '請求書の入力が週3時間減ります。', status, now() - interval '4 days',
       NULL, CASE WHEN status <> 'submitted' THEN now() - interval '2 days' END,
       CASE WHEN status = 'needs_work' THEN '代償が抜けています' END
FROM (SELECT person_id,
             CASE WHEN progress >= 0.70 THEN 1 WHEN r_version < 0.6 THEN 2 ELSE 3 END AS version,
             CASE WHEN progress < 0.40 THEN 'passed' WHEN progress < 0.48 THEN 'needs_work'
                  WHEN progress < 0.52 THEN 'submitted' ELSE 'passed' END AS status
      FROM bench_plan WHERE progress < 0.52 OR (progress >= 0.70 AND progress < 0.74)) c
"""

SECOND_SQL = """
WITH answered AS (
    SELECT person_id FROM bench_plan WHERE r_second < 0.30 AND r_second_passed < 0.25
), acks AS (
    INSERT INTO acknowledgements (id, created_at, updated_at, revision, person_id, brief_id, lineage_id,
                                  version, campaign_id, acknowledged_at)
    SELECT gen_random_uuid(), now(), now(), 1, person_id, $1::uuid, $1::uuid, 1, $2::uuid, now()
    FROM answered
)
INSERT INTO checks (id, created_at, updated_at, revision, person_id, campaign_id, brief_id, lineage_id,
                    version, answers, pitch_in_own_words, status, submitted_at, graded_by_id, graded_at,
                    comment)
SELECT gen_random_uuid(), now(), now(), 1, person_id, $2::uuid, $1::uuid, $1::uuid, 1, '{}'::json,
       '荷物の追跡が一画面で済みます。', 'passed', now(), NULL, now(), NULL
FROM answered
"""

# What readiness must say, counted the plain way (the verification, not the implementation).
EXPECTED_CAMPAIGN_SQL = """
SELECT count(*) AS audience,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM acknowledgements a WHERE a.person_id = e.person_id
                                      AND a.lineage_id = $2 AND a.version >= $3)) AS acknowledged,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM checks c WHERE c.person_id = e.person_id
                                      AND c.lineage_id = $2 AND c.version >= $3 AND c.status = 'passed')) AS passed
FROM campaign_enrollments e JOIN people p ON p.id = e.person_id
WHERE e.campaign_id = $1 AND e.left_at IS NULL AND p.active AND ($4::uuid IS NULL OR p.department_id = $4)
"""

EXPECTED_PRODUCT_SQL = """
SELECT count(*) AS audience,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM checks c WHERE c.person_id = x.person_id
                                      AND c.lineage_id = $2 AND c.version >= $3 AND c.status = 'passed')) AS passed
FROM (SELECT DISTINCT e.person_id FROM campaign_enrollments e
      JOIN campaigns k ON k.id = e.campaign_id JOIN people p ON p.id = e.person_id
      WHERE k.product_id = $1 AND k.status IN ('active', 'completed') AND e.left_at IS NULL AND p.active
        AND ($4::uuid IS NULL OR p.department_id = $4)) x
"""


# --- seeding through the API ------------------------------------------------------------------


class Api:
    """Calls to the running service as one of the seeding people."""

    def __init__(self, server: Server, tokens: dict[str, str]) -> None:
        self.server, self.tokens = server, tokens

    def post(self, role: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            self.server.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
        )
        if response.status_code not in (200, 201):
            raise BenchError(f"seeding: POST {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()

    def publish(self, brief_id: str) -> dict[str, Any]:
        """Submit (the editor) and approve (the admin: four eyes)."""
        self.post("editor", f"/api/v1/briefs/{brief_id}/submit")
        return self.post("admin", f"/api/v1/briefs/{brief_id}/approve")

    def revise(self, brief_id: str, change: str) -> dict[str, Any]:
        return self.publish(
            self.post("editor", f"/api/v1/briefs/{brief_id}/revise", {"change": change})["id"]
        )


def seed_through_api(api: Api) -> dict[str, Any]:
    for n in range(1, DEPARTMENTS + 1):
        api.post("admin", "/api/v1/departments", {"key": f"dept-{n:02d}", "name": f"部署 {n:02d}"})
    for key, name in (("kuradesk", "クラデスク KuraDesk"), ("hakobune", "ハコブネ Hakobune")):
        api.post("admin", "/api/v1/products", {"key": key, "name": name})
    v1 = api.publish(api.post("editor", "/api/v1/briefs", seed_brief("kuradesk", "ja"))["id"])
    v2 = api.revise(v1["id"], "substantive")
    v3 = api.revise(v2["id"], "minor")
    second = api.publish(api.post("editor", "/api/v1/briefs", seed_brief("hakobune", "ja"))["id"])
    now = datetime.now(UTC)

    def campaign(brief: dict[str, Any], name: str, kind: str, days: tuple[int, ...]) -> str:
        steps = [
            {"channel": "briefing", "title": f"{name} {i + 1}", "at": (now + timedelta(days=d)).isoformat()}
            for i, d in enumerate(days)
        ]
        body = {"brief_id": brief["id"], "name": name, "kind": kind, "steps": steps}
        return api.post("editor", "/api/v1/campaigns", body)["id"]

    return {
        "briefs": {"v1": v1["id"], "v2": v2["id"], "v3": v3["id"], "second": second["id"]},
        "lineage": v1["lineage_id"],
        "second_lineage": second["lineage_id"],
        "campaigns": {
            "main": campaign(v1, "請求書AI 全社ローンチ", "launch", (-14, -7, -1)),
            "reinforcement": campaign(v3, "請求書AI 振り返り", "reinforcement", (3, 10)),
            "second": campaign(second, "ハコブネ ローンチ", "launch", (-10, 5)),
            "cancelled": campaign(v1, "請求書AI 中止した説明会", "launch", (-5,)),
        },
    }


# --- seeding in bulk ----------------------------------------------------------------------------


async def load_people(url: str, people: int, seeded: dict[str, Any]) -> dict[str, Any]:
    connection = await asyncpg.connect(url, timeout=10, command_timeout=3600)
    briefs, campaigns = seeded["briefs"], seeded["campaigns"]
    enroll = (
        ("main", "true", "left_main"),
        ("reinforcement", "r_other < 0.20", "false"),
        ("second", "r_second < 0.30", "false"),
        ("cancelled", "r_other >= 0.90", "false"),
    )
    try:
        started = time.perf_counter()
        await connection.execute(PEOPLE_SQL, people, DEPARTMENTS)
        await connection.execute(PLAN_SQL)
        for name, who, left in enroll:
            await connection.execute(ENROLL_SQL.format(who=who, left=left), uuid.UUID(campaigns[name]))
        main_ids = [uuid.UUID(briefs[v]) for v in ("v1", "v2", "v3")] + [uuid.UUID(campaigns["main"])]
        await connection.execute(ACKS_SQL, *main_ids)
        await connection.execute(CHECKS_SQL, *main_ids)
        await connection.execute(SECOND_SQL, uuid.UUID(briefs["second"]), uuid.UUID(campaigns["second"]))
        await connection.execute(
            "UPDATE campaigns SET status = 'active', activated_at = now() - interval '20 days'"
            " WHERE id = ANY($1::uuid[])",
            [uuid.UUID(campaigns[n]) for n in ("main", "reinforcement", "second")],
        )
        await connection.execute(
            "UPDATE campaigns SET status = 'cancelled', cancelled_at = now() WHERE id = $1",
            uuid.UUID(campaigns["cancelled"]),
        )
        await connection.execute("DROP TABLE bench_plan")
        loaded = time.perf_counter() - started
        for table in ("people", "campaign_enrollments", "acknowledgements", "checks", "campaigns", "briefs"):
            await connection.execute(f"VACUUM ANALYZE {table}")
        sizes = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            for table in ("people", "campaign_enrollments", "acknowledgements", "checks")
        }
        return {
            "load_seconds": round(loaded, 1),
            "rows": sizes,
            "postgres": await connection.fetchval("SHOW server_version"),
        }
    finally:
        await connection.close()


async def expected(url: str, seeded: dict[str, Any], manager_department: uuid.UUID) -> dict[str, Any]:
    """The headline numbers, counted directly (total and for the manager's department)."""
    connection = await asyncpg.connect(url, timeout=10)
    try:
        main = uuid.UUID(seeded["campaigns"]["main"])
        lineage, second = uuid.UUID(seeded["lineage"]), uuid.UUID(seeded["second_lineage"])
        products = {row["key"]: row["id"] for row in await connection.fetch("SELECT key, id FROM products")}
        result: dict[str, Any] = {}
        for scope, department in (("all", None), ("manager", manager_department)):
            row = await connection.fetchrow(EXPECTED_CAMPAIGN_SQL, main, lineage, 2, department)
            result[f"campaign_{scope}"] = dict(row)
            for key, product_lineage, basis in (("kuradesk", lineage, 2), ("hakobune", second, 1)):
                row = await connection.fetchrow(
                    EXPECTED_PRODUCT_SQL, products[key], product_lineage, basis, department
                )
                result[f"{key}_{scope}"] = dict(row)
        return result
    finally:
        await connection.close()


async def explain(
    url: str, plain_url: str, seeded: dict[str, Any], manager_department: uuid.UUID
) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the statements readiness runs, built by the service's own code."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from service.auth.principal import Principal
    from service.briefs import service as briefs_service
    from service.campaigns import readiness
    from service.campaigns import repository as campaigns_repository
    from service.db import utcnow

    engine = create_async_engine(url)
    connection = await asyncpg.connect(plain_url, timeout=10)
    # What readiness sets for its own transaction (service/campaigns/readiness.py).
    await connection.execute("SET work_mem = '64MB'")
    plans: dict[str, Any] = {}
    try:
        async with async_sessionmaker(engine)() as session:
            operator = Principal.operator("bench")
            campaign = await campaigns_repository.get(session, uuid.UUID(seeded["campaigns"]["main"]))
            assert campaign is not None
            current = await briefs_service.current_versions(session, operator, None)
            statements = {}
            for who, scope in (("editor", readiness.EVERYONE), ("manager", manager_department)):
                statements[f"campaign ({who})"] = readiness.campaign_statement(
                    campaign, current[campaign.lineage_id], scope, utcnow()
                )
                statements[f"organisation ({who})"] = readiness.organisation_statement(current, scope)
            for name, statement in statements.items():
                # As the service sends it: asyncpg's positional parameters with their casts.
                compiled = statement.compile(
                    dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
                )
                sql = str(compiled)
                params = [compiled.params[key] for key in compiled.positiontup or ()]
                times, plan = [], None
                for _ in range(3):
                    raw = await connection.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *params)
                    plan = json.loads(raw)[0]
                    times.append(plan["Execution Time"] + plan["Planning Time"])
                plans[name] = {
                    "median_ms": round(statistics.median(times), 1),
                    "runs_ms": [round(t, 1) for t in times],
                    "sql": sql,
                    "plan": plan,
                }
    finally:
        await connection.close()
        await engine.dispose()
    return plans


# --- timing -------------------------------------------------------------------------------------


def time_case(base_url: str, case: dict[str, Any], warmup: int, requests: int) -> dict[str, Any]:
    timings: list[float] = []
    body: Any = None
    with httpx.Client(base_url=base_url, headers=case["headers"], timeout=60) as http:
        for n in range(warmup + requests):
            started = time.perf_counter()
            response = http.get(case["path"])
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise BenchError(f"{case['name']}: {response.status_code} {response.text[:300]}")
            if n >= warmup:
                timings.append(elapsed)
            body = response.json()
    return {
        "name": case["name"],
        "path": case["path"],
        "timings_ms": [round(t, 2) for t in timings],
        "median_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 0.95),
        "min_ms": min(timings),
        "max_ms": max(timings),
        "body": body,
    }


def verify(results: dict[str, dict[str, Any]], want: dict[str, Any]) -> None:
    """Every timed answer must match the direct counts."""
    problems = []
    for scope in ("all", "manager"):
        body = results[f"campaign_{scope}"]["body"]
        got = {k: body[k] for k in ("audience", "acknowledged", "passed")}
        if got != want[f"campaign_{scope}"]:
            problems.append(f"campaign ({scope}): {got} != {want[f'campaign_{scope}']}")
        products = {p["product_key"]: p for p in results[f"organisation_{scope}"]["body"]["products"]}
        for key in ("kuradesk", "hakobune"):
            got = {k: products[key][k] for k in ("audience", "passed")}
            if got != want[f"{key}_{scope}"]:
                problems.append(f"{key} ({scope}): {got} != {want[f'{key}_{scope}']}")
    if problems:
        raise BenchError("readiness disagrees with the direct count:\n  " + "\n  ".join(problems))


def markdown(results: list[dict[str, Any]], people: int, requests: int) -> str:
    lines = [
        f"{people:,} people, {requests} sequential requests per case (one keep-alive connection), "
        f"target < {TARGET_MS} ms for a campaign:",
        "",
        "| case | audience | median ms | p95 ms | min ms | max ms | target |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for r in results:
        met = "met" if r["p95_ms"] < TARGET_MS else "MISSED"
        lines.append(
            f"| {r['name']} | {r['body']['audience']:,} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['min_ms']:.1f} | {r['max_ms']:.1f} | {met} |"
        )
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.readiness.run",
        description="Time campaign and organisation readiness over a bulk-loaded PostgreSQL database.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--people", type=int, default=100_000)
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
    if args.people < 100 or args.requests < 1 or args.warmup < 0:
        parser.error("--people at least 100, --requests positive, --warmup not negative")
    return args


def token(env: dict[str, str], role: str, department: str | None = None) -> str:
    arguments = ["token", "--email", f"bench-{role}@example.com", "--role", role]
    return run_cli([*arguments, "--department", department] if department else arguments, env).strip()


def measure(args: argparse.Namespace, database: str, log_dir: Path) -> dict[str, Any]:
    from service.migrate import upgrade

    async_url = database_url(args.postgres_url, database, "postgresql+asyncpg")
    plain_url = database_url(args.postgres_url, database, "postgresql")
    env = {
        **os.environ,
        "CUECARD_ENV": "production",
        "CUECARD_DATABASE_URL": async_url,
        "CUECARD_JWT_SECRET": JWT_SECRET,
        "CUECARD_LOG_LEVEL": "WARNING",
        # Every request computes the answer: repeated identical reads would otherwise be
        # answered from memory (service/readcache.py), which is not what this measures.
        "CUECARD_READ_CACHE_SECONDS": "0",
    }
    print(f"database {database}: migrating", file=sys.stderr)
    upgrade(async_url)
    port = free_port()
    command = [cuecard_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = start_server("cuecard", command, env, port, log_dir)
    try:
        wait_ready(server, "/readyz")
        api = Api(server, {role: token(env, role) for role in ("admin", "editor")})
        seeded = seed_through_api(api)
        print(f"loading {args.people:,} people and their answers", file=sys.stderr)
        loaded = asyncio.run(load_people(plain_url, args.people, seeded))
        print(f"loaded in {loaded['load_seconds']} s: {loaded['rows']}", file=sys.stderr)
        editor = {"Authorization": f"Bearer {api.tokens['editor']}"}
        manager = {"Authorization": f"Bearer {token(env, 'manager', MANAGER_DEPARTMENT)}"}
        main = f"/api/v1/campaigns/{seeded['campaigns']['main']}/readiness"
        cases = {
            "campaign_all": {"name": "campaign, editor (every department)", "path": main, "headers": editor},
            "campaign_manager": {
                "name": "campaign, manager (one department)",
                "path": main,
                "headers": manager,
            },
            "organisation_all": {
                "name": "organisation, editor",
                "path": "/api/v1/readiness",
                "headers": editor,
            },
            "organisation_manager": {
                "name": "organisation, manager",
                "path": "/api/v1/readiness",
                "headers": manager,
            },
        }
        results = {}
        for key, case in cases.items():
            result = time_case(server.base_url, case, args.warmup, args.requests)
            print(
                f"  {result['name']:<38} median {result['median_ms']:7.1f} ms  p95 {result['p95_ms']:7.1f} ms",
                file=sys.stderr,
            )
            results[key] = result
    finally:
        stop_server(server)
    department = asyncio.run(_department_id(plain_url, MANAGER_DEPARTMENT))
    verify(results, asyncio.run(expected(plain_url, seeded, department)))
    plans = asyncio.run(explain(async_url, plain_url, seeded, department))
    for name, plan in plans.items():
        print(f"  SQL {name:<45} median {plan['median_ms']:7.1f} ms (EXPLAIN ANALYZE)", file=sys.stderr)
    return {"loaded": loaded, "seeded": seeded, "results": list(results.values()), "sql": plans}


async def _department_id(url: str, key: str) -> uuid.UUID:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return await connection.fetchval("SELECT id FROM departments WHERE key = $1", key)
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = f"cuecard_bench_{secrets.token_hex(4)}"
    started = datetime.now(UTC)
    created = False
    try:
        with tempfile.TemporaryDirectory(prefix="cuecard-bench-readiness-") as log_dir:
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

    table = markdown(measured["results"], args.people, args.requests)
    sql = "\n".join(f"- {name}: {plan['median_ms']} ms" for name, plan in measured["sql"].items())
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
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(table)
    print(
        "\nServer-side SQL time of the readiness statement (EXPLAIN ANALYZE, planning + execution, median of 3):"
    )
    print(sql)
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
