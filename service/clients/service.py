"""Service accounts and the OAuth 2.0 client-credentials grant."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import OrderedDict, deque

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import select

from service.auth import cache as auth_cache
from service.auth.cache import MISS, AuthCache, StoredClient
from service.auth.principal import SCOPES, Principal, expand_scopes
from service.auth.tokens import TokenService
from service.clients.models import ServiceClient
from service.clients.schemas import ClientCreate, ClientCreated, TokenResponse
from service.db import commit_new, utcnow
from service.errors import (
    BadRequest,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    field_error,
)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_client(session: AsyncSession, principal: Principal, data: ClientCreate) -> ClientCreated:
    """Creates a service account and returns its secret, once."""
    if not (principal.is_operator or principal.has_role("admin")):
        raise Forbidden("Only admins create service accounts.")
    unknown = sorted(set(data.scopes) - set(SCOPES))
    if unknown:
        raise Invalid(
            f"Unknown scopes: {', '.join(unknown)}.",
            errors=[field_error("scopes", f"allowed: {', '.join(SCOPES)}")],
        )
    client_id = "cc_" + secrets.token_hex(12)
    secret = "ccs_" + secrets.token_urlsafe(32)
    client = ServiceClient(
        client_id=client_id, name=data.name, secret_hash=_hash_secret(secret), scopes=sorted(set(data.scopes))
    )
    session.add(client)
    await auth_cache.client_changed(session, client_id)  # a cached "no such client" goes
    await commit_new(session, client, "client id collision; try again")
    return ClientCreated(client_id=client_id, client_secret=secret, name=client.name, scopes=client.scopes)


def source_key(host: str | None) -> str:
    """The address a failure is counted against: the host, or its /64 for IPv6 (one machine
    commonly holds a whole /64, and would otherwise reset its count by changing address)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class FailureLimiter:
    """Failed client-secret attempts per (client id, source address): a sliding minute, per
    process, bounded. Counting per source means a stranger guessing at a client's secret locks
    out only their own address, never the integration calling from elsewhere."""

    MAX_KEYS = 10_000  # forged client ids and addresses must not grow memory without end

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def check(self, key: tuple[str, str]) -> None:
        window = self._failures.get(key)
        if not window:
            return
        now = time.monotonic()
        while window and now - window[0] > 60:
            window.popleft()
        if not window:
            del self._failures[key]
            return
        if len(window) >= self.per_minute:
            # Refused before the secret is compared: otherwise the limit would limit nothing.
            raise TooManyRequests(
                "Too many failed attempts for this client from this address.",
                retry_after=int(60 - (now - window[0])) + 1,
            )

    def fail(self, key: tuple[str, str]) -> None:
        self._failures.setdefault(key, deque()).append(time.monotonic())
        self._failures.move_to_end(key)
        while len(self._failures) > self.MAX_KEYS:
            self._failures.popitem(last=False)


async def issue_token(
    session: AsyncSession,
    *,
    tokens: TokenService,
    limiter: FailureLimiter,
    grant_type: str | None,
    client_id: str,
    client_secret: str,
    scope: str | None,
    ttl_seconds: int,
    source: str | None,
) -> TokenResponse:
    """Exchanges client credentials for a short-lived bearer token (RFC 6749 §4.4)."""
    if not grant_type:
        raise BadRequest("grant_type is required.", error="invalid_request")
    if grant_type != "client_credentials":
        raise BadRequest("Only grant_type=client_credentials is supported.", error="unsupported_grant_type")
    attempt = (client_id, source_key(source))
    limiter.check(attempt)
    client = await _get_client(session, client_id)
    # Compare against a dummy hash when the client is unknown: same work, no timing oracle.
    expected = client.secret_hash if client else _hash_secret("no-such-client")
    if not hmac.compare_digest(expected, _hash_secret(client_secret)) or client is None or not client.active:
        limiter.fail(attempt)
        raise Unauthenticated("invalid client credentials", error="invalid_client")
    granted = set(client.scopes)
    if scope:
        requested = set(scope.split())
        if not requested <= granted:
            raise BadRequest("Requested scope exceeds the client's scopes.", error="invalid_scope")
        granted = requested
    client.last_used_at = utcnow()
    await session.commit()
    scope_text = " ".join(sorted(granted))
    token, expires_in = tokens.mint(
        {"sub": f"client:{client.client_id}", "client_id": client.client_id, "scope": scope_text}, ttl_seconds
    )
    return TokenResponse(access_token=token, expires_in=expires_in, scope=scope_text)


async def service_principal(
    sessions: async_sessionmaker[AsyncSession], principal: Principal, *, cache: AuthCache
) -> Principal:
    """Checks a service token's client against its stored record: a deactivated or deleted client's
    tokens stop working at once, and scopes taken from the client since leave its tokens too.
    Opens a session only when the cache does not know the client."""
    client_id = principal.client_id or ""
    stored = cache.client(client_id)
    if stored is MISS:
        generation = cache.generation
        async with sessions() as session:
            client = await _get_client(session, client_id)
        stored = StoredClient(client.client_id, client.active, frozenset(client.scopes)) if client else None
        cache.put_client(client_id, stored, generation)
    if not isinstance(stored, StoredClient) or not stored.active:
        raise Unauthenticated("unknown or deactivated client")
    return dataclasses.replace(principal, scopes=principal.scopes & expand_scopes(stored.scopes))


async def _get_client(session: AsyncSession, client_id: str) -> ServiceClient | None:
    stmt = select(ServiceClient).where(ServiceClient.client_id == client_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def _check_can_manage(principal: Principal) -> None:
    if not (principal.is_operator or principal.has_role("admin")):
        raise Forbidden("Only admins manage service accounts.")


async def set_client_active(
    session: AsyncSession, principal: Principal, client_id: str, *, active: bool
) -> None:
    """Deactivates (or reactivates) a service account; its issued tokens follow on every replica."""
    _check_can_manage(principal)
    client = await _get_client(session, client_id)
    if client is None:
        raise NotFound("No such service account.")
    client.active = active
    client.revision += 1
    client.updated_at = utcnow()
    await auth_cache.client_changed(session, client_id)
    await session.commit()


async def delete_client(session: AsyncSession, principal: Principal, client_id: str) -> None:
    """Deletes a service account; its issued tokens stop working on every replica."""
    _check_can_manage(principal)
    client = await _get_client(session, client_id)
    if client is None:
        raise NotFound("No such service account.")
    await session.delete(client)
    await auth_cache.client_changed(session, client_id)
    await session.commit()
