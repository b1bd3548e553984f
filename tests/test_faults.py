"""Faults survived (PostgreSQL only): the app reaches its database through a TCP proxy the test
controls (tests/faultproxy.py), on a database of its own.

- the database cut mid-load: only 503 + Retry-After (problem+json), never 500; the app
  recovers by itself; nothing half-written (every 2xx write is there, a 503 one all or nothing);
- pool exhaustion: 503 within the pool timeout;
- a statement timeout: 503, and the write did not happen;
- SIGTERM during in-flight requests: they complete, the server exits 0, no session is left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from service.config import Settings
from service.main import create_app
from service.migrate import upgrade
from tests.conftest import BACKEND, POSTGRES_URL, TEST_SECRET
from tests.factories import (
    bearer,
    complete_brief,
    make_brief,
    make_client,
    make_person,
    make_product,
    token_for,
    unique,
)
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="faults are proven on PostgreSQL")

REPO_ROOT = Path(__file__).resolve().parents[1]
PROBLEM_JSON = "application/problem+json"


def _dsn(database: str, port: int = 5432) -> str:
    url = make_url(POSTGRES_URL).set(drivername="postgresql", database=database, port=port)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
async def fault_db() -> AsyncIterator[str]:
    """A database of its own (the proxy's connections must not meet the suite's)."""
    name = f"cuecard_faults_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_dsn(make_url(POSTGRES_URL).database or "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(upgrade, _dsn(name).replace("postgresql://", "postgresql+asyncpg://"))
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    upstream = make_url(POSTGRES_URL)
    running = await FaultProxy(upstream.host or "127.0.0.1", upstream.port or 5432).start()
    try:
        yield running
    finally:
        await running.stop()


@asynccontextmanager
async def proxied_app(
    fault_db: str, proxy: FaultProxy, tmp_path: Path, **overrides: object
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = Settings(
        env="test",
        database_url=_dsn(fault_db, proxy.port),
        var_dir=tmp_path,
        jwt_secret=TEST_SECRET,
        log_level="ERROR",
        db_connect_timeout_seconds=1.0,
        # The pool is what these tests measure: no worker taking connections beside them.
        embedded_worker=False,
        **overrides,
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as http:
            yield application, http


async def service_token(app: FastAPI, http: httpx.AsyncClient, *scopes: str) -> str:
    client_id, secret = await make_client(app, *scopes)
    response = await http.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def assert_unavailable(response: httpx.Response) -> None:
    """503, RFC 9457, with a Retry-After a client can act on, and nothing of the insides."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == 503
    assert body["type"] == "urn:cuecard:problem:service-unavailable"
    for leak in ("asyncpg", "Traceback", "sqlalchemy", "SELECT", "UPDATE", "INSERT"):
        assert leak.lower() not in response.text.lower()


async def eventually_ok(call, *, within: float = 15.0) -> httpx.Response:
    """Retry `call` as a client honouring Retry-After would (quicker), until it is not a 503."""
    deadline = time.monotonic() + within
    while True:
        response = await call()
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


# --- the database cut mid-load ---------------------------------------------------------------


async def test_database_cut_mid_load_gives_503s_recovers_and_writes_nothing_by_halves(
    fault_db: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    async with proxied_app(
        fault_db,
        proxy,
        tmp_path,
        db_pool_size=4,
        db_max_overflow=4,
        db_pool_timeout_seconds=1.0,
        idempotency_claim_seconds=1.0,  # a key whose request died is free again soon
    ) as (app, http):
        editor = await make_person(app, role="editor")
        manager = await make_person(app, role="manager")
        product = await make_product(app)
        await make_brief(app, editor, product.key, status="published", reviewer=manager)
        editor_auth = bearer(token_for(app, editor))
        integration = bearer(await service_token(app, http, "feedback:write", "pitch:read"))
        provisioner = bearer(await service_token(app, http, "people:write"))

        statuses: Counter[tuple[str, int]] = Counter()
        batches: dict[str, int] = {}  # batch tag -> status
        briefs: dict[str, int] = {}  # title -> status
        stop = asyncio.Event()

        def check(kind: str, response: httpx.Response) -> None:
            statuses[(kind, response.status_code)] += 1
            if response.status_code == 503:
                assert_unavailable(response)
            else:
                assert response.status_code in (200, 201), (kind, response.status_code, response.text)

        async def pitch_reader() -> None:
            while not stop.is_set():
                check("pitch", await http.get(f"/api/v1/pitch/{product.key}?locale=ja", headers=integration))
                await asyncio.sleep(0.01)

        async def batch_writer() -> None:
            while not stop.is_set():
                tag = unique("batch")
                items = [
                    {"source": "support", "external_id": f"{tag}-{i}", "body": f"声 {i} of {tag}"}
                    for i in range(5)
                ]
                response = await http.post(
                    "/api/v1/feedback/batch",
                    json={"items": items},
                    headers={**integration, "Idempotency-Key": tag},
                )
                check("batch", response)
                batches[tag] = response.status_code
                if response.status_code == 200:
                    assert response.json()["created"] == 5, response.text

        async def brief_writer() -> None:
            while not stop.is_set():
                title = unique("cut")
                response = await http.post(
                    "/api/v1/briefs", json=complete_brief(product.key, title=title), headers=editor_auth
                )
                check("brief", response)
                briefs[title] = response.status_code

        workers = [
            asyncio.create_task(work())
            for work in (pitch_reader, pitch_reader, batch_writer, batch_writer, brief_writer, brief_writer)
        ]
        try:
            # Under way first: some of each kind done (however slow the machine) ...
            for _ in range(300):
                if statuses[("batch", 200)] and statuses[("brief", 201)] and statuses[("pitch", 200)]:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            # The database goes away under load: every connection dies, new ones are refused ...
            proxy.cut()
            await proxy.refuse()
            await asyncio.sleep(1.5)
            # ... the other doors say so in their own dialects, with a retry hint ...
            outage = await http.post(
                "/graphql",
                json={"query": "{ products(first: 1) { edges { node { key } } } }"},
                headers=integration,
            )
            person_outage = await http.post(
                "/graphql",
                json={"query": "{ products(first: 1) { edges { node { key } } } }"},
                headers=editor_auth,
            )
            scim = await http.get("/scim/v2/Users", headers=provisioner)
            # ... it comes back, goes again mid-flight, and comes back for good.
            await proxy.restore()
            await asyncio.sleep(0.5)
            proxy.cut()
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.gather(*workers)

        assert statuses[("brief", 503)] + statuses[("batch", 503)] > 0, statuses
        assert statuses[("batch", 200)] > 0 and statuses[("brief", 201)] > 0, statuses
        assert not [key for key in statuses if key[1] >= 500 and key[1] != 503], statuses

        # Callers are read from the database unless cached, and nothing is cached while the
        # change listener is cut off: the principal may fail before any resolver (HTTP 503) or a
        # resolver may (GraphQL's convention: errors ride in a 200). Either way, unavailable.
        for answer in (outage, person_outage):
            if answer.status_code == 200:
                [error] = answer.json()["errors"]
                assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "status": 503}, error
            else:
                assert_unavailable(answer)
        assert scim.status_code == 503, scim.text
        assert scim.headers["content-type"].startswith("application/scim+json")
        assert int(scim.headers["retry-after"]) > 0
        assert scim.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert scim.json()["status"] == "503"

        # Recovery by itself: the same app, no restart, answers again.
        pitch = await eventually_ok(
            lambda: http.get(f"/api/v1/pitch/{product.key}?locale=ja", headers=integration)
        )
        assert pitch.status_code == 200, pitch.text
        me = await eventually_ok(lambda: http.get("/api/v1/me", headers=editor_auth))
        assert me.status_code == 200, me.text
        # A batch answered 503 is retried with its key: it runs (or replays), never stuck at 409.
        for tag, status in list(batches.items()):
            if status != 503:
                continue
            items = [
                {"source": "support", "external_id": f"{tag}-{i}", "body": f"声 {i} of {tag}"}
                for i in range(5)
            ]
            retry = await eventually_ok(
                lambda tag=tag, items=items: http.post(
                    "/api/v1/feedback/batch",
                    json={"items": items},
                    headers={**integration, "Idempotency-Key": tag},
                )
            )
            assert retry.status_code == 200, retry.text
            result = retry.json()
            assert result["created"] + result["unchanged"] == 5 or retry.headers.get("idempotent-replayed")
            batches[tag] = 0  # retried: now all of it must be there

    # Count what is in the database, directly.
    connection = await asyncpg.connect(_dsn(fault_db))
    try:
        per_batch = Counter(
            row["tag"]
            for row in await connection.fetch(
                "SELECT regexp_replace(external_id, '-[0-9]+$', '') AS tag FROM feedback_items"
                " WHERE source = 'support'"
            )
        )
        titles = Counter(row["title"] for row in await connection.fetch("SELECT title FROM briefs"))
        # A brief lands with its citation (complete_brief cites one piece of evidence) or not at all.
        citations = {
            row["title"]: row["cited"]
            for row in await connection.fetch(
                "SELECT b.title, count(e.brief_id) AS cited FROM briefs b"
                " LEFT JOIN brief_evidence e ON e.brief_id = b.id GROUP BY b.id, b.title"
            )
        }
    finally:
        await connection.close()
    for tag, status in batches.items():
        if status == 503:
            assert per_batch[tag] in (0, 5), (tag, per_batch[tag])  # all or nothing
        else:
            assert per_batch[tag] == 5, (tag, status, per_batch[tag])  # every success (or retry) is there
    for title, status in briefs.items():
        assert titles[title] == (1 if status == 201 else titles[title]), (title, status)
        assert titles[title] <= 1, title
        if titles[title]:
            assert citations[title] == 1, (title, status)


# --- pool exhaustion ----------------------------------------------------------------------------


async def test_pool_exhaustion_answers_503_within_the_pool_timeout(
    fault_db: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    async with proxied_app(
        fault_db,
        proxy,
        tmp_path,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_seconds=0.5,
        read_cache_seconds=0,  # every read must take the one connection (none answered from memory)
    ) as (app, http):
        editor = await make_person(app, role="editor")
        auth = bearer(token_for(app, editor))
        assert (await http.get("/api/v1/me", headers=auth)).status_code == 200

        # The only connection is taken by a request whose database stopped answering.
        proxy.blackhole()
        stuck = asyncio.create_task(http.get("/api/v1/me", headers=auth))
        await asyncio.sleep(0.3)
        assert not stuck.done()

        started = time.monotonic()
        response = await http.get("/api/v1/products", headers=auth)
        waited = time.monotonic() - started
        assert_unavailable(response)
        assert waited < 0.5 + 1.0, waited  # the pool timeout, not forever

        await proxy.restore()
        assert (await stuck).status_code == 200
        assert (await http.get("/api/v1/products", headers=auth)).status_code == 200


# --- connections that died while idle in the pool ------------------------------------------------


@pytest.mark.parametrize("idle_ping", [True, False], ids=["pinged-after-idle", "used-moments-later"])
async def test_a_pooled_connection_that_died_idle_is_replaced_before_a_request_sees_it(
    fault_db: str, proxy: FaultProxy, tmp_path: Path, idle_ping: bool
) -> None:
    """Checkout pings only a connection idle longer than `db_ping_after_idle_seconds` (every
    checkout would cost three round trips): one that died while idle is replaced unseen; one
    that dies within the window costs one 503 (retryable), and the pool recovers."""
    async with proxied_app(
        fault_db,
        proxy,
        tmp_path,
        db_pool_size=1,
        db_max_overflow=0,
        db_ping_after_idle_seconds=0.2 if idle_ping else 60.0,
        read_cache_seconds=0,  # the repeated read must reach the pooled connection
    ) as (app, http):
        editor = await make_person(app, role="editor")
        auth = bearer(token_for(app, editor))
        assert (await http.get("/api/v1/products", headers=auth)).status_code == 200

        proxy.cut()  # the pooled connection dies (a restart, a failover, an idle timeout)
        await asyncio.sleep(0.3)
        response = await http.get("/api/v1/products", headers=auth)
        if idle_ping:
            assert response.status_code == 200, response.text
        else:
            assert_unavailable(response)
        assert (await eventually_ok(lambda: http.get("/api/v1/products", headers=auth))).status_code == 200


# --- statement timeout ---------------------------------------------------------------------------


async def test_a_statement_timeout_answers_503_and_changes_nothing(
    fault_db: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    async with proxied_app(fault_db, proxy, tmp_path, db_statement_timeout_ms=500) as (app, http):
        editor = await make_person(app, role="editor")
        auth = bearer(token_for(app, editor))
        product = await make_product(app)
        brief = await make_brief(app, editor, product.key)
        read = await http.get(f"/api/v1/briefs/{brief.id}", headers=auth)
        etag = read.headers["etag"]

        # Someone else holds the brief's row: the app's locking read waits past statement_timeout.
        holder = await asyncpg.connect(_dsn(fault_db))
        try:
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute("SELECT id FROM briefs WHERE id = $1 FOR UPDATE", brief.id)
            started = time.monotonic()
            response = await http.patch(
                f"/api/v1/briefs/{brief.id}", json={"title": "待たされた"}, headers={**auth, "If-Match": etag}
            )
            assert_unavailable(response)
            assert time.monotonic() - started < 5
            mutation = await http.post(
                "/graphql",
                json={
                    "query": "mutation($id: ID!) { submitBrief(id: $id) { id } }",
                    "variables": {"id": str(brief.id)},
                },
                headers=auth,
            )
            await transaction.rollback()
        finally:
            await holder.close()

        assert mutation.status_code == 200, mutation.text
        [error] = mutation.json()["errors"]
        assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "status": 503}, error
        assert "canceling statement" not in mutation.text

        after = await http.get(f"/api/v1/briefs/{brief.id}", headers=auth)
        assert after.json()["title"] == read.json()["title"]
        assert after.json()["status"] == "draft"
        assert after.headers["etag"] == etag
        retry = await http.patch(
            f"/api/v1/briefs/{brief.id}", json={"title": "待たされた"}, headers={**auth, "If-Match": etag}
        )
        assert retry.status_code == 200, retry.text


# --- SIGTERM drains in-flight requests --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _cuecard_sessions(dsn: str, database: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(
            "SELECT pid, state, wait_event_type FROM pg_stat_activity"
            " WHERE datname = $1 AND application_name = 'cuecard'",
            database,
        )
    finally:
        await connection.close()


async def test_sigterm_drains_in_flight_requests_and_leaves_no_session(
    fault_db: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    grace = 10
    async with proxied_app(fault_db, proxy, tmp_path) as (app, _http):
        editor = await make_person(app, role="editor")
        product = await make_product(app)
        drafts = [await make_brief(app, editor, product.key) for _ in range(3)]
        token = token_for(app, editor)

    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "CUECARD_ENV": "test",
        "CUECARD_DATABASE_URL": _dsn(fault_db),
        "CUECARD_JWT_SECRET": TEST_SECRET,
        "CUECARD_VAR_DIR": str(tmp_path),
        "CUECARD_LOG_LEVEL": "WARNING",
        "CUECARD_SHUTDOWN_GRACE_SECONDS": str(grace),
    }
    command = [sys.executable, "-c", "from service.cli import app; app()", "serve", "--port", str(port)]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        server = await asyncio.create_subprocess_exec(
            *command, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    holder = await asyncpg.connect(_dsn(fault_db))
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(300):
                assert server.returncode is None, log_path.read_text()
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            auth = bearer(token)
            etags = [(await http.get(f"/api/v1/briefs/{d.id}", headers=auth)).headers["etag"] for d in drafts]

            # Hold every draft's row: the PATCHes below wait in the database, in flight.
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute(
                "SELECT id FROM briefs WHERE id = ANY($1) FOR UPDATE", [d.id for d in drafts]
            )
            in_flight = [
                asyncio.create_task(
                    http.patch(
                        f"/api/v1/briefs/{d.id}",
                        json={"title": "終了前の編集"},
                        headers={**auth, "If-Match": etag},
                    )
                )
                for d, etag in zip(drafts, etags, strict=True)
            ]
            for _ in range(100):
                sessions = await _cuecard_sessions(_dsn(fault_db), fault_db)
                waiting = [row for row in sessions if row["wait_event_type"] == "Lock"]
                if len(waiting) == len(drafts):
                    break
                await asyncio.sleep(0.05)
            assert len(waiting) == len(drafts), waiting

            server.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await asyncio.sleep(1.0)
            assert server.returncode is None  # still draining
            await transaction.rollback()  # the database lets them through

            responses = await asyncio.gather(*in_flight)
        exit_code = await asyncio.wait_for(server.wait(), grace + 5)
        drained_in = time.monotonic() - signalled
    finally:
        await holder.close()
        if server.returncode is None:
            server.kill()
            await server.wait()
    log = log_path.read_text(errors="replace")

    assert [r.status_code for r in responses] == [200] * len(drafts), [r.text for r in responses]
    assert all(r.json()["title"] == "終了前の編集" for r in responses)
    assert exit_code == 0, log
    assert drained_in < grace, drained_in
    assert await _cuecard_sessions(_dsn(fault_db), fault_db) == [], log
