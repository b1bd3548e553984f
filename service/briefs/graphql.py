"""GraphQL types, queries and mutations for briefs and their review workflow."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from service.api.graphql import Connection, Context, page_args, to_uuid, validate_input
from service.briefs import service as briefs_service
from service.briefs.schemas import (
    BriefCreate,
    BriefRead,
    BriefUpdate,
    Differentiator,
    GutCheck,
    LintWarning,
    Pain,
    RequestChanges,
    Revise,
    Speakability,
)
from service.evidence.graphql import EvidenceKind, EvidenceType, FreshnessType
from service.fields import InputModel, Locale, Slug
from service.products.graphql import ProductType

if TYPE_CHECKING:
    from service.messages.graphql import MessageType


@strawberry.enum
class BriefStatus(Enum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    ARCHIVED = "archived"


@strawberry.enum(
    description="How much a new version changes: a substantive one asks people to re-acknowledge."
)
class BriefChange(Enum):
    SUBSTANTIVE = "substantive"
    MINOR = "minor"


@strawberry.enum(description="The customer's pain: 不満 dissatisfaction, 不便 inconvenience or 不安 anxiety.")
class PainKind(Enum):
    DISSATISFACTION = "dissatisfaction"
    INCONVENIENCE = "inconvenience"
    ANXIETY = "anxiety"


# --- output types ------------------------------------------------------------------------------


@strawberry.type(name="Pain")
class PainType:
    kind: PainKind
    text: str

    @classmethod
    def from_model(cls, p: Pain) -> PainType:
        return cls(kind=PainKind(p.kind), text=p.text)


@strawberry.type(
    name="Differentiator", description="How it differs from an alternative, and what it gives up."
)
class DifferentiatorType:
    alternative: str
    difference: str
    trade_off: str | None

    @classmethod
    def from_model(cls, d: Differentiator) -> DifferentiatorType:
        return cls(alternative=d.alternative, difference=d.difference, trade_off=d.trade_off)


@strawberry.type(
    name="GutCheck", description="The 腹落ち questions: understood in the gut, not just the head."
)
class GutCheckType:
    who_changes: str | None
    next_action: str | None
    what_we_give_up: str | None

    @classmethod
    def from_model(cls, g: GutCheck) -> GutCheckType:
        return cls(who_changes=g.who_changes, next_action=g.next_action, what_we_give_up=g.what_we_give_up)


@strawberry.type(name="Speakability", description="Can the pitch be said out loud in 30 seconds?")
class SpeakabilityType:
    estimated_seconds: float
    limit_seconds: int
    ok: bool
    basis: str

    @classmethod
    def from_model(cls, s: Speakability) -> SpeakabilityType:
        return cls(
            estimated_seconds=s.estimated_seconds, limit_seconds=s.limit_seconds, ok=s.ok, basis=s.basis
        )


@strawberry.type(
    name="LintWarning",
    description="A feature word with no measurable outcome nearby (advisory), in one field.",
)
class LintWarningType:
    field: str
    start: int
    end: int
    word: str
    message: str

    @classmethod
    def from_model(cls, w: LintWarning) -> LintWarningType:
        return cls(field=w.field, start=w.start, end=w.end, word=w.word, message=w.message)


@strawberry.type(name="Brief", description="One version of a brief: the baton from planning to sales.")
class BriefType:
    id: strawberry.ID
    lineage_id: strawberry.ID = strawberry.field(description="The id shared by every version of this brief.")
    version: int
    change: BriefChange | None
    product_key: str
    locale: str
    status: BriefStatus
    title: str
    background: str
    target_customer: str
    pains: list[PainType]
    value_proposition: str
    differentiators: list[DifferentiatorType]
    evidence: list[EvidenceType]
    pitch: str = strawberry.field(description="The 30-second pitch.")
    customer_next_action: str
    gut_check: GutCheckType
    freshness: FreshnessType
    speakability: SpeakabilityType
    warnings: list[LintWarningType]
    author_id: strawberry.ID | None
    last_editor_id: strawberry.ID | None
    review_comment: str | None
    submitted_at: dt.datetime | None
    published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    etag: str = strawberry.field(description="The ETag: pass it as `ifMatch` to refuse stale writes.")
    brief_id: strawberry.Private[uuid.UUID]
    lineage: strawberry.Private[uuid.UUID]
    product_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The product this brief is about.")
    async def product(self, info: Info[Context, None]) -> ProductType | None:
        found = await info.context.loaders.product.load(self.product_id)
        return ProductType.from_model(found) if found else None

    @strawberry.field(
        description="The messages speaking for any version of this brief that the caller may see."
    )
    async def messages(
        self, info: Info[Context, None]
    ) -> list[Annotated[MessageType, strawberry.lazy("service.messages.graphql")]]:
        from service.messages.graphql import MessageType

        return [
            MessageType.from_model(m) for m in await info.context.loaders.brief_messages.load(self.lineage)
        ]

    @strawberry.field(description="Every version of this brief that the caller may see, oldest first.")
    async def versions(self, info: Info[Context, None]) -> list[BriefType]:
        return [BriefType.from_model(b) for b in await info.context.loaders.brief_versions.load(self.lineage)]

    @classmethod
    def from_model(cls, b: BriefRead) -> BriefType:
        return cls(
            id=strawberry.ID(str(b.id)),
            lineage_id=strawberry.ID(str(b.lineage_id)),
            version=b.version,
            change=BriefChange(b.change) if b.change else None,
            product_key=b.product_key,
            locale=b.locale,
            status=BriefStatus(b.status),
            title=b.title,
            background=b.background,
            target_customer=b.target_customer,
            pains=[PainType.from_model(p) for p in b.pains],
            value_proposition=b.value_proposition,
            differentiators=[DifferentiatorType.from_model(d) for d in b.differentiators],
            evidence=[EvidenceType.from_model(e) for e in b.evidence],
            pitch=b.pitch,
            customer_next_action=b.customer_next_action,
            gut_check=GutCheckType.from_model(b.gut_check),
            freshness=FreshnessType.from_model(b.freshness),
            speakability=SpeakabilityType.from_model(b.speakability),
            warnings=[LintWarningType.from_model(w) for w in b.warnings],
            author_id=strawberry.ID(str(b.author_id)) if b.author_id else None,
            last_editor_id=strawberry.ID(str(b.last_editor_id)) if b.last_editor_id else None,
            review_comment=b.review_comment,
            submitted_at=b.submitted_at,
            published_at=b.published_at,
            created_at=b.created_at,
            updated_at=b.updated_at,
            etag=briefs_service.brief_etag(b),
            brief_id=b.id,
            product_id=b.product_id,
            lineage=b.lineage_id,
        )


# --- inputs ------------------------------------------------------------------------------------


@strawberry.input
class PainInput:
    kind: PainKind
    text: str


@strawberry.input
class DifferentiatorInput:
    alternative: str
    difference: str
    trade_off: str | None = None


@strawberry.input
class GutCheckInput:
    who_changes: str | None = None
    next_action: str | None = None
    what_we_give_up: str | None = None


@strawberry.input(
    description="Cite evidence: either `id` (an existing item) or `kind`, `claim` and `source` "
    "(with optional `ownerId` and `verifyBy`) to record a new item."
)
class CitationInput:
    id: strawberry.ID | None = None
    kind: EvidenceKind | None = None
    claim: str | None = None
    source: str | None = None
    owner_id: strawberry.ID | None = None
    verify_by: dt.date | None = None


@strawberry.input
class BriefInput:
    product_key: str
    title: str
    locale: str = "en"
    background: str = ""
    target_customer: str = ""
    pains: list[PainInput] = strawberry.field(default_factory=list)
    value_proposition: str = ""
    differentiators: list[DifferentiatorInput] = strawberry.field(default_factory=list)
    evidence: list[CitationInput] = strawberry.field(default_factory=list)
    pitch: str = ""
    customer_next_action: str = ""
    gut_check: GutCheckInput | None = None


@strawberry.input(description="Fields to change on a draft; a list given replaces the list (evidence too).")
class BriefPatch:
    title: str | None = strawberry.UNSET
    background: str | None = strawberry.UNSET
    target_customer: str | None = strawberry.UNSET
    pains: list[PainInput] | None = strawberry.UNSET
    value_proposition: str | None = strawberry.UNSET
    differentiators: list[DifferentiatorInput] | None = strawberry.UNSET
    evidence: list[CitationInput] | None = strawberry.UNSET
    pitch: str | None = strawberry.UNSET
    customer_next_action: str | None = strawberry.UNSET
    gut_check: GutCheckInput | None = strawberry.UNSET


def _plain(value: Any) -> Any:
    """A GraphQL input as plain data: enums as their values, omitted (UNSET) fields left out."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not strawberry.UNSET
        }
    return value


def _brief_data(input: BriefInput | BriefPatch) -> dict[str, Any]:
    data = _plain(input)
    if data.get("evidence"):
        # {id} cites an item, the other fields record one: a null means "not this kind of citation".
        data["evidence"] = [{k: v for k, v in c.items() if v is not None} for c in data["evidence"]]
    if isinstance(input, BriefInput) and data.get("gut_check") is None:
        data.pop("gut_check", None)  # on create, null is the same as absent: no answers yet
    return data


class _BriefFilters(InputModel):
    product_key: Slug | None = None
    locale: Locale | None = None


# --- queries and mutations ---------------------------------------------------------------------


@strawberry.type
class BriefQuery:
    @strawberry.field(
        description="Brief versions, oldest first (employees and integrations see published ones)."
    )
    async def briefs(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        product_key: str | None = None,
        status: BriefStatus | None = None,
        locale: str | None = None,
    ) -> Connection[BriefType]:
        principal = info.context.principal
        filters = validate_input(_BriefFilters, {"product_key": product_key, "locale": locale})
        async with info.context.session() as session:
            page = await briefs_service.list_briefs(
                session,
                principal,
                page_args(first, after),
                product_key=filters.product_key,
                status=status.value if status else None,
                locale=filters.locale,
            )
        return Connection.from_page(page, BriefType.from_model)

    @strawberry.field(description="One brief version; drafts are invisible to employees and integrations.")
    async def brief(self, info: Info[Context, None], id: strawberry.ID) -> BriefType:
        principal = info.context.principal
        async with info.context.session() as session:
            return BriefType.from_model(await briefs_service.get_brief(session, principal, to_uuid(id)))


@strawberry.type
class BriefMutation:
    @strawberry.mutation(
        description="Create a draft brief (version 1); inline evidence becomes evidence items."
    )
    async def create_brief(self, info: Info[Context, None], input: BriefInput) -> BriefType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(BriefCreate, _brief_data(input))
        async with info.context.session() as session:
            return BriefType.from_model(await briefs_service.create_brief(session, principal, data))

    @strawberry.mutation(
        description="Change a draft. `ifMatch` (the ETag) is required: missing → PRECONDITION_REQUIRED, "
        "stale → PRECONDITION_FAILED; published versions are immutable (CONFLICT)."
    )
    async def update_brief(
        self, info: Info[Context, None], id: strawberry.ID, input: BriefPatch, if_match: str | None = None
    ) -> BriefType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(BriefUpdate, _brief_data(input))
        async with info.context.session() as session:
            brief = await briefs_service.update_brief(
                session, principal, to_uuid(id), data, if_match=if_match
            )
        return BriefType.from_model(brief)

    @strawberry.mutation(
        description="Send a draft to review; an incomplete brief is BAD_USER_INPUT listing every missing part."
    )
    async def submit_brief(self, info: Info[Context, None], id: strawberry.ID) -> BriefType:
        principal = info.context.principal
        async with info.context.session() as session:
            return BriefType.from_model(await briefs_service.submit_brief(session, principal, to_uuid(id)))

    @strawberry.mutation(
        description="Publish a brief in review (not by its last editor), superseding the previous one."
    )
    async def approve_brief(self, info: Info[Context, None], id: strawberry.ID) -> BriefType:
        principal = info.context.principal
        async with info.context.session() as session:
            return BriefType.from_model(await briefs_service.approve_brief(session, principal, to_uuid(id)))

    @strawberry.mutation(description="Send a brief in review back to draft, with a comment.")
    async def request_brief_changes(
        self, info: Info[Context, None], id: strawberry.ID, comment: str
    ) -> BriefType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(RequestChanges, {"comment": comment})
        async with info.context.session() as session:
            brief = await briefs_service.request_changes(session, principal, to_uuid(id), data)
        return BriefType.from_model(brief)

    @strawberry.mutation(description="Archive a version (archiving the published one withdraws the pitch).")
    async def archive_brief(self, info: Info[Context, None], id: strawberry.ID) -> BriefType:
        principal = info.context.principal
        async with info.context.session() as session:
            return BriefType.from_model(await briefs_service.archive_brief(session, principal, to_uuid(id)))

    @strawberry.mutation(description="Open the next draft version of a published brief.")
    async def revise_brief(
        self, info: Info[Context, None], id: strawberry.ID, change: BriefChange = BriefChange.SUBSTANTIVE
    ) -> BriefType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(Revise, {"change": change})
        async with info.context.session() as session:
            return BriefType.from_model(
                await briefs_service.revise_brief(session, principal, to_uuid(id), data)
            )
