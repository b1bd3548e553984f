"""Time that passes: events nobody's request causes (a campaign step falls due, evidence
expires, feedback goes overdue, a check waits too long), noticed without cron.

The worker calls `detect_due` every few seconds. Each domain's detector (registered in
service.wiring: this module sits below the domains and imports none of them) finds, in
set-based queries bounded by a budget, what fell due by `now` and has not fired yet; the
clock then claims each occurrence in `clock_occurrences` (its unique key) and emits its event
in the same transaction. So each occurrence fires **exactly once**:

- a restart resumes: detectors skip what already fired (NOT EXISTS against the table);
- two workers racing on one PostgreSQL both find the same occurrences, but only one insert of
  a key succeeds (`INSERT … ON CONFLICT DO NOTHING RETURNING`; the other waits on the first's
  uncommitted key, then inserts nothing) and only what was inserted is emitted; on SQLite the
  database's single writer does the same with `INSERT OR IGNORE`;
- a transaction that rolls back takes its occurrences with its events: they fire next time.

Nothing fires that fell due longer ago than `CUECARD_CLOCK_LOOKBACK_DAYS` (default 7): a new
deployment, or one back from a long outage, does not replay years of history. The rules of
each event type (when it is due, what is not retroactive) are in docs/events.md and in each
detector's docstring.

What fired is pruned (`prune_fired`, a worker job) only once it fell due longer ago than the
lookback and a day, and only where a rule its domain registered (`prune_when`) says its detector
can never find it due again: a key that is gone would fire again if it were found. Types
without a rule are kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.db import is_postgres, session_settings, use_case, utcnow
from service.events.catalogue import EventType
from service.events.clock_models import ClockOccurrence
from service.events.service import emit, iso_utc
from service.logging import get_logger

log = get_logger("cuecard.clock")

# Rows per INSERT: well under both databases' bound-parameter limits (9 columns each).
_CHUNK = 500


@dataclass(frozen=True)
class Due:
    """One occurrence a detector found due: what identifies it, and the event it fires.

    Its key is the type and subject plus whichever of step_id (else step), person, due_on are
    given, plus due_at when `once_per_due_at` (an occurrence that may fire again for a new due
    time, like a feedback stage). A detector's `not_fired(...)` filter must name the same parts.
    A campaign step is keyed by its `step_id`, wherever it moves; its `step` (its place in the
    plan when it fell due) is then only recorded."""

    type: EventType
    subject_id: uuid.UUID
    due_at: datetime
    data: Mapping[str, Any]
    product_key: str | None = None
    person_id: uuid.UUID | None = None
    step_id: uuid.UUID | None = None
    step: int | None = None
    due_on: date | None = None
    once_per_due_at: bool = False

    @property
    def key(self) -> str:
        parts: list[object] = [self.type.value, self.subject_id]
        if self.step_id is not None:
            parts.append(self.step_id)
        elif self.step is not None:
            parts.append(self.step)
        if self.person_id is not None:
            parts.append(self.person_id)
        if self.due_on is not None:
            parts.append(self.due_on.isoformat())
        if self.once_per_due_at:
            parts.append(iso_utc(self.due_at))
        return ":".join(str(part) for part in parts)


# A detector: (session, now, budget) → at most `budget` occurrences due by `now`, not yet fired.
Detector = Callable[[AsyncSession, datetime, int], Awaitable[Sequence[Due]]]

_DETECTORS: dict[str, Detector] = {}


def register_detector(name: str, detector: Detector) -> None:
    """Adds a domain's detector (service.wiring); registering a name again replaces it."""
    _DETECTORS[name] = detector


def not_fired(
    type: EventType,
    subject: Any,
    *,
    person: Any = None,
    step_id: uuid.UUID | None = None,
    step: int | None = None,
    due_on: Any = None,
    due_at: Any = None,
) -> sa.ColumnElement[bool]:
    """The SQL condition "this occurrence has not fired", correlated to the detector's query by
    the columns given (name the same parts as the `Due` it builds: due_at only for
    `once_per_due_at`)."""
    conditions = [col(ClockOccurrence.type) == type.value, col(ClockOccurrence.subject_id) == subject]
    if person is not None:
        conditions.append(col(ClockOccurrence.person_id) == person)
    if step_id is not None:
        conditions.append(col(ClockOccurrence.step_id) == step_id)
    elif step is not None:
        conditions.append(col(ClockOccurrence.step) == step)
    if due_on is not None:
        conditions.append(col(ClockOccurrence.due_on) == due_on)
    if due_at is not None:
        conditions.append(col(ClockOccurrence.due_at) == due_at)
    return ~sa.exists().where(*conditions)


def lookback_start(session: AsyncSession, now: datetime) -> datetime:
    """The earliest due time that still fires (`CUECARD_CLOCK_LOOKBACK_DAYS` before now)."""
    return now - timedelta(days=session_settings(session).clock_lookback_days)


def first_day_from(moment: datetime) -> date:
    """The first UTC day whose start (00:00) is at or after `moment`."""
    day = moment.date()
    return day if moment.timetz() == time(0, tzinfo=moment.tzinfo) else day + timedelta(days=1)


async def _claim(session: AsyncSession, found: Sequence[Due]) -> set[str]:
    """Inserts the occurrences' keys, skipping any already taken; the keys this insert took."""
    table = ClockOccurrence.__table__
    fired_at = utcnow()
    # In key order: two workers inserting the same keys take their locks in the same order
    # (PostgreSQL), so they wait for each other instead of deadlocking.
    rows = sorted(
        (
            {
                "key": due.key,
                "type": due.type.value,
                "subject_id": due.subject_id,
                "person_id": due.person_id,
                "step_id": due.step_id,
                "step": due.step,
                "due_on": due.due_on,
                "due_at": due.due_at,
                "fired_at": fired_at,
            }
            for due in found
        ),
        key=lambda row: str(row["key"]),
    )
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    claimed: set[str] = set()
    for start in range(0, len(rows), _CHUNK):
        stmt = dialect_insert(table).values(rows[start : start + _CHUNK]).on_conflict_do_nothing()
        result = await session.execute(stmt.returning(table.c.key))
        claimed.update(result.scalars())
    return claimed


async def fire(session: AsyncSession, found: Sequence[Due]) -> int:
    """Claims each occurrence and emits the event of each one this transaction claimed, in the
    order they fell due; call inside a use case. Returns how many it emitted."""
    unique = list({due.key: due for due in found}.values())
    if not unique:
        return 0
    claimed = await _claim(session, unique)
    emitted = 0
    for due in sorted(unique, key=lambda d: (d.due_at, d.key)):
        if due.key in claimed:
            emit(session, due.type, due.data, product_key=due.product_key)
            emitted += 1
    return emitted


async def detect_due(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None, *, limit: int = 500
) -> int:
    """Emits the events of what fell due by `now` (default: the current time, UTC) and has not
    fired yet: at most `limit` per call, the detectors sharing that budget in turn (a backlog
    drains over the following calls). Returns how many events it emitted.

    Each detector runs in a transaction of its own: its occurrences and their events commit
    together. One that fails rolls back alone (its occurrences stay due for the next call) and
    the others still run; its error is raised once they have."""
    if now is None:
        now = utcnow()
    elif now.tzinfo is None:
        raise ValueError("naive datetimes are refused; pass a UTC-aware `now`")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if not _DETECTORS:
        raise RuntimeError("no clock detectors registered: call service.wiring.connect_domains() first")
    emitted = 0
    failure: Exception | None = None
    for name, detector in list(_DETECTORS.items()):
        budget = limit - emitted
        if budget <= 0:
            break
        try:
            async with sessionmaker() as session, use_case(session):
                found = await detector(session, now, budget)
                fired = await fire(session, found[:budget])
        except Exception as exc:
            # One broken detector (or a lost database) must not starve the ones after it.
            log.warning("clock_detector_failed", detector=name, error=type(exc).__name__)
            failure = failure or exc
            continue
        if fired:
            log.info("clock_fired", detector=name, events=fired)
        emitted += fired
    if failure is not None:
        raise failure
    return emitted


# --- pruning what fired ---------------------------------------------------------------------------

# One day more than the lookback: a detector running at the boundary, or on a worker whose clock
# is a little behind the pruning one's, never meets a key that was just pruned.
PRUNE_MARGIN = timedelta(days=1)

# (session, now) → what else must hold, on `clock_occurrences`, for an occurrence of one type that
# fell due before the lookback and its margin to be one its detector can never find due again.
PruneRule = Callable[[AsyncSession, datetime], sa.ColumnElement[bool]]

_PRUNE_RULES: dict[str, PruneRule] = {}


def prune_when(type: EventType, rule: PruneRule) -> None:
    """Lets occurrences of `type` be pruned under `rule` (service.wiring; registering a type again
    replaces its rule). A type nobody registers is never pruned."""
    _PRUNE_RULES[type.value] = rule


def prune_before(session: AsyncSession, now: datetime) -> datetime:
    """Only what fell due before this is ever pruned: the lookback and its margin before now."""
    return lookback_start(session, now) - PRUNE_MARGIN


def past_lookback(session: AsyncSession, now: datetime) -> sa.ColumnElement[bool]:
    """The rule for types whose key names their due time (or the date it derives from) and whose
    detector looks back no further than the lookback: old enough is enough."""
    return sa.true()


def due_on_before_lookback(session: AsyncSession, now: datetime) -> sa.ColumnElement[bool]:
    """The rule for types keyed by a date (`due_on`) whose detector looks at dates from today on
    (a window ahead: an occurrence due long ago may be found again while its date is ahead)."""
    return col(ClockOccurrence.due_on) < prune_before(session, now).date()


async def prune_fired(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None, *, limit: int = 5_000
) -> int:
    """Deletes at most `limit` occurrences that fell due before the lookback and its margin and
    that their type's rule lets go (one statement, both databases); returns how many. Safe beside
    the clock and other pruners: a detector never finds what a rule lets go, and two pruners
    delete each row once."""
    if now is None:
        now = utcnow()
    elif now.tzinfo is None:
        raise ValueError("naive datetimes are refused; pass a UTC-aware `now`")
    if not _PRUNE_RULES:
        return 0
    table = ClockOccurrence.__table__
    async with sessionmaker() as session, use_case(session):
        rules = [
            sa.and_(table.c.type == type_, rule(session, now)) for type_, rule in sorted(_PRUNE_RULES.items())
        ]
        old = (
            sa.select(table.c.key)
            .where(table.c.due_at < prune_before(session, now), sa.or_(*rules))
            .limit(limit)
        )
        result = await session.execute(sa.delete(table).where(table.c.key.in_(old)))
        return int(getattr(result, "rowcount", 0) or 0)
