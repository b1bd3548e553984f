"""GraphQL types, queries and mutations for feedback items, themes and the weekly digest.

The types are views of the service's read models (service.graphql_kit); nested fields (an item's
theme, its transitions, who filed it; a digest's loop-gap items) batch through DataLoaders.
"""

from __future__ import annotations

import datetime as dt

import strawberry

from service.feedback import digest as digest_service
from service.feedback import schemas
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.feedback.schemas import (
    Count,
    Customer,
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
from service.graphql_kit import (
    Connection,
    Info,
    etag_field,
    load,
    load_all,
    paged,
    parse,
    run,
    to_uuid,
    view,
    view_type,
)
from service.people import service as people_service
from service.people.graphql import PersonType

FeedbackSource = strawberry.enum(schemas.FeedbackSource, description=schemas.FeedbackSource.__doc__)
LoopStage = strawberry.enum(schemas.LoopStage, description=schemas.LoopStage.__doc__)
Decision = strawberry.enum(schemas.Decision, description=schemas.Decision.__doc__)


# --- output types ------------------------------------------------------------------------------


CustomerType = view_type(Customer, name="Customer")


TransitionType = view_type(
    TransitionRead, name="FeedbackTransition", description="One step of an item through the loop."
)


@view(
    ThemeRead,
    name="Theme",
    description="Feedback items saying the same thing. A merged theme names its survivor and counts "
    "nothing: its items count under the survivor.",
    exclude={"revision"},
)
class ThemeType:
    items: int = strawberry.field(description="Feedback items in this theme (merged themes' included).")
    accounts: int = strawberry.field(description="Distinct customer accounts that raised it.")
    etag: str = etag_field(
        of=themes_service.theme_etag, description="The ETag (changes with the theme and with its counts)."
    )

    @strawberry.field(description="The theme this one was merged into.")
    def merged_into(root: strawberry.Parent[ThemeRead], info: Info) -> ThemeType | None:
        return load(info, themes_service.themes_by_ids, root.merged_into_id)


@view(
    FeedbackRead,
    name="FeedbackItem",
    description="One piece of customer voice and how far its loop got.",
    exclude={"revision"},
)
class FeedbackItemType:
    stage_due_at: dt.datetime | None = strawberry.field(description="When the next stage is due.")
    etag: str = etag_field()

    @strawberry.field(description="The item's theme (for those who see the whole hub).")
    def theme(root: strawberry.Parent[FeedbackRead], info: Info) -> ThemeType | None:
        return load(info, themes_service.themes_by_ids, root.theme_id)

    @strawberry.field(description="The item's steps through the loop, oldest first.")
    def transitions(root: strawberry.Parent[FeedbackRead], info: Info) -> list[TransitionType]:
        return load(info, feedback_service.transitions_by_feedback_ids, root.id, missing=list)

    @strawberry.field(description="The employee who heard it, when the caller may see them.")
    def filed_by(root: strawberry.Parent[FeedbackRead], info: Info) -> PersonType | None:
        return load(info, people_service.people_by_ids, root.filed_by_id)


CountType = view_type(
    Count, name="DigestCount", description="A count of items; `key` null on a theme count means unthemed."
)


NpsSummaryType = view_type(
    NpsSummary,
    name="NpsSummary",
    description="NPS answers in the window: promoters 9–10, passives 7–8, detractors 0–6; "
    "score = % promoters − % detractors, one decimal, null without responses.",
)


@strawberry.type(name="DecisionCounts", description="Decisions made in the window.")
class DecisionCountsType:
    build: int
    stop: int


def _decided(root: strawberry.Parent[Digest]) -> DecisionCountsType:
    return DecisionCountsType(build=root.decided.get("build", 0), stop=root.decided.get("stop", 0))


@view(
    Digest, name="Digest", description="The weekly 15-minute review of what customers said and what was done."
)
class DigestType:
    by_theme: list[CountType] = strawberry.field(
        description="Most items first; items of merged themes count under the survivor."
    )
    decided: DecisionCountsType = strawberry.field(resolver=_decided)
    loop_gaps: list[strawberry.ID] = strawberry.field(
        description="Implemented but not yet announced, oldest first (up to 100), whatever the window."
    )
    overdue: list[strawberry.ID] = strawberry.field(
        description="A stage past its due time, longest overdue first (up to 100), whatever the window."
    )
    median_loop_days: float | None = strawberry.field(
        description="Median days from received to announced, for items announced in the window."
    )

    @strawberry.field(description="The loop-gap items themselves, in the same order.")
    def loop_gap_items(root: strawberry.Parent[Digest], info: Info) -> list[FeedbackItemType]:
        return load_all(info, feedback_service.feedback_by_ids, root.loop_gaps)

    @strawberry.field(description="The overdue items themselves, in the same order.")
    def overdue_items(root: strawberry.Parent[Digest], info: Info) -> list[FeedbackItemType]:
        return load_all(info, feedback_service.feedback_by_ids, root.overdue)


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
    source: schemas.FeedbackSource
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
    to: schemas.LoopStage
    note: str | None = None
    decision: schemas.Decision | None = None
    rationale: str | None = None
    message_id: strawberry.ID | None = None


@strawberry.input
class ThemeInput:
    name: str
    description: str = ""
    product_key: str | None = None


class _FeedbackFilters(InputModel):
    product_key: Slug | None = None


# --- queries and mutations ---------------------------------------------------------------------


@strawberry.type
class FeedbackQuery:
    @strawberry.field(
        description="Feedback items, oldest first: the whole hub for editors, managers, admins and "
        "`feedback:read` integrations; an employee's own items for them."
    )
    async def feedback(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        status: schemas.LoopStage | None = None,
        source: schemas.FeedbackSource | None = None,
        product_key: str | None = None,
        theme_id: strawberry.ID | None = None,
        since: dt.datetime | None = None,
    ) -> Connection[FeedbackItemType]:
        filters = parse(info, _FeedbackFilters, {"product_key": product_key})
        return await paged(
            info,
            feedback_service.list_feedback,
            first,
            after,
            status=status,
            source=source,
            product_key=filters.product_key,
            theme_id=to_uuid(theme_id, "themeId") if theme_id is not None else None,
            since=since,
        )

    @strawberry.field(description="One feedback item (employees: only their own).")
    async def feedback_item(self, info: Info, id: strawberry.ID) -> FeedbackItemType:
        return await run(info, feedback_service.get_feedback, to_uuid(id))

    @strawberry.field(
        description="Themes, oldest first, with their items and distinct customer accounts "
        "(editors, managers, admins, `feedback:read`)."
    )
    async def themes(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        product_key: str | None = None,
        include_merged: bool = False,
    ) -> Connection[ThemeType]:
        filters = parse(info, _FeedbackFilters, {"product_key": product_key})
        return await paged(
            info,
            themes_service.list_themes,
            first,
            after,
            product_key=filters.product_key,
            include_merged=include_merged,
        )

    @strawberry.field(description="One theme with its counts.")
    async def theme(self, info: Info, id: strawberry.ID) -> ThemeType:
        return await run(info, themes_service.get_theme, to_uuid(id))

    @strawberry.field(
        description="The weekly review of items received in [since, until) (default: the last 7 days); "
        "editors, managers, admins, `feedback:read`."
    )
    async def digest(
        self, info: Info, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> DigestType:
        return await run(info, digest_service.weekly_digest, since=since, until=until)


@strawberry.type
class FeedbackMutation:
    @strawberry.mutation(description="File one piece of customer voice (any person; `feedback:write`).")
    async def create_feedback(self, info: Info, input: FeedbackInput) -> FeedbackItemType:
        return await run(info, feedback_service.create_feedback, parse(info, FeedbackCreate, input))

    @strawberry.mutation(
        description="Set an item's theme, tags or product (editors, managers, admins); `ifMatch` optional."
    )
    async def update_feedback(
        self, info: Info, id: strawberry.ID, input: FeedbackPatch, if_match: str | None = None
    ) -> FeedbackItemType:
        data = parse(info, FeedbackUpdate, input)
        return await run(info, feedback_service.update_feedback, to_uuid(id), data, if_match=if_match)

    @strawberry.mutation(
        description="Move an item one stage on (editors, managers, admins); any other move is a "
        "CONFLICT. `ifMatch` optional."
    )
    async def transition_feedback(
        self, info: Info, id: strawberry.ID, input: TransitionInput, if_match: str | None = None
    ) -> FeedbackItemType:
        data = parse(info, Transition, input)
        return await run(info, feedback_service.transition_feedback, to_uuid(id), data, if_match=if_match)

    @strawberry.mutation(description="Create a theme (editors, managers, admins).")
    async def create_theme(self, info: Info, input: ThemeInput) -> ThemeType:
        return await run(info, themes_service.create_theme, parse(info, ThemeCreate, input))

    @strawberry.mutation(
        description="Merge a theme into another and get the survivor back: every item moves, nothing is "
        "lost. Into itself → BAD_USER_INPUT; from or into a merged theme → CONFLICT."
    )
    async def merge_theme(self, info: Info, id: strawberry.ID, into: strawberry.ID) -> ThemeType:
        data = parse(info, ThemeMerge, {"into": to_uuid(into, "into")})
        return await run(info, themes_service.merge_theme, to_uuid(id), data)
