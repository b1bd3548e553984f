"""GraphQL for the caller's feed (service.feed.service), as REST's `GET /api/v1/me/feed`.

The feed is a union, `FeedEntry = CampaignStep | FeedbackLoop`, as REST's `kind`-discriminated
`FeedItem`: the two entries share only `at`, and a new kind of entry joins the union without
changing the others. Ask with fragments (`... on CampaignStep { title }`) and `__typename`.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from pydantic import Field

from service.briefs import service as briefs_service
from service.briefs.graphql import BriefType
from service.campaigns.graphql import CampaignType, campaign
from service.campaigns.schemas import CampaignStepItem
from service.feed import service as feed_service
from service.feed.schemas import Announcement, FeedbackLoopItem, LoopStep
from service.feedback import service as feedback_service
from service.feedback.graphql import FeedbackItemType
from service.fields import InputModel
from service.graphql_kit import Info, load, parse, run, view, view_type
from service.pagination import MAX_LIMIT


@view(
    CampaignStepItem,
    name="CampaignStep",
    description="A campaign step for you, due or upcoming, with where you stand on the campaign's "
    "current brief version.",
    exclude={"kind"},
)
class CampaignStepType:
    campaign: CampaignType | None = strawberry.field(resolver=campaign)

    @strawberry.field(description="The brief version to acknowledge and explain.")
    def brief(root: strawberry.Parent[CampaignStepItem], info: Info) -> BriefType | None:
        return load(info, briefs_service.briefs_by_ids, root.brief_id)


LoopStepType = view_type(LoopStep, name="FeedbackLoopStep", description="One step the item took.")
AnnouncementType = view_type(
    Announcement, name="FeedbackAnnouncement", description="The message that told sales what was done."
)


@view(
    FeedbackLoopItem,
    name="FeedbackLoop",
    description="Feedback you filed (or that was filed for you), and how far its loop got.",
    exclude={"kind"},
)
class FeedbackLoopType:
    @strawberry.field(description="The feedback item itself.")
    def item(root: strawberry.Parent[FeedbackLoopItem], info: Info) -> FeedbackItemType | None:
        return load(info, feedback_service.feedback_by_ids, root.feedback_id)


FeedEntry = Annotated[
    CampaignStepType | FeedbackLoopType,
    strawberry.union(
        "FeedEntry",
        description="An entry of your feed: a campaign step, or news about feedback you filed.",
    ),
]


class _FeedArgs(InputModel):
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = feed_service.DEFAULT_LIMIT


@strawberry.type
class FeedQuery:
    @strawberry.field(
        description="Your feed (people only): your campaign steps (due, then upcoming, soonest first), "
        "then news about the feedback you filed, most recent first; `limit` applies to the news."
    )
    async def my_feed(self, info: Info, limit: int = feed_service.DEFAULT_LIMIT) -> list[FeedEntry]:
        args = parse(info, _FeedArgs, {"limit": limit})
        return (await run(info, feed_service.my_feed, limit=args.limit)).items
