"""Search candidates read newest first: an index on (updated_at, key_hash)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 14:05:00

Issue 15 item 1 (search p95 < 50 ms at 100,000 documents). A common word matches tens of
thousands of documents; the search reads the newest few hundred of them. Walking this index
backwards finds them in a few milliseconds where the GIN index's bitmap scan sorted all
matches (60 ms for `invoice` at 100,000 documents, bench/search). Downgrading drops the index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index('ix_search_documents_updated_at', ['updated_at', 'key_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.drop_index('ix_search_documents_updated_at')
