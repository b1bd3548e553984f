"""The filer's feed over REST: the people who listened see the loop close on what they heard."""

from __future__ import annotations

from datetime import datetime

from tests.factories import bearer, make_person, service_token, token_for
from tests.feedback.test_loop import filed_feedback_id, move
from tests.messages.test_messages import published_message_id

HEARD = "見積もりの段階で『会計ソフトのfreeeに対応しているか』と毎回聞かれる。対応していれば決まっていた案件が3件あった。"


async def feed(client, headers) -> list[dict]:
    response = await client.get("/api/v1/me/feed", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items"}
    return body["items"]


async def test_the_filer_named_by_an_integration_sees_the_whole_loop(app, client, callers):
    seller = await make_person(app, role="employee", email="tanaka.seller@example.com")
    seller_headers = bearer(token_for(app, seller))
    crm = bearer(await service_token(app, client, "feedback:write"))
    filed = await client.post(
        "/api/v1/feedback/batch",
        json={
            "items": [
                {
                    "source": "sales",
                    "external_id": "OPP-4711",
                    "body": HEARD,
                    "filed_by_email": "Tanaka.Seller@example.com",
                    "customer": {"account": "株式会社あおば", "segment": "smb"},
                }
            ]
        },
        headers=crm,
    )
    assert filed.json()["created"] == 1, filed.text

    (entry,) = await feed(client, seller_headers)
    assert entry["kind"] == "feedback_loop"
    assert entry["status"] == "new" and entry["transitions"] == [] and entry["announcement"] is None
    assert entry["excerpt"] == HEARD  # short enough to show whole
    item_id = entry["feedback_id"]

    editor = callers.headers("editor")
    await move(client, editor, item_id, to="triaged", note="会計連携テーマへ")
    await move(
        client, editor, item_id, to="decided", decision="build", rationale="失注3件", note="来月リリース"
    )
    await move(client, editor, item_id, to="implemented")
    message_id = await published_message_id(app)
    announced = await move(
        client, editor, item_id, to="announced", message_id=message_id, note="営業へ展開済み"
    )
    assert announced.status_code == 200, announced.text

    (entry,) = await feed(client, seller_headers)
    assert entry["feedback_id"] == item_id
    assert entry["status"] == "announced"
    assert entry["decision"] == "build" and entry["rationale"] == "失注3件"
    steps = [(t["to"], t["note"], t["decision"]) for t in entry["transitions"]]
    assert steps == [
        ("triaged", "会計連携テーマへ", None),
        ("decided", "来月リリース", "build"),
        ("implemented", None, None),
        ("announced", "営業へ展開済み", None),
    ]
    times = [datetime.fromisoformat(t["at"]) for t in entry["transitions"]]
    assert times == sorted(times)
    assert entry["announcement"] == {"message_id": message_id, "title": "私たちはお客様の仕事を速くする"}
    assert entry["stage_due_at"] is None and entry["overdue"] is False
    assert datetime.fromisoformat(entry["at"]) == times[-1]

    # Nobody else sees it in their feed: not the editor who moved it, not another employee.
    assert await feed(client, editor) == []
    assert await feed(client, callers.headers("employee")) == []


async def test_the_feed_shows_the_callers_own_items_newest_news_first(app, client, callers):
    me = callers.people["employee"]
    older = await filed_feedback_id(app, me, body="古い声")
    newer = await filed_feedback_id(app, me, body="新しい声")
    await filed_feedback_id(app, await make_person(app, role="employee"), body="他人の声")
    headers = callers.headers("employee")
    assert [e["feedback_id"] for e in await feed(client, headers)] == [newer, older]

    await move(client, callers.headers("editor"), older, to="triaged")  # news moves it up
    assert [e["feedback_id"] for e in await feed(client, headers)] == [older, newer]
    limited = await client.get("/api/v1/me/feed", params={"limit": 1}, headers=headers)
    assert [e["feedback_id"] for e in limited.json()["items"]] == [older]


async def test_long_bodies_are_cut_to_an_excerpt(app, client, callers):
    body = "月末の請求書処理で" + "とても" * 100 + "困っている。"
    await filed_feedback_id(app, callers.people["employee"], body=body)
    (entry,) = await feed(client, callers.headers("employee"))
    assert len(entry["excerpt"]) == 140 and entry["excerpt"].endswith("…")
    assert body.startswith(entry["excerpt"][:-1])


async def test_service_accounts_have_no_feed(app, client, callers):
    for caller in ("svc_pitch", "svc_people"):
        assert (await client.get("/api/v1/me/feed", headers=callers.headers(caller))).status_code == 403
    writer = bearer(await service_token(app, client, "feedback:write"))
    assert (await client.get("/api/v1/me/feed", headers=writer)).status_code == 403
    assert (await client.get("/api/v1/me/feed")).status_code == 401
    assert (
        await client.get("/api/v1/me/feed", params={"limit": 500}, headers=callers.headers("admin"))
    ).status_code == 422
