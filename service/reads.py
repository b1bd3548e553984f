"""Read paths select named rows (SQLAlchemy Core), not ORM objects.

A list or detail read builds read models and forgets the rows: hydrating SQLModel objects for
it (identity map, instrumented attributes, SQLModel's `__setattr__` per column) and dumping
them again with `model_dump()` was a third of a REST page's time (docs/benchmarks.md, Reads).
`sa.select(*columns(Entity))` returns rows with the same attribute names, so policies and
shaping code read `row.status` either way; writes still load ORM objects.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def columns(entity: Any, *, exclude: frozenset[str] = frozenset()) -> list[sa.Column[Any]]:
    """The table columns of an ORM entity, for a Core select of its rows."""
    return [column for column in entity.__table__.columns if column.key not in exclude]


def as_dict(row: Any) -> dict[str, Any]:
    """A named row's or an ORM object's columns as a dict (to build a read model from)."""
    return row._asdict() if isinstance(row, sa.Row) else row.model_dump()
