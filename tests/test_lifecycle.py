"""What sales quotes is reviewed, scheduled and expiring (issue 15 items 2 and 3).

Through REST (and GraphQL where it mirrors) with real tokens on the real database. Time passing
is the worker's clock (`detect_due`) called with a `now` in the future rather than a sleep: a
brief approved with `publish_at` five seconds ahead is not in the pitch until then, and is
after; a message past its `expires_at` leaves the pitch. A withdrawn message vanishes from every
pitch at once (the pitch cache is invalidated, not waited out). Four eyes: neither the author
nor the last editor approves a brief or a message; a published message is never edited in place.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from service.events.catalogue import EventType
from service.events.clock import detect_due
from service.events.models import OutboxEvent
from service.evidence.freshness import today
from tests.factories import bearer, complete_brief, make_brief, make_person, make_product, token_for

KEY_MESSAGE = {
    "kind": "key_message",
    "locale": "ja",
    "title": "月末の残業をなくす",
    "body": "請求書の入力を週3時間減らします。",
}


async def editor_headers(app) -> tuple[dict[str, str], str]:
    person = await make_person(app, role="editor")
    return bearer(token_for(app, person)), str(person.id)


async def outbox_position(app) -> int:
    async with app.state.sessionmaker() as session:
        return (await session.execute(sa.select(sa.func.max(OutboxEvent.position)))).scalar() or 0


async def event_types_after(app, mark: int) -> list[str]:
    async with app.state.sessionmaker() as session:
        stmt = sa.select(OutboxEvent.type).where(OutboxEvent.position > mark).order_by(OutboxEvent.position)
        return list((await session.execute(stmt)).scalars())


async def create_message(client, headers, **body) -> dict:
    response = await client.post("/api/v1/messages", json={**KEY_MESSAGE, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def submit_message(client, headers, message_id) -> dict:
    response = await client.post(f"/api/v1/messages/{message_id}/submit", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def published_message(client, author, approver, **body) -> dict:
    message = await create_message(client, author, **body)
    await submit_message(client, author, message["id"])
    response = await client.post(f"/api/v1/messages/{message['id']}/approve", headers=approver)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "published"
    return response.json()


async def pitch(client, headers, product_key: str):
    return await client.get(f"/api/v1/pitch/{product_key}?locale=ja", headers=headers)


async def make_expired_evidence(client, headers) -> str:
    response = await client.post(
        "/api/v1/evidence",
        json={
            "kind": "quote",
            "claim": "「入力がほぼゼロになった」",
            "source": "導入企業アンケート",
            "verify_by": (today() - timedelta(days=2)).isoformat(),
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["expired"] is True
    return str(response.json()["id"])


# --- scheduled publishing -----------------------------------------------------------------------


async def test_a_brief_approved_with_publish_at_five_seconds_ahead_is_not_in_the_pitch_then_is(
    app, client, callers
):
    product = await make_product(app)
    brief = await make_brief(app, callers.people["editor"], product.key, status="in_review")
    employee = callers.headers("employee")
    publish_at = datetime.now(UTC) + timedelta(seconds=5)

    approved = await client.post(
        f"/api/v1/briefs/{brief.id}/approve",
        json={"publish_at": publish_at.isoformat()},
        headers=callers.headers("manager"),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "scheduled"
    assert approved.json()["published_at"] is None
    assert datetime.fromisoformat(approved.json()["publish_at"]) == publish_at
    assert approved.json()["published_by_id"] == str(callers.people["manager"].id)
    # Not live: nothing is published for the product, and employees do not see the brief.
    assert (await pitch(client, employee, product.key)).status_code == 404
    assert (await client.get(f"/api/v1/briefs/{brief.id}", headers=employee)).status_code == 404

    mark = await outbox_position(app)
    await detect_due(app.state.sessionmaker, now=publish_at - timedelta(seconds=1))
    assert (await pitch(client, employee, product.key)).status_code == 404
    assert EventType.BRIEF_PUBLISHED.value not in await event_types_after(app, mark)

    await detect_due(app.state.sessionmaker, now=publish_at + timedelta(seconds=1))
    live = await pitch(client, employee, product.key)
    assert live.status_code == 200, live.text
    assert live.json()["brief_id"] == str(brief.id)
    # The events fire when it goes live, the cause before its effect.
    assert await event_types_after(app, mark) == [
        EventType.BRIEF_PUBLISHED.value,
        EventType.PITCH_CHANGED.value,
    ]
    read = (await client.get(f"/api/v1/briefs/{brief.id}", headers=employee)).json()
    assert read["status"] == "published" and read["publish_at"] is None
    assert datetime.fromisoformat(read["published_at"]) == publish_at + timedelta(seconds=1)
    # Exactly once: the clock running again changes nothing.
    mark = await outbox_position(app)
    await detect_due(app.state.sessionmaker, now=publish_at + timedelta(seconds=2))
    assert EventType.BRIEF_PUBLISHED.value not in await event_types_after(app, mark)


async def test_a_scheduled_version_switches_the_pitch_at_its_time(app, client, callers):
    product = await make_product(app)
    v1 = await make_brief(app, callers.people["editor"], product.key, status="published")
    employee = callers.headers("employee")
    editor = callers.headers("editor")
    revised = await client.post(f"/api/v1/briefs/{v1.id}/revise", headers=editor)
    assert revised.status_code == 201, revised.text
    v2 = revised.json()
    patched = await client.patch(
        f"/api/v1/briefs/{v2['id']}",
        json={"title": "クラデスク 請求書AI 正式版"},
        headers={**editor, "If-Match": revised.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert (await client.post(f"/api/v1/briefs/{v2['id']}/submit", headers=editor)).status_code == 200
    publish_at = datetime.now(UTC) + timedelta(minutes=10)
    # The GraphQL mutation mirrors REST.
    query = (
        f'mutation {{ approveBrief(id: "{v2["id"]}", input: {{publishAt: "{publish_at.isoformat()}"}}) '
        "{ status publishAt } }"
    )
    response = await client.post("/graphql", json={"query": query}, headers=callers.headers("admin"))
    assert response.json()["data"]["approveBrief"]["status"] == "SCHEDULED", response.text

    before = await pitch(client, employee, product.key)
    assert before.json()["version"] == 1
    await detect_due(app.state.sessionmaker, now=publish_at + timedelta(seconds=1))
    after = await pitch(
        client,
        employee,
        product.key,
    )
    assert after.json()["version"] == 2 and after.json()["title"] == "クラデスク 請求書AI 正式版"
    old = await client.get(f"/api/v1/briefs/{v1.id}", headers=editor)
    assert old.json()["status"] == "superseded"


async def test_publish_at_must_be_in_the_future_and_carry_an_offset(app, client, callers):
    product = await make_product(app)
    brief = await make_brief(app, callers.people["editor"], product.key, status="in_review")
    url = f"/api/v1/briefs/{brief.id}/approve"
    manager = callers.headers("manager")
    past = await client.post(
        url, json={"publish_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}, headers=manager
    )
    assert past.status_code == 422, past.text
    assert past.headers["content-type"] == "application/problem+json"
    naive = await client.post(url, json={"publish_at": "2030-01-01T09:00:00"}, headers=manager)
    assert naive.status_code == 422, naive.text
    unknown = await client.post(url, json={"publish_now": True}, headers=manager)
    assert unknown.status_code == 422, unknown.text
    # Nothing changed.
    assert (await client.get(f"/api/v1/briefs/{brief.id}", headers=manager)).json()["status"] == "in_review"


async def test_a_scheduled_message_goes_live_at_its_time(app, client, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    employee = callers.headers("employee")
    message = await create_message(client, callers.headers("editor"), product_key=product.key)
    await submit_message(client, callers.headers("editor"), message["id"])
    publish_at = datetime.now(UTC) + timedelta(seconds=5)
    scheduled = await client.post(
        f"/api/v1/messages/{message['id']}/approve",
        json={"publish_at": publish_at.isoformat()},
        headers=callers.headers("admin"),
    )
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    assert (await pitch(client, employee, product.key)).json()["key_messages"] == []

    mark = await outbox_position(app)
    await detect_due(app.state.sessionmaker, now=publish_at + timedelta(seconds=1))
    shown = (await pitch(client, employee, product.key)).json()["key_messages"]
    assert [m["id"] for m in shown] == [message["id"]]
    assert await event_types_after(app, mark) == [
        EventType.MESSAGE_PUBLISHED.value,
        EventType.PITCH_CHANGED.value,
    ]


# --- withdrawal and expiry ----------------------------------------------------------------------


async def test_a_withdrawn_message_vanishes_from_the_pitch(app, client, callers):
    products = [await make_product(app) for _ in range(2)]
    for product in products:
        await make_brief(app, callers.people["editor"], product.key, status="published")
    crm = bearer(token_for(app, await make_person(app)))
    editor = callers.headers("editor")
    # A company-wide message: every pitch of its locale shows it.
    message = await published_message(client, editor, callers.headers("admin"))
    cached = {}
    for product in products:
        shown = await pitch(client, crm, product.key)  # read (and cached) before the withdrawal
        assert [m["id"] for m in shown.json()["key_messages"]] == [message["id"]]
        cached[product.key] = shown.headers["etag"]

    # Refused: readers may not withdraw (403); a draft is not withdrawn (409).
    refused = await client.post(
        f"/api/v1/messages/{message['id']}/withdraw", headers=callers.headers("employee")
    )
    assert refused.status_code == 403, refused.text
    draft = await create_message(client, editor)
    not_published = await client.post(f"/api/v1/messages/{draft['id']}/withdraw", headers=editor)
    assert not_published.status_code == 409, not_published.text

    withdrawn = await client.post(f"/api/v1/messages/{message['id']}/withdraw", headers=editor)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn" and withdrawn.json()["withdrawn_at"] is not None
    for product in products:
        shown = await client.get(
            f"/api/v1/pitch/{product.key}?locale=ja", headers={**crm, "If-None-Match": cached[product.key]}
        )
        assert shown.status_code == 200, shown.text  # changed: not a 304 from the cache
        assert shown.json()["key_messages"] == []
    # Gone for readers too; editors still see it, withdrawn.
    assert (await client.get(f"/api/v1/messages/{message['id']}", headers=crm)).status_code == 404
    again = await client.post(f"/api/v1/messages/{message['id']}/withdraw", headers=editor)
    assert again.status_code == 409


async def test_a_message_past_its_expiry_leaves_the_pitch(app, client, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    employee = callers.headers("employee")
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    message = await published_message(
        client,
        callers.headers("editor"),
        callers.headers("admin"),
        product_key=product.key,
        expires_at=expires_at.isoformat(),
    )
    assert datetime.fromisoformat(message["expires_at"]) == expires_at
    assert [m["id"] for m in (await pitch(client, employee, product.key)).json()["key_messages"]] == [
        message["id"]
    ]
    await detect_due(app.state.sessionmaker, now=expires_at + timedelta(seconds=1))
    assert (await pitch(client, employee, product.key)).json()["key_messages"] == []
    read = await client.get(f"/api/v1/messages/{message['id']}", headers=callers.headers("editor"))
    assert read.json()["status"] == "expired"


async def test_an_expiry_in_the_past_is_refused(client, callers):
    response = await client.post(
        "/api/v1/messages",
        json={**KEY_MESSAGE, "expires_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
        headers=callers.headers("editor"),
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["expires_at"]


# --- four eyes ----------------------------------------------------------------------------------


async def test_a_message_cannot_be_published_by_its_last_editor(app, client, callers):
    author = callers.headers("editor")
    last_editor, last_editor_id = await editor_headers(app)
    created = await client.post("/api/v1/messages", json=KEY_MESSAGE, headers=author)
    message = created.json()
    url = f"/api/v1/messages/{message['id']}"
    edited = await client.patch(
        url,
        json={"body": "入力作業を週3時間減らします。"},
        headers={**last_editor, "If-Match": created.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["last_editor_id"] == last_editor_id
    await submit_message(client, author, message["id"])

    for path in ("publish", "approve"):
        for who in (last_editor, author):
            refused = await client.post(f"{url}/{path}", headers=who)
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
    query = f'mutation {{ approveMessage(id: "{message["id"]}") {{ status }} }}'
    refused = await client.post("/graphql", json={"query": query}, headers=last_editor)
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await client.get(url, headers=author)).json()["status"] == "in_review"

    approved = await client.post(f"{url}/publish", headers=callers.headers("admin"))  # a third person
    assert approved.status_code == 200, approved.text
    assert approved.json()["published_by_id"] == str(callers.people["admin"].id)


async def test_the_author_of_a_brief_never_approves_it_nor_its_last_editor(app, client, callers):
    product = await make_product(app)
    author = await make_person(app, role="editor")
    brief = await make_brief(app, author, product.key)
    colleague, _ = await editor_headers(app)
    read = await client.get(f"/api/v1/briefs/{brief.id}", headers=colleague)
    edited = await client.patch(
        f"/api/v1/briefs/{brief.id}",
        json={"title": "同僚が直した題"},
        headers={**colleague, "If-Match": read.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    author_headers = bearer(token_for(app, author))
    assert (await client.post(f"/api/v1/briefs/{brief.id}/submit", headers=author_headers)).status_code == 200
    for who in (author_headers, colleague):  # the author, though a colleague touched it last
        refused = await client.post(f"/api/v1/briefs/{brief.id}/approve", headers=who)
        assert refused.status_code == 403, refused.text
    assert (
        await client.post(f"/api/v1/briefs/{brief.id}/approve", headers=callers.headers("manager"))
    ).status_code == 200


async def test_a_published_message_is_immutable_and_revised_by_version(app, client, callers):
    editor = callers.headers("editor")
    message = await published_message(client, editor, callers.headers("admin"))
    read = await client.get(f"/api/v1/messages/{message['id']}", headers=editor)
    refused = await client.patch(
        f"/api/v1/messages/{message['id']}",
        json={"title": "書き換え"},
        headers={**editor, "If-Match": read.headers["etag"]},
    )
    assert refused.status_code == 409, refused.text
    assert (await client.get(f"/api/v1/messages/{message['id']}", headers=editor)).json()[
        "title"
    ] == KEY_MESSAGE["title"]
    revised = await client.post(
        f"/api/v1/messages/{message['id']}/revise", json={"change": "minor"}, headers=editor
    )
    assert revised.status_code == 201, revised.text
    v2 = revised.json()
    assert (v2["lineage_id"], v2["version"], v2["change"], v2["status"]) == (
        message["lineage_id"],
        2,
        "minor",
        "draft",
    )
    again = await client.post(f"/api/v1/messages/{message['id']}/revise", headers=editor)
    assert again.status_code == 409  # version 2 is open already

    # The history: editors see both versions, employees the published one only (REST and GraphQL).
    versions = await client.get(f"/api/v1/messages/{v2['id']}/versions", headers=editor)
    assert [(v["version"], v["status"]) for v in versions.json()["items"]] == [(1, "published"), (2, "draft")]
    employee = callers.headers("employee")
    versions = await client.get(f"/api/v1/messages/{message['id']}/versions", headers=employee)
    assert [v["id"] for v in versions.json()["items"]] == [message["id"]]
    assert (await client.get(f"/api/v1/messages/{v2['id']}/versions", headers=employee)).status_code == 404
    query = f'{{ message(id: "{message["id"]}") {{ versions {{ version status }} }} }}'
    response = await client.post("/graphql", json={"query": query}, headers=editor)
    assert response.json()["data"]["message"]["versions"] == [
        {"version": 1, "status": "PUBLISHED"},
        {"version": 2, "status": "DRAFT"},
    ]


# --- expired evidence ---------------------------------------------------------------------------


async def test_expired_evidence_blocks_approval_without_an_override_and_the_override_is_recorded(
    app, client, callers
):
    editor = callers.headers("editor")
    expired = await make_expired_evidence(client, editor)
    fresh = await client.post(
        "/api/v1/evidence", json={"kind": "metric", "claim": "週3時間減少", "source": "調査"}, headers=editor
    )
    message = await create_message(client, editor, evidence_ids=[fresh.json()["id"], expired])
    await submit_message(client, editor, message["id"])
    url = f"/api/v1/messages/{message['id']}/approve"
    admin = callers.headers("admin")

    refused = await client.post(url, headers=admin)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["expired_evidence_ids"] == [expired]
    assert (await client.get(f"/api/v1/messages/{message['id']}", headers=editor)).json()[
        "status"
    ] == "in_review"
    empty_reason = await client.post(url, json={"override_expired_evidence": {"reason": " "}}, headers=admin)
    assert empty_reason.status_code == 422, empty_reason.text

    reason = "顧客に再確認中。発表は予定どおり"
    approved = await client.post(url, json={"override_expired_evidence": {"reason": reason}}, headers=admin)
    assert approved.status_code == 200, approved.text
    override = approved.json()["expired_evidence_override"]
    assert override["reason"] == reason and override["evidence_ids"] == [expired]
    assert override["by"] == str(callers.people["admin"].id) and override["at"]
    stored = await client.get(f"/api/v1/messages/{message['id']}", headers=callers.headers("employee"))
    assert stored.json()["expired_evidence_override"] == override

    # Briefs: the same rule.
    product = await make_product(app)
    body = complete_brief(product.key, evidence=[{"id": expired}])
    brief = (await client.post("/api/v1/briefs", json=body, headers=editor)).json()
    assert (await client.post(f"/api/v1/briefs/{brief['id']}/submit", headers=editor)).status_code == 200
    refused = await client.post(f"/api/v1/briefs/{brief['id']}/approve", headers=callers.headers("manager"))
    assert refused.status_code == 409 and refused.json()["expired_evidence_ids"] == [expired]
    approved = await client.post(
        f"/api/v1/briefs/{brief['id']}/approve",
        json={"override_expired_evidence": {"reason": reason}},
        headers=callers.headers("manager"),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["expired_evidence_override"]["evidence_ids"] == [expired]


# --- replacing evidence cited by published content ---------------------------------------------


async def test_replacing_evidence_of_published_content_opens_a_minor_version_for_review(app, client, callers):
    editor = callers.headers("editor")
    product = await make_product(app)
    brief = await make_brief(app, callers.people["editor"], product.key, status="published")
    old = str(brief.evidence[0].id)
    message = await published_message(
        client, editor, callers.headers("admin"), product_key=product.key, evidence_ids=[old]
    )
    replacer, _ = await editor_headers(app)
    replaced = await client.post(
        f"/api/v1/evidence/{old}/replace",
        json={"kind": "metric", "claim": "導入20社で週3.5時間減少", "source": "2026年下期調査"},
        headers=replacer,
    )
    assert replaced.status_code == 201, replaced.text
    new = replaced.json()["id"]

    # What is published is unchanged.
    employee = callers.headers("employee")
    shown = (await pitch(client, employee, product.key)).json()
    assert [e["id"] for e in shown["evidence"]] == [old]
    assert (await client.get(f"/api/v1/messages/{message['id']}", headers=employee)).json()[
        "evidence_ids"
    ] == [old]

    # A minor version of each, in review, citing the new claim, written by the replacer.
    briefs = (await client.get(f"/api/v1/briefs/{brief.id}/versions", headers=editor)).json()["items"]
    assert [(b["version"], b["status"], b["change"]) for b in briefs] == [
        (1, "published", None),
        (2, "in_review", "minor"),
    ]
    assert [e["id"] for e in briefs[1]["evidence"]] == [new]
    messages = (await client.get("/api/v1/messages", params={"status": "in_review"}, headers=editor)).json()[
        "items"
    ]
    (v2,) = [m for m in messages if m["lineage_id"] == message["lineage_id"]]
    assert (v2["version"], v2["change"], v2["evidence_ids"]) == (2, "minor", [new])

    # Four eyes: the replacer does not approve; someone else does, and the pitch follows.
    assert (await client.post(f"/api/v1/messages/{v2['id']}/approve", headers=replacer)).status_code == 403
    assert (
        await client.post(f"/api/v1/briefs/{briefs[1]['id']}/approve", headers=replacer)
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/briefs/{briefs[1]['id']}/approve", headers=callers.headers("manager"))
    ).status_code == 200
    assert (
        await client.post(f"/api/v1/messages/{v2['id']}/approve", headers=callers.headers("admin"))
    ).status_code == 200
    shown = (await pitch(client, employee, product.key)).json()
    assert [e["id"] for e in shown["evidence"]] == [new]
    assert [m["id"] for m in shown["key_messages"]] == [v2["id"]]
    assert [e["id"] for e in shown["key_messages"][0]["evidence"]] == [new]
    assert uuid.UUID(v2["id"]) != uuid.UUID(message["id"])


# --- what follows the lineage's published version ------------------------------------------------


async def test_a_campaign_step_shows_the_published_version_of_its_message(app, client, callers):
    from tests.campaigns.helpers import make_campaign, soon

    editor = callers.headers("editor")
    v1 = await published_message(client, editor, callers.headers("admin"))
    person = await make_person(app, role="employee")
    me = bearer(token_for(app, person))
    await make_campaign(
        app,
        roles=["employee"],
        steps=[{"channel": "chat", "title": "新メッセージ", "at": soon(1), "message_id": v1["id"]}],
    )

    async def step_message() -> str | None:
        feed = (await client.get("/api/v1/me/feed", headers=me)).json()["items"]
        (step,) = [i for i in feed if i["kind"] == "campaign_step"]
        return step["message_id"]

    assert await step_message() == v1["id"]
    revised = (await client.post(f"/api/v1/messages/{v1['id']}/revise", headers=editor)).json()
    await submit_message(client, editor, revised["id"])
    assert await step_message() == v1["id"]  # v2 in review: the step still shows v1
    approved = await client.post(
        f"/api/v1/messages/{revised['id']}/approve", headers=callers.headers("admin")
    )
    assert approved.status_code == 200, approved.text
    assert await step_message() == revised["id"]
    await client.post(f"/api/v1/messages/{revised['id']}/withdraw", headers=editor)
    assert await step_message() is None  # nothing of it is published now


async def test_replacing_evidence_of_scheduled_content_sends_it_back_to_review(app, client, callers):
    product = await make_product(app)
    brief = await make_brief(app, callers.people["editor"], product.key, status="in_review")
    publish_at = datetime.now(UTC) + timedelta(minutes=5)
    scheduled = await client.post(
        f"/api/v1/briefs/{brief.id}/approve",
        json={"publish_at": publish_at.isoformat()},
        headers=callers.headers("manager"),
    )
    assert scheduled.json()["status"] == "scheduled", scheduled.text
    replacer, replacer_id = await editor_headers(app)
    replaced = await client.post(
        f"/api/v1/evidence/{brief.evidence[0].id}/replace",
        json={"kind": "metric", "claim": "導入20社で週3.5時間減少", "source": "2026年下期調査"},
        headers=replacer,
    )
    assert replaced.status_code == 201, replaced.text
    read = (await client.get(f"/api/v1/briefs/{brief.id}", headers=callers.headers("editor"))).json()
    assert (read["status"], read["publish_at"], read["last_editor_id"]) == ("in_review", None, replacer_id)
    assert [e["id"] for e in read["evidence"]] == [replaced.json()["id"]]
    # Its time comes and goes: approved with the old claim, it does not go live with the new one.
    await detect_due(app.state.sessionmaker, now=publish_at + timedelta(seconds=1))
    assert (await pitch(client, callers.headers("employee"), product.key)).status_code == 404
