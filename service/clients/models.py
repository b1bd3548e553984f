"""Service accounts: integrations authenticate with client credentials and act by scope."""

from __future__ import annotations

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
