"""An expired token says so (401 "token expired"), so the caller fetches a new one; only a
correctly signed one: a forger learns nothing from the answer."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI

from tests.auth.test_tokens import ME, assert_401, forge, own_claims, own_header
from tests.factories import bearer, make_person


@pytest.fixture
async def person(app: FastAPI):
    return await make_person(app, role="editor")


def expired(app: FastAPI) -> dict[str, int]:
    now = int(time.time())
    return {"exp": now - app.state.settings.jwt_leeway_seconds - 60, "iat": now - 3600}


async def test_an_expired_token_says_it_expired(app, client, person):
    token = forge(own_header(app), own_claims(app, person, **expired(app)))
    response = await client.get(ME, headers=bearer(token))
    assert_401(response)
    assert response.json()["detail"] == "token expired"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_an_expired_token_says_it_expired_on_graphql_too(app, client, person):
    token = forge(own_header(app), own_claims(app, person, **expired(app)))
    response = await client.post("/graphql", json={"query": "{ me { email } }"}, headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == "token expired"


async def test_an_expired_token_with_a_wrong_signature_does_not_say_expired(app, client, person):
    token = forge(own_header(app), own_claims(app, person, **expired(app)), secret="not-the-key" * 4)
    response = await client.get(ME, headers=bearer(token))
    assert_401(response)
    assert "expired" not in response.json()["detail"]
