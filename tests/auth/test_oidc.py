"""Tokens from an external OpenID Connect identity provider, verified against a real JWKS
served over HTTP on 127.0.0.1 by a thread in this process."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fastapi import FastAPI

from service.config import Settings
from service.main import create_app
from tests.conftest import TEST_SECRET
from tests.factories import bearer, make_person, token_for

ISSUER = "https://idp.test"
AUDIENCE = "cuecard"
ROLE_MAP = "cuecard-editor=editor,cuecard-admin=admin,cuecard-manager=manager,cuecard-root=root"
ME = "/api/v1/me"

# --- keys and signing ------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def _uint(value: int, length: int | None = None) -> str:
    return b64url(value.to_bytes(length or (value.bit_length() + 7) // 8, "big"))


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str, alg: str | None = "RS256") -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": kid, "use": "sig", "n": _uint(numbers.n), "e": _uint(numbers.e)}
    if alg:
        jwk["alg"] = alg
    return jwk


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "kid": kid,
        "crv": "P-256",
        "alg": "ES256",
        "x": _uint(numbers.x, 32),
        "y": _uint(numbers.y, 32),
    }


def sign(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
    signing_input = f"{b64json(header)}.{b64json(claims)}".encode()
    alg = header["alg"]
    if alg == "RS256":
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "RS384":
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA384())
    elif alg == "ES256":
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == "HS256":
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    else:  # pragma: no cover - test misuse
        raise AssertionError(alg)
    return f"{signing_input.decode()}.{b64url(signature)}"


class IdP:
    """Two RSA keys and one EC key published in the JWKS; one rogue key that is not."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa_no_alg = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks = {
            "keys": [
                rsa_jwk(self.rsa, "rsa-1"),
                rsa_jwk(self.rsa_no_alg, "rsa-2", alg=None),
                ec_jwk(self.ec, "ec-1"),
                {"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64url(TEST_SECRET.encode())},
            ]
        }
        self.fetches = 0
        self.url = ""

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"idp|{uuid.uuid4().hex}",
            "email": f"idp-{uuid.uuid4().hex[:10]}@example.com",
            "name": "佐藤 花子",
            "iat": now,
            "exp": now + 300,
            **changes,
        }
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str = "rsa-1", key: Any = None, alg: str = "RS256", **changes: Any) -> str:
        return sign({"alg": alg, "typ": "JWT", "kid": kid}, self.claims(**changes), key or self.rsa)


@pytest.fixture(scope="module")
def idp() -> Iterator[IdP]:
    provider = IdP()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            provider.fetches += 1
            body = json.dumps(provider.jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
async def oidc_app(
    database_url: str, idp: IdP, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    settings = Settings(
        env="test",
        database_url=database_url,
        var_dir=tmp_path_factory.mktemp("oidc-var"),
        jwt_secret=TEST_SECRET,
        log_level="WARNING",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=idp.url,
        oidc_role_map=ROLE_MAP,
    )
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def oidc(oidc_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=oidc_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def effective_role_is_admin(http: httpx.AsyncClient, token: str) -> bool:
    """Whether the token's principal may create a product (admins only)."""
    response = await http.post(
        "/api/v1/products", json={"key": f"p-{uuid.uuid4().hex[:8]}", "name": "Probe"}, headers=bearer(token)
    )
    assert response.status_code in (201, 403), response.text
    return response.status_code == 201


# --- accepted --------------------------------------------------------------------------------


async def test_valid_idp_token_is_accepted_and_provisions_the_person(oidc, idp):
    claims = idp.claims()
    token = sign({"alg": "RS256", "kid": "rsa-1"}, claims, idp.rsa)
    response = await oidc.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["email"] == claims["email"]
    assert me["display_name"] == claims["name"]
    assert me["role"] == "employee"
    again = await oidc.get(ME, headers=bearer(idp.token(email=claims["email"], sub=claims["sub"])))
    assert again.status_code == 200 and again.json()["id"] == me["id"]  # found, not provisioned twice


async def test_mixed_case_email_finds_the_same_person(oidc, idp):
    email = f"Mixed.{uuid.uuid4().hex[:8]}@Example.COM"
    sub = f"idp|{uuid.uuid4().hex}"
    first = await oidc.get(ME, headers=bearer(idp.token(email=email, sub=sub)))
    assert first.status_code == 200, first.text
    assert first.json()["email"] == email.lower()
    second = await oidc.get(ME, headers=bearer(idp.token(email=email.lower(), sub=sub)))
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first.json()["id"]


async def test_idp_token_for_an_existing_person_signs_them_in(oidc, oidc_app, idp):
    person = await make_person(oidc_app, role="manager")
    response = await oidc.get(ME, headers=bearer(idp.token(email=person.email)))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(person.id)


async def test_key_without_alg_and_ec_key_are_usable(oidc, idp):
    assert (await oidc.get(ME, headers=bearer(idp.token(kid="rsa-2", key=idp.rsa_no_alg)))).status_code == 200
    ec_token = idp.token(kid="ec-1", key=idp.ec, alg="ES256")
    assert (await oidc.get(ME, headers=bearer(ec_token))).status_code == 200


async def test_own_issuer_still_works_on_the_oidc_app(oidc, oidc_app):
    person = await make_person(oidc_app, role="admin")
    token = token_for(oidc_app, person)
    response = await oidc.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["email"] == person.email
    assert await effective_role_is_admin(oidc, token)


async def test_deactivated_idp_person_is_refused_not_reprovisioned(oidc, oidc_app, idp):
    person = await make_person(oidc_app, role="employee")
    token = idp.token(email=person.email)
    assert (await oidc.get(ME, headers=bearer(token))).status_code == 200
    admin = token_for(oidc_app, await make_person(oidc_app, role="admin"))
    patched = await oidc.patch(f"/api/v1/people/{person.id}", json={"active": False}, headers=bearer(admin))
    assert patched.status_code == 200, patched.text
    assert_401(await oidc.get(ME, headers=bearer(token)))
    assert_401(await oidc.get(ME, headers=bearer(idp.token(email=person.email))))


# --- role mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ("cuecard-editor", "editor"),
        ("cuecard-admin", "admin"),
        (["cuecard-manager"], "manager"),
        (["cuecard-editor"], "editor"),
        (["other", "cuecard-editor", "cuecard-admin"], "admin"),
        (["cuecard-admin", "cuecard-editor"], "admin"),
        (["cuecard-manager", "cuecard-editor", "x"], "editor"),
        (["unmapped"], "employee"),
        ("unmapped", "employee"),
        ("editor", "employee"),  # a CueCard role name is not an IdP value unless mapped
        ("cuecard-root", "employee"),  # mapped to something that is not a role
        ([], "employee"),
        (None, "employee"),
        (42, "employee"),
        ([{"cuecard-admin": True}, 7], "employee"),
    ],
)
async def test_role_claim_mapping(oidc, idp, roles, expected):
    token = idp.token(roles=roles)
    response = await oidc.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["role"] == expected  # provisioned with the mapped role
    assert await effective_role_is_admin(oidc, token) is (expected == "admin")


# --- refused ---------------------------------------------------------------------------------


async def test_unknown_kid_is_refused_without_hammering_the_idp(oidc, idp):
    assert (await oidc.get(ME, headers=bearer(idp.token()))).status_code == 200  # keys fetched
    before = idp.fetches
    for i in range(5):
        assert_401(await oidc.get(ME, headers=bearer(idp.token(kid=f"forged-{i}"))))
    assert idp.fetches == before


async def test_token_signed_by_a_key_not_in_the_jwks_is_refused(oidc, idp):
    assert_401(await oidc.get(ME, headers=bearer(idp.token(kid="rsa-1", key=idp.rogue))))
    assert_401(await oidc.get(ME, headers=bearer(idp.token(kid="rsa-2", key=idp.rogue))))


async def test_key_of_another_kid_is_refused(oidc, idp):
    assert_401(await oidc.get(ME, headers=bearer(idp.token(kid="rsa-2", key=idp.rsa))))


async def test_hs256_with_the_idp_issuer_is_refused(oidc, oidc_app, idp):
    """No symmetric algorithms for OIDC: not with the own secret, nor with the public key."""
    public_pem = idp.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for kid, secret in [
        ("rsa-1", TEST_SECRET.encode()),
        ("rsa-1", public_pem),
        ("oct-1", TEST_SECRET.encode()),
        (oidc_app.state.tokens.own.kid, TEST_SECRET.encode()),
    ]:
        assert_401(await oidc.get(ME, headers=bearer(idp.token(kid=kid, key=secret, alg="HS256"))))


async def test_alg_not_matching_the_keys_alg_is_refused(oidc, idp):
    assert_401(await oidc.get(ME, headers=bearer(idp.token(kid="ec-1", key=idp.rsa, alg="RS256"))))


async def test_alg_other_than_the_one_the_jwk_names_is_refused(oidc, idp):
    """rsa-1 is published for RS256 only; rsa-2 names no alg, so RS384 with it is fine."""
    rs384_unpinned = idp.token(kid="rsa-2", key=idp.rsa_no_alg, alg="RS384")
    assert (await oidc.get(ME, headers=bearer(rs384_unpinned))).status_code == 200
    assert_401(await oidc.get(ME, headers=bearer(idp.token(kid="rsa-1", key=idp.rsa, alg="RS384"))))


@pytest.mark.parametrize("alg", ["none", ["RS256"], {"RS256": 1}, None, 256])
async def test_malformed_alg_is_refused(oidc, idp, alg):
    header = {"alg": alg, "kid": "rsa-1"}
    if alg is None:
        del header["alg"]
    signing_input = f"{b64json(header)}.{b64json(idp.claims())}"
    signature = idp.rsa.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert_401(await oidc.get(ME, headers=bearer(f"{signing_input}.{b64url(signature)}")))


async def test_idp_token_without_kid_is_refused(oidc, idp):
    token = sign({"alg": "RS256", "typ": "JWT"}, idp.claims(), idp.rsa)
    assert_401(await oidc.get(ME, headers=bearer(token)))


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "cuecard-api"},  # the own audience is not the IdP's
        {"aud": "someone-else"},
        {"exp": int(time.time()) - 3600},
        {"iss": "https://other-idp.test"},
        {"iss": ISSUER + "/"},
        {"email": "not-an-email"},
        {"email": ["a@example.com"]},
    ],
)
async def test_bad_idp_claims_are_refused(oidc, idp, changes):
    assert_401(await oidc.get(ME, headers=bearer(idp.token(**changes))))


@pytest.mark.parametrize("claim", ["exp", "aud", "email", "sub"])
async def test_missing_idp_claims_are_refused(oidc, idp, claim):
    claims = idp.claims()
    del claims[claim]
    assert_401(await oidc.get(ME, headers=bearer(sign({"alg": "RS256", "kid": "rsa-1"}, claims, idp.rsa))))


async def test_rs256_token_with_the_own_issuer_signed_by_the_idp_key_is_refused(oidc, oidc_app, idp):
    person = await make_person(oidc_app)
    settings = oidc_app.state.settings
    claims = idp.claims(
        iss=settings.jwt_issuer,
        aud=settings.jwt_audience,
        sub=str(person.id),
        role="admin",
        email=person.email,
    )
    assert_401(await oidc.get(ME, headers=bearer(sign({"alg": "RS256", "kid": "rsa-1"}, claims, idp.rsa))))


async def test_idp_token_on_an_app_without_oidc_is_refused(client, idp):
    assert_401(await client.get(ME, headers=bearer(idp.token())))


# --- e-mail verification and subject binding (finding 8) -------------------------------------


@pytest.mark.parametrize("flag", [False, "false", None, "no", 0])
async def test_an_email_the_idp_has_not_verified_is_refused(oidc, oidc_app, idp, flag):
    """Someone who registers a colleague's address at the provider without proving it."""
    victim = await make_person(oidc_app, role="admin")
    claims = idp.claims(email=victim.email)
    claims["email_verified"] = flag
    assert_401(await oidc.get(ME, headers=bearer(sign({"alg": "RS256", "kid": "rsa-1"}, claims, idp.rsa))))
    # Nor is anyone provisioned from an unverified address.
    stranger = idp.claims(email_verified=False)
    assert_401(await oidc.get(ME, headers=bearer(sign({"alg": "RS256", "kid": "rsa-1"}, stranger, idp.rsa))))


@pytest.mark.parametrize("flag", [True, "true"])
async def test_a_verified_email_is_accepted(oidc, idp, flag):
    assert (await oidc.get(ME, headers=bearer(idp.token(email_verified=flag)))).status_code == 200


async def test_a_person_is_bound_to_the_first_subject_that_signs_in(oidc, oidc_app, idp):
    person = await make_person(oidc_app, role="editor")  # made by HR: not bound yet
    first = await oidc.get(ME, headers=bearer(idp.token(email=person.email, sub="idp|real")))
    assert first.status_code == 200, first.text
    # The same address at another account of the provider (reassigned, or spoofed) is refused,
    # also once the first sign-in is cached.
    assert_401(await oidc.get(ME, headers=bearer(idp.token(email=person.email, sub="idp|other"))))
    again = await oidc.get(ME, headers=bearer(idp.token(email=person.email, sub="idp|real")))
    assert again.status_code == 200 and again.json()["id"] == str(person.id)


async def test_a_provisioned_person_is_bound_to_their_subject(oidc, idp):
    claims = idp.claims()
    assert (await oidc.get(ME, headers=bearer(idp.token(**claims)))).status_code == 200
    assert_401(await oidc.get(ME, headers=bearer(idp.token(email=claims["email"]))))  # another sub


async def test_one_subject_cannot_take_a_second_person(oidc, oidc_app, idp):
    """A bound provider account that now shows another e-mail does not become that person."""
    first, second = await make_person(oidc_app), await make_person(oidc_app)
    assert (
        await oidc.get(ME, headers=bearer(idp.token(email=first.email, sub="idp|one")))
    ).status_code == 200
    assert_401(await oidc.get(ME, headers=bearer(idp.token(email=second.email, sub="idp|one"))))
    assert_401(await oidc.get(ME, headers=bearer(idp.token(email="new-" + second.email, sub="idp|one"))))


# --- the IdP's role is recorded; without the claim the stored role decides (finding 5) -------


async def test_the_idps_role_is_recorded_as_the_stored_role(oidc, oidc_app, idp):
    person = await make_person(oidc_app, role="employee")
    sub = f"idp|{uuid.uuid4().hex}"
    promoted = idp.token(email=person.email, sub=sub, roles="cuecard-admin")
    assert await effective_role_is_admin(oidc, promoted)
    # Recorded: the person's own-issuer token and a claim-less IdP token act as admin too.
    assert await effective_role_is_admin(oidc, token_for(oidc_app, person))
    assert await effective_role_is_admin(oidc, idp.token(email=person.email, sub=sub))
    # The provider takes the role away: recorded at the next sign-in, every token follows.
    assert not await effective_role_is_admin(oidc, idp.token(email=person.email, sub=sub, roles=[]))
    assert not await effective_role_is_admin(oidc, token_for(oidc_app, person, role="admin"))


async def test_without_the_role_claim_an_idp_token_acts_with_the_stored_role(oidc, oidc_app, idp):
    admin = bearer(token_for(oidc_app, await make_person(oidc_app, role="admin")))
    person = await make_person(oidc_app, role="admin")
    sub = f"idp|{uuid.uuid4().hex}"
    token = idp.token(email=person.email, sub=sub)
    assert await effective_role_is_admin(oidc, token)
    patched = await oidc.patch(f"/api/v1/people/{person.id}", json={"role": "employee"}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert not await effective_role_is_admin(oidc, token)  # the same token, at once
