"""Customer accounts, feedback matched to them, and the digest's indexes weighing themes by them

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 13:00:00

`accounts` (issue 14 item 4): key (slug) and name, both unique (feedback names an account by
either), segment (a value set), annual revenue as an exact NUMERIC(20, 4) and its ISO 4217
currency (on SQLite a BIGINT of ten-thousandths: SQLite's NUMERIC is a float), and
`merged_into_id` for a duplicate merged into its survivor. `feedback_items.account_id` (partial
index) is the account an item was matched to; existing items are matched here: each distinct
`customer_account` becomes an account (key derived from the name, segment when it reads as one).

The digest's covering indexes change so that weighing themes by accounts and filtering by product
still read indexes, not rows (bench/digest, docs/benchmarks.md): the window index also holds
`account_id` and `product_id`, the decisions index `theme_id` (decisions once per theme).

Downgrading drops the accounts and the matching (`customer_account` keeps what was sent) and
restores the indexes of 0004.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db
from service.accounts.keys import derived_key
from service.accounts.models import Money
from service.accounts.schemas import segment_of

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEXES = {
    'ix_feedback_items_window': (['received_at', 'source', 'theme_id', 'nps_score'], None),
    'ix_feedback_items_decided_at': (['decided_at', 'decision'], "decided_at IS NOT NULL"),
}
NEW_INDEXES = {
    'ix_feedback_items_window': (
        ['received_at', 'source', 'theme_id', 'nps_score', 'account_id', 'product_id'], None
    ),
    'ix_feedback_items_decided_at': (['decided_at', 'decision', 'theme_id'], "decided_at IS NOT NULL"),
    'ix_feedback_items_account_id': (['account_id'], "account_id IS NOT NULL"),
}


def _where(where: str | None) -> dict[str, object]:
    return {'postgresql_where': sa.text(where), 'sqlite_where': sa.text(where)} if where else {}


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', service.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('segment', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('revenue_amount', Money(), nullable=True),
    sa.Column('revenue_currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
    sa.Column('merged_into_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("segment IS NULL OR segment IN ('enterprise', 'mid_market', 'smb', 'public_sector')", name=op.f('ck_accounts_segment')),
    sa.CheckConstraint('(revenue_amount IS NULL) = (revenue_currency IS NULL)', name=op.f('ck_accounts_revenue_has_currency')),
    sa.CheckConstraint('revenue_amount IS NULL OR revenue_amount >= 0', name=op.f('ck_accounts_revenue_not_negative')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['accounts.id'], name=op.f('fk_accounts_merged_into_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('key', name=op.f('uq_accounts_key')),
    sa.UniqueConstraint('name', name=op.f('uq_accounts_name'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_accounts_merged_into_id'), ['merged_into_id'], unique=False)

    with op.batch_alter_table('feedback_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_feedback_items_account_id_accounts'), 'accounts', ['account_id'], ['id'])
        for name in OLD_INDEXES:
            batch_op.drop_index(name)
        for name, (columns, where) in NEW_INDEXES.items():
            batch_op.create_index(name, columns, unique=False, **_where(where))

    _match_existing_feedback()


def _match_existing_feedback() -> None:
    """Every distinct `customer_account` already filed becomes an account; its items point at it."""
    bind = op.get_bind()
    items = sa.table(
        'feedback_items',
        sa.column('customer_account', sa.String),
        sa.column('customer_segment', sa.String),
        sa.column('account_id', sa.Uuid),
    )
    accounts = sa.table(
        'accounts',
        sa.column('id', sa.Uuid),
        sa.column('created_at', service.db.UTCDateTime(timezone=True)),
        sa.column('updated_at', service.db.UTCDateTime(timezone=True)),
        sa.column('revision', sa.Integer),
        sa.column('key', sa.String),
        sa.column('name', sa.String),
        sa.column('segment', sa.String),
    )
    named = bind.execute(
        sa.select(items.c.customer_account, sa.func.min(items.c.customer_segment))
        .where(items.c.customer_account.is_not(None), items.c.customer_account != '')
        .group_by(items.c.customer_account)
    ).all()
    if not named:
        return
    import uuid

    now = datetime.now(UTC)
    rows = []
    for name, segment in named:
        found = segment_of(segment)
        rows.append({
            'id': uuid.uuid4(), 'created_at': now, 'updated_at': now, 'revision': 1,
            'key': derived_key(name), 'name': name, 'segment': found.value if found else None,
        })
    bind.execute(accounts.insert(), rows)
    bind.execute(
        items.update()
        .where(items.c.customer_account.is_not(None))
        .values(
            account_id=sa.select(accounts.c.id)
            .where(accounts.c.name == items.c.customer_account)
            .scalar_subquery()
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('feedback_items', schema=None) as batch_op:
        for name in reversed(NEW_INDEXES):
            batch_op.drop_index(name)
        for name, (columns, where) in OLD_INDEXES.items():
            batch_op.create_index(name, columns, unique=False, **_where(where))
        batch_op.drop_constraint(batch_op.f('fk_feedback_items_account_id_accounts'), type_='foreignkey')
        batch_op.drop_column('account_id')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_merged_into_id'))
        batch_op.drop_index(batch_op.f('ix_accounts_created_at'))

    op.drop_table('accounts')
