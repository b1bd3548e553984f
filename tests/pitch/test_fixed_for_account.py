""" "You asked — it's fixed": the pitch read with `?account=` leads with what was fixed for that
account (the announcing message and its day) once a theme holding its feedback is announced;
the plain pitch stays byte for byte what it was. Through the ASGI app, real tokens, real DB."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from service.db import utcnow
from service.feedback.models import FeedbackItem
from service.main import create_app
from tests.conftest import BACKEND
from tests.factories import (
    bearer,
    counting_statements,
    make_brief,
    make_product,
    notices_settled,
    service_token,
)
from tests.pitch.test_pitch import publish_message


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def asked_and_fixed(app, client, callers, before_announcing=None) -> dict[str, Any]:
    """Accounts A (Acme) and B (つばさ) file feedback about a product; both land in a theme that
    is triaged, decided `build`, implemented and announced with a published message. Also one
    item of B about the same product in another theme, decided `stop` and announced (no fix)."""
    editor, manager = callers.headers("editor"), callers.headers("manager")
    product = await make_product(app, name="クラデスク 請求書AI")
    await make_brief(app, callers.people["editor"], product.key, status="published")
    await _ok(
        await client.post("/api/v1/accounts", json={"key": "acme", "name": "Acme Corp"}, headers=editor), 201
    )
    await _ok(
        await client.post(
            "/api/v1/accounts", json={"key": "tsubasa", "name": "株式会社つばさ"}, headers=editor
        ),
        201,
    )
    support = bearer(await service_token(app, client, "feedback:write"))
    filed = await _ok(
        await client.post(
            "/api/v1/feedback/batch",
            json={
                "items": [
                    {
                        "source": "support",
                        "external_id": f"ZD-{n}",
                        "product_key": product.key,
                        "customer": {"account": account},
                        "body": body,
                    }
                    for n, (account, body) in enumerate(
                        [
                            ("acme", "Month-end batch reading of 100+ invoices freezes the screen."),
                            ("株式会社つばさ", "手書きの請求書を読み取れない。"),
                        ]
                    )
                ]
            },
            headers=support,
        )
    )
    assert filed["created"] == 2, filed
    items = {
        i["external_id"]: i["id"]
        for i in (await _ok(await client.get("/api/v1/feedback", headers=editor)))["items"]
    }
    speed = await _ok(
        await client.post(
            "/api/v1/themes",
            json={"name": "月末の一括読み取りが遅い", "product_key": product.key},
            headers=editor,
        ),
        201,
    )
    handwriting = await _ok(
        await client.post(
            "/api/v1/themes", json={"name": "手書き請求書", "product_key": product.key}, headers=editor
        ),
        201,
    )
    for theme, external in ((speed, "ZD-0"), (handwriting, "ZD-1")):
        bulk = await _ok(
            await client.post(
                "/api/v1/feedback/bulk",
                json={"ids": [items[external]], "action": "assign_theme", "theme_id": theme["id"]},
                headers=editor,
            )
        )
        assert [r["status"] for r in bulk["results"]] == [200], bulk
    fix = await publish_message(
        client,
        editor,
        manager,
        kind="talking_point",
        locale="ja",
        title="月末の一括読み取りが10倍速くなりました",
        body="100枚の請求書も1分で読み取れます。",
        product_key=product.key,
    )
    no = await publish_message(
        client, editor, manager, kind="faq", title="手書き請求書には対応しません", body="スキャンしてPDFに。"
    )

    async def step(theme: dict[str, Any], **body: Any) -> None:
        await _ok(await client.post(f"/api/v1/themes/{theme['id']}/transition", json=body, headers=manager))

    await step(speed, to="triaged")
    await step(speed, to="decided", decision="build", rationale="月末に使えないと価値がない")
    await step(speed, to="implemented")
    if before_announcing is not None:
        await before_announcing(product)
    await step(speed, to="announced", message_id=fix["id"])
    announced_on = utcnow().date().isoformat()  # the day it was announced (UTC)
    await step(handwriting, to="triaged")
    await step(handwriting, to="decided", decision="stop", rationale="精度が出ない")
    await step(handwriting, to="announced", message_id=no["id"])
    return {
        "announced_on": announced_on,
        "product": product,
        "speed": speed,
        "fix": fix,
        "items": items,
        "editor": editor,
        "manager": manager,
    }


async def test_the_pitch_read_with_an_account_that_asked_leads_with_the_fix(app, client, callers, crm):
    before = utcnow()
    earlier = {}

    async def read_before_announcing(product):  # and so cache what it had: nothing fixed yet
        for account in ("acme", "tsubasa"):
            answer = await client.get(f"/api/v1/pitch/{product.key}?account={account}", headers=crm)
            earlier[account] = answer
            assert "fixed_for_account" not in answer.json()

    story = await asked_and_fixed(app, client, callers, read_before_announcing)
    product, speed, fix = story["product"], story["speed"], story["fix"]
    base = f"/api/v1/pitch/{product.key}"

    plain = await client.get(base, headers=crm)
    assert plain.status_code == 200
    assert "fixed_for_account" not in plain.json()

    # Account A asked: the pitch leads with the fix, the message as published and its day.
    led = await client.get(f"{base}?account=acme", headers=crm)
    assert led.status_code == 200, led.text
    assert led.content.startswith(b'{"fixed_for_account": [')  # first, before the pitch
    (entry,) = led.json()["fixed_for_account"]
    assert entry["theme"] == {"id": speed["id"], "name": "月末の一括読み取りが遅い"}
    assert entry["message"] == {
        "id": fix["id"],
        "kind": "talking_point",
        "locale": fix["locale"],
        "title": "月末の一括読み取りが10倍速くなりました",
        "body": "100枚の請求書も1分で読み取れます。",
    }
    from datetime import datetime

    assert before <= datetime.fromisoformat(entry["announced_at"]) <= utcnow()
    assert led.headers["etag"] != earlier["acme"].headers["etag"]  # the announcement shows at once
    # The rest of the body is the plain pitch, member for member.
    rest = led.json()
    del rest["fixed_for_account"]
    assert rest == plain.json()
    assert led.headers["etag"] != plain.headers["etag"]
    assert led.headers["cache-control"] == plain.headers["cache-control"]
    assert "Authorization" in led.headers["vary"]

    # Its exact name works too, as feedback names accounts; so does a merged account's key.
    by_name = await client.get(f"{base}?account=Acme%20Corp", headers=crm)
    assert by_name.json()["fixed_for_account"] == [entry]

    # Account B's feedback was a stop (announced, but nothing was fixed): no lead, the plain
    # pitch, as for an account nothing matches (whether it exists is not for pitch readers) and
    # an empty value.
    for other in ("tsubasa", "no-such-account", ""):
        response = await client.get(f"{base}?account={other}", headers=crm)
        assert response.status_code == 200
        assert response.content == plain.content and response.headers["etag"] == plain.headers["etag"]

    # 304 for the account's variant, with its own ETag; the plain ETag does not match it.
    again = await client.get(f"{base}?account=acme", headers={**crm, "If-None-Match": led.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == led.headers["etag"]
    crossed = await client.get(
        f"{base}?account=acme", headers={**crm, "If-None-Match": plain.headers["etag"]}
    )
    assert crossed.status_code == 200

    # The HTML card shows the fix first, in the served locale, with no script.
    card = await client.get(f"{base}?account=acme", headers={**crm, "Accept": "text/html"})
    assert card.status_code == 200
    html = card.text
    assert html.index("ご要望いただいた件、対応しました") < html.index("<h2")
    assert "月末の一括読み取りが10倍速くなりました" in html and "<script" not in html
    assert f"{before.year}年{before.month}月" in html
    plain_card = await client.get(base, headers={**crm, "Accept": "text/html"})
    assert card.headers["etag"] != plain_card.headers["etag"]
    b_card = await client.get(f"{base}?account=tsubasa", headers={**crm, "Accept": "text/html"})
    assert b_card.content == plain_card.content  # nothing fixed: the card as is


async def test_the_plain_pitch_is_byte_for_byte_what_it_was(app, client, callers, crm):
    """Reads before anything was announced and after: without `?account=` nothing differs."""
    editor = callers.headers("editor")
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    base = f"/api/v1/pitch/{product.key}"
    before = {
        accept: await client.get(base, headers={**crm, "Accept": accept})
        for accept in ("application/json", "text/html")
    }
    await _ok(
        await client.post("/api/v1/accounts", json={"key": "acme", "name": "Acme Corp"}, headers=editor), 201
    )
    for accept, earlier in before.items():
        now = await client.get(base, headers={**crm, "Accept": accept})
        assert now.content == earlier.content and now.headers["etag"] == earlier.headers["etag"]
        same = await client.get(f"{base}?account=", headers={**crm, "Accept": accept})
        assert same.content == earlier.content


async def test_the_fix_leaves_the_lead_after_the_period_and_with_its_message(
    app, client, callers, crm, settings
):
    story = await asked_and_fixed(app, client, callers)
    product, fix, editor, manager = story["product"], story["fix"], story["editor"], story["manager"]
    url = f"/api/v1/pitch/{product.key}?account=acme"
    assert len((await client.get(url, headers=crm)).json()["fixed_for_account"]) == 1

    # The period is a setting: 0 turns the lead off.
    assert settings.pitch_fixed_for_days == 90
    settings.pitch_fixed_for_days = 0
    try:
        assert "fixed_for_account" not in (await client.get(url, headers=crm)).json()
    finally:
        settings.pitch_fixed_for_days = 90

    # Announced 91 days ago: past the default 90, gone; 89 days ago: still there.
    items = FeedbackItem.__table__
    for days, shown in ((91, 0), (89, 1)):
        async with app.state.engine.begin() as conn:
            await conn.execute(
                sa.update(items)
                .where(items.c.id == uuid.UUID(story["items"]["ZD-0"]))
                .values(announced_at=utcnow() - timedelta(days=days))
            )
        assert len((await client.get(url, headers=crm)).json().get("fixed_for_account", [])) == shown

    # A revised announcement shows as published now; withdrawn, the fix is not shown at all.
    revised = await _ok(await client.post(f"/api/v1/messages/{fix['id']}/revise", headers=editor), 201)
    tag = (await client.get(f"/api/v1/messages/{revised['id']}", headers=editor)).headers["etag"]
    await _ok(
        await client.patch(
            f"/api/v1/messages/{revised['id']}",
            json={"title": "月末の一括読み取りが20倍速くなりました"},
            headers={**editor, "If-Match": tag},
        )
    )
    await _ok(await client.post(f"/api/v1/messages/{revised['id']}/submit", headers=editor))
    await _ok(await client.post(f"/api/v1/messages/{revised['id']}/publish", headers=manager))
    (entry,) = (await client.get(url, headers=crm)).json()["fixed_for_account"]
    assert entry["message"]["id"] == revised["id"]
    assert entry["message"]["title"] == "月末の一括読み取りが20倍速くなりました"

    await _ok(await client.post(f"/api/v1/messages/{revised['id']}/withdraw", headers=editor))
    assert "fixed_for_account" not in (await client.get(url, headers=crm)).json()
    card = await client.get(url, headers={**crm, "Accept": "text/html"})
    assert "月末の一括読み取り" not in card.text.split("<h2")[0]


async def test_a_merged_accounts_key_leads_with_its_survivors_fixes(app, client, callers, crm):
    story = await asked_and_fixed(app, client, callers)
    editor, product = story["editor"], story["product"]
    accounts = {
        a["key"]: a for a in (await _ok(await client.get("/api/v1/accounts", headers=editor)))["items"]
    }
    merged = await client.post(
        f"/api/v1/accounts/{accounts['acme']['id']}/merge",
        json={"into": accounts["tsubasa"]["id"]},
        headers=editor,
    )
    assert merged.status_code == 200, merged.text
    for key in ("acme", "tsubasa"):
        fixes = (await client.get(f"/api/v1/pitch/{product.key}?account={key}", headers=crm)).json()
        assert [f["message"]["title"] for f in fixes["fixed_for_account"]] == [
            "月末の一括読み取りが10倍速くなりました"
        ]


async def test_account_is_checked_like_every_parameter_and_refused_like_the_pitch(app, client, callers, crm):
    story = await asked_and_fixed(app, client, callers)
    base = f"/api/v1/pitch/{story['product'].key}"
    for bad in ("a" * 101, "acme%00"):
        response = await client.get(f"{base}?account={bad}", headers=crm)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "account"
    # Whoever may not read the pitch gets no lead either: refused as the plain read is.
    assert (await client.get(f"{base}?account=acme")).status_code == 401
    people_writer = bearer(await service_token(app, client, "people:write"))
    refused = await client.get(f"{base}?account=acme", headers=people_writer)
    assert refused.status_code == 403
    assert "月末" not in refused.text
    # A person reads the pitch, and so the lead (the CRM panel's user).
    person = await client.get(f"{base}?account=acme", headers=callers.headers("employee"))
    assert len(person.json()["fixed_for_account"]) == 1


async def test_graphql_reads_the_same_lead(app, client, callers, crm):
    story = await asked_and_fixed(app, client, callers)
    query = """query($p: String!, $a: String) { currentPitch(productKey: $p, account: $a) {
        etag fixedForAccount { theme { id name } message { id title body } announcedAt } } }"""
    answer = await client.post(
        "/graphql", json={"query": query, "variables": {"p": story["product"].key, "a": "acme"}}, headers=crm
    )
    data = answer.json()
    assert "errors" not in data, data
    pitch = data["data"]["currentPitch"]
    (entry,) = pitch["fixedForAccount"]
    assert entry["theme"]["id"] == story["speed"]["id"]
    assert entry["message"]["id"] == story["fix"]["id"]
    rest = await client.get(f"/api/v1/pitch/{story['product'].key}?account=acme", headers=crm)
    assert pitch["etag"] == rest.headers["etag"]
    plain = await client.post(
        "/graphql", json={"query": query, "variables": {"p": story["product"].key, "a": None}}, headers=crm
    )
    assert plain.json()["data"]["currentPitch"]["fixedForAccount"] is None


async def test_a_cached_lead_touches_no_database_until_a_write_it_reads_from(app, client, callers, crm):
    story = await asked_and_fixed(app, client, callers)
    url = f"/api/v1/pitch/{story['product'].key}?account=acme"
    await notices_settled(app)
    first = await client.get(url, headers=crm)  # warm
    async with counting_statements(app) as statements:
        for _ in range(5):
            again = await client.get(url, headers=crm)
            assert again.content == first.content
    assert statements == []
    # A write it is read from (here the account's name) drops it: read once more, then cached.
    editor = story["editor"]
    account = next(
        a
        for a in (await _ok(await client.get("/api/v1/accounts", headers=editor)))["items"]
        if a["key"] == "acme"
    )
    tag = (await client.get(f"/api/v1/accounts/{account['id']}", headers=editor)).headers["etag"]
    await _ok(
        await client.patch(
            f"/api/v1/accounts/{account['id']}", json={"key": "acme-kk"}, headers={**editor, "If-Match": tag}
        )
    )
    assert "fixed_for_account" not in (await client.get(url, headers=crm)).json()
    renamed = await client.get(f"{url}-kk", headers=crm)
    assert len(renamed.json()["fixed_for_account"]) == 1


@pytest.mark.skipif(
    BACKEND != "postgres", reason="several replicas share one PostgreSQL; SQLite is one process"
)
async def test_a_second_replica_drops_its_lead_when_a_fix_is_announced(app, client, settings, callers, crm):
    replica = create_app(settings)
    async with LifespanManager(replica):
        await asyncio.wait_for(replica.state.listener.connected.wait(), timeout=5)
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as second:

            async def cache_on_the_replica(product):
                answer = await second.get(f"/api/v1/pitch/{product.key}?account=acme", headers=crm)
                assert "fixed_for_account" not in answer.json()  # now cached there: nothing fixed

            story = await asked_and_fixed(app, client, callers, cache_on_the_replica)
            url = f"/api/v1/pitch/{story['product'].key}?account=acme"
            started = time.monotonic()
            fixes: list[Any] = []
            while not fixes and time.monotonic() - started < 1.0:
                fixes = (await second.get(url, headers=crm)).json().get("fixed_for_account", [])
                await asyncio.sleep(0.02)
            assert len(fixes) == 1, (
                "the second replica still led with nothing a second after the announcement"
            )


async def test_the_english_card_leads_in_english_and_marks_the_japanese_announcement(
    app, client, callers, crm
):
    story = await asked_and_fixed(app, client, callers)
    product = story["product"]
    await make_brief(
        app, callers.people["editor"], product.key, status="published", locale="en", title="KuraDesk"
    )
    card = await client.get(
        f"/api/v1/pitch/{product.key}?locale=en&account=acme", headers={**crm, "Accept": "text/html"}
    )
    assert card.status_code == 200 and card.headers["content-language"] == "en"
    html = card.text
    lead = html[: html.index("<h2")]
    assert "You asked — it&#x27;s fixed" in lead  # escaped like every text of the card
    assert (
        'lang="ja"' in lead and "月末の一括読み取りが10倍速くなりました" in lead
    )  # the message's own language
    assert f"announced {story['announced_on']}" in lead  # the day, ISO (UTC)
    led = await client.get(f"/api/v1/pitch/{product.key}?locale=en&account=acme", headers=crm)
    assert led.json()["locale"] == "en" and len(led.json()["fixed_for_account"]) == 1
