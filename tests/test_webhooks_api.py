"""The webhooks management API over HTTP: who may register and manage webhooks, what is
refused (and that a refusal writes nothing and calls nobody), and secrets shown only once.

No test here sends a request to a webhook URL: delivery comes later. Loopback refusals are
checked against a listener on 127.0.0.1 that must see no connection at all; public addresses
appear only as literals, which the SSRF guard checks without resolving anything.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from service.concurrency import etag
from tests.factories import bearer, make_person, make_product, service_token, token_for

PUBLIC_URL = "https://8.8.8.8/hooks/cuecard"
BASE = "/api/v1/webhooks"


@pytest.fixture
async def admin(app):
    return bearer(token_for(app, await make_person(app, role="admin", display_name="管理 者")))


@pytest.fixture
async def crm(app, client):
    """An integration that may manage webhooks and read the pitch."""
    return bearer(await service_token(app, client, "webhooks:manage", "pitch:read"))


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[object]]]:
    """A TCP listener on loopback that records every connection made to it."""
    connections: list[object] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, connections
    finally:
        server.close()
        await server.wait_closed()


def field_errors(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["detail"] for e in response.json()["errors"]}


async def count(client, headers) -> int:
    response = await client.get(BASE, headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def test_an_admin_registers_lists_reads_changes_rotates_and_deletes_a_webhook(app, client, admin):
    product = await make_product(app, name="クラデスク 請求書")
    response = await client.post(
        BASE,
        json={
            "url": PUBLIC_URL,
            "events": ["pitch.changed", "brief.submitted"],
            "product_keys": [product.key],
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    webhook_id = created["id"]
    assert created["secret"].startswith("whsec_")
    assert response.headers["location"] == f"{BASE}/{webhook_id}"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["etag"] == etag(1)
    assert created["events"] == ["pitch.changed", "brief.submitted"]  # admins may subscribe to all
    assert created["product_keys"] == [product.key]
    assert created["active"] is True and created["paused_reason"] is None
    assert created["created_by"].startswith("person:")

    listed = (await client.get(BASE, headers=admin)).json()
    assert [w["id"] for w in listed["items"]] == [webhook_id] and listed["next_cursor"] is None
    got = await client.get(f"{BASE}/{webhook_id}", headers=admin)
    assert got.status_code == 200 and got.headers["etag"] == etag(1)
    assert "secret" not in got.json() and "secret" not in listed["items"][0]
    assert (
        await client.get(f"{BASE}/{webhook_id}", headers={**admin, "If-None-Match": etag(1)})
    ).status_code == 304

    stale = await client.patch(
        f"{BASE}/{webhook_id}", json={"active": False}, headers={**admin, "If-Match": etag(7)}
    )
    assert stale.status_code == 412
    patched = await client.patch(
        f"{BASE}/{webhook_id}",
        json={"active": False, "events": ["message.published"], "product_keys": None},
        headers={**admin, "If-Match": etag(1)},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["active"], body["events"], body["product_keys"], body["revision"]) == (
        False,
        ["message.published"],
        None,
        2,
    )
    assert patched.headers["etag"] == etag(2) and "secret" not in body

    rotated = await client.post(f"{BASE}/{webhook_id}/rotate-secret", headers=admin)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["secret"].startswith("whsec_") and new["secret"] != created["secret"]
    assert rotated.headers["cache-control"] == "no-store"
    ends = datetime.fromisoformat(new["previous_secret_expires_at"])
    assert timedelta(hours=23) < ends - datetime.now(UTC) <= timedelta(hours=24)
    after = (await client.get(f"{BASE}/{webhook_id}", headers=admin)).json()
    assert "secret" not in after and after["previous_secret_expires_at"] == new["previous_secret_expires_at"]

    assert (await client.delete(f"{BASE}/{webhook_id}", headers=admin)).status_code == 204
    assert (await client.get(f"{BASE}/{webhook_id}", headers=admin)).status_code == 404
    assert (await client.delete(f"{BASE}/{webhook_id}", headers=admin)).status_code == 404


async def test_both_secrets_sign_during_the_overlap_and_only_the_new_one_after(app, client, admin):
    from service.webhooks import service as webhooks_service
    from service.webhooks.models import Webhook

    created = (
        await client.post(BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=admin)
    ).json()
    rotated = (await client.post(f"{BASE}/{created['id']}/rotate-secret", headers=admin)).json()
    async with app.state.sessionmaker() as session:
        row = await session.get(Webhook, uuid.UUID(created["id"]))
        assert row is not None
        assert webhooks_service.signing_secrets(row) == [rotated["secret"], created["secret"]]
        later = datetime.now(UTC) + timedelta(hours=25)
        assert webhooks_service.signing_secrets(row, now=later) == [rotated["secret"]]


async def test_a_client_manages_only_its_own_webhooks(app, client, admin, crm):
    response = await client.post(BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=crm)
    assert response.status_code == 201, response.text
    mine = response.json()
    assert mine["created_by"].startswith("client:cc_")
    other = bearer(await service_token(app, client, "webhooks:manage", "pitch:read"))
    theirs = (
        await client.post(BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=other)
    ).json()

    assert [w["id"] for w in (await client.get(BASE, headers=crm)).json()["items"]] == [mine["id"]]
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"active": False}),
        ("POST", "/rotate-secret", None),
        ("DELETE", "", None),
    ):
        refused = await client.request(method, f"{BASE}/{theirs['id']}{suffix}", json=body, headers=crm)
        assert refused.status_code == 404, (method, suffix, refused.text)
    # The admin sees both; the other client's webhook is untouched.
    assert await count(client, admin) == 2
    assert (await client.get(f"{BASE}/{theirs['id']}", headers=other)).json()["revision"] == 1
    assert (
        await client.patch(f"{BASE}/{mine['id']}", json={"active": False}, headers=crm)
    ).status_code == 200
    assert (await client.delete(f"{BASE}/{mine['id']}", headers=crm)).status_code == 204


async def test_callers_who_may_not_manage_webhooks_are_refused(app, client, admin):
    created = (
        await client.post(BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=admin)
    ).json()
    employee = bearer(token_for(app, await make_person(app, role="employee")))
    editor = bearer(token_for(app, await make_person(app, role="editor")))
    reader = bearer(await service_token(app, client, "pitch:read"))
    body = {"url": PUBLIC_URL, "events": ["pitch.changed"]}
    for headers, status in (({}, 401), (employee, 403), (editor, 403), (reader, 403)):
        for method, path, payload in (
            ("POST", BASE, body),
            ("GET", BASE, None),
            ("GET", f"{BASE}/{created['id']}", None),
            ("PATCH", f"{BASE}/{created['id']}", {"active": False}),
            ("DELETE", f"{BASE}/{created['id']}", None),
            ("POST", f"{BASE}/{created['id']}/rotate-secret", None),
        ):
            response = await client.request(method, path, json=payload, headers=headers)
            assert response.status_code == status, (method, path, status, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "whsec_" not in response.text
    anonymous = await client.get(BASE)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert await count(client, admin) == 1
    assert (await client.get(f"{BASE}/{created['id']}", headers=admin)).json()["revision"] == 1


async def test_a_client_subscribes_only_to_event_types_its_scopes_may_read(client, crm, admin):
    errors = field_errors(
        await client.post(
            BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed", "person.left"]}, headers=crm
        )
    )
    assert "person.left" in errors["events"]
    errors = field_errors(
        await client.post(BASE, json={"url": PUBLIC_URL, "events": ["brief.submitted"]}, headers=crm)
    )
    assert "brief.submitted" in errors["events"]  # admins only
    assert await count(client, admin) == 0
    # And not by changing it later either.
    created = (
        await client.post(BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=crm)
    ).json()
    errors = field_errors(
        await client.patch(f"{BASE}/{created['id']}", json={"events": ["feedback.ingested"]}, headers=crm)
    )
    assert "feedback.ingested" in errors["events"]
    assert (await client.get(f"{BASE}/{created['id']}", headers=crm)).json()["events"] == ["pitch.changed"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": PUBLIC_URL, "events": []}, "events"),
        ({"url": PUBLIC_URL, "events": ["pitch.changed", "pitch.changed"]}, "events"),
        ({"url": PUBLIC_URL, "events": ["pitch.exploded"]}, "events"),
        ({"url": PUBLIC_URL, "events": ["webhook.ping"]}, "events"),  # sent by …/test, never subscribed
        ({"url": PUBLIC_URL}, "events"),
        ({"events": ["pitch.changed"]}, "url"),
        ({"url": "ftp://8.8.8.8/x", "events": ["pitch.changed"]}, "url"),
        ({"url": "https://user:pw@8.8.8.8/x", "events": ["pitch.changed"]}, "url"),
        ({"url": "https://8.8.8.8/" + "a" * 2100, "events": ["pitch.changed"]}, "url"),
        ({"url": "https://8.8.8.8/\x00", "events": ["pitch.changed"]}, "url"),
        ({"url": PUBLIC_URL, "events": ["pitch.changed\x00"]}, "events.0"),
        (
            {"url": PUBLIC_URL, "events": ["pitch.changed"], "product_keys": ["no-such-product"]},
            "product_keys",
        ),
        ({"url": PUBLIC_URL, "events": ["pitch.changed"], "product_keys": ["請求書"]}, "product_keys.0"),
        ({"url": PUBLIC_URL, "events": ["pitch.changed"], "product_keys": []}, "product_keys"),
        ({"url": PUBLIC_URL, "events": ["pitch.changed"], "secret": "whsec_mine"}, "secret"),
        ({"url": PUBLIC_URL, "events": ["pitch.changed"], "created_by": "client:x"}, "created_by"),
    ],
    ids=lambda v: repr(v)[:60] if isinstance(v, dict) else v,
)
async def test_invalid_registrations_are_refused_naming_the_field(client, admin, body, field):
    errors = field_errors(await client.post(BASE, json=body, headers=admin))
    assert field in errors, errors
    assert await count(client, admin) == 0


async def test_loopback_private_and_metadata_urls_are_refused_without_a_request(client, admin, crm, listener):
    port, connections = listener
    for url in (
        f"http://127.0.0.1:{port}/hook",
        f"http://localhost:{port}/hook",
        f"http://[::1]:{port}/hook",
        f"http://2130706433:{port}/hook",
        "http://10.0.0.8/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
    ):
        for caller in (admin, crm):
            errors = field_errors(
                await client.post(BASE, json={"url": url, "events": ["pitch.changed"]}, headers=caller)
            )
            assert "url" in errors, (url, errors)
    created = (
        await client.post(BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=admin)
    ).json()
    errors = field_errors(
        await client.patch(
            f"{BASE}/{created['id']}", json={"url": f"http://127.0.0.1:{port}/x"}, headers=admin
        )
    )
    assert "loopback" in errors["url"]
    assert (await client.get(f"{BASE}/{created['id']}", headers=admin)).json()["url"] == PUBLIC_URL
    assert await count(client, admin) == 1
    await asyncio.sleep(0.05)
    assert connections == []


async def test_an_allow_listed_loopback_host_is_accepted(app, client, crm, listener, monkeypatch):
    port, connections = listener
    monkeypatch.setattr(app.state.settings, "webhook_allow_hosts", frozenset({"127.0.0.1"}))
    response = await client.post(
        BASE, json={"url": f"http://127.0.0.1:{port}/hook", "events": ["pitch.changed"]}, headers=crm
    )
    assert response.status_code == 201, response.text
    assert response.json()["url"] == f"http://127.0.0.1:{port}/hook"
    # Only the name as listed: `localhost` still resolves to loopback and is refused.
    field_errors(
        await client.post(
            BASE, json={"url": f"http://localhost:{port}/hook", "events": ["pitch.changed"]}, headers=crm
        )
    )
    await asyncio.sleep(0.05)
    assert connections == []  # registering calls nobody


async def test_japanese_product_names_and_urls_work(app, client, admin):
    product = await make_product(app, name="経理 自動化 スイート")
    url = "https://8.8.8.8/フック/受信?製品=請求書"
    response = await client.post(
        BASE, json={"url": url, "events": ["pitch.changed"], "product_keys": [product.key]}, headers=admin
    )
    assert response.status_code == 201, response.text
    stored = response.json()["url"]
    assert (
        stored.startswith("https://8.8.8.8/") and "%E3%83%95" in stored
    )  # percent-encoded, as sent on the wire
    assert (await client.get(f"{BASE}/{response.json()['id']}", headers=admin)).json()["url"] == stored


async def test_patch_refuses_nulls_and_unknown_fields(client, admin):
    created = (
        await client.post(BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=admin)
    ).json()
    for body, field in (
        ({"url": None}, "url"),
        ({"events": None}, "events"),
        ({"active": None}, "active"),
        ({"secret": "whsec_x"}, "secret"),
        ({"paused_reason": "no"}, "paused_reason"),
    ):
        assert field in field_errors(await client.patch(f"{BASE}/{created['id']}", json=body, headers=admin))
    assert (await client.get(f"{BASE}/{created['id']}", headers=admin)).json()["revision"] == 1


async def test_the_list_is_cursor_paginated(client, admin):
    ids = []
    for _ in range(3):
        created = await client.post(
            BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=admin
        )
        ids.append(created.json()["id"])
    first = await client.get(BASE, params={"limit": 2}, headers=admin)
    page = first.json()
    assert [w["id"] for w in page["items"]] == ids[:2] and page["next_cursor"]
    assert 'rel="next"' in first.headers["link"]
    second = (
        await client.get(BASE, params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin)
    ).json()
    assert [w["id"] for w in second["items"]] == ids[2:] and second["next_cursor"] is None
    assert (await client.get(BASE, params={"limit": 201}, headers=admin)).status_code == 422


async def test_an_admin_cannot_widen_a_clients_webhook_beyond_its_scopes(client, admin, crm):
    created = (
        await client.post(BASE, json={"url": PUBLIC_URL, "events": ["pitch.changed"]}, headers=crm)
    ).json()
    # The receiver is the client's: admin-only and other scopes' types would leak to it.
    for events in (["brief.submitted"], ["pitch.changed", "person.left"]):
        errors = field_errors(
            await client.patch(f"{BASE}/{created['id']}", json={"events": events}, headers=admin)
        )
        assert "events" in errors
    ok = await client.patch(
        f"{BASE}/{created['id']}", json={"active": False, "events": ["pitch.changed"]}, headers=admin
    )
    assert ok.status_code == 200, ok.text


async def test_a_retried_registration_with_an_idempotency_key_replays_the_first_answer(client, admin, crm):
    body = {"url": PUBLIC_URL, "events": ["pitch.changed"]}
    headers = {**crm, "Idempotency-Key": "crm-hook-1"}
    first = await client.post(BASE, json=body, headers=headers)
    again = await client.post(BASE, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # the secret the lost answer carried, not a second webhook
    assert again.headers["cache-control"] == "no-store"
    other = await client.post(BASE, json={**body, "url": "https://8.8.4.4/hooks"}, headers=headers)
    assert other.status_code == 422
    assert await count(client, admin) == 1
