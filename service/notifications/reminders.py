"""Reminders that stop, and managers told who fell behind: two clock detectors
(service/events/clock.py, registered in service/wiring.py).

- `reminders_due` → `campaign.reminder_due`: a person a campaign step fell due for (its
  `campaign.step_due` fired) who has not acknowledged the campaign's current brief version (or
  one since its last substantive change) is reminded `CUECARD_REMINDER_AFTER_HOURS` after the
  step fell due, then again each as long after the previous reminder, at most
  `CUECARD_REMINDER_MAX` times per step. Never once they acknowledged, left the audience or were
  deactivated, nor for a campaign no longer active. Reminder n of a step is one clock
  occurrence (its due time is the step's plus n delays), so two workers fire it once.
- `people_overdue` → `campaign.person_overdue`: once per campaign and person who is overdue
  (readiness's `overdue`, service/campaigns/readiness.py: the last step is due for them and they
  have not passed its check) `CUECARD_REMINDER_AFTER_HOURS` after the last step fell due.

The fan-out (service/notifications/fanout.py) turns the events into notification rows: a
reminder reaches the person (quiet hours and the digest via Preferences.next_send_time), an
overdue person their managers.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from service.auth.principal import Principal
from service.briefs import service as briefs_service
from service.briefs.service import CurrentVersion
from service.campaigns.models import Acknowledgement, Campaign, Check, Enrollment
from service.campaigns.schemas import PersonState
from service.db import session_settings
from service.events.catalogue import EventType
from service.events.clock import Due, first_day_from, lookback_start, not_fired
from service.events.clock_models import ClockOccurrence
from service.people.models import Person

# The clock acts for nobody in particular: it reads briefs as the operator would.
CLOCK = Principal.operator("notifications-clock")


def _acknowledged(current: CurrentVersion, person: Any) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        col(Acknowledgement.lineage_id) == current.lineage_id,
        col(Acknowledgement.version) >= current.basis_version,
        col(Acknowledgement.person_id) == person,
    )


def _checked(current: CurrentVersion, person: Any, *statuses: str) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        col(Check.lineage_id) == current.lineage_id,
        col(Check.version) >= current.basis_version,
        col(Check.status).in_(statuses),
        col(Check.person_id) == person,
    )


async def _active_campaigns(session: AsyncSession) -> tuple[list[Campaign], dict[uuid.UUID, CurrentVersion]]:
    campaigns = list(
        (
            await session.execute(
                sa.select(Campaign)
                .where(col(Campaign.status) == "active")
                .order_by(col(Campaign.activated_at), col(Campaign.id))
            )
        ).scalars()
    )
    current = await briefs_service.current_versions(session, CLOCK, {c.lineage_id for c in campaigns})
    return campaigns, current


async def reminders_due(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Reminders due by `now` for steps people have not acknowledged; one query per active
    campaign with a published brief."""
    settings = session_settings(session)
    if settings.reminder_max < 1:
        return []
    after = timedelta(hours=settings.reminder_after_hours)
    maximum = settings.reminder_max
    since = lookback_start(session, now) - after * maximum
    step_due, reminder = aliased(ClockOccurrence, name="step_due"), aliased(ClockOccurrence, name="reminder")
    same_step = (
        col(reminder.type) == EventType.CAMPAIGN_REMINDER_DUE.value,
        col(reminder.subject_id) == col(step_due.subject_id),
        col(reminder.person_id) == col(step_due.person_id),
        col(reminder.step_id) == col(step_due.step_id),
    )
    sent = sa.select(sa.func.count()).where(*same_step).scalar_subquery()
    last = sa.select(sa.func.max(col(reminder.fired_at))).where(*same_step).scalar_subquery()
    # Reminder k+1 is due once the step is (k+1) delays old: with at most 20 reminders, one
    # condition per k keeps the arithmetic in Python (no interval maths in two SQL dialects).
    due_now = sa.or_(
        *[sa.and_(sent == k, col(step_due.due_at) <= now - after * (k + 1)) for k in range(maximum)]
    )
    campaigns, current = await _active_campaigns(session)
    found: list[Due] = []
    for campaign in campaigns:
        version = current.get(campaign.lineage_id)
        left = budget - len(found)
        if version is None or not campaign.steps:
            continue
        if left <= 0:
            break
        stmt = (
            sa.select(
                col(step_due.person_id),
                col(step_due.step_id),
                col(step_due.due_at),
                sent.label("sent"),
            )
            .join(
                Enrollment,
                sa.and_(
                    col(Enrollment.campaign_id) == col(step_due.subject_id),
                    col(Enrollment.person_id) == col(step_due.person_id),
                ),
            )
            .join(Person, col(Person.id) == col(Enrollment.person_id))
            .where(
                col(step_due.type) == EventType.CAMPAIGN_STEP_DUE.value,
                col(step_due.subject_id) == campaign.id,
                col(step_due.due_at) >= since,
                col(Enrollment.left_at).is_(None),
                col(Person.active) == sa.true(),
                due_now,
                sa.or_(last.is_(None), last <= now - after),
                ~_acknowledged(version, col(step_due.person_id)),
            )
            .order_by(col(step_due.due_at), col(step_due.person_id), col(step_due.step_id))
            .limit(left)
        )
        # A step is known by its id wherever it moved; one removed since is not reminded of.
        where = {step["id"]: (index, step) for index, step in enumerate(campaign.steps)}
        for row in (await session.execute(stmt)).all():
            if row.step_id is None or str(row.step_id) not in where:
                continue
            index, step = where[str(row.step_id)]
            number = int(row.sent) + 1
            found.append(
                Due(
                    type=EventType.CAMPAIGN_REMINDER_DUE,
                    subject_id=campaign.id,
                    person_id=row.person_id,
                    step=index,
                    step_id=row.step_id,
                    due_at=row.due_at + after * number,
                    once_per_due_at=True,
                    data={
                        "campaign_id": campaign.id,
                        "campaign_name": campaign.name,
                        "person_id": row.person_id,
                        "step_index": index,
                        "step_id": step["id"],
                        "channel": step["channel"],
                        "title": step["title"],
                        "message_id": step.get("message_id"),
                        "step_due_at": row.due_at,
                        "reminder_number": number,
                    },
                )
            )
    return found


def _last_due(campaign: Campaign) -> tuple[datetime | None, int | None]:
    """(the time a launch's last step is due, the last onboarding day offset)."""
    if campaign.kind == "onboarding":
        return None, max(int(s.get("day_offset") or 0) for s in campaign.steps)
    times = [datetime.fromisoformat(s["at"]) for s in campaign.steps if s.get("at")]
    return (max(times) if times else None), None


async def people_overdue(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """People who fell overdue in active campaigns: the last step is due for them and they have
    not passed. Readiness counts them overdue from the step's due time; their managers are told
    `CUECARD_REMINDER_AFTER_HOURS` later (the time a first reminder gives them to act), not at
    the very moment a whole department's step falls due. Once per campaign and person, never
    for a deadline older than the lookback."""
    since = lookback_start(session, now)
    grace = timedelta(hours=session_settings(session).reminder_after_hours)
    campaigns, current = await _active_campaigns(session)
    found: list[Due] = []
    for campaign in campaigns:
        version = current.get(campaign.lineage_id)
        left = budget - len(found)
        if version is None or not campaign.steps:
            continue
        if left <= 0:
            break
        person = col(Enrollment.person_id)
        state = sa.case(
            (~_acknowledged(version, person), PersonState.NOT_ACKNOWLEDGED.value),
            (_checked(version, person, "submitted"), PersonState.CHECK_PENDING.value),
            (_checked(version, person, "needs_work"), PersonState.NEEDS_WORK.value),
            else_=PersonState.ACKNOWLEDGED.value,
        )
        stmt = (
            sa.select(person.label("person_id"), col(Enrollment.anchor_date), state.label("state"))
            .join(Person, col(Person.id) == person)
            .where(
                col(Enrollment.campaign_id) == campaign.id,
                col(Enrollment.left_at).is_(None),
                col(Person.active) == sa.true(),
                ~_checked(version, person, "passed"),
                not_fired(EventType.CAMPAIGN_PERSON_OVERDUE, col(Enrollment.campaign_id), person=person),
            )
            .order_by(person)
            .limit(left)
        )
        fixed, offset = _last_due(campaign)
        if offset is None:
            if fixed is None or not since <= fixed + grace <= now:
                continue
        else:
            # Due at 00:00 UTC of anchor + offset, told `grace` later: anchor <= (now - grace) - offset.
            stmt = stmt.where(
                col(Enrollment.anchor_date).is_not(None),
                col(Enrollment.anchor_date) <= (now - grace).date() - timedelta(days=offset),
                col(Enrollment.anchor_date) >= first_day_from(since - grace) - timedelta(days=offset),
            )
        for row in (await session.execute(stmt)).all():
            if offset is None:
                assert fixed is not None
                due_at = fixed
            else:
                anchor = datetime.combine(row.anchor_date, datetime.min.time(), tzinfo=now.tzinfo)
                due_at = anchor + timedelta(days=offset)
            if due_at + grace > now:  # the day is right, the hour not yet
                continue
            found.append(
                Due(
                    type=EventType.CAMPAIGN_PERSON_OVERDUE,
                    subject_id=campaign.id,
                    person_id=row.person_id,
                    due_at=due_at + grace,
                    data={
                        "campaign_id": campaign.id,
                        "person_id": row.person_id,
                        "state": row.state,
                        "due_at": due_at,
                    },
                )
            )
    return found
