"""Keeps the index in step with the content, in the content's own transaction.

Every ORM write of a brief, message, evidence item, feedback item or theme passes through a
flush; a `before_flush` hook turns the new and changed ones (changed in a field the index
holds) into index rows on the flushing connection, and drops the rows of deleted ones. So no
use case can forget it, and a use case that rolls back takes its index rows with it.

The one write that bypasses the ORM, the feedback batch upsert (Core statements for speed),
calls `index_feedback_keys` itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from service.feedback.models import FeedbackItem
from service.search import repository
from service.search.documents import EXTRACTORS, Document, of_feedback
from service.search.models import key_hash

# Rows per statement when reading back a batch of ingested items.
KEY_CHUNK = 200
# Documents tokenized between two yields to the event loop (~50 µs each).
YIELD_EVERY = 64


def follow_content() -> None:
    """Registers the flush hook (idempotent; `service.wiring.connect_domains` calls it)."""
    if not event.contains(Session, "before_flush", _index_flushed):
        event.listen(Session, "before_flush", _index_flushed)


def _changed(obj: Any, fields: Sequence[str]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _index_flushed(session: Session, _context: Any, _instances: Any) -> None:
    docs: list[Document] = []
    for obj in session.new:
        entry = EXTRACTORS.get(type(obj))
        if entry is not None:
            docs.append(entry[0](obj))
    for obj in session.dirty:
        entry = EXTRACTORS.get(type(obj))
        if entry is not None and _changed(obj, entry[1]):
            docs.append(entry[0](obj))
    gone = [key_hash(entry_type, obj.id) for obj in session.deleted if (entry_type := _type_of(obj))]
    if not docs and not gone:
        return
    connection = session.connection()
    repository.upsert_sync(connection, docs)
    if gone:
        connection.execute(sa.delete(repository.DOCS).where(repository.DOCS.c.key_hash.in_(gone)))


def _type_of(obj: Any) -> str | None:
    entry = EXTRACTORS.get(type(obj))
    return entry[2] if entry is not None else None


async def index_feedback_keys(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> None:
    """Indexes the feedback items stored under these (source, external_id) keys (after a batch
    upsert, in its transaction)."""
    wanted = list(dict.fromkeys(keys))
    items = FeedbackItem.__table__.c
    columns = (items.id, items.body, items.tags, items.product_id)
    for start in range(0, len(wanted), KEY_CHUNK):
        chunk = wanted[start : start + KEY_CHUNK]
        stmt = sa.select(*columns).where(sa.tuple_(items.source, items.external_id).in_(chunk))
        rows = []
        for count, item in enumerate((await session.execute(stmt)).all()):
            rows.append(repository.row_of(of_feedback(item)))
            if count % YIELD_EVERY == YIELD_EVERY - 1:  # tokenizing is CPU: let others run
                await asyncio.sleep(0)
        await repository.upsert_rows(session, rows)
