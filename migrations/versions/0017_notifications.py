"""Notifications: people's preferences, chat destinations, and one row per notification

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 12:45:30

Issue 13 (reaching people). `notification_preferences`: one row per person who changed the
defaults (time zone, quiet hours, immediate or daily digest, per-kind e-mail and chat
switches). `chat_destinations`: Slack and Teams incoming webhooks, per department or
company-wide (the URL is a secret, masked on read). `notifications`: one row per thing, per
recipient (a person or a destination) and channel, unique by `dedupe_key` so a replayed
event or a second nudge the same day adds nothing; its status, attempts and due time drive
the sender, and it stays as the record of what reached whom. All three go with the person,
destination or campaign they belong to. Downgrading drops the three tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('chat_destinations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('department_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.CheckConstraint("kind IN ('slack', 'teams')", name=op.f('ck_chat_destinations_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_destinations'))
    )
    with op.batch_alter_table('chat_destinations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_destinations_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_destinations_department_key'), ['department_key'], unique=False)

    op.create_table('notification_preferences',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('quiet_start', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
    sa.Column('quiet_end', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
    sa.Column('delivery', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.CheckConstraint("delivery IN ('immediate', 'daily_digest')", name=op.f('ck_notification_preferences_delivery')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_notification_preferences_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preferences')),
    sa.UniqueConstraint('person_id', name=op.f('uq_notification_preferences_person_id'))
    )
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_preferences_created_at'), ['created_at'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('destination_id', sa.Uuid(), nullable=True),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=True),
    sa.Column('campaign_id', sa.Uuid(), nullable=True),
    sa.Column('step_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', service.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'chat', 'intranet')", name=op.f('ck_notifications_channel')),
    sa.CheckConstraint("kind IN ('campaign_step', 'reminder', 'nudge', 'review_waiting', 'review_decided', 'check_waiting', 'check_graded', 'evidence_expiring', 'evidence_expired', 'feedback_decided', 'feedback_announced', 'person_overdue')", name=op.f('ck_notifications_kind')),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name=op.f('ck_notifications_status')),
    sa.CheckConstraint('(person_id IS NULL) <> (destination_id IS NULL)', name=op.f('ck_notifications_one_recipient')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_notifications_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['destination_id'], ['chat_destinations.id'], name=op.f('fk_notifications_destination_id_chat_destinations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_notifications_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notifications_dedupe_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_campaign_step', ['campaign_id', 'step_id', 'person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_notifications_person_created_at', ['person_id', 'created_at'], unique=False)
        batch_op.create_index('ix_notifications_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_status_next_attempt_at')
        batch_op.drop_index('ix_notifications_person_created_at')
        batch_op.drop_index(batch_op.f('ix_notifications_created_at'))
        batch_op.drop_index('ix_notifications_campaign_step')

    op.drop_table('notifications')
    with op.batch_alter_table('notification_preferences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_preferences_created_at'))

    op.drop_table('notification_preferences')
    with op.batch_alter_table('chat_destinations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_destinations_department_key'))
        batch_op.drop_index(batch_op.f('ix_chat_destinations_created_at'))

    op.drop_table('chat_destinations')
