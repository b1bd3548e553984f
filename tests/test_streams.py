"""Live streams (SSE): `GET /api/v1/me/events` and `GET /api/v1/pitch/{product_key}/events`.

Driven through the whole ASGI app (tests/sse.py: httpx's ASGITransport waits for a response
to end, and a stream does not). Events are emitted by real use cases, numbered by the real
sequencer and announced to the hub as the embedded sequencer will (`published`), or found by
the hub's poll, or (PostgreSQL) by LISTEN after another replica's sequencer commits.
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from service.db import create_engine, create_sessionmaker, use_case, utcnow
from service.events import repository as events_repository
from service.events import sequencer
from service.events.catalogue import EventType
from service.events.hub import EventHub, hub_for
from service.events.models import OutboxEvent
from service.events.service import emit
from service.listener import ChangeListener, asyncpg_dsn
from service.streams.relevance import PersonContext, relevant
from tests.campaigns.helpers import make_campaign
from tests.conftest import BACKEND
from tests.factories import bearer, make_brief, make_department, make_person, make_product, token_for
from tests.live import running_server
from tests.sse import Stream

postgres_only = pytest.mark.skipif(BACKEND != "postgres", reason="LISTEN/NOTIFY is PostgreSQL's")


@pytest.fixture
async def hub(app) -> AsyncIterator[EventHub]:
    """A hub of this test's own: each test's database starts its `seq` afresh."""
    fresh = app.state.event_hub = EventHub(app.state.sessionmaker, poll_seconds=30, listening_poll_seconds=30)
    yield fresh
    await fresh.aclose()
    app.state.event_hub = None


@pytest.fixture
def fast_settings(app):
    """Changes to the app's settings for one test (streams read them at connect)."""
    original = app.state.settings

    def use(**changes: Any) -> None:
        app.state.settings = original.model_copy(update=changes)

    yield use
    app.state.settings = original


async def deliver(app, hub: EventHub) -> int:
    """What the embedded sequencer does: number the committed events, tell the hub."""
    newest = await sequencer.sequence(app.state.sessionmaker)
    if newest:
        hub.published(newest)
    return newest


async def emit_one(
    app, event_type: EventType, data: dict[str, Any], *, product_key: str | None = None
) -> None:
    async with app.state.sessionmaker() as session, use_case(session):
        emit(session, event_type, data, product_key=product_key)


async def pitch_changed(app, product_key: str, n: int = 1) -> None:
    await emit_one(
        app,
        EventType.PITCH_CHANGED,
        {"product_key": product_key, "locale": "ja", "change": "updated", "revision": n},
        product_key=product_key,
    )


async def settled(condition: Callable[[], bool]) -> None:
    """Returns once `condition` holds (streams run as tasks of their own), failing after 5 s."""
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - a counter, not an event we could wait on
            await asyncio.sleep(0.01)


def pitch_stream(product_key: str) -> str:
    return f"/api/v1/pitch/{product_key}/events"


async def first_frame_is_retry(stream: Stream) -> str:
    """The first frame: the reconnection delay and where the stream starts; returns the id."""
    frame = await stream.next_frame()
    assert frame.retry is not None and int(frame.retry) > 0
    assert frame.id is not None and frame.event is None and frame.data is None
    return frame.id


# --- the pitch stream ------------------------------------------------------------------------------


async def test_a_crm_sees_a_pitch_change_live_and_only_its_products(app, client, callers, hub):
    author = await make_person(app, role="editor")
    ours = await make_brief(app, author, (await make_product(app)).key, status="published")
    other = await make_product(app)
    await deliver(app, hub)  # the publish itself happened before we connected: not replayed

    async with Stream(app, pitch_stream(ours.product_key), callers.headers("svc_pitch")) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-store"
        assert stream.headers["x-accel-buffering"] == "no"
        assert stream.headers["x-request-id"]  # through the Edge like every response
        await first_frame_is_retry(stream)

        await pitch_changed(app, other.key)  # another product: not this stream's
        archived = await client.post(
            f"/api/v1/briefs/{ours.id}/archive", headers=bearer(token_for(app, author))
        )
        assert archived.status_code == 200, archived.text
        newest = await deliver(app, hub)

        frame = await stream.next_event()
        assert frame.event == "pitch.changed"
        assert frame.id == str(newest)
        envelope = httpx.Response(200, content=frame.data).json()
        assert set(envelope) == {"id", "type", "version", "timestamp", "data"}
        assert envelope["type"] == "pitch.changed"
        assert envelope["data"]["product_key"] == ours.product_key
        assert envelope["data"]["change"] == "withdrawn"
        assert await stream.nothing_within(0.3)


async def test_resuming_with_last_event_id_has_no_gap_and_no_duplicate(app, callers, hub):
    product = await make_product(app)
    headers = callers.headers("svc_pitch")
    await pitch_changed(app, product.key, 1)
    await deliver(app, hub)

    async with Stream(app, pitch_stream(product.key), headers) as stream:  # starts at "now"
        for n in (2, 3):
            await pitch_changed(app, product.key, n)
        await deliver(app, hub)
        second = await stream.next_event()
        assert httpx.Response(200, content=second.data).json()["data"]["revision"] == 2
    # The client went away after revision 2; revision 4 commits meanwhile.
    await pitch_changed(app, product.key, 4)
    await deliver(app, hub)

    async with Stream(app, pitch_stream(product.key), {**headers, "Last-Event-ID": second.id or ""}) as again:
        revisions = []
        for _ in range(2):
            frame = await again.next_event()
            revisions.append(
                (int(frame.id or 0), httpx.Response(200, content=frame.data).json()["data"]["revision"])
            )
        assert [r for _, r in revisions] == [3, 4]
        assert revisions[0][0] > int(second.id or 0) and revisions[1][0] > revisions[0][0]
        assert await again.nothing_within(0.3)


@pytest.mark.parametrize(
    ("last_event_id", "reason"),
    [("not-a-number", "unparseable"), ("-3", "unparseable"), ("99999999", "unknown")],
)
async def test_an_id_that_cannot_be_resumed_gets_reset_then_the_stream_goes_on(
    app, callers, hub, last_event_id, reason
):
    product = await make_product(app)
    await pitch_changed(app, product.key)
    newest = await deliver(app, hub)
    headers = {**callers.headers("svc_pitch"), "Last-Event-ID": last_event_id}
    async with Stream(app, pitch_stream(product.key), headers) as stream:
        reset = await stream.next_event()
        assert reset.event == "reset" and reset.id == str(newest)
        assert httpx.Response(200, content=reset.data).json() == {"reason": reason}
        await pitch_changed(app, product.key, 2)
        await deliver(app, hub)
        assert (await stream.next_event()).event == "pitch.changed"


async def test_an_id_older_than_the_oldest_kept_event_gets_reset(app, callers, hub):
    product = await make_product(app)
    for n in range(3):
        await pitch_changed(app, product.key, n)
    newest = await deliver(app, hub)
    # The worker prunes what is past retention; the newest event always stays (seq goes on from it).
    async with app.state.sessionmaker() as session, use_case(session):
        pruned = await events_repository.prune_before(session, utcnow() + timedelta(hours=1))
    assert pruned >= 2  # the callers' onboarding too
    async with app.state.sessionmaker() as session:
        assert await events_repository.oldest_seq(session) == newest

    headers = {**callers.headers("svc_pitch"), "Last-Event-ID": str(newest - 2)}  # what came after was pruned
    async with Stream(app, pitch_stream(product.key), headers) as stream:
        reset = await stream.next_event()
        assert reset.event == "reset" and reset.id == str(newest)
        assert httpx.Response(200, content=reset.data).json() == {"reason": "expired"}
    # One just below the oldest kept lost nothing: resumed, no reset.
    headers["Last-Event-ID"] = str(newest - 1)
    async with Stream(app, pitch_stream(product.key), headers) as stream:
        frame = await stream.next_event()
        assert frame.event == "pitch.changed" and frame.id == str(newest)


async def test_heartbeats_arrive_and_carry_the_cursor_past_skipped_events(app, callers, hub, fast_settings):
    fast_settings(sse_heartbeat_seconds=0.2)
    ours, other = await make_product(app), await make_product(app)
    async with Stream(app, pitch_stream(ours.key), callers.headers("svc_pitch")) as stream:
        await first_frame_is_retry(stream)
        beat = await stream.next_frame(2)
        assert beat.comments == ["keep-alive"] and beat.id is None and beat.event is None
        await pitch_changed(app, other.key)
        skipped = await deliver(app, hub)
        # Nothing for this stream, but a reconnection need not look at that event again.
        beat = await stream.next_frame(2)
        assert beat.comments == ["keep-alive"] and beat.id == str(skipped) and beat.data is None


async def test_a_stream_ends_after_its_maximum_time(app, callers, hub, fast_settings):
    fast_settings(sse_max_stream_seconds=0.3)
    product = await make_product(app)
    async with Stream(app, pitch_stream(product.key), callers.headers("svc_pitch")) as stream:
        await first_frame_is_retry(stream)
        with pytest.raises(EOFError):
            await stream.next_frame(3)


async def test_who_may_open_the_pitch_stream(app, callers, hub):
    product = await make_product(app)
    for caller, status in [
        ("anonymous", 401),
        ("svc_people", 403),  # no pitch:read
        ("svc_pitch", 200),
        ("employee", 200),  # every person reads the pitch
    ]:
        async with Stream(app, pitch_stream(product.key), callers.headers(caller)) as stream:
            assert stream.status == status, caller
            if status != 200:
                body = httpx.Response(status, content=(await stream.text()).encode()).json()
                assert body["status"] == status
    async with Stream(app, pitch_stream("no-such-product"), callers.headers("svc_pitch")) as stream:
        assert stream.status == 404
    async with Stream(app, pitch_stream("no-such-product"), callers.headers("svc_people")) as stream:
        assert stream.status == 403  # refused before anything is looked up, as the pitch read


async def test_a_token_in_the_query_string_is_not_accepted(app, callers, hub):
    product = await make_product(app)
    token = callers.tokens["svc_pitch"]
    person = callers.tokens["employee"]
    for url in (
        f"{pitch_stream(product.key)}?access_token={token}",
        f"/api/v1/me/events?access_token={person}",
    ):
        async with Stream(app, url) as stream:
            assert stream.status == 422  # an undeclared parameter, never read as credentials
            assert "access_token" in await stream.text()
        async with Stream(app, url.replace("access_token", "token")) as stream:
            assert stream.status == 422
    # With a valid header the query token is still refused, not ignored.
    url = f"{pitch_stream(product.key)}?access_token={token}"
    async with Stream(app, url, callers.headers("svc_pitch")) as stream:
        assert stream.status == 422


# --- the person's stream -----------------------------------------------------------------------------


async def test_a_person_sees_their_events_and_nothing_about_others_or_other_products(app, callers, hub):
    sales, support = await make_department(app), await make_department(app)
    me = await make_person(app, department_key=sales.key)
    someone = await make_person(app, department_key=support.key)
    campaign = await make_campaign(app, departments=[sales.key])  # mine, not theirs
    theirs = await make_campaign(app, departments=[support.key])
    mine_key = campaign.product_key
    outside = (await make_product(app)).key
    await deliver(app, hub)

    def step_due(person_id: uuid.UUID, campaign_id: uuid.UUID) -> dict[str, Any]:
        return {"campaign_id": campaign_id, "step_id": "kickoff", "person_id": person_id, "due_at": utcnow()}

    async with (
        Stream(app, "/api/v1/me/events", bearer(token_for(app, me))) as mine,
        Stream(app, "/api/v1/me/events", bearer(token_for(app, someone))) as other,
    ):
        assert mine.status == other.status == 200
        await emit_one(app, EventType.CAMPAIGN_STEP_DUE, step_due(someone.id, theirs.id))  # refused
        await emit_one(app, EventType.CAMPAIGN_STEP_DUE, step_due(me.id, campaign.id))  # seen
        await pitch_changed(app, outside)  # refused: not a product of my campaigns
        await pitch_changed(app, theirs.product_key)  # refused: someone else's campaign
        await pitch_changed(app, mine_key)  # seen
        message = {"message_id": uuid.uuid4(), "kind": "key_message", "product_key": mine_key}
        await emit_one(
            app, EventType.MESSAGE_PUBLISHED, {**message, "audiences": [support.key]}, product_key=mine_key
        )  # refused: for another department
        await emit_one(
            app, EventType.MESSAGE_PUBLISHED, {**message, "audiences": ["all"]}, product_key=mine_key
        )
        await emit_one(app, EventType.PERSON_LEFT, {"person_id": me.id})  # not a feed event
        await deliver(app, hub)

        seen = []
        for _ in range(3):
            frame = await mine.next_event()
            seen.append((frame.event, httpx.Response(200, content=frame.data).json()["data"]))
        assert [event for event, _ in seen] == ["campaign.step_due", "pitch.changed", "message.published"]
        assert seen[0][1]["person_id"] == str(me.id)
        assert seen[1][1]["product_key"] == mine_key
        assert seen[2][1]["audiences"] == ["all"]
        assert await mine.nothing_within(0.3)

        frame = await other.next_event()
        assert frame.event == "campaign.step_due"
        assert httpx.Response(200, content=frame.data).json()["data"]["person_id"] == str(someone.id)
        # Their campaign's product changed: that is theirs to see (and only that).
        frame = await other.next_event()
        assert httpx.Response(200, content=frame.data).json()["data"]["product_key"] == theirs.product_key
        assert await other.nothing_within(0.3)


async def test_a_campaign_that_starts_while_connected_brings_its_product(app, client, callers, hub):
    department = await make_department(app)
    me = await make_person(app, department_key=department.key)
    planned = await make_campaign(app, departments=[department.key], status="planned")
    await deliver(app, hub)
    async with Stream(app, "/api/v1/me/events", bearer(token_for(app, me))) as stream:
        activated = await client.post(
            f"/api/v1/campaigns/{planned.id}/activate", headers=callers.headers("admin")
        )
        assert activated.status_code == 200, activated.text
        await pitch_changed(app, planned.product_key)
        await deliver(app, hub)
        assert (await stream.next_event()).event == "campaign.activated"
        assert (await stream.next_event()).event == "pitch.changed"


async def test_service_accounts_have_no_person_stream(app, callers, hub):
    for caller, status in [("anonymous", 401), ("svc_pitch", 403), ("svc_people", 403), ("manager", 200)]:
        async with Stream(app, "/api/v1/me/events", callers.headers(caller)) as stream:
            assert stream.status == status, caller


def test_relevance_refuses_what_is_not_the_persons():
    me, other = uuid.uuid4(), uuid.uuid4()
    campaign = uuid.uuid4()
    ctx = PersonContext(
        person_id=me,
        department_key="sales",
        campaign_ids=frozenset({campaign}),
        product_keys=frozenset({"ledger-sync"}),
        filed_feedback_ids=frozenset(),
    )
    personal = [
        EventType.CAMPAIGN_STEP_DUE,
        EventType.CAMPAIGN_PERSON_OVERDUE,
        EventType.ACKNOWLEDGEMENT_RECORDED,
        EventType.CAMPAIGN_STEP_ATTENDED,
        EventType.CHECK_SUBMITTED,
        EventType.CHECK_GRADED,
        EventType.CHECK_WAITING,
    ]
    for event_type in personal:
        assert not relevant(event_type, {"person_id": str(other), "campaign_id": str(campaign)}, None, ctx)
        assert not relevant(event_type, {"campaign_id": str(campaign)}, None, ctx)  # no person: not theirs
        assert not relevant(event_type, {"person_id": "not-a-uuid"}, None, ctx)
        assert relevant(event_type, {"person_id": str(me)}, None, ctx)
    assert not relevant(EventType.PITCH_CHANGED, {"product_key": "other"}, "other", ctx)
    assert not relevant(EventType.PITCH_CHANGED, {}, None, ctx)
    assert not relevant(EventType.BRIEF_PUBLISHED, {"product_key": "other"}, "other", ctx)
    assert not relevant(
        EventType.MESSAGE_PUBLISHED,
        {"audiences": ["support"], "product_key": "ledger-sync"},
        "ledger-sync",
        ctx,
    )
    assert not relevant(EventType.MESSAGE_PUBLISHED, {"audiences": ["all"], "product_key": "x"}, "x", ctx)
    assert relevant(EventType.MESSAGE_PUBLISHED, {"audiences": ["sales"]}, "ledger-sync", ctx)
    assert not relevant(EventType.CAMPAIGN_ACTIVATED, {"campaign_id": str(uuid.uuid4())}, "ledger-sync", ctx)
    assert not relevant(
        EventType.FEEDBACK_TRANSITIONED, {"feedback_id": str(uuid.uuid4())}, "ledger-sync", ctx
    )
    for event_type in (EventType.BRIEF_SUBMITTED, EventType.PERSON_LEFT, EventType.FEEDBACK_INGESTED):
        assert not relevant(
            event_type, {"person_id": str(me), "product_key": "ledger-sync"}, "ledger-sync", ctx
        )


# --- the hub -------------------------------------------------------------------------------------------


async def test_many_streams_hold_no_queue_each(app, callers, hub):
    """The hub keeps one number and one wake-up for every stream: nothing per client, nothing
    per event. Streams that never read cost their own socket buffer, not the process."""
    product = await make_product(app)
    headers = callers.headers("svc_pitch")
    streams = [Stream(app, pitch_stream(product.key), headers) for _ in range(25)]
    for stream in streams:
        await stream.__aenter__()
    try:
        await settled(lambda: hub.waiting == len(streams))
        shape = {name: type(value) for name, value in vars(hub).items()}
        for n in range(60):
            await pitch_changed(app, product.key, n)
        await deliver(app, hub)
        assert {name: type(value) for name, value in vars(hub).items()} == shape
        containers = (list, dict, set, frozenset, tuple, collections.deque, asyncio.Queue)
        assert not [name for name, value in vars(hub).items() if isinstance(value, containers)]
        last = await streams[0].next_event()
        assert last.event == "pitch.changed"
    finally:
        for stream in streams:
            await stream.close()
    await settled(lambda: hub.waiting == 0)  # every stream let go of its wait on disconnect


async def test_closing_the_hub_ends_every_stream(app, callers, hub):
    product = await make_product(app)
    async with (
        Stream(app, pitch_stream(product.key), callers.headers("svc_pitch")) as one,
        Stream(app, "/api/v1/me/events", callers.headers("employee")) as two,
    ):
        await first_frame_is_retry(one)
        await first_frame_is_retry(two)
        hub.close()  # what the lifespan (or the server's exit signal) does
        for stream in (one, two):
            with pytest.raises(EOFError):
                await stream.next_frame(2)


async def test_without_published_the_poll_finds_new_events(app, callers, hub):
    hub.poll_seconds = 0.1
    product = await make_product(app)
    async with Stream(app, pitch_stream(product.key), callers.headers("svc_pitch")) as stream:
        await pitch_changed(app, product.key)
        await sequencer.sequence(app.state.sessionmaker)  # no one tells the hub
        assert (await stream.next_event(3)).event == "pitch.changed"


async def test_the_hub_is_made_once_per_app(app):
    app.state.event_hub = None
    try:
        assert hub_for(app) is hub_for(app)
    finally:
        await app.state.event_hub.aclose()
        app.state.event_hub = None


async def test_a_real_server_streams_without_buffering(settings):
    """uvicorn, a socket and httpx: frames arrive as they are sent (the poll finds the event)."""
    product_key = f"p-{uuid.uuid4().hex[:8]}"
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            admin = await make_admin_token(http, settings)
            created = await http.post(
                "/api/v1/products", json={"key": product_key, "name": "製品"}, headers=admin
            )
            assert created.status_code == 201, created.text
            async with http.stream("GET", pitch_stream(product_key), headers=admin) as response:
                assert response.status_code == 200
                lines = response.aiter_lines()
                assert (await anext(lines)).startswith("retry: ")
                engine = create_engine(settings)
                try:
                    maker = create_sessionmaker(engine)
                    async with maker() as session, use_case(session):
                        emit(
                            session,
                            EventType.PITCH_CHANGED,
                            {"product_key": product_key},
                            product_key=product_key,
                        )
                    await sequencer.sequence(maker)
                finally:
                    await engine.dispose()
                async with asyncio.timeout(8):
                    async for line in lines:
                        if line.startswith("event: "):
                            assert line == "event: pitch.changed"
                            break


async def make_admin_token(http: httpx.AsyncClient, settings) -> dict[str, str]:
    from service.auth.tokens import TokenService
    from service.people import service as people_service
    from service.people.schemas import PersonCreate
    from tests.factories import OPERATOR

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            person = await people_service.create_person(
                session,
                OPERATOR,
                PersonCreate(
                    email=f"{uuid.uuid4().hex[:8]}@example.com", display_name="管理 者", role="admin"
                ),
            )
    finally:
        await engine.dispose()
    token, _ = TokenService(settings).mint({"sub": str(person.id), "email": person.email, "role": "admin"})
    return bearer(token)


@postgres_only
async def test_another_replicas_commit_wakes_the_stream_through_listen(app, settings, callers, hub):
    """The hub polls rarely while it listens: the event arrives by NOTIFY, not by the poll."""
    listener = ChangeListener(asyncpg_dsn(app.state.engine.url))
    listener.subscribe(sequencer.CHANNEL, hub)
    listener.start()
    replica = create_engine(settings)
    try:
        await asyncio.wait_for(listener.connected.wait(), 10)
        assert hub.listening
        product = await make_product(app)
        async with Stream(app, pitch_stream(product.key), callers.headers("svc_pitch")) as stream:
            await first_frame_is_retry(stream)
            maker = create_sessionmaker(replica)
            async with maker() as session, use_case(session):
                emit(session, EventType.PITCH_CHANGED, {"product_key": product.key}, product_key=product.key)
            newest = await sequencer.sequence(maker)  # sends pg_notify in its transaction
            frame = await stream.next_event(3)
            assert frame.event == "pitch.changed" and frame.id == str(newest)
            assert hub.newest == newest
    finally:
        await listener.stop()
        await replica.dispose()
    assert not hub.listening


async def test_rows_seen_by_a_stream_are_sequenced_only(app, hub):
    """An event not yet numbered (its transaction committed, the sequencer not yet run) is not
    read: streams follow `seq`, so a late commit cannot be skipped."""
    product = await make_product(app)
    await pitch_changed(app, product.key)
    async with app.state.sessionmaker() as session:
        rows = await events_repository.events_after(session, 0, upto=10**9, limit=10)
        assert rows == []
        count = await session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent))
        assert count == 1


async def test_a_backlog_larger_than_a_batch_arrives_whole_and_in_order(app, callers, hub, monkeypatch):
    from service.streams import service as streams_service

    monkeypatch.setattr(streams_service, "BATCH", 3)
    product, other = await make_product(app), await make_product(app)
    headers = callers.headers("svc_pitch")
    async with Stream(app, pitch_stream(product.key), headers) as stream:
        await first_frame_is_retry(stream)
        start = await deliver(app, hub)
    for n in range(8):
        await pitch_changed(app, product.key, n)
        await pitch_changed(app, other.key, n)  # interleaved, filtered out in SQL
    await deliver(app, hub)
    async with Stream(
        app, pitch_stream(product.key), {**headers, "Last-Event-ID": str(start or 0)}
    ) as stream:
        got = []
        for _ in range(8):
            frame = await stream.next_event()
            got.append(httpx.Response(200, content=frame.data).json()["data"]["revision"])
        assert got == list(range(8))
        assert await stream.nothing_within(0.3)


async def test_a_client_that_reconnects_before_any_event_misses_nothing(app, callers, hub, fast_settings):
    """The first frame's id is where "now" was: events committed while the client was away
    (the stream ended, the network dropped) are sent on reconnection, the stream's last
    frame moving the id past what it skipped."""
    fast_settings(sse_max_stream_seconds=0.3)
    product, other = await make_product(app), await make_product(app)
    headers = callers.headers("svc_pitch")
    async with Stream(app, pitch_stream(product.key), headers) as stream:
        started = await first_frame_is_retry(stream)
        await pitch_changed(app, other.key)
        skipped = await deliver(app, hub)
        last = await stream.next_frame(3)
        assert last.id == str(skipped) and last.data is None
        with pytest.raises(EOFError):
            await stream.next_frame(3)  # ended after its maximum time
    assert int(started) < skipped
    await pitch_changed(app, product.key, 7)  # while away, and no hub told
    await sequencer.sequence(app.state.sessionmaker)
    fast_settings(sse_max_stream_seconds=30)
    async with Stream(app, pitch_stream(product.key), {**headers, "Last-Event-ID": started}) as again:
        frame = await again.next_event()
        assert httpx.Response(200, content=frame.data).json()["data"]["revision"] == 7


async def test_a_servers_exit_signal_ends_open_streams_at_once(settings):
    """uvicorn drains open responses before the lifespan's shutdown: a stream would hold the
    exit for the whole grace period. `close_all()` at the exit signal ends it at once."""
    import threading
    import time

    import uvicorn

    from service.events.hub import close_all
    from service.main import create_app
    from tests.live import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=30,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    async with asyncio.timeout(20):
        while not server.started:  # noqa: ASYNC110 - uvicorn's flag, in another thread
            await asyncio.sleep(0.05)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        headers = await make_admin_token(http, settings)
        async with http.stream("GET", "/api/v1/me/events", headers=headers) as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith("retry: ")
            server.should_exit = True  # what SIGTERM does
            await asyncio.sleep(1)
            assert thread.is_alive()  # draining: waiting for the stream to end
            started = time.monotonic()
            close_all()  # what `cuecard serve` does on the exit signal
            async with asyncio.timeout(5):
                async for _line in lines:
                    pass  # the server ends the stream: the client sees its end
    await asyncio.to_thread(thread.join, 10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5


async def test_cuecard_serve_ends_open_streams_at_sigterm_instead_of_waiting_out_the_grace(
    app, callers, cli_env
):
    """The real command: its exit signal reaches the streams (the lifespan chains uvicorn's
    handler), so a deploy is not held for CUECARD_SHUTDOWN_GRACE_SECONDS by one open stream."""
    import signal
    import time

    from tests.live import free_port
    from tests.test_cli import CUECARD

    port = free_port()
    env = {**cli_env, "CUECARD_SHUTDOWN_GRACE_SECONDS": "30", "CUECARD_EMBEDDED_WORKER": "false"}
    process = await asyncio.create_subprocess_exec(
        CUECARD,
        "serve",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            async with asyncio.timeout(30):
                while True:
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            async with http.stream(
                "GET", "/api/v1/me/events", headers=callers.headers("employee")
            ) as response:
                assert response.status_code == 200
                lines = response.aiter_lines()
                assert (await anext(lines)).startswith("retry: ")
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(10):
                    async for _line in lines:
                        pass  # the server ends the stream
        _out, err = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()[-2000:]
    assert time.monotonic() - started < 10  # not the 30 s grace
