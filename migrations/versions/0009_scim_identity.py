"""SCIM identity: free userName, DELETE that keeps history, and directory groups

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 18:30:59

`people.scim_user_name` holds an identity provider's userName when it is not the e-mail (null
for everyone provisioned before: their userName stays their e-mail); `people.scim_deleted_at`
marks a SCIM DELETE (the person stays, inactive, with history). `scim_groups` and
`scim_group_members` are SCIM Groups, each standing for a department or a role. Downgrading
drops the groups and the two columns (a deleted SCIM identity is then just an inactive person).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scim_groups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('department_id', sa.Uuid(), nullable=True),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_scim_groups_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_groups')),
    sa.UniqueConstraint('display_name', name=op.f('uq_scim_groups_display_name'))
    )
    with op.batch_alter_table('scim_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_groups_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_groups_department_id'), ['department_id'], unique=False)

    op.create_table('scim_group_members',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('added_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['scim_groups.id'], name=op.f('fk_scim_group_members_group_id_scim_groups')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_scim_group_members_person_id_people')),
    sa.PrimaryKeyConstraint('group_id', 'person_id', name=op.f('pk_scim_group_members'))
    )
    with op.batch_alter_table('scim_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_group_members_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scim_user_name', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('scim_deleted_at', service.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_people_scim_user_name'), ['scim_user_name'])



def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_people_scim_user_name'), type_='unique')
        batch_op.drop_column('scim_deleted_at')
        batch_op.drop_column('scim_user_name')

    with op.batch_alter_table('scim_group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_group_members_person_id'))

    op.drop_table('scim_group_members')
    with op.batch_alter_table('scim_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_groups_department_id'))
        batch_op.drop_index(batch_op.f('ix_scim_groups_created_at'))

    op.drop_table('scim_groups')
