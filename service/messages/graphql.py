"""GraphQL types, queries and mutations for messages and the value-word lint."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from service.briefs import service as briefs_service
from service.briefs.graphql import BriefType, LintWarningType
from service.evidence import service as evidence_service
from service.evidence.graphql import EvidenceType, FreshnessType
from service.fields import InputModel, Locale, Slug
from service.graphql_kit import (
    ETAG_DESCRIPTION,
    Connection,
    Info,
    load,
    load_all,
    paged,
    parse,
    plain,
    run,
    to_uuid,
    view,
)
from service.messages import service as messages_service
from service.messages.schemas import (
    Audience,
    LintFinding,
    LintRequest,
    LintResponse,
    MessageCreate,
    MessageRead,
    MessageUpdate,
    MetricRead,
)


@strawberry.enum
class MessageKind(Enum):
    VALUE_TRANSLATION = "value_translation"
    KEY_MESSAGE = "key_message"
    TALKING_POINT = "talking_point"
    FAQ = "faq"


@strawberry.enum
class Channel(Enum):
    BRIEFING = "briefing"
    INTRANET = "intranet"
    NEWSLETTER = "newsletter"
    EMAIL = "email"
    CHAT = "chat"
    CRM_CARD = "crm_card"
    RECRUITING = "recruiting"


@strawberry.enum
class MessageStatus(Enum):
    DRAFT = "draft"
    PUBLISHED = "published"


# --- output types ------------------------------------------------------------------------------


@view(MetricRead, name="Metric", description="The measurable outcome behind a value statement.")
class MetricType:
    value: float
    unit: str
    basis: str = strawberry.field(description="Where the figure comes from (a pilot, a survey, a case).")


@view(
    LintFinding,
    name="LintFinding",
    description="A feature word without a measurable outcome; offsets count Unicode code points.",
)
class LintFindingType:
    start: int
    end: int
    word: str
    message: str


@view(LintResponse, name="LintResult")
class LintResultType:
    findings: list[LintFindingType]


@view(
    MessageRead, name="Message", description="A value translation, key message, talking point or FAQ answer."
)
class MessageType:
    id: strawberry.ID
    brief_id: strawberry.ID | None
    product_key: str | None = strawberry.field(description="Null for a company-wide message.")
    kind: MessageKind
    audiences: list[str] = strawberry.field(description='Department keys, or "all".')
    channel: Channel
    locale: str
    title: str
    body: str
    feature_term: str | None
    value_statement: str | None
    metric: MetricType | None
    evidence_ids: list[strawberry.ID]
    freshness: FreshnessType
    status: MessageStatus
    published_at: dt.datetime | None
    author_id: strawberry.ID | None
    last_editor_id: strawberry.ID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    warnings: list[LintWarningType]
    etag: str = strawberry.field(description=ETAG_DESCRIPTION)

    @strawberry.field(description="The brief version this message speaks for, when the caller may see it.")
    def brief(root: strawberry.Parent[MessageRead], info: Info) -> BriefType | None:
        return load(info, briefs_service.briefs_by_ids, root.brief_id)

    @strawberry.field(description="The evidence items this message cites, in order.")
    def evidence(root: strawberry.Parent[MessageRead], info: Info) -> list[EvidenceType]:
        return load_all(info, evidence_service.evidence_by_ids, root.evidence_ids)


# --- inputs ------------------------------------------------------------------------------------


@strawberry.input
class MetricInput:
    value: float
    unit: str
    basis: str


@strawberry.input(
    description="A message. With `briefId` it speaks for the brief's product; without a brief or "
    "`productKey` it is company-wide. Value translations need `featureTerm`, `valueStatement` and `metric`."
)
class MessageInput:
    kind: MessageKind
    title: str
    brief_id: strawberry.ID | None = None
    product_key: str | None = None
    audiences: list[str] = strawberry.field(default_factory=lambda: ["all"])
    channel: Channel = Channel.INTRANET
    locale: str | None = strawberry.field(default=None, description="Default: the brief's locale, else `en`.")
    body: str = ""
    evidence_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    feature_term: str | None = None
    value_statement: str | None = None
    metric: MetricInput | None = None


@strawberry.input(
    description="Fields to change; omitted fields stay as they are, null clears the optional ones."
)
class MessagePatch:
    brief_id: strawberry.ID | None = strawberry.UNSET
    product_key: str | None = strawberry.UNSET
    kind: MessageKind | None = strawberry.UNSET
    audiences: list[str] | None = strawberry.UNSET
    channel: Channel | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    body: str | None = strawberry.UNSET
    evidence_ids: list[strawberry.ID] | None = strawberry.UNSET
    feature_term: str | None = strawberry.UNSET
    value_statement: str | None = strawberry.UNSET
    metric: MetricInput | None = strawberry.UNSET


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
        self, info: Info, id: strawberry.ID, input: MessagePatch, if_match: str | None = None
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
