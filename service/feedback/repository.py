"""Queries and bulk writes for feedback items and their loop history. Never commits.

Bulk ingest goes through SQLAlchemy Core, not the ORM: one SELECT per ~1,000 keys to find
what exists, then executemany INSERT and UPDATE statements, so 10,000 items cost a few
dozen round trips and no per-row object bookkeeping.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.db import is_postgres
from service.feedback.models import FeedbackItem, FeedbackTransition
from service.pagination import PageParams, RowPage, fetch_row_page
from service.reads import ReadRow, read_one, read_rows, rows_in, rows_of

ITEMS: sa.Table = FeedbackItem.__table__
KEY_CHUNK = 1000  # keys per IN (...) lookup: well under every driver's parameter limit
ARRAY_CHUNK = 10_000  # keys per array lookup (PostgreSQL): one parameter, no limit to respect
# Rows per executemany call (SQLite). SQLAlchemy processes each row's parameters on the event
# loop before aiosqlite's thread runs the statement: 2,000 rows held the loop ~200 ms, 200 rows
# hold it a few ms (the batch bound, service.feedback.ingest.YIELD_EVERY) and cost nothing
# measurable in total, the database being in-process.
WRITE_CHUNK = 200
# Rows per INSERT/UPDATE ... FROM unnest(arrays) (PostgreSQL): encoding 2,500 rows' arrays held
# the loop ~20-30 ms of CPU; 500 rows hold it a few ms for four more round trips a batch.
PG_WRITE_CHUNK = 500
_TEXTS = postgresql.ARRAY(sa.String())
# One encoder for every row (json.dumps with options builds a new one per call).
_encode_tags = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# What a re-sent item replaces: the fields the caller sends, and the hash of them.
RESENT_COLUMNS = (
    "product_id",
    "customer_account",
    "customer_segment",
    "account_id",
    "body",
    "nps_score",
    "tags",
    "received_at",
    "content_hash",
    "filed_by_id",
    "filed_by_client",
)


@dataclass(frozen=True, slots=True)
class Existing:
    """What ingest needs to know about an item that is already stored."""

    id: uuid.UUID
    content_hash: str
    filed_by_id: uuid.UUID | None
    received_at: datetime
    filed_by_client: str | None  # None: a person filed it under their own name


# --- reads -------------------------------------------------------------------------------------


async def get(session: AsyncSession, feedback_id: uuid.UUID) -> FeedbackItem | None:
    return await session.get(FeedbackItem, feedback_id)


async def get_for_update(session: AsyncSession, feedback_id: uuid.UUID) -> FeedbackItem | None:
    """The row, locked until commit on PostgreSQL: a concurrent transition waits, then sees
    the stage this one reached (and is refused) instead of recording the same step twice."""
    stmt = (
        select(FeedbackItem)
        .where(FeedbackItem.id == feedback_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_key(session: AsyncSession, source: str, external_id: str) -> FeedbackItem | None:
    stmt = (
        select(FeedbackItem)
        .where(FeedbackItem.source == source, FeedbackItem.external_id == external_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def read_row(session: AsyncSession, feedback_id: uuid.UUID) -> ReadRow | None:
    """One item as a named row (reads; see service/reads.py)."""
    stmt = rows_of(FeedbackItem).where(col(FeedbackItem.id) == feedback_id)
    return await read_one(session, stmt)


async def by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, sa.Row[Any]]:
    """Items as named rows (reads; see service/reads.py)."""
    wanted = list(set(ids))
    found: dict[uuid.UUID, sa.Row[Any]] = {}
    for start in range(0, len(wanted), KEY_CHUNK):
        rows = await rows_in(session, rows_of(FeedbackItem), ITEMS.c.id, wanted[start : start + KEY_CHUNK])
        found.update((item.id, item) for item in rows)
    return found


async def list_items(
    session: AsyncSession,
    params: PageParams,
    *,
    filed_by_id: uuid.UUID | None = None,
    status: str | None = None,
    source: str | None = None,
    product_id: uuid.UUID | None = None,
    theme_id: uuid.UUID | None = None,
    since: datetime | None = None,
) -> RowPage[ReadRow]:
    """A page of items as named rows (reads; see service/reads.py)."""
    stmt = rows_of(FeedbackItem)
    if filed_by_id is not None:
        stmt = stmt.where(col(FeedbackItem.filed_by_id) == filed_by_id)
    if status is not None:
        stmt = stmt.where(col(FeedbackItem.status) == status)
    if source is not None:
        stmt = stmt.where(col(FeedbackItem.source) == source)
    if product_id is not None:
        stmt = stmt.where(col(FeedbackItem.product_id) == product_id)
    if theme_id is not None:
        stmt = stmt.where(col(FeedbackItem.theme_id) == theme_id)
    if since is not None:
        stmt = stmt.where(col(FeedbackItem.received_at) >= since)
    return await fetch_row_page(session, stmt, FeedbackItem, params)


def _last_activity() -> sa.ColumnElement[datetime]:
    return sa.func.coalesce(
        col(FeedbackItem.announced_at),
        col(FeedbackItem.implemented_at),
        col(FeedbackItem.decided_at),
        col(FeedbackItem.triaged_at),
        col(FeedbackItem.created_at),
    )


_FILED_BY = (
    rows_of(FeedbackItem)
    .where(ITEMS.c.filed_by_id == sa.bindparam("person_id"))
    .order_by(_last_activity().desc(), ITEMS.c.id.desc())
    .limit(sa.bindparam("limit", type_=sa.Integer))
)


async def filed_by(session: AsyncSession, person_id: uuid.UUID, *, limit: int) -> list[sa.Row[Any]]:
    """What one person filed, the most recent loop news first (named rows, see service/reads.py)."""
    return await read_rows(session, _FILED_BY, {"person_id": person_id, "limit": limit})


STEPS: sa.Table = FeedbackTransition.__table__
_STEPS_IN_ORDER = rows_of(FeedbackTransition).order_by(STEPS.c.at, STEPS.c.id)


async def transitions_for(
    session: AsyncSession, feedback_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[sa.Row[Any]]]:
    """Each item's steps through the loop, oldest first (one query per ~1,000 items; named rows)."""
    wanted = list(set(feedback_ids))
    result: dict[uuid.UUID, list[sa.Row[Any]]] = {}
    for start in range(0, len(wanted), KEY_CHUNK):
        chunk = wanted[start : start + KEY_CHUNK]
        for step in await rows_in(session, _STEPS_IN_ORDER, STEPS.c.feedback_id, chunk):
            result.setdefault(step.feedback_id, []).append(step)
    return result


def _postgres_lookup() -> sa.Select[Any]:
    """PostgreSQL: one unique-index probe per key, whatever the planner believes.

    A plain `external_id IN (...)` (or `= ANY($2)`) runs as a prepared statement; on a table
    that has just grown (statistics not yet refreshed) its plan walked every row of the source
    and compared each against the whole list, so each re-sent batch was slower than the last.
    The LATERAL subquery with LIMIT 1 cannot be flattened into a hash join: each key is one
    index lookup, O(keys · log rows), and all sources go in one statement.
    """
    c = ITEMS.c
    keys = (
        sa.func.unnest(sa.bindparam("sources", type_=_TEXTS), sa.bindparam("external_ids", type_=_TEXTS))
        .table_valued("source", "external_id")
        .render_derived(name="k")
    )
    probe = (
        sa.select(
            c.source, c.external_id, c.id, c.content_hash, c.filed_by_id, c.received_at, c.filed_by_client
        )
        .where(c.source == keys.c.source, c.external_id == keys.c.external_id)
        .limit(1)
        .lateral("f")
    )
    return sa.select(probe).select_from(keys).join(probe, sa.true())


_PG_LOOKUP = _postgres_lookup()


async def existing_by_keys(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Existing]:
    """The stored items among these (source, external_id) keys, in a few queries."""
    c = ITEMS.c
    found: dict[tuple[str, str], Existing] = {}
    if is_postgres(session):
        for start in range(0, len(keys), ARRAY_CHUNK):
            sources, external_ids = zip(*keys[start : start + ARRAY_CHUNK], strict=True)
            params = {"sources": list(sources), "external_ids": list(external_ids)}
            for source, external_id, *stored in await session.execute(_PG_LOOKUP, params):
                found[(source, external_id)] = Existing(*stored)
        return found
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    for source, source_ids in by_source.items():
        for start in range(0, len(source_ids), KEY_CHUNK):
            stmt = sa.select(
                c.external_id, c.id, c.content_hash, c.filed_by_id, c.received_at, c.filed_by_client
            ).where(c.source == source, c.external_id.in_(source_ids[start : start + KEY_CHUNK]))
            for external_id, *stored in await session.execute(stmt):
                found[(source, external_id)] = Existing(*stored)
    return found


# --- bulk writes ---------------------------------------------------------------------------------


# The columns each new item brings; the rest are the same for the whole batch. The id is made
# by the caller (uuid4), so the item's search document can be built before the row is written.
INSERTED_COLUMNS = (
    "id",
    "source",
    "external_id",
    "product_id",
    "customer_account",
    "customer_segment",
    "account_id",
    "body",
    "nps_score",
    "tags",
    "received_at",
    "content_hash",
    "filed_by_id",
    "stage_due_at",
)
_AWARE = sa.DateTime(timezone=True)  # the values are UTC-aware already: no per-element processing
_ARRAY_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "id": postgresql.ARRAY(sa.Uuid()),
    "product_id": postgresql.ARRAY(sa.Uuid()),
    "account_id": postgresql.ARRAY(sa.Uuid()),
    "filed_by_id": postgresql.ARRAY(sa.Uuid()),
    "nps_score": postgresql.ARRAY(sa.Integer()),
    "received_at": postgresql.ARRAY(_AWARE),
    "stage_due_at": postgresql.ARRAY(_AWARE),
    "tags": _TEXTS,  # JSON text, cast in SQL
}


def _on_conflict(insert: postgresql.Insert | sqlite.Insert) -> sa.Insert:
    """Should another request have stored the same key since we looked, update that row only
    when the content differs: the race loses nothing and duplicates nothing."""
    excluded = insert.excluded
    replaced: dict[str, Any] = {name: excluded[name] for name in RESENT_COLUMNS if name != "filed_by_id"}
    replaced["filed_by_id"] = sa.case(
        # An integration never inherits a person as the filer of its ticket.
        (
            sa.and_(ITEMS.c.filed_by_client.is_(None), excluded.filed_by_client.is_not(None)),
            excluded.filed_by_id,
        ),
        else_=sa.func.coalesce(excluded.filed_by_id, ITEMS.c.filed_by_id),
    )
    replaced["updated_at"] = excluded.updated_at
    replaced["revision"] = ITEMS.c.revision + 1
    return insert.on_conflict_do_update(
        index_elements=[ITEMS.c.source, ITEMS.c.external_id],
        set_=replaced,
        where=ITEMS.c.content_hash.is_distinct_from(excluded.content_hash),
    )


def _postgres_insert() -> sa.Insert:
    """One INSERT ... SELECT FROM unnest(<one array per column>) for the whole batch.

    Profiled against executemany and insertmanyvalues (multi-row VALUES, 1,000 rows a
    statement): both spend most of their time building, sending and parsing 18 parameters a
    row; a dozen typed arrays cost PostgreSQL one parse and asyncpg one binary encoding each.
    """
    arrays = [sa.bindparam(f"a_{name}", type_=_ARRAY_TYPES.get(name, _TEXTS)) for name in INSERTED_COLUMNS]
    rows = sa.func.unnest(*arrays).table_valued(*INSERTED_COLUMNS).render_derived(name="r")
    values = {name: rows.c[name] for name in INSERTED_COLUMNS} | {
        "tags": sa.cast(rows.c.tags, ITEMS.c.tags.type),
        "created_at": sa.bindparam("now", type_=_AWARE),
        "updated_at": sa.bindparam("now", type_=_AWARE),
        "revision": sa.literal(1),
        "status": sa.literal("new"),
        "filed_by_client": sa.bindparam("filed_by_client", type_=sa.String()),
    }
    names = list(values)
    select = sa.select(*(values[name] for name in names))
    return _on_conflict(postgresql.insert(ITEMS).from_select(names, select)).returning(ITEMS.c.id)


_PG_INSERT = _postgres_insert()
_SQLITE_INSERT = _on_conflict(sqlite.insert(ITEMS)).returning(ITEMS.c.id)


UPDATED_COLUMNS = ("id", *RESENT_COLUMNS, "stage_due_at")


def _bound(name: str) -> sa.BindParameter[Any]:
    # Bind names must differ from column names in an UPDATE's SET clause.
    return sa.bindparam(f"b_{name}", type_=ITEMS.c[name].type)


def _new_items_due(due: sa.ColumnElement[Any]) -> sa.Case[Any]:
    # A new item's triage is due from when it was received; later stages keep their own clock.
    return sa.case((ITEMS.c.status == "new", due), else_=ITEMS.c.stage_due_at)


_SQLITE_UPDATE = (
    sa.update(ITEMS)
    .where(ITEMS.c.id == _bound("id"))
    .values(
        {name: _bound(name) for name in RESENT_COLUMNS}
        | {
            "updated_at": sa.bindparam("b_now", type_=ITEMS.c.updated_at.type),
            "revision": ITEMS.c.revision + 1,
            "stage_due_at": _new_items_due(_bound("stage_due_at")),
        }
    )
)


def _postgres_update() -> sa.Update:
    """One UPDATE ... FROM unnest(<one array per column>) for every changed item of a chunk."""
    arrays = [sa.bindparam(f"u_{name}", type_=_ARRAY_TYPES.get(name, _TEXTS)) for name in UPDATED_COLUMNS]
    rows = sa.func.unnest(*arrays).table_valued(*UPDATED_COLUMNS).render_derived(name="u")
    values: dict[str, Any] = {name: rows.c[name] for name in RESENT_COLUMNS} | {
        "tags": sa.cast(rows.c.tags, ITEMS.c.tags.type),
        "updated_at": sa.bindparam("now", type_=_AWARE),
        "revision": ITEMS.c.revision + 1,
        "stage_due_at": _new_items_due(rows.c.stage_due_at),
    }
    return sa.update(ITEMS).values(values).where(ITEMS.c.id == rows.c.id)


_PG_UPDATE = _postgres_update()


def _as_arrays(prefix: str, names: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """Rows (tuples in `names` order) turned into one list per column, tags as JSON text."""
    columns = {
        f"{prefix}{name}": list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)
    }
    columns[f"{prefix}tags"] = [_encode_tags(tags) if tags else "[]" for tags in columns[f"{prefix}tags"]]
    return columns


async def insert_items(
    session: AsyncSession, rows: Sequence[tuple[Any, ...]], *, now: datetime, filed_by_client: str | None
) -> set[uuid.UUID]:
    """Insert new items, each a tuple in INSERTED_COLUMNS order; the batch shares the rest.

    Returns the ids of the rows written: each new row's own id, and the stored id of a key
    another request stored meanwhile if this content replaced it (a key stored meanwhile with
    the same content is not written, and not returned)."""
    written: set[uuid.UUID] = set()
    if not rows:
        return written
    if is_postgres(session):
        for start in range(0, len(rows), PG_WRITE_CHUNK):
            columns = _as_arrays("a_", INSERTED_COLUMNS, rows[start : start + PG_WRITE_CHUNK])
            result = await session.execute(
                _PG_INSERT, {**columns, "now": now, "filed_by_client": filed_by_client}
            )
            written.update(result.scalars())
        return written
    shared = {
        "created_at": now,
        "updated_at": now,
        "revision": 1,
        "status": "new",
        "filed_by_client": filed_by_client,
    }
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = [
            dict(zip(INSERTED_COLUMNS, row, strict=True)) | shared
            for row in rows[start : start + WRITE_CHUNK]
        ]
        written.update((await session.execute(_SQLITE_INSERT, chunk)).scalars())
    return written


async def update_items(session: AsyncSession, rows: Sequence[tuple[Any, ...]], *, now: datetime) -> None:
    """Replace what the caller sent on existing items, each a tuple in UPDATED_COLUMNS order."""
    if not rows:
        return
    if is_postgres(session):
        for start in range(0, len(rows), PG_WRITE_CHUNK):
            columns = _as_arrays("u_", UPDATED_COLUMNS, rows[start : start + PG_WRITE_CHUNK])
            await session.execute(_PG_UPDATE, {**columns, "now": now})
        return
    names = [f"b_{name}" for name in UPDATED_COLUMNS]
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = [
            dict(zip(names, row, strict=True)) | {"b_now": now} for row in rows[start : start + WRITE_CHUNK]
        ]
        await session.execute(_SQLITE_UPDATE, chunk)


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def flush(session: AsyncSession) -> None:
    await session.flush()
