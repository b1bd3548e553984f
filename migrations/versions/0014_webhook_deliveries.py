"""Webhook deliveries: one per event and webhook, and every attempt to send it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 07:45:00

`webhook_deliveries` holds one row per event fanned out to a webhook (issue 12 items 2-3),
and one per test ping or redelivery: its status (pending, delivering while a worker's lease
`locked_until` runs, delivered, failed after the give-up window or a 410, cancelled when its
subscriber may no longer read the event), attempts and when the next is due. `event_seq`
orders a webhook's deliveries per product (indexed by webhook, product and seq); the claim
reads by status and due time. `webhook_delivery_attempts` keeps every attempt: status code,
latency, outcome, a bounded error and when it is tried again. Both go with their webhook
(ON DELETE CASCADE) and with their event when the outbox is pruned. Downgrading drops both
tables and the delivery history (nothing else refers to them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('event_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('product_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_attempt_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('redelivery_of', sa.Uuid(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivering', 'delivered', 'failed', 'cancelled')", name=op.f('ck_webhook_deliveries_status')),
    sa.ForeignKeyConstraint(['event_id'], ['event_outbox.id'], name=op.f('fk_webhook_deliveries_event_id_event_outbox'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['redelivery_of'], ['webhook_deliveries.id'], name=op.f('fk_webhook_deliveries_redelivery_of_webhook_deliveries'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_deliveries_webhook_id_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_lane', ['webhook_id', 'product_key', 'event_seq'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_webhook_id_created_at', ['webhook_id', 'created_at', 'id'], unique=False)

    op.create_table('webhook_delivery_attempts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('delivery_id', sa.Uuid(), nullable=False),
    sa.Column('webhook_id', sa.Uuid(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('attempted_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('next_attempt_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("outcome IN ('delivered', 'http_error', 'gone', 'timeout', 'connection', 'protocol', 'refused', 'lost')", name=op.f('ck_webhook_delivery_attempts_outcome')),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_deliveries.id'], name=op.f('fk_webhook_delivery_attempts_delivery_id_webhook_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_delivery_attempts_webhook_id_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery_attempts'))
    )
    with op.batch_alter_table('webhook_delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_attempts_attempted_at'), ['attempted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_attempts_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index('ix_webhook_delivery_attempts_webhook_id_attempted_at', ['webhook_id', 'attempted_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_delivery_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_attempts_webhook_id_attempted_at')
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_attempts_delivery_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_attempts_attempted_at'))

    op.drop_table('webhook_delivery_attempts')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_webhook_id_created_at')
        batch_op.drop_index('ix_webhook_deliveries_status_next_attempt_at')
        batch_op.drop_index('ix_webhook_deliveries_lane')
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_event_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_created_at'))

    op.drop_table('webhook_deliveries')
