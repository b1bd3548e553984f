"""Campaign steps get stable ids; the clock knows a step by its id; people confirm attending briefings

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 13:00:00

- `campaigns.steps` (JSON): every step without an `id` gets one (a UUID as text), in place, so
  reordering or editing steps keeps what fell due, what was delivered and who attended with the
  step itself. Steps that have an id keep it.
- `clock_occurrences.step_id`: a fired campaign step is known by its step's id (the index,
  `step`, is still recorded). Occurrences fired before this revision get the id of the step at
  their index now, so none fires again; their keys stay as they were.
- `campaign_attendance`: who confirmed attending which briefing step (one row per campaign,
  step and person).

Downgrading drops the attendance and `clock_occurrences.step_id`, and leaves the step ids in
`campaigns.steps`: the earlier code reads steps without minding an extra field, and upgrading
again keeps them (the ids deliveries and attendance were recorded under stay valid).
"""

import json
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEP_DUE = 'campaign.step_due'


def _steps_of(value: Any) -> list[dict[str, Any]]:
    """The JSON column's value as a list (a driver may hand back text)."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str | bytes) else list(value)


def _backfill_step_ids() -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Gives every step without an id one; returns every campaign's steps as they are now."""
    bind = op.get_bind()
    campaigns = sa.table('campaigns', sa.column('id', sa.Uuid()), sa.column('steps', sa.JSON()))
    steps_by_campaign = {}
    changed = []
    for campaign_id, raw in bind.execute(sa.select(campaigns.c.id, campaigns.c.steps).order_by(campaigns.c.id)):
        steps = _steps_of(raw)
        if any(not step.get('id') for step in steps):
            steps = [{'id': step.get('id') or str(uuid.uuid4()), **{k: v for k, v in step.items() if k != 'id'}}
                     for step in steps]
            changed.append({'campaign_id': campaign_id, 'new_steps': steps})
        steps_by_campaign[campaign_id] = steps
    if changed:
        bind.execute(
            campaigns.update()
            .where(campaigns.c.id == sa.bindparam('campaign_id', type_=sa.Uuid()))
            .values(steps=sa.bindparam('new_steps', type_=sa.JSON())),
            changed,
        )
    return steps_by_campaign


def _backfill_occurrence_step_ids(steps_by_campaign: dict[uuid.UUID, list[dict[str, Any]]]) -> None:
    """Fired campaign steps get the id of the step at their index (none fires again)."""
    bind = op.get_bind()
    occurrences = sa.table(
        'clock_occurrences',
        sa.column('key', sa.String()),
        sa.column('type', sa.String()),
        sa.column('subject_id', sa.Uuid()),
        sa.column('step', sa.Integer()),
        sa.column('step_id', sa.Uuid()),
    )
    rows = bind.execute(
        sa.select(occurrences.c.key, occurrences.c.subject_id, occurrences.c.step).where(
            occurrences.c.type == STEP_DUE, occurrences.c.step.is_not(None), occurrences.c.step_id.is_(None)
        )
    ).all()
    values = []
    for key, campaign_id, index in rows:
        steps = steps_by_campaign.get(campaign_id, [])
        if 0 <= index < len(steps):
            values.append({'occurrence_key': key, 'new_step_id': uuid.UUID(steps[index]['id'])})
    for start in range(0, len(values), 1000):
        bind.execute(
            occurrences.update()
            .where(occurrences.c.key == sa.bindparam('occurrence_key', type_=sa.String()))
            .values(step_id=sa.bindparam('new_step_id', type_=sa.Uuid())),
            values[start : start + 1000],
        )


def upgrade() -> None:
    op.create_table('campaign_attendance',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Uuid(), nullable=False),
    sa.Column('step_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('attended_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_attendance_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_campaign_attendance_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_attendance')),
    sa.UniqueConstraint('campaign_id', 'step_id', 'person_id', name='uq_campaign_attendance_campaign_step_person')
    )
    with op.batch_alter_table('campaign_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_attendance_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_attendance_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('clock_occurrences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('step_id', sa.Uuid(), nullable=True))

    _backfill_occurrence_step_ids(_backfill_step_ids())


def downgrade() -> None:
    with op.batch_alter_table('clock_occurrences', schema=None) as batch_op:
        batch_op.drop_column('step_id')

    with op.batch_alter_table('campaign_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_attendance_person_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_attendance_created_at'))

    op.drop_table('campaign_attendance')
