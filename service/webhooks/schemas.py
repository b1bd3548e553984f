"""Inputs and outputs of the webhooks management API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from service.fields import InputModel, ReadModel, Slug
from service.webhooks.models import AttemptOutcome, DeliveryStatus

WebhookURL = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
EventTypeName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MAX_EVENTS = 64
MAX_PRODUCT_KEYS = 100


class WebhookCreate(InputModel):
    url: WebhookURL = Field(
        description="Where events are POSTed: http(s), a public address (see docs/webhooks.md)."
    )
    events: list[EventTypeName] = Field(
        min_length=1, max_length=MAX_EVENTS, description="Event types to receive (docs/events.md), each once."
    )
    product_keys: list[Slug] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PRODUCT_KEYS,
        description="Only events of these products (default: every event of the chosen types).",
    )


class WebhookUpdate(InputModel):
    """Fields to change; absent fields stay as they are. `product_keys: null` drops the filter."""

    url: WebhookURL | None = None
    events: list[EventTypeName] | None = Field(default=None, min_length=1, max_length=MAX_EVENTS)
    product_keys: list[Slug] | None = Field(default=None, min_length=1, max_length=MAX_PRODUCT_KEYS)
    active: bool | None = None


class WebhookRead(ReadModel):
    """A webhook as listed: never its secret."""

    id: uuid.UUID
    url: str
    events: list[str]
    product_keys: list[str] | None
    active: bool
    paused_reason: str | None = Field(description="Why deliveries are paused, when they are.")
    created_by: str = Field(description="Who registered it: `person:<id>` or `client:<client_id>`.")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until when the previous secret still signs beside the new one."
    )
    created_at: datetime
    updated_at: datetime
    revision: int  # of this row; the ETag is derived from it


class WebhookCreated(WebhookRead):
    """Shown once: the signing secret (`whsec_…`)."""

    secret: str


class WebhookSecretRotated(BaseModel):
    """Shown once: the new secret. The previous one keeps signing until `previous_secret_expires_at`."""

    id: uuid.UUID
    secret: str
    previous_secret_expires_at: datetime
    revision: int


class DeliveryAttemptRead(BaseModel):
    """One attempt to send a delivery."""

    attempt: int = Field(description="1 for the first attempt.")
    at: datetime = Field(description="When it was made.")
    outcome: AttemptOutcome
    status_code: int | None = Field(description="The receiver's HTTP status (null: no answer).")
    latency_ms: int | None
    error: str | None = Field(description="What went wrong, bounded (null when delivered).")
    next_attempt_at: datetime | None = Field(description="When it is tried again after this attempt.")


class DeliveryRead(BaseModel):
    """One event sent to one webhook, with every attempt (oldest first). `attempt`,
    `status_code`, `error`, `latency_ms` and `at` repeat the newest attempt (null before the first)."""

    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID = Field(
        description="Sent as `webhook-id` on every attempt: receivers de-duplicate by it."
    )
    event_type: str
    product_key: str | None
    status: DeliveryStatus
    attempt: int = Field(description="Attempts made so far.")
    status_code: int | None
    error: str | None
    latency_ms: int | None
    at: datetime | None = Field(description="When the newest attempt was made.")
    next_attempt_at: datetime | None = Field(description="When it is (next) due; null once finished.")
    reason: str | None = Field(description="Why it was cancelled or given up.")
    redelivery_of: uuid.UUID | None = Field(description="The delivery this one sends again.")
    created_at: datetime
    finished_at: datetime | None
    revision: int  # of this row; the ETag is derived from it
    attempts: list[DeliveryAttemptRead]
