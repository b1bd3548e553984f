"""GraphQL for the caller's feed (service.feed.service), as REST's `GET /api/v1/me/feed`.

The feed is a union, `FeedEntry = CampaignStep | FeedbackLoop | NotificationEntry`, as REST's `kind`-discriminated
`FeedItem`: the two entries share only `at`, and a new kind of entry joins the union without
changing the others. Ask with fragments (`... on CampaignStep { title }`) and `__typename`.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from pydantic import Field

from service import graphql_kit as gql
from service.briefs.graphql import BriefType
from service.campaigns.graphql import CampaignType
from service.campaigns.schemas import CampaignStepItem
from service.feed import service as feed_service
from service.feed.schemas import Announcement, FeedbackLoopItem, LoopStep
from service.feedback.graphql import FeedbackItemType
from service.notifications.schemas import NotificationItem
from service.pagination import MAX_LIMIT


@gql.view(CampaignStepItem, name="CampaignStep", exclude={"kind"})
class CampaignStepType:
    """A campaign step for you, due or upcoming, with where you stand on the campaign's current
    brief version."""

    campaign: CampaignType | None = gql.loaded("campaign_id")
    brief: BriefType | None = gql.loaded("brief_id", "The brief version to acknowledge and explain.")


LoopStepType = gql.view_type(LoopStep, "FeedbackLoopStep", "One step the item took.")
AnnouncementType = gql.view_type(
    Announcement, "FeedbackAnnouncement", "The message that told sales what was done."
)


@gql.view(FeedbackLoopItem, name="FeedbackLoop", exclude={"kind"})
class FeedbackLoopType:
    """Feedback you filed (or that was filed for you), and how far its loop got."""

    item: FeedbackItemType | None = gql.loaded("feedback_id", "The feedback item itself.")


NotificationEntryType = gql.view_type(
    NotificationItem, "NotificationEntry", "A notification that reached you.", exclude={"kind"}
)

FeedEntry = Annotated[
    CampaignStepType | FeedbackLoopType | NotificationEntryType,
    strawberry.union(
        "FeedEntry",
        description="An entry of your feed: a campaign step, news about feedback you filed, or a "
        "notification that reached you.",
    ),
]


@strawberry.type
class FeedQuery:
    my_feed: list[FeedEntry] = gql.query(
        feed_service.my_feed,
        "Your feed (people only): your campaign steps (due, then upcoming, soonest first), then news "
        "about the feedback you filed, then the notifications that reached you, most recent first; "
        "`limit` applies to each of these.",
        limit=(Annotated[int, Field(ge=1, le=MAX_LIMIT)], feed_service.DEFAULT_LIMIT),
        result="items",
    )
