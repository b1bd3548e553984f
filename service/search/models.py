"""The search index: one row per searchable document, written with the content it indexes.

The row keeps what search filters and shows (type, id, product, locale, title, the text the
snippet is cut from) and the document's tokens (service/search/tokens.py). Each database indexes
the tokens with what it ships: on PostgreSQL the `tsv` column (`array_to_tsvector` of the
tokens, written with the row) under a GIN index; on SQLite the FTS5 table `search_fts`, kept
in step with this table by triggers (migration 0015), so it commits and rolls back with it.

Who may see a document is not copied here: search asks the source rows, with the domains' own
read policies, at query time (a draft published later, evidence cited by a brief once it is
published, change no index row).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from service.db import UTCDateTime, utcnow

# FTS5 needs an integer rowid that survives VACUUM and a rebuild of the index from the content
# (migration 0015 backfills it): a 63-bit hash of (type, id) is the same whoever writes it.
KeyHash = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# The tokens as PostgreSQL's full-text type; unused (null) on SQLite, whose FTS5 table indexes them.
TokenVector = postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite")

# SQLite's FTS5 virtual table and its shadow tables: created by migration 0015 for SQLite only,
# not models (Alembic must neither create nor drop them).
FTS_TABLE = "search_fts"


def key_hash(doc_type: str, doc_id: uuid.UUID) -> int:
    digest = hashlib.blake2b(f"{doc_type}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # 63 bits: a positive SQLite rowid and bigint


def is_engine_index(name: str | None) -> bool:
    """Tables the database keeps for its own full-text index (SQLite FTS5), not our models."""
    return name is not None and (name == FTS_TABLE or name.startswith(FTS_TABLE + "_"))


class SearchDocument(SQLModel, table=True):
    __tablename__ = "search_documents"
    __table_args__ = (
        sa.UniqueConstraint("doc_type", "doc_id", name="uq_search_documents_doc_type_doc_id"),
        sa.Index("ix_search_documents_tsv", "tsv", postgresql_using="gin"),
        sa.Index("ix_search_documents_product_id", "product_id"),
        # Candidates are read newest first: a common word's are found by walking this backwards.
        sa.Index("ix_search_documents_updated_at", "updated_at", "key_hash"),
    )

    key_hash: int = Field(sa_column=sa.Column(KeyHash, primary_key=True, autoincrement=False))
    doc_type: str = Field(max_length=16)
    doc_id: uuid.UUID
    product_id: uuid.UUID | None = Field(default=None)
    locale: str | None = Field(default=None, max_length=35)
    title: str = Field(sa_type=sa.Text)
    body: str = Field(sa_type=sa.Text)
    tokens: str = Field(sa_type=sa.Text)
    tsv: str | None = Field(default=None, sa_column=sa.Column(TokenVector, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    __table__: ClassVar[sa.Table]
