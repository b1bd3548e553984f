"""GraphQL types, queries and mutations for briefs and their review workflow."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import ID

from service import graphql_kit as gql
from service import review
from service.briefs import schemas
from service.briefs import service as briefs_service
from service.evidence.graphql import EvidenceType  # noqa: F401  # the view of Brief.evidence
from service.evidence.schemas import EvidenceKind
from service.messages import service as messages_service
from service.messages.schemas import LintWarning
from service.products.graphql import ProductType

if TYPE_CHECKING:
    from service.messages.graphql import MessageType

BriefChange = gql.graphql_enum(schemas.Change, "BriefChange")

PainType = gql.view_type(schemas.Pain, "Pain")
DifferentiatorType = gql.view_type(
    schemas.Differentiator, "Differentiator", "How it differs from an alternative, and what it gives up."
)
GutCheckType = gql.view_type(
    schemas.GutCheck, "GutCheck", "The 腹落ち questions: understood in the gut, not just the head."
)
TranslationType = gql.view_type(
    schemas.Translation, "Translation", "How a translation stands against its source brief."
)
SpeakabilityType = gql.view_type(
    schemas.Speakability, "Speakability", "Can the pitch be said out loud in 30 seconds?"
)
LintWarningType = gql.view_type(
    LintWarning,
    "LintWarning",
    "A feature word with no measurable outcome nearby (advisory), in one field.",
    fields="field start end word message",
)

ExpiredEvidenceOverrideType = gql.view_type(
    review.ExpiredEvidenceOverrideRead,
    "ExpiredEvidenceOverride",
    "Approved although cited evidence had expired: by whom, when, why, which items.",
)
ExpiredEvidenceOverrideInput = gql.input_type(
    review.ExpiredEvidenceOverride,
    "ExpiredEvidenceOverrideInput",
    "Publish although some cited evidence is past its verify-by date, saying why.",
)


@gql.input_of(review.Approval, name="ApprovalInput")
class ApprovalInput:
    """The approving step's options (briefs and messages); omitted, the content is published now."""

    publish_at: dt.datetime | None = strawberry.field(
        default=None,
        description="Go live at this time (with an offset, in the future): `scheduled` until then.",
    )


@gql.view(schemas.BriefRead, name="Brief", exclude={"product_id"}, by_id=briefs_service.briefs_by_ids)
class BriefType:
    """One version of a brief: the baton from planning to sales."""

    product: ProductType | None = gql.loaded("product_id", "The product this brief is about.")
    messages: list[Annotated[MessageType, strawberry.lazy("service.messages.graphql")]] = gql.loaded(
        "lineage_id",
        "The messages speaking for any version of this brief that the caller may see.",
        fetch=messages_service.messages_by_lineage,
        missing=list,
    )
    versions: list[BriefType] = gql.loaded(
        "lineage_id",
        "Every version of this brief that the caller may see, oldest first.",
        fetch=briefs_service.versions_by_lineage,
        missing=list,
    )


PainInput = gql.input_type(schemas.Pain, "PainInput")
DifferentiatorInput = gql.input_type(schemas.Differentiator, "DifferentiatorInput")
GutCheckInput = gql.input_type(schemas.GutCheck, "GutCheckInput")


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


@gql.input_of(
    schemas.BriefCreate,
    name="BriefInput",
    fields="product_key title locale background target_customer pains value_proposition differentiators "
    "evidence pitch customer_next_action gut_check translation_of",
)
class BriefInput:
    evidence: list[CitationInput] = strawberry.field(default_factory=list)


@gql.input_of(schemas.BriefUpdate, name="BriefPatch", patch=True)
class BriefPatch:
    """Fields to change on a draft; a list given replaces the list (evidence too)."""

    evidence: list[CitationInput] | None = strawberry.UNSET


@strawberry.type
class BriefRoot:
    briefs = gql.query(
        briefs_service.list_briefs,
        "Brief versions, oldest first (employees and integrations see published ones).",
    )
    brief = gql.query(
        briefs_service.get_brief, "One brief version; drafts are invisible to employees and integrations."
    )
    create_brief = gql.mutation(
        briefs_service.create_brief,
        "Create a draft brief (version 1); inline evidence becomes evidence items.",
    )
    update_brief = gql.mutation(
        briefs_service.update_brief,
        "Change a draft. `ifMatch` (the ETag) is required: missing → PRECONDITION_REQUIRED, stale → "
        "PRECONDITION_FAILED; published versions are immutable (CONFLICT).",
    )
    submit_brief = gql.mutation(
        briefs_service.submit_brief,
        "Send a draft to review; an incomplete brief is BAD_USER_INPUT listing every missing part.",
    )
    approve_brief = gql.mutation(
        briefs_service.approve_brief,
        "Approve a brief in review (neither by its author nor its last editor: FORBIDDEN): published "
        "now, superseding the previous one, or scheduled until `input.publishAt`. Citing expired "
        "evidence needs `input.overrideExpiredEvidence` (else CONFLICT with `expired_evidence_ids`).",
    )
    request_brief_changes = gql.mutation(
        briefs_service.request_changes,
        "Send a brief in review back to draft, with a comment.",
        schema=schemas.RequestChanges,
    )
    archive_brief = gql.mutation(
        briefs_service.archive_brief, "Archive a version (archiving the published one withdraws the pitch)."
    )
    revise_brief = gql.mutation(
        briefs_service.revise_brief,
        "Open the next draft version of a published brief.",
        schema=schemas.Revise,
    )
