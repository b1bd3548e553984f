"""The sequencer numbers committed events in commit order, once, and hands each on once.

`position` is an insert order; a reader resuming after a position could miss an event whose
transaction began earlier and committed later. These tests hold such a transaction open on
PostgreSQL and check the late event is numbered after the ones already read, that two
sequencers never number one event twice, and that a handler failing leaves nothing numbered.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa

from service.db import create_engine, create_sessionmaker, use_case
from service.events import sequencer
from service.events.catalogue import EventType
from service.events.models import OutboxEvent
from service.events.service import emit
from tests.conftest import BACKEND

postgres_only = pytest.mark.skipif(BACKEND != "postgres", reason="SQLite has one writer at a time")


async def _emit(app, n: int) -> None:
    async with app.state.sessionmaker() as session, use_case(session):
        emit(session, EventType.PERSON_LEFT, {"person_id": uuid.uuid4(), "n": n})


async def _rows(app) -> list[OutboxEvent]:
    async with app.state.sessionmaker() as session:
        stmt = sa.select(OutboxEvent).order_by(OutboxEvent.position)
        return list((await session.execute(stmt)).scalars())


async def test_committed_events_are_numbered_in_order_once(app) -> None:
    for n in range(3):
        await _emit(app, n)
    assert [e.seq for e in await _rows(app)] == [None, None, None]

    newest = await sequencer.sequence(app.state.sessionmaker)
    rows = await _rows(app)
    assert [e.seq for e in rows] == [newest - 2, newest - 1, newest]
    assert [e.data["n"] for e in rows] == [0, 1, 2]
    # Nothing new: nothing numbered, nothing handed on again.
    assert await sequencer.sequence(app.state.sessionmaker) == 0

    await _emit(app, 3)
    assert await sequencer.sequence(app.state.sessionmaker) == newest + 1


async def test_a_batch_is_bounded_and_the_rest_follows(app) -> None:
    for n in range(5):
        await _emit(app, n)
    first = await sequencer.sequence(app.state.sessionmaker, limit=2)
    rows = await _rows(app)
    assert [e.seq is not None for e in rows] == [True, True, False, False, False]
    assert await sequencer.sequence(app.state.sessionmaker, limit=10) == first + 3
    assert [e.data["n"] for e in sorted(await _rows(app), key=lambda e: e.seq or 0)] == [0, 1, 2, 3, 4]


async def test_handlers_see_each_event_once_and_a_failing_one_numbers_nothing(app) -> None:
    seen: list[int] = []
    fail = True

    async def handler(_session, events: list[OutboxEvent]) -> None:
        if fail:
            raise RuntimeError("a handler failed")
        seen.extend(e.data["n"] for e in events)

    sequencer.on_sequenced(handler)
    try:
        await _emit(app, 1)
        with pytest.raises(RuntimeError):
            await sequencer.sequence(app.state.sessionmaker)
        assert [e.seq for e in await _rows(app)] == [None]  # rolled back with the handler
        fail = False
        await sequencer.sequence(app.state.sessionmaker)
        await sequencer.sequence(app.state.sessionmaker)
        assert seen == [1]
    finally:
        sequencer._handlers.remove(handler)


@postgres_only
async def test_an_event_committed_late_is_numbered_after_what_was_read(app) -> None:
    """A transaction that inserted first but commits last gets the larger seq."""
    async with app.state.sessionmaker() as slow, use_case(slow):
        emit(slow, EventType.PERSON_LEFT, {"person_id": uuid.uuid4(), "n": "slow"})
        await slow.flush()  # its position is taken now, below the next one's
        await _emit(app, "fast")
        first = await sequencer.sequence(app.state.sessionmaker)
        numbered = [e for e in await _rows(app) if e.seq is not None]
        assert [e.data["n"] for e in numbered] == ["fast"]
    # The slow one has committed now.
    second = await sequencer.sequence(app.state.sessionmaker)
    assert second == first + 1
    rows = await _rows(app)
    assert [e.data["n"] for e in rows] == ["slow", "fast"]  # insert order
    assert [e.data["n"] for e in sorted(rows, key=lambda e: e.seq or 0)] == ["fast", "slow"]


@postgres_only
async def test_two_sequencers_never_number_one_event_twice(app, settings) -> None:
    for n in range(40):
        await _emit(app, n)
    engines = [create_engine(settings) for _ in range(2)]
    handed: list[int] = []

    async def handler(_session, events: list[OutboxEvent]) -> None:
        handed.extend(e.data["n"] for e in events)

    sequencer.on_sequenced(handler)
    try:
        makers = [create_sessionmaker(engine) for engine in engines]
        for _ in range(6):
            await asyncio.gather(*(sequencer.sequence(maker, limit=7) for maker in makers))
    finally:
        sequencer._handlers.remove(handler)
        for engine in engines:
            await engine.dispose()
    rows = await _rows(app)
    assert sorted(handed) == list(range(40))  # each handed on once
    seqs = [e.seq for e in rows]
    assert None not in seqs and len(set(seqs)) == 40
