"""Events get a commit order: `event_outbox.seq`, given by the sequencer after commit

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 07:30:00

`position` follows inserts; on PostgreSQL a transaction that began earlier can commit a smaller
position later, so a reader resuming "after position N" could skip it. The sequencer (one at a
time, service/events/sequencer.py) numbers committed events in `seq`, which only grows with
what readers can already see: streams and webhook fan-out follow `seq`. Existing events are
numbered in position order; downgrading drops the column.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('event_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index('ix_event_outbox_seq', ['seq'], unique=True)
    # Events already written are committed: they are numbered as they were inserted.
    op.execute('UPDATE event_outbox SET seq = position')


def downgrade() -> None:
    with op.batch_alter_table('event_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_event_outbox_seq')
        batch_op.drop_column('seq')
