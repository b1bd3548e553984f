"""Answers to repeated reads, kept until a write commits to a table they read (issue 11).

A read is answered once through the whole stack while every statement it sends is watched
(`before_execute`): the tables it reads are recorded, and a read that writes, sends text SQL
we cannot see into, or is a GraphQL mutation or error is never kept. Its 200 answer is then
kept under the caller (the resolved principal, so a revoked token or a deactivated person
is refused as before) and the request as sent (method, path, query, body, every header but
the per-request ones). The next identical request is answered from memory after one check:
no table it read has been written since.

Writes are seen where they happen, whatever sends them (ORM flush, Core, bulk, text DML):
- at `commit` (before the database commits) the written tables are marked *in flight*:
  nothing touching them is served or kept from that moment;
- once the connection is back in the pool (the commit is done) they are bumped, so what a
  read saw before then can never be kept;
- on PostgreSQL the same transaction sends `pg_notify(cuecard_tables, …)`, which every
  replica's listener turns into the same bump (and, as for the pitch, a replica that cannot
  listen keeps nothing).
Answers that depend on the clock (a step falling due, evidence expiring) are kept at most
`CUECARD_READ_CACHE_SECONDS` (5 by default; 0 turns the cache off).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from sqlalchemy.sql.ddl import ExecutableDDLElement
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.util import find_tables

CHANNEL = "cuecard_tables"
EVERYTHING = "*"  # a write whose tables we cannot name: every entry goes
_WRITTEN = "cuecard_written"  # connection record info: tables written in the open transaction
_COMMITTED = "cuecard_committed"  # ... and those committed, bumped at check-in

# Text SQL that reads nothing a cached answer shows (settings, locks, notices).
_HARMLESS = re.compile(r"\s*(SET\s|SELECT\s+pg_notify\(|SELECT\s+pg_try_advisory|SAVEPOINT|RELEASE)", re.I)
_DML = re.compile(r"\s*(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|WITH|ALTER|DROP|CREATE)\b", re.I)


@dataclass(slots=True)
class Trace:
    """What one read being answered touched."""

    tables: set[str] = field(default_factory=set)
    keep: bool = True


_trace: ContextVar[Trace | None] = ContextVar("cuecard_read_trace", default=None)


@contextmanager
def tracing(trace: Trace) -> Iterator[None]:
    """Record in `trace` what the statements sent inside the block read (see `_watch`)."""
    token = _trace.set(trace)
    try:
        yield
    finally:
        _trace.reset(token)


def not_kept() -> None:
    """The answer being produced must not be kept (e.g. a GraphQL mutation that wrote nothing)."""
    trace = _trace.get()
    if trace is not None:
        trace.keep = False


@dataclass(slots=True)
class Entry:
    tables: frozenset[str]
    stamp: int  # the bump counter when the read began
    expires: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes | None
    route: Any  # the route it came from: a hit is counted and logged under it


class ReadCache:
    """Kept answers by request key; the tables' bump counters decide whether one still holds."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        requires_listener: bool = False,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_body: int = 1024 * 1024,
    ) -> None:
        self.ttl = ttl_seconds
        self.requires_listener = requires_listener
        self.listening = False
        self.max_entries, self.max_bytes, self.max_body = max_entries, max_bytes, max_body
        self._entries: OrderedDict[Any, Entry] = OrderedDict()
        self._bytes = 0
        self._counter = 0
        self._bumped: dict[str, int] = {}  # table -> the counter at its last write
        self._floor = 0  # entries older than this are gone (everything was invalidated)
        self._in_flight: dict[str, int] = {}  # table -> transactions committing to it now
        # Other caches of the app told of other replicas' writes through this one's channel.
        self.followers: list[Watcher] = []
        # Reads being answered now, by key: the same read arriving meanwhile waits for it.
        self.answering: dict[Any, asyncio.Future[None]] = {}
        _WATCHERS.add(self)

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and (self.listening or not self.requires_listener)

    # --- reads ---------------------------------------------------------------------------

    def begin(self) -> tuple[Trace, int]:
        return Trace(), self._counter

    def get(self, key: Any) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires < time.monotonic() or not self._holds(entry.tables, entry.stamp):
            self._drop(key)
            return None
        return entry

    def put(
        self,
        key: Any,
        trace: Trace,
        stamp: int,
        response: tuple[int, list[tuple[bytes, bytes]], bytes],
        route: Any = None,
    ) -> bool:
        status, headers, body = response
        if not trace.keep or not trace.tables or len(body) > self.max_body or not self.enabled:
            return False
        if not self._holds(trace.tables, stamp):
            return False  # a write committed while the read ran: what it saw may be gone
        etag = next((value for name, value in headers if name == b"etag"), None)
        self._drop(key)
        self._entries[key] = Entry(
            frozenset(trace.tables), stamp, time.monotonic() + self.ttl, status, headers, body, etag, route
        )
        self._bytes += len(body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def _holds(self, tables: frozenset[str] | set[str], stamp: int) -> bool:
        bumped, in_flight = self._bumped, self._in_flight
        if stamp < self._floor or EVERYTHING in in_flight:  # a write of unnamed tables is committing
            return False
        return not any(bumped.get(table, 0) > stamp or table in in_flight for table in tables)

    def _drop(self, key: Any) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.body)

    def __len__(self) -> int:
        return len(self._entries)

    # --- writes --------------------------------------------------------------------------

    def bump(self, tables: set[str]) -> None:
        self._counter += 1
        if EVERYTHING in tables:
            self._floor = self._counter
            self._entries.clear()
            self._bytes = 0
            return
        for table in tables:
            self._bumped[table] = self._counter

    def committing(self, tables: set[str]) -> None:
        for table in tables:
            self._in_flight[table] = self._in_flight.get(table, 0) + 1

    def committed(self, tables: set[str]) -> None:
        for table in tables:
            left = self._in_flight.get(table, 0) - 1
            if left > 0:
                self._in_flight[table] = left
            else:
                self._in_flight.pop(table, None)
        self.bump(tables)

    # --- other replicas (service/listener.py) --------------------------------------------

    def on_notify(self, payload: str) -> None:
        tables = set(payload.split(",")) if payload else {EVERYTHING}
        self.bump(tables)
        for follower in self.followers:  # other caches of this app that read those tables
            follower.committed(tables)

    def invalidate_all(self) -> None:
        self.bump({EVERYTHING})


class Watcher(Protocol):
    """Told of the tables a transaction wrote: as it commits, and once the commit is done."""

    def committing(self, tables: set[str]) -> None: ...

    def committed(self, tables: set[str]) -> None: ...


# Every watcher in the process hears every write of every engine in it (tests and scripts
# write through engines of their own).
_WATCHERS: weakref.WeakSet[Any] = weakref.WeakSet()


def watch(watcher: Watcher) -> None:
    """Tell `watcher` of every write committed in this process (see `Watcher`)."""
    _WATCHERS.add(watcher)


_TABLES: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def _tables_of(statement: Any) -> frozenset[str]:
    found = _TABLES.get(statement)
    if found is None:
        found = frozenset(
            t.name
            for t in find_tables(
                statement,
                check_columns=True,
                include_aliases=True,
                include_joins=True,
                include_selects=True,
                include_crud=True,
            )
            if isinstance(t, sa.TableClause)
        )
        _TABLES[statement] = found
    return found


# `before_execute`, once per statement executed: `before_cursor_execute` would also see each
# batch of an executemany, and a listener there took a third off feedback ingest.
@event.listens_for(Engine, "before_execute")
def _watch(conn: sa.Connection, statement: Any, *_args: Any) -> None:
    trace = _trace.get()
    if isinstance(statement, (str, sa.TextClause)):
        text = statement if isinstance(statement, str) else statement.text
        if _HARMLESS.match(text):
            return
        if _DML.match(text):
            conn.info.setdefault(_WRITTEN, set()).add(EVERYTHING)
        if trace is not None:
            trace.keep = False
        return
    if isinstance(statement, UpdateBase):  # INSERT, UPDATE, DELETE
        target = getattr(statement, "table", None)
        name = target.name if isinstance(target, sa.TableClause) else EVERYTHING
        conn.info.setdefault(_WRITTEN, set()).add(name)
        if trace is not None:
            trace.keep = False
        return
    if isinstance(statement, ExecutableDDLElement):
        conn.info.setdefault(_WRITTEN, set()).add(EVERYTHING)
    if trace is not None:
        tables = _tables_of(statement) if isinstance(statement, sa.sql.ClauseElement) else frozenset()
        if tables:
            trace.tables.update(tables)
        else:
            trace.keep = False


@event.listens_for(Engine, "commit")
def _committing(conn: sa.Connection) -> None:
    written: set[str] | None = conn.info.pop(_WRITTEN, None)
    if not written:
        return
    committed: set[str] = conn.info.setdefault(_COMMITTED, set())
    new = written - committed  # in flight once per table until check-in, however many commits
    committed.update(new)
    for watcher in list(_WATCHERS):
        watcher.committing(new)
    if conn.dialect.name == "postgresql":
        payload = "" if EVERYTHING in written else ",".join(sorted(written))
        # In the transaction: other replicas hear of it only if it commits.
        conn.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))


@event.listens_for(Engine, "rollback")
def _rolled_back(conn: sa.Connection) -> None:
    if conn.invalidated:  # the connection is gone: the pool's invalidate event settles it
        return
    conn.info.pop(_WRITTEN, None)


def _done(record: Any) -> None:
    committed: set[str] | None = record.info.pop(_COMMITTED, None)
    # Written outside a transaction we saw commit (autocommit), or rolled back by the pool's
    # reset: bumped either way (too much invalidation is only a miss).
    loose: set[str] | None = record.info.pop(_WRITTEN, None)
    for watcher in list(_WATCHERS):
        if committed:
            watcher.committed(committed)
        if loose:  # never marked in flight: both steps at once
            watcher.committing(loose)
            watcher.committed(loose)


@event.listens_for(Pool, "checkin")
def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        _done(record)


@event.listens_for(Pool, "invalidate")
def _invalidated(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
    if record is not None:
        _done(record)


def body_key(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest() if body else b""
