"""Emitting events: into the outbox, in the transaction of the use case that causes them."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from service.db import in_use_case, use_case, utcnow
from service.events import repository
from service.events.catalogue import CATALOGUE, EventType
from service.events.models import OutboxEvent

# PostgreSQL cannot store U+0000 in JSONB (nor in text): a NUL that reached a payload from
# some stored text becomes the replacement character rather than failing the whole use case.
_NUL, _REPLACEMENT = "\x00", "\ufffd"

# Session.info keys: whether this transaction emitted, and who to tell once it commits.
_EMITTED = "cuecard.events_emitted"
COMMITTED_SIGNAL = "cuecard.events_committed"


class CommittedSignal:
    """Tells this process's listeners (its worker) that events were committed, so they are
    handed on at once rather than at the worker's next poll. Other processes' workers find
    them by polling; nothing depends on this signal but latency."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[], None]] = []

    def fire(self) -> None:
        for listener in self.listeners:
            listener()


@event.listens_for(Session, "after_commit")
def _tell_listeners(session: Session) -> None:
    if session.info.pop(_EMITTED, False):
        signal = session.info.get(COMMITTED_SIGNAL)
        if signal is not None:
            signal.fire()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_EMITTED, None)


def iso_utc(value: dt.datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a `Z` (naive ones are refused)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are refused in events; use UTC-aware values")
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _json_safe(value: Any, where: str) -> Any:
    """`value` as plain JSON (dicts with string keys, lists, str, int, float, bool, None)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return _json_safe(value.value, where)
    if isinstance(value, str):
        return value.replace(_NUL, _REPLACEMENT)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"event data key {key!r} at {where} is not a string")
            out[key.replace(_NUL, _REPLACEMENT)] = _json_safe(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_json_safe(item, f"{where}[{index}]") for index, item in enumerate(items)]
    raise TypeError(f"event data at {where} is a {type(value).__name__}, not JSON")


def emit(
    session: AsyncSession, type: EventType | str, data: Mapping[str, Any], *, product_key: str | None = None
) -> OutboxEvent:
    """Adds an event to the outbox in the running use case; it lands with the use case's commit.

    Refused outside a use case: an event must never commit alone, nor be lost because nothing
    commits it. Values are made JSON here (UUIDs, datetimes, dates, decimals as strings), since
    the table skips validation."""
    if not in_use_case(session):
        raise RuntimeError("emit outside a use case: events are written in the transaction of their change")
    event_type = EventType(type)  # ValueError for a type the catalogue does not know
    if not isinstance(data, Mapping):
        raise TypeError("event data is a JSON object")
    row = OutboxEvent(
        type=event_type.value,
        version=CATALOGUE[event_type].version,
        timestamp=utcnow(),
        data=_json_safe(data, "data"),
        product_key=product_key,
    )
    session.add(row)
    session.info[_EMITTED] = True
    return row


def envelope(row: OutboxEvent) -> dict[str, Any]:
    """The event as receivers get it: `{"id", "type", "version", "timestamp", "data"}`."""
    return {
        "id": str(row.id),
        "type": row.type,
        "version": row.version,
        "timestamp": iso_utc(row.timestamp),
        "data": row.data,
    }


# Conditions an event must meet to be pruned, from the domains that still need some events
# (registered in service.wiring): each maps the outbox's `id` column to a SQL condition.
PruneGuard = Callable[[sa.ColumnElement[uuid.UUID]], sa.ColumnElement[bool]]
_prune_guards: list[PruneGuard] = []


def keep_while_needed(guard: PruneGuard) -> None:
    """Registers a condition for pruning (idempotent): an event it refuses is kept, whatever
    its age (a webhook delivery still waiting needs its event's payload)."""
    if guard not in _prune_guards:
        _prune_guards.append(guard)


async def prune_expired(
    sessionmaker: async_sessionmaker[AsyncSession], *, retention_hours: int, limit: int | None = None
) -> int:
    """Deletes events older than the retention window (at most `limit`, keeping the newest,
    those not yet handed on and those a domain still needs); returns how many."""
    async with sessionmaker() as session, use_case(session):
        cutoff = utcnow() - dt.timedelta(hours=retention_hours)
        id_column = OutboxEvent.__table__.c.id
        guards = [guard(id_column) for guard in _prune_guards]
        return await repository.prune_before(session, cutoff, limit=limit, only_if=guards)
