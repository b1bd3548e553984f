"""Webhooks: the URLs systems register to receive events, with the secrets that sign them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from service.db import TableBase, UTCDateTime


class Webhook(TableBase, table=True):
    """A registered receiver. The secrets are kept as they are, not hashed: signing (HMAC)
    needs the key itself. They leave the service only in the answer that creates them."""

    __tablename__ = "webhooks"

    url: str = Field(max_length=2048)
    # Event type strings of the catalogue (service/events/catalogue.py).
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Only events of these products (None: every product, and events of no product).
    product_keys: list[str] | None = Field(default=None, sa_type=sa.JSON)
    active: bool = Field(default=True)
    # The principal's subject: `person:<uuid>`, `client:<client_id>` or `operator:<name>`. A
    # client manages only the webhooks whose creator it is.
    created_by: str = Field(max_length=200, index=True)
    secret: str = Field(max_length=100)
    # During a rotation's overlap the old secret signs beside the new one, until it expires.
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why the delivery worker paused it (set by the worker; None while it delivers).
    paused_reason: str | None = Field(default=None, max_length=500)
