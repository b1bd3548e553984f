"""Who is calling, remembered per process: people and service clients as stored.

A token says who signed it; whether that person is still active, which role and department
they hold now, and whether a service client still exists are stored facts that change. They
are read from the database once and kept here, so a request costs no database trip just to
know its caller (the CRM's pitch read included).

Every change to a person, a client or an API token marks the session (`person_changed`,
`client_changed`, `api_token_changed`):
after the commit this process drops the entry at once, and on PostgreSQL the same
transaction's `pg_notify` tells every other replica (service/listener.py) — so a demotion or
a deactivation reaches all of them within a second. Without a listener (PostgreSQL while the
LISTEN connection is down) nothing is cached. SQLite has no NOTIFY and runs one server
process, but the operator's CLI (`cuecard token`, `cuecard clients deactivate`) is a second
one: its commits rewrite a small file beside the database, which the server looks at at most
every `SIGNAL_CHECK_SECONDS`. Entries also expire after `ttl_seconds`, a bound on staleness
for edits made outside the services (SQL by hand).
"""

from __future__ import annotations

import enum
import os
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from service.auth.principal import Principal, Role, as_role
from service.db import is_postgres
from service.people.models import Person

CHANNEL = "cuecard_auth"
_PENDING = "auth_changed"
_CACHE = "auth_cache"


class _Miss(enum.Enum):
    MISS = "MISS"


MISS: Final = _Miss.MISS  # not cached (as opposed to None: cached as "no such person/client")


@dataclass(frozen=True)
class StoredPerson:
    """What authentication needs of a person's record."""

    id: uuid.UUID
    email: str
    role: Role
    department_id: uuid.UUID | None
    active: bool
    oidc_subject: str | None

    @classmethod
    def of(cls, person: Person) -> StoredPerson:
        return cls(
            id=person.id,
            email=person.email,
            role=as_role(person.role),
            department_id=person.department_id,
            active=person.active,
            oidc_subject=person.oidc_subject,
        )

    def principal(self) -> Principal:
        """The person acting with their stored role and department."""
        return Principal(
            kind="person",
            subject=f"person:{self.id}",
            role=self.role,
            person_id=self.id,
            department_id=self.department_id,
            email=self.email,
        )


@dataclass(frozen=True)
class StoredClient:
    """What authentication needs of a service client's record."""

    client_id: str
    active: bool
    scopes: frozenset[str]
    # The principal for each scope set its tokens ask for, made once per stored record (a
    # reload after a change starts afresh): a CRM's every request asks for the same one.
    principals: dict[frozenset[str], Principal] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class StoredApiToken:
    """What authentication needs of an API token's record (looked up by the token's hash)."""

    id: uuid.UUID
    client_id: str
    scopes: frozenset[str]
    expires_at: datetime | None


class AuthCache:
    """Bounded, per-process: people by id (and e-mail), clients by client id, API tokens by
    hash (only tokens that exist: a stream of made-up tokens must not push real ones out)."""

    MAX_PEOPLE = 50_000
    MAX_CLIENTS = 10_000
    MAX_API_TOKENS = 10_000
    # `last_used_at` is written at most this often per token and process, not per request.
    TOKEN_USE_RECORD_SECONDS = 60.0
    SIGNAL_CHECK_SECONDS = 0.25

    def __init__(
        self, *, requires_listener: bool = False, ttl_seconds: float = 30.0, signal_file: Path | None = None
    ) -> None:
        self.ttl = ttl_seconds
        # SQLite: another process's changes show as new content in this file (see signal_file()).
        self._signal_file = signal_file
        self._signal_seen = _read_signal(signal_file) if signal_file else None
        self._signal_checked = time.monotonic()
        self._people: OrderedDict[uuid.UUID, tuple[float, StoredPerson | None]] = OrderedDict()
        self._emails: dict[str, uuid.UUID] = {}
        self._clients: OrderedDict[str, tuple[float, StoredClient | None]] = OrderedDict()
        self._api_tokens: OrderedDict[str, tuple[float, StoredApiToken]] = OrderedDict()
        self._api_token_hashes: dict[uuid.UUID, str] = {}
        self._token_use_recorded: OrderedDict[uuid.UUID, float] = OrderedDict()
        # Bumped on every invalidation: a load that started before it is not stored.
        self.generation = 0
        # With several replicas, only cache while NOTIFYs can reach us (service/listener.py).
        self.requires_listener = requires_listener
        self.listening = False

    # --- reads -------------------------------------------------------------------------

    def _check_signal(self) -> None:
        if self._signal_file is None:
            return
        now = time.monotonic()
        if now - self._signal_checked < self.SIGNAL_CHECK_SECONDS:
            return
        self._signal_checked = now
        seen = _read_signal(self._signal_file)
        if seen != self._signal_seen:
            self._signal_seen = seen
            self.invalidate_all()

    def person(self, person_id: uuid.UUID) -> StoredPerson | _Miss | None:
        self._check_signal()
        found = self._people.get(person_id)
        if found is None:
            return MISS
        if found[0] < time.monotonic():
            self._drop_person(person_id)
            return MISS
        self._people.move_to_end(person_id)
        return found[1]

    def person_by_email(self, email: str) -> StoredPerson | _Miss | None:
        person_id = self._emails.get(email)
        return MISS if person_id is None else self.person(person_id)

    def client(self, client_id: str) -> StoredClient | _Miss | None:
        self._check_signal()
        found = self._clients.get(client_id)
        if found is None:
            return MISS
        if found[0] < time.monotonic():
            del self._clients[client_id]
            return MISS
        self._clients.move_to_end(client_id)
        return found[1]

    def api_token(self, token_hash: str) -> StoredApiToken | _Miss:
        self._check_signal()
        found = self._api_tokens.get(token_hash)
        if found is None:
            return MISS
        if found[0] < time.monotonic():
            self._drop_api_token(found[1].id)
            return MISS
        self._api_tokens.move_to_end(token_hash)
        return found[1]

    def token_use_due(self, token_id: uuid.UUID) -> bool:
        """Whether this process should record a use of the token now (then: not for a minute)."""
        now = time.monotonic()
        last = self._token_use_recorded.get(token_id)
        if last is not None and now - last < self.TOKEN_USE_RECORD_SECONDS:
            return False
        self._token_use_recorded[token_id] = now
        self._token_use_recorded.move_to_end(token_id)
        while len(self._token_use_recorded) > self.MAX_API_TOKENS:
            self._token_use_recorded.popitem(last=False)
        return True

    # --- writes ------------------------------------------------------------------------

    def _may_store(self, generation: int) -> bool:
        return generation == self.generation and (self.listening or not self.requires_listener)

    def put_person(self, person_id: uuid.UUID, person: StoredPerson | None, generation: int) -> None:
        """Remember a person as read when `generation` was current (None: no such person)."""
        if not self._may_store(generation):
            return  # changed while loading, or deaf to other replicas: read through
        self._drop_person(person_id)
        self._people[person_id] = (time.monotonic() + self.ttl, person)
        if person is not None:
            self._emails[person.email] = person_id
        while len(self._people) > self.MAX_PEOPLE:
            self._drop_person(next(iter(self._people)))

    def put_client(self, client_id: str, client: StoredClient | None, generation: int) -> None:
        """Remember a client as read when `generation` was current (None: no such client)."""
        if not self._may_store(generation):
            return
        self._clients[client_id] = (time.monotonic() + self.ttl, client)
        self._clients.move_to_end(client_id)
        while len(self._clients) > self.MAX_CLIENTS:
            self._clients.popitem(last=False)

    def put_api_token(self, token_hash: str, token: StoredApiToken, generation: int) -> None:
        """Remember an API token as read when `generation` was current."""
        if not self._may_store(generation):
            return
        self._drop_api_token(token.id)
        self._api_tokens[token_hash] = (time.monotonic() + self.ttl, token)
        self._api_token_hashes[token.id] = token_hash
        while len(self._api_tokens) > self.MAX_API_TOKENS:
            self._drop_api_token(next(iter(self._api_tokens.values()))[1].id)

    def _drop_api_token(self, token_id: uuid.UUID) -> None:
        token_hash = self._api_token_hashes.pop(token_id, None)
        if token_hash is not None:
            self._api_tokens.pop(token_hash, None)

    def _drop_person(self, person_id: uuid.UUID) -> None:
        found = self._people.pop(person_id, None)
        if found is not None and found[1] is not None and self._emails.get(found[1].email) == person_id:
            del self._emails[found[1].email]

    # --- invalidation ------------------------------------------------------------------

    def on_notify(self, payload: str) -> None:
        """Drop what a change notice names: `person:<uuid>`, `client:<client_id>` or
        `api_token:<uuid>`."""
        self.generation += 1
        kind, _, key = payload.partition(":")
        if kind == "person":
            try:
                self._drop_person(uuid.UUID(key))
            except ValueError:
                self.invalidate_all()
        elif kind == "client":
            self._clients.pop(key, None)
        elif kind == "api_token":
            try:
                self._drop_api_token(uuid.UUID(key))
            except ValueError:
                self.invalidate_all()
        else:
            self.invalidate_all()

    def invalidate_all(self) -> None:
        self.generation += 1
        self._people.clear()
        self._emails.clear()
        self._clients.clear()
        self._api_tokens.clear()
        self._api_token_hashes.clear()


def signal_file(url: sa.URL) -> Path | None:
    """The file beside a SQLite database that processes rewrite after changing people or
    clients (None for PostgreSQL, which has NOTIFY, and for in-memory databases)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database + "-auth-changes")


def _read_signal(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _signal_change(path: Path) -> bytes | None:
    # New content every time (not only a new mtime, which some filesystems keep to the second).
    content = f"{time.time_ns()} {os.getpid()} {secrets.token_hex(4)}\n".encode()
    try:
        path.write_bytes(content)
    except OSError:  # best effort: the entries' TTL still bounds staleness
        return None
    return content


# --- marking changes in a transaction ------------------------------------------------------


async def _changed(session: AsyncSession, payload: str) -> None:
    session.info.setdefault(_PENDING, set()).add(payload)
    if is_postgres(session):
        # Transactional: delivered to every replica's listener only if this commits.
        await session.execute(
            sa.text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )


async def person_changed(session: AsyncSession, person_id: uuid.UUID) -> None:
    """Record that this transaction changes a person (every cache drops them on commit)."""
    await _changed(session, f"person:{person_id}")


async def client_changed(session: AsyncSession, client_id: str) -> None:
    """Record that this transaction changes a service client (every cache drops it on commit)."""
    await _changed(session, f"client:{client_id}")


async def api_token_changed(session: AsyncSession, token_id: uuid.UUID) -> None:
    """Record that this transaction changes or revokes an API token (every cache drops it)."""
    await _changed(session, f"api_token:{token_id}")


def session_info(cache: AuthCache) -> dict[str, Any]:
    """`info` for the sessionmaker, so sessions know which cache to invalidate."""
    return {_CACHE: cache}


@event.listens_for(Session, "after_commit")
def _invalidate_after_commit(session: Session) -> None:
    changed = session.info.pop(_PENDING, None)
    if not changed:
        return
    cache = session.info.get(_CACHE)
    if cache is not None:
        for payload in changed:
            cache.on_notify(payload)
    path = signal_file(session.get_bind().engine.url)
    if path is not None:
        written = _signal_change(path)
        if cache is not None and written is not None and cache._signal_file == path:
            cache._signal_seen = written  # our own change, already applied above


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
