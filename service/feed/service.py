"""The caller's feed: their due and upcoming campaign steps, and what happened to what they said."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.campaigns import service as campaigns_service
from service.errors import Forbidden
from service.feed.schemas import Announcement, Feed, FeedbackLoopItem, LoopStep
from service.feedback import service as feedback_service
from service.messages import service as messages_service
from service.notifications import records as notifications_records

DEFAULT_LIMIT = 50


async def _message_titles(
    session: AsyncSession, principal: Principal, message_ids: set[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    """Titles of the announcing messages, in one batch; None for what the caller may not see."""
    found = await messages_service.message_titles(session, principal, message_ids)
    return {message_id: found.get(message_id) for message_id in message_ids}


async def my_feed(session: AsyncSession, principal: Principal, *, limit: int = DEFAULT_LIMIT) -> Feed:
    """Gets the calling person's feed: due and upcoming campaign steps, then loop news, then the
    notifications that reached them (both newest first)."""
    if not principal.is_person:
        raise Forbidden("The feed belongs to a person; service accounts have none.")
    news = await feedback_service.loop_news(session, principal, limit=limit)
    titles = await _message_titles(
        session,
        principal,
        {n.item.announcement_message_id for n in news if n.item.announcement_message_id},
    )
    items = []
    for entry in news:
        item = entry.item
        message_id = item.announcement_message_id
        items.append(
            FeedbackLoopItem(
                at=entry.last_activity,
                feedback_id=item.id,
                excerpt=entry.excerpt,
                source=item.source,
                product_key=item.product_key,
                received_at=item.received_at,
                status=item.status,
                decision=item.decision,
                rationale=item.rationale,
                stage_due_at=item.stage_due_at,
                overdue=item.overdue,
                transitions=[
                    LoopStep(to=t.to_status, at=t.at, note=t.note, decision=t.decision)
                    for t in entry.transitions
                ],
                announcement=Announcement(message_id=message_id, title=titles.get(message_id))
                if message_id
                else None,
            )
        )
    items.sort(key=lambda i: i.at, reverse=True)
    notifications = await notifications_records.my_notifications(session, principal, limit=limit)
    return Feed(
        items=[*await campaigns_service.my_campaign_steps(session, principal), *items, *notifications]
    )
