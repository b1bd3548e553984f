"""Deciding on the theme, and stop as an outcome, over REST: every open item of a theme (merged
themes' included) moves in one step with one event, the skipped are counted, items that join a
decided theme later follow it, a stop is announced without an implementation step, and a stop
decision proposes drafts (a brief trade-off, an FAQ) that editors review and employees never see.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from service.briefs import service as briefs_service
from service.briefs.models import Brief
from service.briefs.schemas import Revise
from service.db import utcnow
from service.events.models import OutboxEvent
from service.feedback.models import FeedbackItem, FeedbackTransition, Theme
from service.messages.models import Message
from tests.factories import bearer, make_brief, make_product, principal_of, service_token
from tests.feedback.test_loop import filed_feedback_id, move
from tests.feedback.test_themes import insert_items
from tests.messages.test_messages import published_message_id
from tests.racing import race

DECIDE_BUILD = {"to": "decided", "decision": "build", "rationale": "多くの顧客が月末に困っている"}
DECIDE_STOP = {"to": "decided", "decision": "stop", "rationale": "手書き請求書は精度が出ないため作らない"}


async def make_theme(
    app: FastAPI,
    name: str = "請求書の読み取り",
    *,
    product_id: uuid.UUID | None = None,
    merged_into: uuid.UUID | None = None,
) -> uuid.UUID:
    theme_id = uuid.uuid4()
    now = utcnow()
    async with app.state.engine.begin() as conn:
        await conn.execute(
            sa.insert(Theme.__table__).values(
                id=theme_id,
                created_at=now,
                updated_at=now,
                revision=1,
                name=name,
                description="",
                product_id=product_id,
                merged_into_id=merged_into,
            )
        )
    return theme_id


async def rows(app: FastAPI, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    table = FeedbackItem.__table__
    async with app.state.engine.connect() as conn:
        found = await conn.execute(sa.select(table).where(table.c.id.in_(ids)))
        return {row.id: dict(row._mapping) for row in found}


async def steps_of(app: FastAPI, ids: list[uuid.UUID]) -> list[tuple[Any, ...]]:
    table = FeedbackTransition.__table__
    async with app.state.engine.connect() as conn:
        found = await conn.execute(
            sa.select(
                table.c.feedback_id,
                table.c.from_status,
                table.c.to_status,
                table.c.decision,
                table.c.actor_id,
            )
            .where(table.c.feedback_id.in_(ids))
            .order_by(table.c.at, table.c.feedback_id)
        )
        return [tuple(row) for row in found]


async def events(app: FastAPI, type_: str | None = None) -> list[dict[str, Any]]:
    table = OutboxEvent.__table__
    stmt = sa.select(table.c.type, table.c.data).order_by(table.c.position)
    async with app.state.engine.connect() as conn:
        found = [(row.type, row.data) for row in await conn.execute(stmt)]
    return [{"type": t, **d} for t, d in found if type_ is None or t == type_]


async def decide_theme(client, headers, theme_id, **body: Any):
    return await client.post(f"/api/v1/themes/{theme_id}/transition", json=body, headers=headers)


# --- the theme's step ---------------------------------------------------------------------------


async def test_deciding_a_theme_moves_every_open_item_merged_themes_included_with_one_event(
    app, client, callers
):
    manager = callers.headers("manager")
    theme = await make_theme(app)
    merged = await make_theme(app, "読み取りが遅い", merged_into=theme)
    other = await make_theme(app, "別のテーマ")
    triaged = await insert_items(app, *({"theme_id": theme, "status": "triaged"} for _ in range(3)))
    # Filed against the merged theme while the merge ran: it belongs to the survivor all the same.
    late = await insert_items(app, {"theme_id": merged, "status": "triaged"})
    (new,) = await insert_items(app, {"theme_id": theme, "status": "new"})
    (built,) = await insert_items(app, {"theme_id": theme, "status": "decided", "decision": "build"})
    (closed,) = await insert_items(app, {"theme_id": theme, "status": "announced"})
    (elsewhere,) = await insert_items(app, {"theme_id": other, "status": "triaged"})

    response = await decide_theme(client, manager, theme, **DECIDE_BUILD, note="まとめて判断")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["moved"], answer["skipped"], answer["stage"]) == (4, 2, "decided")
    assert answer["proposals"] is None  # a build proposes nothing

    found = await rows(app, [*triaged, *late, new, built, closed, elsewhere])
    for item_id in (*triaged, *late):
        item = found[item_id]
        assert (item["status"], item["decision"], item["rationale"]) == (
            "decided",
            "build",
            DECIDE_BUILD["rationale"],
        )
        assert item["decided_at"] is not None and item["stage_due_at"] is not None
        assert item["revision"] == 2
    assert found[new]["status"] == "new" and found[new]["revision"] == 1
    assert found[built]["revision"] == 1 and found[closed]["revision"] == 1
    assert found[elsewhere]["status"] == "triaged"

    person = callers.people["manager"].id
    recorded = await steps_of(app, [*triaged, *late, new, built, closed, elsewhere])
    assert sorted(recorded) == sorted((i, "triaged", "decided", "build", person) for i in (*triaged, *late))

    assert [e["type"] for e in await events(app) if e["type"].startswith(("feedback.", "theme."))] == [
        "theme.transitioned"
    ]
    (event,) = await events(app, "theme.transitioned")
    assert event | {"at": None} == {
        "type": "theme.transitioned",
        "theme_id": str(theme),
        "to": "decided",
        "decision": "build",
        "moved": 4,
        "skipped": 2,
        "product_key": None,
        "message_id": None,
        "proposals": None,
        "actor_id": str(person),
        "at": None,
    }

    shown = (await client.get(f"/api/v1/themes/{theme}", headers=manager)).json()
    assert (shown["stage"], shown["decision"], shown["rationale"]) == (
        "decided",
        "build",
        DECIDE_BUILD["rationale"],
    )

    # Only forward: deciding again is a conflict; implementing moves the five decided to build.
    again = await decide_theme(client, manager, theme, **DECIDE_STOP)
    assert again.status_code == 409 and again.json()["allowed"] == ["implemented", "announced"]
    implemented = await decide_theme(client, manager, theme, to="implemented")
    assert implemented.status_code == 200, implemented.text
    assert (implemented.json()["moved"], implemented.json()["skipped"]) == (5, 1)


async def test_a_theme_step_is_refused_whole_when_wrong_and_nothing_moves(app, client, callers):
    editor = callers.headers("editor")
    theme = await make_theme(app)
    merged = await make_theme(app, "統合済み", merged_into=theme)
    ids = await insert_items(app, {"theme_id": theme, "status": "triaged"})

    no_reason = await decide_theme(client, editor, theme, to="decided", decision="stop")
    assert no_reason.status_code == 422
    assert [e["field"] for e in no_reason.json()["errors"]] == ["rationale"]
    assert (await decide_theme(client, editor, merged, **DECIDE_BUILD)).status_code == 409
    assert (await decide_theme(client, editor, uuid.uuid4(), **DECIDE_BUILD)).status_code == 404
    assert (await decide_theme(client, editor, theme, to="shipped")).status_code == 422
    unpublished = await decide_theme(client, editor, theme, to="announced", message_id=str(uuid.uuid4()))
    assert unpublished.status_code == 422 and unpublished.json()["errors"][0]["field"] == "message_id"

    for caller in ("employee", "svc_pitch", "svc_people"):
        assert (await decide_theme(client, callers.headers(caller), theme, **DECIDE_BUILD)).status_code == 403
    reader = bearer(await service_token(app, client, "feedback:read"))
    assert (await decide_theme(client, reader, theme, **DECIDE_BUILD)).status_code == 403
    assert (await decide_theme(client, {}, theme, **DECIDE_BUILD)).status_code == 401

    assert (await rows(app, ids))[ids[0]]["status"] == "triaged"
    assert await steps_of(app, ids) == []
    assert await events(app, "theme.transitioned") == []
    shown = (await client.get(f"/api/v1/themes/{theme}", headers=editor)).json()
    assert shown["stage"] is None and shown["decision"] is None


async def test_items_joining_a_decided_theme_follow_it_to_its_stage(app, client, callers):
    editor = callers.headers("editor")
    theme = await make_theme(app)
    await insert_items(app, {"theme_id": theme, "status": "triaged"})
    assert (await decide_theme(client, editor, theme, **DECIDE_BUILD)).status_code == 200

    # Assigned by PATCH: a new item jumps to the theme's stage, recorded as one step.
    joiner = uuid.UUID(await filed_feedback_id(app, callers.people["employee"]))
    patched = await client.patch(f"/api/v1/feedback/{joiner}", json={"theme_id": str(theme)}, headers=editor)
    assert patched.status_code == 200, patched.text
    item = patched.json()
    assert (item["status"], item["decision"], item["rationale"]) == (
        "decided",
        "build",
        DECIDE_BUILD["rationale"],
    )
    assert item["triaged_at"] is not None and item["decided_at"] is not None
    assert await steps_of(app, [joiner]) == [(joiner, "new", "decided", "build", callers.people["editor"].id)]
    (event,) = [e for e in await events(app, "feedback.transitioned") if e["feedback_id"] == str(joiner)]
    assert (event["from"], event["to"], event["decision"]) == ("new", "decided", "build")

    # Assigned to a theme merged into the decided one: filed under the survivor, and follows.
    merged = await make_theme(app, "統合済み", merged_into=theme)
    second = uuid.UUID(await filed_feedback_id(app, callers.people["employee"]))
    moved = await client.patch(f"/api/v1/feedback/{second}", json={"theme_id": str(merged)}, headers=editor)
    assert (moved.json()["theme_id"], moved.json()["status"]) == (str(theme), "decided")

    # Merged in: the merged theme's items follow, except one decided otherwise (it keeps its stop).
    source = await make_theme(app, "後から統合")
    triaged, stopped = await insert_items(
        app,
        {"theme_id": source, "status": "triaged"},
        {"theme_id": source, "status": "decided", "decision": "stop", "rationale": "作らない"},
    )
    merge = await client.post(f"/api/v1/themes/{source}/merge", json={"into": str(theme)}, headers=editor)
    assert merge.status_code == 200, merge.text
    found = await rows(app, [triaged, stopped])
    assert (found[triaged]["status"], found[triaged]["decision"]) == ("decided", "build")
    assert (found[stopped]["status"], found[stopped]["decision"]) == ("decided", "stop")
    assert found[triaged]["theme_id"] == found[stopped]["theme_id"] == theme
    assert await steps_of(app, [stopped]) == []

    # An undecided theme asks nothing of its joiners.
    plain = await make_theme(app, "未判断")
    third = await filed_feedback_id(app, callers.people["employee"])
    stays = await client.patch(f"/api/v1/feedback/{third}", json={"theme_id": str(plain)}, headers=editor)
    assert stays.json()["status"] == "new"


# --- stop is an outcome --------------------------------------------------------------------------


async def test_a_stop_is_announced_directly_and_only_a_build_is_implemented(app, client, callers):
    editor = callers.headers("editor")
    message_id = await published_message_id(app)

    stop = await filed_feedback_id(app, callers.people["employee"])
    await move(client, editor, stop, to="triaged")
    assert (await move(client, editor, stop, **DECIDE_STOP)).status_code == 200
    refused = await move(client, editor, stop, to="implemented")
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["announced"]
    assert "stop" in refused.json()["detail"]
    announced = await move(client, editor, stop, to="announced", message_id=message_id)
    assert announced.status_code == 200, announced.text
    assert announced.json()["implemented_at"] is None and announced.json()["stage_due_at"] is None

    build = await filed_feedback_id(app, callers.people["employee"])
    await move(client, editor, build, to="triaged")
    decided = await move(client, editor, build, **DECIDE_BUILD)
    assert decided.json()["proposals"] is None
    early = await move(client, editor, build, to="announced", message_id=message_id)
    assert early.status_code == 409 and early.json()["allowed"] == ["implemented"]
    assert (await move(client, editor, build, to="implemented")).status_code == 200
    assert (await move(client, editor, build, to="announced", message_id=message_id)).status_code == 200

    # A theme decided to stop is announced directly too, its items with it.
    theme = await make_theme(app)
    ids = await insert_items(app, *({"theme_id": theme, "status": "triaged"} for _ in range(2)))
    assert (await decide_theme(client, editor, theme, **DECIDE_STOP)).status_code == 200
    assert (await decide_theme(client, editor, theme, to="implemented")).status_code == 409
    done = await decide_theme(client, editor, theme, to="announced", message_id=message_id)
    assert (done.json()["moved"], done.json()["skipped"]) == (2, 0)
    assert {r["status"] for r in (await rows(app, ids)).values()} == {"announced"}


async def test_a_stop_decision_proposes_drafts_that_only_editors_see(app, client, callers):
    manager, editor = callers.headers("manager"), callers.headers("editor")
    product = await make_product(app)
    published = await make_brief(app, callers.people["editor"], product.key, status="published")
    item_id = await filed_feedback_id(
        app, callers.people["employee"], product_key=product.key, body="手書きの請求書も読み取ってほしい"
    )
    await move(client, manager, item_id, to="triaged")
    decided = await move(client, manager, item_id, **DECIDE_STOP)
    assert decided.status_code == 200, decided.text
    proposals = decided.json()["proposals"]
    assert proposals["brief_id"] and proposals["message_id"]

    brief = (await client.get(f"/api/v1/briefs/{proposals['brief_id']}", headers=editor)).json()
    assert (brief["status"], brief["version"], brief["lineage_id"]) == ("draft", 2, str(published.lineage_id))
    assert brief["author_id"] == str(callers.people["manager"].id)  # on behalf of the decider
    give_up = brief["gut_check"]["what_we_give_up"]
    assert give_up.startswith("手書き請求書への対応\n") and DECIDE_STOP["rationale"] in give_up
    assert item_id in brief["review_comment"]  # says where it came from
    message = (await client.get(f"/api/v1/messages/{proposals['message_id']}", headers=editor)).json()
    assert (message["kind"], message["status"], message["product_key"]) == ("faq", "draft", product.key)
    assert message["author_id"] == str(callers.people["manager"].id)
    assert DECIDE_STOP["rationale"] in message["body"] and "手書き" in message["title"]

    employee = callers.headers("employee")
    assert (await client.get(f"/api/v1/briefs/{proposals['brief_id']}", headers=employee)).status_code == 404
    assert (
        await client.get(f"/api/v1/messages/{proposals['message_id']}", headers=employee)
    ).status_code == 404
    pitch = (await client.get(f"/api/v1/pitch/{product.key}?locale=ja", headers=employee)).json()
    assert pitch["version"] == 1  # the published brief is untouched until an editor publishes

    # Four eyes: the decider proposed it, so the decider does not approve it.
    submitted = await client.post(f"/api/v1/briefs/{proposals['brief_id']}/submit", headers=editor)
    assert submitted.status_code == 200, submitted.text
    assert (
        await client.post(f"/api/v1/briefs/{proposals['brief_id']}/approve", headers=manager)
    ).status_code == 403


async def test_a_theme_stop_proposes_once_into_the_open_draft(app, client, callers):
    editor = callers.headers("editor")
    product = await make_product(app)
    published = await make_brief(app, callers.people["admin"], product.key, status="published")
    async with app.state.sessionmaker() as session:
        draft = await briefs_service.revise_brief(
            session, principal_of(callers.people["admin"]), published.id, Revise()
        )
    theme = await make_theme(app, "手書き請求書の読み取り", product_id=product.id)
    await insert_items(app, *({"theme_id": theme, "status": "triaged"} for _ in range(3)))

    response = await decide_theme(client, editor, theme, **DECIDE_STOP)
    assert response.status_code == 200, response.text
    proposals = response.json()["proposals"]
    assert proposals["brief_id"] == str(draft.id)  # the open draft takes the addition
    brief = (await client.get(f"/api/v1/briefs/{draft.id}", headers=editor)).json()
    assert brief["gut_check"]["what_we_give_up"].endswith(
        f"手書き請求書の読み取り: {DECIDE_STOP['rationale']}"
    )
    assert brief["last_editor_id"] == str(callers.people["editor"].id)
    assert str(theme) in brief["review_comment"]
    message = (await client.get(f"/api/v1/messages/{proposals['message_id']}", headers=editor)).json()
    assert message["title"] == "「手書き請求書の読み取り」に対応しない理由"

    (event,) = await events(app, "theme.transitioned")
    assert event["proposals"] == proposals and event["product_key"] == product.key
    briefs, messages = Brief.__table__, Message.__table__
    async with app.state.engine.connect() as conn:
        faqs = (await conn.execute(sa.select(sa.func.count()).where(messages.c.kind == "faq"))).scalar_one()
        versions = (
            await conn.execute(sa.select(sa.func.count()).where(briefs.c.lineage_id == published.lineage_id))
        ).scalar_one()
    assert (faqs, versions) == (1, 2)  # once per decision, not per item


async def test_a_stop_without_a_published_brief_proposes_only_the_faq(app, client, callers):
    editor = callers.headers("editor")
    item_id = await filed_feedback_id(app, callers.people["employee"])
    await move(client, editor, item_id, to="triaged")
    decided = await move(client, editor, item_id, **DECIDE_STOP)
    assert decided.status_code == 200, decided.text
    proposals = decided.json()["proposals"]
    assert proposals["brief_id"] is None and proposals["message_id"]


async def test_a_theme_step_racing_single_steps_records_each_item_once(app, client, callers):
    editor = callers.headers("editor")
    theme = await make_theme(app)
    ids = await insert_items(app, *({"theme_id": theme, "status": "triaged"} for _ in range(40)))
    singles = ids[:6]
    responses = await race(
        app,
        [
            ("POST", f"/api/v1/themes/{theme}/transition", {"json": DECIDE_BUILD, "headers": editor}),
            *(
                ("POST", f"/api/v1/feedback/{i}/transition", {"json": DECIDE_STOP, "headers": editor})
                for i in singles
            ),
        ],
    )
    assert all(r.status_code in (200, 409) for r in responses), [r.text[:200] for r in responses]
    theme_answer = responses[0].json()
    single_wins = sum(r.status_code == 200 for r in responses[1:])
    assert theme_answer["moved"] + single_wins == 40
    assert theme_answer["skipped"] == single_wins  # decided on their own first: open, but past the step
    recorded = await steps_of(app, ids)
    assert sorted(step[0] for step in recorded) == sorted(ids)  # one step per item, never two
    found = await rows(app, ids)
    for feedback_id, _, to, decision, _ in recorded:
        assert to == "decided" and found[feedback_id]["decision"] == decision
