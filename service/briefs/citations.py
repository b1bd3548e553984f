"""What a brief does when evidence it cites is replaced.

Apart from the brief use cases: evidence calls this while the brief service reads evidence,
so it may import nothing that imports the evidence service.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.briefs import repository
from service.db import utcnow


async def record_citation_edit(
    session: AsyncSession, principal: Principal, brief_ids: Iterable[uuid.UUID]
) -> None:
    """Records that `principal` changed what these briefs cite (evidence replaced): versions not
    yet published get a new revision and `principal` as last editor, so four eyes holds. Joins
    the caller's transaction."""
    await repository.record_edit(
        session, brief_ids, editor_id=principal.person_id, statuses=("draft", "in_review"), now=utcnow()
    )
