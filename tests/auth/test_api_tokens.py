"""Long-lived API tokens of service clients, and the admin API that issues them.

An identity provider stores one bearer token for months: it must work wherever the client's
scopes allow, be shown once and stored hashed, stop at once when revoked (on every replica),
and rotate with an overlap. Refusals are stated as plainly as what works.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from service.clients import service as clients_service
from service.clients.models import ApiToken
from service.main import create_app
from tests.conftest import BACKEND
from tests.factories import (
    OPERATOR,
    bearer,
    counting_statements,
    make_person,
    notices_settled,
    service_token,
    token_for,
)

CLIENTS = "/api/v1/clients"
SCIM_USERS = "/scim/v2/Users"
PEOPLE_QUERY = {"query": "{ people(first: 1) { edges { node { email } } } }"}


@pytest.fixture
async def admin(app) -> dict[str, str]:
    return bearer(token_for(app, await make_person(app, role="admin")))


async def create_client(http: httpx.AsyncClient, admin: dict, *scopes: str, **extra: object) -> dict:
    body = {"name": "人事システム Okta", "scopes": list(scopes), **extra}
    response = await http.post(CLIENTS, json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def issue(http: httpx.AsyncClient, admin: dict, client_id: str, **body: object) -> dict:
    response = await http.post(f"{CLIENTS}/{client_id}/api-tokens", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def assert_unauthenticated(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 401, response.text
    # REST answers a problem, SCIM its own error shape: both say why.
    assert response.headers["content-type"].split(";")[0] in (
        "application/problem+json",
        "application/scim+json",
    )
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["detail"] == detail


# --- issuing: shown once, stored hashed ----------------------------------------------------------


async def test_a_client_created_with_an_api_token_shows_it_once_and_stores_only_its_hash(app, client, admin):
    response = await client.post(
        CLIENTS,
        json={"name": "人事システム Okta", "scopes": ["people:write"], "api_token": True},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert set(created) == {
        "client_id",
        "name",
        "scopes",
        "active",
        "last_used_at",
        "created_at",
        "updated_at",
        "revision",
        "client_secret",
        "api_token",
        "api_token_id",
    }
    token = created["api_token"]
    assert token.startswith("cca_") and len(token) == 47
    assert created["client_id"].startswith("cc_") and created["client_secret"].startswith("ccs_")
    assert response.headers["location"] == f"{CLIENTS}/{created['client_id']}"

    async with app.state.sessionmaker() as session:
        rows = (await session.execute(sa.select(ApiToken))).scalars().all()
    assert [str(r.id) for r in rows] == [created["api_token_id"]]
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(v) for v in rows[0].model_dump().values()}

    listed = await client.get(f"{CLIENTS}/{created['client_id']}/api-tokens", headers=admin)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert set(item) == {
        "id",
        "client_id",
        "name",
        "token_prefix",
        "scopes",
        "expires_at",
        "last_used_at",
        "created_at",
    }
    assert item["token_prefix"] == token[:12] and item["scopes"] == ["people:write"]
    assert token not in listed.text

    shown = await client.get(f"{CLIENTS}/{created['client_id']}", headers=admin)
    assert shown.status_code == 200 and shown.headers["etag"] == '"v1"'
    assert "client_secret" not in shown.json() and "secret_hash" not in shown.text
    everyone = await client.get(CLIENTS, headers=admin)
    assert [c["client_id"] for c in everyone.json()["items"]] == [created["client_id"]]
    assert created["client_secret"] not in everyone.text and token not in everyone.text


async def test_without_asking_there_is_no_api_token(client, admin):
    created = await create_client(client, admin, "pitch:read")
    assert "api_token" not in created and "api_token_id" not in created


async def test_client_and_token_input_is_validated(client, admin):
    bad = await client.post(CLIENTS, json={"name": "x", "scopes": ["everything"]}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "scopes"
    extra = await client.post(
        CLIENTS, json={"name": "x", "scopes": ["pitch:read"], "secret": "s"}, headers=admin
    )
    assert extra.status_code == 422
    client_id = (await create_client(client, admin, "pitch:read"))["client_id"]
    url = f"{CLIENTS}/{client_id}/api-tokens"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for body, field in [
        ({"scopes": ["people:write"]}, "scopes"),  # more than the client holds
        ({"expires_at": past}, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),  # no time zone
        ({"overlap_seconds": 60}, "overlap_seconds"),  # only with rotate_from
        ({"rotate_from": "00000000-0000-0000-0000-000000000000"}, "rotate_from"),
    ]:
        response = await client.post(url, json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], response.text
    token = await issue(client, admin, client_id)
    too_long = await client.post(
        url, json={"rotate_from": token["id"], "overlap_seconds": 30 * 86_400 + 1}, headers=admin
    )
    assert too_long.status_code == 422, too_long.text
    missing = await client.post(f"{CLIENTS}/cc_nope/api-tokens", json={}, headers=admin)
    assert missing.status_code == 404


# --- using it: wherever the client's scopes allow ------------------------------------------------


async def test_an_api_token_works_for_rest_scim_and_graphql_within_its_scopes(app, client, admin):
    created = await create_client(client, admin, "people:write", api_token=True)
    token = bearer(created["api_token"])
    assert (await client.get("/api/v1/people", headers=token)).status_code == 200
    scim = await client.get(SCIM_USERS, headers=token)
    assert scim.status_code == 200, scim.text
    graphql = await client.post("/graphql", json=PEOPLE_QUERY, headers=token)
    assert graphql.status_code == 200 and "errors" not in graphql.json(), graphql.text

    # Outside its scopes: refused as any service token is.
    assert (await client.get("/api/v1/briefs", headers=token)).status_code == 403
    assert (await client.get("/api/v1/me", headers=token)).status_code == 403
    me = await client.post("/graphql", json={"query": "{ me { email } }"}, headers=token)
    assert me.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # ...and never an admin: the admin API is for people.
    assert (await client.get(CLIENTS, headers=token)).status_code == 403


async def test_an_api_token_acts_as_its_client_would_with_client_credentials(app, client, admin):
    from starlette.requests import Request

    from service.auth.dependencies import resolve_principal

    created = await create_client(client, admin, "people:write", "pitch:read", api_token=True)
    grant = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )

    async def principal(token: str):
        scope = {"type": "http", "app": app, "headers": [(b"authorization", f"Bearer {token}".encode())]}
        return await resolve_principal(Request(scope))

    assert await principal(created["api_token"]) == await principal(grant.json()["access_token"])
    assert (await principal(created["api_token"])).kind == "service"


async def test_a_token_may_hold_fewer_scopes_than_its_client(client, admin):
    client_id = (await create_client(client, admin, "people:write", "pitch:read"))["client_id"]
    narrow = await issue(client, admin, client_id, name="CRM カード", scopes=["pitch:read"])
    assert narrow["scopes"] == ["pitch:read"] and narrow["name"] == "CRM カード"
    assert (await client.get("/api/v1/people", headers=bearer(narrow["api_token"]))).status_code == 403
    assert (await client.get("/api/v1/products", headers=bearer(narrow["api_token"]))).status_code == 200


@pytest.mark.parametrize(
    "token",
    ["cca_", "cca_short", "cca_" + "A" * 43, "cca_" + "A" * 44, "cca_" + "!" * 43],
)
async def test_unknown_or_malformed_api_tokens_are_refused(client, token):
    assert_unauthenticated(
        await client.get("/api/v1/products", headers=bearer(token)), "unknown or revoked API token"
    )


# --- revoking, rotating, deactivating: at once ------------------------------------------------------


async def test_a_revoked_token_is_refused_at_once(client, admin):
    created = await create_client(client, admin, "people:write", api_token=True)
    token = bearer(created["api_token"])
    assert (await client.get(SCIM_USERS, headers=token)).status_code == 200  # cached now
    url = f"{CLIENTS}/{created['client_id']}/api-tokens/{created['api_token_id']}"
    revoked = await client.delete(url, headers=admin)
    assert revoked.status_code == 204, revoked.text
    assert_unauthenticated(await client.get("/api/v1/people", headers=token), "unknown or revoked API token")
    assert (await client.get(SCIM_USERS, headers=token)).status_code == 401
    assert (await client.delete(url, headers=admin)).status_code == 404
    listed = await client.get(f"{CLIENTS}/{created['client_id']}/api-tokens", headers=admin)
    assert listed.json()["items"] == []
    # Another client's token id under this client is not found either.
    other = await create_client(client, admin, "pitch:read", api_token=True)
    crossed = await client.delete(
        f"{CLIENTS}/{created['client_id']}/api-tokens/{other['api_token_id']}", headers=admin
    )
    assert crossed.status_code == 404
    assert (await client.get("/api/v1/products", headers=bearer(other["api_token"]))).status_code == 200


async def test_rotation_keeps_the_old_token_until_the_overlap_ends(client, admin):
    created = await create_client(client, admin, "people:write", api_token=True)
    client_id, old = created["client_id"], bearer(created["api_token"])
    assert (await client.get(SCIM_USERS, headers=old)).status_code == 200  # cached without an end
    started = datetime.now(UTC)
    renamed = await issue(client, admin, client_id, name="Okta 2027")
    rotated = await issue(client, admin, client_id, rotate_from=created["api_token_id"])
    assert rotated["scopes"] == ["people:write"] and rotated["name"] is None  # as the old one
    assert rotated["rotated"]["id"] == created["api_token_id"]
    ends = datetime.fromisoformat(rotated["rotated"]["expires_at"])
    assert timedelta(hours=23, minutes=59) < ends - started < timedelta(hours=24, minutes=1)
    assert rotated["expires_at"] is None
    # Both work during the overlap.
    assert (await client.get(SCIM_USERS, headers=old)).status_code == 200
    assert (await client.get(SCIM_USERS, headers=bearer(rotated["api_token"]))).status_code == 200

    # Rotating again with no overlap ends the old token now (it never gets a later end).
    again = await issue(client, admin, client_id, rotate_from=created["api_token_id"], overlap_seconds=0)
    assert datetime.fromisoformat(again["rotated"]["expires_at"]) < ends
    assert_unauthenticated(await client.get(SCIM_USERS, headers=old), "API token expired")
    assert (await client.get(SCIM_USERS, headers=bearer(rotated["api_token"]))).status_code == 200
    # A token inherits the name of the token it replaces.
    named = await issue(client, admin, client_id, rotate_from=renamed["id"])
    assert named["name"] == "Okta 2027"
    listed = (await client.get(f"{CLIENTS}/{client_id}/api-tokens", headers=admin)).json()["items"]
    assert [t["id"] for t in listed] == [
        created["api_token_id"],
        renamed["id"],
        rotated["id"],
        again["id"],
        named["id"],
    ]


async def test_a_token_with_an_end_stops_then(client, admin):
    client_id = (await create_client(client, admin, "pitch:read"))["client_id"]
    soon = datetime.now(UTC) + timedelta(seconds=2)
    token = await issue(client, admin, client_id, expires_at=soon.isoformat())
    assert datetime.fromisoformat(token["expires_at"]) == soon
    assert (await client.get("/api/v1/products", headers=bearer(token["api_token"]))).status_code == 200
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
    assert_unauthenticated(
        await client.get("/api/v1/products", headers=bearer(token["api_token"])), "API token expired"
    )


async def test_deactivating_the_client_stops_its_tokens_at_once(client, admin):
    created = await create_client(client, admin, "people:write", api_token=True)
    token, url = bearer(created["api_token"]), f"{CLIENTS}/{created['client_id']}"
    assert (await client.get(SCIM_USERS, headers=token)).status_code == 200
    off = await client.patch(url, json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False, off.text
    assert (await client.get(SCIM_USERS, headers=token)).status_code == 401
    on = await client.patch(url, json={"active": True}, headers=admin)
    assert on.status_code == 200, on.text
    assert (await client.get(SCIM_USERS, headers=token)).status_code == 200


async def test_narrowing_the_clients_scopes_narrows_its_tokens_at_once(client, admin):
    created = await create_client(client, admin, "people:write", "pitch:read", api_token=True)
    token, url = bearer(created["api_token"]), f"{CLIENTS}/{created['client_id']}"
    assert (await client.get("/api/v1/people", headers=token)).status_code == 200
    narrowed = await client.patch(url, json={"scopes": ["pitch:read"], "name": "CRM だけ"}, headers=admin)
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scopes"] == ["pitch:read"] and narrowed.json()["revision"] == 2
    assert (await client.get("/api/v1/people", headers=token)).status_code == 403
    assert (await client.get("/api/v1/products", headers=token)).status_code == 200
    # Widening again gives the token back no more than its own scopes.
    await client.patch(url, json={"scopes": ["people:write", "pitch:read"]}, headers=admin)
    assert (await client.get("/api/v1/people", headers=token)).status_code == 200


async def test_patch_honours_if_match_and_refuses_nulls(client, admin):
    url = f"{CLIENTS}/{(await create_client(client, admin, 'pitch:read'))['client_id']}"
    stale = await client.patch(url, json={"name": "新しい名前"}, headers={**admin, "If-Match": '"v9"'})
    assert stale.status_code == 412
    assert (await client.patch(url, json={"active": None}, headers=admin)).status_code == 422
    assert (await client.patch(url, json={"scopes": []}, headers=admin)).status_code == 422
    ok = await client.patch(url, json={"name": "新しい名前"}, headers={**admin, "If-Match": '"v1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"v2"'
    assert (await client.patch(f"{CLIENTS}/cc_nope", json={}, headers=admin)).status_code == 404


async def test_rotating_the_secret_stops_the_old_one(client, admin):
    created = await create_client(client, admin, "pitch:read")

    async def grant(secret: str) -> int:
        form = {
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": secret,
        }
        return (await client.post("/api/v1/auth/token", data=form)).status_code

    rotated = await client.post(f"{CLIENTS}/{created['client_id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    assert set(rotated.json()) == {"client_id", "client_secret"}
    assert await grant(created["client_secret"]) == 401
    assert await grant(rotated.json()["client_secret"]) == 200


async def test_deleting_the_client_deletes_its_tokens(app, client, admin):
    created = await create_client(client, admin, "pitch:read", api_token=True)
    token = bearer(created["api_token"])
    assert (await client.get("/api/v1/products", headers=token)).status_code == 200
    async with app.state.sessionmaker() as session:
        await clients_service.delete_client(session, OPERATOR, created["client_id"])
    assert (await client.get("/api/v1/products", headers=token)).status_code == 401
    async with app.state.sessionmaker() as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(ApiToken))).scalar() == 0


# --- cost: no database trip for a known token, last use recorded once a minute --------------------


async def test_a_cached_token_costs_no_lookup_and_its_use_is_recorded_once_a_minute(app, client, admin):
    created = await create_client(client, admin, "pitch:read", api_token=True)
    token = bearer(created["api_token"])
    await notices_settled(app)
    async with counting_statements(app) as statements:
        for _ in range(5):
            assert (await client.get("/api/v1/products", headers=token)).status_code == 200
    touching = [s.lower() for s in statements if "api_tokens" in s or "service_clients" in s]
    lookups = [s for s in touching if s.lstrip().startswith("select")]
    updates = [s for s in touching if s.lstrip().startswith("update")]
    # The token and its client, once each: five requests uncached would be ten lookups.
    assert len(lookups) == 2, touching
    assert len(updates) == 2, touching  # last_used_at of the token and of the client, once
    listed = (await client.get(f"{CLIENTS}/{created['client_id']}/api-tokens", headers=admin)).json()
    assert listed["items"][0]["last_used_at"] is not None
    shown = (await client.get(f"{CLIENTS}/{created['client_id']}", headers=admin)).json()
    assert shown["last_used_at"] is not None


async def test_lists_are_paginated(client, admin):
    client_id = (await create_client(client, admin, "pitch:read"))["client_id"]
    for name in ("一", "二", "three"):
        await issue(client, admin, client_id, name=name)
    first = await client.get(f"{CLIENTS}/{client_id}/api-tokens?limit=2", headers=admin)
    assert [t["name"] for t in first.json()["items"]] == ["一", "二"]
    assert 'rel="next"' in first.headers["link"]
    second = await client.get(
        f"{CLIENTS}/{client_id}/api-tokens",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=admin,
    )
    assert [t["name"] for t in second.json()["items"]] == ["three"] and second.json()["next_cursor"] is None
    assert (await client.get(f"{CLIENTS}?limit=201", headers=admin)).status_code == 422


# --- who may manage clients: admins (and the operator CLI) only ---------------------------------------


async def test_every_admin_route_is_refused_to_everyone_but_admins(app, client, callers, admin):
    created = await create_client(client, admin, "people:write", api_token=True)
    client_id, token_id = created["client_id"], created["api_token_id"]
    routes = [
        ("GET", CLIENTS, None),
        ("POST", CLIENTS, {"name": "x", "scopes": ["pitch:read"]}),
        ("GET", f"{CLIENTS}/{client_id}", None),
        ("PATCH", f"{CLIENTS}/{client_id}", {"active": False}),
        ("POST", f"{CLIENTS}/{client_id}/rotate-secret", None),
        ("GET", f"{CLIENTS}/{client_id}/api-tokens", None),
        ("POST", f"{CLIENTS}/{client_id}/api-tokens", {}),
        ("DELETE", f"{CLIENTS}/{client_id}/api-tokens/{token_id}", None),
        # A client that does not exist answers the same: refusal comes before any lookup.
        ("GET", f"{CLIENTS}/cc_no_such_client", None),
    ]
    refused = {
        **{name: 403 for name in ("employee", "manager", "editor", "svc_pitch", "svc_people")},
        "anonymous": 401,
        "api_token": 403,
    }
    callers.tokens["api_token"] = created["api_token"]
    mismatches = []
    for method, url, body in routes:
        for caller, status in refused.items():
            response = await client.request(method, url, json=body, headers=callers.headers(caller))
            if response.status_code != status:
                mismatches.append((method, url, caller, response.status_code))
    assert not mismatches
    # Nothing was changed by the refused calls.
    assert (await client.get(SCIM_USERS, headers=bearer(created["api_token"]))).status_code == 200


# --- every replica: a revocation through one reaches another within a second ---------------------------


@pytest.mark.skipif(
    BACKEND != "postgres", reason="several replicas share one PostgreSQL; SQLite is one process"
)
async def test_a_revocation_through_one_replica_reaches_another_within_a_second(app, client, settings, admin):
    created = await create_client(client, admin, "people:write", api_token=True)
    second_token = await issue(client, admin, created["client_id"])
    replica = create_app(settings)
    async with LifespanManager(replica):
        await asyncio.wait_for(replica.state.listener.connected.wait(), timeout=5)
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as other:
            for token in (created["api_token"], second_token["api_token"]):
                assert (await other.get(SCIM_USERS, headers=bearer(token))).status_code == 200  # cached on B

            url = f"{CLIENTS}/{created['client_id']}/api-tokens/{created['api_token_id']}"
            assert (await client.delete(url, headers=admin)).status_code == 204  # through A
            status = await _poll(other, SCIM_USERS, bearer(created["api_token"]), until=401)
            assert status == 401, "replica B still accepted the revoked token a second later"

            await client.patch(f"{CLIENTS}/{created['client_id']}", json={"active": False}, headers=admin)
            status = await _poll(other, SCIM_USERS, bearer(second_token["api_token"]), until=401)
            assert status == 401, "replica B still accepted a deactivated client's token a second later"


async def _poll(http: httpx.AsyncClient, url: str, headers: dict, *, until: int) -> int:
    started = time.monotonic()
    while True:
        status = (await http.get(url, headers=headers)).status_code
        if status == until or time.monotonic() - started > 1.0:
            return status
        await asyncio.sleep(0.02)


async def test_service_tokens_from_client_credentials_still_work(app, client):
    """The JWT path is untouched by the API-token route."""
    token = await service_token(app, client, "pitch:read")
    assert (await client.get("/api/v1/products", headers=bearer(token))).status_code == 200
