"""Themes are decided as a whole: `themes.stage`, `decision`, `rationale`, `announcement_message_id`

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 13:00:00

A theme moved through the loop in one step (`POST /api/v1/themes/{id}/transition`) keeps the
stage it reached and what was decided, so items that join it later follow it there. Existing
themes were never moved as one: every new column is null. Downgrading drops them (the items
keep their own stages).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('themes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
        batch_op.add_column(sa.Column('rationale', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('announcement_message_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_themes_announcement_message_id_messages'), 'messages', ['announcement_message_id'], ['id']
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_themes_stage'),
            "stage IS NULL OR stage IN ('new', 'triaged', 'decided', 'implemented', 'announced')",
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_themes_decision'), "decision IS NULL OR decision IN ('build', 'stop')"
        )


def downgrade() -> None:
    with op.batch_alter_table('themes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_themes_decision'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_themes_stage'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_themes_announcement_message_id_messages'), type_='foreignkey')
        batch_op.drop_column('announcement_message_id')
        batch_op.drop_column('rationale')
        batch_op.drop_column('decision')
        batch_op.drop_column('stage')
