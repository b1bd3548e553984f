"""Messages: the common score every department plays from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db import TableBase, UTCDateTime
from service.messages.schemas import MessageKind, MessageStatus
from service.value_sets import one_of


class Message(TableBase, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        sa.CheckConstraint(one_of("kind", MessageKind), name="kind"),
        sa.CheckConstraint(one_of("status", MessageStatus), name="status"),
    )

    # As given by the caller (a brief version), and the brief across versions it belongs to.
    brief_id: uuid.UUID | None = Field(default=None, foreign_key="briefs.id")
    brief_lineage_id: uuid.UUID | None = Field(default=None, index=True)
    # The product the message speaks for (from the brief, or given); null: company-wide.
    product_id: uuid.UUID | None = Field(default=None, foreign_key="products.id", index=True)
    kind: str = Field(max_length=32)
    audiences: list[str] = Field(default_factory=lambda: ["all"], sa_type=sa.JSON)
    channel: str = Field(default="intranet", max_length=32)
    locale: str = Field(default="en", max_length=35)
    title: str = Field(max_length=300)
    body: str = Field(default="", sa_type=sa.Text)
    feature_term: str | None = Field(default=None, max_length=300)
    value_statement: str | None = Field(default=None, sa_type=sa.Text)
    metric: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    status: str = Field(default="draft", max_length=16, index=True)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    author_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    last_editor_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")


class MessageEvidence(SQLModel, table=True):
    __tablename__ = "message_evidence"

    message_id: uuid.UUID = Field(foreign_key="messages.id", primary_key=True)
    evidence_id: uuid.UUID = Field(foreign_key="evidence.id", primary_key=True, index=True)
    position: int = Field(default=0)
