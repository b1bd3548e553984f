"""What a message does when evidence it cites is replaced.

Apart from the message use cases: evidence calls this while the message service reads
evidence, so it may import nothing that imports the evidence service.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.db import utcnow
from service.messages import repository
from service.messages.models import CONTENT_FIELDS, OPEN_STATUSES, Message


def _swapped(cited: list[uuid.UUID], old: uuid.UUID, new: uuid.UUID) -> list[uuid.UUID]:
    return list(dict.fromkeys(new if e == old else e for e in cited))  # cite each item once


async def follow_replacement(
    session: AsyncSession, principal: Principal, old: uuid.UUID, new: uuid.UUID
) -> None:
    """Makes the messages citing `old` cite `new`, as edits by `principal` (so four eyes holds):
    open versions change in place (a scheduled one goes back to review); a published version
    stays as it is and a minor version citing `new` opens for review, unless its lineage has
    an open version already. History (superseded, withdrawn, expired) is left as it was. Joins
    the caller's transaction."""
    now = utcnow()
    citing = await repository.citing(session, old)
    cited = await repository.evidence_ids(session, [m.id for m in citing])
    for message in sorted(citing, key=lambda m: m.status != "published"):
        if message.status in OPEN_STATUSES:
            await repository.replace_citations(session, message.id, _swapped(cited[message.id], old, new))
            if message.status == "scheduled":  # approved with the old claim: review it again
                message.status = "in_review"
                message.publish_at = None
                message.published_by_id = None
                message.submitted_at = now
            message.last_editor_id = principal.person_id
            message.revision += 1
            message.updated_at = now
        elif message.status == "published":
            versions = await repository.versions(session, message.lineage_id)
            if any(v.status in OPEN_STATUSES for v in versions):
                continue  # the open version is where the change belongs
            draft = Message(
                lineage_id=message.lineage_id,
                version=max(v.version for v in versions) + 1,
                change="minor",
                status="in_review",
                submitted_at=now,
                **{name: getattr(message, name) for name in CONTENT_FIELDS},
                author_id=principal.person_id,
                last_editor_id=principal.person_id,
            )
            await repository.add(session, draft)
            await repository.add_citations(session, draft.id, _swapped(cited[message.id], old, new))
    await repository.flush(session)
