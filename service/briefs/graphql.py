"""GraphQL types, queries and mutations for briefs and their review workflow."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from service.briefs import service as briefs_service
from service.briefs.schemas import (
    BriefCreate,
    BriefRead,
    BriefStatus,
    BriefUpdate,
    Change,
    Differentiator,
    GutCheck,
    Pain,
    PainKind,
    RequestChanges,
    Revise,
    Speakability,
)
from service.evidence.graphql import EvidenceKind
from service.fields import InputModel, Locale, Slug
from service.graphql_kit import (
    Connection,
    Info,
    etag_field,
    input_of,
    input_type,
    load,
    paged,
    parse,
    plain,
    run,
    to_uuid,
    view,
    view_type,
)
from service.messages import service as messages_service
from service.messages.schemas import LintWarning
from service.products import service as products_service
from service.products.graphql import ProductType

if TYPE_CHECKING:
    from service.messages.graphql import MessageType

BriefStatus = strawberry.enum(BriefStatus, name="BriefStatus")  # type: ignore[misc]  # registers the StrEnum in place and returns it
BriefChange = strawberry.enum(
    Change,
    name="BriefChange",
    description="How much a new version changes: a substantive one asks people to re-acknowledge.",
)
PainKind = strawberry.enum(  # type: ignore[misc]  # registers the StrEnum in place and returns it
    PainKind,
    name="PainKind",
    description="The customer's pain: 不満 dissatisfaction, 不便 inconvenience or 不安 anxiety.",
)


# --- output types ------------------------------------------------------------------------------


PainType = view_type(Pain, "Pain")
DifferentiatorType = view_type(
    Differentiator, "Differentiator", description="How it differs from an alternative, and what it gives up."
)
GutCheckType = view_type(
    GutCheck, "GutCheck", description="The 腹落ち questions: understood in the gut, not just the head."
)
SpeakabilityType = view_type(
    Speakability, "Speakability", description="Can the pitch be said out loud in 30 seconds?"
)
LintWarningType = view_type(
    LintWarning,
    "LintWarning",
    description="A feature word with no measurable outcome nearby (advisory), in one field.",
    fields="field start end word message",
)


@view(
    BriefRead,
    name="Brief",
    description="One version of a brief: the baton from planning to sales.",
    exclude={"product_id", "revision"},
)
class BriefType:
    lineage_id: strawberry.ID = strawberry.field(description="The id shared by every version of this brief.")
    pitch: str = strawberry.field(description="The 30-second pitch.")
    etag: str = etag_field()

    @strawberry.field(description="The product this brief is about.")
    def product(root: strawberry.Parent[BriefRead], info: Info) -> ProductType | None:
        return load(info, products_service.products_by_ids, root.product_id)

    @strawberry.field(
        description="The messages speaking for any version of this brief that the caller may see."
    )
    def messages(
        root: strawberry.Parent[BriefRead], info: Info
    ) -> list[Annotated[MessageType, strawberry.lazy("service.messages.graphql")]]:
        return load(info, messages_service.messages_by_lineage, root.lineage_id, missing=list)

    @strawberry.field(description="Every version of this brief that the caller may see, oldest first.")
    def versions(root: strawberry.Parent[BriefRead], info: Info) -> list[BriefType]:
        return load(info, briefs_service.versions_by_lineage, root.lineage_id, missing=list)


# --- inputs ------------------------------------------------------------------------------------


PainInput = input_type(Pain, "PainInput")
DifferentiatorInput = input_type(Differentiator, "DifferentiatorInput")
GutCheckInput = input_type(GutCheck, "GutCheckInput")


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


@input_of(
    BriefCreate,
    name="BriefInput",
    fields="product_key title locale background target_customer pains value_proposition differentiators "
    "evidence pitch customer_next_action gut_check",
)
class BriefInput:
    evidence: list[CitationInput] = strawberry.field(default_factory=list)
    gut_check: GutCheckInput | None = None


@input_of(
    BriefUpdate,
    name="BriefPatch",
    description="Fields to change on a draft; a list given replaces the list (evidence too).",
    patch=True,
)
class BriefPatch:
    evidence: list[CitationInput] | None = strawberry.UNSET


def _brief_data(input: BriefInput | BriefPatch) -> dict[str, Any]:
    data: dict[str, Any] = plain(input)
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
        info: Info,
        first: int = 50,
        after: str | None = None,
        product_key: str | None = None,
        status: BriefStatus | None = None,
        locale: str | None = None,
    ) -> Connection[BriefType]:
        filters = parse(info, _BriefFilters, {"product_key": product_key, "locale": locale})
        return await paged(
            info,
            briefs_service.list_briefs,
            first,
            after,
            product_key=filters.product_key,
            status=plain(status),
            locale=filters.locale,
        )

    @strawberry.field(description="One brief version; drafts are invisible to employees and integrations.")
    async def brief(self, info: Info, id: strawberry.ID) -> BriefType:
        return await run(info, briefs_service.get_brief, to_uuid(id))


@strawberry.type
class BriefMutation:
    @strawberry.mutation(
        description="Create a draft brief (version 1); inline evidence becomes evidence items."
    )
    async def create_brief(self, info: Info, input: BriefInput) -> BriefType:
        return await run(info, briefs_service.create_brief, parse(info, BriefCreate, _brief_data(input)))

    @strawberry.mutation(
        description="Change a draft. `ifMatch` (the ETag) is required: missing → PRECONDITION_REQUIRED, "
        "stale → PRECONDITION_FAILED; published versions are immutable (CONFLICT)."
    )
    async def update_brief(
        self, info: Info, id: strawberry.ID, input: BriefPatch, if_match: str | None = None
    ) -> BriefType:
        data = parse(info, BriefUpdate, _brief_data(input))
        return await run(info, briefs_service.update_brief, to_uuid(id), data, if_match=if_match)

    @strawberry.mutation(
        description="Send a draft to review; an incomplete brief is BAD_USER_INPUT listing every missing part."
    )
    async def submit_brief(self, info: Info, id: strawberry.ID) -> BriefType:
        return await run(info, briefs_service.submit_brief, to_uuid(id))

    @strawberry.mutation(
        description="Publish a brief in review (not by its last editor), superseding the previous one."
    )
    async def approve_brief(self, info: Info, id: strawberry.ID) -> BriefType:
        return await run(info, briefs_service.approve_brief, to_uuid(id))

    @strawberry.mutation(description="Send a brief in review back to draft, with a comment.")
    async def request_brief_changes(self, info: Info, id: strawberry.ID, comment: str) -> BriefType:
        data = parse(info, RequestChanges, {"comment": comment})
        return await run(info, briefs_service.request_changes, to_uuid(id), data)

    @strawberry.mutation(description="Archive a version (archiving the published one withdraws the pitch).")
    async def archive_brief(self, info: Info, id: strawberry.ID) -> BriefType:
        return await run(info, briefs_service.archive_brief, to_uuid(id))

    @strawberry.mutation(description="Open the next draft version of a published brief.")
    async def revise_brief(
        self,
        info: Info,
        id: strawberry.ID,
        change: BriefChange = BriefChange.SUBSTANTIVE,
    ) -> BriefType:
        data = parse(info, Revise, {"change": change})
        return await run(info, briefs_service.revise_brief, to_uuid(id), data)
