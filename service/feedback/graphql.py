"""GraphQL types, queries and mutations for feedback items, themes and the weekly digest."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.accounts.graphql import MoneyType  # noqa: F401  # registers the view themes and the digest use
from service.feedback import bulk as bulk_service
from service.feedback import digest as digest_service
from service.feedback import schemas
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.people.graphql import PersonType

CustomerType = gql.view_type(schemas.Customer, "Customer")
TransitionType = gql.view_type(
    schemas.TransitionRead, "FeedbackTransition", "One step of an item through the loop."
)


@gql.view(schemas.ThemeRead, name="Theme", by_id=themes_service.themes_by_ids)
class ThemeType:
    """Feedback items saying the same thing. A merged theme names its survivor and counts nothing:
    its items count under the survivor."""

    etag: str = gql.etag_field(
        of=themes_service.theme_etag, description="The ETag (changes with the theme and with its counts)."
    )
    merged_into: ThemeType | None = gql.loaded("merged_into_id", "The theme this one was merged into.")


ProposalsType = gql.view_type(
    schemas.Proposals,
    "Proposals",
    "Drafts written on behalf of whoever decided to stop, for an editor to review: the product's "
    'brief with the trade-off under "what we give up", and an FAQ message.',
)


@gql.view(
    schemas.FeedbackRead,
    schemas.TransitionResult,
    name="FeedbackItem",
    by_id=feedback_service.feedback_by_ids,
    exclude=("proposals",),
)
class FeedbackItemType:
    """One piece of customer voice and how far its loop got."""

    proposals: ProposalsType | None = strawberry.field(
        resolver=lambda root: getattr(root, "proposals", None),  # a TransitionResult's only
        description="Only on the answer of a step that decided to stop: the drafts it proposed.",
    )

    theme: ThemeType | None = gql.loaded("theme_id", "The item's theme (for those who see the whole hub).")
    transitions: list[TransitionType] = gql.loaded(
        "id",
        "The item's steps through the loop, oldest first.",
        fetch=feedback_service.transitions_by_feedback_ids,
        missing=list,
    )
    filed_by: PersonType | None = gql.loaded(
        "filed_by_id", "The employee who heard it, when the caller may see them."
    )


CountType = gql.view_type(
    schemas.Count, "DigestCount", "A count of items; `key` null on a theme count means unthemed."
)
ThemeDemandType = gql.view_type(
    schemas.ThemeDemand,
    "ThemeDemand",
    "A theme's demand in the window: items, distinct accounts, their revenue per currency.",
)
DecisionSummaryType = gql.view_type(
    schemas.DecisionSummary, "DecisionSummary", "One decision on a theme, however many items it moved."
)
NpsSummaryType = gql.view_type(
    schemas.NpsSummary,
    "NpsSummary",
    "NPS answers in the window: promoters 9–10, passives 7–8, detractors 0–6; "
    "score = % promoters − % detractors, one decimal, null without responses.",
)


@strawberry.type(name="DecisionCounts", description="Decisions made in the window.")
class DecisionCountsType:
    build: int
    stop: int


def _decided(root: strawberry.Parent[schemas.Digest]) -> DecisionCountsType:
    return DecisionCountsType(build=root.decided.get("build", 0), stop=root.decided.get("stop", 0))


@gql.view(schemas.Digest, name="Digest")
class DigestType:
    """The weekly 15-minute review of what customers said and what was done."""

    decided: DecisionCountsType = strawberry.field(resolver=_decided)
    loop_gap_items: list[FeedbackItemType] = gql.loaded(
        "loop_gaps", "The loop-gap items themselves, in the same order.", many=True
    )
    overdue_items: list[FeedbackItemType] = gql.loaded(
        "overdue", "The overdue items themselves, in the same order.", many=True
    )


# Optional fields left UNSET when not sent: an item's hash covers only what was sent, as over REST.
CustomerInput = gql.input_type(schemas.Customer, "CustomerInput", patch=True)
FeedbackInput = gql.input_type(
    schemas.FeedbackCreate,
    "FeedbackInput",
    "One piece of customer voice; `npsScore` (0–10) is required for NPS. The same source "
    "and `externalId` again updates the item instead of adding one.",
    fields="source body external_id product_key customer nps_score tags received_at filed_by_email",
    sparse=True,
)
FeedbackPatch = gql.input_type(
    schemas.FeedbackUpdate,
    "FeedbackPatch",
    "Triage details to change; omitted fields stay, null clears theme and product.",
    patch=True,
)
TransitionInput = gql.input_type(
    schemas.Transition,
    "TransitionInput",
    "Move an item one stage on. Deciding needs `decision` and `rationale`; announcing "
    "needs the `messageId` of a published message that tells sales.",
)
ThemeInput = gql.input_type(schemas.ThemeCreate, "ThemeInput")
ThemeTransitionType = gql.view_type(
    schemas.ThemeTransitionResult, "ThemeTransition", "What a theme's step did to its open items."
)
BulkInput = gql.input_type(schemas.FeedbackBulk, "FeedbackBulkInput")


@strawberry.type(
    name="BulkProblem", description="Why an item was refused: the error its single-item call would give."
)
class BulkProblemType:
    status: int
    code: str
    title: str
    detail: str | None


def _bulk_error(root: strawberry.Parent[schemas.BulkItemResult]) -> BulkProblemType | None:
    error = root.error  # a domain error: returned as it is, graphql-core would raise it
    if error is None:
        return None
    return BulkProblemType(status=error.status, code=error.code, title=error.title, detail=error.detail)


@gql.view(schemas.BulkItemResult, name="BulkItemResult")
class BulkItemResultType:
    """One item's outcome: `status` is the HTTP status of its single-item call."""

    error: BulkProblemType | None = strawberry.field(resolver=_bulk_error)


BulkResultType = gql.view_type(
    schemas.BulkResult, "BulkResult", "Each item's outcome, in the order of `ids`."
)


@strawberry.type
class FeedbackRoot:
    feedback = gql.query(
        feedback_service.list_feedback,
        "Feedback items, oldest first: the whole hub for editors, managers, admins and `feedback:read` "
        "integrations; an employee's own items for them.",
    )
    feedback_item = gql.query(feedback_service.get_feedback, "One feedback item (employees: only their own).")
    themes = gql.query(
        themes_service.list_themes,
        "Themes, oldest first, with their items and distinct customer accounts (editors, managers, "
        "admins, `feedback:read`).",
    )
    theme = gql.query(themes_service.get_theme, "One theme with its counts.")
    digest = gql.query(
        digest_service.weekly_digest,
        "The weekly review of items received in [since, until) (default: the last 7 days), of one "
        "product's items with `productKey`; editors, managers, admins, `feedback:read`. `themes` are "
        "ranked by revenue-weighted demand per currency (see the field); `decisions` once per theme.",
    )
    create_feedback = gql.mutation(
        feedback_service.create_feedback, "File one piece of customer voice (any person; `feedback:write`)."
    )
    update_feedback = gql.mutation(
        feedback_service.update_feedback,
        "Set an item's theme, tags or product (editors, managers, admins); `ifMatch` optional.",
    )
    transition_feedback = gql.mutation(
        feedback_service.transition_feedback,
        "Move an item one stage on (editors, managers, admins); any other move is a CONFLICT. `ifMatch` "
        "optional.",
    )
    transition_theme = gql.mutation(
        themes_service.transition_theme,
        "Decide on a theme: move every open item of it (merged themes' included) one stage on, in one "
        "transaction; items that cannot take the step are counted as skipped. Only forward (else "
        "CONFLICT).",
    )
    bulk_feedback = gql.mutation(
        bulk_service.bulk_feedback,
        "Assign a theme to, or move on, up to 1,000 items, each on its own (the single-item permission "
        "and rules; refused items change nothing).",
    )
    create_theme = gql.mutation(themes_service.create_theme, "Create a theme (editors, managers, admins).")
    merge_theme = gql.mutation(
        themes_service.merge_theme,
        "Merge a theme into another and get the survivor back: every item moves, nothing is lost. Into "
        "itself → BAD_USER_INPUT; from or into a merged theme → CONFLICT.",
        schema=schemas.ThemeMerge,
    )
