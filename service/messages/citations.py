"""What a message does when evidence it cites is replaced.

Apart from the message use cases: evidence calls this while the message service reads
evidence, so it may import nothing that imports the evidence service.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.messages import repository


async def record_citation_edit(
    session: AsyncSession, principal: Principal, message_ids: Iterable[uuid.UUID]
) -> None:
    """Records that `principal` changed what these messages cite (evidence replaced): drafts get
    a new revision and `principal` as last editor, so four eyes holds. Joins the caller's
    transaction."""
    await repository.record_edit(session, message_ids, editor_id=principal.person_id, statuses=("draft",))
