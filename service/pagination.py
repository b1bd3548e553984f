"""Keyset pagination over (created_at, id): stable under inserts, one indexed range scan a page."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from service.errors import Invalid, field_error
from service.reads import read_rows

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# A cursor this API issues is ~100 characters; anything much longer is not one of ours, and
# decoding it (base64, then JSON that may nest arbitrarily deep) is work an attacker chooses.
MAX_CURSOR_CHARS = 256

T = TypeVar("T")


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), str(self.id)], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            if len(token) > MAX_CURSOR_CHARS:
                raise ValueError("too long")
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created_at, ident = json.loads(raw)
            created = datetime.fromisoformat(created_at)
            # We only issue aware UTC times: a naive one is forged, and guessing its zone would
            # page differently by server time zone. Normalising to UTC here makes a time at the
            # edge of the calendar (9999-12-31T23:59-14:00) fail now, as 422, not in the driver.
            if created.tzinfo is None:
                raise ValueError("naive")
            created = created.astimezone(UTC)
            return cls(created_at=created, id=uuid.UUID(ident))
        except (
            ValueError,
            TypeError,
            AttributeError,
            OverflowError,
            RecursionError,
            binascii.Error,
            json.JSONDecodeError,
        ) as exc:
            raise Invalid(
                "The cursor is not one this API issued.",
                errors=[field_error("cursor", "invalid cursor", location="query", type_="cursor")],
            ) from exc


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise Invalid(
                f"limit must be between 1 and {MAX_LIMIT}.",
                errors=[field_error("limit", f"must be between 1 and {MAX_LIMIT}", location="query")],
            )

    @property
    def after(self) -> Cursor | None:
        return Cursor.decode(self.cursor) if self.cursor else None


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class RowPage(Generic[T]):
    """A page of rows as the repository returns it, before schemas shape it."""

    rows: Sequence[T]
    next_cursor: str | None


def keyset(
    stmt: sa.Select[Any], entity: Any, params: PageParams, *, newest_first: bool = False
) -> sa.Select[Any]:
    """`stmt` after the cursor, in keyset order (or its reverse), one row past the page (to know
    there is more)."""
    after = params.after
    if after is not None:
        # Typed literals so SQLite compares the same stored text form it wrote.
        bound = sa.tuple_(
            sa.literal(after.created_at, entity.created_at.type), sa.literal(after.id, entity.id.type)
        )
        key = sa.tuple_(entity.created_at, entity.id)
        stmt = stmt.where(key < bound if newest_first else key > bound)
    if newest_first:
        return stmt.order_by(entity.created_at.desc(), entity.id.desc()).limit(params.limit + 1)
    return stmt.order_by(entity.created_at, entity.id).limit(params.limit + 1)


def _cut(rows: list[Any], params: PageParams) -> RowPage[Any]:
    """The page and, when the look-ahead row came back, the cursor after its last row (entities
    and named rows alike carry `created_at` and `id`)."""
    if len(rows) <= params.limit:
        return RowPage(rows=rows, next_cursor=None)
    rows = rows[: params.limit]
    last = rows[-1]
    return RowPage(rows=rows, next_cursor=Cursor(created_at=last.created_at, id=last.id).encode())


async def fetch_page(
    session: AsyncSession,
    stmt: sa.Select[Any],
    entity: Any,
    params: PageParams,
    *,
    newest_first: bool = False,
) -> RowPage[Any]:
    """Apply the keyset for `entity` (a table with created_at and id) and fetch one page."""
    stmt = keyset(stmt, entity, params, newest_first=newest_first)
    rows = list((await session.execute(stmt)).scalars().all())
    return _cut(rows, params)


# Keyset pages of a select, by (select, entity, whether a cursor is given), with the cursor
# and the limit as bind parameters: a select built once (a list without filters) pages without
# building a statement per request, and its cache key is computed once (statements memoise it).
# The select is kept beside its page, so a reused id() is never mistaken for it.
_PAGES: dict[tuple[int, int, bool], tuple[sa.Select[Any], sa.Select[Any]]] = {}
_MAX_PAGES = 256


def _keyset_page(stmt: sa.Select[Any], entity: Any, after: bool) -> sa.Select[Any]:
    """`keyset` (oldest first) with bind parameters `page_created_at`, `page_id`, `page_limit`."""
    key = (id(stmt), id(entity), after)
    known = _PAGES.get(key)
    if known is not None and known[0] is stmt:
        return known[1]
    page = stmt
    if after:
        # Typed so SQLite compares the same stored text form it wrote (as in `keyset`).
        bound = sa.tuple_(
            sa.bindparam("page_created_at", type_=entity.created_at.type),
            sa.bindparam("page_id", type_=entity.id.type),
        )
        page = page.where(sa.tuple_(entity.created_at, entity.id) > bound)
    page = page.order_by(entity.created_at, entity.id).limit(sa.bindparam("page_limit"))
    if len(_PAGES) >= _MAX_PAGES:
        _PAGES.clear()
    _PAGES[key] = (stmt, page)
    return page


async def fetch_row_page(
    session: AsyncSession, stmt: sa.Select[Any], entity: Any, params: PageParams
) -> RowPage[Any]:
    """`fetch_page` for a Core select of named columns (including `created_at` and `id` of
    `entity`): one page of named rows, no ORM objects built (read paths; see docs/benchmarks.md)."""
    after = params.after
    values: dict[str, Any] = {"page_limit": params.limit + 1}  # one past the page: is there more?
    if after is not None:
        values.update(page_created_at=after.created_at, page_id=after.id)
    # On the session's connection: a Core select needs none of the ORM's execution path (its
    # compile state and result loading cost more than the rows). Same transaction; sessions
    # do not autoflush, so nothing pending is skipped.
    rows = await read_rows(session, _keyset_page(stmt, entity, after is not None), values)
    return _cut(rows, params)
