"""Service accounts and the OAuth 2.0 client-credentials grant."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from service.auth.principal import SCOPES, Principal
from service.auth.tokens import TokenService
from service.clients.models import ServiceClient
from service.clients.schemas import ClientCreate, ClientCreated, TokenResponse
from service.db import commit_new, utcnow
from service.errors import BadRequest, Forbidden, Invalid, TooManyRequests, Unauthenticated, field_error


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
    await commit_new(session, client, "client id collision; try again")
    return ClientCreated(client_id=client_id, client_secret=secret, name=client.name, scopes=client.scopes)


class FailureLimiter:
    """Failed client-secret attempts per client id: a sliding minute, per process, bounded."""

    MAX_KEYS = 10_000  # forged client ids must not grow memory without end

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, key: str) -> None:
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
            raise TooManyRequests(
                "Too many failed attempts for this client.", retry_after=int(60 - (now - window[0])) + 1
            )

    def fail(self, key: str) -> None:
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
) -> TokenResponse:
    """Exchanges client credentials for a short-lived bearer token (RFC 6749 §4.4)."""
    if not grant_type:
        raise BadRequest("grant_type is required.", error="invalid_request")
    if grant_type != "client_credentials":
        raise BadRequest("Only grant_type=client_credentials is supported.", error="unsupported_grant_type")
    limiter.check(client_id)
    client = (
        await session.execute(select(ServiceClient).where(ServiceClient.client_id == client_id))
    ).scalar_one_or_none()
    # Compare against a dummy hash when the client is unknown: same work, no timing oracle.
    expected = client.secret_hash if client else _hash_secret("no-such-client")
    if not hmac.compare_digest(expected, _hash_secret(client_secret)) or client is None or not client.active:
        limiter.fail(client_id)
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
