"""Products: what briefs and pitches are about."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.db import add_new, transactional
from service.errors import Conflict, Forbidden, NotFound
from service.pagination import Page, PageParams
from service.products import policies, repository
from service.products.models import Product
from service.products.schemas import ProductCreate, ProductRead


async def list_products(session: AsyncSession, principal: Principal, params: PageParams) -> Page[ProductRead]:
    """Lists products, oldest first."""
    if not policies.can_read(principal):
        raise Forbidden("This caller may not read products.")
    page = await repository.list_products(session, params)
    return Page(items=[ProductRead.model_validate(p) for p in page.rows], next_cursor=page.next_cursor)


async def get_product(session: AsyncSession, principal: Principal, key: str) -> ProductRead:
    """Gets a product by its key."""
    product = await repository.get_by_key(session, key) if policies.can_read(principal) else None
    if product is None:
        raise NotFound(f"No product '{key}'.")
    return ProductRead.model_validate(product)


async def find_product(session: AsyncSession, principal: Principal, key: str) -> ProductRead | None:
    """Gets a product by key, or None (for other domains resolving a `product_key`)."""
    product = await repository.get_by_key(session, key) if policies.can_read(principal) else None
    return ProductRead.model_validate(product) if product else None


async def unknown_keys(session: AsyncSession, principal: Principal, keys: Iterable[str]) -> list[str]:
    """Returns those of `keys` that name no product (for other domains checking references)."""
    wanted = list(dict.fromkeys(keys))
    found = await repository.existing_keys(session, wanted) if policies.can_read(principal) else set()
    return [key for key in wanted if key not in found]


async def products_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ProductRead]:
    """Gets many products at once."""
    return {key: ProductRead.model_validate(p) for key, p in (await repository.by_ids(session, ids)).items()}


@transactional
async def create_product(session: AsyncSession, principal: Principal, data: ProductCreate) -> ProductRead:
    """Creates a product."""
    if not policies.can_manage(principal):
        raise Forbidden("Only admins create products.")
    message = f"A product with key '{data.key}' already exists."
    if await repository.get_by_key(session, data.key):
        raise Conflict(message)
    product = Product(**data.model_dump())
    await add_new(session, product, message)
    return ProductRead.model_validate(product)
