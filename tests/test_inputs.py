"""Malformed input is refused as the caller's error, never a 500 (findings 7 and 11).

A NUL character (PostgreSQL text cannot hold one) in a body field, a query or path
parameter, a SCIM attribute, a GraphQL variable or one item of a batch; a forged cursor
(overflowing or naive timestamp); JSON nested 100,000 levels deep.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.api.middleware import MAX_JSON_DEPTH
from service.config import Settings
from service.main import create_app
from tests.briefs.test_graphql_briefs import CREATE, brief_input
from tests.factories import bearer, complete_brief, make_product, service_token
from tests.scim.conftest import BASE as SCIM
from tests.scim.conftest import assert_scim_error, user_body
from tests.test_graphql import gql

NUL = "\u0000"


def _error_for(response, field: str, location: str) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    matching = [e for e in body["errors"] if e["field"] == field and e["location"] == location]
    assert matching, body
    return matching[0]


# --- NUL characters -----------------------------------------------------------------------------


async def test_nul_in_a_brief_title_is_a_422_naming_the_field(app, client, callers):
    product = await make_product(app)
    body = complete_brief(product.key, title=f"クラデスク{NUL}launch")
    response = await client.post("/api/v1/briefs", json=body, headers=callers.headers("editor"))
    error = _error_for(response, "title", "body")
    assert error["pointer"] == "#/title"
    assert "NUL" in error["detail"]


async def test_nul_inside_a_nested_list_of_a_body_is_a_422(app, client, callers):
    product = await make_product(app)
    pains = [{"kind": "anxiety", "text": "ok"}, {"kind": "anxiety", "text": f"bad{NUL}"}]
    response = await client.post(
        "/api/v1/briefs", json=complete_brief(product.key, pains=pains), headers=callers.headers("editor")
    )
    _error_for(response, "pains.1.text", "body")


@pytest.mark.parametrize(
    "url, field",
    [
        ("/api/v1/people?department_key=a%00b", "department_key"),
        ("/api/v1/feedback?product_key=a%00b", "product_key"),
        ("/api/v1/pitch/kuradesk?segment=smb%00", "segment"),
    ],
)
async def test_nul_in_a_query_parameter_is_a_422_naming_it(client, callers, url, field):
    response = await client.get(url, headers=callers.headers("admin"))
    error = _error_for(response, field, "query")
    assert error["type"] == "string_nul"


async def test_nul_in_the_path_is_a_422(client, callers):
    response = await client.get("/api/v1/products/a%00b", headers=callers.headers("admin"))
    _error_for(response, "", "path")


async def test_nul_in_one_batch_item_refuses_that_item_and_keeps_the_others(app, client):
    headers = bearer(await service_token(app, client, "feedback:write"))
    items = [
        {"source": "support", "external_id": "ZD-1", "body": "良い声"},
        {"source": "support", "external_id": "ZD-2", "body": f"bad{NUL}body"},
        {"source": "support", "external_id": "ZD-3", "body": "ok", "tags": ["fine", f"t{NUL}"]},
        {"source": "support", "external_id": "ZD-4", "body": "also kept", "customer": {"account": "ACME"}},
    ]
    response = await client.post("/api/v1/feedback/batch", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["created"] == 2
    assert [e["index"] for e in result["errors"]] == [1, 2]
    listed = await client.get(
        "/api/v1/feedback", headers=bearer(await service_token(app, client, "feedback:read"))
    )
    assert listed.status_code == 200, listed.text
    assert sorted(i["external_id"] for i in listed.json()["items"]) == ["ZD-1", "ZD-4"]


async def test_nul_in_a_scim_user_name_is_a_scim_400(app, client):
    hr = {**bearer(await service_token(app, client, "people:write")), "content-type": "application/scim+json"}
    response = await client.post(f"{SCIM}/Users", json=user_body(f"a{NUL}@example.com"), headers=hr)
    assert_scim_error(response, 400)
    response = await client.post(
        f"{SCIM}/Users", json=user_body("ok@example.com", externalId=f"E{NUL}1"), headers=hr
    )
    assert_scim_error(response, 400)
    filtered = await client.get(f"{SCIM}/Users", params={"filter": f'externalId eq "E{NUL}1"'}, headers=hr)
    assert_scim_error(filtered, 400)


async def test_nul_in_a_graphql_mutation_variable_is_a_422_naming_it(app, client, callers):
    product = await make_product(app)
    data = brief_input(product.key, title=f"タイトル{NUL}")
    response = await client.post(
        "/graphql", json={"query": CREATE, "variables": {"input": data}}, headers=callers.headers("editor")
    )
    _error_for(response, "variables.input.title", "body")


async def test_nul_in_a_graphql_input_model_is_a_user_input_error_too(app, callers):
    # Behind the HTTP guard, GraphQL inputs still go through the same input models.
    from service.briefs.schemas import BriefCreate
    from service.errors import Invalid
    from service.graphql_kit import validate_input

    product = await make_product(app)
    with pytest.raises(Invalid) as refused:
        validate_input(BriefCreate, complete_brief(product.key, title=f"a{NUL}"))
    assert [e["field"] for e in refused.value.extras["errors"]] == ["title"]


@pytest.mark.parametrize(
    "query",
    [
        '{ product(key: "a\\u0000b") { key } }',
        '{ product(key: "a\\u{0}b") { key } }',
        '{ people(first: 2, departmentKey: "a\\u0000") { edges { node { id } } } }',
    ],
)
async def test_nul_in_a_graphql_string_literal_is_a_422(client, callers, query):
    response = await client.post("/graphql", json={"query": query}, headers=callers.headers("admin"))
    _error_for(response, "query", "body")


async def test_an_escaped_backslash_before_u0000_is_just_text(client, callers):
    query = '{ product(key: "a\\\\u0000b") { key } }'
    status, body = await gql(client, query, callers.headers("admin"))
    assert status == 200
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body


async def test_nul_in_a_graphql_get_query_string_is_a_422(client, callers):
    response = await client.get(
        "/graphql",
        params={"query": '{ pitch(productKey: "a\u0000b") { productKey } }'},
        headers=callers.headers("admin"),
    )
    assert response.status_code == 422, response.text


# --- cursors ------------------------------------------------------------------------------------


def _cursor(created_at: str) -> str:
    raw = json.dumps([created_at, str(uuid.uuid4())], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "created_at",
    [
        "9999-12-31T23:59:59-14:00",  # past year 9999 once in UTC
        "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
        "2026-12-01T09:00:00",  # naive: refused, never read in the server's zone
        "2026-13-01T00:00:00+00:00",
    ],
)
async def test_a_forged_cursor_is_a_422(client, callers, created_at):
    response = await client.get(
        "/api/v1/people", params={"cursor": _cursor(created_at)}, headers=callers.headers("admin")
    )
    error = _error_for(response, "cursor", "query")
    assert error["type"] == "cursor"


async def test_a_cursor_we_issued_still_pages(client, callers):
    first = await client.get("/api/v1/people", params={"limit": 2}, headers=callers.headers("admin"))
    assert first.status_code == 200
    cursor = first.json()["next_cursor"]
    assert cursor
    created_at, _ = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert created_at.endswith("+00:00")  # we issue aware UTC times, so naive ones are forged
    second = await client.get(
        "/api/v1/people", params={"limit": 2, "cursor": cursor}, headers=callers.headers("admin")
    )
    assert second.status_code == 200
    assert {p["id"] for p in second.json()["items"]}.isdisjoint({p["id"] for p in first.json()["items"]})


# --- deeply nested JSON -------------------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.parametrize("payload", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(
    "path, media",
    [
        ("/graphql", "application/json"),
        (f"{SCIM}/Users", "application/scim+json"),
        (f"{SCIM}/Users/.search", "application/scim+json"),
        ("/api/v1/briefs", "application/json"),
        ("/api/v1/feedback/batch", "application/json"),
    ],
)
async def test_json_nested_100000_levels_is_a_400_and_quick(client, callers, path, media, payload):
    headers = {**callers.headers("admin"), "content-type": media}
    start = time.perf_counter()
    response = await client.post(path, content=payload, headers=headers)
    assert time.perf_counter() - start < 2.0  # generous for a loaded machine; refused before parsing
    assert response.status_code == 400, response.text
    assert str(MAX_JSON_DEPTH) in response.text


async def test_json_just_under_the_depth_limit_is_parsed_as_usual(client, callers):
    nested = "[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2)
    body = f'{{"query": "{{ me {{ id }} }}", "variables": {{"x": {nested}}}}}'
    response = await client.post(
        "/graphql", content=body, headers={**callers.headers("admin"), "content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    # Brackets inside strings are text, not nesting.
    text = "[" * 5000
    response = await client.post(
        "/graphql",
        json={"query": "{ me { id } }", "variables": {"x": text, "y": '\\"' + text}},
        headers=callers.headers("admin"),
    )
    assert response.status_code == 200, response.text


# --- the Host header is never reflected (finding 13) ----------------------------------------------

FORGED = {"Host": "evil.example"}
PUBLIC = "https://cuecard.example.com"


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def _links_and_locations(app, http: httpx.AsyncClient, callers) -> tuple[str, str, str]:
    for _ in range(2):
        await make_product(app)
    page = await http.get("/api/v1/products?limit=1", headers={**callers.headers("admin"), **FORGED})
    assert page.status_code == 200, page.text
    hr = {
        **bearer(await service_token(app, http, "people:write")),
        "content-type": "application/scim+json",
        **FORGED,
    }
    created = await http.post(f"{SCIM}/Users", json=user_body("host@example.com"), headers=hr)
    assert created.status_code == 201, created.text
    return page.headers["link"], created.headers["location"], created.json()["meta"]["location"]


async def test_forged_host_is_not_reflected_without_a_public_url(app, client, callers):
    link, location, meta = await _links_and_locations(app, client, callers)
    assert link.startswith("</api/v1/products?") and link.endswith('>; rel="next"'), link
    assert "limit=1" in link and "cursor=" in link
    assert location.startswith(f"{SCIM}/Users/") and meta == location
    assert "evil" not in link + location + meta


async def test_absolute_urls_come_from_the_public_url(app, settings, callers):
    async with serve(settings.model_copy(update={"public_url": PUBLIC})) as http:
        link, location, meta = await _links_and_locations(app, http, callers)
    assert link.startswith(f"<{PUBLIC}/api/v1/products?"), link
    assert location.startswith(f"{PUBLIC}{SCIM}/Users/") and meta == location
    assert "evil" not in link + location + meta


def test_the_public_url_setting_is_a_base_url():
    assert Settings(public_url="https://cuecard.example.com/").public_url == PUBLIC
    for bad in ("cuecard.example.com", "javascript:alert(1)", "https://x.example/?a=b"):
        with pytest.raises(ValueError):
            Settings(public_url=bad)
