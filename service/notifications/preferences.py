"""A person's notification preferences: `GET/PUT /api/v1/me/notification-preferences`.

No row means the defaults (service/notifications/rules.py). GET shows what applies, every
kind filled in; PUT replaces the stored choices (what it leaves out takes its default) and
keeps, per kind, only the switches the person set, so a changed default still reaches them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.auth.principal import Principal
from service.db import transactional, utcnow
from service.errors import Forbidden
from service.notifications.models import NotificationPreferences
from service.notifications.rules import Preferences
from service.notifications.schemas import (
    KindChannels,
    NotificationChannel,
    NotificationKind,
    NotificationPreferencesRead,
    NotificationPreferencesUpdate,
    QuietHours,
)


def _person(principal: Principal) -> None:
    if principal.person_id is None:
        raise Forbidden("Notification preferences belong to a person; service accounts have none.")


def _read(prefs: Preferences) -> NotificationPreferencesRead:
    quiet = (
        QuietHours(start=prefs.quiet_start.strftime("%H:%M"), end=prefs.quiet_end.strftime("%H:%M"))
        if prefs.quiet_start is not None and prefs.quiet_end is not None
        else None
    )
    return NotificationPreferencesRead(
        timezone=prefs.timezone,
        quiet_hours=quiet,
        delivery=prefs.delivery,
        kinds={
            kind: KindChannels(
                email=prefs.wants(kind, NotificationChannel.EMAIL),
                chat=prefs.wants(kind, NotificationChannel.CHAT),
            )
            for kind in NotificationKind
        },
    )


async def _row(session: AsyncSession, principal: Principal) -> NotificationPreferences | None:
    stmt = select(NotificationPreferences).where(
        col(NotificationPreferences.person_id) == principal.person_id
    )
    return (await session.execute(stmt)).scalars().first()


async def get_my_preferences(session: AsyncSession, principal: Principal) -> NotificationPreferencesRead:
    """Gets the calling person's notification preferences as they apply."""
    _person(principal)
    return _read(Preferences.of(await _row(session, principal)))


@transactional
async def set_my_preferences(
    session: AsyncSession, principal: Principal, data: NotificationPreferencesUpdate
) -> NotificationPreferencesRead:
    """Replaces the calling person's notification preferences."""
    _person(principal)
    assert principal.person_id is not None
    row = await _row(session, principal)
    if row is None:
        row = NotificationPreferences(person_id=principal.person_id)
        session.add(row)
    else:
        row.updated_at = utcnow()
        row.revision += 1
    row.timezone = data.timezone
    row.quiet_start = data.quiet_hours.start if data.quiet_hours else None
    row.quiet_end = data.quiet_hours.end if data.quiet_hours else None
    row.delivery = data.delivery.value
    row.kinds = {
        kind.value: {channel: value for channel, value in switches.model_dump().items() if value is not None}
        for kind, switches in data.kinds.items()
        if switches.email is not None or switches.chat is not None
    }
    await session.flush()
    return _read(Preferences.of(row))
