"""The loop over REST: triage details, new → triaged → decided → implemented → announced,
what is refused on the way, due times from the loop targets, and who sees which items."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from service.feedback import service as feedback_service
from service.feedback.models import FeedbackTransition
from service.feedback.schemas import FeedbackCreate
from service.messages import service as messages_service
from service.messages.schemas import MessageCreate
from tests.factories import (
    OPERATOR,
    bearer,
    make_person,
    make_product,
    principal_of,
    service_token,
    token_for,
)
from tests.messages.test_messages import published_message_id


async def filed_feedback_id(app, person, **fields: Any) -> str:
    """A feedback item filed by `person` through the feedback service."""
    data = {"source": "sales", "body": "CSVの取り込みでエラーになる", **fields}
    async with app.state.sessionmaker() as session:
        item = await feedback_service.create_feedback(session, principal_of(person), FeedbackCreate(**data))
    return str(item.id)


async def fresh_feedback(app, ctx: dict[str, Any]) -> dict[str, str]:
    """Per-caller setup for the authorization matrix: a new item filed by the context's target."""
    return {"feedback_id": await filed_feedback_id(app, ctx["feedback_filer"])}


async def draft_message_id(app) -> str:
    async with app.state.sessionmaker() as session:
        draft = await messages_service.create_message(
            session, OPERATOR, MessageCreate(kind="talking_point", title="まだ下書き")
        )
    return str(draft.id)


async def move(client, headers, item_id: str, **body: Any):
    return await client.post(f"/api/v1/feedback/{item_id}/transition", json=body, headers=headers)


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


# --- the loop -----------------------------------------------------------------------------------


async def test_an_item_walks_the_whole_loop_with_due_times_from_the_targets(app, client, callers):
    targets = app.state.settings.feedback_loop_targets
    editor = callers.headers("editor")
    item_id = await filed_feedback_id(app, callers.people["employee"])

    triaged = await move(client, editor, item_id, to="triaged", note="請求書チームへ")
    assert triaged.status_code == 200, triaged.text
    item = triaged.json()
    assert item["status"] == "triaged" and item["revision"] == 2
    assert at(item["stage_due_at"]) - at(item["triaged_at"]) == timedelta(days=targets["decided"])

    decided = await move(client, editor, item_id, to="decided", decision="build", rationale="10社から同じ声")
    item = decided.json()
    assert (item["status"], item["decision"], item["rationale"]) == ("decided", "build", "10社から同じ声")
    assert at(item["stage_due_at"]) - at(item["decided_at"]) == timedelta(days=targets["implemented"])

    implemented = await move(client, callers.headers("manager"), item_id, to="implemented")
    item = implemented.json()
    assert at(item["stage_due_at"]) - at(item["implemented_at"]) == timedelta(days=targets["announced"])

    message_id = await published_message_id(app)
    announced = await move(client, callers.headers("admin"), item_id, to="announced", message_id=message_id)
    assert announced.status_code == 200, announced.text
    item = announced.json()
    assert item["status"] == "announced"
    assert item["announcement_message_id"] == message_id
    assert item["stage_due_at"] is None and item["overdue"] is False
    assert announced.headers["etag"] == '"v5"'
    assert (
        at(item["triaged_at"])
        <= at(item["decided_at"])
        <= at(item["implemented_at"])
        <= at(item["announced_at"])
    )

    closed = await move(client, editor, item_id, to="announced", message_id=message_id)
    assert closed.status_code == 409
    assert closed.json()["allowed"] == []

    async with app.state.sessionmaker() as session:
        steps = (
            await session.execute(
                sa.select(FeedbackTransition).order_by(FeedbackTransition.at, FeedbackTransition.id)
            )
        ).scalars()
        steps = [(s.from_status, s.to_status, s.decision, s.note, s.actor_id) for s in steps]
    assert steps == [
        ("new", "triaged", None, "請求書チームへ", callers.people["editor"].id),
        ("triaged", "decided", "build", None, callers.people["editor"].id),
        ("decided", "implemented", None, None, callers.people["manager"].id),
        ("implemented", "announced", None, None, callers.people["admin"].id),
    ]


async def test_illegal_jumps_are_conflicts_naming_the_next_stage(app, client, callers):
    editor = callers.headers("editor")
    item_id = await filed_feedback_id(app, callers.people["employee"])
    for target in ("decided", "implemented", "new"):
        response = await move(client, editor, item_id, to=target, decision="build", rationale="x")
        assert response.status_code == 409, response.text
        assert response.json()["allowed"] == ["triaged"]
        assert "'triaged'" in response.json()["detail"]
    response = await move(client, editor, item_id, to="announced", message_id=await published_message_id(app))
    assert response.status_code == 409
    assert (await move(client, editor, item_id, to="triaged")).status_code == 200
    again = await move(client, editor, item_id, to="triaged")
    assert again.status_code == 409 and again.json()["allowed"] == ["decided"]
    unknown = await move(client, editor, item_id, to="shipped")
    assert unknown.status_code == 422


async def test_deciding_needs_a_decision_and_a_rationale(app, client, callers):
    editor = callers.headers("editor")
    item_id = await filed_feedback_id(app, callers.people["employee"])
    await move(client, editor, item_id, to="triaged")

    bare = await move(client, editor, item_id, to="decided")
    assert bare.status_code == 422
    assert sorted(e["field"] for e in bare.json()["errors"]) == ["decision", "rationale"]
    no_reason = await move(client, editor, item_id, to="decided", decision="stop", rationale="  ")
    assert [e["field"] for e in no_reason.json()["errors"]] == ["rationale"]

    stop = await move(
        client,
        editor,
        item_id,
        to="decided",
        decision="stop",
        rationale="手書き対応は精度が出ないため作らない",
    )
    assert stop.status_code == 200
    assert stop.json()["decision"] == "stop"


async def test_announcing_needs_a_published_message(app, client, callers):
    editor = callers.headers("editor")
    item_id = await filed_feedback_id(app, callers.people["employee"])
    await move(client, editor, item_id, to="triaged")
    await move(client, editor, item_id, to="decided", decision="build", rationale="多くの顧客が求めている")
    await move(client, editor, item_id, to="implemented")

    missing = await move(client, editor, item_id, to="announced")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "message_id"
    draft = await move(client, editor, item_id, to="announced", message_id=await draft_message_id(app))
    assert draft.status_code == 422 and draft.json()["errors"][0]["type"] == "not_published"
    nowhere = await move(client, editor, item_id, to="announced", message_id=item_id)
    assert nowhere.status_code == 422 and nowhere.json()["errors"][0]["type"] == "not_found"
    early = await move(client, editor, item_id, to="implemented", message_id=await published_message_id(app))
    assert early.status_code == 409  # the stage is checked first
    assert (await client.get(f"/api/v1/feedback/{item_id}", headers=editor)).json()["status"] == "implemented"


async def test_only_editors_managers_and_admins_move_items(app, client, callers):
    mine = await filed_feedback_id(app, callers.people["employee"])
    colleague = await make_person(app, role="employee")
    theirs = await filed_feedback_id(app, colleague)
    employee = callers.headers("employee")
    assert (await move(client, employee, mine, to="triaged")).status_code == 403
    assert (await move(client, employee, theirs, to="triaged")).status_code == 404
    for caller in ("svc_pitch", "svc_people"):
        assert (await move(client, callers.headers(caller), mine, to="triaged")).status_code == 404
    reader = bearer(await service_token(app, client, "feedback:read"))
    assert (await move(client, reader, mine, to="triaged")).status_code == 403
    writer = bearer(await service_token(app, client, "feedback:write"))
    assert (await move(client, writer, mine, to="triaged")).status_code == 404
    assert (await move(client, employee, mine, to="triaged")).status_code == 403
    assert (await client.get(f"/api/v1/feedback/{mine}", headers=employee)).json()["status"] == "new"


async def test_a_transition_honours_if_match_when_given(app, client, callers):
    editor = callers.headers("editor")
    item_id = await filed_feedback_id(app, callers.people["employee"])
    stale = await client.post(
        f"/api/v1/feedback/{item_id}/transition",
        json={"to": "triaged"},
        headers={**editor, "If-Match": '"v9"'},
    )
    assert stale.status_code == 412
    fresh = await client.post(
        f"/api/v1/feedback/{item_id}/transition",
        json={"to": "triaged"},
        headers={**editor, "If-Match": '"v1"'},
    )
    assert fresh.status_code == 200


# --- triage details (PATCH) ---------------------------------------------------------------------


async def test_editors_set_theme_tags_and_product_with_if_match(app, client, callers):
    editor = callers.headers("editor")
    item_id = await filed_feedback_id(app, callers.people["employee"], tags=["csv"])
    product = await make_product(app)
    theme = await client.post("/api/v1/themes", json={"name": "CSV取り込み"}, headers=editor)
    assert theme.status_code == 201, theme.text
    theme_id = theme.json()["id"]

    changed = await client.patch(
        f"/api/v1/feedback/{item_id}",
        json={"theme_id": theme_id, "tags": ["csv", "取り込み", "csv"], "product_key": product.key},
        headers={**editor, "If-Match": '"v1"'},
    )
    assert changed.status_code == 200, changed.text
    item = changed.json()
    assert (item["theme_id"], item["tags"], item["product_key"]) == (
        theme_id,
        ["csv", "取り込み"],
        product.key,
    )
    assert changed.headers["etag"] == '"v2"'

    stale = await client.patch(
        f"/api/v1/feedback/{item_id}", json={"tags": []}, headers={**editor, "If-Match": '"v1"'}
    )
    assert stale.status_code == 412
    same = await client.patch(
        f"/api/v1/feedback/{item_id}", json={"tags": ["csv", "取り込み"]}, headers=editor
    )
    assert same.headers["etag"] == '"v2"'  # nothing changed, nothing written

    listed = await client.get("/api/v1/feedback", params={"theme_id": theme_id}, headers=editor)
    assert [i["id"] for i in listed.json()["items"]] == [item_id]

    cleared = await client.patch(
        f"/api/v1/feedback/{item_id}",
        json={"theme_id": None, "product_key": None},
        headers=callers.headers("manager"),
    )
    assert (cleared.json()["theme_id"], cleared.json()["product_key"]) == (None, None)

    unknown = await client.patch(
        f"/api/v1/feedback/{item_id}",
        json={"theme_id": "00000000-0000-4000-8000-000000000000", "product_key": "no-such"},
        headers=editor,
    )
    assert unknown.status_code == 422
    mass = await client.patch(f"/api/v1/feedback/{item_id}", json={"status": "announced"}, headers=editor)
    assert mass.status_code == 422  # the loop moves by transitions only


async def test_a_merged_theme_files_the_item_under_its_survivor(app, client, callers):
    editor = callers.headers("editor")
    item_id = await filed_feedback_id(app, callers.people["employee"])
    old = (await client.post("/api/v1/themes", json={"name": "遅い"}, headers=editor)).json()["id"]
    survivor = (await client.post("/api/v1/themes", json={"name": "速度"}, headers=editor)).json()["id"]
    merged = await client.post(f"/api/v1/themes/{old}/merge", json={"into": survivor}, headers=editor)
    assert merged.status_code == 200, merged.text
    patched = await client.patch(f"/api/v1/feedback/{item_id}", json={"theme_id": old}, headers=editor)
    assert patched.json()["theme_id"] == survivor


async def test_employees_may_not_triage_even_their_own(app, client, callers):
    mine = await filed_feedback_id(app, callers.people["employee"])
    theirs = await filed_feedback_id(app, await make_person(app, role="employee"))
    employee = callers.headers("employee")
    assert (
        await client.patch(f"/api/v1/feedback/{mine}", json={"tags": []}, headers=employee)
    ).status_code == 403
    assert (
        await client.patch(f"/api/v1/feedback/{theirs}", json={"tags": []}, headers=employee)
    ).status_code == 404


# --- visibility and lists -----------------------------------------------------------------------


async def test_an_employee_never_sees_another_employees_item(app, client, callers):
    employee = callers.people["employee"]
    colleague = await make_person(app, role="employee")
    mine = await filed_feedback_id(app, employee, body="私の声")
    theirs = await filed_feedback_id(app, colleague, body="同僚の声")

    headers = callers.headers("employee")
    assert (await client.get(f"/api/v1/feedback/{theirs}", headers=headers)).status_code == 404
    assert (await client.get(f"/api/v1/feedback/{mine}", headers=headers)).status_code == 200
    listed = await client.get("/api/v1/feedback", headers=headers)
    assert [i["id"] for i in listed.json()["items"]] == [mine]
    other_view = await client.get("/api/v1/feedback", headers=bearer(token_for(app, colleague)))
    assert [i["id"] for i in other_view.json()["items"]] == [theirs]

    for caller in ("manager", "editor", "admin"):
        hub = await client.get("/api/v1/feedback", headers=callers.headers(caller))
        assert {i["id"] for i in hub.json()["items"]} == {mine, theirs}
        assert (
            await client.get(f"/api/v1/feedback/{theirs}", headers=callers.headers(caller))
        ).status_code == 200
    for caller in ("svc_pitch", "svc_people"):
        assert (await client.get("/api/v1/feedback", headers=callers.headers(caller))).status_code == 403


async def test_lists_filter_and_page_with_a_link_header(app, client, callers):
    product = await make_product(app)
    filer = callers.people["editor"]
    now = datetime.fromisoformat("2026-11-20T00:00:00+00:00")
    ids = []
    for n in range(5):
        ids.append(
            await filed_feedback_id(
                app,
                filer,
                source="interview" if n % 2 else "sales",
                product_key=product.key if n < 2 else None,
                received_at=now + timedelta(days=n),
            )
        )
    editor = callers.headers("editor")
    await move(client, editor, ids[0], to="triaged")

    async def listed(**params: Any) -> list[str]:
        response = await client.get("/api/v1/feedback", params=params, headers=editor)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert await listed(source="interview") == [ids[1], ids[3]]
    assert await listed(product_key=product.key) == [ids[0], ids[1]]
    assert await listed(product_key="no-such") == []
    assert await listed(status="triaged") == [ids[0]]
    assert await listed(status="new", source="sales") == [ids[2], ids[4]]
    assert await listed(since=(now + timedelta(days=3)).isoformat()) == [ids[3], ids[4]]
    assert (
        await client.get("/api/v1/feedback", params={"status": "done"}, headers=editor)
    ).status_code == 422

    first = await client.get("/api/v1/feedback", params={"limit": 2}, headers=editor)
    assert [i["id"] for i in first.json()["items"]] == ids[:2]
    assert 'rel="next"' in first.headers["link"]
    seen = []
    cursor = first.json()["next_cursor"]
    while cursor:
        page = await client.get("/api/v1/feedback", params={"limit": 2, "cursor": cursor}, headers=editor)
        seen += [i["id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert seen == ids[2:]


async def test_an_item_past_its_stage_due_time_is_overdue(app, client, callers):
    targets = app.state.settings.feedback_loop_targets
    received = datetime.fromisoformat("2026-01-05T09:00:00+00:00")
    item_id = await filed_feedback_id(app, callers.people["employee"], received_at=received)
    item = (await client.get(f"/api/v1/feedback/{item_id}", headers=callers.headers("editor"))).json()
    assert at(item["stage_due_at"]) == received + timedelta(days=targets["triaged"])
    assert item["overdue"] is True
    triaged = (await move(client, callers.headers("editor"), item_id, to="triaged")).json()
    assert triaged["overdue"] is False  # the next stage's clock starts now
