"""The outbox: one row per event, written in the transaction of the change that caused it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow

# SQLite makes only an INTEGER PRIMARY KEY its rowid (and AUTOINCREMENT never reuses a position,
# even after the newest rows were pruned); PostgreSQL gets a bigint from its sequence.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# JSONB on PostgreSQL (a worker or a stream may filter inside it); JSON text on SQLite.
EventData = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class OutboxEvent(SQLModel, table=True):
    """One event. `position` is its insert order; `seq` the order of commits, given after the
    fact by the sequencer, which readers follow (an SSE stream's `id:` and `Last-Event-ID`, the
    webhooks' fan-out); `id` is the event id receivers de-duplicate by.

    Positions grow with each insert, not with each commit: on PostgreSQL a transaction that
    began earlier may commit a smaller position later, so a reader resuming "after position N"
    could miss it. `seq` is given only to committed events, in one place, so it cannot."""

    __tablename__ = "event_outbox"
    __table_args__ = (
        sa.Index("ix_event_outbox_product_key_position", "product_key", "position"),
        sa.Index("ix_event_outbox_seq", "seq", unique=True),
        {"sqlite_autoincrement": True},
    )

    position: int | None = Field(
        default=None, sa_column=sa.Column(Position, primary_key=True, autoincrement=True)
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, unique=True)
    type: str = Field(max_length=64, index=True)
    version: int
    timestamp: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    data: dict[str, Any] = Field(sa_column=sa.Column(EventData, nullable=False))
    # The order readers follow (SSE streams, webhook fan-out): given by the sequencer once the
    # event's transaction has committed, so it never goes back (see service/events/sequencer.py).
    # None until then.
    seq: int | None = Field(default=None, sa_column=sa.Column(Position, nullable=True))
    # For events about one product (pitch.changed, brief.published, ...): per-product order and
    # the webhooks' `product_keys` filter, without reading inside `data`.
    product_key: str | None = Field(default=None, max_length=64)

    __table__: ClassVar[sa.Table]
