"""Read paths select named rows (SQLAlchemy Core), not ORM objects.

A list or detail read builds read models and forgets the rows: hydrating SQLModel objects for
it (identity map, instrumented attributes, SQLModel's `__setattr__` per column) and dumping
them again with `model_dump()` was a third of a REST page's time (docs/benchmarks.md, Reads).
`rows_of(Entity)` selects rows with the same attribute names, so policies and shaping code
read `row.status` either way; writes still load ORM objects.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa


@cache
def rows_of(entity: Any) -> sa.Select[Any]:
    """A Core select of every column of an ORM entity's table, built once: statements are
    immutable (`.where()` returns a new one), and building one costs a coercion per column."""
    return sa.select(*entity.__table__.columns)


# A result's column names, by its metadata object (shared by every row of a result, and by
# every result of a cached statement): `Row._asdict()` rebuilds them per row, 4 µs of a
# row's 4.5. The object is kept beside its names, so a reused id() is never mistaken for it.
_names: dict[int, tuple[Any, tuple[str, ...]]] = {}
_MAX_NAMES = 1024


def as_dict(row: Any) -> dict[str, Any]:
    """A named row's or an ORM object's columns as a dict (to build a read model from)."""
    if not isinstance(row, sa.Row):
        return row.model_dump()  # type: ignore[no-any-return]  # a SQLModel object
    parent = row._parent
    known = _names.get(id(parent))
    if known is None or known[0] is not parent:
        if len(_names) >= _MAX_NAMES:
            _names.clear()
        known = _names[id(parent)] = (parent, row._fields)
    return dict(zip(known[1], row, strict=True))
