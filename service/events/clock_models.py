"""What the clock has fired: one row per occurrence of time passing (service/events/clock.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow


class ClockOccurrence(SQLModel, table=True):
    """A step that fell due for a person, evidence that expired, an item that went overdue, …

    Written in the transaction of its event: the unique `key` is what makes an occurrence fire
    exactly once, across restarts and concurrent workers (the loser of a race inserts nothing
    and so emits nothing). The other columns say the same in a form detectors' set-based
    queries can join against (NOT EXISTS) so that a restart resumes where it stopped."""

    __tablename__ = "clock_occurrences"
    __table_args__ = (
        # Detectors probe by the thing that fell due (and, for campaign steps, the person).
        sa.Index("ix_clock_occurrences_subject", "subject_id", "type", "person_id"),
    )

    # `<type>:<subject>[:<step_id> or :<step>][:<person>][:<due_on>][:<due_at>]`, see clock.Due.key
    # (before revision 0016 a campaign step was keyed by its index: such keys stay as they were).
    key: str = Field(primary_key=True, max_length=200)
    type: str = Field(max_length=64)
    # The campaign, evidence item, feedback item or check that fell due.
    subject_id: uuid.UUID
    person_id: uuid.UUID | None = None
    # A campaign step: its id (what identifies it) and its place in the plan when it fell due.
    step_id: uuid.UUID | None = None
    step: int | None = None
    # The date it fell due by (evidence: the verify_by it fired for).
    due_on: date | None = None
    # When it fell due (not when it was noticed: that is fired_at).
    due_at: datetime = Field(sa_type=UTCDateTime)
    fired_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    __table__: ClassVar[sa.Table]
