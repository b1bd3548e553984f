"""Products (or the company itself) that briefs and pitches are about."""

from __future__ import annotations

from sqlmodel import Field

from service.db import TableBase


class Product(TableBase, table=True):
    __tablename__ = "products"

    key: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    # Step one of internal marketing is the company's own value story: a product entry
    # may stand for the company as a whole.
    is_company: bool = Field(default=False)
