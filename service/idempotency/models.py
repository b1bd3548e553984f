"""Stored first responses of Idempotency-Key requests."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("owner", "key", name="uq_idempotency_records_owner_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner: str = Field(max_length=200)  # the principal's subject: keys are per caller
    key: str = Field(max_length=255)
    endpoint: str = Field(max_length=300)
    request_hash: str = Field(max_length=64)
    completed: bool = Field(default=False)
    status_code: int | None = None
    response_body: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    response_headers: dict[str, str] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
