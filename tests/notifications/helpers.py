"""Building blocks for notification tests: the worker's clock and sequencer driven by hand, and
the notification rows read back."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from service.events import sequencer
from service.events.clock import detect_due
from service.notifications.models import Notification


async def drive(app, now: datetime | None = None) -> None:
    """What the worker does in a loop: the clock (at `now`), then the sequencer (the fan-out)."""
    if now is not None:
        await detect_due(app.state.sessionmaker, now=now)
    while await sequencer.sequence(app.state.sessionmaker):
        pass


async def notifications(app, **where) -> list[Notification]:
    async with app.state.sessionmaker() as session:
        stmt = sa.select(Notification).order_by(Notification.created_at, Notification.dedupe_key)
        for name, value in where.items():
            stmt = stmt.where(getattr(Notification, name) == value)
        return list((await session.execute(stmt)).scalars())


async def set_preferences(client, headers, **body) -> dict:
    response = await client.put("/api/v1/me/notification-preferences", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
