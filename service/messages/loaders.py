"""DataLoaders for messages: the messages citing a brief (any version), and the evidence they cite."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from service.evidence import service as evidence_service
from service.evidence.schemas import EvidenceRead
from service.messages import service as messages_service
from service.messages.schemas import MessageRead

if TYPE_CHECKING:
    from service.api.graphql import Context


def by_lineage_loader(context: Context) -> DataLoader[uuid.UUID, list[MessageRead]]:
    """Keyed by brief lineage id: the messages citing any version of that brief."""

    async def load(lineage_ids: list[uuid.UUID]) -> list[list[MessageRead]]:
        async with context.session() as session:
            found = await messages_service.messages_by_lineage(session, context.principal, lineage_ids)
        return [found.get(i, []) for i in lineage_ids]

    return DataLoader(load_fn=load)


def evidence_loader(context: Context) -> DataLoader[uuid.UUID, EvidenceRead | None]:
    """Evidence items by id (what messages cite), invisible ones as None."""

    async def load(ids: list[uuid.UUID]) -> list[EvidenceRead | None]:
        async with context.session() as session:
            found = await evidence_service.evidence_by_ids(session, context.principal, ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)
