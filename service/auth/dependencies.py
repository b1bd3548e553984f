"""The one principal dependency REST and GraphQL share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import State

from service.auth.principal import Principal
from service.auth.tokens import InvalidToken, TokenService
from service.clients import service as clients_service
from service.errors import Unauthenticated
from service.people import service as people_service


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, None when there is no Authorization header."""
    return _bearer(
        request.headers.get("authorization"), request.app.state.settings.max_authorization_header_bytes
    )


def _bearer(header: str | None, max_bytes: int) -> str | None:
    if header is None:
        return None
    if len(header.encode("latin-1", "replace")) > max_bytes:
        raise Unauthenticated("Authorization header too large")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    return token.strip()


async def resolve_principal(request: Request) -> Principal | None:
    """Verify the bearer token, if any, and turn it into a principal; bad tokens raise 401."""
    return await principal_of(request.app.state, request.headers.get("authorization"))


async def principal_of(state: State, authorization: str | None) -> Principal | None:
    """`resolve_principal` from the app's state and the Authorization header (its first one),
    for a raw ASGI route that has no Request (the pitch read)."""
    token = _bearer(authorization, state.settings.max_authorization_header_bytes)
    if token is None:
        return None
    if clients_service.is_api_token(token):
        # Opaque and long-lived (`cca_…`): looked up by hash, never tried as a JWT.
        return await clients_service.api_token_principal(state.sessionmaker, token, cache=state.auth_cache)
    tokens: TokenService = state.tokens
    verified = tokens.verified(token)
    if verified is not None and verified.service is not None:
        # The common case (a CRM polling the pitch with one service token): no coroutine at all.
        granted = clients_service.cached_service_principal(verified.service, state.auth_cache)
        if granted is not None:
            return granted
    try:
        verified = verified or await tokens.verify(token)
    except InvalidToken as exc:
        raise Unauthenticated(str(exc)) from exc
    # Who the token names is checked against the stored record, through the process's cache:
    # a hit (the usual case, the CRM's pitch reads included) costs no database trip.
    if (service := verified.service) is not None:
        return await clients_service.service_principal(state.sessionmaker, service, cache=state.auth_cache)
    return await people_service.principal_from_token(
        state.sessionmaker, verified=verified, settings=state.settings, cache=state.auth_cache
    )


async def required_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated()
    return principal


async def request_principal(request: Request) -> Principal:
    """The caller, or 401: `required_principal` of `resolve_principal` as one dependency, since
    FastAPI solves each level of a dependency chain again on every request."""
    return await required_principal(await resolve_principal(request))


PrincipalDep = Annotated[Principal, Depends(request_principal)]
