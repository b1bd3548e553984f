"""Data safety of the schema history, on the backend of this pass (SQLite or PostgreSQL).

Three promises, each proven on a database of its own, over whatever revisions
`migrations/versions` holds (the script directory is walked, nothing is listed by hand):

1. **Every revision round-trips keeping every row.** The demo company is loaded at head
   (`cuecard demo load`'s code path, plus a service account so no foundation table is empty),
   then the history is walked down from head one revision at a time. For each revision R:
   snapshot at R, downgrade to R's parent, snapshot, upgrade to R again, snapshot. Every table
   that exists at the parent keeps exactly its rows there and after the way back up: same count
   and the same checksum of its rows (ordered by primary key, each value rendered as stable
   text), over the columns the parent has. What the parent cannot hold — a table or column that
   R itself adds — is necessarily lost by R's downgrade (a downgrade of a revision that creates
   `campaigns` cannot keep campaigns); the test then proves it is *only* that: the tables that
   disappear are exactly the ones R creates, they come back, and no other row or value changes.
   Then R is stepped down for good and its parent is tested the same way, with the data that is
   left. At the bottom, the database holds no table but Alembic's own.
2. **`base → head` then demo load equals a fresh install.** A database walked up, down to base
   and up again, then loaded, matches one migrated and loaded once: the same schema (tables,
   columns, indexes, constraints) and the same rows. Demo ids are random UUIDs and its times
   are "now", so this comparison renders rows without generated values (UUID and timestamp
   columns, UUIDs and timestamps inside JSON or text, `*_hash` digests and the ETags events
   carry, which are computed over such values, and the outbox's positions, whose order follows
   the ids) and compares each table as a sorted multiset.
3. **Models and migrations never drift.** Alembic's autogenerate comparison of
   `SQLModel.metadata` against a database migrated to head finds no difference.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import service.models  # noqa: F401  (the whole metadata)
from service.auth.principal import Principal
from service.clients import service as clients_service
from service.clients.schemas import ClientCreate
from service.config import Settings
from service.db import create_engine, create_sessionmaker
from service.demo import loader
from service.migrate import alembic_config, migrations_dir
from service.search.models import is_engine_index
from service.wiring import connect_domains, session_info
from tests.conftest import BACKEND, POSTGRES_URL, TEST_SECRET, _asyncpg_dsn

VERSION_TABLE = "alembic_version"


def revisions_base_to_head() -> list[tuple[str, str]]:
    """(revision, parent) pairs, oldest first; the first revision's parent is "base"."""
    script = ScriptDirectory(str(migrations_dir()))
    assert len(script.get_heads()) == 1, f"the history must have one head, not {script.get_heads()}"
    pairs = []
    for rev in script.walk_revisions():  # newest first
        parents = rev._normalized_down_revisions
        assert len(parents) <= 1, f"merge revision {rev.revision}: round-trip one parent at a time"
        pairs.append((rev.revision, parents[0] if parents else "base"))
    return list(reversed(pairs))


# ---------------------------------------------------------------- databases


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of this test's own (created and dropped here)."""
    async with fresh_database(tmp_path, "a") as url:
        yield url


class fresh_database:
    def __init__(self, tmp_path: Path, tag: str) -> None:
        self.tmp_path, self.tag = tmp_path, tag
        self.name = f"cuecard_mig_{uuid.uuid4().hex[:12]}"

    async def __aenter__(self) -> str:
        if BACKEND == "postgres":
            admin = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
            try:
                await admin.execute(f'CREATE DATABASE "{self.name}"')
            finally:
                await admin.close()
            url = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg", database=self.name)
            return url.render_as_string(hide_password=False)
        return f"sqlite+aiosqlite:///{self.tmp_path / f'{self.tag}.db'}"

    async def __aexit__(self, *exc: object) -> None:
        if BACKEND == "postgres":
            admin = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await admin.close()


async def migrate(url: str, direction: str, revision: str) -> None:
    """`alembic upgrade/downgrade` through the project's own env.py (in a thread: it runs a loop)."""
    step = command.upgrade if direction == "up" else command.downgrade
    await asyncio.to_thread(step, alembic_config(url), revision)


def _engine(url: str) -> AsyncEngine:
    return create_async_engine(url, poolclass=NullPool)


async def load_demo(url: str, tmp_path: Path, *, with_client: bool) -> None:
    """What `cuecard demo load` does, in process (a subprocess costs seconds per call)."""
    settings = Settings(
        env="test", database_url=url, var_dir=tmp_path / "var", jwt_secret=TEST_SECRET, log_level="WARNING"
    )
    connect_domains()  # as the CLI does before it serves anything
    engine = create_engine(settings)
    try:
        info = session_info(settings)
        async with create_sessionmaker(engine, info=info)() as session:
            assert await loader.load(session, Principal.operator("demo"), if_empty=False)
            if with_client:  # the demo has no integration: give service_clients (and api_tokens) rows
                await clients_service.create_client(
                    session,
                    Principal.operator(),
                    ClientCreate(name="CRM 連携", scopes=["pitch:read"], api_token=True),
                )
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- snapshots


def render(value: object) -> str:
    """One value as text that is the same whenever the value is (per backend)."""
    if value is None:
        return "∅"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time | uuid.UUID | decimal.Decimal | int | float):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return str(value)


@dataclass
class Table:
    columns: tuple[str, ...]
    rows: list[dict[str, object]]  # raw values, ordered by primary key

    def rendered(self, columns: tuple[str, ...]) -> list[str]:
        return ["\x1f".join(render(row[c]) for c in columns) for row in self.rows]

    def checksum(self, columns: tuple[str, ...] | None = None) -> str:
        digest = hashlib.sha256()
        for line in self.rendered(columns or self.columns):
            digest.update(line.encode() + b"\x1e")
        return digest.hexdigest()[:16]


async def snapshot(url: str) -> dict[str, Table]:
    """Every table but Alembic's, every row, ordered by primary key."""
    engine = _engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync_conn: sa.Connection) -> dict[str, Table]:
                meta = sa.MetaData()
                meta.reflect(sync_conn, only=lambda name, _meta: not is_engine_index(name))
                tables = {}
                for name, table in sorted(meta.tables.items()):
                    # An FTS5 index's tables hold its b-tree pages, whose layout depends on how
                    # it was filled: the rows it indexes (search_documents) are compared instead.
                    if name == VERSION_TABLE or is_engine_index(name):
                        continue
                    order = list(table.primary_key.columns) or list(table.columns)
                    rows = [dict(r._mapping) for r in sync_conn.execute(sa.select(table).order_by(*order))]
                    tables[name] = Table(tuple(c.name for c in table.columns), rows)
                return tables

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def schema_of(url: str) -> dict[str, object]:
    """The schema as the database reports it: enough to see a leftover or a missing piece."""
    engine = _engine(url)
    try:
        async with engine.connect() as conn:

            def read(sync_conn: sa.Connection) -> dict[str, object]:
                inspector = sa.inspect(sync_conn)
                shape: dict[str, object] = {}
                for name in sorted(inspector.get_table_names()):
                    shape[name] = {
                        "columns": [
                            (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)
                        ],
                        "pk": inspector.get_pk_constraint(name).get("constrained_columns"),
                        "indexes": sorted(
                            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                            for i in inspector.get_indexes(name)
                        ),
                        "uniques": sorted(
                            (u["name"] or "", tuple(u["column_names"]))
                            for u in inspector.get_unique_constraints(name)
                        ),
                        "fks": sorted(
                            (
                                f["name"] or "",
                                tuple(f["constrained_columns"]),
                                f["referred_table"],
                                tuple(f["referred_columns"]),
                            )
                            for f in inspector.get_foreign_keys(name)
                        ),
                        "checks": sorted(
                            (c["name"] or "", c["sqltext"]) for c in inspector.get_check_constraints(name)
                        ),
                    }
                if sync_conn.dialect.name == "postgresql":  # types and sequences outlive tables there
                    shape["pg_types"] = sorted(
                        sync_conn.execute(
                            sa.text(
                                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                                "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')"
                            )
                        ).scalars()
                    )
                    shape["pg_sequences"] = sorted(
                        sync_conn.execute(
                            sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                        ).scalars()
                    )
                return shape

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def summary(tables: dict[str, Table], columns: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    """{table: "<rows> rows <checksum>"}: what the assertions compare, readable when they fail."""
    return {
        name: f"{len(t.rows)} rows {t.checksum(columns[name] if columns else None)}"
        for name, t in tables.items()
    }


UUID_TEXT = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.IGNORECASE)
# The outbox's position is a sequence: the order of the demo's events follows its random ids.
GENERATED_COLUMNS = {("event_outbox", "position")}
# An event's `"etag"` (pitch.changed) is a digest over a document holding ids: generated too.
ETAG_TEXT = re.compile(r'"etag":"\\"[0-9a-f]+\\""')
TIMESTAMP_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


def content(tables: dict[str, Table]) -> dict[str, tuple[int, str]]:
    """Rows without what an install generates (ids, instants), as a sorted multiset per table."""
    result = {}
    for name, table in tables.items():
        lines = []
        for row in table.rows:
            kept = []
            for column in table.columns:
                value = row[column]
                if (
                    isinstance(value, uuid.UUID | dt.datetime)
                    or column.endswith("_hash")
                    or (name, column) in GENERATED_COLUMNS
                ):
                    continue
                text = TIMESTAMP_TEXT.sub("<instant>", UUID_TEXT.sub("<id>", render(value)))
                text = ETAG_TEXT.sub('"etag":"<digest>"', text)
                if text == "<id>" or text == "<instant>":  # UUID or time stored as text (SQLite)
                    continue
                kept.append(f"{column}={text}")
            lines.append("\x1f".join(kept))
        digest = hashlib.sha256("\x1e".join(sorted(lines)).encode()).hexdigest()[:16]
        result[name] = (len(lines), digest)
    return result


# ---------------------------------------------------------------- the tests


async def test_every_revision_round_trips_from_head_keeping_every_row(fresh_url, tmp_path):
    history = revisions_base_to_head()
    await migrate(fresh_url, "up", "head")
    await load_demo(fresh_url, tmp_path, with_client=True)

    start = await snapshot(fresh_url)
    empty = sorted(name for name, t in start.items() if not t.rows)
    # The proof is only as good as the data it carries: most tables must hold rows.
    assert len(empty) <= len(start) // 2, f"too many tables the demo leaves empty: {empty}"

    for revision, parent in reversed(history):
        before = await snapshot(fresh_url)
        await migrate(fresh_url, "down", parent)
        middle = await snapshot(fresh_url)
        await migrate(fresh_url, "up", revision)
        after = await snapshot(fresh_url)

        step = f"{parent} → {revision} → {parent} → {revision}"
        assert set(after) == set(before), f"{step}: tables not restored"
        assert set(middle) <= set(before), f"{step}: downgrade created {set(middle) - set(before)}"
        for name in set(before) - set(middle):
            # Only R's own tables may go, and they come back as R makes them.
            assert after[name].columns == before[name].columns, f"{step}: {name} came back changed"
        for name, table in after.items():
            if name in middle:
                assert len(table.rows) == len(before[name].rows), f"{step}: {name} lost or gained rows"
        kept = {name: middle[name].columns for name in middle}
        assert summary({n: before[n] for n in middle}, kept) == summary(middle), (
            f"downgrade {revision} → {parent} changed rows it had no reason to touch"
        )
        assert summary({n: after[n] for n in middle}, kept) == summary(middle), (
            f"upgrade {parent} → {revision} changed rows that existed before it"
        )

        await migrate(fresh_url, "down", parent)  # step down for good; test the parent next

    leftovers = [
        name
        for name in (await schema_of(fresh_url))
        if name not in (VERSION_TABLE, "pg_types", "pg_sequences")
    ]
    assert leftovers == [], f"base still has tables: {leftovers}"
    if BACKEND == "postgres":
        base = await schema_of(fresh_url)
        assert base["pg_types"] == [] and base["pg_sequences"] == [], base


async def test_base_to_head_then_demo_load_matches_a_fresh_install(fresh_url, tmp_path):
    # Walked: head, loaded, all the way down to base, up again, loaded.
    await migrate(fresh_url, "up", "head")
    await load_demo(fresh_url, tmp_path, with_client=False)
    await migrate(fresh_url, "down", "base")
    await migrate(fresh_url, "up", "head")
    await load_demo(fresh_url, tmp_path, with_client=False)
    walked_schema, walked = await schema_of(fresh_url), content(await snapshot(fresh_url))

    async with fresh_database(tmp_path, "fresh") as fresh:
        await migrate(fresh, "up", "head")
        await load_demo(fresh, tmp_path, with_client=False)
        fresh_schema, installed = await schema_of(fresh), content(await snapshot(fresh))

    assert walked_schema == fresh_schema
    assert walked == installed
    assert sum(count for count, _ in installed.values()) > 50  # it compared the demo, not nothing


async def test_models_and_migrations_do_not_drift(fresh_url):
    await migrate(fresh_url, "up", "head")
    engine = _engine(fresh_url)
    try:
        async with engine.connect() as conn:

            def compare(sync_conn: sa.Connection) -> list[object]:
                context = MigrationContext.configure(
                    sync_conn,
                    opts={
                        "compare_type": True,
                        "render_as_batch": sync_conn.dialect.name == "sqlite",
                        # SQLite's FTS5 tables (search) are the engine's index, not models.
                        "include_name": lambda name, type_, _: (
                            not (type_ == "table" and is_engine_index(name))
                        ),
                    },
                )
                return compare_metadata(context, SQLModel.metadata)

            differences = await conn.run_sync(compare)
    finally:
        await engine.dispose()
    assert differences == [], "models and migrations differ; write a migration:\n" + "\n".join(
        map(str, differences)
    )
