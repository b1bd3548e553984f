"""people.oidc_subject: a person is bound to the identity provider's `sub` on first sign-in

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: people created by HR, SCIM or the CLI are bound when they first sign in.
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oidc_subject', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_people_oidc_subject'), ['oidc_subject'])


def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_people_oidc_subject'), type_='unique')
        batch_op.drop_column('oidc_subject')
