"""The OAuth 2.0 token endpoint for service accounts."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from service.api import problems
from service.api.rest import json
from service.clients import service as clients_service
from service.clients.schemas import TokenResponse
from service.db import SessionDep
from service.errors import Unauthenticated

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthenticated("malformed Basic credentials", error="invalid_client") from exc
    return client_id, secret


@router.post("/token", response_model=TokenResponse, responses=problems.declared(401, 429))
async def issue_token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str | None, Form(max_length=64)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
    scope: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    """Exchange client credentials (form fields or HTTP Basic) for a bearer token."""
    basic = _basic_credentials(request)
    if basic is not None:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        raise Unauthenticated("client_id and client_secret are required", error="invalid_client")
    state = request.app.state
    token = await clients_service.issue_token(
        session,
        tokens=state.tokens,
        limiter=state.token_failures,
        grant_type=grant_type,
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        ttl_seconds=state.settings.client_token_ttl_seconds,
        # The peer address (behind a proxy, uvicorn's --proxy-headers puts the forwarded one here).
        source=request.client.host if request.client else None,
    )
    return json(token, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
