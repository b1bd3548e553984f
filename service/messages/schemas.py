"""Inputs and outputs for messages: the common score every department plays from."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, PrivateAttr, StringConstraints, field_validator

from service.errors import field_error
from service.evidence.schemas import Freshness
from service.fields import InputModel, Locale, ReadModel, Slug

# Change and Revise are one value set and input for briefs and messages (service/review.py),
# named here as each domain's own.
from service.review import Change as Change
from service.review import ExpiredEvidenceOverrideRead
from service.review import Revise as Revise


class MessageKind(StrEnum):
    VALUE_TRANSLATION = "value_translation"
    KEY_MESSAGE = "key_message"
    TALKING_POINT = "talking_point"
    FAQ = "faq"


class Channel(StrEnum):
    BRIEFING = "briefing"
    INTRANET = "intranet"
    NEWSLETTER = "newsletter"
    EMAIL = "email"
    CHAT = "chat"
    CRM_CARD = "crm_card"
    RECRUITING = "recruiting"


class MessageStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SCHEDULED = "scheduled"  # approved, going live at `publish_at`
    PUBLISHED = "published"
    SUPERSEDED = "superseded"  # a later version of the same lineage was published
    WITHDRAWN = "withdrawn"  # taken out of every pitch by an editor
    EXPIRED = "expired"  # past its `expires_at`


EVERYONE = "all"
# A department key, or "all" for every department.
Audience = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^(?:all|[a-z0-9]+(?:-[a-z0-9]+)*)$", max_length=64),
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
FeatureTerm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Statement = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Audiences = Annotated[list[Audience], Field(min_length=1, max_length=50)]
EvidenceIds = Annotated[list[uuid.UUID], Field(max_length=50)]
# A JSON number: an integer stays an integer; "3" (a string) and NaN/Infinity are refused.
MetricValue = Annotated[int, Field(strict=True)] | Annotated[float, Field(strict=True, allow_inf_nan=False)]

VALUE_TRANSLATION_FIELDS = ("feature_term", "value_statement", "metric")


def _unique(items: list[Any]) -> list[Any]:
    return list(dict.fromkeys(items))  # each once, in the order given: duplicates add nothing


class Metric(InputModel):
    """The measurable outcome behind a value statement, e.g. 3 hours/week from a pilot."""

    value: MetricValue
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    basis: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="Where the figure comes from (a pilot, a survey, a customer case)."
    )


class MessageCreate(InputModel):
    """A message: a value translation (feature word → value word with a measurable outcome), a
    key message, a talking point or an FAQ answer, for some audiences, one channel and one locale.

    With `brief_id` the message speaks for the brief's product (`product_key` may be omitted;
    a different one is refused). Without either it is company-wide and every pitch shows it.
    Value translations require `feature_term`, `value_statement` and `metric`.
    """

    brief_id: uuid.UUID | None = None
    product_key: Slug | None = None
    kind: MessageKind
    audiences: Audiences = Field(default_factory=lambda: [EVERYONE])
    channel: Channel = Channel.INTRANET
    locale: Locale | None = Field(
        default=None, description="BCP 47 tag; default: the brief's locale, else `en`."
    )
    title: Title
    body: Body = ""
    evidence_ids: EvidenceIds = Field(default_factory=list)
    feature_term: FeatureTerm | None = None
    value_statement: Statement | None = None
    metric: Metric | None = None
    expires_at: AwareDatetime | None = Field(
        default=None, description="After this time the published message leaves every pitch (`expired`)."
    )

    @field_validator("audiences", "evidence_ids")
    @classmethod
    def _each_once(cls, items: list[Any]) -> list[Any]:
        return _unique(items)


class MessageUpdate(InputModel):
    """Fields to change; absent fields stay as they are. `null` clears `brief_id`, `product_key`,
    `feature_term`, `value_statement`, `metric` (not on a value translation) and `expires_at`.
    Only drafts change: a published version is revised (`/revise`)."""

    brief_id: uuid.UUID | None = None
    product_key: Slug | None = None
    kind: MessageKind | None = None
    audiences: Audiences | None = None
    channel: Channel | None = None
    locale: Locale | None = None
    title: Title | None = None
    body: Body | None = None
    evidence_ids: EvidenceIds | None = None
    feature_term: FeatureTerm | None = None
    value_statement: Statement | None = None
    metric: Metric | None = None
    expires_at: AwareDatetime | None = None

    @field_validator("audiences", "evidence_ids")
    @classmethod
    def _each_once(cls, items: list[Any] | None) -> list[Any] | None:
        return None if items is None else _unique(items)


# Fields a message always has: an update may change them but not clear them.
NOT_NULL_ON_UPDATE = ("kind", "audiences", "channel", "locale", "title", "body", "evidence_ids")


def missing_value_translation_fields(kind: str, values: dict[str, Any]) -> list[dict[str, str]]:
    """One validation error per value-translation field that is missing (empty for other kinds)."""
    if kind != "value_translation":
        return []
    return [
        field_error(name, "required for a value translation", type_="missing")
        for name in VALUE_TRANSLATION_FIELDS
        if values.get(name) is None
    ]


class MetricRead(BaseModel):
    value: int | float
    unit: str
    basis: str = Field(description="Where the figure comes from (a pilot, a survey, a case).")


class LintFinding(BaseModel):
    """A feature word without a measurable outcome in its sentence; offsets count Unicode code
    points, so `text[start:end] == word`."""

    start: int
    end: int
    word: str
    message: str


class LintWarning(LintFinding):
    """A lint finding in one field of a message or brief; advisory, the write still happens."""

    field: str


class RequestChanges(InputModel):
    comment: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class MessageRead(ReadModel):
    """A message version. Its `ETag` travels in the response header; send it back as `If-Match`."""

    id: uuid.UUID
    lineage_id: uuid.UUID = Field(description="The id shared by every version of this message.")
    version: int
    change: Change | None
    brief_id: uuid.UUID | None
    product_key: str | None = Field(description="Null for a company-wide message.")
    kind: MessageKind
    audiences: list[str] = Field(description='Department keys, or "all".')
    channel: Channel
    locale: str
    title: str
    body: str
    feature_term: str | None
    value_statement: str | None
    metric: MetricRead | None
    evidence_ids: list[uuid.UUID]
    freshness: Freshness
    status: MessageStatus
    published_at: datetime | None
    publish_at: datetime | None = Field(description="When a scheduled version goes live.")
    expires_at: datetime | None
    withdrawn_at: datetime | None
    submitted_at: datetime | None
    review_comment: str | None
    published_by_id: uuid.UUID | None = Field(description="Who approved this version.")
    expired_evidence_override: ExpiredEvidenceOverrideRead | None = Field(
        description="Approved although cited evidence had expired: by whom, why, which items."
    )
    author_id: uuid.UUID | None
    last_editor_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    warnings: list[LintWarning] = Field(
        description="Feature words without a measurable outcome (value-word lint); advisory."
    )

    # The entity tag of the row version this was read from: a header, never a body field.
    _etag: str = PrivateAttr(default="")

    @property
    def etag(self) -> str:
        return self._etag

    def tagged(self, etag: str) -> MessageRead:
        self._etag = etag
        return self


class LintRequest(InputModel):
    locale: Locale = "en"
    text: Annotated[str, StringConstraints(max_length=20_000)]


class LintResponse(BaseModel):
    findings: list[LintFinding]
