"""GraphQL types, queries and mutations for briefs and their review workflow."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import ID

from service.briefs import schemas
from service.briefs import service as briefs_service
from service.evidence.graphql import EvidenceType  # noqa: F401  # the view of Brief.evidence
from service.evidence.schemas import EvidenceKind
from service.fields import InputModel, Locale, Slug
from service.graphql_kit import (
    Info,
    etag_field,
    graphql_enum,
    input_of,
    input_type,
    listing,
    load,
    mutation,
    query,
    view,
    view_type,
)
from service.messages import service as messages_service
from service.messages.schemas import LintWarning
from service.products import service as products_service
from service.products.graphql import ProductType

if TYPE_CHECKING:
    from service.messages.graphql import MessageType

BriefChange = graphql_enum(schemas.Change, "BriefChange")

PainType = view_type(schemas.Pain, "Pain")
DifferentiatorType = view_type(
    schemas.Differentiator,
    "Differentiator",
    description="How it differs from an alternative, and what it gives up.",
)
GutCheckType = view_type(
    schemas.GutCheck,
    "GutCheck",
    description="The 腹落ち questions: understood in the gut, not just the head.",
)
SpeakabilityType = view_type(
    schemas.Speakability, "Speakability", description="Can the pitch be said out loud in 30 seconds?"
)
LintWarningType = view_type(
    LintWarning,
    "LintWarning",
    description="A feature word with no measurable outcome nearby (advisory), in one field.",
    fields="field start end word message",
)


@view(
    schemas.BriefRead,
    name="Brief",
    description="One version of a brief: the baton from planning to sales.",
    exclude={"product_id", "revision"},
)
class BriefType:
    etag: str = etag_field()

    @strawberry.field(description="The product this brief is about.")
    def product(root: strawberry.Parent[schemas.BriefRead], info: Info) -> ProductType | None:
        return load(info, products_service.products_by_ids, root.product_id)

    @strawberry.field(
        description="The messages speaking for any version of this brief that the caller may see."
    )
    def messages(
        root: strawberry.Parent[schemas.BriefRead], info: Info
    ) -> list[Annotated[MessageType, strawberry.lazy("service.messages.graphql")]]:
        return load(info, messages_service.messages_by_lineage, root.lineage_id, missing=list)

    @strawberry.field(description="Every version of this brief that the caller may see, oldest first.")
    def versions(root: strawberry.Parent[schemas.BriefRead], info: Info) -> list[BriefType]:
        return load(info, briefs_service.versions_by_lineage, root.lineage_id, missing=list)


PainInput = input_type(schemas.Pain, "PainInput")
DifferentiatorInput = input_type(schemas.Differentiator, "DifferentiatorInput")
GutCheckInput = input_type(schemas.GutCheck, "GutCheckInput")


@strawberry.input(
    description="Cite evidence: either `id` (an existing item) or `kind`, `claim` and `source` "
    "(with optional `ownerId` and `verifyBy`) to record a new item."
)
class CitationInput:  # {id} cites an item, the other fields record one: null is "not this kind"
    id: ID | None = None
    kind: EvidenceKind | None = None
    claim: str | None = None
    source: str | None = None
    owner_id: ID | None = None
    verify_by: dt.date | None = None


@input_of(
    schemas.BriefCreate,
    name="BriefInput",
    fields="product_key title locale background target_customer pains value_proposition differentiators "
    "evidence pitch customer_next_action gut_check",
)
class BriefInput:
    evidence: list[CitationInput] = strawberry.field(default_factory=list)
    gut_check: GutCheckInput | None = None


@input_of(
    schemas.BriefUpdate,
    name="BriefPatch",
    description="Fields to change on a draft; a list given replaces the list (evidence too).",
    patch=True,
)
class BriefPatch:
    evidence: list[CitationInput] | None = strawberry.UNSET


class _BriefFilters(InputModel):
    product_key: Slug | None = None
    locale: Locale | None = None


@strawberry.type
class BriefQuery:
    briefs = listing(
        briefs_service.list_briefs,
        "Brief versions, oldest first (employees and integrations see published ones).",
        product_key=str | None,
        status=schemas.BriefStatus | None,
        locale=str | None,
        schema=_BriefFilters,
    )
    brief = query(
        briefs_service.get_brief,
        "One brief version; drafts are invisible to employees and integrations.",
        id=ID,
    )


@strawberry.type
class BriefMutation:
    create_brief = mutation(
        briefs_service.create_brief,
        "Create a draft brief (version 1); inline evidence becomes evidence items.",
        input=BriefInput,
    )
    update_brief = mutation(
        briefs_service.update_brief,
        "Change a draft. `ifMatch` (the ETag) is required: missing → PRECONDITION_REQUIRED, stale → "
        "PRECONDITION_FAILED; published versions are immutable (CONFLICT).",
        id=ID,
        input=BriefPatch,
        if_match=str | None,
    )
    submit_brief = mutation(
        briefs_service.submit_brief,
        "Send a draft to review; an incomplete brief is BAD_USER_INPUT listing every missing part.",
        id=ID,
    )
    approve_brief = mutation(
        briefs_service.approve_brief,
        "Publish a brief in review (not by its last editor), superseding the previous one.",
        id=ID,
    )
    request_brief_changes = mutation(
        briefs_service.request_changes,
        "Send a brief in review back to draft, with a comment.",
        id=ID,
        comment=str,
        schema=schemas.RequestChanges,
    )
    archive_brief = mutation(
        briefs_service.archive_brief,
        "Archive a version (archiving the published one withdraws the pitch).",
        id=ID,
    )
    revise_brief = mutation(
        briefs_service.revise_brief,
        "Open the next draft version of a published brief.",
        id=ID,
        change=(BriefChange, BriefChange.SUBSTANTIVE),
        schema=schemas.Revise,
    )
