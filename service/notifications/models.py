"""Notification preferences, chat destinations, and one row per notification sent (or not).

A `notifications` row is one thing for one recipient on one channel: a person (e-mail,
intranet) or a chat destination. `dedupe_key` is unique, so a replayed event, a worker that
crashed after writing, or a second nudge on the same day adds nothing; the row is also the
record of what reached whom, kept for admins.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from service.db import TableBase, UTCDateTime, utcnow
from service.notifications.schemas import (
    ChatKind,
    DeliveryMode,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from service.value_sets import one_of


class NotificationPreferences(TableBase, table=True):
    """A person's choices; no row means the defaults (UTC, no quiet hours, immediate, every
    kind by e-mail, personal kinds not to chat)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (sa.CheckConstraint(one_of("delivery", DeliveryMode), name="delivery"),)

    person_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False, unique=True
        )
    )
    # An IANA time zone name (Asia/Tokyo): quiet hours and the digest are in local time.
    timezone: str = Field(default="UTC", max_length=64)
    # "HH:MM" local; both or neither. A window may wrap midnight (22:00-07:00).
    quiet_start: str | None = Field(default=None, max_length=5)
    quiet_end: str | None = Field(default=None, max_length=5)
    delivery: str = Field(default=DeliveryMode.IMMEDIATE.value, max_length=16)
    # {kind: {"email": bool, "chat": bool}}; a kind not named keeps its default.
    kinds: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class ChatDestination(TableBase, table=True):
    """A Slack or Teams incoming webhook an admin configured, for one department or (no
    department) the whole company. The URL is a secret (whoever has it can post): it is
    shown masked on every read."""

    __tablename__ = "chat_destinations"
    __table_args__ = (sa.CheckConstraint(one_of("kind", ChatKind), name="kind"),)

    kind: str = Field(max_length=16)
    url: str = Field(max_length=2048)
    department_key: str | None = Field(default=None, max_length=64, index=True)
    created_by: str = Field(max_length=200)


class Notification(TableBase, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.CheckConstraint(one_of("kind", NotificationKind), name="kind"),
        sa.CheckConstraint(one_of("channel", NotificationChannel), name="channel"),
        sa.CheckConstraint(one_of("status", NotificationStatus), name="status"),
        # A person's or a destination's, never both, never neither.
        sa.CheckConstraint("(person_id IS NULL) <> (destination_id IS NULL)", name="one_recipient"),
        # The sender's claim: due pending rows, and leases that ran out.
        sa.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
        # What reached whom, per campaign step; a person's newest.
        sa.Index("ix_notifications_campaign_step", "campaign_id", "step_id", "person_id"),
        sa.Index("ix_notifications_person_created_at", "person_id", "created_at"),
    )

    kind: str = Field(max_length=32)
    channel: str = Field(max_length=16)
    person_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=True),
    )
    destination_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("chat_destinations.id", ondelete="CASCADE"), nullable=True
        ),
    )
    # `<kind>:<what>:<recipient>:<channel>`: one row however often the cause is replayed.
    dedupe_key: str = Field(max_length=300, unique=True)
    # The event it came from (None for nudges); not a foreign key: events are pruned.
    event_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=True),
    )
    step_id: str | None = Field(default=None, max_length=64)
    # The locale it is rendered in (the person's; a destination's department default).
    locale: str = Field(default="en", max_length=35)
    # What the templates render: titles, bodies, links' paths, names (no secrets).
    data: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    status: str = Field(default=NotificationStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why it failed or was cancelled (bounded).
    reason: str | None = Field(default=None, max_length=500)
