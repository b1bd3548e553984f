"""GraphQL types, queries and mutations for messages and the value-word lint."""

from __future__ import annotations

import datetime as dt

import strawberry

from service import graphql_kit as gql
from service.briefs.graphql import BriefType
from service.evidence.graphql import EvidenceType
from service.messages import schemas
from service.messages import service as messages_service

MessageChange = gql.graphql_enum(schemas.Change, "MessageChange")
MetricType = gql.view_type(schemas.MetricRead, "Metric", "The measurable outcome behind a value statement.")
LintFindingType = gql.view_type(
    schemas.LintFinding,
    "LintFinding",
    "A feature word without a measurable outcome; offsets count Unicode code points.",
)
LintResultType = gql.view_type(schemas.LintResponse, "LintResult")


@gql.view(schemas.MessageRead, name="Message", undescribed="warnings")
class MessageType:
    """A value translation, key message, talking point or FAQ answer."""

    etag: str = strawberry.field(description=gql.ETAG_DESCRIPTION)
    brief: BriefType | None = gql.loaded(
        "brief_id", "The brief version this message speaks for, when the caller may see it."
    )
    evidence: list[EvidenceType] = gql.loaded(
        "evidence_ids", "The evidence items this message cites, in order.", many=True
    )
    versions: list[MessageType] = gql.loaded(
        "lineage_id",
        "Every version of this message that the caller may see, oldest first.",
        fetch=messages_service.versions_by_lineage,
        missing=list,
    )


MetricInput = gql.input_type(schemas.Metric, "MetricInput", undescribed="basis")


@gql.input_of(
    schemas.MessageCreate,
    name="MessageInput",
    fields="kind title brief_id product_key audiences channel locale body evidence_ids feature_term "
    "value_statement metric expires_at",
)
class MessageInput:
    """A message. With `briefId` it speaks for the brief's product; without a brief or `productKey`
    it is company-wide. Value translations need `featureTerm`, `valueStatement` and `metric`."""

    locale: str | None = strawberry.field(default=None, description="Default: the brief's locale, else `en`.")
    expires_at: dt.datetime | None = strawberry.field(
        default=None, description="After this time (with an offset) the published message leaves every pitch."
    )


@gql.input_of(schemas.MessageUpdate, name="MessagePatch", patch=True)
class MessagePatch:
    """Fields to change on a draft; omitted fields stay as they are, null clears the optional ones."""


@strawberry.type
class MessageRoot:
    messages = gql.query(
        messages_service.list_messages,
        'Messages, oldest first; a department `audience` also matches messages for "all". Employees and '
        "integrations see published messages only.",
    )
    message = gql.query(messages_service.get_message, "One message (drafts: editors, managers and admins).")

    @strawberry.field(
        description="Find feature words without a measurable outcome in a text (stores nothing)."
    )
    def lint_message(self, info: gql.Info, text: str, locale: str = "en") -> LintResultType:
        data = gql.parse(info, schemas.LintRequest, {"locale": locale, "text": text})
        return messages_service.lint_text(info.context.principal, data, word_lists=info.context.word_lists)

    create_message = gql.mutation(
        messages_service.create_message, "Create a draft message (editors, admins)."
    )
    update_message = gql.mutation(
        messages_service.update_message,
        "Change a message; `ifMatch` (the ETag) is required: missing → PRECONDITION_REQUIRED, stale → "
        "PRECONDITION_FAILED. A published message stays published.",
    )
    submit_message = gql.mutation(
        messages_service.submit_message, "Send a draft message to review (editors, admins)."
    )
    approve_message = gql.mutation(
        messages_service.publish_message,
        "Approve a message in review (neither by its author nor its last editor: FORBIDDEN): published "
        "now, superseding the lineage's published version, or scheduled until `input.publishAt`. Citing "
        "expired evidence needs `input.overrideExpiredEvidence` (else CONFLICT).",
    )
    publish_message = gql.mutation(
        messages_service.publish_message,
        "The same approving step as `approveMessage`; CONFLICT for a draft (submit it first) or one "
        "already published. `ifMatch` (optional) approves only that version.",
    )
    request_message_changes = gql.mutation(
        messages_service.request_changes,
        "Send a message in review back to draft, with a comment.",
        schema=schemas.RequestChanges,
    )
    withdraw_message = gql.mutation(
        messages_service.withdraw_message,
        "Take a published (or scheduled) message out of every pitch at once.",
    )
    revise_message = gql.mutation(
        messages_service.revise_message,
        "Open the next draft version (a new id, the same `lineageId`) of a published, withdrawn or "
        "expired message.",
        schema=schemas.Revise,
    )
