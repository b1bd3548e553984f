"""Nudges: a manager (their own department's people), an editor or an admin asks people of a
campaign to catch up; `POST /api/v1/campaigns/{id}/nudges`.

Whom: `person_ids`, or everyone in a `state` and/or `overdue`, of the campaign's current
audience as `GET /api/v1/campaigns/{id}/people` lists it for the caller (so a manager reaches
their department's people only; anyone else named is skipped). Each person gets one nudge:
recorded on the intranet (their feed) and e-mailed when they want nudges by e-mail (quiet hours
and the digest apply). At most once per person, campaign and UTC day: the row's `dedupe_key`
carries the date, so a second nudge the same day is counted as skipped.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.auth.principal import Principal, Role
from service.campaigns import readiness
from service.campaigns import service as campaigns_service
from service.campaigns.schemas import CampaignPerson
from service.db import transactional, utcnow
from service.errors import Conflict, Forbidden
from service.notifications.records import Recipient, person_rows, write
from service.notifications.rules import preferences_of
from service.notifications.schemas import NotificationKind, NudgeCreate, NudgeResult
from service.pagination import MAX_LIMIT, PageParams
from service.people.models import Person

# The most people one nudge reaches (a page of person_ids is at most 1,000 too).
MAX_NUDGED = 10_000


async def _audience(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, data: NudgeCreate
) -> list[CampaignPerson]:
    """The people the caller may nudge that the request names, as the campaign's people list."""
    people: list[CampaignPerson] = []
    cursor: str | None = None
    while len(people) < MAX_NUDGED:
        page = await readiness.campaign_people(
            session,
            principal,
            campaign_id,
            PageParams(limit=MAX_LIMIT, cursor=cursor),
            state=data.state,
            overdue=data.overdue,
        )
        people += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    if data.person_ids is not None:
        named = set(data.person_ids)
        people = [p for p in people if p.person_id in named]
    return people[:MAX_NUDGED]


@transactional
async def nudge(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, data: NudgeCreate
) -> NudgeResult:
    """Nudges people of a campaign to catch up, once per person and UTC day."""
    if principal.person_id is None or not principal.has_role(Role.MANAGER, Role.EDITOR, Role.ADMIN):
        raise Forbidden("Managers (their department), editors and admins nudge people.")
    campaign = await campaigns_service.get_campaign(session, principal, campaign_id)
    if campaign.status != "active":
        raise Conflict(f"Only an active campaign's people are nudged; this one is {campaign.status}.")
    people = await _audience(session, principal, campaign_id, data)
    asked = len(set(data.person_ids)) if data.person_ids is not None else len(people)
    sender = await session.scalar(
        sa.select(col(Person.display_name)).where(col(Person.id) == principal.person_id)
    )
    rows = (
        (
            await session.execute(
                sa.select(col(Person.id), col(Person.locale), col(Person.department_id)).where(
                    col(Person.id).in_({p.person_id for p in people})
                )
            )
        ).all()
        if people
        else []
    )
    about = {row.id: row for row in rows}
    prefs = await preferences_of(session, about)
    now = utcnow()
    day = now.date().isoformat()
    written: list[dict[str, Any]] = []
    for person in people:
        row = about.get(person.person_id)
        if row is None:
            continue
        recipient = Recipient(
            id=row.id,
            display_name=person.display_name,
            locale=row.locale,
            department_id=row.department_id,
            preferences=prefs[row.id],
        )
        written += person_rows(
            session,
            kind=NotificationKind.NUDGE,
            recipient=recipient,
            what=f"{campaign_id}:{day}",
            data={
                "title": campaign.name,
                "link": f"/api/v1/campaigns/{campaign_id}/acknowledgements",
                "campaign_name": campaign.name,
                "state": person.state.value,
                "note": data.note,
                "sender_name": sender,
            },
            now=now,
            campaign_id=campaign_id,
        )
    # The intranet record decides who is nudged today: the other channels follow it only.
    records = [r for r in written if r["channel"] == "intranet"]
    inserted = await write(session, records)
    nudged = {r["person_id"] for r in records if r["dedupe_key"] in inserted}
    await write(session, [r for r in written if r["channel"] != "intranet" and r["person_id"] in nudged])
    return NudgeResult(nudged=len(nudged), skipped=asked - len(nudged))
