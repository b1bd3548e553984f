"""What a brief does when evidence it cites is replaced.

Apart from the brief use cases: evidence calls this while the brief service reads evidence,
so it may import nothing that imports the evidence service.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.briefs import repository
from service.briefs.models import CONTENT_FIELDS, OPEN_STATUSES, Brief
from service.db import utcnow


def _swapped(cited: list[uuid.UUID], old: uuid.UUID, new: uuid.UUID) -> list[uuid.UUID]:
    return list(dict.fromkeys(new if e == old else e for e in cited))  # cite each item once


async def follow_replacement(
    session: AsyncSession, principal: Principal, old: uuid.UUID, new: uuid.UUID
) -> None:
    """Makes the briefs citing `old` cite `new`, as edits by `principal` (so four eyes holds):
    open versions change in place (a scheduled one goes back to review); a published version
    stays as it is and a minor version citing `new` opens for review, unless its lineage has
    an open version already. History (superseded, archived) is left as it was. Joins the
    caller's transaction."""
    now = utcnow()
    citing = await repository.citing(session, old)
    cited = await repository.citations(session, [b.id for b in citing])
    for brief in sorted(citing, key=lambda b: b.status != "published"):  # open ones after
        if brief.status in OPEN_STATUSES:
            await repository.set_citations(session, brief.id, _swapped(cited[brief.id], old, new))
            if brief.status == "scheduled":  # approved with the old claim: review it again
                brief.status = "in_review"
                brief.publish_at = None
                brief.published_by_id = None
                brief.submitted_at = now
            brief.last_editor_id = principal.person_id
            brief.revision += 1
            brief.updated_at = now
        elif brief.status == "published":
            versions = await repository.versions(session, [brief.lineage_id])
            if any(v.status in OPEN_STATUSES for v in versions):
                continue  # the open version is where the change belongs
            draft = Brief(
                lineage_id=brief.lineage_id,
                version=max(v.version for v in versions) + 1,
                change="minor",
                product_id=brief.product_id,
                locale=brief.locale,
                status="in_review",
                submitted_at=now,
                **{name: getattr(brief, name) for name in CONTENT_FIELDS},
                author_id=principal.person_id,
                last_editor_id=principal.person_id,
            )
            session.add(draft)
            await session.flush()
            await repository.set_citations(session, draft.id, _swapped(cited[brief.id], old, new))
