"""What other domains do when a person changes, in the transaction of the change itself.

People sits below the domains that address people: campaigns enroll them, so campaigns imports
people and never the other way round. A domain that must follow person changes registers a
handler here; `service.wiring.connect_domains` does it for every entry point (the app, the
CLI), so the wiring is one visible list rather than a side effect of what happened to be
imported. A person change before anything was connected is refused: it would silently skip
the enrollments a new hire or a move must get.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

PersonChanged = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]

_on_person_changed: list[PersonChanged] = []


def on_person_changed(handler: PersonChanged) -> None:
    """Runs `handler(session, person_id)` after every change to a person (once per handler);
    it joins the change's transaction: flushes, never commits."""
    if handler not in _on_person_changed:
        _on_person_changed.append(handler)


async def person_changed(session: AsyncSession, person_id: uuid.UUID) -> None:
    """Tells every registered domain that this person was written (the row is flushed)."""
    if not _on_person_changed:
        raise RuntimeError("person hooks not connected: call service.wiring.connect_domains() at start-up")
    for handler in _on_person_changed:
        await handler(session, person_id)
