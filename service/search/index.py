"""Keeps the index in step with the content, in the content's own transaction.

Every ORM write of a brief, message, evidence item, feedback item or theme passes through a
flush; a `before_flush` hook turns the new and changed ones (changed in a field the index
holds) into index rows on the flushing connection, and drops the rows of deleted ones. So no
use case can forget it, and a use case that rolls back takes its index rows with it.

The one write that bypasses the ORM, the feedback batch upsert (Core statements for speed),
builds its items' rows with `feedback_rows` as it writes them and hands them to `write_feedback`
with the ids its INSERT returned.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from service.feedback.models import FeedbackItem
from service.search import repository
from service.search.documents import EXTRACTORS, Document, feedback_document
from service.search.models import key_hash

# Ids per statement when reading back items to index.
ID_CHUNK = 1000
# Documents tokenized between two yields to the event loop (~50 µs each): short slices, so the
# batch's next INSERT, waiting on the same loop, is sent as soon as the previous one returns.
YIELD_EVERY = 16


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


# What a feedback item's document is made of: (id, body, tags, product_id).
FeedbackFields = tuple[uuid.UUID, str | None, Sequence[str] | None, uuid.UUID | None]


async def feedback_rows(items: Sequence[FeedbackFields]) -> list[dict[str, Any]]:
    """Index rows for feedback items about to be written, from the fields the batch holds."""
    rows = []
    lines_seen: dict[str, list[str]] = {}  # the items' tags are mostly the same few lines
    for count, (item_id, body, tags, product_id) in enumerate(items):
        rows.append(repository.row_of(feedback_document(item_id, body, tags, product_id), lines_seen))
        if count % YIELD_EVERY == YIELD_EVERY - 1:  # tokenizing is CPU: let others run
            await asyncio.sleep(0)
    return rows


async def write_feedback(
    session: AsyncSession, rows: Sequence[dict[str, Any]], written: set[uuid.UUID]
) -> None:
    """Index the feedback items a batch upsert wrote (`written`: the ids it returned), in its
    transaction. `rows` (from `feedback_rows`) stand for the items it meant to write: those it
    did not write (another request stored the same content meanwhile) are left out, and an item
    written under another id (a key stored meanwhile, replaced by this content) is read back."""
    ours = [row for row in rows if row["doc_id"] in written]
    await repository.upsert_rows(session, ours)
    if len(ours) < len(written):
        await index_feedback_ids(session, written - {row["doc_id"] for row in ours})


async def index_feedback_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> None:
    """Index the feedback items with these ids as they are stored now (in the caller's transaction)."""
    wanted = list(ids)
    items = FeedbackItem.__table__.c
    columns = (items.id, items.body, items.tags, items.product_id)
    for start in range(0, len(wanted), ID_CHUNK):
        stmt = sa.select(*columns).where(items.id.in_(wanted[start : start + ID_CHUNK]))
        found = [tuple(item) for item in (await session.execute(stmt)).all()]
        await repository.upsert_rows(session, await feedback_rows(found))
