"""The customer's voice in one place, and the loop that closes on it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db import TableBase, UTCDateTime, utcnow
from service.feedback.schemas import Decision, FeedbackSource, LoopStage
from service.value_sets import one_of


class Theme(TableBase, table=True):
    """A group of feedback items saying the same thing; merged duplicates point at the survivor."""

    __tablename__ = "themes"
    __table_args__ = (
        sa.CheckConstraint(one_of("stage", LoopStage, nullable=True), name="stage"),
        sa.CheckConstraint(one_of("decision", Decision, nullable=True), name="decision"),
    )

    name: str = Field(max_length=300)
    description: str = Field(default="", sa_type=sa.Text)
    product_id: uuid.UUID | None = Field(default=None, foreign_key="products.id", index=True)
    merged_into_id: uuid.UUID | None = Field(default=None, foreign_key="themes.id", index=True)
    # Decided as a whole (service/feedback/loop.py): the stage its items were moved to, and what
    # was decided; items that join the theme later follow it there. Null: never moved as one.
    stage: str | None = Field(default=None, max_length=16)
    decision: str | None = Field(default=None, max_length=8)
    rationale: str | None = Field(default=None, sa_type=sa.Text)
    announcement_message_id: uuid.UUID | None = Field(default=None, foreign_key="messages.id")


class FeedbackItem(TableBase, table=True):
    __tablename__ = "feedback_items"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_feedback_items_source_external_id"),
        sa.CheckConstraint(one_of("source", FeedbackSource), name="source"),
        sa.CheckConstraint(one_of("status", LoopStage), name="status"),
        sa.CheckConstraint(one_of("decision", Decision, nullable=True), name="decision"),
        sa.CheckConstraint("nps_score IS NULL OR (nps_score BETWEEN 0 AND 10)", name="nps_score"),
        sa.CheckConstraint("source <> 'nps' OR nps_score IS NOT NULL", name="nps_needs_score"),
        # The overdue list reads by stage and due time.
        sa.Index("ix_feedback_items_status_due_at", "status", "stage_due_at"),
        # The weekly digest (service/feedback/digest.py) reads these indexes, not the rows. The
        # window index also holds the account and product (migration 0019): themes weighed by
        # accounts, and a digest of one product, are read from it too.
        sa.Index(
            "ix_feedback_items_window",
            "received_at",
            "source",
            "theme_id",
            "nps_score",
            "account_id",
            "product_id",
        ),
        # Partial: a freshly ingested item (new, unthemed, undecided, unannounced, usually filed
        # by an integration) costs no entry in these.
        sa.Index(
            "ix_feedback_items_theme_id",
            "theme_id",
            postgresql_where=sa.text("theme_id IS NOT NULL"),
            sqlite_where=sa.text("theme_id IS NOT NULL"),
        ),
        # Items by account (a merge moves them; the digest weighs themes by them).
        sa.Index(
            "ix_feedback_items_account_id",
            "account_id",
            postgresql_where=sa.text("account_id IS NOT NULL"),
            sqlite_where=sa.text("account_id IS NOT NULL"),
        ),
        sa.Index(
            "ix_feedback_items_filed_by_id",
            "filed_by_id",
            postgresql_where=sa.text("filed_by_id IS NOT NULL"),
            sqlite_where=sa.text("filed_by_id IS NOT NULL"),
        ),
        sa.Index(
            "ix_feedback_items_decided_at",
            "decided_at",
            "decision",
            "theme_id",  # decisions once per theme (migration 0019)
            postgresql_where=sa.text("decided_at IS NOT NULL"),
            sqlite_where=sa.text("decided_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_feedback_items_status_implemented_at",
            "implemented_at",
            "id",
            postgresql_where=sa.text("status = 'implemented'"),
            sqlite_where=sa.text("status = 'implemented'"),
        ),
        sa.Index(
            "ix_feedback_items_announced_at",
            "announced_at",
            "received_at",
            postgresql_where=sa.text("announced_at IS NOT NULL"),
            sqlite_where=sa.text("announced_at IS NOT NULL"),
        ),
    )

    source: str = Field(max_length=16)
    # The caller's id for the item (ticket number, NPS response id): upserts key on it.
    external_id: str = Field(max_length=200)
    product_id: uuid.UUID | None = Field(default=None, foreign_key="products.id", index=True)
    customer_account: str | None = Field(default=None, max_length=200)
    customer_segment: str | None = Field(default=None, max_length=100)
    # The account `customer_account` was matched to (by key or exact name) on ingest, or created
    # as; a merge of accounts moves it to the survivor. `customer_account` keeps what was sent.
    account_id: uuid.UUID | None = Field(default=None, foreign_key="accounts.id")
    body: str = Field(sa_type=sa.Text)
    nps_score: int | None = None
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Hash of what the caller sent: a re-sent item that changed nothing counts as unchanged.
    content_hash: str = Field(max_length=64)

    status: str = Field(default="new", max_length=16)
    decision: str | None = Field(default=None, max_length=8)
    rationale: str | None = Field(default=None, sa_type=sa.Text)
    theme_id: uuid.UUID | None = Field(default=None, foreign_key="themes.id")
    # Who listened: the employee who filed it, or the one an integration filed it for.
    filed_by_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    filed_by_client: str | None = Field(default=None, max_length=64)
    # When the next stage is due (from the configured loop targets); null once announced.
    stage_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    triaged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    implemented_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    announced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    announcement_message_id: uuid.UUID | None = Field(default=None, foreign_key="messages.id")


class FeedbackTransition(SQLModel, table=True):
    """One step of an item through the loop (its history; the filer's feed shows these)."""

    __tablename__ = "feedback_transitions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    feedback_id: uuid.UUID = Field(foreign_key="feedback_items.id", index=True)
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    decision: str | None = Field(default=None, max_length=8)
    note: str | None = Field(default=None, sa_type=sa.Text)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)

    __table__: ClassVar[sa.Table]
