"""Inputs and outputs for feedback items, themes, the loop and the weekly digest."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    EmailStr,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from service.accounts.schemas import MoneyRead
from service.fields import InputModel, Name, ReadModel, Slug


# Each value set once: these feed the pydantic schemas (REST, OpenAPI), the table's CHECK
# constraints (models.py) and the GraphQL enums (graphql.py).
class FeedbackSource(StrEnum):
    """Where a piece of customer voice came from."""

    SUPPORT = "support"
    SALES = "sales"
    NPS = "nps"
    SURVEY = "survey"
    INTERVIEW = "interview"
    OTHER = "other"


class LoopStage(StrEnum):
    """The loop: new → triaged → decided → implemented → announced."""

    NEW = "new"
    TRIAGED = "triaged"
    DECIDED = "decided"
    IMPLEMENTED = "implemented"
    ANNOUNCED = "announced"


class Decision(StrEnum):
    """What was decided: build it, or deliberately stop (not build) it."""

    BUILD = "build"
    STOP = "stop"


class BulkAction(StrEnum):
    """What `POST /feedback/bulk` does to each item: file it under a theme, or move it on."""

    ASSIGN_THEME = "assign_theme"
    TRANSITION = "transition"


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class Customer(InputModel):
    account: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    segment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None


class FeedbackCreate(InputModel):
    """One piece of customer voice. `nps_score` (0–10) is required for `source: nps`.

    Integrations send `external_id` (their ticket or response id): the same source and
    external id again updates the item instead of adding one. `filed_by_email` names the
    employee who heard it (they follow the item in their feed).
    """

    source: FeedbackSource
    external_id: ExternalId | None = None
    product_key: Slug | None = None
    customer: Customer | None = None
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    # Validated even when absent, so a missing NPS score is reported against `nps_score`.
    nps_score: Annotated[int, Field(ge=0, le=10)] | None = Field(default=None, validate_default=True)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    received_at: datetime | None = None
    filed_by_email: EmailStr | None = None

    @field_validator("nps_score")
    @classmethod
    def _nps_needs_a_score(cls, score: int | None, info: ValidationInfo) -> int | None:
        if score is None and info.data.get("source") == "nps":
            raise ValueError("nps_score (0-10) is required when source is nps")
        return score


class FeedbackBatch(BaseModel):
    """Up to 10,000 items; each is validated on its own so good items are kept."""

    # Any JSON value per entry: each is checked against FeedbackCreate by itself, so one that is
    # not even an object is reported by its index instead of refusing the whole batch.
    items: list[Any] = Field(
        max_length=10_000, description="FeedbackCreate objects; each is validated on its own."
    )


class ItemError(BaseModel):
    index: int
    external_id: str | None
    errors: list[dict[str, Any]]


class BatchResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    errors: list[ItemError]


class FeedbackUpdate(InputModel):
    """Triage details: the theme it belongs to, tags, product."""

    theme_id: uuid.UUID | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    product_key: Slug | None = None


class Transition(InputModel):
    """Move an item one stage on: new → triaged → decided → implemented → announced.

    Deciding needs `decision` (build or stop) and a `rationale`: deciding what not to build
    is an outcome too. Announcing links the `message_id` that tells sales what was done.
    """

    to: LoopStage
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    decision: Decision | None = None
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    message_id: uuid.UUID | None = None


class Proposals(BaseModel):
    """Drafts the service wrote on behalf of whoever decided to stop, for an editor to review:
    the trade-off added under "what we give up" in a draft of the product's current brief, and
    an FAQ message answering the objection. Null ids: nothing to propose into (no product, no
    published brief, or its next version already in review)."""

    brief_id: uuid.UUID | None
    message_id: uuid.UUID | None


class TransitionRead(ReadModel):
    id: uuid.UUID
    from_status: LoopStage
    to_status: LoopStage
    decision: Decision | None
    note: str | None
    actor_id: uuid.UUID | None
    at: datetime


class FeedbackRead(BaseModel):
    id: uuid.UUID
    source: FeedbackSource
    external_id: str
    product_key: str | None
    customer: Customer
    body: str
    nps_score: int | None
    tags: list[str]
    received_at: datetime
    status: LoopStage
    decision: Decision | None
    rationale: str | None
    theme_id: uuid.UUID | None
    filed_by_id: uuid.UUID | None
    stage_due_at: datetime | None = Field(description="When the next stage is due.")
    overdue: bool
    triaged_at: datetime | None
    decided_at: datetime | None
    implemented_at: datetime | None
    announced_at: datetime | None
    announcement_message_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    revision: int


class TransitionResult(FeedbackRead):
    """The item after its step; a stop decision also names the drafts it proposed."""

    proposals: Proposals | None = Field(
        default=None, description="Set when the step decided to stop: the drafts proposed for review."
    )


class ThemeTransitionResult(BaseModel):
    """What a theme's step did to its open items (merged themes' included)."""

    theme_id: uuid.UUID
    stage: LoopStage
    moved: int = Field(description="Open items that made the step.")
    skipped: int = Field(description="Open items that cannot make this step from their stage.")
    proposals: Proposals | None = Field(
        default=None, description="Set when the step decided to stop: the drafts proposed for review."
    )


class FeedbackBulk(InputModel):
    """One action on up to 1,000 items, each applied (or refused) on its own.

    `assign_theme` needs `theme_id`; `transition` needs `to` (and what that step needs: `decision`
    and `rationale` to decide, `message_id` to announce)."""

    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
    action: BulkAction
    theme_id: uuid.UUID | None = None
    to: LoopStage | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    decision: Decision | None = None
    rationale: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    message_id: uuid.UUID | None = None


class BulkItemResult(BaseModel):
    """One item's outcome: `status` is the HTTP status its single-item call would have answered."""

    id: uuid.UUID
    status: int
    _error: Any = PrivateAttr(default=None)  # the domain error (adapters render it)

    def failed(self, error: Any) -> BulkItemResult:
        self._error = error
        return self

    @property
    def error(self) -> Any:
        return self._error


class BulkResult(BaseModel):
    results: list[BulkItemResult]
    proposals: list[Proposals] = Field(
        default_factory=list,
        description="Drafts proposed by the stop decisions among the items (one pair per product).",
    )


class BulkItemRead(BaseModel):
    id: uuid.UUID
    status: int = Field(description="The HTTP status the single-item call would have answered.")
    error: dict[str, Any] | None = Field(
        default=None, description="The RFC 9457 problem the single-item call would have answered."
    )


class BulkRead(BaseModel):
    """Each item's outcome, in the order of `ids`; an item is changed entirely or not at all."""

    results: list[BulkItemRead]
    proposals: list[Proposals] = Field(
        default_factory=list,
        description="Drafts proposed by the stop decisions among the items (one pair per product).",
    )


class ThemeCreate(InputModel):
    name: Name
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""
    product_key: Slug | None = None


class ThemeMerge(InputModel):
    """Merge this theme into another: every item moves, nothing is lost."""

    into: uuid.UUID


class ThemeRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    product_key: str | None
    merged_into_id: uuid.UUID | None
    stage: LoopStage | None = Field(
        description="How far the theme was moved as a whole (null: never); items that join it follow."
    )
    decision: Decision | None
    rationale: str | None
    announcement_message_id: uuid.UUID | None
    items: int = Field(description="Feedback items in this theme (merged themes' included).")
    accounts: int = Field(description="Distinct customer accounts that raised it.")
    revenue: list[MoneyRead] = Field(
        default_factory=list,
        description="Annual revenue of those distinct accounts, summed per currency (by currency "
        "code; never converted: no exchange rates). Accounts without a revenue add nothing.",
    )
    created_at: datetime
    revision: int


class NpsSummary(BaseModel):
    responses: int
    promoters: int
    passives: int
    detractors: int
    score: float | None  # % promoters − % detractors, -100..100; null without responses


class Count(BaseModel):
    key: str | None
    label: str | None = None
    count: int


class ThemeDemand(BaseModel):
    """One theme's demand in the window: its items, the distinct accounts that raised them and
    those accounts' annual revenue per currency."""

    key: str | None = Field(description="The theme's id; null for the items not themed yet.")
    label: str | None
    count: int = Field(description="Items received in the window.")
    accounts: int = Field(description="Distinct customer accounts among them.")
    revenue: list[MoneyRead] = Field(
        description="Annual revenue of those distinct accounts, summed per currency (never converted)."
    )


class DecisionSummary(BaseModel):
    """One decision on a theme (however many items it moved), or the unthemed items decided
    one by one, by decision."""

    theme_id: uuid.UUID | None
    theme: str | None
    decision: Decision
    rationale: str | None = Field(
        description="The rationale of the latest decision in the group (a theme's decision is "
        "one rationale; unthemed items were decided one by one)."
    )
    items: int = Field(description="Items decided so in the window.")
    decided_at: datetime = Field(description="The latest of those decisions.")


RANKING_RULE = (
    "Themes ranked by revenue-weighted demand, without exchange rates: `currencies` lists the "
    "currencies of the window's accounts, the one carrying the most demand first (the most "
    "theme-account pairs: an account asking for a theme, with its revenue in that currency); "
    "themes compare by their distinct accounts' revenue in the first currency, a tie (or "
    "no revenue in it) is broken by the next currency, and so on, then by distinct accounts, then "
    "by items. The unthemed items come last."
)


class Digest(BaseModel):
    """The weekly 15-minute review of what the customer said and what was done about it."""

    since: datetime
    until: datetime
    product_key: str | None = Field(
        default=None, description="The product the digest is about; null for every item."
    )
    total: int
    by_source: list[Count]
    by_theme: list[Count] = Field(
        description="Most items first; items of merged themes count under the survivor."
    )
    currencies: list[str] = Field(
        default_factory=list, description="The ranking's currency order (see `themes`)."
    )
    themes: list[ThemeDemand] = Field(default_factory=list, description=RANKING_RULE)
    nps: NpsSummary
    decided: dict[str, int]  # {"build": n, "stop": n} in the window
    decisions: list[DecisionSummary] = Field(
        default_factory=list,
        description="Decisions made in the window, once per theme and decision (items of merged "
        "themes under the survivor), most items first; unthemed items as one row per decision.",
    )
    loop_gaps: list[uuid.UUID] = Field(
        description="Implemented but not yet announced, oldest first (up to 100), whatever the window."
    )
    overdue: list[uuid.UUID] = Field(
        description="A stage past its due time, longest overdue first (up to 100), whatever the window."
    )
    median_loop_days: float | None = Field(
        description="Median days from received to announced, for items announced in the window."
    )
