"""Webhooks: the URLs systems register to receive events, with the secrets that sign them, and
the deliveries of events to them with every attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db import TableBase, UTCDateTime, utcnow
from service.events.models import Position
from service.value_sets import one_of


class Webhook(TableBase, table=True):
    """A registered receiver. The secrets are kept as they are, not hashed: signing (HMAC)
    needs the key itself. They leave the service only in the answer that creates them."""

    __tablename__ = "webhooks"

    url: str = Field(max_length=2048)
    # Event type strings of the catalogue (service/events/catalogue.py).
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    # Only events of these products (None: every product, and events of no product).
    product_keys: list[str] | None = Field(default=None, sa_type=sa.JSON)
    active: bool = Field(default=True)
    # The principal's subject: `person:<uuid>`, `client:<client_id>` or `operator:<name>`. A
    # client manages only the webhooks whose creator it is.
    created_by: str = Field(max_length=200, index=True)
    secret: str = Field(max_length=100)
    # During a rotation's overlap the old secret signs beside the new one, until it expires.
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why the delivery worker paused it (set by the worker; None while it delivers).
    paused_reason: str | None = Field(default=None, max_length=500)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its turn, its retry time, or its webhook to be resumed
    DELIVERING = "delivering"  # claimed by a worker, leased until `locked_until`
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # gave up (the give-up window passed, or the receiver answered 410)
    CANCELLED = "cancelled"  # not sent: its subscriber may no longer read the event (`reason`)


UNFINISHED = (DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value)


class WebhookDelivery(TableBase, table=True):
    """One event for one webhook, sent until the receiver takes it (at least once).

    `event_seq` orders a webhook's deliveries of one product (a lane: the same `product_key`,
    or none): one is not sent while an earlier one of its lane is unfinished. Deliveries asked
    for by hand (`webhook.ping`, a redelivery) have none and wait for nobody."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", DeliveryStatus), name="status"),
        # The claim: due pending deliveries, and leases that ran out.
        sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        # Lane order: an earlier unfinished delivery of the same webhook and product.
        sa.Index("ix_webhook_deliveries_lane", "webhook_id", "product_key", "event_seq"),
        # The deliveries list of one webhook, newest first.
        sa.Index("ix_webhook_deliveries_webhook_id_created_at", "webhook_id", "created_at", "id"),
    )

    webhook_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    )
    event_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("event_outbox.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    event_seq: int | None = Field(default=None, sa_column=sa.Column(Position, nullable=True))
    event_type: str = Field(max_length=64)
    product_key: str | None = Field(default=None, max_length=64)
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # While `delivering`: the worker's lease. Once it has passed, another worker may send again.
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why it was cancelled or given up.
    reason: str | None = Field(default=None, max_length=500)
    # A redelivery: the delivery it sends again.
    redelivery_of: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("webhook_deliveries.id", ondelete="SET NULL"), nullable=True
        ),
    )


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"  # 2xx
    HTTP_ERROR = "http_error"  # another status (410: see GONE)
    GONE = "gone"  # 410: the receiver asks for no more; the webhook is disabled
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    PROTOCOL = "protocol"
    REFUSED = "refused"  # the SSRF guard refused the address at connect time: nothing was sent
    LOST = "lost"  # a worker's lease ran out before it recorded what happened; sent again


class WebhookDeliveryAttempt(SQLModel, table=True):
    """One attempt to send a delivery, as it went."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (
        sa.CheckConstraint(one_of("outcome", AttemptOutcome), name="outcome"),
        # A webhook's newest attempts (the pause rule), and attempts by time (metrics).
        sa.Index("ix_webhook_delivery_attempts_webhook_id_attempted_at", "webhook_id", "attempted_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    delivery_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    webhook_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    )
    attempt: int  # 1 for the first
    attempted_at: datetime = Field(sa_type=UTCDateTime, index=True)
    status_code: int | None = None
    latency_ms: int | None = None
    outcome: str = Field(max_length=16)
    error: str | None = Field(default=None, max_length=500)
    # When the delivery is tried again after this attempt (None: it is not).
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
