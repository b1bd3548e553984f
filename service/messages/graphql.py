"""GraphQL types, queries and mutations for messages and the value-word lint."""

from __future__ import annotations

import strawberry
from strawberry import ID

from service import graphql_kit as gql
from service.briefs.graphql import BriefType
from service.evidence.graphql import EvidenceType
from service.fields import InputModel, Locale, Slug
from service.messages import schemas
from service.messages import service as messages_service

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


MetricInput = gql.input_type(schemas.Metric, "MetricInput", undescribed="basis")


@gql.input_of(
    schemas.MessageCreate,
    name="MessageInput",
    fields="kind title brief_id product_key audiences channel locale body evidence_ids feature_term "
    "value_statement metric",
)
class MessageInput:
    """A message. With `briefId` it speaks for the brief's product; without a brief or `productKey`
    it is company-wide. Value translations need `featureTerm`, `valueStatement` and `metric`."""

    locale: str | None = strawberry.field(default=None, description="Default: the brief's locale, else `en`.")


MessagePatch = gql.input_type(
    schemas.MessageUpdate,
    "MessagePatch",
    "Fields to change; omitted fields stay as they are, null clears the optional ones.",
    patch=True,
)


@strawberry.type
class MessageQuery:
    messages = gql.query(
        messages_service.list_messages,
        'Messages, oldest first; a department `audience` also matches messages for "all". Employees and '
        "integrations see published messages only.",
        kind=schemas.MessageKind | None,
        status=schemas.MessageStatus | None,
        product_key=Slug | None,
        audience=schemas.Audience | None,
        locale=Locale | None,
        brief_id=ID | None,
        schema=InputModel,
    )
    message = gql.query(
        messages_service.get_message, "One message (drafts: editors, managers and admins).", id=ID
    )

    @strawberry.field(
        description="Find feature words without a measurable outcome in a text (stores nothing)."
    )
    def lint_message(self, info: gql.Info, text: str, locale: str = "en") -> LintResultType:
        data = gql.parse(info, schemas.LintRequest, {"locale": locale, "text": text})
        return messages_service.lint_text(info.context.principal, data, word_lists=info.context.word_lists)


@strawberry.type
class MessageMutation:
    create_message = gql.mutation(
        messages_service.create_message, "Create a draft message (editors, admins).", input=MessageInput
    )
    update_message = gql.mutation(
        messages_service.update_message,
        "Change a message; `ifMatch` (the ETag) is required: missing → PRECONDITION_REQUIRED, stale → "
        "PRECONDITION_FAILED. A published message stays published.",
        id=ID,
        input=MessagePatch,
        if_match=str | None,
    )
    publish_message = gql.mutation(
        messages_service.publish_message,
        "Publish a draft message; CONFLICT when it is already published. `ifMatch` (optional) publishes "
        "only that version.",
        id=ID,
        if_match=str | None,
    )
