"""Benchmark CueCard's reads against a bare page of the same rows (issue 11), on PostgreSQL.

    .venv/bin/python -m bench.reads.run                       # 3 runs x 10 s, 16 connections
    .venv/bin/python -m bench.reads.run --runs 5 --duration 20

Targets, each loaded by wrk in turn (never two at once), the order reversed every run (A B A B):

- `bare`: bench/reads/bare.py, a bare ASGI app, one asyncpg query with the joins, JSON out;
- `rest`: `GET /api/v1/people?limit=50`, an admin's token (every field, like the bare page);
- `graphql`: `people(first: 50)` with `department { key name }` and `manager { displayName }`;
- `home`: the intranet home of a new hire (her feed, her campaigns with the brief to
  acknowledge, her open check), one GraphQL request; its p99 is what counts;
- `rest_computed`, `graphql_computed`, `home_computed`: the same three against a second
  `cuecard serve` with `CUECARD_READ_CACHE_SECONDS=0`, so every request is computed: what a
  caller's first read costs (service/readcache.py answers repeated ones from memory).

Each run also reads the server's CPU time from /proc before and after: CPU per request is
robust to whatever else the machine does, where req/s is not.

End to end (everything it starts it stops, even on failure): a throwaway database
`cuecard_reads_<random>`, migrated, the demo data plus `--people` more people with departments
and managers (added through the API, so pages are full); `cuecard serve` (one worker; a second one with the
read cache off) and the bare app, all pinned to core 0 with `taskset -c 0`; wrk (one thread) pinned to core 1, and
the database's own backends (only this database's) moved to core 1 too. The servers stay up
side by side but only one is loaded at a time. Checks first that the bare page and the REST
page are the same 50 rows with the same values, that the GraphQL page has the same people,
departments and managers, and that the home query answers without errors; a sanity run shows
what wrk and uvicorn do with no work (`/ping` on the bare app). Prints a Markdown table of
medians (req/s, p50, p99, ratio to bare), writes every raw run to
bench/reads/results/<timestamp>.json (ignored by git) and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.pitch.run import (
    JWT_SECRET,
    WRK_SCRIPT,
    BenchError,
    Server,
    _same_value,
    create_database,
    cuecard_command,
    database_url,
    drop_database,
    free_port,
    log_tail,
    require_wrk,
    run_cli,
    start_server,
    stop_server,
    wait_ready,
    wrk_version,
)

READS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = READS_DIR / "results"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

ADMIN_EMAIL = "admin@hoshino.example"  # the demo's admin: sees every field, like the bare page
HOME_EMAIL = "nakamura.rin@hoshino.example"  # the demo's new hire with a check waiting
SERVER_CORE, LOAD_CORE = "0", "1"

PEOPLE_QUERY = (
    "query People { people(first: 50) { edges { node { id displayName email "
    "department { key name } manager { displayName } } } } }"
)
HOME_QUERY = """query Home {
  me { id displayName department { key name } }
  myFeed(limit: 20) {
    __typename
    ... on CampaignStep {
      at state campaignId campaignName campaignKind stepIndex channel title exercise
      acknowledged checkStatus briefId version
    }
    ... on FeedbackLoop { at feedbackId excerpt status overdue stageDueAt }
  }
  campaigns(first: 20, status: ACTIVE) {
    edges { node {
      id name kind status currentVersion
      brief { id version title pitch valueProposition customerNextAction
              gutCheck { whoChanges nextAction whatWeGiveUp } }
    } }
  }
  checks(first: 5, status: SUBMITTED) {
    edges { node { id status version submittedAt campaign { id name } } }
  }
}"""

TARGETS = (
    "bare",
    "rest",
    "graphql",
    "home",
    "rest_computed",
    "graphql_computed",
    "home_computed",
    "rest_floor",
)
# What each target is, for the table.
LABELS = {
    "bare": "bare ASGI + asyncpg, one query with the joins, JSON out (no auth, no ORM)",
    "rest": "`GET /api/v1/people?limit=50`",
    "graphql": "GraphQL `people(first: 50) { … department { key name } manager { displayName } }`",
    "home": "GraphQL intranet home (`me`, `myFeed`, `campaigns` with the brief, open `checks`)",
    "rest_computed": "the REST page, every request computed (`CUECARD_READ_CACHE_SECONDS=0`)",
    "graphql_computed": "the GraphQL page, every request computed",
    "home_computed": "the intranet home, every request computed",
    "rest_floor": "the REST page's route, dependencies and middleware answering a stored body (`bench/reads/floor.py`)",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reads.run",
        description="Benchmark CueCard's people page (REST, GraphQL) and intranet home against a bare page.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=3, help="measured runs per target")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load per target")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--people", type=int, default=500, help="people added to the demo's")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin the servers, wrk and PostgreSQL backends to cores"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (env CUECARD_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.duration < 1 or args.warmup < 0 or args.connections < 1:
        parser.error("--runs, --duration and --connections must be positive, --warmup not negative")
    return args


# --- pinning ------------------------------------------------------------------------------


def pinned(core: str, command: list[str], args: argparse.Namespace) -> list[str]:
    if args.no_pin:
        return command
    taskset = shutil.which("taskset")
    if not taskset:
        raise BenchError("taskset (util-linux) is needed to pin to cores; or pass --no-pin")
    return [taskset, "-c", core, *command]


async def _backend_pids(server_url: str, database: str) -> list[int]:
    connection = await asyncpg.connect(server_url, timeout=10)
    try:
        rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


async def _analyze(server_url: str, database: str) -> None:
    connection = await asyncpg.connect(database_url(server_url, database, "postgresql"), timeout=10)
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def analyze(args: argparse.Namespace, database: str) -> None:
    """Fresh statistics, as autovacuum would have them in steady state: right after the bulk
    load the planner still believes `people` has a few dozen rows and hash-joins every person
    before sorting, which makes the bare page's query four times dearer than it is."""
    asyncio.run(_analyze(args.postgres_url, database))


def pin_backends(args: argparse.Namespace, database: str) -> int:
    """Move this database's PostgreSQL backends (not the rest of the server) to the load
    generator's core. New backends fork from the postmaster and may land anywhere: called
    before every run. Needs the right to set their affinity (root, or the postgres user)."""
    if args.no_pin:
        return 0
    moved = 0
    for pid in asyncio.run(_backend_pids(args.postgres_url, database)):
        try:
            os.sched_setaffinity(pid, {int(LOAD_CORE)})
            moved += 1
        except (PermissionError, ProcessLookupError):
            continue
    return moved


# --- wrk ----------------------------------------------------------------------------------


def wrk_script(body: str | None, directory: Path, name: str) -> Path:
    """wrk's Lua script: a POST with a JSON body (GraphQL) when `body` is given, then the
    bench/pitch report (exact percentiles as one JSON line)."""
    path = directory / f"{name}.lua"
    head = ""
    if body is not None:
        head = (
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{body}]==]\n"
        )
    path.write_text(head + WRK_SCRIPT.read_text(), encoding="utf-8")
    return path


def run_wrk(
    url: str, headers: dict[str, str], script: Path, args: argparse.Namespace, seconds: int
) -> dict[str, Any]:
    # One thread: wrk has one core to itself (the other is the server's).
    command = [require_wrk(), "--threads=1", f"--connections={args.connections}", f"--duration={seconds}s"]
    command += ["--timeout=5s", "--latency", f"--script={script}"]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    command.append(url)
    done = subprocess.run(  # noqa: S603
        pinned(LOAD_CORE, command, args), capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    report = next((line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or report is None:
        raise BenchError(f"wrk failed ({done.returncode}) on {url}:\n{done.stdout}\n{done.stderr}")
    data = json.loads(report.removeprefix("BENCH_JSON "))
    latency = data["latency_us"]
    return {
        "rps": data["requests"] / (data["duration_us"] / 1e6),
        "p50_ms": latency["p50"] / 1000,
        "p99_ms": latency["p99"] / 1000,
        "errors": sum(data["errors"].values()),
        "wrk": data,
    }


# --- data and checks ----------------------------------------------------------------------


async def add_people(http: httpx.AsyncClient, count: int) -> None:
    """`count` people through the API (`http` carries an admin's token), spread over the demo's
    departments, each managed by a demo manager or admin (so the page's manager join finds
    someone)."""
    departments = (await http.get("/api/v1/departments", params={"limit": 100})).json()["items"]
    people = (await http.get("/api/v1/people", params={"limit": 100})).json()["items"]
    managers = [p["id"] for p in people if p["role"] in ("manager", "admin")]
    if not departments or not managers:
        raise BenchError("the demo data has no departments or managers")
    semaphore = asyncio.Semaphore(8)

    async def add(i: int) -> None:
        body = {
            "email": f"reads-bench-{i:04d}@bench.example",
            "display_name": f"ベンチ 太郎 {i:04d} / Bench Person {i:04d}",
            "department_key": departments[i % len(departments)]["key"],
            "manager_id": managers[i % len(managers)],
            "employee_number": f"B{i:05d}",
            "locale": "ja" if i % 2 else "en",
        }
        async with semaphore:
            response = await http.post("/api/v1/people", json=body)
        if response.status_code != 201:
            raise BenchError(f"adding a person: {response.status_code} {response.text[:300]}")

    await asyncio.gather(*(add(i) for i in range(count)))


async def _add_people_over_http(base_url: str, headers: dict[str, str], count: int) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        await add_people(http, count)


def get_json(server: Server, url: str, headers: dict[str, str], body: str | None = None) -> Any:
    if body is None:
        response = httpx.get(url, headers=headers, timeout=30)
    else:
        response = httpx.post(
            url, headers={**headers, "Content-Type": "application/json"}, content=body, timeout=30
        )
    if response.status_code != 200:
        raise BenchError(
            f"{server.name} {url} answered {response.status_code}, not 200: {response.text[:500]}\n{log_tail(server)}"
        )
    data = response.json()
    if body is not None and data.get("errors"):
        raise BenchError(f"{server.name} {url}: GraphQL errors {json.dumps(data['errors'])[:800]}")
    return data


def check_targets(targets: dict[str, dict[str, Any]], servers: dict[str, Server]) -> dict[str, Any]:
    """Before any load: the pages are full and the bare page serves what the real ones do."""

    def fetch(name: str) -> Any:
        t = targets[name]
        return get_json(servers[t["server"]], t["url"], t["headers"], t["body"])

    bare, rest, graphql, home = (fetch(name) for name in TARGETS[:4])
    for name, same in (("rest_computed", rest), ("graphql_computed", graphql), ("home_computed", home)):
        if fetch(name) != same:
            raise BenchError(f"{name} answers differently from the cached server")
    bare_items, rest_items = bare["items"], rest["items"]
    nodes = [edge["node"] for edge in graphql["data"]["people"]["edges"]]
    if not (len(bare_items) == len(rest_items) == len(nodes) == 50):
        raise BenchError(
            f"pages not full: bare {len(bare_items)}, rest {len(rest_items)}, graphql {len(nodes)}"
        )
    differing = set()
    for b, r in zip(bare_items, rest_items, strict=True):
        differing |= {k for k, v in r.items() if not _same_value(b.get(k), v)}
    if differing:
        raise BenchError(f"the bare page and the REST page differ in {sorted(differing)}")
    for b, n in zip(bare_items, nodes, strict=True):
        department = (
            {"key": b["department_key"], "name": b["department_name"]} if b["department_key"] else None
        )
        manager = {"displayName": b["manager_display_name"]} if b["manager_display_name"] else None
        seen = (n["id"], n["email"], n["displayName"], n["department"], n["manager"])
        if seen != (b["id"], b["email"], b["display_name"], department, manager):
            raise BenchError(f"the GraphQL page differs from the bare page: {n} vs {b}")
    data = home["data"]
    steps = [e for e in data["myFeed"] if e["__typename"] == "CampaignStep"]
    summary = {
        "people_per_page": 50,
        "with_department": sum(1 for b in bare_items if b["department_key"]),
        "with_manager": sum(1 for b in bare_items if b["manager_display_name"]),
        "home": {
            "feed_entries": len(data["myFeed"]),
            "campaign_steps": len(steps),
            "campaigns": len(data["campaigns"]["edges"]),
            "campaigns_with_brief": sum(1 for e in data["campaigns"]["edges"] if e["node"]["brief"]),
            "open_checks": len(data["checks"]["edges"]),
        },
        "bytes": {
            name: len(json.dumps(value, ensure_ascii=False).encode())
            for name, value in zip(TARGETS[:4], (bare, rest, graphql, home), strict=True)
        },
    }
    if not (summary["home"]["campaigns_with_brief"] and summary["home"]["open_checks"] and steps):
        raise BenchError(f"the home query found too little to show: {summary['home']}")
    return summary


# --- the run ------------------------------------------------------------------------------


def environments(args: argparse.Namespace, database: str) -> tuple[dict[str, str], dict[str, str]]:
    real = {
        **os.environ,
        "CUECARD_ENV": "production",
        "CUECARD_DATABASE_URL": database_url(args.postgres_url, database, "postgresql+asyncpg"),
        "CUECARD_JWT_SECRET": JWT_SECRET,
        "CUECARD_LOG_LEVEL": "WARNING",
    }
    bare = {**os.environ, "BENCH_DATABASE_URL": database_url(args.postgres_url, database, "postgresql")}
    return real, bare


def prepare(args: argparse.Namespace, database: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Migrate, load the demo, mint the two tokens; the environments and the tokens."""
    env, bare_env = environments(args, database)
    print(f"database {database}: migrating and loading the demo data", file=sys.stderr)
    run_cli(["db", "upgrade"], env)
    run_cli(["demo", "load"], env)
    tokens = {
        "admin": run_cli(["token", "--email", ADMIN_EMAIL, "--role", "admin", "--ttl", "86400"], env).strip(),
        "home": run_cli(
            ["token", "--email", HOME_EMAIL, "--role", "employee", "--ttl", "86400"], env
        ).strip(),
    }
    return env, bare_env, tokens


def start_servers(args: argparse.Namespace, env: dict[str, str], bare_env: dict[str, str], log_dir: Path):
    real_port, bare_port = free_port(), free_port()
    real_command = [
        cuecard_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(real_port),
        "--workers",
        "1",
    ]
    bare_command = [sys.executable, "-m", "uvicorn", "bench.reads.bare:app", "--host", "127.0.0.1"]
    bare_command += ["--port", str(bare_port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
    bare_command += ["--no-server-header"]
    real = start_server("cuecard", pinned(SERVER_CORE, real_command, args), env, real_port, log_dir)
    try:
        bare = start_server("bare", pinned(SERVER_CORE, bare_command, args), bare_env, bare_port, log_dir)
    except BaseException:
        stop_server(real)
        raise
    return real, bare


def start_computing_server(args: argparse.Namespace, env: dict[str, str], log_dir: Path) -> Server:
    """The same service with the read cache off: what every request costs when computed."""
    port = free_port()
    command = [cuecard_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    computing = {**env, "CUECARD_READ_CACHE_SECONDS": "0"}
    return start_server("cuecard-computed", pinned(SERVER_CORE, command, args), computing, port, log_dir)


def start_floor_server(args: argparse.Namespace, env: dict[str, str], body: Path, log_dir: Path) -> Server:
    """The service's app plus a route with the REST page's dependencies that answers `body`
    (bench/reads/floor.py), served as `cuecard serve` serves, the read cache off as computed."""
    port = free_port()
    command = [sys.executable, "-m", "bench.reads.floor", "--port", str(port)]
    floor = {**env, "CUECARD_READ_CACHE_SECONDS": "0", "BENCH_FLOOR_BODY": str(body)}
    return start_server("cuecard-floor", pinned(SERVER_CORE, command, args), floor, port, log_dir)


def measure(args: argparse.Namespace, database: str, log_dir: Path) -> dict[str, Any]:
    env, bare_env, tokens = prepare(args, database)
    real, bare = start_servers(args, env, bare_env, log_dir)
    computed: Server | None = None
    floor: Server | None = None
    try:
        computed = start_computing_server(args, env, log_dir)
        wait_ready(real, "/readyz")
        wait_ready(computed, "/readyz")
        wait_ready(bare, "/ping")
        print(f"adding {args.people} people through the API", file=sys.stderr)
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        asyncio.run(_add_people_over_http(real.base_url, admin, args.people))
        analyze(args, database)
        home = {"Authorization": f"Bearer {tokens['home']}"}
        people_body = json.dumps({"query": PEOPLE_QUERY})
        home_body = json.dumps({"query": HOME_QUERY})
        targets = {
            "bare": {
                "server": "bare",
                "url": bare.base_url + "/people?limit=50",
                "headers": {},
                "body": None,
            },
            "rest": {
                "server": "cuecard",
                "url": real.base_url + "/api/v1/people?limit=50",
                "headers": admin,
                "body": None,
            },
            "graphql": {
                "server": "cuecard",
                "url": real.base_url + "/graphql",
                "headers": admin,
                "body": people_body,
            },
            "home": {
                "server": "cuecard",
                "url": real.base_url + "/graphql",
                "headers": home,
                "body": home_body,
            },
        }
        for name in ("rest", "graphql", "home"):
            computing = dict(targets[name], server="cuecard-computed")
            computing["url"] = computing["url"].replace(real.base_url, computed.base_url)
            targets[f"{name}_computed"] = computing
        # The floor answers what the computed page answers, stored: its body, byte for byte.
        page = httpx.get(targets["rest_computed"]["url"], headers=admin, timeout=30)
        if page.status_code != 200:
            raise BenchError(f"the REST page answered {page.status_code}: {page.text[:300]}")
        stored = log_dir / "people-page.json"
        stored.write_bytes(page.content)
        floor = start_floor_server(args, env, stored, log_dir)
        wait_ready(floor, "/readyz")
        targets["rest_floor"] = dict(targets["rest_computed"], server="cuecard-floor")
        targets["rest_floor"]["url"] = floor.base_url + "/bench/floor/people?limit=50"
        if httpx.get(targets["rest_floor"]["url"], headers=admin, timeout=30).content != page.content:
            raise BenchError("the floor route did not answer the stored page")
        servers = {"bare": bare, "cuecard": real, "cuecard-computed": computed, "cuecard-floor": floor}
        checked = check_targets(targets, servers)
        print(f"checks passed: {json.dumps(checked, ensure_ascii=False)}", file=sys.stderr)
        for name, target in targets.items():
            target["script"] = wrk_script(target["body"], log_dir, name)

        sanity = run_wrk(
            bare.base_url + "/ping", {}, wrk_script(None, log_dir, "ping"), args, max(args.duration // 2, 3)
        )
        print(f"sanity: bare /ping (no database) {sanity['rps']:.0f} req/s", file=sys.stderr)
        pin_backends(args, database)
        if args.warmup:
            for target in targets.values():
                run_wrk(target["url"], target["headers"], target["script"], args, args.warmup)
        runs = []
        for run in range(args.runs):
            # A B A B: the order reversed every run, so drift on the machine hits all alike.
            for name in TARGETS if run % 2 == 0 else tuple(reversed(TARGETS)):
                target = targets[name]
                moved = pin_backends(args, database)
                load_1m = os.getloadavg()[0]
                pid = servers[target["server"]].proc.pid
                cpu_before = server_cpu_seconds(pid)
                result = run_wrk(target["url"], target["headers"], target["script"], args, args.duration)
                cpu = (server_cpu_seconds(pid) - cpu_before) / max(result["wrk"]["requests"], 1)
                result.update(target=name, run=run + 1, loadavg_1m=load_1m, pg_backends_pinned=moved)
                result["server_cpu_ms_per_request"] = cpu * 1000
                runs.append(result)
                print(
                    f"  run {run + 1}/{args.runs} {name:<7} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:7.2f} ms"
                    f"  p99 {result['p99_ms']:7.2f} ms  cpu {result['server_cpu_ms_per_request']:.3f} ms/req"
                    f"  errors {result['errors']}  load {load_1m:.2f}",
                    file=sys.stderr,
                )
        return {"runs": runs, "checks": checked, "sanity_ping": sanity}
    finally:
        stop_server(real)
        stop_server(bare)
        for extra in (computed, floor):
            if extra is not None:
                stop_server(extra)


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU the server process has used (Linux /proc; 0 elsewhere): per request,
    robust to whatever else the machine runs."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    cells = {}
    for name in TARGETS:
        mine = [r for r in runs if r["target"] == name]
        cells[name] = {
            "rps_median": statistics.median(r["rps"] for r in mine),
            "p50_ms_median": statistics.median(r["p50_ms"] for r in mine),
            "p99_ms_median": statistics.median(r["p99_ms"] for r in mine),
            "rps_each": [round(r["rps"]) for r in mine],
            "errors": sum(r["errors"] for r in mine),
            "cpu_ms_median": statistics.median(r.get("server_cpu_ms_per_request", 0.0) for r in mine),
        }
    for cell in cells.values():
        cell["vs_bare"] = cell["rps_median"] / cells["bare"]["rps_median"]
    return cells


def markdown(cells: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"{args.connections} connections, {args.runs} x {args.duration} s runs per target (A B A B), medians:",
        "",
        "| path | req/s | p50 ms | p99 ms | vs bare | server CPU ms/req | req/s per run | errors |",
        "|---|--:|--:|--:|--:|--:|---|--:|",
    ]
    for name, cell in cells.items():
        lines.append(
            f"| {LABELS[name]} | {cell['rps_median']:,.0f} | {cell['p50_ms_median']:.1f} | "
            f"{cell['p99_ms_median']:.1f} | {cell['vs_bare']:.3f}× | {cell['cpu_ms_median']:.2f} | "
            f"{', '.join(f'{r:,}' for r in cell['rps_each'])} | {cell['errors']} |"
        )
    return "\n".join(lines)


def verdict(cells: dict[str, dict[str, Any]]) -> list[str]:
    """The issue's targets: REST >= 0.5x bare, GraphQL >= 0.1x, the home query's p99 < 50 ms."""
    lines = [
        f"INVALID {name}: {cell['errors']} failed requests" for name, cell in cells.items() if cell["errors"]
    ]
    for name, target in (("rest", 0.5), ("graphql", 0.1)):
        ratio = cells[name]["vs_bare"]
        lines.append(
            f"{name}: {ratio:.3f}x bare (target >= {target}x: {'met' if ratio >= target else 'MISSED'})"
        )
    p99 = cells["home"]["p99_ms_median"]
    lines.append(f"home: p99 {p99:.1f} ms (target < 50 ms: {'met' if p99 < 50 else 'MISSED'})")
    computed = (f"{n}: {cells[n]['vs_bare']:.3f}x bare" for n in ("rest_computed", "graphql_computed"))
    lines.append(
        f"every request computed (no read cache): {', '.join(computed)}, "
        f"home p99 {cells['home_computed']['p99_ms_median']:.1f} ms"
    )
    floor = cells["rest_floor"]
    lines.append(
        f"the REST page's floor (its route, dependencies and middleware, a stored body): "
        f"{floor['vs_bare']:.3f}x bare, {floor['cpu_ms_median']:.3f} ms of server CPU a request "
        f"(bare {cells['bare']['cpu_ms_median']:.3f}, computed {cells['rest_computed']['cpu_ms_median']:.3f})"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = f"cuecard_reads_{secrets.token_hex(4)}"
    started = datetime.now(UTC)
    created = False
    loadavg_before = os.getloadavg()
    try:
        wrk = require_wrk()
        with tempfile.TemporaryDirectory(prefix="cuecard-reads-") as log_dir:
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
        if created:
            try:
                drop_database(args.postgres_url, database)
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"warning: could not drop database {database}: {exc}", file=sys.stderr)

    cells = summarise(measured["runs"])
    table = markdown(cells, args)
    verdicts = verdict(cells)
    record = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "wrk": wrk_version(wrk),
            "loadavg_before": loadavg_before,
            "loadavg_after": os.getloadavg(),
        },
        "queries": {"people": PEOPLE_QUERY, "home": HOME_QUERY},
        **measured,
        "summary": cells,
        "markdown": table,
        "verdict": verdicts,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table)
    print()
    print(
        f"sanity: bare /ping (no database, same uvicorn, same wrk) {measured['sanity_ping']['rps']:,.0f} req/s"
    )
    print("\n".join(verdicts))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
