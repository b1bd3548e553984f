"""Feedback, themes and the digest over GraphQL: the same service layer as REST (same numbers,
same refusals), nested fields that batch, and who may ask."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from service.db import utcnow
from service.feedback.models import FeedbackTransition
from tests.factories import (
    bearer,
    counting_statements,
    make_person,
    notices_settled,
    service_token,
    token_for,
)
from tests.feedback.test_digest import IN, nps, window
from tests.feedback.test_themes import insert_items, insert_theme, reviewer_headers
from tests.test_graphql import error_codes, gql, only_error

DIGEST = """
query($since: DateTime, $until: DateTime) {
  digest(since: $since, until: $until) {
    since until total
    bySource { key count }
    byTheme { key label count }
    nps { responses promoters passives detractors score }
    decided { build stop }
    loopGaps overdue medianLoopDays
    loopGapItems { id body status theme { name } }
    overdueItems { id body stageDueAt }
  }
}
"""


async def data(client, query: str, headers: dict[str, str], variables: dict[str, Any] | None = None) -> dict:
    status, body = await gql(client, query, headers, variables)
    assert status == 200
    assert "errors" not in body, body
    return body["data"]


async def insert_transitions(app, feedback_id: uuid.UUID, *steps: tuple[str, str]) -> None:
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "feedback_id": feedback_id,
            "from_status": src,
            "to_status": dst,
            "decision": None,
            "note": "請求書チームへ",
            "actor_id": None,
            "at": now + timedelta(seconds=n),
        }
        for n, (src, dst) in enumerate(steps)
    ]
    async with app.state.engine.begin() as conn:
        await conn.execute(sa.insert(FeedbackTransition.__table__), rows)


# --- themes ---------------------------------------------------------------------------------------


async def test_themes_are_created_counted_and_merged(app, client):
    editor = await reviewer_headers(app)
    create = "mutation($name: String!) { createTheme(input: {name: $name}) { id name items accounts etag } }"
    a = (await data(client, create, editor, {"name": "OCRが遅い"}))["createTheme"]
    b = (await data(client, create, editor, {"name": "読み取り速度"}))["createTheme"]
    assert (a["items"], a["accounts"]) == (0, 0) and a["etag"]
    a_id, b_id = uuid.UUID(a["id"]), uuid.UUID(b["id"])
    await insert_items(
        app,
        {"theme_id": a_id, "customer_account": "acme"},
        {"theme_id": a_id, "customer_account": "beta"},
        {"theme_id": b_id, "customer_account": "beta"},
        {"theme_id": b_id, "customer_account": None},
    )
    listed = await data(client, "{ themes(first: 10) { edges { node { name items accounts } } } }", editor)
    assert [
        (e["node"]["name"], e["node"]["items"], e["node"]["accounts"]) for e in listed["themes"]["edges"]
    ] == [
        ("OCRが遅い", 2, 2),
        ("読み取り速度", 2, 1),
    ]

    merge = "mutation($id: ID!, $into: ID!) { mergeTheme(id: $id, into: $into) { id items accounts } }"
    survivor = (await data(client, merge, editor, {"id": a["id"], "into": b["id"]}))["mergeTheme"]
    assert survivor == {"id": b["id"], "items": 4, "accounts": 2}
    merged = await data(
        client,
        "query($id: ID!) { theme(id: $id) { items mergedIntoId mergedInto { name } } }",
        editor,
        {"id": a["id"]},
    )
    assert merged["theme"] == {"items": 0, "mergedIntoId": b["id"], "mergedInto": {"name": "読み取り速度"}}

    _, itself = await gql(client, merge, editor, {"id": b["id"], "into": b["id"]})
    assert only_error(itself)["extensions"]["code"] == "BAD_USER_INPUT"
    c = (await data(client, create, editor, {"name": "価格"}))["createTheme"]
    _, into_merged = await gql(client, merge, editor, {"id": c["id"], "into": a["id"]})
    assert only_error(into_merged)["extensions"]["code"] == "CONFLICT"
    _, blank = await gql(client, create, editor, {"name": "  "})
    assert only_error(blank)["extensions"]["code"] == "BAD_USER_INPUT"


# --- the digest -----------------------------------------------------------------------------------


async def test_the_digest_gives_the_same_numbers_as_rest(app, client):
    editor = await reviewer_headers(app)
    theme = await insert_theme(app, "請求書の読み取り")
    now = utcnow()
    await insert_items(
        app,
        *(nps(s) for s in (10, 9, 10, 9, 9, 7, 8, 7, 0, 6)),
        {"source": "support", "theme_id": theme, "received_at": IN},
        {"status": "decided", "decision": "build", "decided_at": IN, "rationale": "要望が多い"},
        {
            "status": "implemented",
            "implemented_at": now - timedelta(days=3),
            "body": "仕訳の自動提案",
            "theme_id": theme,
        },
        {"status": "new", "stage_due_at": now - timedelta(days=1), "body": "CSVの文字化け"},
        {"status": "announced", "received_at": IN - timedelta(days=2), "announced_at": IN},
    )
    params = window()
    rest = (await client.get("/api/v1/feedback/digest", params=params, headers=editor)).json()
    found = (await data(client, DIGEST, editor, params))["digest"]

    assert found["nps"] == {"responses": 10, "promoters": 5, "passives": 3, "detractors": 2, "score": 30.0}
    assert found["total"] == rest["total"] == 12
    assert found["bySource"] == [{"key": c["key"], "count": c["count"]} for c in rest["by_source"]]
    assert found["byTheme"] == rest["by_theme"]
    assert found["decided"] == rest["decided"] == {"build": 1, "stop": 0}
    assert found["loopGaps"] == rest["loop_gaps"] and found["overdue"] == rest["overdue"]
    assert found["medianLoopDays"] == rest["median_loop_days"] == 2.0
    assert found["loopGapItems"][0]["body"] == "仕訳の自動提案"
    assert found["loopGapItems"][0]["theme"] == {"name": "請求書の読み取り"}
    assert [i["body"] for i in found["overdueItems"]] == ["CSVの文字化け"]

    _, backwards = await gql(client, DIGEST, editor, {"since": params["until"], "until": params["since"]})
    assert only_error(backwards)["extensions"]["code"] == "BAD_USER_INPUT"


async def test_who_may_ask_for_the_digest_and_themes(app, client):
    employee = await make_person(app, role="employee")
    queries = {
        "digest": "{ digest { total } }",
        "themes": "{ themes { edges { node { name } } } }",
        "createTheme": 'mutation { createTheme(input: {name: "新テーマ"}) { name } }',
    }
    expected = {
        "employee": (token_for(app, employee), ("FORBIDDEN", "FORBIDDEN", "FORBIDDEN")),
        "feedback:write": (await service_token(app, client, "feedback:write"), ("FORBIDDEN",) * 3),
        "feedback:read": (await service_token(app, client, "feedback:read"), (None, None, "FORBIDDEN")),
        "manager": (token_for(app, await make_person(app, role="manager")), (None, None, None)),
        "anonymous": (None, ("UNAUTHENTICATED",) * 3),
    }
    for caller, (token, codes) in expected.items():
        got = []
        for query in queries.values():
            _, body = await gql(client, query, bearer(token))
            got.append(error_codes(body)[0] if body.get("errors") else None)
        assert tuple(got) == codes, caller


# --- items and the loop ---------------------------------------------------------------------------


async def test_items_walk_the_loop_through_the_same_service(app, client, callers):
    employee = callers.headers("employee")
    filed = await data(
        client,
        'mutation { createFeedback(input: {source: SALES, body: "手書きの請求書が読めない",'
        ' customer: {account: "acme"}}) { id status customer { account } filedBy { email } } }',
        employee,
    )
    item = filed["createFeedback"]
    assert item["status"] == "NEW" and item["customer"] == {"account": "acme"}
    assert item["filedBy"]["email"] == callers.people["employee"].email

    manager = callers.headers("manager")
    survivor = await insert_theme(app, "読み取り")
    theme = await insert_theme(app, "読み取り精度", merged_into=survivor)
    patched = await data(
        client,
        "mutation($id: ID!, $theme: ID) { updateFeedback(id: $id, input: {themeId: $theme}) { theme { name } } }",
        manager,
        {"id": item["id"], "theme": str(theme)},
    )
    assert patched["updateFeedback"]["theme"] == {"name": "読み取り"}  # filed under the survivor

    move = (
        "mutation($id: ID!, $input: TransitionInput!) {"
        " transitionFeedback(id: $id, input: $input) { status decision rationale transitions { fromStatus toStatus } } }"
    )
    triaged = await data(
        client, move, manager, {"id": item["id"], "input": {"to": "TRIAGED", "note": "OCRチームへ"}}
    )
    assert triaged["transitionFeedback"]["transitions"] == [{"fromStatus": "NEW", "toStatus": "TRIAGED"}]
    _, jump = await gql(client, move, manager, {"id": item["id"], "input": {"to": "ANNOUNCED"}})
    assert only_error(jump)["extensions"]["code"] == "CONFLICT"
    _, undecided = await gql(client, move, manager, {"id": item["id"], "input": {"to": "DECIDED"}})
    assert only_error(undecided)["extensions"]["code"] == "BAD_USER_INPUT"
    decided = await data(
        client,
        move,
        manager,
        {"id": item["id"], "input": {"to": "DECIDED", "decision": "STOP", "rationale": "手書きは対象外"}},
    )
    assert decided["transitionFeedback"]["decision"] == "STOP"
    _, refused = await gql(client, move, employee, {"id": item["id"], "input": {"to": "IMPLEMENTED"}})
    assert only_error(refused)["extensions"]["code"] == "FORBIDDEN"  # their own item: they see, not move

    own = await data(
        client,
        "query($id: ID!) { feedbackItem(id: $id) { status theme { name } } }",
        employee,
        {"id": item["id"]},
    )
    assert own["feedbackItem"] == {"status": "DECIDED", "theme": None}  # themes are the hub's


async def test_statements_per_page_of_feedback_do_not_grow_with_its_size(app, client):
    editor = await reviewer_headers(app)
    filer = await make_person(app, role="employee")
    themes = [await insert_theme(app, f"テーマ {i}") for i in range(4)]
    ids = await insert_items(
        app,
        *(
            {"theme_id": themes[i % 4], "filed_by_id": filer.id, "status": "triaged", "body": f"声 {i}"}
            for i in range(25)
        ),
    )
    for item_id in ids:
        await insert_transitions(app, item_id, ("new", "triaged"))
    query = (
        "query($first: Int!) { feedback(first: $first) { edges { node { body theme { name items }"
        " transitions { toStatus } filedBy { email } } } } }"
    )

    async def statements_for(first: int) -> int:
        async with counting_statements(app) as statements:
            found = await data(client, query, editor, {"first": first})
        edges = found["feedback"]["edges"]
        assert len(edges) == first
        assert all(e["node"]["theme"] and e["node"]["transitions"] for e in edges)
        return len(statements)

    await notices_settled(app)
    await statements_for(3)  # warm: the caller is read once, then served from the auth cache
    assert await statements_for(3) == await statements_for(25)
