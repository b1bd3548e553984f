"""Brief translations: which brief a brief translates, and which of its versions

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 13:00:00

Issue 15, item 4. `briefs.translation_of`: the lineage id of the brief this one translates
(null for an original); `briefs.translation_source_version`: the source's version this
version was translated from. Whether a translation is current or outdated is derived from
them (a substantive version of the source published after `translation_source_version`
makes it outdated), so nothing has to be re-marked when the source is published, scheduled
or archived. Existing briefs are originals (both null). Downgrading drops both columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('briefs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('translation_of', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('translation_source_version', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_briefs_translation_of'), ['translation_of'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('briefs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefs_translation_of'))
        batch_op.drop_column('translation_source_version')
        batch_op.drop_column('translation_of')
