"""Value sets of notifications: what a notification is about, where it goes, how it stands."""

from __future__ import annotations

from enum import StrEnum


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


class Channel(StrEnum):
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


UNFINISHED = (NotificationStatus.PENDING.value, NotificationStatus.SENDING.value)
