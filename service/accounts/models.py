"""Customer accounts: the companies whose voice the feedback hub carries."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from service.accounts.schemas import AMOUNT_SCALE, AccountSegment
from service.db import TableBase
from service.value_sets import one_of

_UNITS = Decimal(10) ** AMOUNT_SCALE


class Money(sa.types.TypeDecorator[Decimal]):
    """An exact amount: NUMERIC(20, 4) on PostgreSQL; on SQLite, which has no exact decimal
    (NUMERIC there is a float), a BIGINT of ten-thousandths, so sums stay exact on both.

    `func.sum()` over the column keeps this type, so a SUM comes back as a Decimal too.
    """

    impl = sa.Numeric(20, AMOUNT_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(20, AMOUNT_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return int(Decimal(value) * _UNITS)
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            scaled: Decimal = Decimal(int(value)) / _UNITS
            return scaled
        return Decimal(value)


class Account(TableBase, table=True):
    """A customer. A merged duplicate points at its survivor and keeps its key and name, so
    feedback naming either still lands on the survivor."""

    __tablename__ = "accounts"
    __table_args__ = (
        sa.CheckConstraint(one_of("segment", AccountSegment, nullable=True), name="segment"),
        # An amount without its currency (or the reverse) means nothing.
        sa.CheckConstraint(
            "(revenue_amount IS NULL) = (revenue_currency IS NULL)", name="revenue_has_currency"
        ),
        sa.CheckConstraint("revenue_amount IS NULL OR revenue_amount >= 0", name="revenue_not_negative"),
    )

    key: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200, unique=True)
    segment: str | None = Field(default=None, max_length=16)
    revenue_amount: Decimal | None = Field(default=None, sa_type=Money)
    revenue_currency: str | None = Field(default=None, max_length=3)
    merged_into_id: uuid.UUID | None = Field(default=None, foreign_key="accounts.id", index=True)
