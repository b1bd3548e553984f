"""Messages over REST: value translations, visibility of drafts, If-Match, publishing, lint, lists."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from service.db import utcnow
from service.evidence import service as evidence_service
from service.evidence.schemas import EvidenceCreate
from service.messages import service as messages_service
from service.messages.models import Message
from service.messages.schemas import MessageCreate
from tests.factories import OPERATOR, make_brief, make_department, make_product

VALUE_TRANSLATION = {
    "kind": "value_translation",
    "locale": "ja",
    "channel": "crm_card",
    "title": "高速OCRで請求書入力を短縮",
    "body": "紙の請求書を読み取り、会計ソフトに入力します。",
    "feature_term": "高速OCR",
    "value_statement": "請求書の入力時間を週3時間削減",
    "metric": {"value": 3, "unit": "hours/week", "basis": "pilot with 5 customers"},
}


async def published_message_id(app) -> str:
    """A published company-wide key message, made through the messages service."""
    async with app.state.sessionmaker() as session:
        draft = await messages_service.create_message(
            session,
            OPERATOR,
            MessageCreate(
                kind="key_message", title="私たちはお客様の仕事を速くする", body="PCではなく時間を売る。"
            ),
        )
        await messages_service.submit_message(session, OPERATOR, draft.id)
        published = await messages_service.publish_message(session, OPERATOR, draft.id)
    return str(published.id)


async def count_messages(app) -> int:
    async with app.state.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(Message))).scalar_one()


async def make_evidence(app, *, verify_by=None) -> str:
    async with app.state.sessionmaker() as session:
        item = await evidence_service.create_evidence(
            session,
            OPERATOR,
            EvidenceCreate(
                kind="metric",
                claim="パイロット5社で入力時間が週3時間減少",
                source="2026年パイロット調査",
                verify_by=verify_by,
            ),
        )
    return str(item.id)


async def create(client, callers, caller="editor", **body):
    response = await client.post("/api/v1/messages", json=body, headers=callers.headers(caller))
    assert response.status_code == 201, response.text
    return response.json()


async def submit(client, callers, message_id, caller="editor"):
    response = await client.post(f"/api/v1/messages/{message_id}/submit", headers=callers.headers(caller))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "in_review"
    return response.json()


def errors_by_field(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["detail"] for e in response.json()["errors"]}


# --- create -------------------------------------------------------------------------------------


async def test_editor_creates_a_japanese_value_translation(app, client, callers):
    await make_department(app, key="sales", name="営業部")
    response = await client.post(
        "/api/v1/messages",
        json={**VALUE_TRANSLATION, "audiences": ["sales"]},
        headers=callers.headers("editor"),
    )
    assert response.status_code == 201, response.text
    message = response.json()
    assert response.headers["location"] == f"/api/v1/messages/{message['id']}"
    assert response.headers["etag"]
    assert {k: message[k] for k in VALUE_TRANSLATION} == VALUE_TRANSLATION
    assert message["audiences"] == ["sales"]
    assert message["status"] == "draft"
    assert message["published_at"] is None
    assert message["product_key"] is None and message["brief_id"] is None  # company-wide
    assert message["author_id"] == message["last_editor_id"] == str(callers.people["editor"].id)
    assert message["evidence_ids"] == []
    assert message["freshness"] == {"status": "fresh", "expired": []}
    assert "revision" not in message  # the ETag is a header only
    assert message["version"] == 1 and message["lineage_id"] == message["id"]  # version 1 of its lineage

    # The feature word in the title has no number in its sentence: a warning, not a refusal.
    title = [w for w in message["warnings"] if w["field"] == "title"]
    assert [(w["start"], w["end"], w["word"]) for w in title] == [(0, 2, "高速")]
    assert not [w for w in message["warnings"] if w["field"] == "value_statement"]

    fetched = await client.get(f"/api/v1/messages/{message['id']}", headers=callers.headers("editor"))
    assert fetched.status_code == 200
    assert fetched.json() == message
    assert fetched.headers["etag"] == response.headers["etag"]


async def test_a_value_translation_needs_feature_term_value_statement_and_metric(app, client, callers):
    before = await count_messages(app)
    without_metric = {k: v for k, v in VALUE_TRANSLATION.items() if k != "metric"}
    response = await client.post("/api/v1/messages", json=without_metric, headers=callers.headers("editor"))
    assert set(errors_by_field(response)) == {"metric"}

    bare = {"kind": "value_translation", "title": "高性能"}
    response = await client.post("/api/v1/messages", json=bare, headers=callers.headers("editor"))
    assert set(errors_by_field(response)) == {"feature_term", "value_statement", "metric"}

    incomplete_metric = {**VALUE_TRANSLATION, "metric": {"value": "3", "unit": "hours/week"}}
    response = await client.post(
        "/api/v1/messages", json=incomplete_metric, headers=callers.headers("editor")
    )
    assert {"metric.basis", "metric.value.int", "metric.value.float"} <= set(errors_by_field(response))
    assert await count_messages(app) == before

    # Other kinds carry no such duty.
    await create(client, callers, kind="talking_point", title="月末の残業を減らす")


async def test_unknown_departments_are_listed_every_one(app, client, callers):
    await make_department(app, key="sales")
    body = {**VALUE_TRANSLATION, "audiences": ["sales", "no-such", "all", "ghost"]}
    response = await client.post("/api/v1/messages", json=body, headers=callers.headers("editor"))
    errors = errors_by_field(response)
    assert set(errors) == {"audiences.1", "audiences.3"}
    assert "no-such" in response.json()["detail"] and "ghost" in response.json()["detail"]

    # Every broken rule is reported at once.
    body = {"kind": "value_translation", "title": "t", "audiences": ["ghost"]}
    response = await client.post("/api/v1/messages", json=body, headers=callers.headers("editor"))
    assert set(errors_by_field(response)) == {"audiences.0", "feature_term", "value_statement", "metric"}

    for bad in (["Sales!"], [], ["all"] * 51):
        response = await client.post(
            "/api/v1/messages",
            json={**VALUE_TRANSLATION, "audiences": bad},
            headers=callers.headers("editor"),
        )
        assert response.status_code == 422
    assert await count_messages(app) == 0


async def test_cited_evidence_must_exist_and_its_freshness_is_reported(app, client, callers):
    fresh = await make_evidence(app)
    missing = str(uuid.uuid4())
    response = await client.post(
        "/api/v1/messages",
        json={**VALUE_TRANSLATION, "evidence_ids": [fresh, missing]},
        headers=callers.headers("editor"),
    )
    assert set(errors_by_field(response)) == {"evidence_ids.1"}
    assert await count_messages(app) == 0

    message = await create(client, callers, **VALUE_TRANSLATION, evidence_ids=[fresh, fresh])
    assert message["evidence_ids"] == [fresh]  # cited once
    assert message["freshness"] == {"status": "fresh", "expired": []}

    expired = await make_evidence(app, verify_by=(utcnow() - timedelta(days=1)).date().isoformat())
    stale = await create(client, callers, **VALUE_TRANSLATION, evidence_ids=[fresh, expired])
    assert stale["evidence_ids"] == [fresh, expired]
    assert stale["freshness"] == {"status": "stale", "expired": [expired]}


async def test_the_brief_decides_the_product(app, client, callers):
    product = await make_product(app)
    other = await make_product(app)
    brief = await make_brief(app, callers.people["editor"], product.key, status="published")
    message = await create(
        client, callers, kind="key_message", title="月末の残業をなくす", brief_id=str(brief.id)
    )
    assert message["product_key"] == product.key
    assert message["brief_id"] == str(brief.id)
    assert message["locale"] == "ja"  # the brief's locale when none is given

    same = await create(
        client,
        callers,
        kind="key_message",
        title="t",
        brief_id=str(brief.id),
        product_key=product.key,
        locale="en",
    )
    assert same["product_key"] == product.key and same["locale"] == "en"

    conflicting = {"kind": "key_message", "title": "t", "brief_id": str(brief.id), "product_key": other.key}
    response = await client.post("/api/v1/messages", json=conflicting, headers=callers.headers("editor"))
    assert set(errors_by_field(response)) == {"product_key"}
    unknown = {"kind": "key_message", "title": "t", "brief_id": str(uuid.uuid4())}
    response = await client.post("/api/v1/messages", json=unknown, headers=callers.headers("editor"))
    assert set(errors_by_field(response)) == {"brief_id"}
    response = await client.post(
        "/api/v1/messages",
        json={"kind": "faq", "title": "t", "product_key": "no-such"},
        headers=callers.headers("editor"),
    )
    assert set(errors_by_field(response)) == {"product_key"}

    direct = await create(client, callers, kind="faq", title="よくある質問", product_key=other.key)
    assert direct["product_key"] == other.key and direct["brief_id"] is None

    # On update too: the brief's product holds until the message leaves the brief.
    url = f"/api/v1/messages/{message['id']}"
    headers = {**callers.headers("editor"), "If-Match": "*"}
    response = await client.patch(url, json={"product_key": other.key}, headers=headers)
    assert set(errors_by_field(response)) == {"product_key"}
    moved = await client.patch(url, json={"brief_id": None, "product_key": other.key}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["brief_id"] is None and moved.json()["product_key"] == other.key
    company_wide = await client.patch(url, json={"product_key": None}, headers=headers)
    assert company_wide.json()["product_key"] is None


async def test_mass_assignment_is_refused(client, callers):
    body = {**VALUE_TRANSLATION, "status": "published", "revision": 9, "author_id": str(uuid.uuid4())}
    response = await client.post("/api/v1/messages", json=body, headers=callers.headers("editor"))
    assert set(errors_by_field(response)) == {"status", "revision", "author_id"}


async def test_create_with_an_idempotency_key_happens_once(app, client, callers):
    headers = {**callers.headers("editor"), "Idempotency-Key": "msg-create-1"}
    first = await client.post("/api/v1/messages", json=VALUE_TRANSLATION, headers=headers)
    again = await client.post("/api/v1/messages", json=VALUE_TRANSLATION, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["etag"] == first.headers["etag"]
    assert await count_messages(app) == 1
    other_body = await client.post(
        "/api/v1/messages", json={**VALUE_TRANSLATION, "title": "別"}, headers=headers
    )
    assert other_body.status_code == 422


# --- who may see and write ---------------------------------------------------------------------


async def test_only_editors_and_admins_write_messages(app, client, callers):
    for caller, status in (
        ("anonymous", 401),
        ("employee", 403),
        ("manager", 403),
        ("svc_pitch", 403),
        ("svc_people", 403),
        ("admin", 201),
    ):
        response = await client.post(
            "/api/v1/messages", json=VALUE_TRANSLATION, headers=callers.headers(caller)
        )
        assert response.status_code == status, (caller, response.text)
    assert await count_messages(app) == 1


async def test_employees_see_a_draft_only_once_it_is_published(app, client, callers):
    draft = await create(client, callers, **VALUE_TRANSLATION)
    url = f"/api/v1/messages/{draft['id']}"
    for caller in ("employee", "svc_pitch"):
        assert (await client.get(url, headers=callers.headers(caller))).status_code == 404
        listed = await client.get("/api/v1/messages", headers=callers.headers(caller))
        assert listed.json()["items"] == []
        # Nor may they act on what they cannot see.
        assert (await client.post(f"{url}/publish", headers=callers.headers(caller))).status_code == 404
    assert (await client.get(url, headers=callers.headers("manager"))).status_code == 200
    assert (await client.get(url, headers=callers.headers("svc_people"))).status_code == 403

    await submit(client, callers, draft["id"])
    published = await client.post(f"{url}/publish", headers=callers.headers("admin"))  # four eyes
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["published_at"] is not None

    for caller in ("employee", "svc_pitch"):
        seen = await client.get(url, headers=callers.headers(caller))
        assert seen.status_code == 200
        assert seen.json()["status"] == "published"
        listed = await client.get("/api/v1/messages", headers=callers.headers(caller))
        assert [m["id"] for m in listed.json()["items"]] == [draft["id"]]
    # Reading is not writing.
    refused = await client.patch(
        url, json={"title": "x"}, headers={**callers.headers("employee"), "If-Match": "*"}
    )
    assert refused.status_code == 403


async def test_publishing_twice_is_a_conflict(client, callers):
    draft = await create(client, callers, **VALUE_TRANSLATION)
    url = f"/api/v1/messages/{draft['id']}/publish"
    unsubmitted = await client.post(url, headers=callers.headers("admin"))
    assert unsubmitted.status_code == 409, unsubmitted.text  # a draft is submitted first
    await submit(client, callers, draft["id"])
    first = await client.post(url, headers=callers.headers("admin"))
    assert first.status_code == 200
    second = await client.post(url, headers=callers.headers("editor"))
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    current = await client.get(f"/api/v1/messages/{draft['id']}", headers=callers.headers("editor"))
    assert current.json()["published_at"] == first.json()["published_at"]
    assert current.headers["etag"] == first.headers["etag"]


# --- change -------------------------------------------------------------------------------------


async def test_patch_requires_if_match_and_refuses_stale_writes(client, callers):
    created = await client.post("/api/v1/messages", json=VALUE_TRANSLATION, headers=callers.headers("editor"))
    url = created.headers["location"]
    etag = created.headers["etag"]
    admin = callers.headers("admin")

    missing = await client.patch(url, json={"title": "新しい題"}, headers=admin)
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"

    changed = await client.patch(
        url, json={"title": "請求書入力を週3時間短縮"}, headers={**admin, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != etag
    assert changed.json()["title"] == "請求書入力を週3時間短縮"
    assert changed.json()["last_editor_id"] == str(callers.people["admin"].id)
    assert changed.json()["author_id"] == str(callers.people["editor"].id)
    assert changed.json()["updated_at"] > created.json()["updated_at"]
    assert not [w for w in changed.json()["warnings"] if w["field"] == "title"]  # now measured

    stale = await client.patch(url, json={"title": "上書き"}, headers={**admin, "If-Match": etag})
    assert stale.status_code == 412
    current = await client.get(url, headers=admin)
    assert current.json()["title"] == "請求書入力を週3時間短縮"  # the stale write changed nothing
    assert current.headers["etag"] == changed.headers["etag"]
    not_modified = await client.get(url, headers={**admin, "If-None-Match": changed.headers["etag"]})
    assert not_modified.status_code == 304

    # A PATCH that changes nothing keeps the version.
    same = await client.patch(
        url, json={"title": "請求書入力を週3時間短縮"}, headers={**admin, "If-Match": changed.headers["etag"]}
    )
    assert same.status_code == 200 and same.headers["etag"] == changed.headers["etag"]


async def test_update_keeps_the_rules_of_create(client, callers):
    created = await client.post("/api/v1/messages", json=VALUE_TRANSLATION, headers=callers.headers("editor"))
    url = created.headers["location"]
    headers = {**callers.headers("editor"), "If-Match": created.headers["etag"]}
    for body, fields in (
        ({"title": None}, {"title"}),
        ({"metric": None}, {"metric"}),
        ({"audiences": ["ghost"]}, {"audiences.0"}),
        ({"evidence_ids": [str(uuid.uuid4())]}, {"evidence_ids.0"}),
        ({"product_key": "no-such"}, {"product_key"}),
        ({"version": 3}, {"version"}),
    ):
        assert set(errors_by_field(await client.patch(url, json=body, headers=headers))) == fields, body
    key_message = await create(client, callers, kind="key_message", title="t")
    response = await client.patch(
        f"/api/v1/messages/{key_message['id']}",
        json={"kind": "value_translation", "feature_term": "多機能"},
        headers={**callers.headers("editor"), "If-Match": "*"},
    )
    assert set(errors_by_field(response)) == {"value_statement", "metric"}


async def test_a_failed_write_changes_nothing(app, client, callers):
    evidence = await make_evidence(app)
    created = await client.post(
        "/api/v1/messages",
        json={**VALUE_TRANSLATION, "evidence_ids": [evidence]},
        headers=callers.headers("editor"),
    )
    url = created.headers["location"]
    headers = {**callers.headers("editor"), "If-Match": created.headers["etag"]}
    response = await client.patch(
        url,
        json={"title": "変更", "evidence_ids": [str(uuid.uuid4())], "audiences": ["all"]},
        headers=headers,
    )
    assert response.status_code == 422
    current = await client.get(url, headers=callers.headers("editor"))
    assert current.json() == created.json()
    assert current.headers["etag"] == created.headers["etag"]

    stale_publish = await client.post(
        f"{url}/publish", headers={**callers.headers("editor"), "If-Match": '"v99"'}
    )
    assert stale_publish.status_code == 412
    assert (await client.get(url, headers=callers.headers("editor"))).json()["status"] == "draft"


async def test_publishing_and_editing_reassemble_the_pitch(app, client, callers):
    product = await make_product(app)
    brief = await make_brief(app, callers.people["editor"], product.key, status="published")
    pitch_url = f"/api/v1/pitch/{product.key}?locale=ja"
    before = await client.get(pitch_url, headers=callers.headers("employee"))
    assert before.status_code == 200, before.text
    assert before.json()["value_translations"] == []

    draft = await create(client, callers, **VALUE_TRANSLATION, brief_id=str(brief.id))
    assert (await client.get(pitch_url, headers=callers.headers("employee"))).json()[
        "value_translations"
    ] == []

    await submit(client, callers, draft["id"])
    published = await client.post(f"/api/v1/messages/{draft['id']}/publish", headers=callers.headers("admin"))
    pitch = (await client.get(pitch_url, headers=callers.headers("employee"))).json()
    assert [m["value_statement"] for m in pitch["value_translations"]] == ["請求書の入力時間を週3時間削減"]

    # What is published is not edited in place: PATCH is a 409 and nothing changes.
    refused = await client.patch(
        f"/api/v1/messages/{draft['id']}",
        json={"value_statement": "請求書の入力時間を週4時間削減"},
        headers={**callers.headers("editor"), "If-Match": published.headers["etag"]},
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    # The next version: a new id, the same lineage; the published one stays in the pitch meanwhile.
    revised = await client.post(f"/api/v1/messages/{draft['id']}/revise", headers=callers.headers("editor"))
    assert revised.status_code == 201, revised.text
    v2 = revised.json()
    assert v2["id"] != draft["id"] and v2["lineage_id"] == draft["id"]
    assert v2["version"] == 2 and v2["status"] == "draft" and v2["change"] == "substantive"
    edited = await client.patch(
        f"/api/v1/messages/{v2['id']}",
        json={"value_statement": "請求書の入力時間を週4時間削減"},
        headers={**callers.headers("editor"), "If-Match": revised.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    pitch = (await client.get(pitch_url, headers=callers.headers("employee"))).json()
    assert [m["value_statement"] for m in pitch["value_translations"]] == ["請求書の入力時間を週3時間削減"]
    await submit(client, callers, v2["id"])
    approved = await client.post(f"/api/v1/messages/{v2['id']}/approve", headers=callers.headers("admin"))
    assert approved.status_code == 200, approved.text
    pitch = (await client.get(pitch_url, headers=callers.headers("employee"))).json()
    assert [m["value_statement"] for m in pitch["value_translations"]] == ["請求書の入力時間を週4時間削減"]
    assert [m["id"] for m in pitch["value_translations"]] == [v2["id"]]
    first = await client.get(f"/api/v1/messages/{draft['id']}", headers=callers.headers("editor"))
    assert first.json()["status"] == "superseded"

    # A company-wide message shows in every pitch of its locale.
    company = await create(client, callers, kind="key_message", locale="ja", title="全社: 時間を売る")
    await submit(client, callers, company["id"])
    await client.post(f"/api/v1/messages/{company['id']}/publish", headers=callers.headers("admin"))
    pitch = (await client.get(pitch_url, headers=callers.headers("employee"))).json()
    assert [m["title"] for m in pitch["key_messages"]] == ["全社: 時間を売る"]


# --- lint ---------------------------------------------------------------------------------------


async def test_lint_finds_feature_words_and_passes_outcomes(client, callers):
    response = await client.post(
        "/api/v1/messages/lint",
        json={"locale": "ja", "text": "高性能で多機能"},
        headers=callers.headers("employee"),
    )
    assert response.status_code == 200, response.text
    findings = response.json()["findings"]
    assert [(f["start"], f["end"], f["word"]) for f in findings] == [(0, 3, "高性能"), (4, 7, "多機能")]
    assert all(f["message"] for f in findings)

    outcome = await client.post(
        "/api/v1/messages/lint",
        json={"locale": "ja", "text": "請求書の入力時間を週3時間減らします。"},
        headers=callers.headers("svc_pitch"),
    )
    assert outcome.json() == {"findings": []}
    english = await client.post(
        "/api/v1/messages/lint",
        json={"text": "A powerful, easy-to-use app."},
        headers=callers.headers("editor"),
    )
    assert english.json()["findings"]
    anonymous = await client.post("/api/v1/messages/lint", json={"locale": "ja", "text": "高性能"})
    assert anonymous.status_code == 401
    refused = await client.post(
        "/api/v1/messages/lint", json={"text": "x", "extra": 1}, headers=callers.headers("editor")
    )
    assert refused.status_code == 422


# --- lists --------------------------------------------------------------------------------------


async def test_list_filters_by_kind_audience_status_and_locale(app, client, callers):
    await make_department(app, key="sales")
    await make_department(app, key="support")
    product = await make_product(app)
    translation = await create(
        client, callers, **VALUE_TRANSLATION, audiences=["sales"], product_key=product.key
    )
    for_all = await create(client, callers, kind="key_message", title="全員へ", audiences=["all"])
    for_support = await create(client, callers, kind="key_message", title="サポートへ", audiences=["support"])
    faq = await create(client, callers, kind="faq", title="FAQ", audiences=["sales", "support"], locale="en")
    await submit(client, callers, faq["id"])
    await client.post(f"/api/v1/messages/{faq['id']}/publish", headers=callers.headers("admin"))

    async def ids(caller="editor", **params):
        response = await client.get("/api/v1/messages", params=params, headers=callers.headers(caller))
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["items"]]

    assert await ids(kind="value_translation") == [translation["id"]]
    assert await ids(kind="key_message") == [for_all["id"], for_support["id"]]
    assert await ids(audience="sales") == [translation["id"], for_all["id"], faq["id"]]
    assert await ids(audience="support") == [for_all["id"], for_support["id"], faq["id"]]
    assert await ids(audience="all") == [for_all["id"]]
    assert await ids(audience="nobody") == [for_all["id"]]  # what everyone sees
    assert await ids(status="published") == [faq["id"]]
    assert await ids(status="draft") == [translation["id"], for_all["id"], for_support["id"]]
    assert await ids(locale="ja") == [translation["id"]]
    assert await ids(product_key=product.key) == [translation["id"]]
    assert await ids(product_key="no-such") == []
    assert await ids(kind="faq", audience="sales", status="published") == [faq["id"]]
    # Employees see published messages only, whatever they ask for.
    assert await ids("employee") == [faq["id"]]
    assert await ids("employee", status="draft") == []
    for bad in ({"kind": "poem"}, {"status": "archived"}, {"audience": "Sales!"}, {"limit": 201}):
        response = await client.get("/api/v1/messages", params=bad, headers=callers.headers("editor"))
        assert response.status_code == 422, bad


async def test_pages_walk_every_message_once_with_link_headers(client, callers):
    created = [
        (await create(client, callers, kind="talking_point", title=f"話題 {n}"))["id"] for n in range(5)
    ]
    seen: list[str] = []
    url: str | None = "/api/v1/messages?limit=2"
    pages = 0
    while url:
        response = await client.get(url, headers=callers.headers("editor"))
        assert response.status_code == 200
        page = response.json()
        seen += [m["id"] for m in page["items"]]
        pages += 1
        if page["next_cursor"]:
            link = response.headers["link"]
            assert link.endswith('>; rel="next"') and f"cursor={page['next_cursor']}" in link
            url = link[1 : link.index(">")]
        else:
            assert "link" not in response.headers
            url = None
    assert seen == created
    assert pages == 3
    bad = await client.get("/api/v1/messages?cursor=not-a-cursor", headers=callers.headers("editor"))
    assert bad.status_code == 422
