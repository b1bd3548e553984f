"""Operations endpoints: liveness, readiness (database reachable, migrations at head), metrics."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from service.config import Settings
from service.logging import configure_logging
from service.main import YOUNG_GC_THRESHOLD, create_app
from service.migrate import head_revision, upgrade
from tests.conftest import TEST_SECRET

PROBLEM_JSON = "application/problem+json"
METRICS_TOKEN = "scrape-token-0123456789abcdef0123456789"
REQUESTS_TOTAL = "cuecard_http_requests_total"


@asynccontextmanager
async def client_for(
    database_url: str, var_dir: Path, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    """A separate app on `database_url`, served over ASGI."""
    settings = Settings(
        env="test", database_url=database_url, jwt_secret=TEST_SECRET, var_dir=var_dir, **overrides
    )
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def assert_not_ready(response: httpx.Response) -> dict:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == 503
    assert body["type"] and body["title"]
    assert "Traceback" not in response.text
    return body


# --- liveness and readiness -----------------------------------------------------------------


async def test_healthz(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_on_the_migrated_suite_database(client):
    head = head_revision()
    assert head  # the migrations directory was found
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "database": "ok"}  # no revision for anonymous callers


async def test_readyz_503_on_a_database_that_is_not_migrated(tmp_path):
    # Readiness logic is the same on both backends: an empty SQLite file stands in for both.
    empty = tmp_path / "empty.db"
    empty.touch()
    async with client_for(f"sqlite+aiosqlite:///{empty}", tmp_path) as http:
        body = assert_not_ready(await http.get("/readyz"))
        assert "cuecard db upgrade" in body["detail"]
        # The process itself is fine: liveness stays green.
        assert (await http.get("/healthz")).status_code == 200


async def test_readyz_503_on_a_database_behind_the_migration_head(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    await asyncio.to_thread(upgrade, url, "0001")
    assert head_revision() != "0001"
    async with client_for(url, tmp_path, metrics_token=METRICS_TOKEN) as http:
        # Anonymous callers learn "not ready", not which revisions (which release) are in play.
        body = assert_not_ready(await http.get("/readyz"))
        assert "0001" not in body["detail"] and head_revision() not in body["detail"]
        assert "cuecard db upgrade" in body["detail"]
        # The operator (the metrics token) reads both.
        body = assert_not_ready(
            await http.get("/readyz", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        )
        assert "0001" in body["detail"]
        assert head_revision() in body["detail"]


async def test_readyz_turns_ready_once_migrated(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'late.db'}"
    async with client_for(url, tmp_path) as http:
        assert_not_ready(await http.get("/readyz"))
        await asyncio.to_thread(upgrade, url)
        response = await http.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ready"


async def test_readyz_stays_ready_when_a_newer_release_migrated_ahead(tmp_path):
    """Rolling update: the new image ran a migration this build does not know; old pods stay ready."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ahead.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    await engine.dispose()
    async with client_for(url, tmp_path, metrics_token=METRICS_TOKEN) as http:
        response = await http.get("/readyz", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 200, response.text
        assert response.json()["ahead_of_this_build"] is True
        assert response.json()["migration"] == "9999_from_the_future"


# --- metrics -----------------------------------------------------------------------------------


def request_count(metrics_text: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        if family.name != REQUESTS_TOTAL.removesuffix("_total"):
            continue
        for sample in family.samples:
            if sample.name == REQUESTS_TOTAL and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_metrics_is_prometheus_text_counting_requests(client):
    before = request_count((await client.get("/metrics")).text, method="GET", route="/healthz", status="200")
    assert (await client.get("/healthz")).status_code == 200

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert families[REQUESTS_TOTAL.removesuffix("_total")].type == "counter"
    assert REQUESTS_TOTAL in response.text
    after = request_count(response.text, method="GET", route="/healthz", status="200")
    assert after == before + 1
    assert "cuecard_http_request_duration_seconds_bucket" in response.text


async def test_metrics_label_routes_by_template_not_by_raw_path(client, callers):
    person_id = callers.people["employee"].id
    labels = {"method": "GET", "route": "/api/v1/people/{person_id}", "status": "200"}
    before = request_count((await client.get("/metrics")).text, **labels)
    response = await client.get(f"/api/v1/people/{person_id}", headers=callers.headers("admin"))
    assert response.status_code == 200
    text = (await client.get("/metrics")).text
    assert request_count(text, **labels) == before + 1
    assert str(person_id) not in text  # ids never become label values


async def test_metrics_label_graphql_requests_as_graphql(client, callers):
    labels = {"method": "POST", "route": "/graphql", "status": "200"}
    before = request_count((await client.get("/metrics")).text, **labels)
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers=callers.headers("employee")
    )
    assert response.status_code == 200, response.text
    assert request_count((await client.get("/metrics")).text, **labels) == before + 1


async def test_metrics_label_unknown_paths_as_unmatched(client):
    before = request_count((await client.get("/metrics")).text, route="unmatched", status="404")
    path = "/no-such-path-7f3a"
    assert (await client.get(path)).status_code == 404
    text = (await client.get("/metrics")).text
    assert request_count(text, route="unmatched", status="404") == before + 1
    assert path not in text  # arbitrary paths never become label values


# --- metrics in production (finding 14) -----------------------------------------------------------


def _production(settings: Settings, **overrides: object) -> Settings:
    """The suite's settings as a production deployment (a JWT secret is already configured)."""
    return Settings(**{**settings.model_dump(), "env": "production", **overrides})


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_production_metrics_need_the_metrics_token(settings):
    async with serve(_production(settings, metrics_token=METRICS_TOKEN)) as http:
        anonymous = await http.get("/metrics")
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert REQUESTS_TOTAL not in anonymous.text
        for wrong in (METRICS_TOKEN[:-1], METRICS_TOKEN + "x", "", TEST_SECRET):
            refused = await http.get("/metrics", headers={"Authorization": f"Bearer {wrong}"})
            assert refused.status_code == 401, wrong
            assert REQUESTS_TOTAL not in refused.text
        basic = await http.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})
        assert basic.status_code == 401
        scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scraped.status_code == 200, scraped.text
        assert REQUESTS_TOTAL in scraped.text


async def test_production_metrics_without_a_token_configured_do_not_exist(settings):
    async with serve(_production(settings, metrics_token=None)) as http:
        response = await http.get("/metrics")
        assert response.status_code == 404
        assert REQUESTS_TOTAL not in response.text
        guess = await http.get("/metrics", headers={"Authorization": "Bearer anything"})
        assert guess.status_code == 404


async def test_production_readyz_says_ready_without_the_revision(settings):
    async with serve(_production(settings, metrics_token=METRICS_TOKEN)) as http:
        response = await http.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ready", "database": "ok"}
        assert head_revision() not in response.text


async def test_metrics_stay_open_outside_production(client):
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert REQUESTS_TOTAL in response.text


def latency_samples(metrics: str, route: str) -> dict[str, float]:
    """The latency histogram's samples for GET `route`: `le` bounds, `count` and `sum`."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics):
        if family.name != "cuecard_http_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.labels.get("route") != route or sample.labels.get("method") != "GET":
                continue
            key = sample.labels["le"] if sample.name.endswith("_bucket") else sample.name.rsplit("_", 1)[1]
            samples[key] = sample.value
    return samples


async def test_latency_histogram_counts_each_request_once_in_cumulative_buckets(client):
    before = latency_samples((await client.get("/metrics")).text, "/healthz")
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    after = latency_samples((await client.get("/metrics")).text, "/healthz")
    assert after["count"] == before.get("count", 0) + 3
    assert after["+Inf"] == after["count"]
    assert after["sum"] > before.get("sum", 0)
    bounds = [key for key in after if key not in ("count", "sum", "+Inf")]
    assert [after[b] for b in bounds] == sorted(after[b] for b in bounds)  # cumulative
    assert after["5.0"] <= after["+Inf"]


async def test_access_lines_stay_valid_json_whatever_the_path_and_request_id(
    database_url, settings, tmp_path, capfd
):
    # The fixed part of a line is encoded once per method, path, route and status; what varies
    # (the request id a caller chose, quotes and backslashes included) is encoded every time.
    try:
        async with client_for(database_url, tmp_path, log_level="INFO") as http:
            capfd.readouterr()
            for request_id in ('say-"hi"\\', "plain-2"):
                await http.get("/api/v1/pitch/製品", headers={"X-Request-ID": request_id})
                await http.get("/api/v1/pitch/製品", headers={"X-Request-ID": request_id})
            await asyncio.sleep(0)
            lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
        access = [line for line in lines if line.get("logger_name") == "cuecard.access"]
        assert [(a["path"], a["status"], a["request_id"]) for a in access] == [
            ("/api/v1/pitch/製品", 401, 'say-"hi"\\'),
            ("/api/v1/pitch/製品", 401, 'say-"hi"\\'),
            ("/api/v1/pitch/製品", 401, "plain-2"),
            ("/api/v1/pitch/製品", 401, "plain-2"),
        ]
        assert all(
            a["timestamp"].endswith("Z") and a["route"] == "/api/v1/pitch/{product_key}" for a in access
        )
        async with client_for(database_url, tmp_path, log_level="INFO", log_json=False) as http:
            capfd.readouterr()
            await http.get("/healthz", headers={"X-Request-ID": "console-1"})
            await asyncio.sleep(0)
            console = [line for line in capfd.readouterr().err.splitlines() if "cuecard.access" in line]
        assert len(console) == 1
        assert all(
            f in console[0] for f in ("method=GET", "path=/healthz", "status=200", "request_id=console-1")
        )
    finally:
        configure_logging(settings)


async def test_the_access_log_writes_one_json_line_per_request_at_info_and_none_above(
    database_url, settings, tmp_path, capfd
):
    try:
        async with client_for(database_url, tmp_path, log_level="INFO") as http:
            capfd.readouterr()
            await http.get("/healthz", headers={"X-Request-ID": "trace-info-1"})
            await asyncio.sleep(0)  # lines are written at the end of the loop's tick
            lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
        access = [line for line in lines if line.get("logger_name") == "cuecard.access"]
        assert len(access) == 1
        assert access[0] | {"duration_ms": 0, "timestamp": ""} == {
            "logger_name": "cuecard.access",
            "event": "request",
            "level": "info",
            "method": "GET",
            "path": "/healthz",
            "route": "/healthz",
            "status": 200,
            "request_id": "trace-info-1",
            "duration_ms": 0,
            "timestamp": "",
        }
        async with client_for(database_url, tmp_path, log_level="WARNING") as http:
            capfd.readouterr()
            await http.get("/healthz")
            await asyncio.sleep(0)
            assert "cuecard.access" not in capfd.readouterr().err
    finally:
        configure_logging(settings)  # the suite's own level again (logging is process-wide)


async def test_serving_collects_young_objects_less_often_and_restores_the_collector(settings):
    """While the app serves, the young generation is collected every YOUNG_GC_THRESHOLD
    allocations (a request's objects mostly die with it); leaving restores what was set."""
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    try:
        application = create_app(settings)
        async with LifespanManager(application):
            assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, *before[1:])
        assert gc.get_threshold() == (700, *before[1:])
    finally:
        gc.set_threshold(*before)


async def test_the_app_configures_every_mapper_when_it_is_built():
    """SQLAlchemy configures mappers when a process builds its first ORM object, ~25 ms that
    its first writing request would pay; the app does it once, at start-up. In a fresh process,
    since this suite's own earlier tests have configured them already."""
    probe = (
        "from sqlmodel.main import default_registry\n"
        "from service.config import Settings\n"
        "from service.main import create_app\n"
        "assert any(not m.configured for m in default_registry.mappers), 'configured on import'\n"
        "create_app(Settings(database_url='sqlite+aiosqlite:///:memory:', jwt_secret='x' * 32))\n"
        "assert all(m.configured for m in default_registry.mappers)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", probe, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
