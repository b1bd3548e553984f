"""long-lived API tokens of service clients

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 18:40:00

Identity providers (Okta, Entra ID) store one bearer token for months: service clients can now
hold opaque API tokens, kept as SHA-256 hashes. A client's tokens go when the client does
(ON DELETE CASCADE). Downgrading drops the table, and with it every issued API token.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("service_client_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token_prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_client_id"],
            ["service_clients.id"],
            name=op.f("fk_api_tokens_service_client_id_service_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_tokens_service_client_id"), ["service_client_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_service_client_id"))
        batch_op.drop_index(batch_op.f("ix_api_tokens_created_at"))
    op.drop_table("api_tokens")
