"""Webhook delivery end to end: events reach a real HTTP receiver on loopback, signed so the
public `standardwebhooks` library verifies them, retried with backoff, in order per product,
given up, disabled on 410, paused when failing, cancelled when the subscriber lost the right,
sent again by hand, and never sent twice by two workers at once.

Only 127.0.0.1 is ever connected to: the receiver below. The private-range test proves the
guard refuses 10.0.0.1 before any connection is made.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
import standardwebhooks

from service.clients import service as clients_service
from service.clients.schemas import ClientUpdate
from service.config import Settings
from service.db import create_engine, create_sessionmaker, use_case, utcnow
from service.events import sequencer
from service.events.catalogue import EventType
from service.events.service import emit
from service.webhooks import delivery as webhook_delivery
from service.webhooks.models import Webhook, WebhookDelivery
from tests.conftest import BACKEND
from tests.factories import (
    OPERATOR,
    bearer,
    make_brief,
    make_client,
    make_person,
    make_product,
    token_for,
)

BASE = "/api/v1/webhooks"
postgres_only = pytest.mark.skipif(BACKEND != "postgres", reason="two engines need PostgreSQL row locks")


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1: records every request, answers as scripted."""

    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    # Per path: statuses to answer with, in turn; then 200 (or `otherwise`).
    script: dict[str, list[int]] = field(default_factory=dict)
    otherwise: dict[str, int] = field(default_factory=dict)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            first, *lines = head.split("\r\n")
            _method, path, _version = first.split(" ")
            headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.hits.append(Hit(path, headers, body))
            turns = self.script.get(path)
            status = turns.pop(0) if turns else self.otherwise.get(path, 200)
            answer = b"ok" if status < 300 else b"receiver says no"
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-length: {len(answer)}\r\nconnection: close\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        finally:
            writer.close()

    def hits_to(self, path: str = "/hook") -> list[Hit]:
        return [h for h in self.hits if h.path == path]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    server = await asyncio.start_server(got.handle, "127.0.0.1", 0)
    got.port = server.sockets[0].getsockname()[1]
    try:
        yield got
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def delivery_settings(app, monkeypatch) -> Settings:
    """Loopback allowed (for registering and sending); retries far enough apart to be tested."""
    monkeypatch.setattr(app.state.settings, "webhook_allow_hosts", frozenset({"127.0.0.1"}))
    return app.state.settings.model_copy(
        update={
            "webhook_allow_hosts": frozenset({"127.0.0.1"}),
            "webhook_retry_base_seconds": 60.0,
            "webhook_pause_after_failures": 1000,
        }
    )


@pytest.fixture
async def admin(app) -> dict[str, str]:
    return bearer(token_for(app, await make_person(app, role="admin")))


async def register(client, headers, url: str, events=("pitch.changed",), product_keys=None) -> dict:
    body: dict = {"url": url, "events": list(events)}
    if product_keys is not None:
        body["product_keys"] = product_keys
    response = await client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def emit_now(app, event_type: EventType, data: dict, product_key: str | None = None) -> None:
    async with app.state.sessionmaker() as session, use_case(session):
        emit(session, event_type, data, product_key=product_key)


async def pitch_changed(app, product_key: str, n: int = 0) -> None:
    await emit_now(app, EventType.PITCH_CHANGED, {"n": n, "product_key": product_key}, product_key)


async def deliveries(client, headers, webhook_id: str) -> list[dict]:
    response = await client.get(f"{BASE}/{webhook_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def run(app, settings: Settings, *, now: datetime | None = None) -> int:
    await sequencer.sequence(app.state.sessionmaker)
    return await webhook_delivery.deliver_due(app.state.sessionmaker, settings, now=now)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_an_approved_brief_reaches_the_receiver_signed_as_standard_webhooks(
    app, client, callers, receiver, delivery_settings, admin
):
    product = await make_product(app, name="請求書 クラデスク")
    other = await make_product(app)
    hook = await register(client, admin, receiver.url(), product_keys=[product.key])
    elsewhere = await register(client, admin, receiver.url("/other"), product_keys=[other.key])
    author = await make_person(app, role="editor")
    brief = await make_brief(app, author, product.key, status="in_review")
    approved = await client.post(f"/api/v1/briefs/{brief.id}/approve", headers=callers.headers("manager"))
    assert approved.status_code == 200, approved.text

    assert await run(app, delivery_settings) == 1
    [hit] = receiver.hits
    assert hit.path == "/hook" and hit.headers["content-type"] == "application/json"
    # The public library verifies what we sent with the secret shown at registration.
    verified = standardwebhooks.Webhook(hook["secret"]).verify(hit.body, hit.headers)
    assert verified["type"] == "pitch.changed" and verified["data"]["brief_id"] == str(brief.id)
    assert hit.headers["webhook-id"] == verified["id"]
    assert set(verified) == {"id", "type", "version", "timestamp", "data"}
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(elsewhere["secret"]).verify(hit.body, hit.headers)

    [delivered] = await deliveries(client, admin, hook["id"])
    assert delivered["status"] == "delivered" and delivered["event_id"] == verified["id"]
    assert delivered["event_type"] == "pitch.changed" and delivered["product_key"] == product.key
    assert (delivered["attempt"], delivered["status_code"], delivered["error"]) == (1, 200, None)
    assert delivered["next_attempt_at"] is None and delivered["latency_ms"] >= 0
    [attempt] = delivered["attempts"]
    assert (attempt["attempt"], attempt["outcome"], attempt["status_code"]) == (1, "delivered", 200)
    assert await deliveries(client, admin, elsewhere["id"]) == []  # not its product

    one = await client.get(f"{BASE}/{hook['id']}/deliveries/{delivered['id']}", headers=admin)
    assert one.status_code == 200 and one.json() == delivered
    cached = await client.get(
        f"{BASE}/{hook['id']}/deliveries/{delivered['id']}",
        headers={**admin, "If-None-Match": one.headers["etag"]},
    )
    assert cached.status_code == 304
    # Nothing more is due: nothing is sent again.
    assert await run(app, delivery_settings) == 0 and len(receiver.hits) == 1


async def test_a_500_is_retried_later_with_the_same_id_and_body_then_delivered_once(
    app, client, receiver, delivery_settings, admin
):
    product = await make_product(app)
    hook = await register(client, admin, receiver.url())
    receiver.script["/hook"] = [500]
    await pitch_changed(app, product.key)

    assert await run(app, delivery_settings) == 1
    [waiting] = await deliveries(client, admin, hook["id"])
    assert waiting["status"] == "pending" and waiting["status_code"] == 500
    assert waiting["error"].startswith("HTTP 500") and waiting["attempts"][0]["outcome"] == "http_error"
    due = at(waiting["next_attempt_at"])
    assert due == at(waiting["attempts"][0]["next_attempt_at"])
    # Full jitter: somewhere between now and base * 2^0.
    assert due <= at(waiting["at"]) + timedelta(seconds=60)
    # Not before it is due.
    assert await run(app, delivery_settings, now=due - timedelta(milliseconds=1)) == 0
    assert await run(app, delivery_settings, now=due + timedelta(seconds=1)) == 1
    assert await run(app, delivery_settings, now=due + timedelta(hours=2)) == 0

    first, second = receiver.hits
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
    [done] = await deliveries(client, admin, hook["id"])
    assert done["status"] == "delivered" and done["attempt"] == 2
    assert [a["outcome"] for a in done["attempts"]] == ["http_error", "delivered"]
    assert [a["status_code"] for a in done["attempts"]] == [500, 200]
    assert done["attempts"][1]["next_attempt_at"] is None


async def test_a_410_disables_the_webhook_with_a_reason_until_it_is_resumed(
    app, client, receiver, delivery_settings, admin
):
    product = await make_product(app)
    hook = await register(client, admin, receiver.url())
    receiver.script["/hook"] = [410]
    await pitch_changed(app, product.key, 1)
    assert await run(app, delivery_settings) == 1

    [gone] = await deliveries(client, admin, hook["id"])
    assert gone["status"] == "failed" and "410" in gone["reason"]
    assert gone["attempts"][0]["outcome"] == "gone"
    got = (await client.get(f"{BASE}/{hook['id']}", headers=admin)).json()
    assert got["active"] is False and "410 Gone" in got["paused_reason"]
    # While disabled, new events are not queued for it, and nothing is sent.
    await pitch_changed(app, product.key, 2)
    assert await run(app, delivery_settings) == 0
    assert len(await deliveries(client, admin, hook["id"])) == 1
    # Tests and redeliveries wait for it to be resumed.
    assert (await client.post(f"{BASE}/{hook['id']}/test", headers=admin)).status_code == 409

    resumed = await client.patch(f"{BASE}/{hook['id']}", json={"active": True}, headers=admin)
    assert resumed.status_code == 200 and resumed.json()["paused_reason"] is None
    await pitch_changed(app, product.key, 3)
    assert await run(app, delivery_settings) == 1
    assert receiver.hits[-1].event["data"]["n"] == 3


async def test_an_endpoint_failing_again_and_again_is_paused_and_its_deliveries_wait(
    app, client, receiver, delivery_settings, admin
):
    settings = delivery_settings.model_copy(
        update={"webhook_pause_after_failures": 3, "webhook_pause_after_hours": 1.0}
    )
    product = await make_product(app)
    hook = await register(client, admin, receiver.url())
    receiver.otherwise["/hook"] = 503
    await pitch_changed(app, product.key)
    start = utcnow() + timedelta(seconds=1)  # after the deliveries are created
    for hours in (0, 1, 2):  # three failures, spread over two hours
        assert await run(app, settings, now=start + timedelta(hours=hours)) == 1
    got = (await client.get(f"{BASE}/{hook['id']}", headers=admin)).json()
    assert got["active"] is False
    assert got["paused_reason"].startswith("paused: the newest 3 attempts failed")
    assert "HTTP 503" in got["paused_reason"]
    [waiting] = await deliveries(client, admin, hook["id"])
    assert waiting["status"] == "pending" and waiting["attempt"] == 3
    assert await run(app, settings, now=start + timedelta(hours=3)) == 0  # paused: not sent

    receiver.otherwise["/hook"] = 200
    resumed = await client.patch(f"{BASE}/{hook['id']}", json={"active": True}, headers=admin)
    assert resumed.json()["active"] is True and resumed.json()["paused_reason"] is None
    assert await run(app, settings, now=start + timedelta(hours=3)) == 1
    [done] = await deliveries(client, admin, hook["id"])
    assert done["status"] == "delivered" and done["attempt"] == 4


async def test_failures_within_the_threshold_time_do_not_pause(
    app, client, receiver, delivery_settings, admin
):
    settings = delivery_settings.model_copy(
        update={"webhook_pause_after_failures": 2, "webhook_pause_after_hours": 5.0}
    )
    product = await make_product(app)
    hook = await register(client, admin, receiver.url())
    receiver.otherwise["/hook"] = 500
    await pitch_changed(app, product.key)
    start = utcnow() + timedelta(seconds=1)  # after the deliveries are created
    for hours in (0, 1, 2):
        await run(app, settings, now=start + timedelta(hours=hours))
    assert (await client.get(f"{BASE}/{hook['id']}", headers=admin)).json()["active"] is True


async def test_after_the_give_up_window_a_delivery_fails_and_redeliver_sends_it_again(
    app, client, receiver, delivery_settings, admin
):
    product = await make_product(app)
    hook = await register(client, admin, receiver.url())
    waiting = await register(client, admin, receiver.url("/paused"))
    receiver.otherwise["/hook"] = 500
    await pitch_changed(app, product.key)
    start = utcnow() + timedelta(seconds=1)  # after the deliveries are created
    assert await run(app, delivery_settings, now=start) == 2  # /hook fails; /paused is delivered
    await client.patch(f"{BASE}/{waiting['id']}", json={"active": False}, headers=admin)
    await pitch_changed(app, product.key, 2)
    assert await run(app, delivery_settings, now=start) == 0  # held behind the first; /paused is off
    [late, first] = await deliveries(client, admin, hook["id"])
    assert first["status"] == "pending" and late["status"] == "pending"

    # Tried once more at the end of the window: the next retry would fall beyond it.
    end = at(first["created_at"]) + timedelta(hours=24) - timedelta(milliseconds=1)
    assert await run(app, delivery_settings, now=end) == 1
    [late, first] = await deliveries(client, admin, hook["id"])
    assert first["status"] == "failed" and first["next_attempt_at"] is None
    assert first["reason"].startswith("gave up after 2 attempts in 24 h; last: HTTP 500")
    assert first["attempts"][-1]["next_attempt_at"] is None
    # The one held back behind it waits the window out, unsent, and is given up too.
    assert await run(app, delivery_settings, now=start + timedelta(hours=25)) == 0
    [late, first] = await deliveries(client, admin, hook["id"])
    assert late["status"] == "failed" and late["attempt"] == 0 and "within 24 h" in late["reason"]

    receiver.otherwise["/hook"] = 200
    again = await client.post(f"{BASE}/{hook['id']}/deliveries/{first['id']}/redeliver", headers=admin)
    assert again.status_code == 202, again.text
    body = again.json()
    assert body["status"] == "pending" and body["redelivery_of"] == first["id"]
    assert body["event_id"] == first["event_id"] and body["attempts"] == []
    assert again.headers["location"] == f"{BASE}/{hook['id']}/deliveries/{body['id']}"
    assert await run(app, delivery_settings) == 1
    sent = receiver.hits_to("/hook")
    assert sent[-1].headers["webhook-id"] == sent[0].headers["webhook-id"] == first["event_id"]
    assert sent[-1].body == sent[0].body
    newest = (await deliveries(client, admin, hook["id"]))[0]
    assert newest["id"] == body["id"] and newest["status"] == "delivered"
    assert [a["outcome"] for a in newest["attempts"]] == ["delivered"]


async def test_a_second_change_of_a_product_waits_while_the_first_is_retried(
    app, client, receiver, delivery_settings, admin
):
    first_product, other_product = await make_product(app), await make_product(app)
    hook = await register(client, admin, receiver.url())
    receiver.script["/hook"] = [500]  # the first request only
    await pitch_changed(app, first_product.key, 1)
    await pitch_changed(app, first_product.key, 2)
    await pitch_changed(app, other_product.key, 3)
    start = utcnow() + timedelta(seconds=1)  # after the deliveries are created
    assert await run(app, delivery_settings, now=start) == 2  # n=1 (fails) and n=3; n=2 waits
    assert [h.event["data"]["n"] for h in receiver.hits] == [1, 3]
    assert await run(app, delivery_settings, now=start + timedelta(seconds=30)) in (0, 1)
    # Whether or not the retry was due yet, n=2 never went before n=1 was delivered.
    while await run(app, delivery_settings, now=start + timedelta(hours=1)):
        pass
    sent = [h.event["data"]["n"] for h in receiver.hits]
    assert sent == [1, 3, 1, 2]
    statuses = {d["status"] for d in await deliveries(client, admin, hook["id"])}
    assert statuses == {"delivered"}


async def test_a_client_that_lost_the_scope_gets_its_deliveries_cancelled_not_sent(
    app, client, receiver, delivery_settings
):
    client_id, secret = await make_client(app, "webhooks:manage", "pitch:read")
    token = (
        await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )
    ).json()["access_token"]
    crm = bearer(token)
    await register(client, crm, receiver.url())
    product = await make_product(app)
    async with app.state.sessionmaker() as session:
        await clients_service.update_client(
            session, OPERATOR, client_id, ClientUpdate(scopes=["webhooks:manage"]), if_match=None
        )
    await pitch_changed(app, product.key)
    assert await run(app, delivery_settings) == 0
    assert receiver.hits == []
    async with app.state.sessionmaker() as session:
        [row] = (await session.execute(sa.select(WebhookDelivery))).scalars().all()
    assert row.status == "cancelled" and row.attempts == 0
    assert row.reason == f"cancelled: the subscriber (client:{client_id}) may no longer read pitch.changed"

    # Scope back, then deactivated: cancelled again, with that reason.
    async with app.state.sessionmaker() as session:
        await clients_service.update_client(
            session,
            OPERATOR,
            client_id,
            ClientUpdate(scopes=["webhooks:manage", "pitch:read"]),
            if_match=None,
        )
    await pitch_changed(app, product.key, 2)
    await sequencer.sequence(app.state.sessionmaker)
    async with app.state.sessionmaker() as session:
        await clients_service.update_client(
            session, OPERATOR, client_id, ClientUpdate(active=False), if_match=None
        )
    assert await run(app, delivery_settings) == 0 and receiver.hits == []
    async with app.state.sessionmaker() as session:
        reasons = {d.reason for d in (await session.execute(sa.select(WebhookDelivery))).scalars()}
    assert f"cancelled: the client that registered this webhook ({client_id}) is deactivated" in reasons


async def test_the_test_endpoint_pings_one_webhook_and_clients_reach_only_their_own(
    app, client, receiver, delivery_settings, admin
):
    crm = bearer(await _client_token(app, client, "webhooks:manage", "pitch:read"))
    other = bearer(await _client_token(app, client, "webhooks:manage", "pitch:read"))
    hook = await register(client, crm, receiver.url())
    response = await client.post(f"{BASE}/{hook['id']}/test", headers=crm)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["event_type"] == "webhook.ping" and queued["status"] == "pending"
    assert response.headers["location"] == f"{BASE}/{hook['id']}/deliveries/{queued['id']}"
    assert (await client.post(f"{BASE}/{hook['id']}/test", headers=other)).status_code == 404
    assert (await client.get(f"{BASE}/{hook['id']}/deliveries", headers=other)).status_code == 404
    assert (
        await client.get(f"{BASE}/{hook['id']}/deliveries/{queued['id']}", headers=other)
    ).status_code == 404
    assert (
        await client.post(f"{BASE}/{hook['id']}/deliveries/{queued['id']}/redeliver", headers=other)
    ).status_code == 404
    # Still pending: redelivering it now would only send it twice.
    assert (
        await client.post(f"{BASE}/{hook['id']}/deliveries/{queued['id']}/redeliver", headers=crm)
    ).status_code == 409

    assert await run(app, delivery_settings) == 1
    [hit] = receiver.hits
    assert hit.event["type"] == "webhook.ping" and hit.event["data"] == {"webhook_id": hook["id"]}
    assert standardwebhooks.Webhook(hook["secret"]).verify(hit.body, hit.headers)["type"] == "webhook.ping"
    # The ping is this webhook's alone: sequencing it fans it out to nobody.
    assert await run(app, delivery_settings) == 0
    again = await client.post(f"{BASE}/{hook['id']}/deliveries/{queued['id']}/redeliver", headers=crm)
    assert again.status_code == 202
    assert await run(app, delivery_settings) == 1
    assert receiver.hits[1].headers["webhook-id"] == hit.headers["webhook-id"]
    listed = await deliveries(client, crm, hook["id"])
    assert [d["id"] for d in listed] == [again.json()["id"], queued["id"]]  # newest first
    assert all(d["status"] == "delivered" and len(d["attempts"]) == 1 for d in listed)
    page = await client.get(f"{BASE}/{hook['id']}/deliveries?limit=1", headers=crm)
    assert [d["id"] for d in page.json()["items"]] == [again.json()["id"]]
    rest = await client.get(
        f"{BASE}/{hook['id']}/deliveries?limit=1&cursor={page.json()['next_cursor']}", headers=crm
    )
    assert [d["id"] for d in rest.json()["items"]] == [queued["id"]] and rest.json()["next_cursor"] is None
    missing = await client.get(f"{BASE}/{hook['id']}/deliveries/{uuid.uuid4()}", headers=crm)
    assert missing.status_code == 404


async def _client_token(app, client, *scopes: str) -> str:
    client_id, secret = await make_client(app, *scopes)
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    return response.json()["access_token"]


async def test_a_lease_that_ran_out_is_claimed_again_and_the_lost_attempt_is_shown(
    app, client, receiver, delivery_settings, admin
):
    product = await make_product(app)
    hook = await register(client, admin, receiver.url())
    await pitch_changed(app, product.key)
    await sequencer.sequence(app.state.sessionmaker)
    start = utcnow() + timedelta(seconds=1)  # after the deliveries are created
    # A worker claims it and dies before sending.
    [claimed] = await webhook_delivery._claim(app.state.sessionmaker, delivery_settings, start, 10)
    assert await run(app, delivery_settings, now=start + timedelta(seconds=60)) == 0  # leased
    later = start + timedelta(seconds=delivery_settings.webhook_delivery_lease_seconds + 1)
    assert await run(app, delivery_settings, now=later) == 1
    [done] = await deliveries(client, admin, hook["id"])
    assert done["status"] == "delivered" and done["attempt"] == 2
    assert [a["outcome"] for a in done["attempts"]] == ["lost", "delivered"]
    assert receiver.hits[0].headers["webhook-id"] == claimed.msg_id


async def test_a_private_address_is_refused_at_delivery_time_without_connecting(app, client, admin):
    product = await make_product(app)
    # Registered while allowed (an operator's allow-list that was since narrowed).
    async with app.state.sessionmaker() as session, use_case(session):
        row = Webhook(
            url="http://10.0.0.1:9/hook",
            events=["pitch.changed"],
            created_by="operator:tests",
            secret="whsec_" + "A" * 44,
        )
        session.add(row)
    await pitch_changed(app, product.key)
    settings = app.state.settings.model_copy(update={"webhook_allow_hosts": frozenset()})
    assert await run(app, settings) == 1
    [refused] = await deliveries(client, admin, str(row.id))
    attempt = refused["attempts"][0]
    assert attempt["outcome"] == "refused" and attempt["status_code"] is None
    assert "10.0.0.1" in attempt["error"] and "private" in attempt["error"]
    assert refused["status"] == "pending"  # retried later (the allow-list may come back)


async def test_fan_out_follows_types_products_and_active_and_never_fans_out_pings(app, client, admin):
    product, other = await make_product(app), await make_product(app)
    wants = await register(client, admin, "https://8.8.8.8/a", product_keys=[product.key])
    every = await register(client, admin, "https://8.8.8.8/b", events=("pitch.changed", "person.left"))
    off = await register(client, admin, "https://8.8.8.8/c")
    await client.patch(f"{BASE}/{off['id']}", json={"active": False}, headers=admin)
    await pitch_changed(app, product.key)
    await pitch_changed(app, other.key)
    await emit_now(app, EventType.PERSON_LEFT, {"person_id": uuid.uuid4()})
    await emit_now(app, EventType.WEBHOOK_PING, {"webhook_id": wants["id"]})
    await sequencer.sequence(app.state.sessionmaker)
    async with app.state.sessionmaker() as session:
        rows = (await session.execute(sa.select(WebhookDelivery))).scalars().all()
    by_hook = Counter((str(r.webhook_id), r.event_type, r.product_key) for r in rows)
    assert by_hook == Counter(
        {
            (wants["id"], "pitch.changed", product.key): 1,
            (every["id"], "pitch.changed", product.key): 1,
            (every["id"], "pitch.changed", other.key): 1,
            (every["id"], "person.left", None): 1,
        }
    )
    seqs = sorted(r.event_seq for r in rows if str(r.webhook_id) == every["id"])
    assert len(set(seqs)) == 3 and None not in seqs

    async with app.state.sessionmaker() as session:
        stats = await webhook_delivery.delivery_stats(session)
    assert stats["pending_deliveries"] == 4 and stats["unsequenced_events"] == 0
    assert stats["outbox_depth"] == 4 and stats["oldest_undelivered_age_seconds"] >= 0


@postgres_only
async def test_two_workers_on_two_engines_never_send_one_attempt_twice(
    app, client, settings, admin, monkeypatch
):
    got = Receiver()
    server = await asyncio.start_server(got.handle, "127.0.0.1", 0)
    got.port = server.sockets[0].getsockname()[1]
    engines = [create_engine(settings) for _ in range(2)]
    try:
        monkeypatch.setattr(app.state.settings, "webhook_allow_hosts", frozenset({"127.0.0.1"}))
        worker_settings = settings.model_copy(update={"webhook_allow_hosts": frozenset({"127.0.0.1"})})
        products = [await make_product(app) for _ in range(4)]
        hooks = [await register(client, admin, got.url(f"/h{i}")) for i in range(3)]
        for n in range(24):
            await pitch_changed(app, products[n % 4].key, n)
        await sequencer.sequence(app.state.sessionmaker)
        makers = [create_sessionmaker(engine, {"settings": worker_settings}) for engine in engines]
        made = 0
        for _ in range(40):
            counts = await asyncio.gather(
                *(webhook_delivery.deliver_due(m, worker_settings, limit=5) for m in makers)
            )
            made += sum(counts)
            if not any(counts) and len(got.hits) >= 72:
                break
        per_attempt = Counter((h.path, h.headers["webhook-id"]) for h in got.hits)
        assert len(per_attempt) == 24 * 3 and set(per_attempt.values()) == {1}
        assert made == 72
        for i in range(len(hooks)):  # and per product, in order
            sent = [h.event["data"]["n"] for h in got.hits if h.path == f"/h{i}"]
            for product_index in range(4):
                lane = [n for n in sent if n % 4 == product_index]
                assert lane == sorted(lane)
    finally:
        for engine in engines:
            await engine.dispose()
        server.close()
        await server.wait_closed()


async def test_a_webhook_of_a_person_who_is_no_longer_an_admin_is_not_sent_to(
    app, client, receiver, delivery_settings
):
    person = await make_person(app, role="admin")
    hook = await register(client, bearer(token_for(app, person)), receiver.url())
    product = await make_product(app)
    demoted = await client.patch(
        f"/api/v1/people/{person.id}",
        json={"role": "editor"},
        headers=bearer(token_for(app, await make_person(app, role="admin"))),
    )
    assert demoted.status_code == 200, demoted.text
    await pitch_changed(app, product.key)
    assert await run(app, delivery_settings) == 0 and receiver.hits == []
    async with app.state.sessionmaker() as session:
        [row] = (await session.execute(sa.select(WebhookDelivery))).scalars().all()
    assert str(row.webhook_id) == hook["id"] and row.status == "cancelled"
    assert row.reason == "cancelled: the person who registered this webhook is no longer an active admin"


async def test_delivery_stats_count_what_waits_and_how_attempts_went(
    app, client, receiver, delivery_settings, admin
):
    product = await make_product(app)
    await register(client, admin, receiver.url())
    receiver.script["/hook"] = [500]
    await pitch_changed(app, product.key, 1)
    assert await run(app, delivery_settings) == 1  # one failed attempt; the delivery waits
    await pitch_changed(app, product.key, 2)  # not sequenced yet
    async with app.state.sessionmaker() as session:
        stats = await webhook_delivery.delivery_stats(session, now=utcnow() + timedelta(seconds=5))
    assert stats["unsequenced_events"] == 1 and stats["pending_deliveries"] == 1
    assert stats["outbox_depth"] == 2
    assert 5 <= stats["oldest_undelivered_age_seconds"] < 120
    assert stats["attempts_last_hour"] == {"http_error": 1}


async def test_the_worker_sends_beside_its_loop_and_prunes_no_event_a_delivery_awaits(
    app, client, receiver, delivery_settings, admin
):
    from service.events.models import OutboxEvent
    from service.events.service import prune_expired
    from service.worker import Worker

    product = await make_product(app)
    hook = await register(client, admin, receiver.url(), product_keys=[product.key])
    receiver.script["/hook"] = [500]  # the first attempt fails: its delivery waits for a retry
    await pitch_changed(app, product.key, 1)
    await pitch_changed(app, product.key, 2)  # the newest event, which pruning always keeps
    worker = Worker(app.state.sessionmaker, delivery_settings)
    await worker.run_once()  # numbers and fans out, then starts a delivery round
    await worker.run_once()
    await worker.settle()
    assert [h.event["data"]["n"] for h in receiver.hits] == [1]  # the second waits behind it
    waiting = sorted(
        (d["status"], d["status_code"] or 0) for d in await deliveries(client, admin, hook["id"])
    )
    assert waiting == [("pending", 0), ("pending", 500)]  # one to retry, one queued behind it

    # Both events are past the retention window: the one whose delivery waits is kept.
    old = utcnow() - timedelta(hours=delivery_settings.event_retention_hours + 1)
    async with app.state.engine.begin() as conn:
        await conn.execute(sa.update(OutboxEvent).values(timestamp=old))
    await emit_now(app, EventType.PERSON_LEFT, {"person_id": str(uuid.uuid4())})
    await sequencer.sequence(app.state.sessionmaker)
    retention = delivery_settings.event_retention_hours

    async def pitch_events_kept() -> int:
        async with app.state.sessionmaker() as session:
            count = sa.select(sa.func.count()).where(OutboxEvent.__table__.c.type == "pitch.changed")
            return int(await session.scalar(count) or 0)

    await prune_expired(app.state.sessionmaker, retention_hours=retention)
    assert await pitch_events_kept() == 2  # old, but their deliveries wait
    async with app.state.engine.begin() as conn:
        await conn.execute(sa.update(WebhookDelivery).values(status="delivered"))  # both finished now
    await prune_expired(app.state.sessionmaker, retention_hours=retention)
    assert await pitch_events_kept() == 0
