"""What falls due in campaigns as time passes: steps (`campaign.step_due`) and checks left
waiting for a grade (`check.waiting`). Detectors for the clock (service/events/clock.py),
registered in service.wiring."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.campaigns.models import Campaign, Check, Enrollment
from service.campaigns.schemas import CampaignStatus, CheckStatus
from service.campaigns.service import anchor_of, step_due_at
from service.db import is_postgres, session_settings
from service.events.catalogue import EventType
from service.events.clock import Due, first_day_from, lookback_start, not_fired
from service.events.clock_models import ClockOccurrence
from service.products.models import Product


def _step_event(campaign: sa.Row[Any], index: int, person_id: uuid.UUID, due_at: datetime) -> Due:
    step = campaign.steps[index]
    return Due(
        type=EventType.CAMPAIGN_STEP_DUE,
        subject_id=campaign.id,
        person_id=person_id,
        step_id=uuid.UUID(step["id"]),
        step=index,
        due_at=due_at,
        product_key=campaign.product_key,
        data={
            "campaign_id": campaign.id,
            "campaign_name": campaign.name,
            "kind": campaign.kind,
            "product_key": campaign.product_key,
            "step_id": step["id"],
            "step_index": index,
            "person_id": person_id,
            "due_at": due_at,
            "channel": step["channel"],
            "title": step["title"],
            "message_id": step.get("message_id"),
            "exercise": step.get("exercise"),
        },
    )


def _enrolled_by_day(day_offset: int, session: AsyncSession) -> sa.ColumnElement[bool]:
    """Enrolled no later than the UTC day the step falls due (anchor + day_offset)."""
    enrolled_at = col(Enrollment.enrolled_at)
    if is_postgres(session):
        enrolled_day: sa.ColumnElement[Any] = sa.cast(sa.func.timezone("UTC", enrolled_at), sa.Date)
        # A literal: `date - $1` leaves PostgreSQL to guess the parameter's type.
        earliest_anchor = enrolled_day - sa.literal_column(str(int(day_offset)), sa.Integer)
    else:  # naive UTC text; date() gives YYYY-MM-DD, the form dates are stored in
        earliest_anchor = sa.func.date(enrolled_at, f"-{int(day_offset)} days", type_=sa.String)
    return col(Enrollment.anchor_date) >= earliest_anchor


async def _active_campaigns(session: AsyncSession) -> Sequence[sa.Row[Any]]:
    stmt = (
        sa.select(
            col(Campaign.id),
            col(Campaign.name),
            col(Campaign.kind),
            col(Campaign.steps),
            col(Product.key).label("product_key"),
        )
        .join(Product, col(Product.id) == col(Campaign.product_id))
        .where(col(Campaign.status) == CampaignStatus.ACTIVE)
        .order_by(col(Campaign.activated_at), col(Campaign.id))
    )
    return (await session.execute(stmt)).all()


def _due_for_step(
    session: AsyncSession, campaign: sa.Row[Any], index: int, now: datetime, since: datetime
) -> sa.Select[int, uuid.UUID, date | None] | None:
    """The enrollments one step fell due for (its index now, person, anchor), or None when the
    step cannot be due for anyone now. What fired is known by the step's id, not its index."""
    step = campaign.steps[index]
    stmt: sa.Select[int, uuid.UUID, date | None] = sa.select(
        sa.literal_column(str(int(index)), sa.Integer).label("step"),
        col(Enrollment.person_id).label("person_id"),
        col(Enrollment.anchor_date).label("anchor_date"),
    ).where(
        col(Enrollment.campaign_id) == campaign.id,
        col(Enrollment.left_at).is_(None),
        not_fired(
            EventType.CAMPAIGN_STEP_DUE,
            col(Enrollment.campaign_id),
            person=col(Enrollment.person_id),
            step_id=uuid.UUID(step["id"]),
        ),
    )
    fixed = step_due_at(step, None)
    if fixed is not None:  # launch, reinforcement: one time for everyone enrolled by then
        return stmt.where(col(Enrollment.enrolled_at) <= fixed) if since <= fixed <= now else None
    offset = int(step.get("day_offset") or 0)  # onboarding: due on anchor + day_offset
    last_anchor: date = now.date() - timedelta(days=offset)
    first_anchor: date = first_day_from(since) - timedelta(days=offset)
    return stmt.where(
        col(Enrollment.anchor_date).is_not(None),
        col(Enrollment.anchor_date) <= last_anchor,
        col(Enrollment.anchor_date) >= first_anchor,
        _enrolled_by_day(offset, session),
    )


async def steps_due(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Campaign steps that fell due for the people enrolled in active campaigns.

    Once per campaign, step (its id: reordering the steps neither fires one again nor skips
    one) and person, and never retroactively:
    - a launch or reinforcement step is due at its `at` for whoever is enrolled (and has not
      left) at that time: a person enrolled after it gets nothing for it;
    - an onboarding step is due at 00:00 UTC of the day `day_offset` days after the person's
      hire date (the enrollment's anchor), for whoever was enrolled by the end of that day: a
      hire enrolled on their first day still gets day 0, one enrolled later does not get the
      steps of the days before.
    Changing a step after it fired (keeping its id) does not fire it again; a step that fell due longer ago
    than the lookback does not fire. One query per campaign with a step that may be due (its
    steps' selects in one UNION ALL), over all its people."""
    since = lookback_start(session, now)
    found: list[Due] = []
    for campaign in await _active_campaigns(session):
        left = budget - len(found)
        if left <= 0:
            break
        selects = [
            stmt
            for index in range(len(campaign.steps))
            if (stmt := _due_for_step(session, campaign, index, now, since)) is not None
        ]
        if not selects:
            continue
        due = sa.union_all(*selects).subquery("due")
        rows = await session.execute(
            sa.select(due.c.step, due.c.person_id, due.c.anchor_date)
            .order_by(due.c.step, due.c.person_id)
            .limit(left)
        )
        for index, person_id, anchor_date in rows.all():
            step = campaign.steps[index]
            due_at = step_due_at(step, anchor_of(anchor_date))
            assert due_at is not None  # fixed, or the query took anchored enrollments only
            found.append(_step_event(campaign, index, person_id, due_at))
    return found


async def checks_waiting(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Submitted checks still waiting for a grade `CUECARD_CHECK_WAITING_HOURS` after they were
    submitted: once per check (whatever campaign status; it still waits for a grade)."""
    waiting = timedelta(hours=session_settings(session).check_waiting_hours)
    submitted_by = now - waiting
    submitted_since = lookback_start(session, now) - waiting
    stmt: sa.Select[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID, int, datetime, str] = (
        sa.select(
            col(Check.id),
            col(Check.person_id),
            col(Check.campaign_id),
            col(Check.brief_id),
            col(Check.version),
            col(Check.submitted_at),
            col(Product.key).label("product_key"),
        )
        .join(Campaign, col(Campaign.id) == col(Check.campaign_id))
        .join(Product, col(Product.id) == col(Campaign.product_id))
        .where(
            col(Check.status) == CheckStatus.SUBMITTED,
            col(Check.submitted_at) <= submitted_by,
            col(Check.submitted_at) >= submitted_since,
            not_fired(EventType.CHECK_WAITING, col(Check.id)),
        )
        .order_by(col(Check.submitted_at), col(Check.id))
        .limit(budget)
    )
    return [
        Due(
            type=EventType.CHECK_WAITING,
            subject_id=row.id,
            due_at=row.submitted_at + waiting,
            product_key=row.product_key,
            data={
                "check_id": row.id,
                "person_id": row.person_id,
                "campaign_id": row.campaign_id,
                "brief_id": row.brief_id,
                "version": row.version,
                "product_key": row.product_key,
                "submitted_at": row.submitted_at,
                "waiting_hours": session_settings(session).check_waiting_hours,
            },
        )
        for row in (await session.execute(stmt)).all()
    ]


# --- what fired and can be pruned (service/events/clock.py `prune_when`) -----------------------


def campaign_closed(session: AsyncSession, now: datetime) -> sa.ColumnElement[bool]:
    """Occurrences about a campaign (its steps, reminders, overdue people) once it is no longer
    active. Not while it is, however old: a step edited (keeping its id) or a hire date
    corrected may move an old occurrence back into the lookback, and its row is what keeps it
    from firing again; reminders count the rows of their step. Completed and cancelled are
    final, and every detector of these reads active campaigns only."""
    still_active = sa.exists().where(
        col(Campaign.id) == col(ClockOccurrence.subject_id), col(Campaign.status) == CampaignStatus.ACTIVE
    )
    return ~still_active


def check_graded(session: AsyncSession, now: datetime) -> sa.ColumnElement[bool]:
    """`check.waiting` of a check graded since (or gone). Not while the check still waits,
    however old: it is keyed by the check alone, and a longer `CUECARD_CHECK_WAITING_HOURS`
    would move its due time back into the lookback."""
    still_waiting = sa.exists().where(
        col(Check.id) == col(ClockOccurrence.subject_id), col(Check.status) == CheckStatus.SUBMITTED
    )
    return ~still_waiting
