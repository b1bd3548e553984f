"""GraphQL types, queries and mutations for feedback items, themes and the weekly digest.

The types are views of the service's read models (service.graphql_kit); nested fields (an item's
theme, its transitions, who filed it; a digest's loop-gap items) batch through DataLoaders.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry import ID

from service.feedback import digest as digest_service
from service.feedback import schemas
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.fields import InputModel, Slug
from service.graphql_kit import (
    Info,
    etag_field,
    input_type,
    listing,
    load,
    load_all,
    mutation,
    query,
    view,
    view_type,
)
from service.people import service as people_service
from service.people.graphql import PersonType

CustomerType = view_type(schemas.Customer, name="Customer")
TransitionType = view_type(
    schemas.TransitionRead, name="FeedbackTransition", description="One step of an item through the loop."
)


@view(
    schemas.ThemeRead,
    name="Theme",
    description="Feedback items saying the same thing. A merged theme names its survivor and counts "
    "nothing: its items count under the survivor.",
    exclude={"revision"},
)
class ThemeType:
    etag: str = etag_field(
        of=themes_service.theme_etag, description="The ETag (changes with the theme and with its counts)."
    )

    @strawberry.field(description="The theme this one was merged into.")
    def merged_into(root: strawberry.Parent[schemas.ThemeRead], info: Info) -> ThemeType | None:
        return load(info, themes_service.themes_by_ids, root.merged_into_id)


@view(
    schemas.FeedbackRead,
    name="FeedbackItem",
    description="One piece of customer voice and how far its loop got.",
    exclude={"revision"},
)
class FeedbackItemType:
    etag: str = etag_field()

    @strawberry.field(description="The item's theme (for those who see the whole hub).")
    def theme(root: strawberry.Parent[schemas.FeedbackRead], info: Info) -> ThemeType | None:
        return load(info, themes_service.themes_by_ids, root.theme_id)

    @strawberry.field(description="The item's steps through the loop, oldest first.")
    def transitions(root: strawberry.Parent[schemas.FeedbackRead], info: Info) -> list[TransitionType]:
        return load(info, feedback_service.transitions_by_feedback_ids, root.id, missing=list)

    @strawberry.field(description="The employee who heard it, when the caller may see them.")
    def filed_by(root: strawberry.Parent[schemas.FeedbackRead], info: Info) -> PersonType | None:
        return load(info, people_service.people_by_ids, root.filed_by_id)


CountType = view_type(
    schemas.Count,
    name="DigestCount",
    description="A count of items; `key` null on a theme count means unthemed.",
)
NpsSummaryType = view_type(
    schemas.NpsSummary,
    name="NpsSummary",
    description="NPS answers in the window: promoters 9–10, passives 7–8, detractors 0–6; "
    "score = % promoters − % detractors, one decimal, null without responses.",
)


@strawberry.type(name="DecisionCounts", description="Decisions made in the window.")
class DecisionCountsType:
    build: int
    stop: int


def _decided(root: strawberry.Parent[schemas.Digest]) -> DecisionCountsType:
    return DecisionCountsType(build=root.decided.get("build", 0), stop=root.decided.get("stop", 0))


@view(
    schemas.Digest,
    name="Digest",
    description="The weekly 15-minute review of what customers said and what was done.",
)
class DigestType:
    decided: DecisionCountsType = strawberry.field(resolver=_decided)

    @strawberry.field(description="The loop-gap items themselves, in the same order.")
    def loop_gap_items(root: strawberry.Parent[schemas.Digest], info: Info) -> list[FeedbackItemType]:
        return load_all(info, feedback_service.feedback_by_ids, root.loop_gaps)

    @strawberry.field(description="The overdue items themselves, in the same order.")
    def overdue_items(root: strawberry.Parent[schemas.Digest], info: Info) -> list[FeedbackItemType]:
        return load_all(info, feedback_service.feedback_by_ids, root.overdue)


# Optional fields left UNSET when not sent: an item's hash covers only what was sent, as over REST.
CustomerInput = input_type(schemas.Customer, "CustomerInput", patch=True)
FeedbackInput = input_type(
    schemas.FeedbackCreate,
    "FeedbackInput",
    fields="source body external_id product_key customer nps_score tags received_at filed_by_email",
    sparse=True,
    description="One piece of customer voice; `npsScore` (0–10) is required for NPS. The same source "
    "and `externalId` again updates the item instead of adding one.",
)
FeedbackPatch = input_type(
    schemas.FeedbackUpdate,
    "FeedbackPatch",
    patch=True,
    description="Triage details to change; omitted fields stay, null clears theme and product.",
)
TransitionInput = input_type(
    schemas.Transition,
    "TransitionInput",
    description="Move an item one stage on. Deciding needs `decision` and `rationale`; announcing "
    "needs the `messageId` of a published message that tells sales.",
)
ThemeInput = input_type(schemas.ThemeCreate, "ThemeInput")


class _FeedbackFilters(InputModel):
    product_key: Slug | None = None


@strawberry.type
class FeedbackQuery:
    feedback = listing(
        feedback_service.list_feedback,
        "Feedback items, oldest first: the whole hub for editors, managers, admins and `feedback:read` "
        "integrations; an employee's own items for them.",
        status=schemas.LoopStage | None,
        source=schemas.FeedbackSource | None,
        product_key=str | None,
        theme_id=ID | None,
        since=dt.datetime | None,
        schema=_FeedbackFilters,
    )
    feedback_item = query(
        feedback_service.get_feedback, "One feedback item (employees: only their own).", id=ID
    )
    themes = listing(
        themes_service.list_themes,
        "Themes, oldest first, with their items and distinct customer accounts (editors, managers, "
        "admins, `feedback:read`).",
        product_key=str | None,
        include_merged=(bool, False),
        schema=_FeedbackFilters,
    )
    theme = query(themes_service.get_theme, "One theme with its counts.", id=ID)
    digest = query(
        digest_service.weekly_digest,
        "The weekly review of items received in [since, until) (default: the last 7 days); editors, "
        "managers, admins, `feedback:read`.",
        since=dt.datetime | None,
        until=dt.datetime | None,
    )


@strawberry.type
class FeedbackMutation:
    create_feedback = mutation(
        feedback_service.create_feedback,
        "File one piece of customer voice (any person; `feedback:write`).",
        input=FeedbackInput,
    )
    update_feedback = mutation(
        feedback_service.update_feedback,
        "Set an item's theme, tags or product (editors, managers, admins); `ifMatch` optional.",
        id=ID,
        input=FeedbackPatch,
        if_match=str | None,
    )
    transition_feedback = mutation(
        feedback_service.transition_feedback,
        "Move an item one stage on (editors, managers, admins); any other move is a CONFLICT. `ifMatch` "
        "optional.",
        id=ID,
        input=TransitionInput,
        if_match=str | None,
    )
    create_theme = mutation(
        themes_service.create_theme, "Create a theme (editors, managers, admins).", input=ThemeInput
    )
    merge_theme = mutation(
        themes_service.merge_theme,
        "Merge a theme into another and get the survivor back: every item moves, nothing is lost. Into "
        "itself → BAD_USER_INPUT; from or into a merged theme → CONFLICT.",
        id=ID,
        into=ID,
        schema=schemas.ThemeMerge,
    )
