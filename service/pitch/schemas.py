"""The current pitch as CRMs read it, and usage they report."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from service.briefs.schemas import Translation
from service.evidence.schemas import Freshness, FreshnessStatus
from service.fields import InputModel, Locale, Slug


class PitchRequest(BaseModel):
    """What a pitch read asks for: validated the same way by REST and GraphQL (it keys the cache)."""

    model_config = ConfigDict(extra="ignore")

    product_key: Slug
    locale: Locale | None = None
    audience: Annotated[
        str | None, Field(max_length=64, description="A department key: its key messages.")
    ] = None
    segment: Annotated[str | None, Field(max_length=100, description="The deal's customer segment.")] = None
    competitor: Annotated[str | None, Field(max_length=100, description="The competitor in the deal.")] = None
    # The deal's customer: the pitch then leads with what was fixed for them. Context like
    # segment and competitor, so a CRM can always send it: a value nothing matches gives the
    # plain pitch, never an error (nor a sign of whether the account exists: pitch readers do
    # not read accounts).
    account: Annotated[
        str | None,
        Field(
            max_length=100,
            description="The deal's account: its key (or its exact name, as feedback names it)."
            " The pitch then leads with `fixed_for_account`, what was fixed for that account's"
            " feedback. Nothing fixed for it, no such account, or empty: the plain pitch (never an"
            " error, and never a sign of whether the account exists).",
        ),
    ] = None


class PitchEvidence(BaseModel):
    id: uuid.UUID
    kind: str
    claim: str
    source: str
    verify_by: date | None
    freshness: FreshnessStatus = Field(description="`stale` once past its verify-by date.")


class PitchMessage(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    audiences: list[str]
    channel: str
    feature_term: str | None = None
    value_statement: str | None = None
    metric: dict[str, Any] | None = None
    evidence: list[PitchEvidence] = []


class PitchFixTheme(BaseModel):
    id: uuid.UUID
    name: str


class PitchFixMessage(BaseModel):
    """The announcement as published now (its latest version: a withdrawn or expired one is
    never shown, and neither is its fix)."""

    id: uuid.UUID
    kind: str
    locale: str
    title: str
    body: str


class PitchFix(BaseModel):
    """Something the account asked for, built and announced to sales: "you asked — it's fixed"."""

    theme: PitchFixTheme | None = Field(description="The feedback theme (null: an item filed under none).")
    message: PitchFixMessage
    announced_at: datetime = Field(description="When the account's feedback was announced as fixed.")


class PitchRead(BaseModel):
    """The published brief's story for one product and locale, ready to show next to a deal."""

    fixed_for_account: list[PitchFix] | None = Field(
        default=None,
        description="Only when an account is asked for (REST `?account=`, GraphQL `account`), and then first: what was fixed for that account's feedback"
        " about this product (a `build` decision announced within CUECARD_PITCH_FIXED_FOR_DAYS, default"
        " 90), newest first, at most 10, one per theme. Absent (null) without it, or with nothing fixed.",
    )

    product_key: str
    product_name: str
    locale: str = Field(description="The locale served (also `Content-Language`).")
    fallback: bool = Field(
        description="True when the locale asked for is not published and another one in its"
        " fallback chain (CUECARD_LOCALE_FALLBACKS, else the product's first locale) is served."
    )
    translation: Translation | None = Field(
        description="A translated brief's standing against its source: `outdated` after the source's"
        " substantive revision, until the translation is revised (null: an original)."
    )
    brief_id: uuid.UUID
    version: int
    published_at: datetime
    title: str
    pitch: str
    value_proposition: str
    target_customer: str
    customer_next_action: str
    pains: list[dict[str, Any]]
    differentiators: list[dict[str, Any]]
    gut_check: dict[str, Any]
    evidence: list[PitchEvidence]
    value_translations: list[PitchMessage]
    key_messages: list[PitchMessage]
    talking_points: list[PitchMessage]
    faq: list[PitchMessage]
    audience: str | None
    freshness: Freshness


class UsageCreate(InputModel):
    event: Literal["shown", "used", "copied"]
    opportunity_ref: str | None = Field(default=None, max_length=200)
    user_email: EmailStr | None = Field(
        default=None,
        description="The CRM user who saw the pitch (integrations only): a person's own token"
        " records that person, and sending user_email with it is refused (422).",
    )
    locale: Locale | None = None
    audience: str | None = Field(default=None, max_length=64)


class UsageRecorded(BaseModel):
    id: uuid.UUID
    product_key: str
    version: int | None
    event: str
    occurred_at: datetime


class UsageCount(BaseModel):
    version: int | None
    locale: str
    audience: str | None
    event: str
    count: int


class UsageSummary(BaseModel):
    product_key: str
    counts: list[UsageCount]
