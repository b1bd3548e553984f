"""Clock occurrences: what time passing has fired, so each occurrence fires once

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:30:00

`clock_occurrences` holds one row per occurrence the clock (service/events/clock.py) turned
into an event: a campaign step due for a person, evidence expiring or expired for a verify-by
date, a feedback item overdue for a stage's due time, a check waiting too long for a grade.
Its primary key `key` is what makes each fire exactly once (the row is written in the
transaction of its event, `INSERT … ON CONFLICT DO NOTHING`); the other columns let the
detectors' queries skip what already fired. Downgrading drops the table: after upgrading
again, occurrences within the lookback window (CUECARD_CLOCK_LOOKBACK_DAYS) would fire again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('clock_occurrences',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('due_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fired_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_clock_occurrences'))
    )
    with op.batch_alter_table('clock_occurrences', schema=None) as batch_op:
        batch_op.create_index('ix_clock_occurrences_subject', ['subject_id', 'type', 'person_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clock_occurrences', schema=None) as batch_op:
        batch_op.drop_index('ix_clock_occurrences_subject')

    op.drop_table('clock_occurrences')
