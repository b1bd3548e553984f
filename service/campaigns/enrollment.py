"""Enrollment that follows people: campaigns enroll their audience when activated, and every
change to a person (a new hire, a move, a deactivation) re-decides their campaigns in the same
transaction as the change itself.

Audience rules, in one place:
- an empty department or role list matches everyone; only active people match;
- onboarding campaigns take people whose onboarding is still running: a hire date on or after
  today minus the campaign's last `day_offset` (a future start date included);
- whoever stops matching leaves (`left_at`), keeping their acknowledgements and checks;
  matching again takes them back.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from service.campaigns import repository
from service.campaigns.models import Campaign, Enrollment
from service.db import utcnow
from service.people.models import Person


def last_day_offset(campaign: Campaign) -> int:
    return max((s.get("day_offset") or 0 for s in campaign.steps), default=0)


def onboarding_window_start(campaign: Campaign, today: date) -> date:
    """The earliest hire date whose onboarding is still running today."""
    return today - timedelta(days=last_day_offset(campaign))


async def _audience(session: AsyncSession, campaign: Campaign, *, within_window: bool) -> repository.Audience:
    department_ids = (
        await repository.department_ids(session, campaign.audience_departments)
        if campaign.audience_departments
        else None
    )
    hired_since = (
        onboarding_window_start(campaign, utcnow().date())
        if within_window and campaign.kind == "onboarding"
        else None
    )
    return repository.audience_select(
        department_ids=department_ids, roles=campaign.audience_roles or None, hired_since=hired_since
    )


async def enroll_audience(session: AsyncSession, campaign: Campaign) -> int:
    """Enrolls every active person the campaign's audience matches (on activation)."""
    audience = await _audience(session, campaign, within_window=True)
    return await repository.enroll_matching(
        session, campaign.id, audience, anchored=campaign.kind == "onboarding"
    )


async def resync_campaign(session: AsyncSession, campaign: Campaign) -> None:
    """After an active campaign's audience changed: let go, take back and enroll."""
    everyone = await _audience(session, campaign, within_window=False)
    await repository.leave_unmatched(session, campaign.id, everyone)
    await repository.rejoin_matched(session, campaign.id, everyone)
    await enroll_audience(session, campaign)


def matches(campaign: Campaign, person: Person, department_key: str | None) -> bool:
    """Whether a person belongs to the campaign's audience (onboarding's window aside)."""
    if not person.active:
        return False
    if campaign.audience_departments and department_key not in campaign.audience_departments:
        return False
    return not (campaign.audience_roles and person.role not in campaign.audience_roles)


def _onboarding_still_running(campaign: Campaign, person: Person) -> bool:
    if campaign.kind != "onboarding":
        return True
    return person.hire_date is not None and person.hire_date >= onboarding_window_start(
        campaign, utcnow().date()
    )


async def follow_person(session: AsyncSession, person_id: uuid.UUID) -> None:
    """Re-decides one person's active campaigns after a change to them (people's hook, wired in
    service.wiring); flushes, never commits: the change and its enrollments land together."""
    await session.flush()
    person = await session.get(Person, person_id)
    if person is None:
        return
    campaigns = await repository.active_campaigns(session)
    if not campaigns:
        return
    department_key = await repository.department_key(session, person.department_id)
    enrolled = await repository.person_enrollments(session, person.id, [c.id for c in campaigns])
    now = utcnow()
    new_rows = []
    for campaign in campaigns:
        enrollment = enrolled.get(campaign.id)
        belongs = matches(campaign, person, department_key)
        anchor = person.hire_date if campaign.kind == "onboarding" else None
        if enrollment is None:
            if belongs and _onboarding_still_running(campaign, person):
                new_rows.append(repository.enrollment_row(campaign.id, person.id, anchor, now))
            continue
        changed = _apply(enrollment, belongs=belongs, anchor=anchor, now=now)
        if changed:
            enrollment.revision += 1
            enrollment.updated_at = now
    await repository.insert_enrollments(session, new_rows)
    await session.flush()


def _apply(enrollment: Enrollment, *, belongs: bool, anchor: date | None, now: datetime) -> bool:
    """Leave, come back, or move the onboarding anchor; True when something changed."""
    changed = False
    if not belongs and enrollment.left_at is None:
        enrollment.left_at = now
        changed = True
    elif belongs and enrollment.left_at is not None:
        enrollment.left_at = None
        changed = True
    if belongs and anchor is not None and enrollment.anchor_date != anchor:
        enrollment.anchor_date = anchor  # HR corrected the start date: the steps move with it
        changed = True
    return changed
