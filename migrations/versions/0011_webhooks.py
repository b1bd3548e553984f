"""Webhooks: the receivers systems register for events

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:00:00

`webhooks` holds one row per registered receiver (issue 12): its URL (checked by the SSRF
guard before it is stored), the event types (`events`, a JSON list) and optional product keys
(`product_keys`, a JSON list or null) it receives, whether it is `active`, who created it
(`created_by`, a principal's subject: a client manages only its own), and the signing secrets:
the current one and, during a rotation's overlap, the previous one with when it stops signing.
Secrets are kept as they are (HMAC signing needs the key). `paused_reason` is for the delivery
worker. Downgrading drops the table and its registrations (nothing else refers to it).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhooks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('product_keys', sa.JSON(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('secret', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('previous_secret', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('previous_secret_expires_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks'))
    )
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhooks_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhooks_created_by'), ['created_by'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhooks_created_by'))
        batch_op.drop_index(batch_op.f('ix_webhooks_created_at'))

    op.drop_table('webhooks')
