"""The current pitch at the limit: the pitch, a bare database ceiling and a bare cached route,
measured alternately in one run on one stated core layout (issue 16).

    .venv/bin/python -m bench.pitch.run                         # 3 x 10 s runs per target
    .venv/bin/python -m bench.pitch.run --runs 1 --duration 3   # a smoke run

Layout, the same for every target: each server (one uvicorn worker) pinned to core 0
(`taskset -c 0`); wrk (one thread, 32 connections) and this database's PostgreSQL backends
pinned to core 1. Only one target is loaded at a time; the others sit idle.

Targets (`GET`, one worker each):
  pitch-info     the pitch, production settings, access log on (`CUECARD_LOG_LEVEL=INFO`)
  pitch-warning  the pitch, production settings, access log off (`CUECARD_LOG_LEVEL=WARNING`)
  bare-db        bare ASGI + asyncpg: the stored document, one indexed row per request
  bare-cached    bare ASGI: the same document from a dict, with an ETag
  pitch-info-304, pitch-warning-304, bare-304
                 the same reads with `If-None-Match: <its ETag>` (what a polling CRM gets)
  pitch-info-account, pitch-warning-account (and their -304)
                 the pitch read with `&account=` (`--account`, default the demo's customer
                 whose month-end fix was announced): led by "you asked — it's fixed", one
                 indexed query more per read (`--no-account` to skip)

Runs alternate the targets (A B C ... A B C ...), rotating the order every run so drift hits
all alike. It prints per target the median req/s, p50 and p99 and every run's req/s, the
ratios (the pitch / bare-cached, the pitch / bare-db, the pitch's 304 / bare-304) and the
verdict against the issue's targets, and writes every raw run to
bench/pitch/results/<timestamp>.json. Everything it starts it stops, even on failure; the
throwaway database `cuecard_bench_<random>` is dropped at the end.

Only the standard library, httpx and asyncpg; wrk does the loading (`apt-get install wrk`),
taskset pins (util-linux; `--no-pin` to skip).
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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

try:
    import asyncpg
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the interpreter used
    sys.exit(f"bench/pitch/run.py needs httpx and asyncpg ({exc}); run it with the project's venv.")

PITCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = PITCH_DIR.parents[1]
RESULTS_DIR = PITCH_DIR / "results"
WRK_SCRIPT = PITCH_DIR / "wrk_report.lua"

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# A benchmark-only secret: the database it signs for is dropped at the end of the run.
JWT_SECRET = "cuecard-bench-only-secret-0123456789abcdef"  # noqa: S105
ADMIN_EMAIL = "bench-admin@example.com"
REAL, BARE = "real", "bare"

WRK_MISSING = """wrk is not installed (https://github.com/wg/wrk). Install it with
    apt-get install wrk        (Debian, Ubuntu)
    brew install wrk           (macOS)
or build it from source and put it on PATH."""


class BenchError(Exception):
    """A step failed; the message says which and why."""


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path


# --- command line -------------------------------------------------------------------------

SERVER_CORE, LOAD_CORE = "0", "1"
BARE_DB, BARE_CACHED, BARE_304 = "bare-db", "bare-cached", "bare-304"
# The targets, one worker, 32 connections.
TARGET_CACHED_RATIO, AIM_CACHED_RATIO, TARGET_304_RATIO, TARGET_P99_MS = 0.25, 0.5, 0.35, 10.0
# The demo's customer whose feedback (the month-end slowdown) was fixed and announced.
DEMO_ACCOUNT = "株式会社みどり商事"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pitch.run",
        description="The pitch read against a bare database ceiling and a bare cached route (issue 16).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--product-key", default="kuradesk")
    parser.add_argument("--locale", default="ja")
    parser.add_argument("--log-levels", default="INFO,WARNING", help="one pitch server per CUECARD_LOG_LEVEL")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per target")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers, wrk and PostgreSQL")
    parser.add_argument("--no-304", action="store_true", help="skip the If-None-Match targets")
    parser.add_argument("--account", default=DEMO_ACCOUNT, help="the `?account=` of the account targets")
    parser.add_argument("--no-account", action="store_true", help="skip the `?account=` targets")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (env CUECARD_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    args.levels = [level.strip().upper() for level in args.log_levels.split(",") if level.strip()]
    if not args.levels:
        parser.error("--log-levels names at least one level, e.g. INFO")
    if args.runs < 1 or args.duration < 1 or args.warmup < 0 or args.connections < 1:
        parser.error("--runs, --duration and --connections must be positive, --warmup not negative")
    args.threads = 1
    return args


def pitch_name(level: str, revalidate: bool = False, account: bool = False) -> str:
    return f"pitch-{level.lower()}" + ("-account" if account else "") + ("-304" if revalidate else "")


# --- database -----------------------------------------------------------------------------


def database_url(server_url: str, database: str, scheme: str) -> str:
    """`server_url` pointed at another database, with another scheme (driver)."""
    parts = urlsplit(server_url)
    return urlunsplit((scheme, parts.netloc, f"/{database}", parts.query, ""))


async def _execute(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_database(server_url: str, name: str) -> None:
    asyncio.run(_execute(server_url, f'CREATE DATABASE "{name}"'))


def drop_database(server_url: str, name: str) -> None:
    asyncio.run(_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- processes ----------------------------------------------------------------------------


def cuecard_command() -> str:
    beside = Path(sys.executable).with_name("cuecard")
    found = str(beside) if beside.exists() else shutil.which("cuecard")
    if not found:
        raise BenchError("the `cuecard` command is not installed: run `make install` (pip install -e .)")
    return found


def run_cli(arguments: list[str], env: dict[str, str]) -> str:
    command = [cuecard_command(), *arguments]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BenchError(
            f"`cuecard {' '.join(arguments)}` failed ({done.returncode}):\n{done.stderr.strip()}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(name: str, command: list[str], env: dict[str, str], port: int, log_dir: Path) -> Server:
    log_path = log_dir / f"{name}-{port}.log"
    with log_path.open("wb") as log:
        # Its own session: stopping it stops its workers too, and Ctrl-C reaches only us.
        proc = subprocess.Popen(  # noqa: S603 - our own commands, no shell
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, proc, f"http://127.0.0.1:{port}", log_path)


def stop_server(server: Server) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.proc.pid, sig)  # the group this script created for it
        except ProcessLookupError:
            return
        try:
            server.proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def log_tail(server: Server, lines: int = 30) -> str:
    try:
        text = server.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def wait_ready(server: Server, path: str, *, any_answer: bool = False, timeout: float = 60.0) -> None:
    """Until `path` answers 200 (or, with `any_answer`, anything: the process is up, and
    `check` will say what is wrong with the endpoint)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(f"{server.name} exited ({server.proc.returncode}):\n{log_tail(server)}")
        try:
            response = httpx.get(server.base_url + path, timeout=2)
            if response.status_code == 200 or any_answer:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise BenchError(f"{server.name} not ready after {timeout:.0f}s ({last}):\n{log_tail(server)}")


# --- tokens and checks --------------------------------------------------------------------


def service_token(real: Server, client: dict[str, str]) -> str:
    response = httpx.post(
        real.base_url + "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
        timeout=10,
    )
    if response.status_code != 200:
        raise BenchError(f"token exchange failed: {response.status_code} {response.text[:300]}")
    return response.json()["access_token"]


def seed_brief(product_key: str, locale: str) -> dict[str, Any]:
    """A complete brief (it passes `submit`) for the product and locale, per the contract."""
    return {
        "product_key": product_key,
        "locale": locale,
        "title": "Benchmark brief",
        "background": "Finance teams key in invoices by hand at month end.",
        "target_customer": "Accounting leads at mid-sized companies.",
        "pains": [{"kind": "inconvenience", "text": "Typing 300 invoices a month into the ledger."}],
        "value_proposition": "Month-end closing two days sooner, without hiring.",
        "differentiators": [
            {
                "alternative": "Manual entry",
                "difference": "Reads paper and PDF invoices and posts them itself.",
                "trade_off": "Only the three most common accounting packages are supported.",
            }
        ],
        "evidence": [
            {
                "kind": "metric",
                "claim": "Pilot customers closed the month 2.1 days sooner.",
                "source": "Pilot report",
                "verify_by": f"{datetime.now(UTC).year + 1}-12-31",
            }
        ],
        "pitch": "Your team closes the month two days sooner, because invoices post themselves.",
        "customer_next_action": "Send us last month's invoices for a free trial run.",
        "gut_check": {
            "who_changes": "The accounting lead stops typing.",
            "next_action": "Book the trial run.",
            "what_we_give_up": "Customers on rare accounting packages.",
        },
    }


def publish_pitch(real: Server, env: dict[str, str], product_key: str, locale: str) -> None:
    """The demo data has no published pitch for this product and locale: publish one through
    the API (an editor writes and submits, an admin approves; four eyes)."""
    tokens = {
        role: run_cli(["token", "--email", f"bench-{role}@example.com", "--role", role], env).strip()
        for role in ("editor", "admin")
    }

    def call(role: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            real.base_url + path, json=body, headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30
        )
        if response.status_code not in (200, 201):
            raise BenchError(
                f"seeding the pitch: POST {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json()

    brief = call("editor", "/api/v1/briefs", seed_brief(product_key, locale))
    call("editor", f"/api/v1/briefs/{brief['id']}/submit")
    call("admin", f"/api/v1/briefs/{brief['id']}/approve")
    print(f"published a benchmark brief for {product_key} ({locale})", file=sys.stderr)


def _same_value(a: Any, b: Any) -> bool:
    """Equal, or the same instant written two ways ("...Z" vs "...+00:00")."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        try:
            return datetime.fromisoformat(a) == datetime.fromisoformat(b)
        except ValueError:
            return False
    return False


# --- wrk ----------------------------------------------------------------------------------


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError(WRK_MISSING)
    return wrk


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)  # noqa: S603
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def pinned(core: str, command: list[str], args: argparse.Namespace) -> list[str]:
    if getattr(args, "no_pin", True):
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


def pin_backends(args: argparse.Namespace, database: str) -> int:
    """This database's PostgreSQL backends to the load generator's core (new backends fork
    anywhere: called before every run). Needs the right to (root, or the postgres user)."""
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


def run_wrk(wrk: str, url: str, headers: dict[str, str], args: argparse.Namespace, seconds: int) -> dict:
    command = [
        wrk,
        f"--threads={getattr(args, 'threads', 1)}",
        f"--connections={args.connections}",
        f"--duration={seconds}s",
        "--timeout=5s",
        "--latency",
        f"--script={WRK_SCRIPT}",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    command.append(url)
    command = pinned(LOAD_CORE, command, args)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)  # noqa: S603
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
        "wrk_text": done.stdout.replace(report, "").strip(),
    }


# --- report -------------------------------------------------------------------------------


def summarise(runs: list[dict], args: argparse.Namespace) -> dict[str, Any]:
    cells: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r["target"] for r in runs):
        mine = [r for r in runs if r["target"] == name]
        cells[name] = {
            "target": name,
            "runs": len(mine),
            "rps_median": statistics.median(r["rps"] for r in mine),
            "p50_ms_median": statistics.median(r["p50_ms"] for r in mine),
            "p99_ms_median": statistics.median(r["p99_ms"] for r in mine),
            "rps_each": [round(r["rps"]) for r in mine],
            "p99_each": [round(r["p99_ms"], 2) for r in mine],
            "errors": sum(r["errors"] for r in mine),
        }

    def ratio(a: str, b: str) -> float | None:
        if a in cells and b in cells and cells[b]["rps_median"]:
            return cells[a]["rps_median"] / cells[b]["rps_median"]
        return None

    ratios: dict[str, float] = {}
    for level in args.levels:
        for key, value in (
            (f"{pitch_name(level)} / {BARE_CACHED}", ratio(pitch_name(level), BARE_CACHED)),
            (f"{pitch_name(level)} / {BARE_DB}", ratio(pitch_name(level), BARE_DB)),
            (f"{pitch_name(level, True)} / {BARE_304}", ratio(pitch_name(level, True), BARE_304)),
            (
                f"{pitch_name(level, account=True)} / {pitch_name(level)}",
                ratio(pitch_name(level, account=True), pitch_name(level)),
            ),
            (
                f"{pitch_name(level, True, True)} / {pitch_name(level, True)}",
                ratio(pitch_name(level, True, True), pitch_name(level, True)),
            ),
        ):
            if value is not None:
                ratios[key] = value
    return {"cells": cells, "ratios": ratios}


def markdown(summary: dict[str, Any], args: argparse.Namespace, paths: dict[str, str]) -> str:
    lines = [
        f"One worker each, server on core {SERVER_CORE}, wrk (1 thread, {args.connections} connections) "
        f"and PostgreSQL on core {LOAD_CORE}{' (not pinned: --no-pin)' if args.no_pin else ''}; "
        f"{args.runs} x {args.duration} s runs per target, alternated; medians:",
        "",
        "| target | path | req/s | p50 ms | p99 ms | req/s per run | p99 per run | errors |",
        "|---|---|--:|--:|--:|---|---|--:|",
    ]
    for cell in summary["cells"].values():
        lines.append(
            f"| {cell['target']} | `{paths[cell['target']]}` | {cell['rps_median']:.0f} | "
            f"{cell['p50_ms_median']:.2f} | {cell['p99_ms_median']:.2f} | "
            f"{', '.join(map(str, cell['rps_each']))} | {', '.join(map(str, cell['p99_each']))} | "
            f"{cell['errors']} |"
        )
    lines += ["", "| ratio (req/s) | value |", "|---|--:|"]
    lines += [f"| {name} | {value:.2f}x |" for name, value in summary["ratios"].items()]
    return "\n".join(lines)


def verdict(summary: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The issue's targets: >= 0.25x the cached route (aim 0.5x), 304 >= 0.35x, p99 < 10 ms."""
    cells, ratios = summary["cells"], summary["ratios"]
    lines = [
        f"INVALID {cell['target']}: {cell['errors']} failed requests (non-2xx/3xx, timeouts or "
        "socket errors); its numbers do not count"
        for cell in cells.values()
        if cell["errors"]
    ]
    for level in args.levels:
        name = pitch_name(level)
        cached = ratios.get(f"{name} / {BARE_CACHED}")
        if cached is not None:
            met = "met" if cached >= TARGET_CACHED_RATIO else "MISSED"
            aim = ", aim 0.5x " + ("reached" if cached >= AIM_CACHED_RATIO else "not reached")
            lines.append(
                f"{name}: {cached:.2f}x the bare cached route (>= {TARGET_CACHED_RATIO}x: {met}{aim})"
            )
        revalidated = ratios.get(f"{pitch_name(level, True)} / {BARE_304}")
        if revalidated is not None:
            met = "met" if revalidated >= TARGET_304_RATIO else "MISSED"
            lines.append(
                f"{pitch_name(level, True)}: {revalidated:.2f}x the bare 304 (>= {TARGET_304_RATIO}x: {met})"
            )
        for target in (
            name,
            pitch_name(level, True),
            pitch_name(level, account=True),
            pitch_name(level, True, True),
        ):
            if target in cells:
                p99 = cells[target]["p99_ms_median"]
                met = "met" if p99 < TARGET_P99_MS else "MISSED"
                lines.append(f"{target}: p99 {p99:.2f} ms at {args.connections} connections (< 10 ms: {met})")
    return lines


# --- the run ------------------------------------------------------------------------------


def environments(args: argparse.Namespace, database: str) -> tuple[dict[str, str], dict[str, str]]:
    """The pitch's environment (production settings) and the bare app's."""
    real = {
        **os.environ,
        "CUECARD_ENV": "production",
        "CUECARD_DATABASE_URL": database_url(args.postgres_url, database, "postgresql+asyncpg"),
        "CUECARD_JWT_SECRET": JWT_SECRET,
        # Long enough for any run; the token's lifetime does not change its verification cost.
        "CUECARD_CLIENT_TOKEN_TTL_SECONDS": "86400",
    }
    real.pop("PROMETHEUS_MULTIPROC_DIR", None)  # one worker: in-process metrics
    bare = {
        **os.environ,
        "BENCH_DATABASE_URL": database_url(args.postgres_url, database, "postgresql"),
        "BENCH_BARE_QUERY": "pitch",
    }
    return real, bare


def start_servers(
    args: argparse.Namespace, env: dict[str, str], bare_env: dict[str, str], log_dir: Path
) -> dict[str, Server]:
    """One pitch server per log level and the bare app, each one worker on the server core."""
    servers: dict[str, Server] = {}
    try:
        for level in args.levels:
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
            servers[level] = start_server(
                pitch_name(level),
                pinned(SERVER_CORE, command, args),
                {**env, "CUECARD_LOG_LEVEL": level},
                port,
                log_dir,
            )
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "bench.pitch.bare_app:app", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"]
        command += ["--no-server-header"]
        servers["bare"] = start_server("bare", pinned(SERVER_CORE, command, args), bare_env, port, log_dir)
    except BaseException:
        for server in servers.values():
            stop_server(server)
        raise
    return servers


def ensure_pitch_published(real: Server, env: dict[str, str], args: argparse.Namespace, token: str) -> None:
    """The demo data may have nothing published for this product and locale: publish one."""
    path = f"/api/v1/pitch/{args.product_key}?locale={args.locale}"
    answer = httpx.get(real.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code == 404:
        publish_pitch(real, env, args.product_key, args.locale)


def expect(server: Server, url: str, headers: dict[str, str], status: int) -> httpx.Response:
    """The target answers as it will under load: a fast 401 or 404 is no result."""
    response = httpx.get(url, headers=headers, timeout=10)
    if response.status_code != status:
        raise BenchError(
            f"{server.name} {url} answered {response.status_code}, not {status}: {response.text[:300]}\n"
            f"{log_tail(server)}"
        )
    return response


def targets_for(
    args: argparse.Namespace, servers: dict[str, Server], token: str
) -> tuple[dict[str, tuple[str, dict[str, str]]], dict[str, Any]]:
    """Every target's URL and headers, each checked once (status, size, ETag)."""
    query = f"?locale={args.locale}"
    auth = {"Authorization": f"Bearer {token}"}
    bare = servers["bare"]
    targets: dict[str, tuple[str, dict[str, str]]] = {}
    checks: dict[str, Any] = {}
    for level in args.levels:
        server = servers[level]
        url = f"{server.base_url}/api/v1/pitch/{args.product_key}{query}"
        first = expect(server, url, auth, 200)
        targets[pitch_name(level)] = (url, auth)
        checks[pitch_name(level)] = {"bytes": len(first.content), "etag": first.headers.get("etag")}
        if not args.no_304:
            revalidate = {**auth, "If-None-Match": first.headers["etag"]}
            expect(server, url, revalidate, 304)
            targets[pitch_name(level, True)] = (url, revalidate)
        if not args.no_account:
            # Led by the account's fixes where the tree has them; a tree without the lead
            # answers the plain pitch (A/B against a base tree), which the check records.
            account_url = f"{url}&account={quote(args.account, safe='')}"
            led = expect(server, account_url, auth, 200)
            targets[pitch_name(level, account=True)] = (account_url, auth)
            checks[pitch_name(level, account=True)] = {
                "bytes": len(led.content),
                "etag": led.headers.get("etag"),
                "fixes": len(led.json().get("fixed_for_account") or []),
            }
            if not args.no_304:
                revalidate = {**auth, "If-None-Match": led.headers["etag"]}
                expect(server, account_url, revalidate, 304)
                targets[pitch_name(level, True, True)] = (account_url, revalidate)
    db_url = f"{bare.base_url}/pitch/{args.product_key}{query}"
    cached_url = f"{bare.base_url}/cached/{args.product_key}{query}"
    checks[BARE_DB] = {"bytes": len(expect(bare, db_url, {}, 200).content)}
    cached = expect(bare, cached_url, {}, 200)
    checks[BARE_CACHED] = {"bytes": len(cached.content), "etag": cached.headers.get("etag")}
    targets[BARE_DB] = (db_url, {})
    targets[BARE_CACHED] = (cached_url, {})
    if not args.no_304:
        revalidate = {"If-None-Match": cached.headers["etag"]}
        expect(bare, cached_url, revalidate, 304)
        targets[BARE_304] = (cached_url, revalidate)
    return targets, checks


def load(
    wrk: str, targets: dict[str, tuple[str, dict[str, str]]], args: argparse.Namespace, database: str
) -> list[dict]:
    """Warm every target up, then the measured runs: all targets in turn, order rotated."""
    pin_backends(args, database)
    if args.warmup:
        for url, headers in targets.values():
            run_wrk(wrk, url, headers, args, args.warmup)
    names = list(targets)
    runs = []
    for run in range(args.runs):
        shift = run % len(names)
        for name in names[shift:] + names[:shift]:
            url, headers = targets[name]
            pinned_backends = pin_backends(args, database)
            load_1m = os.getloadavg()[0]
            result = run_wrk(wrk, url, headers, args, args.duration)
            result.update(
                target=name, run=run + 1, url=url, loadavg_1m=load_1m, pinned_backends=pinned_backends
            )
            runs.append(result)
            print(
                f"  run {run + 1}/{args.runs} {name:<18} {result['rps']:8.0f} req/s  "
                f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}",
                file=sys.stderr,
            )
    return runs


def measure(args: argparse.Namespace, log_dir: Path, wrk: str, database: str) -> dict[str, Any]:
    env, bare_env = environments(args, database)
    print(f"database {database}: migrating and loading the demo data", file=sys.stderr)
    run_cli(["db", "upgrade"], env)
    run_cli(["demo", "load"], env)
    client = json.loads(run_cli(["clients", "create", "--name", "bench", "--scope", "pitch:read"], env))
    servers = start_servers(args, env, bare_env, log_dir)
    try:
        for level in args.levels:
            wait_ready(servers[level], "/readyz")
        wait_ready(servers["bare"], "/nothing", any_answer=True)
        first = servers[args.levels[0]]
        token = service_token(first, client)
        ensure_pitch_published(first, env, args, token)
        targets, checks = targets_for(args, servers, token)
        print(f"every target answers as expected: {json.dumps(checks)}; warming up", file=sys.stderr)
        runs = load(wrk, targets, args, database)
    finally:
        for server in servers.values():
            stop_server(server)
    paths = {
        name: urlsplit(url).path
        + ("?" + urlsplit(url).query if urlsplit(url).query else "")
        + (" + If-None-Match" if "If-None-Match" in headers else "")
        for name, (url, headers) in targets.items()
    }
    return {"runs": runs, "checks": checks, "paths": paths}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A `kill` should clean up like Ctrl-C does: servers stopped, database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = f"cuecard_bench_{secrets.token_hex(4)}"
    started = datetime.now(UTC)
    created = False
    try:
        wrk = require_wrk()
        with tempfile.TemporaryDirectory(prefix="cuecard-bench-") as log_dir:
            try:
                create_database(args.postgres_url, database)
            except (OSError, asyncpg.PostgresError) as exc:
                raise BenchError(f"cannot create a database on {args.postgres_url}: {exc}") from exc
            created = True
            loadavg_before = os.getloadavg()
            measured = measure(args, Path(log_dir), wrk, database)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if created:
            try:
                drop_database(args.postgres_url, database)
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"warning: could not drop database {database}: {exc}", file=sys.stderr)

    summary = summarise(measured["runs"], args)
    table = markdown(summary, args, measured["paths"])
    verdicts = verdict(summary, args)
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
        **measured,
        "summary": summary,
        "markdown": table,
        "verdict": verdicts,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(table)
    print()
    print("\n".join(verdicts))
    print(f"\nraw results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
