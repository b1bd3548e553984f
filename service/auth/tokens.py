"""JWT minting and verification: the only module that imports python-jose.

python-jose is permissive by default (it accepts `alg: none` if asked, ignores `kid`, and
raises TypeError on a null `exp`), so every claim and header is checked here before and
after the signature check, and any failure becomes `InvalidToken`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import httpx
from cryptography.hazmat.primitives import serialization
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError

from service.auth.principal import Principal
from service.config import Settings

# python-jose has no PS* (RSASSA-PSS) support, so only what it can verify is allowed.
OIDC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"})
# Headers that ask the verifier to fetch or trust key material named by the token itself.
REFUSED_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
MAX_TOKEN_CHARS = 8 * 1024


class InvalidToken(Exception):
    """The token is not one this service accepts; the message is safe to show."""


@dataclass(frozen=True)
class VerifiedToken:
    issuer: Literal["own", "oidc"]
    claims: dict[str, Any]

    @cached_property
    def service(self) -> Principal | None:
        """The service account an own token names (None for people's and OIDC tokens), built
        once per verified token: verified tokens are cached, and a CRM sends the same one."""
        return Principal.for_service(self.claims) if self.issuer == "own" else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_claim_types(claims: dict[str, Any]) -> None:
    for name in ("exp", "iat", "nbf"):
        if name in claims and not _is_number(claims[name]):
            raise InvalidToken(f"claim '{name}' must be a number")
    if not _is_number(claims.get("exp")):
        raise InvalidToken("claim 'exp' is required")
    aud = claims.get("aud")
    if not (isinstance(aud, str) or (isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud))):
        raise InvalidToken("claim 'aud' is required")
    if not isinstance(claims.get("iss"), str):
        raise InvalidToken("claim 'iss' is required")
    if "sub" in claims and not isinstance(claims["sub"], str):
        raise InvalidToken("claim 'sub' must be a string")


class OwnKey:
    """The service's own signing key: an HS256 secret, or an RS256 private key file."""

    def __init__(self, settings: Settings) -> None:
        if settings.jwt_private_key_file:
            pem = settings.jwt_private_key_file.read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            public = private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            self.algorithm = "RS256"
            self.signing_key: str = pem.decode()
            self.verifying_key: str = public.decode()
            fingerprint_source = public
        else:
            secret = settings.own_hs256_secret()
            self.algorithm = "HS256"
            self.signing_key = self.verifying_key = secret
            fingerprint_source = secret.encode()
        # A kid that names the key without revealing it: rotation-ready, and a token
        # naming any other kid is refused.
        self.kid = hashlib.sha256(b"cuecard-kid:" + fingerprint_source).hexdigest()[:16]


class JwksCache:
    """The identity provider's public keys by `kid`, refreshed at most once a minute on a miss."""

    MIN_REFRESH_SECONDS = 60.0
    FAILURE_BACKOFF_SECONDS = 5.0

    def __init__(self, url: str, ttl_seconds: int) -> None:
        self.url = url
        self.ttl = ttl_seconds
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0
        self._failed_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> dict[str, Any] | None:
        if self._should_refresh(kid):
            async with self._lock:
                if self._should_refresh(kid):
                    await self._refresh()
        return self._keys.get(kid)

    def _should_refresh(self, kid: str) -> bool:
        now = time.monotonic()
        if now - self._failed_at < self.FAILURE_BACKOFF_SECONDS:
            return False  # the provider just failed us: don't hit it on every request
        if not self._fetched_at or now - self._fetched_at > self.ttl:
            return True
        # An unknown kid may mean the provider rotated keys; refetch, but not on every
        # forged kid (that would let anyone make us hammer the provider).
        return kid not in self._keys and now - self._fetched_at > self.MIN_REFRESH_SECONDS

    async def _refresh(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self._failed_at = time.monotonic()
            if self._keys:
                return  # keep verifying with the keys we have until the provider is back
            raise InvalidToken("the identity provider's keys could not be fetched") from exc
        keys = document.get("keys") if isinstance(document, dict) else None
        if isinstance(keys, list):
            self._keys = {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}
        self._fetched_at = time.monotonic()


class TokenService:
    """Mints own tokens and verifies own and OIDC tokens, with a small cache of verified ones."""

    CACHE_SIZE = 10_000

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.own = OwnKey(settings)
        self.jwks = (
            JwksCache(settings.oidc_jwks_url, settings.oidc_jwks_cache_seconds)
            if settings.oidc_issuer and settings.oidc_jwks_url
            else None
        )
        # Verified tokens by their exact text: a repeat caller (a CRM polling the pitch)
        # does not pay for the signature again; expiry is still checked on every hit.
        self._verified: OrderedDict[str, VerifiedToken] = OrderedDict()

    def mint(self, claims: dict[str, Any], ttl_seconds: int | None = None) -> tuple[str, int]:
        """Sign `claims` with the own key; returns the token and its lifetime in seconds."""
        ttl = ttl_seconds or self.settings.access_token_ttl_seconds
        now = int(time.time())
        payload = {
            **claims,
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "iat": now,
            "exp": now + ttl,
        }
        token = jwt.encode(
            payload, self.own.signing_key, algorithm=self.own.algorithm, headers={"kid": self.own.kid}
        )
        return token, ttl

    def verified(self, token: str) -> VerifiedToken | None:
        """The token as verified before, while it has not expired; None when it must be verified
        (a plain call: the hot read path checks its caller without a coroutine)."""
        cached = self._verified.get(token)
        if cached is not None:
            if cached.claims["exp"] + self.settings.jwt_leeway_seconds > time.time():
                self._verified.move_to_end(token)
                return cached
            self._verified.pop(token, None)
        return None

    async def verify(self, token: str) -> VerifiedToken:
        cached = self.verified(token)
        if cached is not None:
            return cached
        verified = await self._verify_uncached(token)
        self._verified[token] = verified
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return verified

    async def _verify_uncached(self, token: str) -> VerifiedToken:
        if len(token) > MAX_TOKEN_CHARS or not _JWT_SHAPE.match(token):
            raise InvalidToken("malformed token")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.get_unverified_claims(token)
        except Exception as exc:
            raise InvalidToken("malformed token") from exc
        if not isinstance(header, dict) or not isinstance(unverified, dict):
            raise InvalidToken("malformed token")
        if REFUSED_HEADERS & header.keys():
            raise InvalidToken("token headers jku, x5u, jwk, x5c and crit are refused")
        alg = header.get("alg")
        if not isinstance(alg, str):  # a list or object here would be unhashable below
            raise InvalidToken("malformed alg")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("malformed kid")
        _check_claim_types(unverified)

        issuer = unverified["iss"]
        if issuer == self.settings.jwt_issuer:
            kind: Literal["own", "oidc"] = "own"
            if alg != self.own.algorithm:
                raise InvalidToken("algorithm not allowed")
            if kid is not None and kid != self.own.kid:
                raise InvalidToken("unknown key id")
            key: Any = self.own.verifying_key
            audience: str | None = self.settings.jwt_audience
        elif self.jwks is not None and issuer == self.settings.oidc_issuer:
            kind = "oidc"
            if alg not in OIDC_ALGORITHMS:
                raise InvalidToken("algorithm not allowed")
            if kid is None:
                raise InvalidToken("token has no key id")
            jwk_dict = await self.jwks.key(kid)
            if jwk_dict is None:
                raise InvalidToken("unknown key id")
            if jwk_dict.get("alg") not in (None, alg):
                raise InvalidToken("algorithm does not match the key")
            try:
                key = jwk.construct(jwk_dict, algorithm=alg)
            except Exception as exc:
                raise InvalidToken("unusable key") from exc
            audience = self.settings.oidc_audience
        else:
            raise InvalidToken("unknown issuer")

        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer,
                options={
                    "require_exp": True,
                    "require_aud": True,
                    "require_iss": True,
                    "require_iat": True,
                    "require_sub": True,
                    "leeway": self.settings.jwt_leeway_seconds,
                },
            )
        except ExpiredSignatureError as exc:
            # jose checks `exp` only after the signature, so this tells nothing to a forger;
            # the caller learns to fetch a new token rather than to suspect its key.
            raise InvalidToken("token expired") from exc
        except Exception as exc:  # jose raises several types, and TypeError on odd claims
            raise InvalidToken("token signature or claims are not valid") from exc
        return VerifiedToken(issuer=kind, claims=claims)
