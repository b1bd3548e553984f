"""Rollout campaigns, who they reach, and what each person did about them.

Acknowledgements and checks belong to a brief *version* (and its lineage, so "the current
version or a later minor one" is a range query): a substantive new version asks again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from service.campaigns.schemas import CampaignKind, CampaignStatus, CheckStatus
from service.db import TableBase, UTCDateTime, utcnow
from service.value_sets import one_of


class Campaign(TableBase, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (
        sa.CheckConstraint(one_of("kind", CampaignKind), name="kind"),
        sa.CheckConstraint(one_of("status", CampaignStatus), name="status"),
    )

    # The brief version the campaign was created for; it always speaks for the lineage's
    # current published version.
    brief_id: uuid.UUID = Field(foreign_key="briefs.id")
    lineage_id: uuid.UUID = Field(index=True)
    product_id: uuid.UUID = Field(foreign_key="products.id", index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    status: str = Field(default="planned", max_length=16, index=True)
    # Department keys and roles; an empty list matches everyone.
    audience_departments: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    audience_roles: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # [{id, channel, title, message_id, at | day_offset, exercise}] in the order given; `id` (a UUID
    # as text) is the step's identity, kept when steps are reordered or edited.
    steps: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    created_by_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Enrollment(TableBase, table=True):
    """A person in a campaign's audience. Never deleted: leaving sets `left_at`."""

    __tablename__ = "campaign_enrollments"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "person_id", name="uq_campaign_enrollments_campaign_person"),
        # Readiness reads one campaign's current audience only, not everyone who ever left.
        sa.Index(
            "ix_campaign_enrollments_current",
            "campaign_id",
            "person_id",
            postgresql_where=sa.text("left_at IS NULL"),
            sqlite_where=sa.text("left_at IS NULL"),
        ),
    )

    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id")
    person_id: uuid.UUID = Field(foreign_key="people.id", index=True)
    # Onboarding steps count from this day (the hire date when enrolled); null for launches.
    anchor_date: date | None = None
    enrolled_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    left_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Acknowledgement(TableBase, table=True):
    """ "I have read it": one row per person and brief version, however often it is clicked."""

    __tablename__ = "acknowledgements"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "brief_id", name="uq_acknowledgements_person_brief"),
        sa.Index("ix_acknowledgements_lineage_person", "lineage_id", "person_id", "version"),
    )

    person_id: uuid.UUID = Field(foreign_key="people.id")
    brief_id: uuid.UUID = Field(foreign_key="briefs.id")
    lineage_id: uuid.UUID
    version: int
    # The campaign it was given through (the first one, when several ask for the same version).
    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id", index=True)
    acknowledged_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Attendance(TableBase, table=True):
    """ "I was at the briefing": one row per campaign, briefing step and person."""

    __tablename__ = "campaign_attendance"
    __table_args__ = (
        # Its campaign_id prefix also serves readiness ("who attended any of this campaign's").
        sa.UniqueConstraint(
            "campaign_id", "step_id", "person_id", name="uq_campaign_attendance_campaign_step_person"
        ),
    )

    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id")
    # A step's `id` within Campaign.steps (JSON: no foreign key).
    step_id: uuid.UUID
    person_id: uuid.UUID = Field(foreign_key="people.id", index=True)
    attended_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Check(TableBase, table=True):
    """A comprehension check: the gut-check answered and the pitch in the person's own words."""

    __tablename__ = "checks"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", CheckStatus), name="status"),
        sa.Index("ix_checks_lineage_person", "lineage_id", "person_id", "version"),
        # Readiness counts passed checks only.
        sa.Index(
            "ix_checks_passed",
            "lineage_id",
            "person_id",
            "version",
            postgresql_where=sa.text("status = 'passed'"),
            sqlite_where=sa.text("status = 'passed'"),
        ),
        # One check waiting to be graded per person and version, even when submits race.
        sa.Index(
            "uq_checks_submitted_person_version",
            "person_id",
            "lineage_id",
            "version",
            unique=True,
            postgresql_where=sa.text("status = 'submitted'"),
            sqlite_where=sa.text("status = 'submitted'"),
        ),
    )

    person_id: uuid.UUID = Field(foreign_key="people.id", index=True)
    campaign_id: uuid.UUID = Field(foreign_key="campaigns.id", index=True)
    brief_id: uuid.UUID = Field(foreign_key="briefs.id")
    lineage_id: uuid.UUID
    version: int
    answers: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    pitch_in_own_words: str = Field(sa_type=sa.Text)
    status: str = Field(default="submitted", max_length=16)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    graded_by_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    graded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    comment: str | None = Field(default=None, sa_type=sa.Text)
