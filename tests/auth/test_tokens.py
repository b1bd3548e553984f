"""Own-issuer bearer tokens: every malformed, forged or stale token answers 401 (never 500).

Tokens are forged for real (hand-built segments, HMAC with `hmac`, RSA with `cryptography`)
and sent to real endpoints; the positive controls use the same forger, so a refusal is the
verifier's doing and not a broken forger's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI
from jose import jwt as jose_jwt

from service.auth.tokens import InvalidToken, TokenService
from service.config import Settings
from tests.conftest import TEST_SECRET
from tests.factories import bearer, make_person, token_for

ME = "/api/v1/me"

# --- forging ---------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def hs_sign(signing_input: str, secret: str | bytes, digest: Any = hashlib.sha256) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return b64url(hmac.new(key, signing_input.encode(), digest).digest())


def forge(
    header: Any, payload: Any, *, secret: str | bytes = TEST_SECRET, digest: Any = hashlib.sha256
) -> str:
    """A compact JWS of exactly `header` and `payload`, HMAC-signed with `secret`."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    return f"{signing_input}.{hs_sign(signing_input, secret, digest)}"


def rs256(header: dict[str, Any], payload: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def own_header(app: FastAPI, **extra: Any) -> dict[str, Any]:
    return {"alg": "HS256", "typ": "JWT", "kid": app.state.tokens.own.kid, **extra}


def own_claims(app: FastAPI, person: Any, **changes: Any) -> dict[str, Any]:
    settings = app.state.settings
    now = int(time.time())
    claims = {
        "sub": str(person.id),
        "email": person.email,
        "role": person.role,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 300,
        **changes,
    }
    return {k: v for k, v in claims.items() if v is not DROP}


DROP: Any = object()  # a claim value meaning "leave this claim out"


# --- assertions ------------------------------------------------------------------------------


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401
    assert body["title"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
async def person(app: FastAPI):
    return await make_person(app, role="editor")


# --- positive controls -----------------------------------------------------------------------


async def test_minted_token_is_accepted(app, client, person):
    response = await client.get(ME, headers=bearer(token_for(app, person)))
    assert response.status_code == 200, response.text
    assert response.json()["email"] == person.email


async def test_forged_token_with_the_real_secret_is_accepted(app, client, person):
    """The forger itself is sound: every refusal below comes from the one thing changed."""
    token = forge(own_header(app), own_claims(app, person))
    response = await client.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(person.id)


async def test_token_without_kid_is_accepted(app, client, person):
    header = own_header(app)
    del header["kid"]
    response = await client.get(ME, headers=bearer(forge(header, own_claims(app, person))))
    assert response.status_code == 200, response.text


async def test_scheme_is_case_insensitive(app, client, person):
    response = await client.get(ME, headers={"Authorization": f"bearer {token_for(app, person)}"})
    assert response.status_code == 200, response.text


async def test_no_credentials_answers_a_bare_bearer_challenge(client):
    response = await client.get(ME)
    assert_401(response)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_bad_token_challenge_says_invalid_token(client):
    response = await client.get(ME, headers=bearer("a.b.c"))
    assert_401(response)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


# --- signature and algorithm -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(app, client, person, alg):
    claims = own_claims(app, person)
    unsigned = f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(claims)}."
    assert_401(await client.get(ME, headers=bearer(unsigned)))


async def test_alg_none_with_a_valid_signature_is_refused(app, client, person):
    claims = own_claims(app, person)
    signing_input = f"{b64json({'alg': 'none', 'kid': app.state.tokens.own.kid})}.{b64json(claims)}"
    token = f"{signing_input}.{hs_sign(signing_input, TEST_SECRET)}"
    assert_401(await client.get(ME, headers=bearer(token)))


async def test_hs256_signed_with_another_secret_is_refused(app, client, person):
    token = forge(own_header(app), own_claims(app, person), secret="another-secret-of-sufficient-length-000")
    assert_401(await client.get(ME, headers=bearer(token)))


@pytest.mark.parametrize(("alg", "digest"), [("HS384", hashlib.sha384), ("HS512", hashlib.sha512)])
async def test_other_hmac_algorithms_with_the_own_secret_are_refused(app, client, person, alg, digest):
    token = forge(own_header(app, alg=alg), own_claims(app, person), digest=digest)
    assert_401(await client.get(ME, headers=bearer(token)))


async def test_tampered_payload_is_refused(app, client, person):
    original = token_for(app, person)
    assert (await client.get(ME, headers=bearer(original))).status_code == 200
    header, payload, signature = original.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    tampered = f"{header}.{b64json(claims)}.{signature}"
    assert_401(await client.get(ME, headers=bearer(tampered)))


async def test_truncated_signature_is_refused(app, client, person):
    token = token_for(app, person, jti="truncated")
    assert_401(await client.get(ME, headers=bearer(token[:-4])))


async def test_rs256_token_when_the_server_expects_hs256_is_refused(app, client, person):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = rs256({"alg": "RS256", "typ": "JWT"}, own_claims(app, person), key)
    assert_401(await client.get(ME, headers=bearer(token)))
    kid_token = rs256(own_header(app, alg="RS256"), own_claims(app, person), key)
    assert_401(await client.get(ME, headers=bearer(kid_token)))


# --- claims ----------------------------------------------------------------------------------

NOW = int(time.time())
CLAIM_MUTATIONS: dict[str, Callable[[FastAPI], dict[str, Any]]] = {
    "missing exp": lambda app: {"exp": DROP},
    "exp null": lambda app: {"exp": None},
    "exp as string": lambda app: {"exp": "9999999999"},
    "exp as bool": lambda app: {"exp": True},
    "exp as list": lambda app: {"exp": [9999999999]},
    "exp as object": lambda app: {"exp": {"at": 9999999999}},
    "expired": lambda app: {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "expired beyond leeway": lambda app: {
        "exp": int(time.time()) - app.state.settings.jwt_leeway_seconds - 5
    },
    "iat as string": lambda app: {"iat": "0"},
    "iat null": lambda app: {"iat": None},
    "nbf in the future": lambda app: {"nbf": int(time.time()) + 3600},
    "nbf as string": lambda app: {"nbf": "0"},
    "missing aud": lambda app: {"aud": DROP},
    "aud null": lambda app: {"aud": None},
    "wrong aud": lambda app: {"aud": "someone-else"},
    "aud list without ours": lambda app: {"aud": ["someone-else", "another"]},
    "aud empty list": lambda app: {"aud": []},
    "aud as number": lambda app: {"aud": 1},
    "missing iss": lambda app: {"iss": DROP},
    "iss null": lambda app: {"iss": None},
    "wrong iss": lambda app: {"iss": "https://evil.example"},
    "iss as list": lambda app: {"iss": [app.state.settings.jwt_issuer]},
    "missing sub": lambda app: {"sub": DROP},
    "sub as number": lambda app: {"sub": 42},
    "sub not a uuid": lambda app: {"sub": "not-a-uuid"},
}


@pytest.mark.parametrize("case", list(CLAIM_MUTATIONS))
async def test_bad_claims_are_refused(app, client, person, case):
    token = forge(own_header(app), own_claims(app, person, **CLAIM_MUTATIONS[case](app)))
    assert_401(await client.get(ME, headers=bearer(token)))


async def test_aud_list_containing_ours_is_accepted(app, client, person):
    claims = own_claims(app, person, aud=["someone-else", app.state.settings.jwt_audience])
    response = await client.get(ME, headers=bearer(forge(own_header(app), claims)))
    assert response.status_code == 200, response.text


async def test_expired_within_leeway_is_still_accepted(app, client, person):
    """The leeway is real (30 s by default): the 'expired' refusals above are not a blanket one."""
    claims = own_claims(app, person, exp=int(time.time()) - 5)
    response = await client.get(ME, headers=bearer(forge(own_header(app), claims)))
    assert response.status_code == 200, response.text


# --- headers ---------------------------------------------------------------------------------


async def test_unknown_kid_on_an_own_token_is_refused(app, client, person):
    token = forge(own_header(app, kid="0123456789abcdef"), own_claims(app, person))
    assert_401(await client.get(ME, headers=bearer(token)))


@pytest.mark.parametrize("kid", [123, ["x"], {"k": "v"}, None])
async def test_malformed_kid_is_refused_or_ignored_safely(app, client, person, kid):
    header = own_header(app, kid=kid)
    response = await client.get(ME, headers=bearer(forge(header, own_claims(app, person))))
    if kid is None:  # an explicit null kid is the same as no kid
        assert response.status_code == 200, response.text
    else:
        assert_401(response)


REFUSED_HEADERS: dict[str, Any] = {
    "jku": "https://evil.example/jwks.json",
    "x5u": "https://evil.example/cert.pem",
    "jwk": {"kty": "oct", "k": b64url(TEST_SECRET.encode())},
    "x5c": ["MIIBszCCAVmgAwIBAgIUexample"],
    "crit": ["exp"],
}


@pytest.mark.parametrize("name", list(REFUSED_HEADERS))
async def test_key_naming_headers_are_refused_even_on_a_correctly_signed_token(app, client, person, name):
    token = forge(own_header(app, **{name: REFUSED_HEADERS[name]}), own_claims(app, person))
    assert_401(await client.get(ME, headers=bearer(token)))


@pytest.mark.parametrize("alg", [None, 256, ["HS256"], {"HS256": True}])
async def test_malformed_alg_is_refused(app, client, person, alg):
    header = own_header(app, alg=alg)
    if alg is None:
        del header["alg"]
    assert_401(await client.get(ME, headers=bearer(forge(header, own_claims(app, person)))))


# --- the Authorization header ----------------------------------------------------------------


async def test_oversized_authorization_header_is_refused(client):
    assert_401(await client.get(ME, headers={"Authorization": "Bearer " + "a" * (8 * 1024 + 1)}))


async def test_oversized_header_is_refused_even_around_a_valid_token(app, client, person):
    token = token_for(app, person)
    padded = "Bearer " + token + " " * (8 * 1024 + 10 - len(token))
    assert_401(await client.get(ME, headers={"Authorization": padded}))


@pytest.mark.parametrize("scheme", ["Basic", "Token", "JWT", "Bearer:", "Bearertoken"])
async def test_non_bearer_scheme_is_refused(app, client, person, scheme):
    token = token_for(app, person)
    separator = "" if scheme == "Bearertoken" else " "
    value = f"Bearer{token}" if scheme == "Bearertoken" else f"{scheme}{separator}{token}"
    assert_401(await client.get(ME, headers={"Authorization": value}))


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer    ", "", " "])
async def test_empty_bearer_token_is_refused(client, value):
    assert_401(await client.get(ME, headers={"Authorization": value}))


GARBAGE = {
    "one segment": "abcdef",
    "two segments": "abc.def",
    "four segments": "a.b.c.d",
    "empty segments": "..",
    "not base64": "!!!.@@@.###",
    "base64 of non-JSON": f"{b64url(b'not json')}.{b64url(b'also not json')}.{b64url(b'sig')}",
    "header is a JSON list": f"{b64json(['HS256'])}.{b64json({'sub': 'x'})}.{b64url(b'sig')}",
    "header is a JSON string": f"{b64json('HS256')}.{b64json({'sub': 'x'})}.{b64url(b'sig')}",
    "payload is a JSON list": f"{b64json({'alg': 'HS256'})}.{b64json([1, 2])}.{b64url(b'sig')}",
    "payload is a JSON number": f"{b64json({'alg': 'HS256'})}.{b64json(7)}.{b64url(b'sig')}",
    "payload not UTF-8": f"{b64json({'alg': 'HS256'})}.{b64url(bytes([0xFF, 0xFE, 0xFD]))}.{b64url(b's')}",
    "bad base64 padding": "eyJhbGciOiJIUzI1NiJ9=.eyJzdWIiOiJ4In0.c2ln",
    "latin-1 characters": "éé.éé.éé",
    "JSON header with bad padding length": "a.eyJ.c",
}


@pytest.mark.parametrize("name", list(GARBAGE))
async def test_garbage_tokens_are_refused(client, name):
    # Sent as raw bytes: httpx would refuse to encode the latin-1 case itself.
    value = f"Bearer {GARBAGE[name]}".encode("latin-1")
    assert_401(await client.get(ME, headers={"Authorization": value}))


# --- who the token names ---------------------------------------------------------------------


async def test_token_for_a_person_that_does_not_exist_is_refused(app, client, person):
    claims = own_claims(app, person, sub=str(uuid.uuid4()))
    assert_401(await client.get(ME, headers=bearer(forge(own_header(app), claims))))


async def test_token_of_a_deactivated_person_is_refused_even_after_being_used(app, client):
    person = await make_person(app, role="employee")
    admin = await make_person(app, role="admin")
    token = token_for(app, person)
    assert (await client.get(ME, headers=bearer(token))).status_code == 200  # verified and cached

    response = await client.patch(
        f"/api/v1/people/{person.id}", json={"active": False}, headers=bearer(token_for(app, admin))
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False

    assert_401(await client.get(ME, headers=bearer(token)))
    assert_401(await client.get("/api/v1/products", headers=bearer(token)))


@pytest.mark.parametrize("role", ["superuser", "ADMIN", "", None, ["admin"], {"admin": True}, 1, DROP])
async def test_invalid_role_claim_is_refused(app, client, person, role):
    token = forge(own_header(app), own_claims(app, person, role=role))
    assert_401(await client.get(ME, headers=bearer(token)))


async def test_graphql_refuses_a_bad_token_with_401(app, client, person):
    query = {"query": "{ me { email } }"}
    ok = await client.post("/graphql", json=query, headers=bearer(token_for(app, person)))
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["me"]["email"] == person.email
    forged = forge(own_header(app), own_claims(app, person), secret="another-secret-of-sufficient-length-000")
    assert_401(await client.post("/graphql", json=query, headers=bearer(forged)))


# --- TokenService directly -------------------------------------------------------------------


def _settings(tmp_path, **overrides: Any) -> Settings:
    return Settings(env="test", var_dir=tmp_path, jwt_secret=TEST_SECRET, log_level="WARNING", **overrides)


async def test_cached_token_is_refused_once_expired(tmp_path):
    tokens = TokenService(_settings(tmp_path, jwt_leeway_seconds=0))
    token, _ = tokens.mint({"sub": str(uuid.uuid4()), "role": "employee"}, ttl_seconds=1)
    verified = await tokens.verify(token)
    assert token in tokens._verified  # the second look would come from the cache
    exp = verified.claims["exp"]
    # python-jose compares whole seconds, so wait until both the cache and jose see it expired.
    await asyncio.sleep(max(0.0, exp + 1.05 - time.time()))
    with pytest.raises(InvalidToken):
        await tokens.verify(token)
    assert token not in tokens._verified


async def test_cache_hit_returns_the_verified_claims(tmp_path):
    tokens = TokenService(_settings(tmp_path))
    token, _ = tokens.mint({"sub": str(uuid.uuid4()), "role": "manager"})
    first = await tokens.verify(token)
    second = await tokens.verify(token)
    assert second is first
    assert first.issuer == "own" and first.claims["role"] == "manager"


async def test_overlong_token_is_refused_even_when_correctly_signed(tmp_path):
    tokens = TokenService(_settings(tmp_path))
    claims = {"sub": str(uuid.uuid4()), "role": "employee"}
    short, _ = tokens.mint(claims)
    assert (await tokens.verify(short)).claims["sub"] == claims["sub"]
    long, _ = tokens.mint({**claims, "pad": "x" * 8192})
    with pytest.raises(InvalidToken):
        await tokens.verify(long)


@pytest.fixture
def rsa_settings(tmp_path) -> Settings:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "own.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Settings(env="test", var_dir=tmp_path, jwt_private_key_file=path, log_level="WARNING")


async def test_rs256_own_key_mints_and_verifies(rsa_settings):
    tokens = TokenService(rsa_settings)
    token, _ = tokens.mint({"sub": str(uuid.uuid4()), "role": "employee"})
    assert jose_jwt.get_unverified_header(token)["alg"] == "RS256"
    assert (await tokens.verify(token)).claims["role"] == "employee"


async def test_hs256_signed_with_the_rs256_public_key_is_refused(rsa_settings):
    """Classic algorithm confusion: the public key used as an HMAC secret."""
    tokens = TokenService(rsa_settings)
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "admin",
        "iss": rsa_settings.jwt_issuer,
        "aud": rsa_settings.jwt_audience,
        "iat": now,
        "exp": now + 300,
    }
    public_pem = tokens.own.verifying_key.encode()
    for header in ({"alg": "HS256"}, {"alg": "HS256", "kid": tokens.own.kid}):
        with pytest.raises(InvalidToken):
            await tokens.verify(forge(header, claims, secret=public_pem))


async def test_hs256_token_is_refused_by_an_rs256_server(rsa_settings, tmp_path):
    hs_tokens = TokenService(_settings(tmp_path))
    token, _ = hs_tokens.mint({"sub": str(uuid.uuid4()), "role": "employee"})
    with pytest.raises(InvalidToken):
        await TokenService(rsa_settings).verify(token)
