"""Inputs and outputs for evidence items."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from service.fields import InputModel, ReadModel


class EvidenceKind(StrEnum):
    METRIC = "metric"
    CASE = "case"
    QUOTE = "quote"
    SMALL_WIN = "small_win"


class FreshnessStatus(StrEnum):
    FRESH = "fresh"
    STALE = "stale"


Claim = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class EvidenceCreate(InputModel):
    kind: EvidenceKind
    claim: Claim
    source: Claim
    owner_id: uuid.UUID | None = Field(
        default=None, description="Who answers for the claim; default: the caller."
    )
    verify_by: date | None = Field(
        default=None, description="The date by which the claim must be checked again."
    )


class EvidenceRef(InputModel):
    """Cite an existing evidence item by id."""

    id: uuid.UUID


class EvidenceVerify(InputModel):
    """Re-verify a claim; `verify_by` is the next date it must be checked again (default +90 days)."""

    verify_by: date | None = None


class EvidenceRead(ReadModel):
    id: uuid.UUID
    kind: EvidenceKind
    claim: str
    source: str
    owner_id: uuid.UUID | None
    verify_by: date | None
    verified_at: datetime | None
    expired: bool = Field(description="Past its verify-by date and not re-verified.")
    replaced_by_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    revision: int


class Freshness(BaseModel):
    """`stale` while any cited evidence is past its verify-by date, naming those items."""

    status: FreshnessStatus
    expired: list[uuid.UUID] = Field(description="The ids of the expired evidence items.")
