"""GraphQL types, queries and mutations for messages and the value-word lint."""

from __future__ import annotations

import strawberry

from service.briefs import service as briefs_service
from service.briefs.graphql import BriefType
from service.evidence import service as evidence_service
from service.evidence.graphql import EvidenceType
from service.fields import InputModel, Locale, Slug
from service.graphql_kit import (
    ETAG_DESCRIPTION,
    Connection,
    Info,
    input_of,
    input_type,
    load,
    load_all,
    paged,
    parse,
    plain,
    run,
    to_uuid,
    view,
    view_type,
)
from service.messages import service as messages_service
from service.messages.schemas import (
    Audience,
    Channel,
    LintFinding,
    LintRequest,
    LintResponse,
    MessageCreate,
    MessageKind,
    MessageRead,
    MessageStatus,
    MessageUpdate,
    Metric,
    MetricRead,
)

MessageKind = strawberry.enum(MessageKind, name="MessageKind")  # type: ignore[misc]  # registers the StrEnum in place and returns it
Channel = strawberry.enum(Channel, name="Channel")  # type: ignore[misc]  # registers the StrEnum in place and returns it
MessageStatus = strawberry.enum(MessageStatus, name="MessageStatus")  # type: ignore[misc]  # registers the StrEnum in place and returns it


# --- output types ------------------------------------------------------------------------------


@view(MetricRead, name="Metric", description="The measurable outcome behind a value statement.")
class MetricType:
    basis: str = strawberry.field(description="Where the figure comes from (a pilot, a survey, a case).")


LintFindingType = view_type(
    LintFinding,
    "LintFinding",
    description="A feature word without a measurable outcome; offsets count Unicode code points.",
)
LintResultType = view_type(LintResponse, "LintResult")


@view(
    MessageRead, name="Message", description="A value translation, key message, talking point or FAQ answer."
)
class MessageType:
    product_key: str | None = strawberry.field(description="Null for a company-wide message.")
    audiences: list[str] = strawberry.field(description='Department keys, or "all".')
    etag: str = strawberry.field(description=ETAG_DESCRIPTION)

    @strawberry.field(description="The brief version this message speaks for, when the caller may see it.")
    def brief(root: strawberry.Parent[MessageRead], info: Info) -> BriefType | None:
        return load(info, briefs_service.briefs_by_ids, root.brief_id)

    @strawberry.field(description="The evidence items this message cites, in order.")
    def evidence(root: strawberry.Parent[MessageRead], info: Info) -> list[EvidenceType]:
        return load_all(info, evidence_service.evidence_by_ids, root.evidence_ids)


# --- inputs ------------------------------------------------------------------------------------


MetricInput = input_type(Metric, "MetricInput")


@input_of(
    MessageCreate,
    name="MessageInput",
    fields="kind title brief_id product_key audiences channel locale body evidence_ids feature_term "
    "value_statement metric",
    description="A message. With `briefId` it speaks for the brief's product; without a brief or "
    "`productKey` it is company-wide. Value translations need `featureTerm`, `valueStatement` and `metric`.",
)
class MessageInput:
    locale: str | None = strawberry.field(default=None, description="Default: the brief's locale, else `en`.")


MessagePatch = input_type(
    MessageUpdate,
    "MessagePatch",
    description="Fields to change; omitted fields stay as they are, null clears the optional ones.",
    patch=True,
)


class _MessageFilters(InputModel):
    product_key: Slug | None = None
    audience: Audience | None = None
    locale: Locale | None = None


# --- queries and mutations ---------------------------------------------------------------------


@strawberry.type
class MessageQuery:
    @strawberry.field(
        description='Messages, oldest first; a department `audience` also matches messages for "all". '
        "Employees and integrations see published messages only."
    )
    async def messages(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        kind: MessageKind | None = None,
        status: MessageStatus | None = None,
        product_key: str | None = None,
        audience: str | None = None,
        locale: str | None = None,
        brief_id: strawberry.ID | None = None,
    ) -> Connection[MessageType]:
        filters = parse(
            info, _MessageFilters, {"product_key": product_key, "audience": audience, "locale": locale}
        )
        return await paged(
            info,
            messages_service.list_messages,
            first,
            after,
            kind=plain(kind),
            status=plain(status),
            product_key=filters.product_key,
            audience=filters.audience,
            locale=filters.locale,
            brief_id=to_uuid(brief_id, "briefId") if brief_id is not None else None,
        )

    @strawberry.field(description="One message (drafts: editors, managers and admins).")
    async def message(self, info: Info, id: strawberry.ID) -> MessageType:
        return await run(info, messages_service.get_message, to_uuid(id))

    @strawberry.field(
        description="Find feature words without a measurable outcome in a text (stores nothing)."
    )
    def lint_message(self, info: Info, text: str, locale: str = "en") -> LintResultType:
        data = parse(info, LintRequest, {"locale": locale, "text": text})
        return messages_service.lint_text(info.context.principal, data)


@strawberry.type
class MessageMutation:
    @strawberry.mutation(description="Create a draft message (editors, admins).")
    async def create_message(self, info: Info, input: MessageInput) -> MessageType:
        return await run(info, messages_service.create_message, parse(info, MessageCreate, input))

    @strawberry.mutation(
        description="Change a message; `ifMatch` (the ETag) is required: missing → PRECONDITION_REQUIRED, "
        "stale → PRECONDITION_FAILED. A published message stays published."
    )
    async def update_message(
        self,
        info: Info,
        id: strawberry.ID,
        input: MessagePatch,
        if_match: str | None = None,
    ) -> MessageType:
        data = parse(info, MessageUpdate, input)
        return await run(info, messages_service.update_message, to_uuid(id), data, if_match=if_match)

    @strawberry.mutation(
        description="Publish a draft message; CONFLICT when it is already published. "
        "`ifMatch` (optional) publishes only that version."
    )
    async def publish_message(
        self, info: Info, id: strawberry.ID, if_match: str | None = None
    ) -> MessageType:
        return await run(info, messages_service.publish_message, to_uuid(id), if_match=if_match)
