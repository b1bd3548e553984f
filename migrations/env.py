"""Alembic environment: async engine, batch mode on SQLite, one upgrader at a time on PostgreSQL."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import service.models  # noqa: F401  (registers every table on the metadata)
from service.search.models import is_engine_index

config = context.config
target_metadata = SQLModel.metadata
# Arbitrary constant: replicas starting together queue on it instead of racing the upgrade.
MIGRATION_LOCK_ID = 727_001


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    # SQLite's FTS5 table and its shadow tables (migration 0015) are the engine's, not models.
    return not (type_ == "table" and is_engine_index(name))


def _configure(connection: sa.Connection | None = None, **kwargs: object) -> None:
    url = config.get_main_option("sqlalchemy.url")
    is_sqlite = (connection.dialect.name if connection is not None else str(url)).startswith("sqlite")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,  # SQLite cannot ALTER most things: copy-and-move tables
        compare_type=True,
        include_name=_include_name,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: sa.Connection) -> None:
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
    try:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if postgres:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()


async def run_migrations_online() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url"), poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
