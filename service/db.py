"""Engine, sessions and the column conventions every table shares."""

from __future__ import annotations

import contextlib
import functools
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, ParamSpec, TypeVar, cast

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from service.config import Settings

# Named constraints: Alembic (and SQLite batch mode) can only alter what has a name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on PostgreSQL and on SQLite alike.

    SQLite has no time zones: values are stored as naive UTC and re-tagged when read, so
    ordering (keyset pagination) is the same on both databases.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TableBase(SQLModel):
    """Columns every resource table has: a UUID id, creation/update times and a revision."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Bumped on every change; the ETag is derived from it.
    revision: int = Field(default=1, nullable=False)
    # The table SQLModel builds for each table=True subclass (set by its metaclass).
    __table__: ClassVar[sa.Table]


def normalise_url(raw: str) -> sa.URL:
    """Accept plain `postgresql://` and `sqlite://` URLs and pick the async drivers."""
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+asyncpg")
    elif url.drivername == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    return url


def ensure_sqlite_directory(db_url: sa.URL) -> None:
    """The embedded database lives under ./var/ by default: create the folder on first use."""
    if db_url.get_backend_name() == "sqlite" and db_url.database and db_url.database != ":memory:":
        # Best effort: if the folder cannot be made, connecting fails and the API answers 503.
        with contextlib.suppress(OSError):
            Path(db_url.database).parent.mkdir(parents=True, exist_ok=True)


def _json_dumps(value: Any) -> str:
    # Japanese stays Japanese in JSON columns: a third of the bytes of \uXXXX escapes.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def takes_row_locks(statement: object) -> bool:
    """Whether a compiled statement asked for row locks (`SELECT … FOR UPDATE`)."""
    return getattr(statement, "_for_update_arg", None) is not None


def _sqlite_for_update_takes_write_lock(
    conn: sa.Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """On SQLite, `SELECT … FOR UPDATE` takes the database's write lock (BEGIN IMMEDIATE).

    SQLite drops FOR UPDATE, and pysqlite runs SELECTs outside any transaction, so a service's
    check-then-act (read the row, check its status, write) raced: six approvals of one brief
    all passed the check. Beginning the transaction IMMEDIATE at the locking read gives SQLite
    what PostgreSQL's row lock gives: the next writer waits (busy_timeout) and then reads what
    the first one committed. Reads without FOR UPDATE take no lock, so WAL readers (the pitch)
    never wait. Once a transaction has written it already holds the lock: nothing to do.
    """
    compiled = getattr(context, "compiled", None)
    if compiled is None or not takes_row_locks(compiled.statement):
        return
    dbapi_connection = conn.connection.dbapi_connection
    # aiosqlite's adapter wraps the driver connection; the sqlite3 one knows the transaction state.
    driver = getattr(getattr(dbapi_connection, "_connection", None), "_conn", dbapi_connection)
    if driver is not None and not driver.in_transaction:
        lock = dbapi_connection.cursor()  # type: ignore[union-attr]  # not None: driver is derived from it
        try:
            lock.execute("BEGIN IMMEDIATE")
        finally:
            lock.close()


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """Create the async engine with the per-database settings production needs."""
    db_url = normalise_url(url or settings.resolved_database_url)
    if db_url.get_backend_name() == "sqlite":
        ensure_sqlite_directory(db_url)
        engine = create_async_engine(db_url, connect_args={"timeout": 15}, json_serializer=_json_dumps)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        event.listen(engine.sync_engine, "before_cursor_execute", _sqlite_for_update_takes_write_lock)
        return engine
    engine = create_async_engine(
        db_url,
        json_serializer=_json_dumps,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "cuecard",
            },
        },
    )
    ping_when_idle(engine, settings.db_ping_after_idle_seconds)
    return engine


def ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Ping a pooled connection on checkout only when it sat idle for `idle_seconds`.

    `pool_pre_ping` pings on every checkout, and asyncpg's ping is three round trips (BEGIN,
    `;`, ROLLBACK): more than a page read's own query. A connection returned moments ago was
    alive moments ago; one idle long enough to have met a restart, a failover or an idle
    timeout is checked first, and a dead one is replaced before the request sees it."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or returned moments ago
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool discards this connection and checks out a fresh one.
            raise sa.exc.DisconnectionError(str(exc)) from exc


def create_sessionmaker(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: services return what they committed without a reload.
    # `info` is copied into every session (the pitch cache rides there, see service/pitch/cache.py).
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info or {})


def session_settings(session: AsyncSession) -> Settings:
    """The app's settings, carried in every session's `info` (see create_app and the CLI)."""
    settings = session.info.get("settings")
    if settings is None:  # a sessionmaker built without them (a script): the environment's
        from service.config import get_settings

        settings = get_settings()
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per REST request; the service it is handed owns commit and rollback."""
    async with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


_Fetch = TypeVar("_Fetch", bound=Callable[..., Any])


def needs_transaction(fetch: _Fetch) -> _Fetch:
    """Marks a read whose statements must share a transaction (it plans them with `set_local`):
    GraphQL runs it on a session with one, not on a query's reader without a transaction."""
    fetch.needs_transaction = True  # type: ignore[attr-defined]  # read by service.graphql_kit
    return fetch


async def set_local(session: AsyncSession, *assignments: str) -> None:
    """`SET LOCAL <assignment>` on PostgreSQL, each for the rest of the current transaction.

    Refused without a transaction (a read session, `isolation_level="AUTOCOMMIT"`), where
    PostgreSQL would only warn and the read would run with the defaults, slowly and silently:
    the caller is then missing `needs_transaction` or a session with a transaction."""
    if _without_transaction(session):
        raise RuntimeError("SET LOCAL needs a transaction; this session runs without one")
    if not is_postgres(session):
        return
    for assignment in assignments:
        await session.execute(sa.text(f"SET LOCAL {assignment}"))


def _without_transaction(session: AsyncSession) -> bool:
    """Whether the session is bound to an engine whose statements each commit on their own."""
    bind = session.bind
    return (
        isinstance(bind, AsyncEngine) and bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    )


def is_postgres(session_or_engine: AsyncSession | AsyncEngine) -> bool:
    bind = session_or_engine.bind if isinstance(session_or_engine, AsyncSession) else session_or_engine
    return bind.dialect.name == "postgresql"  # type: ignore[union-attr]  # our sessions are always bound


# --- the unit of work -------------------------------------------------------------------------

_IN_USE_CASE = "cuecard.in_use_case"
_RUNNING, _COMMITTING = "running", "committing"


@contextlib.asynccontextmanager
async def use_case(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One use case's transaction: the outermost block commits when it ends and rolls back when
    it raises; blocks opened inside it on the same session (the service functions it calls, its
    own domain's or another's) join that transaction and never commit or roll back on their own.

    So a cross-domain change (and, later, its outbox event) lands together or not at all. Ending
    at once on a refusal also lets go of what the use case locked (on SQLite, after a locking
    read, the whole database's write lock). Whatever a commit triggers (cache invalidation, the
    NOTIFY sent in the transaction) happens once, at the outermost commit.
    """
    if session.info.get(_IN_USE_CASE):
        yield session
        # Its writes reach the transaction before the caller goes on: sessions do not autoflush,
        # and a locking read (populate_existing) would otherwise read over pending changes.
        await session.flush()
        return
    if _without_transaction(session):
        # A read session (REST reads, GraphQL queries): each statement would commit on its own.
        raise RuntimeError("a use case needs a session with a transaction; this one runs without")
    session.info[_IN_USE_CASE] = _RUNNING
    try:
        yield session
        session.info[_IN_USE_CASE] = _COMMITTING
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        del session.info[_IN_USE_CASE]


def in_use_case(session: AsyncSession) -> bool:
    """Whether a use case is running on this session (and has not begun to commit)."""
    return session.info.get(_IN_USE_CASE) == _RUNNING


P = ParamSpec("P")
R = TypeVar("R")


def transactional(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Runs a service function (session first) as one `use_case`: it commits when called on
    its own, and joins the caller's transaction when another use case calls it."""

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        session = cast("AsyncSession", args[0] if args else kwargs["session"])
        async with use_case(session):
            return await function(*args, **kwargs)

    return run


@event.listens_for(Session, "before_commit")
def _only_the_use_case_commits(session: Session) -> None:
    # One owner for commits: a service function committing inside a use case would split it.
    # Releasing a savepoint (`begin_nested`, e.g. one per item of a bulk) commits nothing.
    if session.info.get(_IN_USE_CASE) == _RUNNING and not session.in_nested_transaction():
        raise RuntimeError("commit inside a use case: only its outermost `use_case` block commits")


@contextlib.contextmanager
def conflict_on_duplicate(message: str) -> Iterator[None]:
    """A unique key taken meanwhile (the IntegrityError of a flush) becomes a 409, not a 500.

    Wrap the flush that writes the row: the use case then ends (rolls back) with the Conflict.
    """
    from service.errors import Conflict

    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise Conflict(message) from exc


async def add_new(session: AsyncSession, row: object, conflict_message: str) -> None:
    """Insert `row` now, in the caller's use case; a unique key taken meanwhile is a 409."""
    session.add(row)
    with conflict_on_duplicate(conflict_message):
        await session.flush()
