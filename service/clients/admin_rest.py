"""REST adapter for managing service accounts and their API tokens (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from service.api.rest import NOT_MODIFIED, PageDep, json, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.clients import service as clients_service
from service.clients.schemas import (
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenRead,
    ClientCreate,
    ClientCreated,
    ClientRead,
    ClientSecretRotated,
    ClientUpdate,
)
from service.concurrency import etag
from service.db import SessionDep
from service.pagination import Page

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])

ClientId = Annotated[str, Path(max_length=64, description="The client's `client_id` (`cc_…`).")]
# Secrets and tokens shown once must not sit in a shared cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("", response_model=Page[ClientRead])
async def list_clients(
    request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """List service accounts (admin)."""
    return page_response(request, await clients_service.list_clients(session, principal, page))


@router.post("", status_code=201, response_model=ClientCreated)
async def create_client(body: ClientCreate, session: SessionDep, principal: PrincipalDep) -> Response:
    """Create a service account (admin). The `client_secret`, and the `api_token` when
    `"api_token": true` is sent, are shown in this response only."""
    created = await clients_service.create_client(session, principal, body)
    return JSONResponse(
        created.model_dump(mode="json", exclude_unset=True),
        status_code=201,
        headers={
            **NO_STORE,
            "Location": f"/api/v1/clients/{created.client_id}",
            "ETag": etag(created.revision),
        },
    )


@router.get("/{client_id}", response_model=ClientRead, responses=NOT_MODIFIED)
async def get_client(
    request: Request, client_id: ClientId, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Get a service account (admin)."""
    client = await clients_service.get_client(session, principal, client_id)
    return resource_response(request, client, etag(client.revision))


@router.patch("/{client_id}", response_model=ClientRead)
async def update_client(
    request: Request,
    client_id: ClientId,
    body: ClientUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Change a service account's `name`, `scopes` or `active` (admin); honours `If-Match`.
    Deactivating or narrowing scopes applies to its issued tokens at once, on every replica."""
    client = await clients_service.update_client(session, principal, client_id, body, if_match=if_match)
    return resource_response(request, client, etag(client.revision))


@router.post("/{client_id}/rotate-secret", response_model=ClientSecretRotated)
async def rotate_client_secret(client_id: ClientId, session: SessionDep, principal: PrincipalDep) -> Response:
    """Replace the client secret (admin); the new one is shown once and the old one stops
    obtaining tokens at once. Access tokens already issued run out within their lifetime."""
    rotated = await clients_service.rotate_client_secret(session, principal, client_id)
    return json(rotated, headers=NO_STORE)


@router.get("/{client_id}/api-tokens", response_model=Page[ApiTokenRead])
async def list_api_tokens(
    request: Request, client_id: ClientId, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """List a service account's API tokens (admin); the tokens themselves are never shown again."""
    return page_response(request, await clients_service.list_api_tokens(session, principal, client_id, page))


@router.post("/{client_id}/api-tokens", status_code=201, response_model=ApiTokenCreated)
async def create_api_token(
    client_id: ClientId, body: ApiTokenCreate, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Issue a long-lived API token (admin), shown in this response only. To rotate, name the
    token it replaces in `rotate_from`: that one keeps working for `overlap_seconds` (default
    a day) and then expires."""
    created = await clients_service.create_api_token(session, principal, client_id, body)
    return json(created, status_code=201, headers=NO_STORE)


@router.delete("/{client_id}/api-tokens/{token_id}", status_code=204)
async def revoke_api_token(
    client_id: ClientId, token_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Revoke an API token (admin): it stops working at once, on every replica."""
    await clients_service.revoke_api_token(session, principal, client_id, token_id)
    return Response(status_code=204)
