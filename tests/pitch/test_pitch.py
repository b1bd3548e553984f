"""The current pitch CRMs pull: JSON and HTML card, ETag/304, context, freshness, replicas."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.evidence.service import today
from service.main import create_app
from tests.conftest import BACKEND
from tests.factories import (
    bearer,
    counting_statements,
    make_brief,
    make_department,
    make_person,
    make_product,
    notices_settled,
    service_token,
    token_for,
)


@pytest.fixture
async def published(app, callers):
    product = await make_product(app, name="クラデスク 請求書AI")
    brief = await make_brief(app, callers.people["editor"], product.key, status="published")
    return product, brief


async def publish_message(client, headers, publisher, approval=None, **body):
    """Written and submitted by `headers`, approved by `publisher` (four eyes) with the optional
    `approval` body."""
    created = await client.post("/api/v1/messages", json=body, headers=headers)
    assert created.status_code == 201, created.text
    submitted = await client.post(f"/api/v1/messages/{created.json()['id']}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    published = await client.post(
        f"/api/v1/messages/{created.json()['id']}/publish", headers=publisher, json=approval
    )
    assert published.status_code == 200, published.text
    return published.json()


async def test_a_crm_pulls_the_current_pitch_as_json(client, crm, published):
    product, brief = published
    response = await client.get(f"/api/v1/pitch/{product.key}?locale=ja", headers=crm)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "private, max-age=0, must-revalidate"
    pitch = response.json()
    assert pitch["product_key"] == product.key
    assert pitch["product_name"] == "クラデスク 請求書AI"
    assert pitch["brief_id"] == str(brief.id)
    assert pitch["version"] == 1
    assert pitch["published_at"]
    assert pitch["pitch"] == brief.pitch
    assert pitch["value_proposition"] == brief.value_proposition
    assert pitch["gut_check"]["what_we_give_up"] == "手書き請求書への対応"
    assert [e["claim"] for e in pitch["evidence"]] == ["パイロット5社で入力時間が週3時間減少"]
    assert pitch["freshness"] == {"status": "fresh", "expired": []}


async def test_304_when_nothing_changed_and_a_new_etag_after_a_publish(app, client, crm, published, callers):
    product, brief = published
    url = f"/api/v1/pitch/{product.key}?locale=ja"
    first = await client.get(url, headers=crm)
    etag = first.headers["etag"]
    again = await client.get(url, headers={**crm, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    # A new version is published: the same ETag no longer matches, the body shows v2.
    editor, manager = callers.headers("editor"), callers.headers("manager")
    v2 = (await client.post(f"/api/v1/briefs/{brief.id}/revise", headers=editor)).json()
    tag = (await client.get(f"/api/v1/briefs/{v2['id']}", headers=editor)).headers["etag"]
    await client.patch(
        f"/api/v1/briefs/{v2['id']}",
        json={"pitch": "請求書の入力を週3時間減らします。"},
        headers={**editor, "If-Match": tag},
    )
    await client.post(f"/api/v1/briefs/{v2['id']}/submit", headers=editor)
    assert (await client.post(f"/api/v1/briefs/{v2['id']}/approve", headers=manager)).status_code == 200
    changed = await client.get(url, headers={**crm, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    assert changed.json()["pitch"] == "請求書の入力を週3時間減らします。"


async def test_the_html_card_is_self_contained_and_escaped(app, client, crm, callers):
    product = await make_product(app)
    hostile = '<script>alert("x")</script> 請求書'
    await make_brief(app, callers.people["editor"], product.key, status="published", title=hostile)
    response = await client.get(f"/api/v1/pitch/{product.key}", headers={**crm, "Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    card = response.text
    assert "<script>" not in card
    assert "&lt;script&gt;" in card
    assert 'lang="ja"' in card
    for external in ("http://", "https://", "src=", "<link", "@import", "url("):
        assert external not in card
    json_etag = (await client.get(f"/api/v1/pitch/{product.key}", headers=crm)).headers["etag"]
    assert response.headers["etag"] != json_etag  # each representation has its own validator
    assert "Accept" in response.headers["vary"]


async def test_nothing_published_is_404_and_archiving_withdraws_the_pitch(
    app, client, crm, published, callers
):
    product, brief = published
    assert (await client.get("/api/v1/pitch/no-such-product", headers=crm)).status_code == 404
    # Only Japanese published: English falls back to it (tests/pitch/test_locales.py).
    assert (await client.get(f"/api/v1/pitch/{product.key}?locale=en", headers=crm)).json()[
        "fallback"
    ] is True
    draft_only = await make_product(app)
    await make_brief(app, callers.people["editor"], draft_only.key)
    assert (await client.get(f"/api/v1/pitch/{draft_only.key}", headers=crm)).status_code == 404

    assert (await client.get(f"/api/v1/pitch/{product.key}", headers=crm)).status_code == 200
    archived = await client.post(f"/api/v1/briefs/{brief.id}/archive", headers=callers.headers("editor"))
    assert archived.status_code == 200
    assert (await client.get(f"/api/v1/pitch/{product.key}", headers=crm)).status_code == 404


async def test_locale_choice(app, client, crm, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")  # ja
    await make_brief(
        app, callers.people["editor"], product.key, status="published", locale="en", title="Launch"
    )
    assert (await client.get(f"/api/v1/pitch/{product.key}", headers=crm)).json()["locale"] == "en"
    assert (await client.get(f"/api/v1/pitch/{product.key}?locale=ja-JP", headers=crm)).json()[
        "locale"
    ] == "ja"


async def test_audience_segment_and_competitor_pick_what_comes_first(app, client, crm, published, callers):
    product, _ = published
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="hr", name="人事部")
    editor = callers.headers("editor")
    await publish_message(
        client,
        editor,
        callers.headers("admin"),
        product_key=product.key,
        kind="value_translation",
        locale="ja",
        title="高速OCR",
        feature_term="高速OCR",
        value_statement="請求書の入力時間を週3時間削減",
        metric={"value": 3, "unit": "hours/week", "basis": "パイロット5社"},
    )
    await publish_message(
        client,
        editor,
        callers.headers("admin"),
        product_key=product.key,
        kind="key_message",
        locale="ja",
        audiences=["sales"],
        title="営業向け",
        body="価格ではなく削減時間で語る",
    )
    await publish_message(
        client,
        editor,
        callers.headers("admin"),
        product_key=product.key,
        kind="key_message",
        locale="ja",
        audiences=["hr"],
        title="採用向け",
        body="経理の残業を減らす会社",
    )
    url = f"/api/v1/pitch/{product.key}?locale=ja"
    everything = (await client.get(url, headers=crm)).json()
    assert {m["title"] for m in everything["key_messages"]} == {"営業向け", "採用向け"}
    assert [m["value_statement"] for m in everything["value_translations"]] == [
        "請求書の入力時間を週3時間削減"
    ]
    for_sales = (await client.get(f"{url}&audience=sales", headers=crm)).json()
    assert [m["title"] for m in for_sales["key_messages"]] == ["営業向け"]
    assert for_sales["audience"] == "sales"
    assert for_sales["value_translations"] == everything["value_translations"]

    # Context reorders: the differentiator against this competitor first.
    other = await make_product(app)
    await make_brief(
        app,
        callers.people["editor"],
        other.key,
        status="published",
        differentiators=[
            {"alternative": "手入力", "difference": "自動", "trade_off": "手書き非対応"},
            {"alternative": "競合X社", "difference": "仕訳まで自動", "trade_off": "オンプレ非対応"},
        ],
    )
    plain = (await client.get(f"/api/v1/pitch/{other.key}", headers=crm)).json()
    assert plain["differentiators"][0]["alternative"] == "手入力"
    against_x = (await client.get(f"/api/v1/pitch/{other.key}?competitor=X社", headers=crm)).json()
    assert against_x["differentiators"][0]["alternative"] == "競合X社"


async def test_stale_evidence_shows_in_the_pitch_until_verified(app, client, crm, callers):
    editor = callers.headers("editor")
    past = (today() - timedelta(days=3)).isoformat()
    item = await client.post(
        "/api/v1/evidence",
        json={"kind": "case", "claim": "B社で月末残業ゼロ", "source": "B社事例", "verify_by": past},
        headers=editor,
    )
    evidence_id = item.json()["id"]
    product = await make_product(app)
    await make_brief(
        app,
        callers.people["editor"],
        product.key,
        status="published",
        evidence=[{"id": evidence_id}],
        override_expired="B社に再確認中; 発表は予定どおり",
    )
    url = f"/api/v1/pitch/{product.key}"
    stale = await client.get(url, headers=crm)
    assert stale.json()["freshness"] == {"status": "stale", "expired": [evidence_id]}
    card = await client.get(url, headers={**crm, "Accept": "text/html"})
    assert 'role="alert"' in card.text

    assert (await client.post(f"/api/v1/evidence/{evidence_id}/verify", headers=editor)).status_code == 200
    fresh = await client.get(url, headers={**crm, "If-None-Match": stale.headers["etag"]})
    assert fresh.status_code == 200
    assert fresh.json()["freshness"] == {"status": "fresh", "expired": []}


async def test_a_crm_token_reads_the_pitch_and_writes_nothing(app, client, crm, published, callers):
    product, brief = published
    assert (await client.get(f"/api/v1/pitch/{product.key}", headers=crm)).status_code == 200
    attempts = [
        client.post("/api/v1/briefs", json={"product_key": product.key, "title": "x"}, headers=crm),
        client.patch(f"/api/v1/briefs/{brief.id}", json={"title": "x"}, headers={**crm, "If-Match": "*"}),
        client.post(f"/api/v1/briefs/{brief.id}/archive", headers=crm),
        client.post(f"/api/v1/briefs/{brief.id}/revise", headers=crm),
        client.post("/api/v1/evidence", json={"kind": "case", "claim": "x", "source": "y"}, headers=crm),
        client.post("/api/v1/messages", json={"kind": "faq", "title": "x"}, headers=crm),
        client.post("/api/v1/products", json={"key": "x", "name": "x"}, headers=crm),
        client.post("/api/v1/people", json={"email": "x@example.com", "display_name": "x"}, headers=crm),
    ]
    statuses = [r.status_code for r in await asyncio.gather(*attempts)]
    assert all(s in (403, 404) for s in statuses), statuses
    assert (await client.get(f"/api/v1/pitch/{product.key}", headers=crm)).json()["version"] == 1


async def test_usage_is_reported_per_version_and_audience(app, client, crm, published, callers):
    product, _ = published
    for event in ("shown", "shown", "copied"):
        response = await client.post(
            f"/api/v1/pitch/{product.key}/usage",
            json={
                "event": event,
                "opportunity_ref": "SF-0061",
                "user_email": "Tanaka@Example.com",
                "audience": "sales",
            },
            headers=crm,
        )
        assert response.status_code == 201
        assert response.json()["version"] == 1
    bad = await client.post(f"/api/v1/pitch/{product.key}/usage", json={"event": "liked"}, headers=crm)
    assert bad.status_code == 422
    summary = await client.get(f"/api/v1/pitch/{product.key}/usage", headers=callers.headers("editor"))
    counts = {(c["version"], c["audience"], c["event"]): c["count"] for c in summary.json()["counts"]}
    assert counts == {(1, "sales", "shown"): 2, (1, "sales", "copied"): 1}
    assert (await client.get(f"/api/v1/pitch/{product.key}/usage", headers=crm)).status_code == 403


async def test_a_cache_hit_touches_no_database(app, client, crm, published):
    product, _ = published
    url = f"/api/v1/pitch/{product.key}"
    await notices_settled(app)
    await client.get(url, headers=crm)  # warm
    async with counting_statements(app) as statements:
        for _ in range(5):
            assert (await client.get(url, headers=crm)).status_code == 200
    assert statements == []


@pytest.mark.skipif(
    BACKEND != "postgres", reason="several replicas share one PostgreSQL; SQLite is one process"
)
async def test_a_second_replica_serves_the_new_version_within_a_second(app, client, settings, callers):
    """Two app instances on one database: a publish through the first reaches the second's cache."""
    product = await make_product(app)
    brief = await make_brief(app, callers.people["editor"], product.key, status="published")
    replica = create_app(settings)
    async with LifespanManager(replica):
        await asyncio.wait_for(replica.state.listener.connected.wait(), timeout=5)
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as second:
            crm = bearer(await service_token(app, client, "pitch:read"))
            url = f"/api/v1/pitch/{product.key}"
            assert (await second.get(url, headers=crm)).json()["version"] == 1  # now cached there

            editor, manager = callers.headers("editor"), callers.headers("manager")
            v2 = (await client.post(f"/api/v1/briefs/{brief.id}/revise", headers=editor)).json()
            await client.post(f"/api/v1/briefs/{v2['id']}/submit", headers=editor)
            assert (
                await client.post(f"/api/v1/briefs/{v2['id']}/approve", headers=manager)
            ).status_code == 200

            started = time.monotonic()
            version = 1
            while version != 2 and time.monotonic() - started < 1.0:
                version = (await second.get(url, headers=crm)).json()["version"]
                await asyncio.sleep(0.02)
            assert version == 2, "the second replica still served version 1 a second after the publish"


async def test_people_read_the_pitch_too(app, client, published):
    product, _ = published
    employee = await make_person(app)
    response = await client.get(f"/api/v1/pitch/{product.key}", headers=bearer(token_for(app, employee)))
    assert response.status_code == 200


async def test_the_fast_route_validates_like_the_rest_and_is_measured_by_template(client, crm, published):
    product, _ = published
    bad = await client.get("/api/v1/pitch/Not%20A%20Slug?audience=" + "x" * 65, headers=crm)
    assert bad.status_code == 422
    assert {(e["location"], e["field"]) for e in bad.json()["errors"]} == {
        ("path", "product_key"),
        ("query", "audience"),
    }
    assert (await client.get(f"/api/v1/pitch/{product.key}")).status_code == 401
    await client.get(f"/api/v1/pitch/{product.key}", headers=crm)
    metrics = (await client.get("/metrics")).text
    assert 'route="/api/v1/pitch/{product_key}",status="200"' in metrics


async def test_the_fast_path_claims_only_the_pitch_read_and_keeps_the_stacks_guarantees(
    client, crm, published
):
    product, _ = published
    url = f"/api/v1/pitch/{product.key}?locale=ja"
    full = await client.get(url, headers=crm)
    head = await client.head(url, headers=crm)
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", full.headers["etag"])
    # A NUL in the URL is refused as by the stack's guard, as a problem with a request id.
    nul = await client.get(f"/api/v1/pitch/{product.key}%00x", headers=crm)
    assert nul.status_code == 422, nul.text
    assert nul.headers["content-type"] == "application/problem+json"
    assert nul.json()["errors"][0]["type"] == "string_nul"
    assert len(nul.headers["x-request-id"]) == 32
    # Deeper paths and other methods are FastAPI's (the usage report, a 405 for a POST).
    assert (await client.get(f"/api/v1/pitch/{product.key}/usage", headers=crm)).status_code == 403
    assert (await client.post(f"/api/v1/pitch/{product.key}", headers=crm)).status_code == 405
    assert (await client.get("/api/v1/pitch/", headers=crm)).status_code == 404


async def test_200_and_304_carry_the_same_validators_and_the_service_headers(client, crm, published):
    product, _ = published
    url = f"/api/v1/pitch/{product.key}?locale=ja"
    full = await client.get(url, headers=crm)
    revalidated = await client.get(url, headers={**crm, "If-None-Match": full.headers["etag"]})
    assert (full.status_code, revalidated.status_code) == (200, 304)
    for response in (full, revalidated):
        assert response.headers["etag"] == full.headers["etag"]
        assert response.headers["vary"] == "Accept, Authorization"
        assert response.headers["cache-control"] == "private, max-age=0, must-revalidate"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert len(response.headers["x-request-id"]) == 32
    assert full.headers["content-length"] == str(len(full.content))
    assert "content-type" not in revalidated.headers and revalidated.content == b""
    assert full.headers["x-request-id"] != revalidated.headers["x-request-id"]
    card = await client.get(url, headers={**crm, "Accept": "text/html"})
    card_304 = await client.get(
        url, headers={**crm, "Accept": "text/html", "If-None-Match": card.headers["etag"]}
    )
    assert card.headers["etag"] != full.headers["etag"]
    assert card_304.status_code == 304
    assert card_304.headers["content-security-policy"] == card.headers["content-security-policy"]
    assert "sandbox" in card.headers["content-security-policy"]


async def test_a_bad_query_is_refused_every_time_and_a_good_one_is_not_held_against_the_caller(
    client, crm, published
):
    product, _ = published
    for _ in range(2):  # validated parameters are remembered; refused ones never are
        bad = await client.get(f"/api/v1/pitch/{product.key}?segment=" + "x" * 101, headers=crm)
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        unknown = await client.get(f"/api/v1/pitch/{product.key}?segmnet=smb", headers=crm)
        assert unknown.status_code == 422
        assert [e["field"] for e in unknown.json()["errors"]] == ["segmnet"]
        good = await client.get(f"/api/v1/pitch/{product.key}?locale=ja&segment=smb", headers=crm)
        assert good.status_code == 200
    # A remembered query still needs a caller, and one who may read pitches.
    assert (await client.get(f"/api/v1/pitch/{product.key}?locale=ja&segment=smb")).status_code == 401
