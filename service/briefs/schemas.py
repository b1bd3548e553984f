"""Inputs and outputs for briefs: the baton from planning to sales."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from service.evidence.schemas import EvidenceCreate, EvidenceRead, EvidenceRef, Freshness
from service.fields import InputModel, Locale, Slug
from service.messages.schemas import LintWarning

# Change and Revise are one value set and input for briefs and messages (service/review.py),
# named here as each domain's own.
from service.review import Change as Change
from service.review import ExpiredEvidenceOverrideRead
from service.review import Revise as Revise


class PainKind(StrEnum):
    """The customer's pain: 不満 dissatisfaction, 不便 inconvenience or 不安 anxiety."""

    DISSATISFACTION = "dissatisfaction"
    INCONVENIENCE = "inconvenience"
    ANXIETY = "anxiety"


class BriefStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SCHEDULED = "scheduled"  # approved, going live at `publish_at`
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    ARCHIVED = "archived"


class TranslationStatus(StrEnum):
    """A translation is `outdated` once its source published a substantive version after the
    one it was translated from, until a revised translation is published."""

    CURRENT = "current"
    OUTDATED = "outdated"


class Translation(BaseModel):
    """How a translation stands against its source brief."""

    status: TranslationStatus
    source_version: int | None = Field(description="The source's version this one was translated from.")


Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Para = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Sentence = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Answer = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
# Inline evidence becomes a stored item; {"id": ...} cites an existing one.
Citation = Annotated[EvidenceRef | EvidenceCreate, Field(union_mode="left_to_right")]


class Pain(InputModel):
    """Whose pain the product removes, typed as dissatisfaction, inconvenience or anxiety."""

    kind: PainKind
    text: Sentence


class Differentiator(InputModel):
    """How it differs from an alternative, and what we deliberately give up for it."""

    alternative: Short
    difference: Sentence
    trade_off: Answer | None = None


class GutCheck(InputModel):
    """The 腹落ち questions: understood in the gut, not just in the head."""

    who_changes: Answer | None = None
    next_action: Answer | None = None
    what_we_give_up: Answer | None = None


class BriefContent(InputModel):
    background: Para = ""
    target_customer: Para = ""
    pains: list[Pain] = Field(default_factory=list, max_length=20)
    value_proposition: Para = ""
    differentiators: list[Differentiator] = Field(default_factory=list, max_length=20)
    evidence: list[Citation] = Field(default_factory=list, max_length=50)
    pitch: Para = ""
    customer_next_action: Para = ""
    gut_check: GutCheck = Field(default_factory=GutCheck)


class BriefCreate(BriefContent):
    product_key: Slug
    locale: Locale = "en"
    title: Short
    translation_of: uuid.UUID | None = Field(
        default=None,
        description="The lineage id of the brief this one translates (same product, another locale).",
    )


class BriefUpdate(InputModel):
    """Fields to change on a draft; a list given replaces the list (evidence included)."""

    title: Short | None = None
    background: Para | None = None
    target_customer: Para | None = None
    pains: list[Pain] | None = Field(default=None, max_length=20)
    value_proposition: Para | None = None
    differentiators: list[Differentiator] | None = Field(default=None, max_length=20)
    evidence: list[Citation] | None = Field(default=None, max_length=50)
    pitch: Para | None = None
    customer_next_action: Para | None = None
    gut_check: GutCheck | None = None


class RequestChanges(InputModel):
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class Speakability(BaseModel):
    """Can the pitch be said out loud in 30 seconds?"""

    estimated_seconds: float
    limit_seconds: int
    ok: bool
    basis: str


class BriefRead(BaseModel):
    id: uuid.UUID
    lineage_id: uuid.UUID = Field(description="The id shared by every version of this brief.")
    version: int
    change: Change | None
    product_id: uuid.UUID
    product_key: str
    locale: str
    status: BriefStatus
    title: str
    background: str
    target_customer: str
    pains: list[Pain]
    value_proposition: str
    differentiators: list[Differentiator]
    evidence: list[EvidenceRead]
    pitch: str = Field(description="The 30-second pitch.")
    customer_next_action: str
    gut_check: GutCheck
    freshness: Freshness
    translation_of: uuid.UUID | None = Field(
        default=None, description="The lineage id of the brief this one translates (null: an original)."
    )
    translation: Translation | None = Field(
        default=None, description="A translation's standing against its source (null: an original)."
    )
    speakability: Speakability
    warnings: list[LintWarning]
    author_id: uuid.UUID | None
    last_editor_id: uuid.UUID | None
    review_comment: str | None
    submitted_at: datetime | None
    published_at: datetime | None
    publish_at: datetime | None = Field(description="When a scheduled version goes live.")
    published_by_id: uuid.UUID | None = Field(description="Who approved this version.")
    expired_evidence_override: ExpiredEvidenceOverrideRead | None = Field(
        description="Approved although cited evidence had expired: by whom, why, which items."
    )
    created_at: datetime
    updated_at: datetime
    revision: int  # of this row; the ETag is derived from it
