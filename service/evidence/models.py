"""Evidence: claims (figures, cases, quotes, small wins) that can go stale."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field

from service.db import TableBase, UTCDateTime
from service.evidence.schemas import EvidenceKind
from service.value_sets import one_of


class Evidence(TableBase, table=True):
    __tablename__ = "evidence"
    __table_args__ = (sa.CheckConstraint(one_of("kind", EvidenceKind), name="kind"),)

    kind: str = Field(max_length=16)
    claim: str = Field(sa_type=sa.Text)
    source: str = Field(sa_type=sa.Text)
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="people.id", index=True)
    # Past this date, unverified, the claim is expired and everything citing it is stale.
    verify_by: date | None = Field(default=None, index=True)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    verified_by_id: uuid.UUID | None = Field(default=None, foreign_key="people.id")
    replaced_by_id: uuid.UUID | None = Field(default=None, foreign_key="evidence.id")
