"""Feedback ingest over REST: one item, batches (upsert, per-item errors, re-sends), the
Idempotency-Key, and who may file on whose behalf."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from service.feedback.models import FeedbackItem
from tests.factories import bearer, make_person, make_product, service_token, token_for, unique

JA_BODY = "請求書の読み取りが遅く、月末に画面が固まる。手書きの請求書にも対応してほしい。"


def ticket(**overrides: Any) -> dict[str, Any]:
    """A support ticket as a support tool sends it."""
    return {
        "source": "support",
        "external_id": unique("T"),
        "body": JA_BODY,
        "customer": {"account": "株式会社みどり商事", "segment": "mid-market"},
        "tags": ["請求書", "速度"],
        "received_at": "2026-11-20T09:30:00+09:00",
        **overrides,
    }


async def stored(app, **where: Any) -> list[FeedbackItem]:
    async with app.state.sessionmaker() as session:
        stmt = sa.select(FeedbackItem).filter_by(**where).order_by(FeedbackItem.created_at, FeedbackItem.id)
        return list((await session.execute(stmt)).scalars())


async def count_items(app) -> int:
    async with app.state.sessionmaker() as session:
        return (await session.execute(sa.select(sa.func.count()).select_from(FeedbackItem))).scalar_one()


async def batch(client, headers, items, **kwargs) -> dict[str, Any]:
    response = await client.post("/api/v1/feedback/batch", json={"items": items}, headers=headers, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


async def ingest_headers(app, client) -> dict[str, str]:
    return bearer(await service_token(app, client, "feedback:write"))


# --- one item -----------------------------------------------------------------------------------


async def test_an_employee_files_japanese_feedback_and_is_its_filer(app, client, callers):
    response = await client.post(
        "/api/v1/feedback",
        json={"source": "sales", "body": JA_BODY, "received_at": "2026-11-20T09:30:00+09:00"},
        headers=callers.headers("employee"),
    )
    assert response.status_code == 201, response.text
    item = response.json()
    assert response.headers["location"] == f"/api/v1/feedback/{item['id']}"
    assert response.headers["etag"] == '"v1"'
    assert item["body"] == JA_BODY  # round-trips as written
    assert item["external_id"].startswith("cuecard:")  # made by the service, in the people's key space
    assert item["filed_by_id"] == str(callers.people["employee"].id)
    assert item["status"] == "new" and item["decision"] is None
    assert item["received_at"] == "2026-11-20T00:30:00Z"
    assert item["customer"] == {"account": None, "segment": None}

    fetched = await client.get(f"/api/v1/feedback/{item['id']}", headers=callers.headers("employee"))
    assert fetched.status_code == 200
    assert fetched.json() == item
    again = await client.get(
        f"/api/v1/feedback/{item['id']}",
        headers={**callers.headers("employee"), "If-None-Match": fetched.headers["etag"]},
    )
    assert again.status_code == 304

    (row,) = await stored(app)
    assert row.body == JA_BODY and row.filed_by_client is None
    assert len(row.content_hash) == 64


async def test_without_an_external_id_each_post_is_a_new_item(app, client, callers):
    for _ in range(2):
        response = await client.post(
            "/api/v1/feedback",
            json={"source": "other", "body": "同じ声"},
            headers=callers.headers("employee"),
        )
        assert response.status_code == 201
    assert await count_items(app) == 2


async def test_the_same_external_id_again_is_unchanged_or_updated_never_a_second_row(app, client, callers):
    headers = await ingest_headers(app, client)
    body = ticket()
    first = await client.post("/api/v1/feedback", json=body, headers=headers)
    assert first.status_code == 201

    same = await client.post("/api/v1/feedback", json=body, headers=headers)
    assert same.status_code == 200, same.text
    assert same.json() == first.json()  # unchanged: same revision, same times

    edited = await client.post(
        "/api/v1/feedback", json={**body, "body": "追記: 再起動で直った"}, headers=headers
    )
    assert edited.status_code == 200
    assert edited.json()["id"] == first.json()["id"]
    assert edited.json()["body"] == "追記: 再起動で直った"
    assert edited.json()["revision"] == 2
    assert edited.headers["etag"] == '"v2"'
    assert await count_items(app) == 1


async def test_nps_without_a_score_is_refused(app, client, callers):
    response = await client.post(
        "/api/v1/feedback", json={"source": "nps", "body": "まあまあ"}, headers=callers.headers("employee")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["nps_score"]
    assert await count_items(app) == 0


async def test_unknown_product_and_naive_times_are_refused_with_the_field(app, client, callers):
    response = await client.post(
        "/api/v1/feedback",
        json={"source": "sales", "body": "x", "product_key": "no-such", "received_at": "2026-11-20T09:30:00"},
        headers=callers.headers("editor"),
    )
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == {"product_key", "received_at"}
    assert await count_items(app) == 0


def heard(**overrides: Any) -> dict[str, Any]:
    """What a person heard first-hand and files themself (no key: the service makes one)."""
    return {"source": "sales", "body": JA_BODY, "customer": {"account": "株式会社みどり商事"}, **overrides}


async def test_only_integrations_editors_and_admins_name_the_filer(app, client, callers):
    heard_by = callers.people["manager"]
    body = heard(filed_by_email=heard_by.email)
    refused = await client.post("/api/v1/feedback", json=body, headers=callers.headers("employee"))
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["filed_by_email"]
    refused = await client.post("/api/v1/feedback", json=body, headers=callers.headers("manager"))
    assert refused.status_code == 201  # naming oneself is no one else
    assert refused.json()["filed_by_id"] == str(heard_by.id)

    other = callers.people["employee"]
    for caller in ("editor", "admin"):
        named = await client.post(
            "/api/v1/feedback",
            json=heard(filed_by_email=other.email.upper()),
            headers=callers.headers(caller),
        )
        assert named.status_code == 201, named.text
        assert named.json()["filed_by_id"] == str(other.id)
    unknown = await client.post(
        "/api/v1/feedback",
        json=heard(filed_by_email="nobody@example.com"),
        headers=callers.headers("editor"),
    )
    # An editor reads the directory anyway, so being told of a typo reveals nothing new (an
    # integration is not told: tests/feedback/test_security.py).
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["filed_by_email"]


async def test_an_employee_cannot_overwrite_someone_elses_item_by_its_key(app, client, callers):
    """People never choose keys, so the same words from a colleague are the colleague's own item;
    the filer's re-sent batch updates only their own."""
    body = heard()
    mine = await batch(client, callers.headers("employee"), [body])
    assert mine["created"] == 1
    colleague = await make_person(app, role="employee")
    theirs = await batch(client, bearer(token_for(app, colleague)), [body])
    assert theirs["created"] == 1 and theirs["errors"] == []
    rows = await stored(app)
    assert {r.filed_by_id for r in rows} == {callers.people["employee"].id, colleague.id}
    assert all(r.external_id.startswith("cuecard:") for r in rows)
    assert len({r.external_id for r in rows}) == 2
    # Re-sending adds nothing and touches no one else's item.
    again = await batch(client, callers.headers("employee"), [body])
    assert (again["created"], again["unchanged"]) == (0, 1)
    assert await count_items(app) == 2


async def test_integrations_without_feedback_write_may_not_file(app, client, callers):
    for caller in ("svc_pitch", "svc_people"):
        response = await client.post("/api/v1/feedback", json=ticket(), headers=callers.headers(caller))
        assert response.status_code == 403
    response = await client.post("/api/v1/feedback", json=ticket())
    assert response.status_code == 401


# --- batches ------------------------------------------------------------------------------------


async def test_a_mixed_batch_keeps_the_good_items_and_reports_the_bad_by_index(app, client):
    product = await make_product(app)
    heard_by = await make_person(app, role="employee")
    headers = await ingest_headers(app, client)
    items = [
        ticket(external_id="T-1", product_key=product.key, filed_by_email=heard_by.email),  # 0 good
        {"source": "nps", "external_id": "N-1", "body": "点数なし"},  # 1 nps without a score
        {"source": "nps", "external_id": "N-2", "body": "とても使いやすい", "nps_score": 10},  # 2 good
        ticket(external_id="T-2", product_key="no-such-product"),  # 3 unknown product
        ticket(external_id="T-3", filed_by_email="nobody@example.com"),  # 4 good: unknown filer, none
        "not an object",  # 5
        {"source": "fax", "external_id": "F-1", "body": "x", "surprise": True},  # 6 two problems
        ticket(external_id="T-4", body="   "),  # 7 empty body
        {"source": "survey", "body": "Reports are hard to find.", "tags": ["reports"]},  # 8 good, no id
    ]
    result = await batch(client, headers, items)
    assert (result["created"], result["updated"], result["unchanged"]) == (4, 0, 0)
    errors = {e["index"]: e for e in result["errors"]}
    assert sorted(errors) == [1, 3, 5, 6, 7]
    fields = {i: sorted(x["field"] for x in e["errors"]) for i, e in errors.items()}
    assert fields == {
        1: ["nps_score"],
        3: ["product_key"],
        5: [""],
        6: ["source", "surprise"],
        7: ["body"],
    }
    assert errors[1]["external_id"] == "N-1" and errors[5]["external_id"] is None
    assert errors[1]["errors"][0]["pointer"] == "#/items/1/nps_score"
    assert all({"field", "detail", "type"} <= set(x) for e in errors.values() for x in e["errors"])

    # A failed item writes nothing for that item; the good ones are all there.
    rows = await stored(app)
    assert sorted(r.external_id for r in rows if not r.external_id.startswith("auto-")) == [
        "N-2",
        "T-1",
        "T-3",
    ]
    assert len(rows) == 4
    assert next(r for r in rows if r.external_id == "T-3").filed_by_id is None
    t1 = next(r for r in rows if r.external_id == "T-1")
    assert t1.product_id == product.id and t1.filed_by_id == heard_by.id and t1.filed_by_client
    assert t1.body == JA_BODY and t1.tags == ["請求書", "速度"]
    assert t1.received_at == datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    assert t1.status == "new"


async def test_re_sending_a_batch_never_duplicates_and_reports_unchanged_or_updated(app, client):
    headers = await ingest_headers(app, client)
    items = [ticket(external_id=f"T-{n}") for n in range(5)]
    items.append({"source": "interview", "body": "なぜ選んだか: 設定が30分で終わったから"})  # no id
    first = await batch(client, headers, items)
    assert (first["created"], first["updated"], first["unchanged"], first["errors"]) == (6, 0, 0, [])

    again = await batch(client, headers, items)
    assert (again["created"], again["updated"], again["unchanged"], again["errors"]) == (0, 0, 6, [])
    assert await count_items(app) == 6

    # Key order and spacing do not matter: the content is compared, not the bytes.
    reordered = [dict(reversed(list(item.items()))) for item in items]
    assert (await batch(client, headers, reordered))["unchanged"] == 6

    before = {r.external_id: r for r in await stored(app)}
    items[2] = {**items[2], "body": "再現手順を追記: 100枚を超えると固まる"}
    edited = await batch(client, headers, items)
    assert (edited["created"], edited["updated"], edited["unchanged"]) == (0, 1, 5)
    after = {r.external_id: r for r in await stored(app)}
    assert after["T-2"].body.startswith("再現手順")
    assert after["T-2"].revision == 2 and after["T-2"].id == before["T-2"].id
    assert after["T-2"].updated_at > before["T-2"].updated_at
    assert after["T-1"].revision == 1 and after["T-1"].updated_at == before["T-1"].updated_at
    assert await count_items(app) == 6


async def test_an_edited_item_re_sent_is_unchanged_after_its_update(app, client, callers):
    """The update stores the new content's hash: re-sending the edit changes nothing more."""
    headers = await ingest_headers(app, client)
    items = [ticket(external_id="E-1"), ticket(external_id="E-2")]
    assert (await batch(client, headers, items))["created"] == 2
    items[0] = {**items[0], "body": "追記: 300枚で10分かかる", "tags": ["速度"]}
    edited = await batch(client, headers, items)
    assert (edited["created"], edited["updated"], edited["unchanged"]) == (0, 1, 1)
    again = await batch(client, headers, items)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    row = next(r for r in await stored(app) if r.external_id == "E-1")
    assert row.revision == 2 and row.body == "追記: 300枚で10分かかる"

    # The single-item door: 200 with the same revision, not a third one.
    one = ticket(external_id="E-3")
    assert (await client.post("/api/v1/feedback", json=one, headers=headers)).status_code == 201
    one["body"] = "再送: 直った"
    updated = await client.post("/api/v1/feedback", json=one, headers=headers)
    assert updated.status_code == 200 and updated.json()["revision"] == 2
    resent = await client.post("/api/v1/feedback", json=one, headers=headers)
    assert resent.status_code == 200 and resent.json()["revision"] == 2
    assert resent.headers["etag"] == updated.headers["etag"]

    # A person's own items too: their edit is a new item (no key to send), re-sent unchanged.
    person = callers.headers("employee")
    mine = [{"source": "sales", "body": "商談メモ"}]
    assert (await batch(client, person, mine))["created"] == 1
    assert (await batch(client, person, mine))["unchanged"] == 1


async def test_the_same_key_twice_in_one_batch_is_an_error_for_the_second(app, client):
    headers = await ingest_headers(app, client)
    items = [ticket(external_id="T-1"), ticket(external_id="T-1", body="二通目")]
    result = await batch(client, headers, items)
    assert result["created"] == 1
    assert [(e["index"], e["errors"][0]["type"]) for e in result["errors"]] == [(1, "duplicate")]
    assert (await stored(app))[0].body == JA_BODY


async def test_nps_without_a_score_is_refused_per_item_in_a_batch(app, client, callers):
    items = [
        {"source": "nps", "external_id": f"R-{score}", "body": "回答", "nps_score": score}
        for score in (0, 7, 10)
    ] + [{"source": "nps", "external_id": "R-none", "body": "回答"}]
    result = await batch(client, await ingest_headers(app, client), items)
    assert result["created"] == 3
    assert [(e["index"], e["errors"][0]["field"]) for e in result["errors"]] == [(3, "nps_score")]
    assert sorted(r.nps_score for r in await stored(app)) == [0, 7, 10]


async def test_a_batch_over_the_limit_is_refused_whole(app, client, callers):
    items = [{"source": "other", "body": "x"}] * 10_001
    response = await client.post(
        "/api/v1/feedback/batch", json={"items": items}, headers=callers.headers("editor")
    )
    assert response.status_code == 422
    assert await count_items(app) == 0


async def test_an_employees_batch_files_as_themself(app, client, callers):
    result = await batch(client, callers.headers("employee"), [heard(), heard(source="other")])
    assert result["created"] == 2
    assert {r.filed_by_id for r in await stored(app)} == {callers.people["employee"].id}


# --- Idempotency-Key ----------------------------------------------------------------------------


async def test_an_idempotency_key_replays_the_batch_and_refuses_another_body(app, client):
    headers = {**(await ingest_headers(app, client)), "Idempotency-Key": unique("batch")}
    items = [ticket(external_id=f"K-{n}") for n in range(3)]
    first = await client.post("/api/v1/feedback/batch", json={"items": items}, headers=headers)
    assert first.status_code == 200
    assert first.json()["created"] == 3

    replay = await client.post("/api/v1/feedback/batch", json={"items": items}, headers=headers)
    assert replay.status_code == 200
    assert replay.json() == first.json()  # the first response again, not "unchanged: 3"
    assert replay.headers["idempotent-replayed"] == "true"

    other = await client.post("/api/v1/feedback/batch", json={"items": items[:2]}, headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await count_items(app) == 3


async def test_concurrent_duplicates_with_one_key_run_once(app, client, callers):
    headers = {**callers.headers("employee"), "Idempotency-Key": unique("one")}
    body = {"source": "sales", "body": "競合製品より導入が早かった"}  # no external id: each run adds a row
    responses = await asyncio.gather(
        *(client.post("/api/v1/feedback", json=body, headers=headers) for _ in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses
    assert await count_items(app) == 1
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1  # replays carry the first response


async def test_a_replayed_single_post_is_the_first_response(app, client, callers):
    headers = {**callers.headers("employee"), "Idempotency-Key": unique("one")}
    body = {"source": "sales", "body": "値引きより導入支援を求められた"}
    first = await client.post("/api/v1/feedback", json=body, headers=headers)
    second = await client.post("/api/v1/feedback", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert await count_items(app) == 1


# --- who reads ----------------------------------------------------------------------------------


async def test_an_ingest_token_writes_but_does_not_read(app, client):
    headers = await ingest_headers(app, client)
    created = await client.post("/api/v1/feedback", json=ticket(), headers=headers)
    assert created.status_code == 201
    assert (await client.get("/api/v1/feedback", headers=headers)).status_code == 403
    assert (await client.get(f"/api/v1/feedback/{created.json()['id']}", headers=headers)).status_code == 403

    reader = bearer(await service_token(app, client, "feedback:read"))
    listed = await client.get("/api/v1/feedback", headers=reader)
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json()["items"]] == [created.json()["id"]]
    assert (await client.post("/api/v1/feedback", json=ticket(), headers=reader)).status_code == 403


async def test_received_times_default_to_now_and_triage_is_due_per_the_loop_target(app, client, callers):
    targets = app.state.settings.feedback_loop_targets
    before = datetime.now(UTC)
    response = await client.post(
        "/api/v1/feedback", json={"source": "other", "body": "x"}, headers=callers.headers("employee")
    )
    item = response.json()
    received = datetime.fromisoformat(item["received_at"])
    assert before <= received <= datetime.now(UTC)
    assert datetime.fromisoformat(item["stage_due_at"]) - received == timedelta(days=targets["triaged"])
    assert item["overdue"] is False

    old = await client.post(
        "/api/v1/feedback",
        json={"source": "other", "body": "y", "received_at": (before - timedelta(days=5)).isoformat()},
        headers=callers.headers("employee"),
    )
    assert old.json()["overdue"] is True  # received five days ago, never triaged


async def test_an_edit_re_sent_after_triage_keeps_the_stage_its_clock_and_the_filer(app, client, callers):
    heard_by = await make_person(app, role="employee")
    headers = await ingest_headers(app, client)
    item = ticket(external_id="T-9", filed_by_email=heard_by.email)
    await batch(client, headers, [item])
    (row,) = await stored(app)
    triaged = await client.post(
        f"/api/v1/feedback/{row.id}/transition", json={"to": "triaged"}, headers=callers.headers("editor")
    )
    due = triaged.json()["stage_due_at"]

    edited = {k: v for k, v in item.items() if k not in ("filed_by_email", "received_at")}
    result = await batch(client, headers, [{**edited, "body": "追記: 再現手順あり"}])
    assert result["updated"] == 1
    after = (await client.get(f"/api/v1/feedback/{row.id}", headers=callers.headers("editor"))).json()
    assert after["body"] == "追記: 再現手順あり"
    assert after["status"] == "triaged" and after["stage_due_at"] == due  # the loop's clock is not reset
    assert after["filed_by_id"] == str(heard_by.id)  # not named again: still who heard it
    assert after["received_at"] == triaged.json()["received_at"]  # not sent: kept
    assert after["revision"] == 3


async def test_content_hashes_stay_those_of_the_canonical_json_earlier_versions_stored(app, client):
    """A re-send after an upgrade must stay `unchanged`: the hash is of the item as sent, in
    `json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))` form, whatever
    encoder writes it now."""
    headers = await ingest_headers(app, client)
    items = [
        ticket(body='改行\nタブ\t制御\x01 引用" 逆斜線\\ 絵文字😀 \u2028 終わり'),
        {"source": "nps", "external_id": unique("N"), "body": "score sent as a float", "nps_score": 7.0},
        {"source": "nps", "external_id": unique("N"), "body": "zero", "nps_score": 0, "tags": []},
    ]
    assert (await batch(client, headers, items))["created"] == 3
    rows = {r.external_id: r for r in await stored(app)}
    for item in items:
        canonical = json.dumps(item, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        assert rows[item["external_id"]].content_hash == hashlib.sha256(canonical).hexdigest()
