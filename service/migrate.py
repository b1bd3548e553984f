"""Alembic, driven from code: `cuecard db upgrade`, the test harness and /readyz use this."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import ensure_sqlite_directory, normalise_url


def migrations_dir() -> Path:
    """`migrations/` beside the package (source checkout, Docker image), else in the cwd."""
    beside = Path(__file__).resolve().parent.parent / "migrations"
    return beside if beside.is_dir() else Path.cwd() / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Escaped because Config interpolates '%'; a password may contain one.
    db_url = normalise_url(database_url)
    ensure_sqlite_directory(db_url)
    url = db_url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (blocking; call from a thread inside an event loop)."""
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(migrations_dir())).get_current_head()


def known_revisions() -> frozenset[str]:
    """Every revision this build ships; a database at one it does not know is ahead of it."""
    return frozenset(r.revision for r in ScriptDirectory(str(migrations_dir())).walk_revisions())


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            return (
                await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
        except sa.exc.DBAPIError:
            return None
