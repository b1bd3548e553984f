"""Messages: the common score every department plays from."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db import TableBase, UTCDateTime
from service.messages.schemas import Change, MessageKind, MessageStatus
from service.value_sets import one_of

# What a message says and where (copied into each new version).
CONTENT_FIELDS = (
    "brief_id",
    "brief_lineage_id",
    "product_id",
    "kind",
    "audiences",
    "channel",
    "locale",
    "title",
    "body",
    "feature_term",
    "value_statement",
    "metric",
    "expires_at",
)
OPEN_STATUSES = ("draft", "in_review", "scheduled")


class Message(TableBase, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        sa.CheckConstraint(one_of("kind", MessageKind), name="kind"),
        sa.CheckConstraint(one_of("status", MessageStatus), name="status"),
        sa.CheckConstraint(one_of("change", Change, nullable=True), name="change"),
        sa.UniqueConstraint("lineage_id", "version", name="uq_messages_lineage_id_version"),
        # One published version per lineage: what the pitch and campaign steps follow.
        sa.Index(
            "uq_messages_published_lineage",
            "lineage_id",
            unique=True,
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        ),
    )

    # The message across its versions: the id of version 1.
    lineage_id: uuid.UUID = Field(index=True)
    version: int = Field(default=1)
    change: str | None = Field(default=None, max_length=16)

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
    published_by_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_comment: str | None = Field(default=None, sa_type=sa.Text)
    # Approved for later: the clock publishes a `scheduled` version at this time.
    publish_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # After this time a published message leaves every pitch (the clock marks it `expired`).
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Approved although cited evidence had expired: {"reason", "evidence_ids", "by", "at"}.
    expired_evidence_override: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    author_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    last_editor_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")


class MessageEvidence(SQLModel, table=True):
    __tablename__ = "message_evidence"

    message_id: uuid.UUID = Field(foreign_key="messages.id", primary_key=True)
    evidence_id: uuid.UUID = Field(foreign_key="evidence.id", primary_key=True, index=True)
    position: int = Field(default=0)

    __table__: ClassVar[sa.Table]
