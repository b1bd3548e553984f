"""DataLoaders over the products service."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from service.products import service as products_service
from service.products.schemas import ProductRead

if TYPE_CHECKING:
    from service.api.graphql import Context


def product_loader(context: Context) -> DataLoader[uuid.UUID, ProductRead | None]:
    async def load(ids: list[uuid.UUID]) -> list[ProductRead | None]:
        async with context.session() as session:
            found = await products_service.products_by_ids(session, context.principal, ids)
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)
