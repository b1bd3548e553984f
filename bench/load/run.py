"""Load without loss: a bounded loopback load on `cuecard serve --workers 2` (PostgreSQL), then
a count of what the database holds.

    .venv/bin/python -m bench.load.run                  # 150 s, 16 callers
    .venv/bin/python -m bench.load.run --duration 60    # a shorter correctness run

The mix, from a Python asyncio generator (httpx), every caller a real token:
- pitch reads: a `pitch:read` + `feedback:write` service account (client credentials);
- feedback batches of 10 items from that integration, each with an Idempotency-Key, retried
  with the same key on 503, 409 (key in progress) and dropped connections; now and then the
  same batch is re-sent on purpose (it must replay, not add);
- acknowledgements: employees enrolled in an active campaign acknowledge its brief, often
  twice at once (a double click);
- brief edits: editors PATCH one shared draft with If-Match; a 412 re-reads and retries.

Afterwards it counts, directly in PostgreSQL: zero 5xx; every feedback item of a 2xx batch
present exactly once and nothing else of ours; exactly one acknowledgement row per
acknowledging person; the draft's revision == successful PATCHes + 1. Memory: the workers' RSS
(from /proc) every few seconds; "flat" = the end within 20 % of the value after warm-up.

Everything it starts it stops, and the database it creates it drops, also on failure or Ctrl-C.
Exit status 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:
    import asyncpg
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the interpreter used
    sys.exit(f"bench/load/run.py needs httpx and asyncpg ({exc}); run it with the project's venv.")

from bench.pitch.run import (
    DEFAULT_POSTGRES_URL,
    BenchError,
    create_database,
    database_url,
    drop_database,
    free_port,
    log_tail,
    run_cli,
    seed_brief,
    start_server,
    stop_server,
    wait_ready,
)

LOAD_DIR = Path(__file__).resolve().parent
RESULTS_DIR = LOAD_DIR / "results"
JWT_SECRET = "cuecard-load-bench-only-secret-0123456789abcdef"  # noqa: S105 - dropped with the database
PRODUCT = "loadbench"
DEPARTMENT = "loadbench"
BATCH_ITEMS = 10
RSS_EVERY_SECONDS = 3.0
FLAT_TOLERANCE = 0.20
# Weights of the mix (per caller step).
MIX = {"pitch": 10, "batch": 3, "ack": 2, "edit": 2}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load.run",
        description="Bounded loopback load on CueCard (PostgreSQL, 2 workers), then count for lost writes.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=150, help="seconds of load")
    parser.add_argument("--warmup", type=int, default=20, help="seconds before the RSS baseline is taken")
    parser.add_argument("--callers", type=int, default=16, help="concurrent callers")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--employees", type=int, default=60, help="people enrolled in the campaign")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CUECARD_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (env CUECARD_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.duration < 1 or args.callers < 1 or args.warmup < 0 or args.warmup >= args.duration:
        parser.error("--duration and --callers must be positive, 0 <= --warmup < --duration")
    return args


# --- the record of what was done ------------------------------------------------------------


@dataclass
class Ledger:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    retries: int = 0
    items_ok: set[str] = field(default_factory=set)  # external ids of 2xx batches
    items_sent: set[str] = field(default_factory=set)  # every external id ever sent
    batches_ok: int = 0
    replays: int = 0
    acknowledged: set[str] = field(default_factory=set)  # person ids with a 2xx acknowledgement
    acks_created: int = 0
    patches_ok: int = 0
    precondition_failed: int = 0
    latencies: dict[str, list[float]] = field(default_factory=dict)

    def note(self, kind: str, response: httpx.Response, seconds: float) -> None:
        self.requests += 1
        self.statuses[(kind, response.status_code)] += 1
        self.latencies.setdefault(kind, []).append(seconds)


class Caller:
    """One HTTP connection pool against the server, counting every request."""

    def __init__(self, base_url: str, ledger: Ledger) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=60)
        self.ledger = ledger

    async def send(self, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self.ledger.transport_errors[f"{kind}:{type(exc).__name__}"] += 1
            return None
        self.ledger.note(kind, response, time.perf_counter() - started)
        return response

    async def close(self) -> None:
        await self.http.aclose()


def retry_after(response: httpx.Response | None) -> float:
    if response is None:
        return 0.5
    try:
        return min(float(response.headers.get("retry-after", "1")), 5.0)
    except ValueError:
        return 1.0


# --- setup through the API -------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise BenchError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else {}


@dataclass
class World:
    integration: str
    employees: list[tuple[str, str]]  # (person id, token)
    editors: list[str]
    campaign_id: str
    draft_id: str


def mint(person: dict[str, Any]) -> str:
    """A token for a person the API created, signed with the server's (benchmark) key."""
    from service.auth.tokens import TokenService
    from service.config import Settings

    settings = Settings(env="production", jwt_secret=JWT_SECRET, database_url="postgresql://unused/none")
    claims = {"sub": person["id"], "email": person["email"], "role": person["role"]}
    return TokenService(settings).mint(claims, 6 * 3600)[0]


def build_world(base_url: str, env: dict[str, str], employees: int) -> World:
    admin = run_cli(["token", "--email", "load-admin@example.com", "--role", "admin", "--ttl", "21600"], env)
    client = json.loads(
        run_cli(
            ["clients", "create", "--name", "load", "--scope", "pitch:read", "--scope", "feedback:write"], env
        )
    )
    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(admin.strip())) as http:
        token = http.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
            headers={"Authorization": ""},
        )
        integration = expect(token, 200)["access_token"]
        expect(http.post("/api/v1/departments", json={"key": DEPARTMENT, "name": "負荷 Load"}), 201)
        expect(http.post("/api/v1/products", json={"key": PRODUCT, "name": "ロード Load"}), 201)

        def person(role: str, n: int) -> dict[str, Any]:
            body = {
                "email": f"load-{role}-{n}@example.com",
                "display_name": f"負荷 {role} {n}",
                "role": role,
                "department_key": DEPARTMENT,
            }
            return expect(http.post("/api/v1/people", json=body), 201)

        editors = [person("editor", n) for n in range(3)]
        staff = [person("employee", n) for n in range(employees)]
        editor_auth = bearer(mint(editors[0]))
        brief = expect(http.post("/api/v1/briefs", json=seed_brief(PRODUCT, "ja"), headers=editor_auth), 201)
        expect(http.post(f"/api/v1/briefs/{brief['id']}/submit", headers=editor_auth), 200)
        expect(http.post(f"/api/v1/briefs/{brief['id']}/approve"), 200)  # the admin: four eyes
        draft = expect(http.post("/api/v1/briefs", json=seed_brief(PRODUCT, "en"), headers=editor_auth), 201)
        step = {
            "channel": "briefing",
            "title": "負荷試験の説明会",
            "at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        }
        campaign = expect(
            http.post(
                "/api/v1/campaigns",
                json={
                    "brief_id": brief["id"],
                    "name": "負荷試験 / Load",
                    "kind": "launch",
                    "audience": {"departments": [DEPARTMENT], "roles": ["employee"]},
                    "steps": [step],
                },
            ),
            201,
        )
        expect(http.post(f"/api/v1/campaigns/{campaign['id']}/activate"), 200)
    return World(
        integration=integration,
        employees=[(p["id"], mint(p)) for p in staff],
        editors=[mint(e) for e in editors],
        campaign_id=campaign["id"],
        draft_id=draft["id"],
    )


# --- the load ----------------------------------------------------------------------------------


async def read_pitch(caller: Caller, world: World) -> None:
    await caller.send("pitch", "GET", f"/api/v1/pitch/{PRODUCT}?locale=ja", headers=bearer(world.integration))


async def send_batch(caller: Caller, world: World, deadline: float, rng: random.Random) -> None:
    key = uuid.uuid4().hex
    ids = [f"LOAD-{key}-{i}" for i in range(BATCH_ITEMS)]
    caller.ledger.items_sent.update(ids)
    items = [
        {"source": "support", "external_id": ext, "body": f"画面が遅い (load {ext})", "tags": ["負荷"]}
        for ext in ids
    ]
    headers = {**bearer(world.integration), "Idempotency-Key": key}
    sends = 2 if rng.random() < 0.1 else 1  # now and then a client re-sends a batch that succeeded
    for _ in range(sends):
        while True:
            response = await caller.send(
                "batch", "POST", "/api/v1/feedback/batch", json={"items": items}, headers=headers
            )
            if response is not None and response.status_code == 200:
                break
            if response is not None and response.status_code not in (409, 503):
                return  # counted in the ledger; a 4xx is no loss
            if time.monotonic() > deadline + 60:
                return  # gave up: the items stay "sent, not confirmed" (all or nothing is checked)
            caller.ledger.retries += 1
            await asyncio.sleep(retry_after(response))
        if response.headers.get("idempotent-replayed") == "true":
            caller.ledger.replays += 1
        else:
            body = response.json()
            if body["errors"]:
                raise BenchError(f"a valid batch reported item errors: {body['errors'][:3]}")
        caller.ledger.batches_ok += 1
        caller.ledger.items_ok.update(ids)


async def acknowledge(caller: Caller, world: World, rng: random.Random) -> None:
    person_id, token = rng.choice(world.employees)
    path = f"/api/v1/campaigns/{world.campaign_id}/acknowledgements"
    clicks = 2 if rng.random() < 0.3 else 1  # a double click sends two at once
    responses = await asyncio.gather(
        *(caller.send("ack", "POST", path, headers=bearer(token)) for _ in range(clicks))
    )
    for response in responses:
        if response is not None and response.status_code in (200, 201):
            caller.ledger.acknowledged.add(person_id)
            caller.ledger.acks_created += response.status_code == 201


async def edit_brief(caller: Caller, world: World, rng: random.Random) -> None:
    auth = bearer(rng.choice(world.editors))
    path = f"/api/v1/briefs/{world.draft_id}"
    for _ in range(20):  # a 412 means someone else saved first: re-read and try again
        read = await caller.send("edit-read", "GET", path, headers=auth)
        if read is None or read.status_code != 200:
            await asyncio.sleep(retry_after(read))
            continue
        title = f"負荷 edit {uuid.uuid4().hex[:8]}"
        response = await caller.send(
            "edit", "PATCH", path, json={"title": title}, headers={**auth, "If-Match": read.headers["etag"]}
        )
        if response is not None and response.status_code == 200:
            caller.ledger.patches_ok += 1
            return
        if response is not None and response.status_code == 412:
            caller.ledger.precondition_failed += 1
            continue
        if response is not None and response.status_code != 503:
            return
        # 503 or a dropped connection: the edit may or may not have landed; stop and let the
        # count flag it (it must not happen in a healthy run).
        return


async def caller_loop(
    index: int, base_url: str, world: World, ledger: Ledger, deadline: float, limit: int
) -> None:
    rng = random.Random(index)  # noqa: S311 - a load mix, not a secret
    caller = Caller(base_url, ledger)
    kinds, weights = zip(*MIX.items(), strict=True)
    try:
        while time.monotonic() < deadline and ledger.requests < limit:
            kind = rng.choices(kinds, weights)[0]
            if kind == "pitch":
                await read_pitch(caller, world)
            elif kind == "batch":
                await send_batch(caller, world, deadline, rng)
            elif kind == "ack":
                await acknowledge(caller, world, rng)
            else:
                await edit_brief(caller, world, rng)
    finally:
        await caller.close()


# --- memory ------------------------------------------------------------------------------------


def worker_pids(parent: int) -> list[int]:
    """The uvicorn workers: the server's children started by multiprocessing's spawn."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "spawn_main" in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def sample_memory(
    pids: list[int], samples: list[dict[str, Any]], started: float, stop: asyncio.Event
) -> None:
    while True:
        samples.append({"t": round(time.monotonic() - started, 1), **{str(p): rss_mib(p) for p in pids}})
        try:
            await asyncio.wait_for(stop.wait(), RSS_EVERY_SECONDS)
            samples.append({"t": round(time.monotonic() - started, 1), **{str(p): rss_mib(p) for p in pids}})
            return
        except TimeoutError:
            continue


def memory_report(pids: list[int], samples: list[dict[str, Any]], warmup: float) -> dict[str, Any]:
    report = {}
    for pid in pids:
        series = [(s["t"], s[str(pid)]) for s in samples if s.get(str(pid)) is not None]
        if not series:
            continue
        after_warmup = next((v for t, v in series if t >= warmup), series[-1][1])
        end = series[-1][1]
        report[str(pid)] = {
            "start_mib": round(series[0][1], 1),
            "after_warmup_mib": round(after_warmup, 1),
            "end_mib": round(end, 1),
            "max_mib": round(max(v for _, v in series), 1),
            "growth_after_warmup": round(end / after_warmup - 1, 3),
            "flat": end <= after_warmup * (1 + FLAT_TOLERANCE),
        }
    return report


# --- counting afterwards -------------------------------------------------------------------------


async def count(dsn: str, world: World, ledger: Ledger) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT external_id, count(*) AS n FROM feedback_items WHERE external_id LIKE 'LOAD-%' GROUP BY external_id"
        )
        acks = await connection.fetch(
            "SELECT person_id::text AS person, count(*) AS n FROM acknowledgements GROUP BY person_id"
        )
        revision = await connection.fetchval(
            "SELECT revision FROM briefs WHERE id = $1", uuid.UUID(world.draft_id)
        )
    finally:
        await connection.close()
    stored = {row["external_id"]: row["n"] for row in rows}
    ack_counts = {row["person"]: row["n"] for row in acks}
    our_people = {pid for pid, _ in world.employees}
    batches_by_key: dict[str, set[str]] = {}
    for ext in stored:
        batches_by_key.setdefault(ext.rsplit("-", 1)[0], set()).add(ext)
    return {
        "feedback_lost": sorted(ledger.items_ok - stored.keys())[:10],
        "feedback_lost_count": len(ledger.items_ok - stored.keys()),
        "feedback_duplicated": sorted(ext for ext, n in stored.items() if n != 1)[:10],
        "feedback_unknown": sorted(stored.keys() - ledger.items_sent)[:10],
        "feedback_half_batches": sorted(k for k, ids in batches_by_key.items() if len(ids) != BATCH_ITEMS)[
            :10
        ],
        "feedback_stored": len(stored),
        "feedback_confirmed": len(ledger.items_ok),
        "acks_missing": sorted(ledger.acknowledged - ack_counts.keys())[:10],
        "acks_duplicated": sorted(p for p, n in ack_counts.items() if p in our_people and n != 1)[:10],
        "acks_persons": len([p for p in ack_counts if p in our_people]),
        "acks_confirmed_persons": len(ledger.acknowledged),
        "acks_created_201": ledger.acks_created,
        "brief_revision": revision,
        "brief_patches_ok": ledger.patches_ok,
        "brief_revision_matches": revision == ledger.patches_ok + 1,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def summarise(
    ledger: Ledger, counted: dict[str, Any], memory: dict[str, Any], seconds: float
) -> dict[str, Any]:
    server_errors = {f"{k}:{s}": n for (k, s), n in ledger.statuses.items() if s >= 500}
    checks = {
        "zero 5xx": not server_errors,
        "no dropped connections": not ledger.transport_errors,
        "no lost feedback": counted["feedback_lost_count"] == 0,
        "no duplicated feedback": not counted["feedback_duplicated"],
        "no unknown or half batches": not counted["feedback_unknown"]
        and not counted["feedback_half_batches"],
        "one acknowledgement per person": not counted["acks_missing"]
        and not counted["acks_duplicated"]
        and counted["acks_persons"] == counted["acks_confirmed_persons"] == counted["acks_created_201"],
        "brief revision == PATCHes + 1": counted["brief_revision_matches"],
        "memory flat": bool(memory) and all(w["flat"] for w in memory.values()),
    }
    by_kind: dict[str, dict[str, Any]] = {}
    for (kind, status), n in sorted(ledger.statuses.items()):
        by_kind.setdefault(kind, {"statuses": {}})["statuses"][str(status)] = n
    for kind, values in ledger.latencies.items():
        by_kind[kind]["p50_ms"] = round(percentile(values, 0.5) * 1000, 1)
        by_kind[kind]["p99_ms"] = round(percentile(values, 0.99) * 1000, 1)
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "seconds": round(seconds, 1),
        "requests": ledger.requests,
        "requests_per_second": round(ledger.requests / seconds, 1),
        "retries": ledger.retries,
        "batches_ok": ledger.batches_ok,
        "batch_replays": ledger.replays,
        "precondition_failed_412": ledger.precondition_failed,
        "server_errors": server_errors,
        "transport_errors": dict(ledger.transport_errors),
        "by_kind": by_kind,
        "counted": counted,
        "memory": memory,
    }


def markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"{result['seconds']} s, {args.callers} callers, {args.workers} workers: {result['requests']} requests "
        f"({result['requests_per_second']}/s), {result['retries']} retries",
        "",
        "| check | result |",
        "|---|---|",
        *[f"| {name} | {'yes' if ok else '**NO**'} |" for name, ok in result["checks"].items()],
        "",
        "| request | statuses | p50 ms | p99 ms |",
        "|---|---|---|---|",
        *[
            f"| {kind} | {', '.join(f'{s}: {n}' for s, n in v['statuses'].items())} | {v.get('p50_ms')} | {v.get('p99_ms')} |"
            for kind, v in result["by_kind"].items()
        ],
        "",
        "| worker | RSS start | after warm-up | end | max | growth after warm-up |",
        "|---|---|---|---|---|---|",
        *[
            f"| {pid} | {m['start_mib']} MiB | {m['after_warmup_mib']} MiB | {m['end_mib']} MiB | {m['max_mib']} MiB "
            f"| {m['growth_after_warmup'] * 100:+.1f} % |"
            for pid, m in result["memory"].items()
        ],
    ]
    c = result["counted"]
    lines += [
        "",
        f"Feedback: {c['feedback_confirmed']} items confirmed by 2xx, {c['feedback_stored']} stored "
        f"({result['batches_ok']} batch responses, {result['batch_replays']} replays). Acknowledgements: "
        f"{c['acks_confirmed_persons']} people, {c['acks_persons']} rows. Brief: {c['brief_patches_ok']} PATCHes, "
        f"revision {c['brief_revision']} ({result['precondition_failed_412']} × 412 re-read).",
    ]
    return "\n".join(lines)


async def load(
    args: argparse.Namespace, base_url: str, world: World, server_pid: int
) -> tuple[Ledger, dict, float]:
    ledger = Ledger()
    pids = worker_pids(server_pid)
    if len(pids) != args.workers:
        raise BenchError(f"expected {args.workers} uvicorn workers under pid {server_pid}, found {pids}")
    samples: list[dict[str, Any]] = []
    stop = asyncio.Event()
    started = time.monotonic()
    sampler = asyncio.create_task(sample_memory(pids, samples, started, stop))
    deadline = started + args.duration
    try:
        await asyncio.gather(
            *(
                caller_loop(i, base_url, world, ledger, deadline, args.max_requests)
                for i in range(args.callers)
            )
        )
    finally:
        stop.set()
        await sampler
    return ledger, memory_report(pids, samples, args.warmup), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = f"cuecard_load_{secrets.token_hex(6)}"
    dsn = database_url(args.postgres_url, name, "postgresql")
    env = {
        **os.environ,
        "CUECARD_ENV": "production",
        "CUECARD_JWT_SECRET": JWT_SECRET,
        "CUECARD_DATABASE_URL": dsn,
        "CUECARD_LOG_LEVEL": "WARNING",
    }
    create_database(args.postgres_url, name)
    server = None
    try:
        run_cli(["db", "upgrade"], env)
        run_cli(["demo", "load"], env)
        port = free_port()
        log_dir = Path(tempfile.mkdtemp(prefix="cuecard-load-"))
        server = start_server(
            "cuecard",
            [
                sys.executable,
                "-c",
                "from service.cli import app; app()",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env,
            port,
            log_dir,
        )
        wait_ready(server, "/readyz", timeout=180)
        world = build_world(server.base_url, env, args.employees)
        print(
            f"loading {server.base_url} for {args.duration} s with {args.callers} callers ...",
            file=sys.stderr,
        )
        ledger, memory, seconds = asyncio.run(load(args, server.base_url, world, server.proc.pid))
        counted = asyncio.run(count(dsn, world, ledger))
        result = summarise(ledger, counted, memory, seconds)
        result["server_log_tail"] = log_tail(server, 20)
    except BenchError as exc:
        print(f"load bench failed: {exc}", file=sys.stderr)
        if server is not None:
            print(log_tail(server), file=sys.stderr)
        return 1
    finally:
        if server is not None:
            stop_server(server)
        drop_database(args.postgres_url, name)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **result}, indent=2))
    print(markdown(result, args))
    print(f"\nraw result: {path}", file=sys.stderr)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
