"""Bulk over REST and GraphQL: one action on up to 1,000 items, each checked as its single-item
call would be (the same permission, the same rules), each applied entirely or not at all; the
request refused whole (422) when it is wrong as a whole. Also: the theme's step over GraphQL."""

from __future__ import annotations

import uuid
from typing import Any

from tests.factories import bearer, make_person, make_product, service_token
from tests.feedback.test_loop import filed_feedback_id
from tests.feedback.test_theme_decisions import (
    DECIDE_BUILD,
    DECIDE_STOP,
    decide_theme,
    events,
    make_theme,
    rows,
    steps_of,
)
from tests.feedback.test_themes import insert_items
from tests.test_graphql import error_codes, gql


async def bulk(client, headers, **body: Any):
    return await client.post("/api/v1/feedback/bulk", json=body, headers=headers)


async def fresh_bulk(app, ctx: dict[str, Any]) -> dict[str, str]:
    """Authorization-matrix setup, per caller: an item filed by the context's target, in `ctx`."""
    ctx["bulk_ids"] = [await filed_feedback_id(app, ctx["feedback_filer"])]
    return {}


async def snapshot(app, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, ...]]:
    found = await rows(app, ids)
    return {i: (r["status"], r["theme_id"], r["decision"], r["revision"]) for i, r in found.items()}


async def test_a_bulk_step_answers_each_item_as_its_single_call_would(app, client, callers):
    editor = callers.headers("editor")
    fresh, already, closed = await insert_items(
        app, {"status": "new"}, {"status": "triaged"}, {"status": "announced"}
    )
    missing = uuid.uuid4()
    before = await snapshot(app, [already, closed])

    response = await bulk(
        client,
        editor,
        ids=[str(i) for i in (fresh, already, missing, closed)],
        action="transition",
        to="triaged",
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [
        (str(fresh), 200),
        (str(already), 409),
        (str(missing), 404),
        (str(closed), 409),
    ]
    assert "error" not in results[0] or results[0]["error"] is None
    conflict = results[1]["error"]
    assert conflict["type"] == "urn:cuecard:problem:conflict" and conflict["status"] == 409
    assert conflict["allowed"] == ["decided"]
    assert results[2]["error"]["type"] == "urn:cuecard:problem:not-found"

    assert (await rows(app, [fresh]))[fresh]["status"] == "triaged"
    assert await snapshot(app, [already, closed]) == before  # refused: nothing changed
    assert [s[0] for s in await steps_of(app, [fresh, already, closed])] == [fresh]
    assert len(await events(app, "feedback.transitioned")) == 1


async def test_a_caller_not_permitted_gets_refusals_per_item_and_changes_nothing(app, client, callers):
    employee = callers.people["employee"]
    mine = uuid.UUID(await filed_feedback_id(app, employee))
    theirs = uuid.UUID(await filed_feedback_id(app, await make_person(app, role="employee")))
    theme = await make_theme(app)
    before = await snapshot(app, [mine, theirs])
    ids = [str(mine), str(theirs)]

    moved = await bulk(client, callers.headers("employee"), ids=ids, action="transition", to="triaged")
    assert moved.status_code == 200
    assert [r["status"] for r in moved.json()["results"]] == [403, 404]
    assert moved.json()["results"][0]["error"]["type"] == "urn:cuecard:problem:forbidden"
    themed = await bulk(
        client, callers.headers("employee"), ids=ids, action="assign_theme", theme_id=str(theme)
    )
    assert [r["status"] for r in themed.json()["results"]] == [403, 404]

    reader = bearer(await service_token(app, client, "feedback:read"))
    read_only = await bulk(client, reader, ids=ids, action="transition", to="triaged")
    assert [r["status"] for r in read_only.json()["results"]] == [403, 403]
    for caller in ("svc_pitch", "svc_people"):
        refused = await bulk(client, callers.headers(caller), ids=ids, action="transition", to="triaged")
        assert [r["status"] for r in refused.json()["results"]] == [404, 404]
    assert (await bulk(client, {}, ids=ids, action="transition", to="triaged")).status_code == 401

    assert await snapshot(app, [mine, theirs]) == before
    assert await steps_of(app, [mine, theirs]) == []
    assert await events(app, "feedback.transitioned") == []


async def test_a_bulk_wrong_as_a_whole_is_refused_and_changes_nothing(app, client, callers):
    editor = callers.headers("editor")
    ids = await insert_items(app, {"status": "triaged"})
    one = [str(ids[0])]
    too_many = await bulk(
        client, editor, ids=[str(uuid.uuid4()) for _ in range(1001)], action="transition", to="triaged"
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "ids"
    assert (await bulk(client, editor, ids=[], action="transition", to="triaged")).status_code == 422
    unknown = await bulk(client, editor, ids=one, action="delete")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "action"
    no_theme = await bulk(client, editor, ids=one, action="assign_theme")
    assert no_theme.status_code == 422
    assert [e["field"] for e in no_theme.json()["errors"]] == ["theme_id"]
    mixed = await bulk(
        client, editor, ids=one, action="assign_theme", theme_id=str(uuid.uuid4()), to="decided"
    )
    assert mixed.status_code == 422 and [e["field"] for e in mixed.json()["errors"]] == ["to"]
    no_stage = await bulk(client, editor, ids=one, action="transition")
    assert no_stage.status_code == 422 and [e["field"] for e in no_stage.json()["errors"]] == ["to"]
    no_reason = await bulk(client, editor, ids=one, action="transition", to="decided", decision="build")
    assert no_reason.status_code == 422 and [e["field"] for e in no_reason.json()["errors"]] == ["rationale"]
    no_such_theme = await bulk(client, editor, ids=one, action="assign_theme", theme_id=str(uuid.uuid4()))
    assert no_such_theme.status_code == 422
    assert (await rows(app, ids))[ids[0]]["revision"] == 1


async def test_bulk_assign_theme_files_items_and_they_follow_a_decided_theme(app, client, callers):
    editor = callers.headers("editor")
    theme = await make_theme(app)
    await insert_items(app, {"theme_id": theme, "status": "triaged"})
    assert (await decide_theme(client, editor, theme, **DECIDE_BUILD)).status_code == 200
    new, stopped = await insert_items(
        app, {"status": "new"}, {"status": "decided", "decision": "stop", "rationale": "作らない"}
    )
    response = await bulk(
        client,
        editor,
        ids=[str(new), str(stopped), str(uuid.uuid4())],
        action="assign_theme",
        theme_id=str(theme),
    )
    assert [r["status"] for r in response.json()["results"]] == [200, 200, 404]
    found = await rows(app, [new, stopped])
    assert (found[new]["theme_id"], found[new]["status"], found[new]["decision"]) == (
        theme,
        "decided",
        "build",
    )
    # Decided otherwise: filed under the theme, keeps its own decision.
    assert (found[stopped]["theme_id"], found[stopped]["status"], found[stopped]["decision"]) == (
        theme,
        "decided",
        "stop",
    )


async def test_bulk_stop_decisions_propose_once_per_product(app, client, callers):
    editor = callers.headers("editor")
    product = await make_product(app)
    ids = await insert_items(app, *({"status": "triaged", "product_id": product.id} for _ in range(3)))
    response = await bulk(client, editor, ids=[str(i) for i in ids], action="transition", **DECIDE_STOP)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == [200, 200, 200]
    (proposal,) = response.json()["proposals"]
    assert proposal["brief_id"] is None  # nothing published for the product
    message = (await client.get(f"/api/v1/messages/{proposal['message_id']}", headers=editor)).json()
    assert (message["kind"], message["status"], message["product_key"]) == ("faq", "draft", product.key)
    assert "and 2 more" in message["body"]


async def test_max_sized_bulk_is_accepted(app, client, callers):
    editor = callers.headers("editor")
    ids = await insert_items(app, *({"status": "new"} for _ in range(50)))
    padded = [str(i) for i in ids] + [str(uuid.uuid4()) for _ in range(950)]
    response = await bulk(client, editor, ids=padded, action="transition", to="triaged")
    assert response.status_code == 200, response.text
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses.count(200) == 50 and statuses.count(404) == 950
    assert {r["status"] for r in (await rows(app, ids)).values()} == {"triaged"}


# --- GraphQL -------------------------------------------------------------------------------------

TRANSITION_THEME = """
mutation($id: ID!, $input: TransitionInput!) {
  transitionTheme(id: $id, input: $input) { themeId stage moved skipped proposals { briefId messageId } }
}
"""
BULK = """
mutation($input: FeedbackBulkInput!) {
  bulkFeedback(input: $input) { results { id status error { status code title detail } } proposals { messageId } }
}
"""


async def test_graphql_decides_a_theme_and_applies_a_bulk_through_the_same_service(app, client, callers):
    editor = callers.headers("editor")
    theme = await make_theme(app)
    ids = await insert_items(app, *({"theme_id": theme, "status": "triaged"} for _ in range(2)))
    await insert_items(app, {"theme_id": theme, "status": "new"})
    status, body = await gql(
        client,
        TRANSITION_THEME,
        editor,
        {"id": str(theme), "input": {"to": "DECIDED", "decision": "STOP", "rationale": "作らない"}},
    )
    assert status == 200 and "errors" not in body, body
    answer = body["data"]["transitionTheme"]
    assert (answer["stage"], answer["moved"], answer["skipped"]) == ("DECIDED", 2, 1)
    assert answer["proposals"]["briefId"] is None and answer["proposals"]["messageId"]
    _, again = await gql(
        client,
        TRANSITION_THEME,
        editor,
        {"id": str(theme), "input": DECIDE_BUILD | {"to": "DECIDED", "decision": "BUILD"}},
    )
    assert error_codes(again) == ["CONFLICT"]
    _, refused = await gql(
        client, TRANSITION_THEME, callers.headers("employee"), {"id": str(theme), "input": {"to": "TRIAGED"}}
    )
    assert error_codes(refused) == ["FORBIDDEN"]

    new = await insert_items(app, {"status": "new"})
    status, body = await gql(
        client,
        BULK,
        editor,
        {"input": {"ids": [str(new[0]), str(ids[0])], "action": "TRANSITION", "to": "TRIAGED"}},
    )
    assert status == 200 and "errors" not in body, body
    results = body["data"]["bulkFeedback"]["results"]
    assert (results[0]["status"], results[0]["error"]) == (200, None)
    assert results[1]["status"] == 409 and results[1]["error"]["code"] == "CONFLICT"
    _, whole = await gql(client, BULK, editor, {"input": {"ids": [str(new[0])], "action": "ASSIGN_THEME"}})
    assert error_codes(whole) == ["BAD_USER_INPUT"]
    _, employee = await gql(
        client,
        BULK,
        callers.headers("employee"),
        {
            "input": {
                "ids": [str(new[0])],
                "action": "TRANSITION",
                "to": "DECIDED",
                "decision": "BUILD",
                "rationale": "x",
            }
        },
    )
    assert [r["status"] for r in employee["data"]["bulkFeedback"]["results"]] == [404]
    assert (await rows(app, new))[new[0]]["status"] == "triaged"


async def test_graphql_a_stop_decision_answers_its_proposals(app, client, callers):
    editor = callers.headers("editor")
    (item,) = await insert_items(app, {"status": "triaged"})
    query = """
    mutation($id: ID!, $input: TransitionInput!) {
      transitionFeedback(id: $id, input: $input) { status decision proposals { briefId messageId } }
    }
    """
    stop = {"to": "DECIDED", "decision": "STOP", "rationale": "手書きは作らない"}
    status, body = await gql(client, query, editor, {"id": str(item), "input": stop})
    assert status == 200 and "errors" not in body, body
    answer = body["data"]["transitionFeedback"]
    assert (answer["status"], answer["decision"]) == ("DECIDED", "STOP")
    assert answer["proposals"]["briefId"] is None and answer["proposals"]["messageId"]
    read_query = "query($id: ID!) { feedbackItem(id: $id) { proposals { messageId } } }"
    _, read = await gql(client, read_query, editor, {"id": str(item)})
    assert read["data"]["feedbackItem"]["proposals"] is None  # only on the step's answer
