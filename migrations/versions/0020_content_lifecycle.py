"""Content lifecycle: message versions and review, scheduled publishing, expiry, withdrawal

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 13:00:00

Messages become versioned like briefs: `lineage_id` (the id of version 1) and `version`, a
`change` kind, review fields (`submitted_at`, `review_comment`, `published_by_id`), and the
statuses in_review, scheduled, superseded, withdrawn and expired; at most one published version
per lineage. Briefs and messages gain `publish_at` (approved for later: `scheduled`) and
`expired_evidence_override` (approved over expired evidence, with the reason). Messages gain
`expires_at` and `withdrawn_at`.

Backfill: every existing message is version 1 of its own lineage (`lineage_id` = its id).
Downgrading folds the new statuses into the old ones: a message in review or scheduled is a
draft again, a superseded, withdrawn or expired one too (unpublished); a scheduled brief is in
review again. Nothing published changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BRIEF_STATUSES_OLD = "status IN ('draft', 'in_review', 'published', 'superseded', 'archived')"
BRIEF_STATUSES = "status IN ('draft', 'in_review', 'scheduled', 'published', 'superseded', 'archived')"
MESSAGE_STATUSES_OLD = "status IN ('draft', 'published')"
MESSAGE_STATUSES = (
    "status IN ('draft', 'in_review', 'scheduled', 'published', 'superseded', 'withdrawn', 'expired')"
)
CHANGES = "change IS NULL OR change IN ('substantive', 'minor')"


def upgrade() -> None:
    with op.batch_alter_table('briefs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_at', service.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('expired_evidence_override', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_briefs_publish_at'), ['publish_at'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_briefs_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_briefs_status'), BRIEF_STATUSES)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lineage_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('change', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('published_by_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('submitted_at', service.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('review_comment', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('publish_at', service.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('expires_at', service.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', service.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('expired_evidence_override', sa.JSON(), nullable=True))

    # Every existing message is version 1 of its own lineage.
    op.execute("UPDATE messages SET lineage_id = id")

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.alter_column('lineage_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column('version', existing_type=sa.Integer(), server_default=None)
        batch_op.create_foreign_key(
            batch_op.f('fk_messages_published_by_id_people'), 'people', ['published_by_id'], ['id']
        )
        batch_op.create_index(batch_op.f('ix_messages_lineage_id'), ['lineage_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_publish_at'), ['publish_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(
            'uq_messages_published_lineage',
            ['lineage_id'],
            unique=True,
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        )
        batch_op.create_unique_constraint('uq_messages_lineage_id_version', ['lineage_id', 'version'])
        batch_op.drop_constraint(batch_op.f('ck_messages_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_messages_status'), MESSAGE_STATUSES)
        batch_op.create_check_constraint(batch_op.f('ck_messages_change'), CHANGES)


def downgrade() -> None:
    op.execute(
        "UPDATE messages SET status = 'draft' "
        "WHERE status IN ('in_review', 'scheduled', 'superseded', 'withdrawn', 'expired')"
    )
    op.execute("UPDATE briefs SET status = 'in_review' WHERE status = 'scheduled'")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_messages_change'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_messages_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_messages_status'), MESSAGE_STATUSES_OLD)
        batch_op.drop_constraint('uq_messages_lineage_id_version', type_='unique')
        batch_op.drop_index('uq_messages_published_lineage')
        batch_op.drop_index(batch_op.f('ix_messages_expires_at'))
        batch_op.drop_index(batch_op.f('ix_messages_publish_at'))
        batch_op.drop_index(batch_op.f('ix_messages_lineage_id'))
        batch_op.drop_constraint(batch_op.f('fk_messages_published_by_id_people'), type_='foreignkey')
        batch_op.drop_column('expired_evidence_override')
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('publish_at')
        batch_op.drop_column('review_comment')
        batch_op.drop_column('submitted_at')
        batch_op.drop_column('published_by_id')
        batch_op.drop_column('change')
        batch_op.drop_column('version')
        batch_op.drop_column('lineage_id')

    with op.batch_alter_table('briefs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_briefs_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_briefs_status'), BRIEF_STATUSES_OLD)
        batch_op.drop_index(batch_op.f('ix_briefs_publish_at'))
        batch_op.drop_column('expired_evidence_override')
        batch_op.drop_column('publish_at')
