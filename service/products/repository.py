"""Queries for products. Never commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from service.pagination import PageParams, RowPage, fetch_page
from service.products.models import Product


async def get_by_key(session: AsyncSession, key: str) -> Product | None:
    return (await session.execute(select(Product).where(Product.key == key))).scalar_one_or_none()


async def list_products(session: AsyncSession, params: PageParams) -> RowPage[Product]:
    return await fetch_page(session, select(Product), Product, params)
