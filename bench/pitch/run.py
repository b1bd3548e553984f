"""Benchmark the pitch read against its ceiling, a bare Starlette + asyncpg endpoint.

    .venv/bin/python -m bench.pitch.run                 # the pitch endpoint, 1 and 2 workers
    .venv/bin/python -m bench.pitch.run --runs 1 --duration 5 \\
        --path-template "/api/v1/products/{product_key}"  # any other GET path works too

What it does, end to end (everything it starts it stops, even on failure):

1. creates a fresh database `cuecard_bench_<random>` on CUECARD_BENCH_POSTGRES_URL, migrates
   it and loads the demo data with the real `cuecard` CLI (production settings, fixed secret);
2. creates a service account (`pitch:read`) and, once the server is up, exchanges it at
   POST /api/v1/auth/token (or mints an admin token with `cuecard token`: `--auth admin`);
3. per worker count, starts `cuecard serve` and the bare app (bench/pitch/bare_app.py) side by
   side (publishing a brief through the API first if a pitch path has nothing published),
   checks both answer 200, warms both up, then runs wrk against them in turn, swapping the
   order every run so drift on the machine hits both alike;
4. prints a Markdown table of medians (req/s, p50, p99) and the ratio real/bare, and writes
   every raw run to bench/pitch/results/<timestamp>.json; drops the database.

Only the standard library, httpx and asyncpg; wrk does the loading (`apt-get install wrk`).
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
from urllib.parse import parse_qs, urlsplit, urlunsplit

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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pitch.run",
        description="Benchmark a CueCard GET endpoint against a bare Starlette + asyncpg ceiling.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--path-template",
        default="/api/v1/pitch/{product_key}?locale=ja",
        help="path (and query) of the real endpoint",
    )
    parser.add_argument("--product-key", default="kuradesk")
    parser.add_argument(
        "--bare-path-template",
        default=None,
        help="path of the bare endpoint (default: /pitch/{product_key} plus the real query string)",
    )
    parser.add_argument(
        "--bare-query",
        choices=("auto", "products", "pitch"),
        default="auto",
        help="which row the bare app serves (auto: pitch when the path is a pitch path)",
    )
    parser.add_argument("--auth", choices=("service", "admin"), default="service", help="token kind")
    parser.add_argument("--workers", default="1,2", help="comma-separated uvicorn worker counts")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per target and worker count")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (env CUECARD_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="the real server's CUECARD_LOG_LEVEL (INFO writes a JSON access-log line per request)",
    )
    args = parser.parse_args(argv)
    try:
        args.worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    except ValueError:
        parser.error("--workers takes integers, e.g. 1,2")
    if not args.worker_counts or min(args.worker_counts) < 1:
        parser.error("--workers takes positive integers, e.g. 1,2")
    if args.runs < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--runs and --duration must be positive, --warmup not negative")
    if args.connections < args.threads:
        parser.error("wrk needs at least as many connections as threads")
    if args.bare_path_template is None:
        query = urlsplit(args.path_template).query
        args.bare_path_template = "/pitch/{product_key}" + (f"?{query}" if query else "")
    if args.bare_query == "auto":
        args.bare_query = "pitch" if "/pitch/" in args.path_template else "products"
    return args


def fill(template: str, product_key: str) -> str:
    return template.replace("{product_key}", product_key)


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


def check(server: Server, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The endpoint must answer 200 before it is loaded: a fast 401 or 404 is no result."""
    response = httpx.get(url, headers=headers, timeout=10)
    if response.status_code != 200:
        raise BenchError(
            f"{server.name} {url} answered {response.status_code}, not 200: {response.text[:300]}\n"
            f"{log_tail(server)}"
        )
    return {
        "status": response.status_code,
        "bytes": len(response.content),
        "content_type": response.headers.get("content-type"),
        "body": response.json() if "json" in response.headers.get("content-type", "") else None,
    }


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


def compare_bodies(real: Any, bare: Any) -> str:
    """Whether the bare endpoint serves the same data (every bare field, same value, in real)."""
    if not isinstance(real, dict) or not isinstance(bare, dict):
        return "not comparable (not JSON objects)"
    differing = sorted(k for k, v in bare.items() if not _same_value(real.get(k), v))
    return "same row" if not differing else f"fields differ: {', '.join(differing)}"


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


def run_wrk(wrk: str, url: str, headers: dict[str, str], args: argparse.Namespace, seconds: int) -> dict:
    command = [
        wrk,
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={seconds}s",
        "--timeout=5s",
        "--latency",
        f"--script={WRK_SCRIPT}",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    command.append(url)
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


def summarise(runs: list[dict], worker_counts: list[int]) -> dict[str, Any]:
    cells: dict[str, dict[str, Any]] = {}
    for workers in worker_counts:
        for target in (REAL, BARE):
            mine = [r for r in runs if r["workers"] == workers and r["target"] == target]
            if not mine:
                continue
            cells[f"{target}/{workers}"] = {
                "target": target,
                "workers": workers,
                "runs": len(mine),
                "rps_median": statistics.median(r["rps"] for r in mine),
                "p50_ms_median": statistics.median(r["p50_ms"] for r in mine),
                "p99_ms_median": statistics.median(r["p99_ms"] for r in mine),
                "rps_each": [round(r["rps"]) for r in mine],
                "errors": sum(r["errors"] for r in mine),
            }
    ratios = {
        workers: cells[f"{REAL}/{workers}"]["rps_median"] / cells[f"{BARE}/{workers}"]["rps_median"]
        for workers in worker_counts
        if f"{REAL}/{workers}" in cells and f"{BARE}/{workers}" in cells
    }
    return {"cells": cells, "ratio_real_to_bare": ratios}


def markdown(summary: dict[str, Any], args: argparse.Namespace) -> str:
    real_path = fill(args.path_template, args.product_key)
    lines = [
        f"`{real_path}` (real) vs `{fill(args.bare_path_template, args.product_key)}` (bare), "
        f"{args.connections} connections, {args.runs} x {args.duration}s runs, medians:",
        "",
        "| workers | target | req/s | p50 ms | p99 ms | req/s per run | errors | real/bare |",
        "|--:|---|--:|--:|--:|---|--:|--:|",
    ]
    for cell in summary["cells"].values():
        ratio = summary["ratio_real_to_bare"].get(cell["workers"]) if cell["target"] == REAL else None
        lines.append(
            f"| {cell['workers']} | {cell['target']} | {cell['rps_median']:.0f} | "
            f"{cell['p50_ms_median']:.2f} | {cell['p99_ms_median']:.2f} | "
            f"{', '.join(map(str, cell['rps_each']))} | {cell['errors']} | "
            f"{f'{ratio:.2f}x' if ratio is not None else ''} |"
        )
    return "\n".join(lines)


def verdict(summary: dict[str, Any], connections: int) -> list[str]:
    """The issue's targets: real >= 1.0x bare; p99 < 50 ms on one worker."""
    lines = [
        f"INVALID {cell['target']} workers={cell['workers']}: {cell['errors']} failed requests "
        "(non-2xx, timeouts or socket errors); its numbers do not count"
        for cell in summary["cells"].values()
        if cell["errors"]
    ]
    for workers, ratio in summary["ratio_real_to_bare"].items():
        lines.append(f"workers={workers}: real/bare = {ratio:.2f}x ({'met' if ratio >= 1.0 else 'MISSED'})")
    one = summary["cells"].get(f"{REAL}/1")
    if one:
        p99 = one["p99_ms_median"]
        met = "met" if p99 < 50 else "MISSED"
        lines.append(f"workers=1: real p99 = {p99:.1f} ms at {connections} connections (< 50 ms: {met})")
    return lines


# --- the run ------------------------------------------------------------------------------


def environments(args: argparse.Namespace, database: str) -> tuple[dict[str, str], dict[str, str]]:
    """The real service's environment (production settings) and the bare app's."""
    real = {
        **os.environ,
        "CUECARD_ENV": "production",
        "CUECARD_DATABASE_URL": database_url(args.postgres_url, database, "postgresql+asyncpg"),
        "CUECARD_JWT_SECRET": JWT_SECRET,
        "CUECARD_LOG_LEVEL": args.log_level,
        # Long enough for any run; the token's lifetime does not change its verification cost.
        "CUECARD_CLIENT_TOKEN_TTL_SECONDS": "86400",
    }
    bare = {
        **os.environ,
        "BENCH_DATABASE_URL": database_url(args.postgres_url, database, "postgresql"),
        "BENCH_BARE_QUERY": args.bare_query,
    }
    return real, bare


def start_pair(workers: int, env: dict[str, str], bare_env: dict[str, str], log_dir: Path) -> list[Server]:
    real_port, bare_port = free_port(), free_port()
    real_command = [cuecard_command(), "serve", "--host", "127.0.0.1", "--port", str(real_port)]
    real_command += ["--workers", str(workers)]
    bare_command = [sys.executable, "-m", "uvicorn", "bench.pitch.bare_app:app", "--host", "127.0.0.1"]
    bare_command += ["--port", str(bare_port), "--workers", str(workers), "--no-access-log"]
    bare_command += ["--log-level", "warning", "--no-server-header"]
    real = start_server(REAL, real_command, env, real_port, log_dir)
    try:
        return [real, start_server(BARE, bare_command, bare_env, bare_port, log_dir)]
    except BaseException:
        stop_server(real)
        raise


def ensure_pitch_published(real: Server, env: dict[str, str], args: argparse.Namespace, token: str) -> None:
    """A pitch path needs a published pitch: publish one when the demo data has none."""
    path = fill(args.path_template, args.product_key)
    if "/pitch/" not in path:
        return
    answer = httpx.get(real.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code == 404:
        locale = parse_qs(urlsplit(path).query).get("locale", ["en"])[0]
        publish_pitch(real, env, args.product_key, locale)


def load(
    wrk: str, targets: dict[str, tuple[str, dict]], workers: int, args: argparse.Namespace
) -> list[dict]:
    """Warm both targets up, then the measured runs, interleaved."""
    if args.warmup:
        for url, headers in targets.values():
            run_wrk(wrk, url, headers, args, args.warmup)
    runs = []
    for run in range(args.runs):
        # Interleaved, order swapped every run: drift on a shared machine hits both alike.
        for name in (REAL, BARE) if run % 2 == 0 else (BARE, REAL):
            url, headers = targets[name]
            load_1m = os.getloadavg()[0]
            result = run_wrk(wrk, url, headers, args, args.duration)
            result.update(target=name, workers=workers, run=run + 1, url=url, loadavg_1m=load_1m)
            runs.append(result)
            print(
                f"  run {run + 1}/{args.runs} {name:<4} workers={workers}: "
                f"{result['rps']:8.0f} req/s  p50 {result['p50_ms']:6.2f} ms  "
                f"p99 {result['p99_ms']:6.2f} ms  errors {result['errors']}",
                file=sys.stderr,
            )
    return runs


def measure(args: argparse.Namespace, log_dir: Path, wrk: str, database: str) -> dict[str, Any]:
    env, bare_env = environments(args, database)
    print(f"database {database}: migrating and loading the demo data", file=sys.stderr)
    run_cli(["db", "upgrade"], env)
    run_cli(["demo", "load"], env)
    client: dict[str, str] | None = None
    admin_token = ""
    if args.auth == "service":
        client = json.loads(run_cli(["clients", "create", "--name", "bench", "--scope", "pitch:read"], env))
    else:
        admin_token = run_cli(["token", "--email", ADMIN_EMAIL, "--role", "admin", "--ttl", "86400"], env)
        admin_token = admin_token.strip()

    real_path = fill(args.path_template, args.product_key)
    bare_path = fill(args.bare_path_template, args.product_key)
    runs: list[dict] = []
    checks: dict[int, dict] = {}
    for workers in args.worker_counts:
        real, bare = servers = start_pair(workers, env, bare_env, log_dir)
        try:
            wait_ready(real, "/readyz")
            wait_ready(bare, bare_path, any_answer=True)
            token = service_token(real, client) if client else admin_token
            if not checks:  # the database outlives the servers: once is enough
                ensure_pitch_published(real, env, args, token)
            targets = {
                REAL: (real.base_url + real_path, {"Authorization": f"Bearer {token}"}),
                BARE: (bare.base_url + bare_path, {}),
            }
            seen = {server.name: check(server, *targets[server.name]) for server in servers}
            checks[workers] = {
                **{name: {k: v for k, v in result.items() if k != "body"} for name, result in seen.items()},
                "bodies": compare_bodies(seen[REAL]["body"], seen[BARE]["body"]),
            }
            print(
                f"workers={workers}: both answer 200 (real {seen[REAL]['bytes']} B, bare "
                f"{seen[BARE]['bytes']} B; {checks[workers]['bodies']}); warming up",
                file=sys.stderr,
            )
            runs += load(wrk, targets, workers, args)
        finally:
            for server in servers:
                stop_server(server)
    return {"runs": runs, "checks": checks, "real_path": real_path, "bare_path": bare_path}


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

    summary = summarise(measured["runs"], args.worker_counts)
    table = markdown(summary, args)
    verdicts = verdict(summary, args.connections)
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
