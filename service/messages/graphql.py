"""GraphQL types, queries and mutations for messages and the value-word lint."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum

import strawberry
from strawberry.types import Info

from service.api.graphql import Connection, Context, page_args, to_uuid, validate_input
from service.briefs.graphql import BriefType, LintWarningType
from service.evidence.graphql import EvidenceType, FreshnessType
from service.fields import InputModel, Locale, Slug
from service.messages import service as messages_service
from service.messages.schemas import (
    Audience,
    LintFinding,
    LintRequest,
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


@strawberry.type(name="Metric", description="The measurable outcome behind a value statement.")
class MetricType:
    value: float
    unit: str
    basis: str = strawberry.field(description="Where the figure comes from (a pilot, a survey, a case).")

    @classmethod
    def from_model(cls, m: MetricRead) -> MetricType:
        return cls(value=m.value, unit=m.unit, basis=m.basis)


@strawberry.type(
    name="LintFinding",
    description="A feature word without a measurable outcome; offsets count Unicode code points.",
)
class LintFindingType:
    start: int
    end: int
    word: str
    message: str

    @classmethod
    def from_model(cls, f: LintFinding) -> LintFindingType:
        return cls(start=f.start, end=f.end, word=f.word, message=f.message)


@strawberry.type(name="LintResult")
class LintResultType:
    findings: list[LintFindingType]


@strawberry.type(name="Message", description="A value translation, key message, talking point or FAQ answer.")
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
    etag: str = strawberry.field(description="The ETag: pass it as `ifMatch` to refuse stale writes.")
    brief_uuid: strawberry.Private[uuid.UUID | None]
    evidence_uuids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="The brief version this message speaks for, when the caller may see it.")
    async def brief(self, info: Info[Context, None]) -> BriefType | None:
        if self.brief_uuid is None:
            return None
        found = await info.context.loaders.brief.load(self.brief_uuid)
        return BriefType.from_model(found) if found else None

    @strawberry.field(description="The evidence items this message cites, in order.")
    async def evidence(self, info: Info[Context, None]) -> list[EvidenceType]:
        found = await info.context.loaders.evidence.load_many(self.evidence_uuids)
        return [EvidenceType.from_model(e) for e in found if e is not None]

    @classmethod
    def from_model(cls, m: MessageRead) -> MessageType:
        return cls(
            id=strawberry.ID(str(m.id)),
            brief_id=strawberry.ID(str(m.brief_id)) if m.brief_id else None,
            product_key=m.product_key,
            kind=MessageKind(m.kind),
            audiences=list(m.audiences),
            channel=Channel(m.channel),
            locale=m.locale,
            title=m.title,
            body=m.body,
            feature_term=m.feature_term,
            value_statement=m.value_statement,
            metric=MetricType.from_model(m.metric) if m.metric else None,
            evidence_ids=[strawberry.ID(str(e)) for e in m.evidence_ids],
            freshness=FreshnessType.from_model(m.freshness),
            status=MessageStatus(m.status),
            published_at=m.published_at,
            author_id=strawberry.ID(str(m.author_id)) if m.author_id else None,
            last_editor_id=strawberry.ID(str(m.last_editor_id)) if m.last_editor_id else None,
            created_at=m.created_at,
            updated_at=m.updated_at,
            warnings=[LintWarningType.from_model(w) for w in m.warnings],
            etag=m.etag,
            brief_uuid=m.brief_id,
            evidence_uuids=list(m.evidence_ids),
        )


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
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        kind: MessageKind | None = None,
        status: MessageStatus | None = None,
        product_key: str | None = None,
        audience: str | None = None,
        locale: str | None = None,
        brief_id: strawberry.ID | None = None,
    ) -> Connection[MessageType]:
        principal = info.context.principal
        filters = validate_input(
            _MessageFilters, {"product_key": product_key, "audience": audience, "locale": locale}
        )
        async with info.context.session() as session:
            page = await messages_service.list_messages(
                session,
                principal,
                page_args(first, after),
                kind=kind.value if kind else None,
                status=status.value if status else None,
                product_key=filters.product_key,
                audience=filters.audience,
                locale=filters.locale,
                brief_id=to_uuid(brief_id, "briefId") if brief_id is not None else None,
            )
        return Connection.from_page(page, MessageType.from_model)

    @strawberry.field(description="One message (drafts: editors, managers and admins).")
    async def message(self, info: Info[Context, None], id: strawberry.ID) -> MessageType:
        principal = info.context.principal
        async with info.context.session() as session:
            return MessageType.from_model(await messages_service.get_message(session, principal, to_uuid(id)))

    @strawberry.field(
        description="Find feature words without a measurable outcome in a text (stores nothing)."
    )
    def lint_message(self, info: Info[Context, None], text: str, locale: str = "en") -> LintResultType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(LintRequest, {"locale": locale, "text": text})
        result = messages_service.lint_text(principal, data)
        return LintResultType(findings=[LintFindingType.from_model(f) for f in result.findings])


@strawberry.type
class MessageMutation:
    @strawberry.mutation(description="Create a draft message (editors, admins).")
    async def create_message(self, info: Info[Context, None], input: MessageInput) -> MessageType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(MessageCreate, input)
        async with info.context.session() as session:
            return MessageType.from_model(await messages_service.create_message(session, principal, data))

    @strawberry.mutation(
        description="Change a message; `ifMatch` (the ETag) is required: missing → PRECONDITION_REQUIRED, "
        "stale → PRECONDITION_FAILED. A published message stays published."
    )
    async def update_message(
        self, info: Info[Context, None], id: strawberry.ID, input: MessagePatch, if_match: str | None = None
    ) -> MessageType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(MessageUpdate, input)
        async with info.context.session() as session:
            message = await messages_service.update_message(
                session, principal, to_uuid(id), data, if_match=if_match
            )
        return MessageType.from_model(message)

    @strawberry.mutation(
        description="Publish a draft message; CONFLICT when it is already published. "
        "`ifMatch` (optional) publishes only that version."
    )
    async def publish_message(
        self, info: Info[Context, None], id: strawberry.ID, if_match: str | None = None
    ) -> MessageType:
        principal = info.context.principal
        async with info.context.session() as session:
            message = await messages_service.publish_message(
                session, principal, to_uuid(id), if_match=if_match
            )
        return MessageType.from_model(message)
