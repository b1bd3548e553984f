"""Inputs and outputs for service accounts, their API tokens and the token endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from service.fields import InputModel, Name, ReadModel

Scope = Annotated[str, Field(min_length=1, max_length=64)]
# How long a rotated-out API token keeps working beside its successor: a day by default (time
# to update the IdP's stored token), at most 30 days.
DEFAULT_OVERLAP_SECONDS = 86_400
MAX_OVERLAP_SECONDS = 30 * 86_400


class ClientCreate(InputModel):
    name: Name
    scopes: list[Scope] = Field(min_length=1, max_length=32)
    # Also issue an API token with the client's scopes, shown once in the response.
    api_token: bool = False


class ClientUpdate(InputModel):
    """Fields to change; absent fields stay as they are. Narrowing `scopes` applies at once to
    the client's issued access tokens and API tokens, on every replica."""

    name: Name | None = None
    scopes: list[Scope] | None = Field(default=None, min_length=1, max_length=32)
    active: bool | None = None


class ClientRead(ReadModel):
    """A service account. Its secret and tokens are never shown again after they are issued."""

    client_id: str
    name: str
    scopes: list[str]
    active: bool
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime
    revision: int  # of this row; the ETag is derived from it


class ClientCreated(ClientRead):
    """Shown once: the secret (and the API token, when asked for) are stored only as hashes."""

    client_secret: str
    api_token: str | None = Field(default=None, description="Present only when the request asked for one.")
    api_token_id: uuid.UUID | None = Field(default=None, description="The id of that API token.")


class ClientSecretRotated(BaseModel):
    """Shown once: the new secret. The old one no longer obtains tokens."""

    client_id: str
    client_secret: str


class ApiTokenCreate(InputModel):
    """A new API token. With `rotate_from`, the named token of the same client keeps working
    for `overlap_seconds` more (its `expires_at` is set, never extended), and the new token
    takes its name and scopes unless given here."""

    name: Name | None = None
    scopes: list[Scope] | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="A subset of the client's scopes (default: all).",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the token stops working (default: never)."
    )
    rotate_from: uuid.UUID | None = None
    overlap_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description=f"With `rotate_from`: how long the old token keeps working (default {DEFAULT_OVERLAP_SECONDS}).",
    )


class ApiTokenRead(ReadModel):
    """An API token as listed: never the token itself."""

    id: uuid.UUID
    client_id: str
    name: str | None
    token_prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ApiTokenCreated(ApiTokenRead):
    """Shown once: the token is stored only as a hash."""

    api_token: str
    rotated: ApiTokenRead | None = Field(
        default=None, description="With `rotate_from`: the old token, with the `expires_at` it now has."
    )


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int
    scope: str
