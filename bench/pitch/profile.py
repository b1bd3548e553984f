"""Where a cached pitch read's time goes, in process: µs of CPU per request, layer by layer.

    .venv/bin/python -m bench.pitch.profile                  # access log on (INFO) and off
    .venv/bin/python -m bench.pitch.profile --requests 20000 --repeats 7

No network and no load generator: the app is called as uvicorn calls it (a prebuilt ASGI
scope, `receive` and `send`), on a throwaway SQLite database with the demo data, a
`pitch:read` service account's token, `GET /api/v1/pitch/kuradesk?locale=ja`. A cache hit
touches no database, so the backend does not matter here.

It times, with `time.process_time` (CPU of this process, so other load on the machine
counts less), the best of `--repeats` loops of `--requests` calls:

- the bare cached route of `bench/pitch/bare_app.py` (the same document from a dict), the
  200 and the 304 — the in-process floor the pitch is compared with;
- the whole app, then each layer of its middleware chain down to the router: a layer's cost
  is its time minus the time of what it wraps;
- the endpoint's steps called one by one (query check, caller, parameters, the cached read,
  the response).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from asgi_lifespan import LifespanManager

from bench.pitch import bare_app
from service.auth.principal import Principal
from service.clients import service as clients_service
from service.clients.schemas import ClientCreate
from service.config import Settings
from service.demo import loader
from service.main import FastPath, create_app
from service.migrate import upgrade

PRODUCT_KEY, LOCALE = "kuradesk", "ja"
PATH = f"/api/v1/pitch/{PRODUCT_KEY}"
QUERY = f"locale={LOCALE}".encode()
SECRET = "cuecard-profile-only-secret-0123456789abcdef"  # noqa: S105 - a throwaway database

ASGI = Callable[[dict, Callable, Callable], Awaitable[None]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pitch.profile", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=2000, help="calls per figure (in loops of LOOP)")
    parser.add_argument("--repeats", type=int, default=2, help="times over (the best loop counts)")
    parser.add_argument("--log-levels", default="INFO,WARNING", help="CUECARD_LOG_LEVEL values to profile")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--cprofile", type=int, default=0, help="also cProfile this many 200s; top functions")
    return parser.parse_args(argv)


def scope_for(app: Any, headers: list[tuple[bytes, bytes]], path: str = PATH, query: bytes = QUERY) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "app": app,
        # What the fast path's routing sets, for its inner layers when called alone.
        "path_params": {"product_key": PRODUCT_KEY},
    }


async def _receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


class Sink:
    """`send`: keeps the status and the response headers of the last response."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = message.get("headers", [])
        else:
            self.body = message.get("body", b"")


LOOP = 100  # calls per timed loop: short, so that many loops run without being preempted


async def per_request_us(call: Callable[[], Awaitable[Any]], requests: int, repeats: int) -> float:
    """µs of this process's CPU per call: the best of the loops of LOOP calls (`requests` calls
    in all, `repeats` times over). On a busy machine the best loop is the one nothing else
    disturbed, which is what a layer costs."""
    for _ in range(LOOP):  # warm: caches filled, code paths taken once
        await call()
    best = float("inf")
    for _ in range(max(1, repeats * requests // LOOP)):
        start = time.process_time()
        for _ in range(LOOP):
            await call()
        best = min(best, time.process_time() - start)
    return best / LOOP * 1e6


async def interleaved_us(
    calls: list[Callable[[], Awaitable[Any]]], requests: int, repeats: int
) -> list[float]:
    """`per_request_us` of several calls, their loops taken in turn (A B C A B C ...), so
    that a busy spell on the machine hits them all alike rather than one figure."""
    for call in calls:
        for _ in range(LOOP):
            await call()
    best = [float("inf")] * len(calls)
    for _ in range(max(1, repeats * requests // LOOP)):
        for index, call in enumerate(calls):
            start = time.process_time()
            for _ in range(LOOP):
                await call()
            best[index] = min(best[index], time.process_time() - start)
    return [b / LOOP * 1e6 for b in best]


def asgi_call(app: ASGI, scope: dict, sink: Sink, expect: int) -> Callable[[], Awaitable[None]]:
    headers = scope["headers"]

    async def call() -> None:
        # The scope is fresh per request, as a server makes it (middleware may change it).
        await app({**scope, "headers": list(headers), "state": {}}, _receive, sink)

    async def checked() -> None:
        await call()
        if sink.status != expect:
            raise SystemExit(f"expected {expect}, got {sink.status}: {sink.body[:300]!r}")

    return checked


def chain(app: Any) -> list[tuple[str, Any]]:
    """The app, then every layer the pitch read goes through (`.app` links): the fast path's
    (service/main.py FastPath) when it claims the read, else down to the router."""
    layers: list[tuple[str, Any]] = [("the whole app (FastAPI.__call__)", app)]
    node = app.middleware_stack
    if isinstance(node, FastPath):
        layers.append(("FastPath", node))
        node = node.route(scope_for(app, []))
    while node is not None:
        layers.append((type(node).__name__, node))
        if node is app.router:
            break
        node = getattr(node, "app", None)
    return layers


async def prepare(database_url: str, var_dir: Path, log_level: str) -> tuple[Any, str]:
    settings = Settings(
        env="test", database_url=database_url, var_dir=var_dir, jwt_secret=SECRET, log_level=log_level
    )
    app = create_app(settings)
    return app, settings.log_level


async def seed(app: Any) -> str:
    """The demo data, a pitch:read service account, and its access token."""
    operator = Principal.operator("profile")
    async with app.state.sessionmaker() as session:
        await loader.load(session, operator, if_empty=True)
    async with app.state.sessionmaker() as session:
        client = await clients_service.create_client(
            session, operator, ClientCreate(name="profile", scopes=["pitch:read"])
        )
    body = (
        f"grant_type=client_credentials&client_id={client.client_id}&client_secret={client.client_secret}"
    ).encode()
    sink = Sink()
    scope = scope_for(
        app,
        [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
        ],
        path="/api/v1/auth/token",
        query=b"",
    )
    scope["method"] = "POST"

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    await app(scope, receive, sink)
    if sink.status != 200:
        raise SystemExit(f"token exchange failed: {sink.status} {sink.body[:300]!r}")
    return json.loads(sink.body)["access_token"]


async def endpoint_steps(app: Any, headers: list, args: argparse.Namespace) -> list[tuple[str, float]]:
    """The pitch endpoint's own steps, each called alone in a loop."""
    from starlette.requests import Request

    from service.api.query import check_query_parameters
    from service.auth.dependencies import required_principal, resolve_principal
    from service.pitch import rest as pitch_rest
    from service.pitch import service as pitch_service
    from service.pitch.schemas import PitchRequest

    scope = scope_for(app, headers)
    scope["path_params"] = {"product_key": PRODUCT_KEY}
    request = Request(scope)
    principal = await required_principal(await resolve_principal(request))

    async def query_check() -> None:
        check_query_parameters(scope["query_string"], pitch_rest.QUERY_PARAMETERS)

    async def caller() -> None:
        await required_principal(await resolve_principal(Request(scope)))

    async def parameters() -> None:
        fresh = Request(scope)
        PitchRequest.model_validate({**fresh.query_params, **fresh.path_params})

    async def cached_read() -> None:
        await pitch_service.current_pitch(
            app.state.sessionmaker,
            principal,
            cache=app.state.pitch_cache,
            product_key=PRODUCT_KEY,
            locale=LOCALE,
        )

    steps = [
        ("unknown-parameter check", query_check),
        ("caller from the token (cache hit)", caller),
        ("parameters (PitchRequest)", parameters),
        ("the cached read (current_pitch)", cached_read),
    ]
    return [(name, await per_request_us(call, args.requests, args.repeats)) for name, call in steps]


async def profile(args: argparse.Namespace, database_url: str, var_dir: Path, log_level: str) -> dict:
    app, _ = await prepare(database_url, var_dir, log_level)
    async with LifespanManager(app):
        token = await seed(app)
        auth = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode())]
        sink = Sink()
        first = scope_for(app, auth)
        await asgi_call(app, first, sink, 200)()
        etag = dict(sink.headers)[b"etag"]
        document = sink.body
        revalidate = [*auth, (b"if-none-match", etag)]
        figures: dict[str, Any] = {"log_level": log_level, "bytes": len(document), "layers": {}}

        bare = bare_app.CachedPitches({PRODUCT_KEY: document})
        bare_scope = scope_for(bare, [(b"host", b"127.0.0.1:8000")], path=f"/cached/{PRODUCT_KEY}")
        bare_etag = [(b"host", b"127.0.0.1:8000"), (b"if-none-match", bare.etags[PRODUCT_KEY])]
        names: list[tuple[Any, str]] = [("bare 200", ""), ("bare 304", "")]
        calls = [
            asgi_call(bare, bare_scope, Sink(), 200),
            asgi_call(bare, {**bare_scope, "headers": bare_etag}, Sink(), 304),
        ]
        for status, headers in ((200, auth), (304, revalidate)):
            for name, layer in chain(app):
                names.append((status, name))
                calls.append(asgi_call(layer, scope_for(app, headers), Sink(), status))
        timings = await interleaved_us(calls, args.requests, args.repeats)
        figures["layers"] = {200: [], 304: []}
        for (key, name), us in zip(names, timings, strict=True):
            if name:
                figures["layers"][key].append((name, us))
            else:
                figures[key] = us
        figures["steps"] = await endpoint_steps(app, auth, args)
        if args.cprofile:
            call = asgi_call(app, scope_for(app, auth), Sink(), 200)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.cprofile):
                await call()
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
            figures["cprofile"] = out.getvalue()
    return figures


def report(figures: dict) -> str:
    lines = [f"## log level {figures['log_level']} (document {figures['bytes']} B)", ""]
    for status in (200, 304):
        costs = figures["layers"][status]
        whole = costs[0][1]
        bare = figures[f"bare {status}"]
        lines += [
            f"### {status}: {whole:.1f} µs per request; bare cached route {bare:.1f} µs "
            f"(in-process ratio bare/pitch {bare / whole:.2f})",
            "",
            "| layer | µs with what it wraps | µs of its own |",
            "|---|--:|--:|",
        ]
        for index, (name, total) in enumerate(costs):
            inner = costs[index + 1][1] if index + 1 < len(costs) else 0.0
            lines.append(f"| {name} | {total:.1f} | {total - inner:.1f} |")
        lines.append("")
    lines += ["### the endpoint's steps, each alone", "", "| step | µs |", "|---|--:|"]
    lines += [f"| {name} | {us:.1f} |" for name, us in figures["steps"]]
    return "\n".join(lines) + "\n" + figures.get("cprofile", "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="cuecard-pitch-profile-") as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/profile.db"
        upgrade(database_url)
        for level in [lv.strip() for lv in args.log_levels.split(",") if lv.strip()]:
            results.append(asyncio.run(profile(args, database_url, Path(tmp), level)))
            print(report(results[-1]))
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
