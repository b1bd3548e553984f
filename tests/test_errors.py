"""Every error status of the contract answers an RFC 9457 problem, never a stack trace.

Also: a failed write leaves nothing behind, and every response carries `X-Request-ID`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import func, select

from service.config import Settings
from service.main import create_app
from service.people.models import Person
from service.products.models import Product
from tests.conftest import TEST_SECRET
from tests.factories import bearer, make_client, make_person, make_product, unique

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:cuecard:problem:"
ONE_MIB = 1024 * 1024


def assert_problem(response: httpx.Response, status: int, *, problem_type: str | None = None) -> dict:
    """The response is an RFC 9457 problem for `status`, with no trace of the server's insides."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"].startswith(PROBLEM_TYPE_PREFIX), body
    assert isinstance(body["title"], str) and body["title"].strip(), body
    if problem_type is not None:
        assert body["type"] == PROBLEM_TYPE_PREFIX + problem_type
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    assert response.headers.get("x-request-id")
    return body


def assert_detail(body: dict) -> str:
    assert isinstance(body.get("detail"), str) and body["detail"].strip(), body
    return body["detail"]


async def count_rows(app: FastAPI, model: type) -> int:
    async with app.state.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


@pytest.fixture
async def other_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """A second app instance on the suite's database, free to get throwaway routes."""
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


def asgi_client(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


# --- 400 ------------------------------------------------------------------------------------


async def test_400_malformed_json_body(client, callers):
    response = await client.post(
        "/api/v1/departments",
        content=b'{"key": "sales", "name": ',
        headers={**callers.headers("admin"), "Content-Type": "application/json"},
    )
    body = assert_problem(response, 400, problem_type="bad-request")
    assert "JSON" in assert_detail(body)


# --- 401 ------------------------------------------------------------------------------------


async def test_401_without_a_token_challenges_for_bearer(client):
    response = await client.get("/api/v1/me")
    body = assert_problem(response, 401, problem_type="unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert body["title"]


async def test_401_with_a_bad_token_says_invalid_token(client):
    response = await client.get("/api/v1/me", headers=bearer("not.a.jwt"))
    body = assert_problem(response, 401, problem_type="unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert_detail(body)


# --- 403 ------------------------------------------------------------------------------------


async def test_403_employee_cannot_create_a_product(app, client, callers):
    before = await count_rows(app, Product)
    response = await client.post(
        "/api/v1/products", json={"key": unique("p"), "name": "Nope"}, headers=callers.headers("employee")
    )
    body = assert_problem(response, 403, problem_type="forbidden")
    assert_detail(body)
    assert await count_rows(app, Product) == before


# --- 404 ------------------------------------------------------------------------------------


async def test_404_unknown_route(client):
    response = await client.get("/nope")
    assert_problem(response, 404)


async def test_404_unknown_route_under_the_api(client, callers):
    response = await client.get("/api/v1/nope", headers=callers.headers("admin"))
    assert_problem(response, 404)


async def test_404_unknown_person(client, callers):
    response = await client.get(f"/api/v1/people/{uuid.uuid4()}", headers=callers.headers("admin"))
    body = assert_problem(response, 404, problem_type="not-found")
    assert_detail(body)


# --- 405 ------------------------------------------------------------------------------------


async def test_405_delete_me_lists_the_allowed_methods(client, callers):
    response = await client.delete("/api/v1/me", headers=callers.headers("employee"))
    assert_problem(response, 405)
    allowed = {m.strip().upper() for m in response.headers["allow"].split(",")}
    assert "GET" in allowed
    assert "DELETE" not in allowed


# --- 409 ------------------------------------------------------------------------------------


async def test_409_duplicate_product_key(app, client, callers):
    product = await make_product(app)
    before = await count_rows(app, Product)
    response = await client.post(
        "/api/v1/products", json={"key": product.key, "name": "Twin"}, headers=callers.headers("admin")
    )
    body = assert_problem(response, 409, problem_type="conflict")
    assert_detail(body)
    assert await count_rows(app, Product) == before


# --- 412 ------------------------------------------------------------------------------------


async def test_412_stale_if_match_on_patch(app, client, callers):
    person = await make_person(app, display_name="Before")
    url = f"/api/v1/people/{person.id}"
    admin = callers.headers("admin")

    first = await client.get(url, headers=admin)
    assert first.status_code == 200
    stale_etag = first.headers["etag"]

    changed = await client.patch(
        url, json={"display_name": "First writer"}, headers={**admin, "If-Match": stale_etag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != stale_etag

    lost_update = await client.patch(
        url, json={"display_name": "Second writer"}, headers={**admin, "If-Match": stale_etag}
    )
    body = assert_problem(lost_update, 412, problem_type="precondition-failed")
    assert_detail(body)

    after = await client.get(url, headers=admin)
    assert after.json()["display_name"] == "First writer"
    assert after.headers["etag"] == changed.headers["etag"]


# 428 (Precondition Required): no endpoint of this foundation requires If-Match yet (briefs,
# messages and campaigns will), so there is nothing to exercise here; it is left out on purpose.


# --- 413 ------------------------------------------------------------------------------------


async def test_413_body_over_one_mib_with_content_length(app, client, callers):
    before = await count_rows(app, Product)
    payload = b'{"key": "big", "name": "' + b"x" * ONE_MIB + b'"}'
    request = client.build_request(
        "POST",
        "/api/v1/products",
        content=payload,
        headers={**callers.headers("admin"), "Content-Type": "application/json"},
    )
    assert int(request.headers["content-length"]) > ONE_MIB
    response = await client.send(request)
    body = assert_problem(response, 413, problem_type="payload-too-large")
    assert_detail(body)
    assert await count_rows(app, Product) == before


async def test_413_chunked_body_without_content_length(app, client, callers):
    chunk = b" " * (64 * 1024)
    total_chunks = 64  # 4 MiB in all: the guard must stop reading well before the end
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(total_chunks):
            pulled += 1
            yield chunk

    before = await count_rows(app, Product)
    request = client.build_request(
        "POST",
        "/api/v1/products",
        content=body(),
        headers={**callers.headers("admin"), "Content-Type": "application/json"},
    )
    assert "content-length" not in request.headers
    assert request.headers.get("transfer-encoding") == "chunked"
    response = await client.send(request)
    body_json = assert_problem(response, 413, problem_type="payload-too-large")
    assert_detail(body_json)
    # Refused while streaming: it read a little over the limit, not the whole body.
    assert pulled * len(chunk) > ONE_MIB
    assert pulled < total_chunks
    assert await count_rows(app, Product) == before


# --- 415 ------------------------------------------------------------------------------------


async def test_415_text_plain_body(app, client, callers):
    before = await count_rows(app, Product)
    response = await client.post(
        "/api/v1/products",
        content=b'{"key": "plain", "name": "Plain"}',
        headers={**callers.headers("admin"), "Content-Type": "text/plain"},
    )
    body = assert_problem(response, 415, problem_type="unsupported-media-type")
    assert "application/json" in assert_detail(body)
    assert await count_rows(app, Product) == before


# --- 422 ------------------------------------------------------------------------------------


def errors_by_field(body: dict) -> dict[str, dict]:
    assert isinstance(body.get("errors"), list) and body["errors"], body
    for entry in body["errors"]:
        assert {"field", "location", "detail", "type"} <= entry.keys(), entry
    return {entry["field"]: entry for entry in body["errors"]}


async def test_422_schema_violation_lists_every_field(client, callers):
    response = await client.post(
        "/api/v1/products", json={"key": "Not A Slug!", "name": ""}, headers=callers.headers("admin")
    )
    body = assert_problem(response, 422, problem_type="validation-error")
    assert_detail(body)
    errors = errors_by_field(body)
    assert set(errors) == {"key", "name"}
    for field, entry in errors.items():
        assert entry["location"] == "body"
        assert entry["pointer"] == f"#/{field}"


async def test_422_missing_field_is_named(client, callers):
    response = await client.post(
        "/api/v1/products", json={"name": "No key"}, headers=callers.headers("admin")
    )
    errors = errors_by_field(assert_problem(response, 422))
    assert errors["key"]["location"] == "body"
    assert errors["key"]["pointer"] == "#/key"
    assert errors["key"]["type"] == "missing"


async def test_422_unknown_extra_field_is_refused(app, client, callers):
    before = await count_rows(app, Product)
    response = await client.post(
        "/api/v1/products",
        json={"key": unique("p"), "name": "Extra", "colour": "red"},
        headers=callers.headers("admin"),
    )
    errors = errors_by_field(assert_problem(response, 422, problem_type="validation-error"))
    assert set(errors) == {"colour"}
    assert errors["colour"]["location"] == "body"
    assert errors["colour"]["pointer"] == "#/colour"
    assert errors["colour"]["type"] == "extra_forbidden"
    assert await count_rows(app, Product) == before


@pytest.mark.parametrize("path", ["/api/v1/people", "/api/v1/products", "/api/v1/departments"])
async def test_422_limit_above_200(client, callers, path):
    response = await client.get(path, params={"limit": 201}, headers=callers.headers("admin"))
    errors = errors_by_field(assert_problem(response, 422, problem_type="validation-error"))
    assert errors["limit"]["location"] == "query"


async def test_limit_200_is_allowed(client, callers):
    response = await client.get("/api/v1/people", params={"limit": 200}, headers=callers.headers("admin"))
    assert response.status_code == 200, response.text


# --- 429 ------------------------------------------------------------------------------------


async def test_429_after_ten_bad_client_secrets(app, client):
    client_id, _secret = await make_client(app, "pitch:read")
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong-secret"}
    for attempt in range(10):
        response = await client.post("/api/v1/auth/token", data=form)
        assert response.status_code == 401, f"attempt {attempt + 1}: {response.text}"
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    response = await client.post("/api/v1/auth/token", data=form)
    body = assert_problem(response, 429, problem_type="too-many-requests")
    assert_detail(body)
    assert 0 < int(response.headers["retry-after"]) <= 61


# --- 500 ------------------------------------------------------------------------------------


async def test_500_hides_the_exception(other_app):
    async def explode() -> None:
        raise RuntimeError("secret detail")

    other_app.add_api_route("/boom", explode, methods=["GET"])
    async with asgi_client(other_app) as http:
        response = await http.get("/boom", headers={"X-Request-ID": "trace-500"})
        plain = await http.get("/boom")
    body = assert_problem(response, 500, problem_type="internal-error")
    assert_detail(body)
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"] == "trace-500"
    assert_problem(plain, 500)
    assert plain.headers["x-request-id"]


# --- 503 ------------------------------------------------------------------------------------


async def assert_database_outage(database_url: str, var_dir: Path) -> None:
    settings = Settings(env="test", database_url=database_url, jwt_secret=TEST_SECRET, var_dir=var_dir)
    application = create_app(settings)
    async with LifespanManager(application), asgi_client(application) as http:
        token = application.state.tokens.mint(
            {"sub": str(uuid.uuid4()), "email": "someone@example.com", "role": "employee"}
        )[0]
        me = await http.get("/api/v1/me", headers=bearer(token))
        body = assert_problem(me, 503, problem_type="service-unavailable")
        assert_detail(body)
        assert int(me.headers["retry-after"]) > 0

        ready = await http.get("/readyz")
        assert_problem(ready, 503, problem_type="service-unavailable")
        assert int(ready.headers["retry-after"]) > 0

        # Liveness does not depend on the database.
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    "unreachable_url",
    [
        pytest.param("postgresql+asyncpg://postgres@127.0.0.1:1/none", id="postgres-nothing-listening"),
        # The directory exists, but no file can be created in it.
        pytest.param("sqlite+aiosqlite:////proc/cuecard.sqlite", id="sqlite-unopenable-file"),
    ],
)
async def test_503_when_the_database_is_unreachable(unreachable_url, tmp_path):
    await assert_database_outage(unreachable_url, tmp_path)


async def test_503_when_the_sqlite_directory_cannot_be_created(tmp_path):
    await assert_database_outage("sqlite+aiosqlite:////proc/nope/db.sqlite", tmp_path)


# --- no write is half-applied ----------------------------------------------------------------


async def test_failed_creates_leave_no_row(app, client, callers):
    admin = callers.headers("admin")
    email = f"{unique('half')}@example.com"
    before = await count_rows(app, Person)

    schema_violation = await client.post(
        "/api/v1/people", json={"email": email, "display_name": "Half", "role": "wizard"}, headers=admin
    )
    assert errors_by_field(assert_problem(schema_violation, 422))["role"]["pointer"] == "#/role"

    # Passes the schema, then fails in the service (after it started looking things up).
    unknown_department = await client.post(
        "/api/v1/people",
        json={"email": email, "display_name": "Half", "department_key": "no-such-department"},
        headers=admin,
    )
    errors = errors_by_field(assert_problem(unknown_department, 422))
    assert "department_key" in errors

    unknown_manager = await client.post(
        "/api/v1/people",
        json={"email": email, "display_name": "Half", "manager_id": str(uuid.uuid4())},
        headers=admin,
    )
    assert "manager_id" in errors_by_field(assert_problem(unknown_manager, 422))

    assert await count_rows(app, Person) == before
    listed = await client.get("/api/v1/people", params={"email": email}, headers=admin)
    assert listed.status_code == 200
    assert listed.json()["items"] == []


async def test_failed_update_changes_nothing(app, client, callers):
    person = await make_person(app, display_name="Unchanged")
    url = f"/api/v1/people/{person.id}"
    admin = callers.headers("admin")
    before = await client.get(url, headers=admin)
    assert before.status_code == 200, before.text
    response = await client.patch(
        url, json={"display_name": "Changed", "department_key": "no-such-department"}, headers=admin
    )
    assert_problem(response, 422)
    after = await client.get(url, headers=admin)
    assert after.status_code == 200, after.text
    assert after.json()["display_name"] == "Unchanged"
    assert after.headers["etag"] == before.headers["etag"]


# --- X-Request-ID ----------------------------------------------------------------------------


async def test_request_id_is_echoed(client, callers):
    ok = await client.get("/api/v1/me", headers={**callers.headers("employee"), "X-Request-ID": "abc-123"})
    assert ok.status_code == 200
    assert ok.headers["x-request-id"] == "abc-123"
    problem = await client.get("/nope", headers={"X-Request-ID": "abc-123"})
    assert_problem(problem, 404)
    assert problem.headers["x-request-id"] == "abc-123"


async def test_request_id_is_generated_when_absent(client):
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    for response in (first, second):
        value = response.headers.get("x-request-id")
        assert value and 0 < len(value) <= 128
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_request_id_is_replaced_when_invalid(client):
    too_long = "a" * 129
    response = await client.get("/healthz", headers={"X-Request-ID": too_long})
    value = response.headers.get("x-request-id")
    assert value and value != too_long
    assert 0 < len(value) <= 128


async def test_request_id_on_responses_refused_by_the_guard(client, callers):
    response = await client.post(
        "/api/v1/products",
        content=b"x" * (ONE_MIB + 1),
        headers={**callers.headers("admin"), "Content-Type": "application/json", "X-Request-ID": "big-1"},
    )
    assert_problem(response, 413)
    assert response.headers["x-request-id"] == "big-1"
