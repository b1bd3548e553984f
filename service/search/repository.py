"""Index writes and candidate queries for search. Never commits.

One statement finds what matches on either database: PostgreSQL's `tsv @@ tsquery` over the GIN
index, or SQLite's FTS5 `MATCH`. Both are given the same tokens (service/search/tokens.py), so
they find the same documents; who may see each one is decided in the same statement, against the
source rows, by conditions the search service builds from the domains' read policies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from service.db import set_local, utcnow
from service.search import tokens as tk
from service.search.documents import Document
from service.search.models import FTS_TABLE, SearchDocument, key_hash

DOCS = SearchDocument.__table__
WRITTEN = ("key_hash", "doc_type", "doc_id", "product_id", "locale", "title", "body", "tokens", "updated_at")


def row_of(doc: Document, lines_seen: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The document's index row; documents written together may share `lines_seen` (see
    tokens.document_tokens)."""
    return {
        "key_hash": key_hash(doc.doc_type, doc.doc_id),
        "doc_type": doc.doc_type,
        "doc_id": doc.doc_id,
        "product_id": doc.product_id,
        "locale": doc.locale,
        "title": doc.title,
        "body": doc.body,
        "tokens": tk.document_tokens(doc.title, doc.body, lines_seen=lines_seen),
        "updated_at": utcnow(),
    }


def _upsert(dialect: str) -> sa.Insert:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DOCS)
    values: dict[str, Any] = {name: sa.bindparam(name, type_=DOCS.c[name].type) for name in WRITTEN}
    if dialect == "postgresql":
        # The tokens verbatim as lexemes: no parser, no dictionary (they are normalised already).
        values["tsv"] = sa.func.array_to_tsvector(sa.func.string_to_array(values["tokens"], " "))
    stmt = insert.values(values)
    return stmt.on_conflict_do_update(
        index_elements=[DOCS.c.key_hash],
        set_={
            name: stmt.excluded[name]
            for name in (*WRITTEN[3:], *(("tsv",) if dialect == "postgresql" else ()))
        },
    )


_UPSERTS = {name: _upsert(name) for name in ("postgresql", "sqlite")}


def _postgres_bulk_upsert() -> sa.Insert:
    """PostgreSQL: one INSERT ... SELECT FROM unnest(<one array per column>) for many rows.

    As the feedback batch writes its items (service/feedback/repository.py): a few typed arrays
    cost one parse and one binary encoding each, where a multi-row VALUES sends nine parameters
    a row."""
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "key_hash": postgresql.ARRAY(sa.BigInteger()),
        "doc_id": postgresql.ARRAY(sa.Uuid()),
        "product_id": postgresql.ARRAY(sa.Uuid()),
        "updated_at": postgresql.ARRAY(sa.DateTime(timezone=True)),
    }
    arrays = [
        sa.bindparam(f"s_{name}", type_=types.get(name, postgresql.ARRAY(sa.Text()))) for name in WRITTEN
    ]
    rows = sa.func.unnest(*arrays).table_valued(*WRITTEN).render_derived(name="r")
    tsv = sa.func.array_to_tsvector(sa.func.string_to_array(rows.c.tokens, " "))
    select = sa.select(*(rows.c[name] for name in WRITTEN), tsv)
    stmt = postgresql.insert(DOCS).from_select([*WRITTEN, "tsv"], select)
    return stmt.on_conflict_do_update(
        index_elements=[DOCS.c.key_hash],
        set_={name: stmt.excluded[name] for name in (*WRITTEN[3:], "tsv")},
    )


_PG_BULK_UPSERT = _postgres_bulk_upsert()


def upsert_sync(connection: sa.Connection, docs: Sequence[Document]) -> None:
    """Write these documents' rows (from a flush hook, on the flushing connection)."""
    if docs:
        connection.execute(_UPSERTS[connection.dialect.name], [row_of(d) for d in docs])


async def upsert(session: AsyncSession, docs: Sequence[Document]) -> None:
    await upsert_rows(session, [row_of(d) for d in docs])


async def upsert_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write index rows made by `row_of` (each document once)."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(_UPSERTS[session.get_bind().dialect.name], rows)
        return
    # One statement may not upsert a key twice: the last row of a document wins.
    unique = list({row["key_hash"]: row for row in rows}.values())
    await session.execute(_PG_BULK_UPSERT, {f"s_{name}": [row[name] for row in unique] for name in WRITTEN})


async def delete(session: AsyncSession, doc_type: str, doc_ids: Iterable[uuid.UUID]) -> None:
    keys = [key_hash(doc_type, i) for i in doc_ids]
    if keys:
        await session.execute(sa.delete(DOCS).where(DOCS.c.key_hash.in_(keys)))


def _tsquery(terms: Sequence[str]) -> str:
    # Terms are letters and digits only (tokens.py): nothing to escape inside the quotes.
    return " & ".join(f"'{t}':*" if tk.is_prefix_term(t) else f"'{t}'" for t in terms)


def _fts5_query(terms: Sequence[str]) -> str:
    return " AND ".join(f'"{t}"*' if tk.is_prefix_term(t) else f'"{t}"' for t in terms)


FTS = sa.table(FTS_TABLE, sa.column("rowid", sa.BigInteger))


async def candidates(
    session: AsyncSession, terms: Sequence[str], visible: sa.ColumnElement[bool], *, cap: int
) -> list[sa.Row[Any]]:
    """Up to `cap` visible documents holding every term (the most recently written first)."""
    columns = [DOCS.c[name] for name in ("doc_type", "doc_id", "title", "body", "tokens")]
    if session.get_bind().dialect.name == "postgresql":
        match = DOCS.c.tsv.op("@@")(sa.cast(sa.literal(_tsquery(terms)), postgresql.TSQUERY))
        stmt = sa.select(*columns).where(match)
    else:
        stmt = (
            sa.select(*columns)
            .select_from(FTS.join(DOCS, DOCS.c.key_hash == FTS.c.rowid))
            .where(sa.text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=_fts5_query(terms)))
        )
    stmt = stmt.where(visible).order_by(DOCS.c.updated_at.desc(), DOCS.c.key_hash).limit(cap)
    # The plan depends on the words: a common one is found fastest by walking the newest
    # documents (ix_search_documents_updated_at) until `cap` match, a rare one through the
    # GIN index. A generic plan (what a prepared statement switches to after five runs)
    # cannot tell them apart: measured 100 ms against 15 ms at 100,000 documents. Planning
    # costs well under a millisecond; SET LOCAL ends with the read's transaction.
    await set_local(session, "plan_cache_mode = force_custom_plan")
    connection = await session.connection()
    return list((await connection.execute(stmt)).all())
