"""What falls due in the feedback loop as time passes: an item still in a stage past the
stage's due time (`feedback.overdue`). A detector for the clock (service/events/clock.py),
registered in service.wiring."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.events.catalogue import EventType
from service.events.clock import Due, lookback_start, not_fired
from service.feedback.models import FeedbackItem
from service.feedback.schemas import LoopStage
from service.products.models import Product

# Announced closes the loop: nothing is due after it.
OPEN_STAGES = tuple(stage.value for stage in LoopStage if stage != LoopStage.ANNOUNCED)


async def feedback_overdue(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Items whose `stage_due_at` passed while they are still in that stage: once per item
    and due time (the next stage's due time is a new occurrence). Only due times within the
    lookback fire; reads (status, stage_due_at) as the overdue list does."""
    stmt: sa.Select[uuid.UUID, str, datetime | None, uuid.UUID | None, str | None] = (
        sa.select(
            col(FeedbackItem.id),
            col(FeedbackItem.status),
            col(FeedbackItem.stage_due_at),
            col(FeedbackItem.theme_id),
            col(Product.key).label("product_key"),
        )
        .outerjoin(Product, col(Product.id) == col(FeedbackItem.product_id))
        .where(
            col(FeedbackItem.status).in_(OPEN_STAGES),
            col(FeedbackItem.stage_due_at) < now,
            col(FeedbackItem.stage_due_at) >= lookback_start(session, now),
            not_fired(
                EventType.FEEDBACK_OVERDUE, col(FeedbackItem.id), due_at=col(FeedbackItem.stage_due_at)
            ),
        )
        .order_by(col(FeedbackItem.stage_due_at), col(FeedbackItem.id))
        .limit(budget)
    )
    return [
        Due(
            type=EventType.FEEDBACK_OVERDUE,
            subject_id=row.id,
            due_at=row.stage_due_at,
            once_per_due_at=True,
            product_key=row.product_key,
            data={
                "feedback_id": row.id,
                "status": row.status,
                "stage_due_at": row.stage_due_at,
                "product_key": row.product_key,
                "theme_id": row.theme_id,
            },
        )
        for row in (await session.execute(stmt)).all()
    ]
