"""Service accounts: the OAuth 2.0 client-credentials grant at POST /api/v1/auth/token."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from jose import jwt as jose_jwt

from service.clients import service as clients_service
from service.clients.models import ServiceClient
from service.main import create_app
from tests.conftest import BACKEND
from tests.factories import OPERATOR, bearer, make_client, make_person, principal_of

TOKEN = "/api/v1/auth/token"


def grant(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **extra}


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def assert_problem(response: httpx.Response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    if error is not None:
        assert body["error"] == error
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return body


@pytest.fixture
async def credentials(app: FastAPI) -> tuple[str, str]:
    return await make_client(app, "pitch:read", "briefs:read")


# --- issuing ---------------------------------------------------------------------------------


async def test_form_credentials_issue_a_bearer_token(app, client, credentials):
    client_id, secret = credentials
    response = await client.post(TOKEN, data=grant(client_id, secret))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == app.state.settings.client_token_ttl_seconds
    assert body["scope"].split() == ["briefs:read", "pitch:read"]
    claims = jose_jwt.get_unverified_claims(body["access_token"])
    assert claims["client_id"] == client_id
    assert claims["scope"] == body["scope"]
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert "role" not in claims


async def test_http_basic_credentials_work(client, credentials):
    client_id, secret = credentials
    response = await client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"


async def test_basic_with_wrong_secret_is_refused(client, credentials):
    client_id, _ = credentials
    response = await client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic(client_id, "ccs_wrong")
    )
    assert_problem(response, 401, "invalid_client")


async def test_malformed_basic_credentials_are_refused(client):
    headers = {"Authorization": "Basic %%%not-base64%%%"}
    assert_problem(await client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=headers), 401)


async def test_requesting_a_subset_narrows_the_scope(app, client):
    client_id, secret = await make_client(app, "pitch:read", "people:write")
    full = await client.post(TOKEN, data=grant(client_id, secret))
    narrow = await client.post(TOKEN, data=grant(client_id, secret, scope="pitch:read"))
    assert full.status_code == narrow.status_code == 200, (full.text, narrow.text)
    assert narrow.json()["scope"] == "pitch:read"
    assert jose_jwt.get_unverified_claims(narrow.json()["access_token"])["scope"] == "pitch:read"
    # The narrowed token really lost people:write (and the people:read it implies).
    people_full = await client.get("/api/v1/people", headers=bearer(full.json()["access_token"]))
    assert people_full.status_code == 200, people_full.text
    people_narrow = await client.get("/api/v1/people", headers=bearer(narrow.json()["access_token"]))
    assert_problem(people_narrow, 403)


# --- refused ---------------------------------------------------------------------------------


async def test_wrong_secret_is_refused(client, credentials):
    client_id, secret = credentials
    assert_problem(await client.post(TOKEN, data=grant(client_id, secret + "x")), 401, "invalid_client")
    assert_problem(await client.post(TOKEN, data=grant(client_id, "")), 401, "invalid_client")


async def test_unknown_client_is_refused(client, credentials):
    _, secret = credentials
    assert_problem(await client.post(TOKEN, data=grant("cc_does_not_exist", secret)), 401, "invalid_client")


async def test_another_clients_secret_is_refused(app, client, credentials):
    client_id, _ = credentials
    _, other_secret = await make_client(app, "pitch:read", name="other")
    assert_problem(await client.post(TOKEN, data=grant(client_id, other_secret)), 401, "invalid_client")


async def test_deactivated_client_is_refused(app, client, credentials):
    client_id, secret = credentials
    async with app.state.sessionmaker() as session:
        await session.execute(
            sa.update(ServiceClient).where(ServiceClient.client_id == client_id).values(active=False)
        )
        await session.commit()
    assert_problem(await client.post(TOKEN, data=grant(client_id, secret)), 401, "invalid_client")


@pytest.mark.parametrize(
    "grant_type", ["password", "authorization_code", "refresh_token", "CLIENT_CREDENTIALS"]
)
async def test_other_grant_types_are_unsupported(client, credentials, grant_type):
    client_id, secret = credentials
    response = await client.post(TOKEN, data={**grant(client_id, secret), "grant_type": grant_type})
    assert_problem(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize("grant_type", ["", None])
async def test_missing_grant_type_is_a_client_error(client, credentials, grant_type):
    """Empty or absent: RFC 6749 §5.2 `invalid_request` (400), never a 500."""
    client_id, secret = credentials
    data = {k: v for k, v in {**grant(client_id, secret), "grant_type": grant_type}.items() if v is not None}
    assert_problem(await client.post(TOKEN, data=data), 400, "invalid_request")


@pytest.mark.parametrize("scope", ["people:write", "pitch:read people:write", "admin", "pitch:read:all"])
async def test_scope_the_client_lacks_is_invalid(client, credentials, scope):
    client_id, secret = credentials
    assert_problem(await client.post(TOKEN, data=grant(client_id, secret, scope=scope)), 400, "invalid_scope")


async def test_json_body_is_unsupported_media_type(client, credentials):
    client_id, secret = credentials
    response = await client.post(TOKEN, json=grant(client_id, secret))
    assert_problem(response, 415)


async def test_missing_client_id_is_refused(client, credentials):
    _, secret = credentials
    response = await client.post(TOKEN, data={"grant_type": "client_credentials", "client_secret": secret})
    assert_problem(response, 401, "invalid_client")


def from_address(app: FastAPI, host: str) -> httpx.AsyncClient:
    """A client whose requests come from `host` (the peer address the limiter counts)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_ten_failures_in_a_minute_answer_429(app, client, credentials):
    client_id, secret = credentials
    limit = app.state.settings.token_failures_per_minute
    assert limit == 10
    for _ in range(limit):
        assert_problem(await client.post(TOKEN, data=grant(client_id, "ccs_wrong")), 401, "invalid_client")
    blocked = await client.post(TOKEN, data=grant(client_id, "ccs_wrong"))
    assert_problem(blocked, 429)
    assert 0 < int(blocked.headers["retry-after"]) <= 61
    # That address may not go on guessing (the secret is not even compared), while another
    # client is unaffected.
    assert_problem(await client.post(TOKEN, data=grant(client_id, secret)), 429)
    other_id, other_secret = await make_client(app, "pitch:read", name="other")
    assert (await client.post(TOKEN, data=grant(other_id, other_secret))).status_code == 200


async def test_a_stranger_guessing_wrong_never_locks_the_integration_out(app, credentials):
    """Finding 10: ten bad secrets from one address, then the right secret from the
    integration's own address works; the guesser stays throttled."""
    client_id, secret = credentials
    async with (
        from_address(app, "203.0.113.66") as attacker,
        from_address(app, "198.51.100.7") as integration,
    ):
        for _ in range(app.state.settings.token_failures_per_minute + 5):
            response = await attacker.post(TOKEN, data=grant(client_id, "ccs_guess"))
            assert response.status_code in (401, 429)
        assert_problem(await attacker.post(TOKEN, data=grant(client_id, "ccs_guess")), 429)
        for _ in range(3):
            response = await integration.post(TOKEN, data=grant(client_id, secret))
            assert response.status_code == 200, response.text


async def test_an_ipv6_guesser_cannot_escape_the_limit_by_changing_address(app, credentials):
    client_id, _ = credentials
    for i in range(app.state.settings.token_failures_per_minute):
        async with from_address(app, f"2001:db8:1:2::{i + 1:x}") as attacker:
            assert_problem(await attacker.post(TOKEN, data=grant(client_id, "ccs_guess")), 401)
    async with from_address(app, "2001:db8:1:2::ffff") as same_network:
        assert_problem(await same_network.post(TOKEN, data=grant(client_id, "ccs_guess")), 429)


async def test_nine_failures_do_not_lock_out(app, client, credentials):
    client_id, secret = credentials
    for _ in range(app.state.settings.token_failures_per_minute - 1):
        assert_problem(await client.post(TOKEN, data=grant(client_id, "ccs_wrong")), 401)
    assert (await client.post(TOKEN, data=grant(client_id, secret))).status_code == 200


# --- using the token -------------------------------------------------------------------------


async def test_issued_token_is_allowed_and_refused_by_scope(client, credentials):
    client_id, secret = credentials
    token = (await client.post(TOKEN, data=grant(client_id, secret))).json()["access_token"]
    listed = await client.get("/api/v1/products", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    created = await client.post(
        "/api/v1/products", json={"key": "svc-made", "name": "Not allowed"}, headers=bearer(token)
    )
    assert_problem(created, 403)
    assert_problem(await client.get("/api/v1/me", headers=bearer(token)), 403)


async def test_tampered_scope_on_an_issued_token_is_refused(client, credentials):
    client_id, secret = credentials
    token = (await client.post(TOKEN, data=grant(client_id, secret))).json()["access_token"]
    header, payload, signature = token.split(".")
    claims = jose_jwt.get_unverified_claims(token)
    claims["scope"] = "people:write"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert payload != forged_payload
    response = await client.get("/api/v1/products", headers=bearer(f"{header}.{forged_payload}.{signature}"))
    assert_problem(response, 401)


# --- issued tokens follow the client's stored state (finding 9) -----------------------------


async def issued_token(client: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    response = await client.post(TOKEN, data=grant(client_id, secret))
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def change_client(app: FastAPI, client_id: str, *, delete: bool = False) -> None:
    async with app.state.sessionmaker() as session:
        if delete:
            await clients_service.delete_client(session, OPERATOR, client_id)
        else:
            await clients_service.set_client_active(session, OPERATOR, client_id, active=False)


@pytest.mark.parametrize("delete", [False, True], ids=["deactivated", "deleted"])
async def test_a_deactivated_or_deleted_clients_tokens_stop_working_at_once(app, client, credentials, delete):
    client_id, secret = credentials
    token = await issued_token(client, client_id, secret)
    assert (await client.get("/api/v1/products", headers=token)).status_code == 200  # cached as active
    await change_client(app, client_id, delete=delete)
    assert_problem(await client.get("/api/v1/products", headers=token), 401)
    assert_problem(await client.post(TOKEN, data=grant(client_id, secret)), 401, "invalid_client")


async def test_only_admins_deactivate_clients(app, credentials):
    from service.errors import Forbidden

    client_id, _ = credentials
    editor = principal_of(await make_person(app, role="editor"))
    async with app.state.sessionmaker() as session:
        with pytest.raises(Forbidden):
            await clients_service.set_client_active(session, editor, client_id, active=False)


@pytest.mark.skipif(
    BACKEND != "postgres", reason="several replicas share one PostgreSQL; SQLite is one process"
)
async def test_a_deactivated_clients_tokens_stop_on_every_replica_within_a_second(
    app, client, settings, credentials
):
    client_id, secret = credentials
    token = await issued_token(client, client_id, secret)
    replica = create_app(settings)
    async with LifespanManager(replica):
        await asyncio.wait_for(replica.state.listener.connected.wait(), timeout=5)
        transport = httpx.ASGITransport(app=replica, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as second:
            assert (await second.get("/api/v1/products", headers=token)).status_code == 200
            assert (await client.get("/api/v1/products", headers=token)).status_code == 200
            assert replica.state.auth_cache.client(client_id) is not None  # B holds it as active

            await change_client(app, client_id)  # through A's services
            started, statuses = time.monotonic(), (200, 200)
            while statuses != (401, 401) and time.monotonic() - started < 1.0:
                statuses = (
                    (await client.get("/api/v1/products", headers=token)).status_code,
                    (await second.get("/api/v1/products", headers=token)).status_code,
                )
                await asyncio.sleep(0.02)
            assert statuses == (401, 401), "a replica still honoured the deactivated client's token"
