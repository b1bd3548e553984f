"""Briefs over REST: the lifecycle, four eyes, immutability, supersede, freshness, versions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from service.evidence.service import today
from tests.factories import bearer, complete_brief, make_person, make_product, token_for

JA_LONG_PITCH = "クラデスクは" + "紙の請求書を読み取り会計ソフトへ自動で入力し経理の残業を減らします" * 7


async def create(client, headers, body):
    response = await client.post("/api/v1/briefs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json(), response.headers["etag"]


async def test_create_a_japanese_draft_with_inline_evidence(app, client, callers):
    product = await make_product(app)
    brief, etag = await create(client, callers.headers("editor"), complete_brief(product.key))
    assert brief["status"] == "draft"
    assert brief["version"] == 1
    assert brief["lineage_id"] == brief["id"]
    assert brief["product_key"] == product.key
    assert brief["locale"] == "ja"
    assert brief["pains"][0] == {"kind": "dissatisfaction", "text": "月末に請求書の手入力で残業が続く"}
    assert len(brief["evidence"]) == 1
    evidence = brief["evidence"][0]
    assert evidence["claim"] == "パイロット5社で入力時間が週3時間減少"
    assert evidence["owner_id"] == str(callers.people["editor"].id)
    assert brief["freshness"] == {"status": "fresh", "expired": []}
    assert brief["speakability"]["ok"] is True
    assert 0 < brief["speakability"]["estimated_seconds"] <= 30
    assert "ja" in brief["speakability"]["basis"]
    assert etag.startswith('"v')
    # The inline claim is now a first-class evidence item editors may cite; while only a draft
    # cites it, it does not exist for employees (tests/evidence/test_visibility.py).
    stored = await client.get(f"/api/v1/evidence/{evidence['id']}", headers=callers.headers("editor"))
    assert stored.status_code == 200
    hidden = await client.get(f"/api/v1/evidence/{evidence['id']}", headers=callers.headers("employee"))
    assert hidden.status_code == 404


async def test_submit_lists_every_missing_part_at_once(app, client, callers):
    product = await make_product(app)
    body = {"product_key": product.key, "title": "空のブリーフ", "locale": "ja"}
    brief, _ = await create(client, callers.headers("editor"), body)
    response = await client.post(f"/api/v1/briefs/{brief['id']}/submit", headers=callers.headers("editor"))
    assert response.status_code == 422
    problem = response.json()
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {
        "pains",
        "differentiators",
        "evidence",
        "gut_check.who_changes",
        "gut_check.next_action",
        "gut_check.what_we_give_up",
        "pitch",
    }
    assert problem["speakability"]["estimated_seconds"] == 0
    still = await client.get(f"/api/v1/briefs/{brief['id']}", headers=callers.headers("editor"))
    assert still.json()["status"] == "draft"


async def test_a_differentiator_without_a_trade_off_is_not_enough(app, client, callers):
    product = await make_product(app)
    body = complete_brief(product.key, differentiators=[{"alternative": "Excel", "difference": "自動入力"}])
    brief, _ = await create(client, callers.headers("editor"), body)
    response = await client.post(f"/api/v1/briefs/{brief['id']}/submit", headers=callers.headers("editor"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["differentiators"]


async def test_a_japanese_pitch_that_takes_over_30_seconds_is_refused_with_the_estimate(app, client, callers):
    product = await make_product(app)
    brief, _ = await create(
        client, callers.headers("editor"), complete_brief(product.key, pitch=JA_LONG_PITCH)
    )
    response = await client.post(f"/api/v1/briefs/{brief['id']}/submit", headers=callers.headers("editor"))
    assert response.status_code == 422
    problem = response.json()
    assert [e["type"] for e in problem["errors"]] == ["too_long_to_say"]
    assert problem["speakability"]["estimated_seconds"] > 30
    assert problem["speakability"]["ok"] is False


async def test_an_english_pitch_is_timed_by_words(app, client, callers):
    product = await make_product(app)
    pitch = " ".join(["word"] * 100)  # 100 words at 150 wpm: 40 s
    body = complete_brief(product.key, locale="en", pitch=pitch)
    brief, _ = await create(client, callers.headers("editor"), body)
    assert brief["speakability"]["estimated_seconds"] == 40.0
    response = await client.post(f"/api/v1/briefs/{brief['id']}/submit", headers=callers.headers("editor"))
    assert response.status_code == 422


async def test_lifecycle_four_eyes_and_immutability(app, client, callers):
    product = await make_product(app)
    editor = callers.headers("editor")
    brief, etag = await create(client, editor, complete_brief(product.key))
    url = f"/api/v1/briefs/{brief['id']}"

    # Optimistic concurrency on edits.
    assert (await client.patch(url, json={"title": "x"}, headers=editor)).status_code == 428
    assert (
        await client.patch(url, json={"title": "x"}, headers={**editor, "If-Match": '"v999"'})
    ).status_code == 412
    edited = await client.patch(url, json={"title": "新タイトル"}, headers={**editor, "If-Match": etag})
    assert edited.status_code == 200
    assert edited.json()["title"] == "新タイトル"

    assert (await client.post(f"{url}/submit", headers=editor)).json()["status"] == "in_review"
    # In review: no edits; the last editor may not approve their own version.
    latest = (await client.get(url, headers=editor)).headers["etag"]
    assert (
        await client.patch(url, json={"title": "y"}, headers={**editor, "If-Match": latest})
    ).status_code == 409
    own = await client.post(f"{url}/approve", headers=editor)
    assert own.status_code == 403
    assert "Four eyes" in own.json()["detail"]
    approved = await client.post(f"{url}/approve", headers=callers.headers("manager"))
    assert approved.status_code == 200
    published = approved.json()
    assert published["status"] == "published"
    assert published["published_at"] is not None

    # Published versions are immutable.
    latest = (await client.get(url, headers=editor)).headers["etag"]
    refused = await client.patch(url, json={"title": "z"}, headers={**editor, "If-Match": latest})
    assert refused.status_code == 409
    assert (await client.post(f"{url}/approve", headers=callers.headers("admin"))).status_code == 409


async def test_request_changes_sends_it_back_with_a_comment(app, client, callers):
    product = await make_product(app)
    brief, _ = await create(client, callers.headers("editor"), complete_brief(product.key))
    url = f"/api/v1/briefs/{brief['id']}"
    await client.post(f"{url}/submit", headers=callers.headers("editor"))
    missing = await client.post(f"{url}/request-changes", json={}, headers=callers.headers("manager"))
    assert missing.status_code == 422
    sent_back = await client.post(
        f"{url}/request-changes",
        json={"comment": "競合比較を追加してください"},
        headers=callers.headers("manager"),
    )
    assert sent_back.status_code == 200
    assert sent_back.json()["status"] == "draft"
    assert sent_back.json()["review_comment"] == "競合比較を追加してください"


async def test_revise_supersede_and_versions(app, client, callers):
    product = await make_product(app)
    editor, manager = callers.headers("editor"), callers.headers("manager")
    v1, _ = await create(client, editor, complete_brief(product.key))
    await client.post(f"/api/v1/briefs/{v1['id']}/submit", headers=editor)
    await client.post(f"/api/v1/briefs/{v1['id']}/approve", headers=manager)

    # Only a published version is revised, and only one open version at a time.
    revised = await client.post(f"/api/v1/briefs/{v1['id']}/revise", json={"change": "minor"}, headers=editor)
    assert revised.status_code == 201
    v2 = revised.json()
    assert (v2["version"], v2["change"], v2["status"], v2["lineage_id"]) == (2, "minor", "draft", v1["id"])
    assert [e["id"] for e in v2["evidence"]] == [e["id"] for e in v1["evidence"]]
    assert (await client.post(f"/api/v1/briefs/{v1['id']}/revise", headers=editor)).status_code == 409

    etag = (await client.get(f"/api/v1/briefs/{v2['id']}", headers=editor)).headers["etag"]
    await client.patch(
        f"/api/v1/briefs/{v2['id']}",
        json={"pitch": "クラデスクで請求書の入力を週3時間減らします。"},
        headers={**editor, "If-Match": etag},
    )
    await client.post(f"/api/v1/briefs/{v2['id']}/submit", headers=editor)
    assert (await client.post(f"/api/v1/briefs/{v2['id']}/approve", headers=manager)).status_code == 200

    old = (await client.get(f"/api/v1/briefs/{v1['id']}", headers=editor)).json()
    assert old["status"] == "superseded"
    assert old["pitch"] != "クラデスクで請求書の入力を週3時間減らします。"  # v1 kept its content
    versions = (await client.get(f"/api/v1/briefs/{v2['id']}/versions", headers=editor)).json()["items"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "superseded"), (2, "published")]
    published = await client.get(f"/api/v1/briefs?product_key={product.key}&status=published", headers=editor)
    assert [b["id"] for b in published.json()["items"]] == [v2["id"]]
    # Employees see the published version only, in lists and in history.
    employee = callers.headers("employee")
    history = (await client.get(f"/api/v1/briefs/{v2['id']}/versions", headers=employee)).json()["items"]
    assert [v["version"] for v in history] == [2]


async def test_publishing_another_brief_supersedes_per_product_and_locale(app, client, callers):
    product = await make_product(app)
    editor, manager = callers.headers("editor"), callers.headers("manager")
    ids = []
    for locale in ("ja", "ja", "en"):
        brief, _ = await create(client, editor, complete_brief(product.key, locale=locale))
        await client.post(f"/api/v1/briefs/{brief['id']}/submit", headers=editor)
        ids.append(brief["id"])
    for brief_id in ids:
        assert (await client.post(f"/api/v1/briefs/{brief_id}/approve", headers=manager)).status_code == 200
    statuses = [(await client.get(f"/api/v1/briefs/{i}", headers=editor)).json()["status"] for i in ids]
    assert statuses == ["superseded", "published", "published"]  # en is a separate story


async def test_concurrent_approvals_leave_one_published_version(app, client, callers):
    product = await make_product(app)
    editor = callers.headers("editor")
    ids = []
    for _ in range(3):
        brief, _ = await create(client, editor, complete_brief(product.key))
        await client.post(f"/api/v1/briefs/{brief['id']}/submit", headers=editor)
        ids.append(brief["id"])
    responses = await asyncio.gather(
        *(client.post(f"/api/v1/briefs/{i}/approve", headers=callers.headers("manager")) for i in ids)
    )
    assert {r.status_code for r in responses} <= {200, 409}
    listed = await client.get(f"/api/v1/briefs?product_key={product.key}&status=published", headers=editor)
    assert len(listed.json()["items"]) == 1


async def test_employees_do_not_see_drafts_of_others(app, client, callers):
    product = await make_product(app)
    brief, _ = await create(client, callers.headers("editor"), complete_brief(product.key))
    employee = callers.headers("employee")
    assert (await client.get(f"/api/v1/briefs/{brief['id']}", headers=employee)).status_code == 404
    assert (await client.get("/api/v1/briefs", headers=employee)).json()["items"] == []
    assert (
        await client.get(f"/api/v1/briefs/{brief['id']}", headers=callers.headers("manager"))
    ).status_code == 200


async def test_citing_unknown_evidence_writes_nothing(app, client, callers):
    product = await make_product(app)
    body = complete_brief(product.key, evidence=[{"id": "00000000-0000-0000-0000-000000000000"}])
    response = await client.post("/api/v1/briefs", json=body, headers=callers.headers("editor"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "evidence.0.id"
    listed = await client.get("/api/v1/briefs", headers=callers.headers("editor"))
    assert listed.json()["items"] == []


async def test_unknown_product_and_bad_pain_kind(app, client, callers):
    unknown = await client.post(
        "/api/v1/briefs", json=complete_brief("no-such-product"), headers=callers.headers("editor")
    )
    assert unknown.status_code == 422
    product = await make_product(app)
    bad = complete_brief(product.key, pains=[{"kind": "boredom", "text": "退屈"}])
    response = await client.post("/api/v1/briefs", json=bad, headers=callers.headers("editor"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "pains.0.kind"


async def test_feature_words_become_warnings(app, client, callers):
    product = await make_product(app)
    body = complete_brief(product.key, value_proposition="高性能で多機能なAI")
    brief, _ = await create(client, callers.headers("editor"), body)
    words = [(w["field"], w["word"]) for w in brief["warnings"]]
    assert ("value_proposition", "高性能") in words
    assert ("value_proposition", "多機能") in words
    assert all(w["field"] != "pitch" for w in brief["warnings"])  # the pitch states its outcome


async def test_stale_evidence_marks_the_brief_until_verified(app, client, callers):
    product = await make_product(app)
    editor = callers.headers("editor")
    past = (today() - timedelta(days=1)).isoformat()
    item = await client.post(
        "/api/v1/evidence",
        json={"kind": "metric", "claim": "解約率 2%", "source": "2025年度", "verify_by": past},
        headers=editor,
    )
    assert item.json()["expired"] is True
    evidence_id = item.json()["id"]
    brief, _ = await create(client, editor, complete_brief(product.key, evidence=[{"id": evidence_id}]))
    assert brief["freshness"] == {"status": "stale", "expired": [evidence_id]}

    expired = await client.get("/api/v1/evidence?expired=true", headers=editor)
    assert [e["id"] for e in expired.json()["items"]] == [evidence_id]

    # The owner or an editor re-verifies; a date in the past is refused.
    bad = await client.post(
        f"/api/v1/evidence/{evidence_id}/verify", json={"verify_by": past}, headers=editor
    )
    assert bad.status_code == 422
    verified = await client.post(f"/api/v1/evidence/{evidence_id}/verify", headers=editor)
    assert verified.status_code == 200
    assert verified.json()["expired"] is False
    again = await client.get(f"/api/v1/briefs/{brief['id']}", headers=editor)
    assert again.json()["freshness"] == {"status": "fresh", "expired": []}


async def test_an_owner_may_verify_their_claim_but_another_employee_may_not(app, client, callers):
    owner = await make_person(app, role="employee")
    item = await client.post(
        "/api/v1/evidence",
        json={"kind": "small_win", "claim": "初受注", "source": "営業日報", "owner_id": str(owner.id)},
        headers=callers.headers("editor"),
    )
    url = f"/api/v1/evidence/{item.json()['id']}/verify"
    # Cited by nothing published, it does not exist for another employee; a manager sees it.
    assert (await client.post(url, headers=callers.headers("employee"))).status_code == 404
    assert (await client.post(url, headers=callers.headers("manager"))).status_code == 403
    assert (await client.post(url, headers=bearer(token_for(app, owner)))).status_code == 200


async def test_replacing_evidence_moves_citations(app, client, callers):
    product = await make_product(app)
    editor = callers.headers("editor")
    brief, _ = await create(client, editor, complete_brief(product.key))
    old_id = brief["evidence"][0]["id"]
    replaced = await client.post(
        f"/api/v1/evidence/{old_id}/replace",
        json={"kind": "metric", "claim": "導入20社で入力時間が週3.5時間減少", "source": "2026年下期調査"},
        headers=editor,
    )
    assert replaced.status_code == 201
    new_id = replaced.json()["id"]
    cited = (await client.get(f"/api/v1/briefs/{brief['id']}", headers=editor)).json()["evidence"]
    assert [e["id"] for e in cited] == [new_id]
    old = (await client.get(f"/api/v1/evidence/{old_id}", headers=editor)).json()
    assert old["replaced_by_id"] == new_id
    twice = await client.post(
        f"/api/v1/evidence/{old_id}/replace",
        json={"kind": "metric", "claim": "x", "source": "y"},
        headers=editor,
    )
    assert twice.status_code == 409


async def test_evidence_owned_by_no_one_is_a_422_on_every_path_not_a_500(app, client, callers):
    """Found by the contract fuzzer: an `owner_id` naming no person hit the foreign key (500)."""
    editor = callers.headers("editor")
    nobody = "e3e70682-c209-4cac-a29f-6fbed82c07cd"
    claim = {"kind": "metric", "claim": "導入20社で週3時間減少", "source": "調査", "owner_id": nobody}

    created = await client.post("/api/v1/evidence", json=claim, headers=editor)
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"] == "owner_id"

    product = await make_product(app)
    brief, _ = await create(client, editor, complete_brief(product.key))
    old_id = brief["evidence"][0]["id"]
    replaced = await client.post(f"/api/v1/evidence/{old_id}/replace", json=claim, headers=editor)
    assert replaced.status_code == 422, replaced.text
    assert replaced.json()["errors"][0]["field"] == "owner_id"

    inline = await client.post(
        "/api/v1/briefs", json=complete_brief(product.key, evidence=[claim]), headers=editor
    )
    assert inline.status_code == 422, inline.text
    assert inline.json()["errors"][0]["field"] == "evidence.0.owner_id"
