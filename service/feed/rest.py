"""REST adapter for the caller's own feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.api.rest import ReadSessionDep, json
from service.auth.dependencies import PrincipalDep
from service.feed import service as feed_service
from service.feed.schemas import Feed
from service.pagination import MAX_LIMIT

router = APIRouter(prefix="/api/v1", tags=["feed"])


@router.get("/me/feed", response_model=Feed)
async def my_feed(
    session: ReadSessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most recent entries to return.")] = 50,
) -> Response:
    """Your feed (people only). First your campaign steps (`kind: campaign_step`): every
    step of your active campaigns that is due (and not behind you yet) or upcoming, soonest
    first, with whether you acknowledged the current brief version and how your check stands.
    Then every feedback item you filed — or an integration filed for you — (`kind:
    feedback_loop`) with its stage, each step so far and, once announced, the message that
    told sales. Then the notifications that reached you (`kind: notification`: `title`,
    `notification_kind`, `at`, `link`), most recent first; `limit` applies to each of these."""
    return json(await feed_service.my_feed(session, principal, limit=limit))
