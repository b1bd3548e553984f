"""Service accounts, their long-lived API tokens, and the OAuth 2.0 client-credentials grant."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
import uuid
from collections import OrderedDict, deque
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from service.auth import cache as auth_cache
from service.auth.cache import MISS, AuthCache, StoredApiToken, StoredClient
from service.auth.principal import SCOPES, Principal, expand_scopes
from service.auth.tokens import TokenService
from service.clients.models import ApiToken, ServiceClient
from service.clients.schemas import (
    DEFAULT_OVERLAP_SECONDS,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenRead,
    ClientCreate,
    ClientCreated,
    ClientRead,
    ClientSecretRotated,
    ClientUpdate,
    TokenResponse,
)
from service.concurrency import check_if_match, etag
from service.db import add_new, transactional, use_case, utcnow
from service.errors import (
    BadRequest,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    field_error,
)
from service.logging import get_logger
from service.pagination import Page, PageParams, fetch_page

log = get_logger("cuecard.clients")

# API tokens: `cca_` and 256 random bits (43 URL-safe characters). The prefix lets the bearer
# check route them without trying them as JWTs, and lets secret scanners recognise a leak.
API_TOKEN_PREFIX = "cca_"  # noqa: S105 (a format, not a secret)
_API_TOKEN_SHAPE = re.compile(r"cca_[A-Za-z0-9_-]{43}")
_TOKEN_PREFIX_CHARS = 12  # what listings show of a token: the prefix and 8 of 43 random characters
UNKNOWN_API_TOKEN = "unknown or revoked API token"  # noqa: S105 (a message)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return "ccs_" + secrets.token_urlsafe(32)


def _new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def is_api_token(bearer: str) -> bool:
    """Whether a bearer token is (meant as) an API token rather than a JWT."""
    return bearer.startswith(API_TOKEN_PREFIX)


def _check_scopes(scopes: list[str], field: str = "scopes") -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise Invalid(
            f"Unknown scopes: {', '.join(unknown)}.",
            errors=[field_error(field, f"allowed: {', '.join(SCOPES)}")],
        )
    return sorted(set(scopes))


def _client_read(client: ServiceClient) -> ClientRead:
    return ClientRead.model_validate(client)


def _token_read(token: ApiToken, client_id: str) -> ApiTokenRead:
    return ApiTokenRead(
        id=token.id,
        client_id=client_id,
        name=token.name,
        token_prefix=token.token_prefix,
        scopes=token.scopes,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        created_at=token.created_at,
    )


def _new_token_row(
    client: ServiceClient, scopes: list[str], *, name: str | None = None, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    token = _new_api_token()
    row = ApiToken(
        service_client_id=client.id,
        token_hash=_hash_secret(token),
        token_prefix=token[:_TOKEN_PREFIX_CHARS],
        scopes=scopes,
        name=name,
        expires_at=expires_at,
    )
    return row, token


@transactional
async def create_client(session: AsyncSession, principal: Principal, data: ClientCreate) -> ClientCreated:
    """Creates a service account and returns its secret (and an API token if asked), once."""
    _check_can_manage(principal)
    scopes = _check_scopes(data.scopes)
    client_id = "cc_" + secrets.token_hex(12)
    secret = _new_secret()
    client = ServiceClient(
        client_id=client_id, name=data.name, secret_hash=_hash_secret(secret), scopes=scopes
    )
    session.add(client)
    extra: dict[str, object] = {}
    if data.api_token:
        await session.flush()  # the client's row first: the token refers to it (no ORM relationship)
        row, token = _new_token_row(client, scopes)
        session.add(row)
        extra = {"api_token": token, "api_token_id": row.id}
    await auth_cache.client_changed(session, client_id)  # a cached "no such client" goes
    await add_new(session, client, "client id collision; try again")
    # Built field by field so that `api_token` is "set" only when asked for (exclude_unset).
    return ClientCreated(**_client_read(client).model_dump(), client_secret=secret, **extra)


async def list_clients(session: AsyncSession, principal: Principal, params: PageParams) -> Page[ClientRead]:
    """Lists service accounts, oldest first."""
    _check_can_manage(principal)
    page = await fetch_page(session, select(ServiceClient), ServiceClient, params)
    return Page(items=[_client_read(c) for c in page.rows], next_cursor=page.next_cursor)


async def get_client(session: AsyncSession, principal: Principal, client_id: str) -> ClientRead:
    """Gets a service account by its client_id."""
    _check_can_manage(principal)
    return _client_read(await _require_client(session, client_id))


@transactional
async def update_client(
    session: AsyncSession, principal: Principal, client_id: str, data: ClientUpdate, *, if_match: str | None
) -> ClientRead:
    """Renames, re-scopes, deactivates or reactivates a service account; honours If-Match.
    Its issued tokens follow at once, on every replica."""
    _check_can_manage(principal)
    client = await _require_client(session, client_id)
    check_if_match(if_match, etag(client.revision), required=False)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "scopes", "active"):
        if required in changes and changes[required] is None:
            raise Invalid(f"{required} cannot be null.", errors=[field_error(required, "cannot be null")])
    if "scopes" in changes:
        changes["scopes"] = _check_scopes(changes["scopes"])
    for name, value in changes.items():
        setattr(client, name, value)
    client.revision += 1
    client.updated_at = utcnow()
    await auth_cache.client_changed(session, client_id)
    return _client_read(client)


@transactional
async def rotate_client_secret(
    session: AsyncSession, principal: Principal, client_id: str
) -> ClientSecretRotated:
    """Replaces a service account's secret (shown once); the old one stops obtaining tokens."""
    _check_can_manage(principal)
    client = await _require_client(session, client_id)
    secret = _new_secret()
    client.secret_hash = _hash_secret(secret)
    client.revision += 1
    client.updated_at = utcnow()
    await auth_cache.client_changed(session, client_id)
    return ClientSecretRotated(client_id=client_id, client_secret=secret)


async def list_api_tokens(
    session: AsyncSession, principal: Principal, client_id: str, params: PageParams
) -> Page[ApiTokenRead]:
    """Lists a service account's API tokens, oldest first (never the tokens themselves)."""
    _check_can_manage(principal)
    client = await _require_client(session, client_id)
    stmt = select(ApiToken).where(ApiToken.service_client_id == client.id)
    page = await fetch_page(session, stmt, ApiToken, params)
    return Page(items=[_token_read(t, client_id) for t in page.rows], next_cursor=page.next_cursor)


@transactional
async def create_api_token(
    session: AsyncSession, principal: Principal, client_id: str, data: ApiTokenCreate
) -> ApiTokenCreated:
    """Issues an API token (shown once); with `rotate_from`, gives the old one an end."""
    _check_can_manage(principal)
    client = await _require_client(session, client_id)
    now = utcnow()
    errors = []
    if data.expires_at is not None and data.expires_at <= now:
        errors.append(field_error("expires_at", "must be in the future"))
    if data.overlap_seconds is not None and data.rotate_from is None:
        errors.append(field_error("overlap_seconds", "only with rotate_from"))
    old = None
    if data.rotate_from is not None:
        old = await _get_api_token(session, client, data.rotate_from)
        if old is None:
            errors.append(field_error("rotate_from", "no such API token of this client"))
    scopes = sorted(set(data.scopes if data.scopes is not None else old.scopes if old else client.scopes))
    beyond = sorted(set(scopes) - set(client.scopes))
    if beyond:
        errors.append(field_error("scopes", f"not held by the client: {', '.join(beyond)}"))
    if errors:
        raise Invalid("The API token cannot be issued as asked; see `errors`.", errors=errors)
    row, token = _new_token_row(
        client,
        scopes,
        name=data.name if data.name is not None else old.name if old else None,
        expires_at=data.expires_at,
    )
    session.add(row)
    rotated = None
    if old is not None:
        overlap = DEFAULT_OVERLAP_SECONDS if data.overlap_seconds is None else data.overlap_seconds
        ends = now + timedelta(seconds=overlap)
        # Rotation only ever shortens the old token's life: it never outlives a limit it had.
        if old.expires_at is None or ends < old.expires_at:
            old.expires_at = ends
            old.revision += 1
            old.updated_at = now
        await auth_cache.api_token_changed(session, old.id)
        rotated = _token_read(old, client_id)
    await add_new(session, row, "token collision; try again")
    return ApiTokenCreated(**_token_read(row, client_id).model_dump(), api_token=token, rotated=rotated)


@transactional
async def revoke_api_token(
    session: AsyncSession, principal: Principal, client_id: str, token_id: uuid.UUID
) -> None:
    """Revokes (deletes) an API token; it stops working at once, on every replica."""
    _check_can_manage(principal)
    client = await _require_client(session, client_id)
    token = await _get_api_token(session, client, token_id)
    if token is None:
        raise NotFound("No such API token.")
    await session.delete(token)
    await auth_cache.api_token_changed(session, token.id)


async def _require_client(session: AsyncSession, client_id: str) -> ServiceClient:
    client = await _get_client(session, client_id)
    if client is None:
        raise NotFound("No such service account.")
    return client


async def _get_api_token(
    session: AsyncSession, client: ServiceClient, token_id: uuid.UUID
) -> ApiToken | None:
    stmt = select(ApiToken).where(ApiToken.id == token_id, ApiToken.service_client_id == client.id)
    return (await session.execute(stmt)).scalar_one_or_none()


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


@transactional
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
    granted = cached_service_principal(principal, cache)
    if granted is not None:
        return granted
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
    return _granted(stored, principal)


def cached_service_principal(principal: Principal, cache: AuthCache) -> Principal | None:
    """`service_principal` when the cache knows the client and it is active (a plain call, no
    coroutine: the pitch's hot path); None otherwise (let `service_principal` decide)."""
    stored = cache.client(principal.client_id or "")
    if not isinstance(stored, StoredClient) or not stored.active:
        return None
    return _granted(stored, principal)


def _granted(stored: StoredClient, principal: Principal) -> Principal:
    """The token's scopes less those taken from the client since, built once per scope set."""
    granted = stored.principals.get(principal.scopes)
    if granted is None:
        granted = dataclasses.replace(principal, scopes=principal.scopes & expand_scopes(stored.scopes))
        stored.principals[principal.scopes] = granted
    return granted


async def api_token_principal(
    sessions: async_sessionmaker[AsyncSession], token: str, *, cache: AuthCache
) -> Principal:
    """The service principal of an API token: the client's, with the token's scopes (never more
    than the client holds now). Revoked, rotated-out or expired tokens and those of a
    deactivated client are refused; a cached token costs no database trip."""
    if not _API_TOKEN_SHAPE.fullmatch(token):
        raise Unauthenticated(UNKNOWN_API_TOKEN)
    token_hash = _hash_secret(token)
    stored = cache.api_token(token_hash)
    if stored is MISS:
        generation = cache.generation
        stmt = (
            select(ApiToken, ServiceClient.client_id)
            .join(ServiceClient, col(ServiceClient.id) == ApiToken.service_client_id)
            .where(col(ApiToken.token_hash) == token_hash)
        )
        async with sessions() as session:
            found = (await session.execute(stmt)).one_or_none()
        if found is None:
            raise Unauthenticated(UNKNOWN_API_TOKEN)
        row, client_id = found
        stored = StoredApiToken(row.id, client_id, frozenset(row.scopes), row.expires_at)
        cache.put_api_token(token_hash, stored, generation)
    if stored.expires_at is not None and stored.expires_at <= utcnow():
        raise Unauthenticated("API token expired")
    claimed = Principal(
        kind="service",
        subject=f"client:{stored.client_id}",
        client_id=stored.client_id,
        scopes=expand_scopes(stored.scopes),
    )
    principal = await service_principal(sessions, claimed, cache=cache)
    if cache.token_use_due(stored.id):
        await _record_token_use(sessions, stored)
    return principal


async def _record_token_use(sessions: async_sessionmaker[AsyncSession], token: StoredApiToken) -> None:
    # At most once a minute per token and process (AuthCache.token_use_due): a use is news to
    # the admin deciding whether a token is still needed, not worth a write per request.
    now = utcnow()
    try:
        async with sessions() as session, use_case(session):
            await session.execute(
                sa.update(ApiToken).where(col(ApiToken.id) == token.id).values(last_used_at=now)
            )
            await session.execute(
                sa.update(ServiceClient)
                .where(col(ServiceClient.client_id) == token.client_id)
                .values(last_used_at=now)
            )
    except sa.exc.SQLAlchemyError as exc:  # bookkeeping must not refuse an authenticated request
        log.warning("api_token_use_not_recorded", error=type(exc).__name__)


async def _get_client(session: AsyncSession, client_id: str) -> ServiceClient | None:
    stmt = select(ServiceClient).where(ServiceClient.client_id == client_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def _check_can_manage(principal: Principal) -> None:
    if not (principal.is_operator or principal.has_role("admin")):
        raise Forbidden("Only admins manage service accounts.")


@transactional
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


@transactional
async def delete_client(session: AsyncSession, principal: Principal, client_id: str) -> None:
    """Deletes a service account; its issued tokens stop working on every replica."""
    _check_can_manage(principal)
    client = await _get_client(session, client_id)
    if client is None:
        raise NotFound("No such service account.")
    await session.delete(client)
    await auth_cache.client_changed(session, client_id)
