"""GraphQL types, queries and mutations for feedback items, themes and the weekly digest.

The same service functions as REST decide permissions and validation; nested fields (an item's
theme, its transitions, who filed it; a digest's loop-gap items) batch through DataLoaders.
"""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry
from strawberry.types import Info

from service.api.graphql import Connection, Context, page_args, to_uuid, validate_input
from service.feedback import digest as digest_service
from service.feedback import schemas
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.feedback.schemas import (
    Count,
    Digest,
    FeedbackCreate,
    FeedbackRead,
    FeedbackUpdate,
    NpsSummary,
    ThemeCreate,
    ThemeMerge,
    ThemeRead,
    Transition,
    TransitionRead,
)
from service.fields import InputModel, Slug
from service.people.graphql import PersonType

FeedbackSource = strawberry.enum(
    schemas.FeedbackSource, name="FeedbackSource", description=schemas.FeedbackSource.__doc__
)
LoopStage = strawberry.enum(schemas.LoopStage, name="LoopStage", description=schemas.LoopStage.__doc__)
Decision = strawberry.enum(schemas.Decision, name="Decision", description=schemas.Decision.__doc__)


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value is not None else None


# --- output types ------------------------------------------------------------------------------


@strawberry.type(name="Customer")
class CustomerType:
    account: str | None
    segment: str | None


@strawberry.type(name="FeedbackTransition", description="One step of an item through the loop.")
class TransitionType:
    id: strawberry.ID
    from_status: LoopStage
    to_status: LoopStage
    decision: Decision | None
    note: str | None
    actor_id: strawberry.ID | None
    at: dt.datetime

    @classmethod
    def from_model(cls, t: TransitionRead) -> TransitionType:
        return cls(
            id=strawberry.ID(str(t.id)),
            from_status=LoopStage(t.from_status),
            to_status=LoopStage(t.to_status),
            decision=Decision(t.decision) if t.decision else None,
            note=t.note,
            actor_id=_id(t.actor_id),
            at=t.at,
        )


@strawberry.type(
    name="Theme",
    description="Feedback items saying the same thing. A merged theme names its survivor and counts "
    "nothing: its items count under the survivor.",
)
class ThemeType:
    id: strawberry.ID
    name: str
    description: str
    product_key: str | None
    merged_into_id: strawberry.ID | None
    items: int = strawberry.field(description="Feedback items in this theme (merged themes' included).")
    accounts: int = strawberry.field(description="Distinct customer accounts that raised it.")
    created_at: dt.datetime
    etag: str = strawberry.field(description="The ETag (changes with the theme and with its counts).")
    merged_into_uuid: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The theme this one was merged into.")
    async def merged_into(self, info: Info[Context, None]) -> ThemeType | None:
        if self.merged_into_uuid is None:
            return None
        found = await info.context.loaders.theme.load(self.merged_into_uuid)
        return ThemeType.from_model(found) if found else None

    @classmethod
    def from_model(cls, t: ThemeRead) -> ThemeType:
        return cls(
            id=strawberry.ID(str(t.id)),
            name=t.name,
            description=t.description,
            product_key=t.product_key,
            merged_into_id=_id(t.merged_into_id),
            items=t.items,
            accounts=t.accounts,
            created_at=t.created_at,
            etag=themes_service.theme_etag(t),
            merged_into_uuid=t.merged_into_id,
        )


@strawberry.type(name="FeedbackItem", description="One piece of customer voice and how far its loop got.")
class FeedbackItemType:
    id: strawberry.ID
    source: FeedbackSource
    external_id: str
    product_key: str | None
    customer: CustomerType
    body: str
    nps_score: int | None
    tags: list[str]
    received_at: dt.datetime
    status: LoopStage
    decision: Decision | None
    rationale: str | None
    theme_id: strawberry.ID | None
    filed_by_id: strawberry.ID | None
    stage_due_at: dt.datetime | None = strawberry.field(description="When the next stage is due.")
    overdue: bool
    triaged_at: dt.datetime | None
    decided_at: dt.datetime | None
    implemented_at: dt.datetime | None
    announced_at: dt.datetime | None
    announcement_message_id: strawberry.ID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    etag: str = strawberry.field(description="The ETag: pass it as `ifMatch` to refuse stale writes.")
    item_id: strawberry.Private[uuid.UUID]
    theme_uuid: strawberry.Private[uuid.UUID | None]
    filed_by_uuid: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The item's theme (for those who see the whole hub).")
    async def theme(self, info: Info[Context, None]) -> ThemeType | None:
        if self.theme_uuid is None:
            return None
        found = await info.context.loaders.theme.load(self.theme_uuid)
        return ThemeType.from_model(found) if found else None

    @strawberry.field(description="The item's steps through the loop, oldest first.")
    async def transitions(self, info: Info[Context, None]) -> list[TransitionType]:
        steps = await info.context.loaders.feedback_transitions.load(self.item_id)
        return [TransitionType.from_model(step) for step in steps]

    @strawberry.field(description="The employee who heard it, when the caller may see them.")
    async def filed_by(self, info: Info[Context, None]) -> PersonType | None:
        if self.filed_by_uuid is None:
            return None
        found = await info.context.loaders.person.load(self.filed_by_uuid)
        return PersonType.from_model(found) if found else None

    @classmethod
    def from_model(cls, f: FeedbackRead) -> FeedbackItemType:
        return cls(
            id=strawberry.ID(str(f.id)),
            source=FeedbackSource(f.source),
            external_id=f.external_id,
            product_key=f.product_key,
            customer=CustomerType(account=f.customer.account, segment=f.customer.segment),
            body=f.body,
            nps_score=f.nps_score,
            tags=list(f.tags),
            received_at=f.received_at,
            status=LoopStage(f.status),
            decision=Decision(f.decision) if f.decision else None,
            rationale=f.rationale,
            theme_id=_id(f.theme_id),
            filed_by_id=_id(f.filed_by_id),
            stage_due_at=f.stage_due_at,
            overdue=f.overdue,
            triaged_at=f.triaged_at,
            decided_at=f.decided_at,
            implemented_at=f.implemented_at,
            announced_at=f.announced_at,
            announcement_message_id=_id(f.announcement_message_id),
            created_at=f.created_at,
            updated_at=f.updated_at,
            etag=feedback_service.feedback_etag(f),
            item_id=f.id,
            theme_uuid=f.theme_id,
            filed_by_uuid=f.filed_by_id,
        )


@strawberry.type(
    name="DigestCount", description="A count of items; `key` null on a theme count means unthemed."
)
class CountType:
    key: str | None
    label: str | None
    count: int

    @classmethod
    def from_model(cls, c: Count) -> CountType:
        return cls(key=c.key, label=c.label, count=c.count)


@strawberry.type(
    name="NpsSummary",
    description="NPS answers in the window: promoters 9–10, passives 7–8, detractors 0–6; "
    "score = % promoters − % detractors, one decimal, null without responses.",
)
class NpsSummaryType:
    responses: int
    promoters: int
    passives: int
    detractors: int
    score: float | None

    @classmethod
    def from_model(cls, n: NpsSummary) -> NpsSummaryType:
        return cls(
            responses=n.responses,
            promoters=n.promoters,
            passives=n.passives,
            detractors=n.detractors,
            score=n.score,
        )


@strawberry.type(name="DecisionCounts", description="Decisions made in the window.")
class DecisionCountsType:
    build: int
    stop: int


@strawberry.type(
    name="Digest", description="The weekly 15-minute review of what customers said and what was done."
)
class DigestType:
    since: dt.datetime
    until: dt.datetime
    total: int
    by_source: list[CountType]
    by_theme: list[CountType] = strawberry.field(
        description="Most items first; items of merged themes count under the survivor."
    )
    nps: NpsSummaryType
    decided: DecisionCountsType
    loop_gaps: list[strawberry.ID] = strawberry.field(
        description="Implemented but not yet announced, oldest first (up to 100), whatever the window."
    )
    overdue: list[strawberry.ID] = strawberry.field(
        description="A stage past its due time, longest overdue first (up to 100), whatever the window."
    )
    median_loop_days: float | None = strawberry.field(
        description="Median days from received to announced, for items announced in the window."
    )
    loop_gap_uuids: strawberry.Private[list[uuid.UUID]]
    overdue_uuids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="The loop-gap items themselves, in the same order.")
    async def loop_gap_items(self, info: Info[Context, None]) -> list[FeedbackItemType]:
        found = await info.context.loaders.feedback_item.load_many(self.loop_gap_uuids)
        return [FeedbackItemType.from_model(f) for f in found if f is not None]

    @strawberry.field(description="The overdue items themselves, in the same order.")
    async def overdue_items(self, info: Info[Context, None]) -> list[FeedbackItemType]:
        found = await info.context.loaders.feedback_item.load_many(self.overdue_uuids)
        return [FeedbackItemType.from_model(f) for f in found if f is not None]

    @classmethod
    def from_model(cls, d: Digest) -> DigestType:
        return cls(
            since=d.since,
            until=d.until,
            total=d.total,
            by_source=[CountType.from_model(c) for c in d.by_source],
            by_theme=[CountType.from_model(c) for c in d.by_theme],
            nps=NpsSummaryType.from_model(d.nps),
            decided=DecisionCountsType(build=d.decided.get("build", 0), stop=d.decided.get("stop", 0)),
            loop_gaps=[strawberry.ID(str(i)) for i in d.loop_gaps],
            overdue=[strawberry.ID(str(i)) for i in d.overdue],
            median_loop_days=d.median_loop_days,
            loop_gap_uuids=list(d.loop_gaps),
            overdue_uuids=list(d.overdue),
        )


# --- inputs ------------------------------------------------------------------------------------


@strawberry.input
class CustomerInput:
    account: str | None = strawberry.UNSET
    segment: str | None = strawberry.UNSET


@strawberry.input(
    description="One piece of customer voice; `npsScore` (0–10) is required for NPS. The same source "
    "and `externalId` again updates the item instead of adding one."
)
class FeedbackInput:
    source: FeedbackSource
    body: str
    external_id: str | None = strawberry.UNSET
    product_key: str | None = strawberry.UNSET
    customer: CustomerInput | None = strawberry.UNSET
    nps_score: int | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    received_at: dt.datetime | None = strawberry.UNSET
    filed_by_email: str | None = strawberry.UNSET


@strawberry.input(description="Triage details to change; omitted fields stay, null clears theme and product.")
class FeedbackPatch:
    theme_id: strawberry.ID | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    product_key: str | None = strawberry.UNSET


@strawberry.input(
    description="Move an item one stage on. Deciding needs `decision` and `rationale`; announcing "
    "needs the `messageId` of a published message that tells sales."
)
class TransitionInput:
    to: LoopStage
    note: str | None = None
    decision: Decision | None = None
    rationale: str | None = None
    message_id: strawberry.ID | None = None


@strawberry.input
class ThemeInput:
    name: str
    description: str = ""
    product_key: str | None = None


class _FeedbackFilters(InputModel):
    product_key: Slug | None = None


def _without_unset(value: object) -> object:
    """A nested input as plain data, omitted (UNSET) fields left out."""
    if isinstance(value, dict):
        return {k: _without_unset(v) for k, v in value.items() if v is not strawberry.UNSET}
    return value


# --- queries and mutations ---------------------------------------------------------------------


@strawberry.type
class FeedbackQuery:
    @strawberry.field(
        description="Feedback items, oldest first: the whole hub for editors, managers, admins and "
        "`feedback:read` integrations; an employee's own items for them."
    )
    async def feedback(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        status: LoopStage | None = None,
        source: FeedbackSource | None = None,
        product_key: str | None = None,
        theme_id: strawberry.ID | None = None,
        since: dt.datetime | None = None,
    ) -> Connection[FeedbackItemType]:
        principal = info.context.principal
        filters = validate_input(_FeedbackFilters, {"product_key": product_key})
        async with info.context.session() as session:
            page = await feedback_service.list_feedback(
                session,
                principal,
                page_args(first, after),
                status=status.value if status else None,
                source=source.value if source else None,
                product_key=filters.product_key,
                theme_id=to_uuid(theme_id, "themeId") if theme_id is not None else None,
                since=since,
            )
        return Connection.from_page(page, FeedbackItemType.from_model)

    @strawberry.field(description="One feedback item (employees: only their own).")
    async def feedback_item(self, info: Info[Context, None], id: strawberry.ID) -> FeedbackItemType:
        principal = info.context.principal
        async with info.context.session() as session:
            item = await feedback_service.get_feedback(session, principal, to_uuid(id))
        return FeedbackItemType.from_model(item)

    @strawberry.field(
        description="Themes, oldest first, with their items and distinct customer accounts "
        "(editors, managers, admins, `feedback:read`)."
    )
    async def themes(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        product_key: str | None = None,
        include_merged: bool = False,
    ) -> Connection[ThemeType]:
        principal = info.context.principal
        filters = validate_input(_FeedbackFilters, {"product_key": product_key})
        async with info.context.session() as session:
            page = await themes_service.list_themes(
                session,
                principal,
                page_args(first, after),
                product_key=filters.product_key,
                include_merged=include_merged,
            )
        return Connection.from_page(page, ThemeType.from_model)

    @strawberry.field(description="One theme with its counts.")
    async def theme(self, info: Info[Context, None], id: strawberry.ID) -> ThemeType:
        principal = info.context.principal
        async with info.context.session() as session:
            return ThemeType.from_model(await themes_service.get_theme(session, principal, to_uuid(id)))

    @strawberry.field(
        description="The weekly review of items received in [since, until) (default: the last 7 days); "
        "editors, managers, admins, `feedback:read`."
    )
    async def digest(
        self, info: Info[Context, None], since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> DigestType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await digest_service.weekly_digest(session, principal, since=since, until=until)
        return DigestType.from_model(found)


@strawberry.type
class FeedbackMutation:
    @strawberry.mutation(description="File one piece of customer voice (any person; `feedback:write`).")
    async def create_feedback(self, info: Info[Context, None], input: FeedbackInput) -> FeedbackItemType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(FeedbackCreate, _without_unset(strawberry.asdict(input)))
        async with info.context.session() as session:
            item = await feedback_service.create_feedback(session, principal, data)
        return FeedbackItemType.from_model(item)

    @strawberry.mutation(
        description="Set an item's theme, tags or product (editors, managers, admins); `ifMatch` optional."
    )
    async def update_feedback(
        self, info: Info[Context, None], id: strawberry.ID, input: FeedbackPatch, if_match: str | None = None
    ) -> FeedbackItemType:
        principal = info.context.principal
        data = validate_input(FeedbackUpdate, input)
        async with info.context.session() as session:
            item = await feedback_service.update_feedback(
                session, principal, to_uuid(id), data, if_match=if_match
            )
        return FeedbackItemType.from_model(item)

    @strawberry.mutation(
        description="Move an item one stage on (editors, managers, admins); any other move is a "
        "CONFLICT. `ifMatch` optional."
    )
    async def transition_feedback(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        input: TransitionInput,
        if_match: str | None = None,
    ) -> FeedbackItemType:
        principal = info.context.principal
        data = validate_input(Transition, input)
        async with info.context.session() as session:
            item = await feedback_service.transition_feedback(
                session, principal, to_uuid(id), data, if_match=if_match
            )
        return FeedbackItemType.from_model(item)

    @strawberry.mutation(description="Create a theme (editors, managers, admins).")
    async def create_theme(self, info: Info[Context, None], input: ThemeInput) -> ThemeType:
        principal = info.context.principal
        data = validate_input(ThemeCreate, input)
        async with info.context.session() as session:
            return ThemeType.from_model(await themes_service.create_theme(session, principal, data))

    @strawberry.mutation(
        description="Merge a theme into another and get the survivor back: every item moves, nothing is "
        "lost. Into itself → BAD_USER_INPUT; from or into a merged theme → CONFLICT."
    )
    async def merge_theme(
        self, info: Info[Context, None], id: strawberry.ID, into: strawberry.ID
    ) -> ThemeType:
        principal = info.context.principal
        data = validate_input(ThemeMerge, {"into": to_uuid(into, "into")})
        async with info.context.session() as session:
            survivor = await themes_service.merge_theme(session, principal, to_uuid(id), data)
        return ThemeType.from_model(survivor)
