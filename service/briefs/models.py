"""Briefs: the versioned launch baton, one row per version."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.briefs.schemas import BriefStatus, Change
from service.db import TableBase, UTCDateTime
from service.value_sets import one_of

# What a brief says (copied into each new version).
CONTENT_FIELDS = (
    "title",
    "background",
    "target_customer",
    "pains",
    "value_proposition",
    "differentiators",
    "pitch",
    "customer_next_action",
    "gut_check",
)

# Versions not yet published: where changes go (at most one per lineage).
OPEN_STATUSES = ("draft", "in_review", "scheduled")


class Brief(TableBase, table=True):
    __tablename__ = "briefs"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", BriefStatus), name="status"),
        sa.CheckConstraint(one_of("change", Change, nullable=True), name="change"),
        sa.UniqueConstraint("lineage_id", "version", name="uq_briefs_lineage_id_version"),
        # At most one published version per product and locale: the database enforces what
        # "publishing supersedes the previous one" promises, even under a race.
        sa.Index(
            "uq_briefs_published_product_locale",
            "product_id",
            "locale",
            unique=True,
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        ),
    )

    # The brief across its versions: the id of version 1.
    lineage_id: uuid.UUID = Field(index=True)
    version: int = Field(default=1)
    change: str | None = Field(default=None, max_length=16)
    product_id: uuid.UUID = Field(foreign_key="products.id", index=True)
    locale: str = Field(default="en", max_length=35)
    status: str = Field(default="draft", max_length=16, index=True)
    # A translation: the lineage id of the brief it translates, and the version of that brief
    # this version was translated from (current or outdated is derived: service/briefs/translations.py).
    translation_of: uuid.UUID | None = Field(default=None, index=True)
    translation_source_version: int | None = None

    title: str = Field(max_length=300)
    background: str = Field(default="", sa_type=sa.Text)
    target_customer: str = Field(default="", sa_type=sa.Text)
    pains: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    value_proposition: str = Field(default="", sa_type=sa.Text)
    differentiators: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    pitch: str = Field(default="", sa_type=sa.Text)
    customer_next_action: str = Field(default="", sa_type=sa.Text)
    gut_check: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)

    author_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    last_editor_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    review_comment: str | None = Field(default=None, sa_type=sa.Text)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    published_by_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    # Approved for later: the clock publishes a `scheduled` version at this time.
    publish_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # Approved although cited evidence had expired: {"reason", "evidence_ids", "by", "at"}.
    expired_evidence_override: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BriefEvidence(SQLModel, table=True):
    """A brief version citing an evidence item, in the order the brief lists them."""

    __tablename__ = "brief_evidence"

    brief_id: uuid.UUID = Field(foreign_key="briefs.id", primary_key=True)
    evidence_id: uuid.UUID = Field(foreign_key="evidence.id", primary_key=True, index=True)
    position: int = Field(default=0)

    __table__: ClassVar[sa.Table]
