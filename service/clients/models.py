"""Service accounts: integrations authenticate with client credentials and act by scope."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from service.db import TableBase, UTCDateTime


class ServiceClient(TableBase, table=True):
    __tablename__ = "service_clients"

    client_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    # SHA-256 of a 256-bit random secret: a slow password hash adds nothing for a secret
    # with that much entropy, and would cost every token request tens of milliseconds.
    secret_hash: str = Field(max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    active: bool = Field(default=True)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(TableBase, table=True):
    """A long-lived, opaque bearer token of a service client (for IdPs that store one token).

    Only its SHA-256 is kept (as for client secrets); `token_prefix` (the first characters) lets
    an admin tell which token an integration holds without the token being recoverable."""

    __tablename__ = "api_tokens"

    # The client's row id: deleting the client deletes its tokens with it.
    service_client_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("service_clients.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    token_hash: str = Field(max_length=64, unique=True)
    token_prefix: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=200)
    scopes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
