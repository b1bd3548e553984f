"""Queries for products. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.pagination import PageParams, RowPage, fetch_page
from service.products.models import Product
from service.reads import rows_in, rows_of

PRODUCTS: sa.Table = Product.__table__


async def get_by_key(session: AsyncSession, key: str) -> Product | None:
    return (await session.execute(select(Product).where(Product.key == key))).scalar_one_or_none()


async def list_products(session: AsyncSession, params: PageParams) -> RowPage[Product]:
    return await fetch_page(session, select(Product), Product, params)


async def by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, sa.Row[Any]]:
    """Products as named rows (every brief, message, campaign and feedback read names its
    product; see service/reads.py)."""
    return {p.id: p for p in await rows_in(session, rows_of(Product), PRODUCTS.c.id, ids)}


async def existing_keys(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    """Which of these keys name a product."""
    wanted = set(keys)
    if not wanted:
        return set()
    stmt = sa.select(col(Product.key)).where(col(Product.key).in_(wanted))
    return set((await session.execute(stmt)).scalars().all())
