"""Inputs and outputs for service accounts and the token endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from service.fields import InputModel, Name


class ClientCreate(InputModel):
    name: Name
    scopes: list[str] = Field(min_length=1)


class ClientCreated(BaseModel):
    """Shown once: the secret is stored only as a hash."""

    client_id: str
    client_secret: str
    name: str
    scopes: list[str]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int
    scope: str
