"""Search: `search_documents`, indexed by PostgreSQL full text or SQLite FTS5

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 08:00:00

One row per searchable document (brief, message, evidence item, feedback item, theme) with its
title, text and tokens (service/search/tokens.py: lowercased words, and character bigrams for
Japanese). On PostgreSQL the tokens are also a `tsvector` (`tsv`) under a GIN index; on SQLite an
FTS5 table `search_fts` (external content: this table) indexes them, kept in step by triggers
in the same transaction. `key_hash`, a 63-bit hash of (type, id), is FTS5's rowid. The existing
content is indexed here; downgrading drops the index (the content is untouched).
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import service.db
from service.search import documents, tokens
from service.search.models import key_hash

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_SQLITE = [
    # ascii: every byte >= 128 is part of a token, so our tokens (letters and digits, split by
    # spaces) are taken verbatim, Japanese included; case is folded already.
    "CREATE VIRTUAL TABLE search_fts USING fts5("
    "tokens, content='search_documents', content_rowid='key_hash', tokenize='ascii')",
    "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, tokens) VALUES (new.key_hash, new.tokens); END",
    "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, tokens) VALUES ('delete', old.key_hash, old.tokens); END",
    "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, tokens) VALUES ('delete', old.key_hash, old.tokens); "
    "INSERT INTO search_fts(rowid, tokens) VALUES (new.key_hash, new.tokens); END",
]

# The content as this revision knows it (not the models: they follow later revisions).
_SOURCES = {
    'brief': ('briefs', documents.of_brief, (
        ('title', sa.Text), ('pitch', sa.Text), ('value_proposition', sa.Text), ('background', sa.Text),
        ('target_customer', sa.Text), ('pains', sa.JSON), ('differentiators', sa.JSON),
        ('customer_next_action', sa.Text), ('gut_check', sa.JSON), ('product_id', sa.Uuid),
        ('locale', sa.Text),
    )),
    'message': ('messages', documents.of_message, (
        ('title', sa.Text), ('body', sa.Text), ('feature_term', sa.Text), ('value_statement', sa.Text),
        ('product_id', sa.Uuid), ('locale', sa.Text),
    )),
    'evidence': ('evidence', documents.of_evidence, (('claim', sa.Text), ('source', sa.Text))),
    'feedback': ('feedback_items', documents.of_feedback, (
        ('body', sa.Text), ('tags', sa.JSON), ('product_id', sa.Uuid),
    )),
    'theme': ('themes', documents.of_theme, (
        ('name', sa.Text), ('description', sa.Text), ('product_id', sa.Uuid),
    )),
}


def _backfill(postgres: bool) -> None:
    bind = op.get_bind()
    docs = sa.table(
        'search_documents',
        *(sa.column(n) for n in ('key_hash', 'doc_type', 'doc_id', 'product_id', 'locale', 'title', 'body', 'tokens')),
        sa.column('updated_at', service.db.UTCDateTime(timezone=True)),
    )
    values = {c.name: sa.bindparam(c.name, type_=c.type) for c in docs.columns}
    values['doc_id'] = sa.bindparam('doc_id', type_=sa.Uuid())
    values['product_id'] = sa.bindparam('product_id', type_=sa.Uuid())
    if postgres:  # the tokens verbatim as lexemes, as service/search/repository.py writes them
        docs.append_column(sa.column('tsv'))
        values['tsv'] = sa.func.array_to_tsvector(sa.func.string_to_array(values['tokens'], ' '))
    insert = docs.insert().values(values)
    now = datetime.now(UTC)
    for source, (table_name, extract, columns) in _SOURCES.items():
        table = sa.table(table_name, sa.column('id', sa.Uuid), *(sa.column(n, t) for n, t in columns))
        rows = []
        for row in bind.execute(sa.select(table).order_by(table.c.id)):
            doc = extract(row)
            rows.append({
                'key_hash': key_hash(source, doc.doc_id), 'doc_type': source, 'doc_id': doc.doc_id,
                'product_id': doc.product_id, 'locale': doc.locale, 'title': doc.title, 'body': doc.body,
                'tokens': tokens.document_tokens(doc.title, doc.body), 'updated_at': now,
            })
            if len(rows) >= 1000:
                bind.execute(insert, rows)
                rows = []
        if rows:
            bind.execute(insert, rows)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    op.create_table('search_documents',
    sa.Column('key_hash', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('doc_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('doc_id', sa.Uuid(), nullable=False),
    sa.Column('product_id', sa.Uuid(), nullable=True),
    sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('tokens', sa.Text(), nullable=False),
    sa.Column('tsv', postgresql.TSVECTOR().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_search_documents')),
    sa.UniqueConstraint('doc_type', 'doc_id', name='uq_search_documents_doc_type_doc_id')
    )
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index('ix_search_documents_product_id', ['product_id'], unique=False)
        batch_op.create_index('ix_search_documents_tsv', ['tsv'], unique=False, postgresql_using='gin')
    if not postgres:
        for statement in FTS_SQLITE:
            op.execute(statement)
    _backfill(postgres)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        for name in ('search_documents_au', 'search_documents_ad', 'search_documents_ai'):
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
        op.execute('DROP TABLE IF EXISTS search_fts')
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_search_documents_tsv', postgresql_using='gin')
        batch_op.drop_index('ix_search_documents_product_id')

    op.drop_table('search_documents')
