"""DataLoaders over the people repository's batch fetches."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from service.people import service as people_service
from service.people.schemas import DepartmentRead, PersonRead

if TYPE_CHECKING:
    from service.api.graphql import Context


def department_loader(context: Context) -> DataLoader[uuid.UUID, DepartmentRead | None]:
    async def load(ids: list[uuid.UUID]) -> list[DepartmentRead | None]:
        async with context.session() as session:
            found = await people_service.departments_by_ids(session, context.principal, ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def person_loader(context: Context) -> DataLoader[uuid.UUID, PersonRead | None]:
    async def load(ids: list[uuid.UUID]) -> list[PersonRead | None]:
        async with context.session() as session:
            found = await people_service.people_by_ids(session, context.principal, ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)
