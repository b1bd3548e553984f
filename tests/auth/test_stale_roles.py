"""Finding 5: a token acts with the person's stored role, department and active flag, and a
change reaches every replica within a second — from the attacker's side: a demoted editor
keeps a valid, unexpired token and tries to go on editing."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.main import create_app
from tests.conftest import BACKEND
from tests.factories import (
    bearer,
    counting_statements,
    make_brief,
    make_person,
    make_product,
    notices_settled,
    service_token,
    token_for,
)
from tests.scim.conftest import BASE, CUECARD, patch_body

EVIDENCE = "/api/v1/evidence"


def evidence() -> dict:
    return {"kind": "case", "claim": "A社で月末残業がゼロに", "source": "A社インタビュー 2026-10"}


async def demote(client: httpx.AsyncClient, admin: dict, person_id: object, **changes: object) -> None:
    response = await client.patch(f"/api/v1/people/{person_id}", json=changes, headers=admin)
    assert response.status_code == 200, response.text


@pytest.fixture
async def admin(app) -> dict:
    return bearer(token_for(app, await make_person(app, role="admin")))


async def test_a_demoted_editors_token_loses_editor_rights_at_once(app, client, admin):
    editor = await make_person(app, role="editor")
    token = bearer(token_for(app, editor))  # says role=editor, valid for an hour
    assert (await client.post(EVIDENCE, json=evidence(), headers=token)).status_code == 201  # now cached

    await demote(client, admin, editor.id, role="employee")

    refused = await client.post(EVIDENCE, json=evidence(), headers=token)
    assert refused.status_code == 403, refused.text
    assert (await client.get("/api/v1/me", headers=token)).json()["role"] == "employee"


async def test_a_token_claiming_more_than_the_stored_role_acts_with_the_stored_role(app, client):
    employee = await make_person(app, role="employee")
    inflated = bearer(token_for(app, employee, role="admin"))
    response = await client.post("/api/v1/products", json={"key": "nope", "name": "No"}, headers=inflated)
    assert response.status_code == 403, response.text


async def test_a_promotion_applies_to_tokens_already_issued(app, client, admin):
    employee = await make_person(app, role="employee")
    token = bearer(token_for(app, employee))
    assert (await client.post(EVIDENCE, json=evidence(), headers=token)).status_code == 403
    await demote(client, admin, employee.id, role="editor")
    assert (await client.post(EVIDENCE, json=evidence(), headers=token)).status_code == 201


async def test_a_deactivated_person_is_refused_at_once(app, client, admin):
    editor = await make_person(app, role="editor")
    token = bearer(token_for(app, editor))
    assert (await client.get("/api/v1/me", headers=token)).status_code == 200  # cached as active
    await demote(client, admin, editor.id, active=False)
    refused = await client.post(EVIDENCE, json=evidence(), headers=token)
    assert refused.status_code == 401, refused.text
    assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_a_demotion_through_scim_applies_at_once(app, client):
    hr = bearer(await service_token(app, client, "people:write"))
    editor = await make_person(app, role="editor")
    token = bearer(token_for(app, editor))
    assert (await client.post(EVIDENCE, json=evidence(), headers=token)).status_code == 201
    response = await client.patch(
        f"{BASE}/Users/{editor.id}",
        json=patch_body({"op": "replace", "path": f"{CUECARD}:role", "value": "employee"}),
        headers=hr,
    )
    assert response.status_code == 200, response.text
    assert (await client.post(EVIDENCE, json=evidence(), headers=token)).status_code == 403

    response = await client.patch(
        f"{BASE}/Users/{editor.id}",
        json=patch_body({"op": "replace", "value": {"active": False}}),
        headers=hr,
    )
    assert response.status_code == 200, response.text
    assert (await client.get("/api/v1/me", headers=token)).status_code == 401


async def test_a_department_move_applies_at_once(app, client, admin):
    """The principal's department comes from the record too (audiences, feeds)."""
    from tests.factories import make_department

    first, second = await make_department(app), await make_department(app)
    person = await make_person(app, department_key=first.key)
    token = bearer(token_for(app, person))
    assert (await client.get("/api/v1/me", headers=token)).status_code == 200
    await demote(client, admin, person.id, department_key=second.key)
    principal = await _principal_of(app, token)
    assert principal.department_id == second.id


async def _principal_of(app, headers: dict):
    from starlette.requests import Request

    from service.auth.dependencies import resolve_principal

    scope = {"type": "http", "app": app, "headers": [(b"authorization", headers["Authorization"].encode())]}
    return await resolve_principal(Request(scope))


async def test_a_known_caller_costs_no_database_trip(app, client, callers):
    """The hot read: a cached person (or service client) on a cached pitch touches no database."""
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    url = f"/api/v1/pitch/{product.key}"
    employee = callers.headers("employee")
    crm = bearer(await service_token(app, client, "pitch:read"))
    await notices_settled(app)
    for headers in (employee, crm):
        assert (await client.get(url, headers=headers)).status_code == 200  # warm both caches
    async with counting_statements(app) as statements:
        for _ in range(3):
            for headers in (employee, crm):
                assert (await client.get(url, headers=headers)).status_code == 200
    assert statements == []


@pytest.mark.skipif(
    BACKEND != "postgres", reason="several replicas share one PostgreSQL; SQLite is one process"
)
async def test_a_demotion_through_one_replica_reaches_another_within_a_second(app, client, settings, admin):
    """Two app instances on one database, each with its own caches and listener."""
    editor = await make_person(app, role="editor")
    token = bearer(token_for(app, editor))
    replica = create_app(settings)
    async with LifespanManager(replica):
        await asyncio.wait_for(replica.state.listener.connected.wait(), timeout=5)
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as second:
            assert (await second.post(EVIDENCE, json=evidence(), headers=token)).status_code == 201
            assert replica.state.auth_cache.person(editor.id) is not None  # B holds the editor

            await demote(client, admin, editor.id, role="employee")  # through A
            status = await _poll(second, "post", EVIDENCE, token, until=403, json=evidence())
            assert status == 403, "replica B still let the demoted editor write a second later"

            await demote(client, admin, editor.id, active=False)
            status = await _poll(second, "get", "/api/v1/me", token, until=401)
            assert status == 401, "replica B still served the deactivated person a second later"


async def _poll(http: httpx.AsyncClient, method: str, url: str, headers: dict, *, until: int, **kw) -> int:
    started = time.monotonic()
    while True:
        status = (await http.request(method.upper(), url, headers=headers, **kw)).status_code
        if status == until or time.monotonic() - started > 1.0:
            return status
        await asyncio.sleep(0.02)
