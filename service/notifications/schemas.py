"""Value sets of notifications: what a notification is about, where it goes, how it stands."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from service.campaigns.schemas import PersonState
from service.fields import InputModel, ReadModel, Slug


class NotificationKind(StrEnum):
    """What a notification is about. Each kind can be turned off per person and channel
    (`/api/v1/me/notification-preferences`); the feed keeps everything regardless."""

    CAMPAIGN_STEP = "campaign_step"  # a campaign step for you is due: its message
    REMINDER = "reminder"  # a due step you have not acknowledged yet
    NUDGE = "nudge"  # your manager or an editor asks you to catch up
    REVIEW_WAITING = "review_waiting"  # a brief or message waits for your review
    REVIEW_DECIDED = "review_decided"  # your brief or message was approved or sent back
    CHECK_WAITING = "check_waiting"  # a check waits for your grade
    CHECK_GRADED = "check_graded"  # your check was graded
    EVIDENCE_EXPIRING = "evidence_expiring"  # evidence you own expires soon
    EVIDENCE_EXPIRED = "evidence_expired"  # evidence you own expired
    FEEDBACK_DECIDED = "feedback_decided"  # feedback you filed was decided
    FEEDBACK_ANNOUNCED = "feedback_announced"  # feedback you filed was announced (quoted)
    PERSON_OVERDUE = "person_overdue"  # someone in your department fell overdue


class NotificationChannel(StrEnum):
    """Where a notification goes: `email` to the person, `chat` to a chat destination (a Slack
    or Teams channel of their department, or company-wide), `intranet` to their feed and live
    stream (always, recorded when it happened)."""

    EMAIL = "email"
    CHAT = "chat"
    INTRANET = "intranet"


class DeliveryMode(StrEnum):
    """`immediate`: each notification as it happens (outside quiet hours); `daily_digest`: one
    e-mail a day with everything since the last one."""

    IMMEDIATE = "immediate"
    DAILY_DIGEST = "daily_digest"


class ChatKind(StrEnum):
    """Slack incoming webhooks; Microsoft Teams workflow (Power Automate) webhooks."""

    SLACK = "slack"
    TEAMS = "teams"


class NotificationStatus(StrEnum):
    PENDING = "pending"  # waiting for its time (retry, quiet hours, the digest)
    SENDING = "sending"  # claimed by a worker, leased until `locked_until`
    SENT = "sent"  # the SMTP server or chat receiver took it (intranet: shown)
    FAILED = "failed"  # gave up after the retry window
    CANCELLED = "cancelled"  # not sent: no longer true when its time came (`reason`)


# "22:30": a time of day, 24 h (rules.parse_hhmm reads it).
HHMM = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]

UNFINISHED = (NotificationStatus.PENDING.value, NotificationStatus.SENDING.value)


# --- the API's inputs and outputs (service/notifications/{preferences,destinations,nudges,records}.py)


class QuietHours(BaseModel):
    """A daily window (the person's local time) in which no e-mail or chat post reaches them;
    it may wrap midnight (22:00-07:00)."""

    model_config = ConfigDict(extra="forbid")

    start: HHMM = Field(description="HH:MM, 24 h, local time.")
    end: HHMM = Field(description="HH:MM, 24 h, local time.")


class KindChannels(BaseModel):
    """Whether a kind reaches the person by e-mail, and in chat (their department's channel)."""

    email: bool
    chat: bool


class KindChannelsUpdate(BaseModel):
    """A kind's switches; one left out keeps its default."""

    model_config = ConfigDict(extra="forbid")

    email: bool | None = None
    chat: bool | None = None


class NotificationPreferencesRead(BaseModel):
    """Your notification preferences as they apply (defaults filled in for every kind)."""

    timezone: str = Field(description="IANA time zone: quiet hours and the digest are local to it.")
    quiet_hours: QuietHours | None
    delivery: DeliveryMode
    kinds: dict[NotificationKind, KindChannels]


class NotificationPreferencesUpdate(InputModel):
    """Your notification preferences, replacing the stored ones (what is left out takes its
    default: UTC, no quiet hours, immediate, each kind's default channels)."""

    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "UTC"
    quiet_hours: QuietHours | None = None
    delivery: DeliveryMode = DeliveryMode.IMMEDIATE
    kinds: dict[NotificationKind, KindChannelsUpdate] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:  # a 422 naming the field
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Asia/Tokyo") from exc
        return value


class ChatDestinationCreate(InputModel):
    kind: ChatKind
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        description="The incoming webhook URL (https; a public address unless its host is in "
        "CUECARD_WEBHOOK_ALLOW_HOSTS). A secret: shown masked on every read."
    )
    department_key: Slug | None = Field(
        default=None, description="The department whose people it reaches; none: the whole company."
    )


class ChatDestinationRead(BaseModel):
    id: uuid.UUID
    kind: ChatKind
    url: str = Field(description="Masked: scheme, host and the last 4 characters only.")
    department_key: str | None
    created_by: str
    created_at: datetime


class NudgeCreate(InputModel):
    """Whom to nudge: `person_ids`, or everyone in a `state` and/or `overdue`."""

    person_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=1000)
    state: PersonState | None = None
    overdue: bool | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None

    @model_validator(mode="after")
    def _someone(self) -> NudgeCreate:
        if self.person_ids is None and self.state is None and self.overdue is None:
            raise ValueError("say whom to nudge: person_ids, or state and/or overdue")
        if self.person_ids is not None and (self.state is not None or self.overdue is not None):
            raise ValueError("person_ids, or state and/or overdue: not both")
        return self


class NudgeResult(BaseModel):
    nudged: int = Field(description="People who were sent a nudge now.")
    skipped: int = Field(
        description="People not nudged: nudged already today, or not yours to nudge (not in the "
        "campaign's current audience, or another department's)."
    )


class DeliveryRecord(ReadModel):
    """What one campaign notification did: to a person or a chat destination, on one channel."""

    id: uuid.UUID
    kind: NotificationKind
    channel: NotificationChannel
    person_id: uuid.UUID | None
    destination_id: uuid.UUID | None
    step_id: str | None
    status: NotificationStatus
    attempts: int
    sent_at: datetime | None
    reason: str | None
    created_at: datetime


class NotificationItem(BaseModel):
    """A notification that reached you (as recorded on the intranet)."""

    kind: Literal["notification"] = "notification"
    at: datetime
    notification_id: uuid.UUID
    notification_kind: NotificationKind
    title: str
    link: str | None = Field(description="The path of what it is about (relative to the API's base).")
