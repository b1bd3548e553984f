"""Test harness: a database of its own per run (SQLite or PostgreSQL), built by the real
migrations; the real app over ASGI; real tokens. Rows are deleted after each test.

Backend: CUECARD_TEST_BACKEND=sqlite (default) or postgres (CUECARD_TEST_POSTGRES_URL).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import service.models  # noqa: F401
from service.config import Settings
from service.main import create_app
from service.migrate import upgrade
from tests.factories import Callers, make_callers

BACKEND = os.environ.get("CUECARD_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("CUECARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_SECRET = "test-secret-for-cuecard-suite-0123456789abcdef"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh database for this run, migrated to head; dropped at the end."""
    if BACKEND == "postgres":
        name = f"cuecard_test_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=name)
        rendered = url.render_as_string(hide_password=False)
        try:
            await asyncio.to_thread(upgrade, rendered)
            yield rendered
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    else:
        path = tmp_path_factory.mktemp("db") / "cuecard.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        var_dir=tmp_path_factory.mktemp("var"),
        jwt_secret=TEST_SECRET,
        log_level="WARNING",
        # Tests run the worker's jobs themselves, when they mean to (tests/test_worker.py).
        embedded_worker=False,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(autouse=True)
async def _clean_database(app: FastAPI) -> AsyncIterator[None]:
    yield
    async with app.state.engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await conn.execute(table.delete())
    app.state.token_failures._failures.clear()
    app.state.auth_cache.invalidate_all()  # rows deleted behind the services' back


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def callers(app: FastAPI, client: httpx.AsyncClient) -> Callers:
    """One of each kind of caller, with real tokens: see tests/factories.py."""
    return await make_callers(app, client)


@pytest.fixture
def cli_env(settings: Settings, tmp_path) -> dict[str, str]:
    """The environment a `cuecard` subprocess gets: this run's database and secret only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUECARD_")}
    env |= {
        "CUECARD_DATABASE_URL": settings.database_url,
        "CUECARD_JWT_SECRET": TEST_SECRET,
        "CUECARD_VAR_DIR": str(tmp_path / "var"),
        "CUECARD_LOG_LEVEL": "WARNING",
    }
    return env
