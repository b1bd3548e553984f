"""The feed's entries. Every entry carries a `kind` (`campaign_step`, `feedback_loop`,
`notification`); new kinds
join the `FeedItem` union without changing the shape of the response."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from service.campaigns.schemas import CampaignStepItem
from service.feedback.schemas import Decision, FeedbackSource, LoopStage
from service.notifications.schemas import NotificationItem


class LoopStep(BaseModel):
    """One step the item took: where it went, when, and what was said."""

    to: LoopStage
    at: datetime
    note: str | None
    decision: Decision | None


class Announcement(BaseModel):
    """The message that told sales what was done about it."""

    message_id: uuid.UUID
    title: str | None = Field(description="Null when the message is no longer visible to you.")


class FeedbackLoopItem(BaseModel):
    """Feedback you filed (or an integration filed for you), and how far its loop got."""

    kind: Literal["feedback_loop"] = "feedback_loop"
    at: datetime = Field(description="The latest news: when it was filed or last moved.")
    feedback_id: uuid.UUID
    excerpt: str
    source: FeedbackSource
    product_key: str | None
    received_at: datetime
    status: LoopStage
    decision: Decision | None
    rationale: str | None
    stage_due_at: datetime | None
    overdue: bool
    transitions: list[LoopStep]
    announcement: Announcement | None


FeedItem = Annotated[CampaignStepItem | FeedbackLoopItem | NotificationItem, Field(discriminator="kind")]


class Feed(BaseModel):
    """The caller's feed: campaign steps first (due ones, then upcoming, soonest first),
    then news about the feedback they filed (most recent first), then the notifications that
    reached them (most recent first)."""

    items: list[FeedItem]
