"""The current pitch, assembled at publish time, and what CRMs report doing with it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class PitchDocument(SQLModel, table=True):
    """One assembled pitch per product and locale: the CRM read is one indexed lookup."""

    __tablename__ = "pitch_documents"
    __table_args__ = (
        sa.UniqueConstraint("product_key", "locale", name="uq_pitch_documents_product_key_locale"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    product_id: uuid.UUID = Field(foreign_key="products.id", index=True)
    product_key: str = Field(max_length=64)
    locale: str = Field(max_length=35)
    brief_id: uuid.UUID = Field(foreign_key="briefs.id")
    version: int
    published_at: datetime = Field(sa_type=UTCDateTime)
    document: dict[str, Any] = Field(sa_type=sa.JSON)
    # Bumped on every re-assembly (a message or evidence change), so ETags change with it.
    revision: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PitchUsage(SQLModel, table=True):
    """A CRM reporting that the pitch was shown, used or copied."""

    __tablename__ = "pitch_usage"
    __table_args__ = (sa.CheckConstraint("event IN ('shown', 'used', 'copied')", name="event"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    product_key: str = Field(max_length=64, index=True)
    locale: str = Field(max_length=35)
    brief_id: uuid.UUID | None = Field(default=None, foreign_key="briefs.id")
    version: int | None = None
    audience: str | None = Field(default=None, max_length=64)
    event: str = Field(max_length=16)
    opportunity_ref: str | None = Field(default=None, max_length=200)
    user_email: str | None = Field(default=None, max_length=320)
    client_id: str | None = Field(default=None, max_length=64)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
