"""Read paths select named rows (SQLAlchemy Core), not ORM objects.

A list or detail read builds read models and forgets the rows: hydrating SQLModel objects for
it (identity map, instrumented attributes, SQLModel's `__setattr__` per column) and dumping
them again with `model_dump()` was a third of a REST page's time (docs/benchmarks.md, Reads).
`rows_of(Entity)` selects rows with the same attribute names, so policies and shaping code
read `row.status` either way; writes still load ORM objects.
"""

from __future__ import annotations

import keyword
from collections import namedtuple
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import WARN_LINTING

from service.db import UTCDateTime

# A named row as the read helpers return it: SQLAlchemy's `Row`, or `fetch_rows`' named tuple
# on PostgreSQL; both answer `row.status`, `row[0]` and `as_dict(row)`.
ReadRow = Any
# What the read helpers run: a select, or a union of selects.
Selection = sa.Select[*tuple[Any, ...]] | sa.CompoundSelect[*tuple[Any, ...]]


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
    if type(row) in _ROW_TYPES:  # fetched by `fetch_rows`
        return dict(zip(row._fields, row, strict=True))
    if not isinstance(row, sa.Row):
        return row.model_dump()  # type: ignore[no-any-return]  # a SQLModel object
    parent = row._parent
    known = _names.get(id(parent))
    if known is None or known[0] is not parent:
        if len(_names) >= _MAX_NAMES:
            _names.clear()
        known = _names[id(parent)] = (parent, row._fields)
    return dict(zip(known[1], row, strict=True))


def any_of(column: Any, dialect: str, name: str = "ids") -> sa.ColumnElement[bool]:
    """`column` is one of the values bound to `name` (a list): one array parameter on PostgreSQL
    (`= ANY($1)`: one prepared statement whatever the count, which `fetch_rows` can run on
    asyncpg directly), an expanding `IN` elsewhere. Build it once per dialect (`functools.cache`)."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))  # type: ignore[no-any-return]  # a comparison
    return column.in_(sa.bindparam(name, expanding=True))  # type: ignore[no-any-return]  # a comparison


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# `rows_in`'s statements, by the statement they narrow: built once, a statement also keeps
# its cache key (building one and its key cost ~0.1 ms, a fair part of a by-ids read).
_NARROWED: dict[tuple[int, int, str], tuple[Any, Any, sa.Select[*tuple[Any, ...]]]] = {}
_MAX_NARROWED = 256


async def rows_in(
    session: AsyncSession, stmt: sa.Select[*tuple[Any, ...]], column: Any, values: Iterable[Any]
) -> list[ReadRow]:
    """The rows of `stmt` whose `column` (a table column) is one of `values`: the by-ids read of
    a DataLoader or a feed. One array parameter on PostgreSQL, so the asyncpg path takes it (an
    expanding IN never can); nothing is sent for no values. Pass a statement built once (a
    module constant, `rows_of(...)`): its narrowed form is then built once too."""
    wanted = list(set(values))
    if not wanted:
        return []
    dialect = dialect_of(session)
    key = (id(stmt), id(column), dialect)
    known = _NARROWED.get(key)
    if known is None or known[0] is not stmt or known[1] is not column:
        if len(_NARROWED) >= _MAX_NARROWED:
            _NARROWED.clear()
        known = _NARROWED[key] = (stmt, column, stmt.where(any_of(column, dialect)))
    return await read_rows(session, known[2], {"ids": wanted})


# --- named rows straight from asyncpg ---------------------------------------------------------
#
# SQLAlchemy's execute path around a one-query page (greenlet hops, an execution context, a
# cursor, a result with its metadata, events, a Row per row) cost ~0.5 ms of CPU against
# ~0.2 ms for asyncpg's own fetch of the same rows (docs/benchmarks.md, Reads). On
# PostgreSQL a read select outside a transaction goes around it: compiled through
# SQLAlchemy's own statement cache (the same SQL, binds and type processing), prepared by its
# adapter's statement cache, fetched by asyncpg, and named as SQLAlchemy names them. Anything
# this does not cover (SQLite, a transaction, expanding or literal binds, execution options,
# listeners after execution) takes the normal path, and so does any error, so that errors
# are SQLAlchemy's (wrapped, and a dead connection invalidated).


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a compiled select needs to run on asyncpg and to look like SQLAlchemy's rows."""

    compiled: Any  # kept alive, so its id() in _SHAPES is never reused while the entry lives
    row: type[tuple[Any, ...]]  # a named tuple with SQLAlchemy's column names
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]  # result processors by position


_SHAPES: dict[int, _Shape] = {}
_MAX_SHAPES = 1024
_ROW_TYPES: set[type[Any]] = set()


def _row_type(names: tuple[str, ...]) -> type[tuple[Any, ...]] | None:
    """A named tuple type for these column names (None when they cannot be its fields)."""
    if len(set(names)) != len(names) or not all(n.isidentifier() and not n.startswith("_") for n in names):
        return None
    if any(keyword.iskeyword(n) for n in names):
        return None
    row: type[tuple[Any, ...]] = namedtuple("ReadRow", names)  # type: ignore[misc]  # names are dynamic
    _ROW_TYPES.add(row)
    return row


def _fast_path_ok(sync: Any, stmt: Any) -> Any:
    """The asyncpg adapter of `sync` when `stmt` may go around SQLAlchemy, else None."""
    if sync.dialect.name != "postgresql" or stmt._execution_options:
        return None
    if sync._has_events or sync.engine._has_events:
        dispatch = sync.dispatch
        if dispatch.after_execute or dispatch.after_cursor_execute:
            return None
    adapter = sync.connection.dbapi_connection
    # Outside a transaction only: an error inside one would leave it aborted, and re-running
    # the statement on the normal path would then report that instead of the error itself.
    if getattr(adapter, "isolation_level", None) != "autocommit":
        return None
    return adapter


async def fetch_rows(
    connection: AsyncConnection, stmt: Selection, params: dict[str, Any] | None = None
) -> list[Any]:
    """The rows of a Core select, named like SQLAlchemy's (`row.status`, `as_dict(row)`).

    On PostgreSQL outside a transaction, after the first execution of a statement's shape,
    straight from asyncpg (see above); otherwise through `connection.execute`. `params` are
    values for the statement's `bindparam`s."""
    # SQLAlchemy's private execution attributes below: typed Any on purpose.
    sync: Any = connection.sync_connection
    adapter = _fast_path_ok(sync, stmt) if sync is not None else None
    if adapter is None:
        return list((await connection.execute(stmt, params)).all())
    dialect = sync.dialect
    statement: Any = stmt
    compiled: Any
    compiled, extracted, collected, _hit = statement._compile_w_cache(
        dialect,
        compiled_cache=sync.engine._compiled_cache,
        column_keys=[],
        for_executemany=False,
        schema_translate_map=None,
        linting=dialect.compiler_linting | WARN_LINTING,
    )
    if compiled.literal_execute_params or compiled.post_compile_params or compiled.schema_translate_map:
        return list((await connection.execute(stmt, params)).all())
    shape = _SHAPES.get(id(compiled))
    if shape is None or shape.compiled is not compiled:
        # The first time: SQLAlchemy runs it and names its columns; the next times are fast.
        result = await connection.execute(stmt, params)
        learnt = list(result.all())
        await _learn(sync, adapter, compiled, tuple(result.keys()))
        return learnt
    values = compiled.construct_params(
        params, extracted_parameters=extracted, escape_names=False, _collected_params=collected
    )
    processors = compiled._bind_processors
    parameters = [
        processors[key](values[key]) if key in processors else values[key] for key in compiled.positiontup
    ]
    sql = compiled.string
    if sync._has_events or sync.engine._has_events:
        # What listeners see of any statement: the read cache's watch, statement counters.
        for before in sync.dispatch.before_execute:
            before(sync, stmt, [], params or {}, sync._execution_options)
        for before_cursor in sync.dispatch.before_cursor_execute:
            before_cursor(sync, None, sql, tuple(parameters), None, False)
    try:
        async with adapter._execute_mutex:
            prepared, _attributes = await adapter._prepare(sql, dialect._invalidate_schema_cache_asof)
            records = await prepared.fetch(*parameters)
    except Exception:
        # SQLAlchemy's path raises the error as SQLAlchemy does (and invalidates a dead
        # connection); a select outside a transaction is safe to send again.
        return list((await connection.execute(stmt, params)).all())
    make = shape.row
    converters = shape.converters
    if not converters:
        return [tuple.__new__(make, record) for record in records]
    rows = []
    for record in records:
        row = list(record)
        for index, convert in converters:
            row[index] = convert(row[index])
        rows.append(tuple.__new__(make, row))
    return rows


async def read_rows(
    session: AsyncSession, stmt: Selection, params: dict[str, Any] | None = None
) -> list[ReadRow]:
    """`fetch_rows` on the session's connection (the session's transaction, if it has one)."""
    return await fetch_rows(await session.connection(), stmt, params)


async def read_one(session: AsyncSession, stmt: sa.Select[Any]) -> ReadRow | None:
    """The one row of a select (by primary key, say), None when there is none."""
    rows = await read_rows(session, stmt)
    if len(rows) > 1:
        raise sa.exc.MultipleResultsFound("Multiple rows were found when one or none was required")
    return rows[0] if rows else None


async def _learn(sync: Any, adapter: Any, compiled: Any, names: tuple[str, ...]) -> None:
    """Remember `compiled`'s row names and result processors (by the column types PostgreSQL
    reports for its SQL, as SQLAlchemy's asyncpg cursor describes them)."""
    row = _row_type(names)
    if row is None or len(compiled._result_columns) != len(names):
        return
    async with adapter._execute_mutex:
        _prepared, attributes = await adapter._prepare(
            compiled.string, sync.dialect._invalidate_schema_cache_asof
        )
    if len(attributes) != len(names):
        return
    converters = []
    for index, (column, attribute) in enumerate(zip(compiled._result_columns, attributes, strict=True)):
        if isinstance(column.type, UTCDateTime) and attribute.type.name == "timestamptz":
            # asyncpg returns timestamptz as aware UTC already: re-tagging it (astimezone) is
            # a no-op, and was ~1 µs a value, two or more a row (every table's timestamps).
            continue
        convert = column.type._cached_result_processor(sync.dialect, attribute.type.oid)
        if convert is not None:
            converters.append((index, convert))
    if len(_SHAPES) >= _MAX_SHAPES:
        _SHAPES.clear()
    _SHAPES[id(compiled)] = _Shape(compiled=compiled, row=row, converters=tuple(converters))
