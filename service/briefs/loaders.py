"""DataLoaders for briefs: by id, and versions by lineage."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from service.briefs import service as briefs_service
from service.briefs.schemas import BriefRead

if TYPE_CHECKING:
    from service.api.graphql import Context


def brief_loader(context: Context) -> DataLoader[uuid.UUID, BriefRead | None]:
    async def load(ids: list[uuid.UUID]) -> list[BriefRead | None]:
        async with context.session() as session:
            found = await briefs_service.briefs_by_ids(session, context.principal, ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def versions_loader(context: Context) -> DataLoader[uuid.UUID, list[BriefRead]]:
    """Keyed by lineage id: every version of that brief the caller may see, oldest first."""

    async def load(lineage_ids: list[uuid.UUID]) -> list[list[BriefRead]]:
        async with context.session() as session:
            found = await briefs_service.versions_by_lineage(session, context.principal, lineage_ids)
        return [found.get(i, []) for i in lineage_ids]

    return DataLoader(load_fn=load)
