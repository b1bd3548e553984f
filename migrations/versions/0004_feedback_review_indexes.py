"""feedback review indexes: the weekly digest reads indexes, not rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00.000000

Measured with bench/digest/run.py over 1,000,000 items (docs/benchmarks.md): without these the
digest read the whole table four times (~700 ms for a 7-day window, ~1.3 s for 90 days).
- ix_feedback_items_window: items received in the window, grouped by source and theme with
  their NPS score, answered from the index alone (covering);
- ix_feedback_items_decided_at: decisions made in the window, by decision (covering);
- ix_feedback_items_status_implemented_at: loop gaps, oldest implementation first, read in
  index order and stopped after 100;
- ix_feedback_items_announced_at: loop time of items announced in the window (covering).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Partial where most rows have nothing to say: a freshly ingested item (status new, no
# decision, not announced) then costs no entry in three of the four (ingest speed).
INDEXES = {
    'ix_feedback_items_window': (['received_at', 'source', 'theme_id', 'nps_score'], None),
    'ix_feedback_items_decided_at': (['decided_at', 'decision'], "decided_at IS NOT NULL"),
    'ix_feedback_items_status_implemented_at': (['implemented_at', 'id'], "status = 'implemented'"),
    'ix_feedback_items_announced_at': (['announced_at', 'received_at'], "announced_at IS NOT NULL"),
}


def upgrade() -> None:
    with op.batch_alter_table('feedback_items', schema=None) as batch_op:
        for name, (columns, where) in INDEXES.items():
            condition = {'postgresql_where': sa.text(where), 'sqlite_where': sa.text(where)} if where else {}
            batch_op.create_index(name, columns, unique=False, **condition)


def downgrade() -> None:
    with op.batch_alter_table('feedback_items', schema=None) as batch_op:
        for name in reversed(INDEXES):
            batch_op.drop_index(name)
