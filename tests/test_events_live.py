"""CueCard talking first, as its consumers meet it: real servers with their embedded workers.

A CRM registers a webhook and opens the pitch's live stream; an editor's brief is approved.
The receiver on loopback gets `pitch.changed` within seconds, signed so the public Standard
Webhooks library verifies it; it answers 500 once and gets the same event again; the stream
shows the change live; the admin sees every attempt. On PostgreSQL two replicas run (each
with its worker, one database): each attempt is made once, whichever replica made it, and the
stream on one replica hears the other's commit. On SQLite, one server (SQLite is one process).

Only 127.0.0.1 is ever connected to. These tests talk to the servers from outside (uvicorn on
free ports), so they run once, in the PostgreSQL pass, as the other outside-in suites do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import httpx
import pytest
import standardwebhooks

from tests.conftest import BACKEND
from tests.factories import make_brief, make_person, make_product, service_token
from tests.live import running_server
from tests.test_webhook_delivery import Receiver

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="outside-in: runs in the PostgreSQL pass")

REPLICAS = 2


@pytest.fixture
async def receiver():
    got = Receiver(script={"/crm": [500]})  # the first delivery fails, then 200s
    server = await asyncio.start_server(got.handle, "127.0.0.1", 0)
    got.port = server.sockets[0].getsockname()[1]
    try:
        yield got
    finally:
        server.close()
        await server.wait_closed()


async def _frames(response: httpx.Response, found: list[dict]) -> None:
    """Collects the stream's events (type and data) until cancelled."""
    event_type = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event_type = line.removeprefix("event: ")
        elif line.startswith("data: ") and event_type:
            found.append({"type": event_type, **json.loads(line.removeprefix("data: "))})
            event_type = None


async def test_a_crm_hears_the_pitch_change_by_webhook_and_stream_with_one_attempt_each(
    app, client, callers, settings, receiver
):
    live = settings.model_copy(
        update={
            "embedded_worker": True,
            "worker_poll_seconds": 0.2,
            "webhook_allow_hosts": frozenset({"127.0.0.1"}),
            "webhook_retry_base_seconds": 0.5,
        }
    )
    product = await make_product(app)
    crm_token = await service_token(app, client, "pitch:read")
    with contextlib.ExitStack() as servers:
        bases = [servers.enter_context(running_server(live)) for _ in range(REPLICAS)]
        first, last = bases[0], bases[-1]
        async with httpx.AsyncClient(timeout=10) as http:
            created = await http.post(
                f"{first}/api/v1/webhooks",
                headers=callers.headers("admin"),
                json={
                    "url": receiver.url("/crm"),
                    "events": ["pitch.changed"],
                    "product_keys": [product.key],
                },
            )
            assert created.status_code == 201, created.text
            webhook = created.json()

            # The CRM panel listens on one replica; the approval is made on the other.
            found: list[dict] = []
            url = f"{first}/api/v1/pitch/{product.key}/events"
            async with http.stream("GET", url, headers={"Authorization": f"Bearer {crm_token}"}) as stream:
                assert stream.status_code == 200
                reading = asyncio.create_task(_frames(stream, found))
                author = await make_person(app, role="editor")
                brief = await make_brief(app, author, product.key, status="in_review")
                approved_at = time.monotonic()
                approved = await http.post(
                    f"{last}/api/v1/briefs/{brief.id}/approve", headers=callers.headers("manager")
                )
                assert approved.status_code == 200, approved.text
                async with asyncio.timeout(15):
                    while len(receiver.hits_to("/crm")) < 2 or not found:  # noqa: ASYNC110 - other threads fill them
                        await asyncio.sleep(0.05)
                heard_live = time.monotonic() - approved_at
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading

            assert [e["type"] for e in found] == ["pitch.changed"]
            assert found[0]["data"]["product_key"] == product.key
            assert heard_live < 10

            # The 500, then the same event again; each verifies with the public library.
            await asyncio.sleep(1.5)  # time for a duplicate to show, if any replica sent one
            hits = receiver.hits_to("/crm")
            assert len(hits) == 2, [h.headers.get("webhook-id") for h in hits]
            verifier = standardwebhooks.Webhook(webhook["secret"])
            payloads = [verifier.verify(h.body, h.headers) for h in hits]
            assert payloads[0] == payloads[1]
            assert payloads[0]["type"] == "pitch.changed" and payloads[0]["id"] == found[0]["id"]
            assert hits[0].headers["webhook-id"] == hits[1].headers["webhook-id"] == found[0]["id"]

            # The admin sees both attempts, on either replica.
            deliveries = await http.get(
                f"{last}/api/v1/webhooks/{webhook['id']}/deliveries", headers=callers.headers("admin")
            )
            assert deliveries.status_code == 200, deliveries.text
            (delivery,) = deliveries.json()["items"]
            assert delivery["status"] == "delivered"
            assert [a["status_code"] for a in sorted(delivery["attempts"], key=lambda a: a["at"])] == [
                500,
                200,
            ]
