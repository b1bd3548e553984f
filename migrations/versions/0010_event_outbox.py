"""Event outbox: every event written in the transaction of its change

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 05:10:00

`event_outbox` holds one row per event (issue 12): `position` orders them (a bigint from a
sequence on PostgreSQL; SQLite's rowid with AUTOINCREMENT, so a position is never reused even
after the newest rows were pruned), `id` is the event id receivers see, `data` the payload
(JSONB on PostgreSQL). Indexed for what a delivery worker and a live stream scan: by position,
by product and position, by type, by time (pruning). Downgrading drops the table and its
events (nothing else refers to it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import service.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('event_outbox',
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('timestamp', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('product_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.PrimaryKeyConstraint('position', name=op.f('pk_event_outbox')),
    sa.UniqueConstraint('id', name=op.f('uq_event_outbox_id')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('event_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_event_outbox_product_key_position', ['product_key', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_outbox_timestamp'), ['timestamp'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_outbox_type'), ['type'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('event_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_outbox_type'))
        batch_op.drop_index(batch_op.f('ix_event_outbox_timestamp'))
        batch_op.drop_index('ix_event_outbox_product_key_position')

    op.drop_table('event_outbox')
