"""The weekly digest over REST: its arithmetic on scripted sets, its lists, its window, the
Markdown agenda, and who may read it. Rows are inserted with SQLAlchemy Core (test data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from service.db import utcnow
from service.feedback.digest import nps_summary
from tests.factories import make_person, service_token, token_for
from tests.feedback.test_themes import insert_items, insert_theme, reviewer_headers

# A fixed window in the past: the digest's "now" (overdue) stays the real one.
UNTIL = datetime(2026, 11, 23, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=7)
IN = UNTIL - timedelta(days=2)  # received inside the window
BEFORE = SINCE - timedelta(days=3)


def window(since: datetime = SINCE, until: datetime = UNTIL) -> dict[str, str]:
    return {"since": since.isoformat(), "until": until.isoformat()}


async def digest(client, headers, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/feedback/digest", params=params or window(), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def nps(score: int, received_at: datetime = IN, **extra: Any) -> dict[str, Any]:
    return {"source": "nps", "nps_score": score, "received_at": received_at, **extra}


# --- NPS ------------------------------------------------------------------------------------------


async def test_nps_of_ten_scripted_answers_is_thirty(app, client):
    editor = await reviewer_headers(app)
    await insert_items(
        app,
        *(nps(s) for s in (10, 9, 10, 9, 9)),  # 5 promoters
        *(nps(s) for s in (7, 8, 7)),  # 3 passives
        *(nps(s) for s in (0, 6)),  # 2 detractors
        nps(0, BEFORE),  # outside the window
        nps(0, UNTIL),  # `until` is exclusive
        {"source": "survey", "nps_score": 10, "received_at": IN},  # not an NPS answer
    )
    body = await digest(client, editor)
    assert body["nps"] == {"responses": 10, "promoters": 5, "passives": 3, "detractors": 2, "score": 30.0}
    assert body["total"] == 11


async def test_nps_score_is_exact_to_one_decimal(app, client):
    editor = await reviewer_headers(app)
    # 3 promoters, 11 passives, 2 detractors: 100 × 1 / 16 = 6.25 → 6.3 (half away from zero).
    await insert_items(
        app, *(nps(10) for _ in range(3)), *(nps(8) for _ in range(11)), *(nps(6) for _ in range(2))
    )
    assert (await digest(client, editor))["nps"]["score"] == 6.3


def test_nps_arithmetic_on_edge_sets():
    assert nps_summary(0, 0, 0).score is None
    assert nps_summary(1, 0, 2).score == -33.3  # -33.33…
    assert nps_summary(0, 0, 1).score == -100.0
    assert nps_summary(2, 1, 0).score == 66.7  # 66.66…
    assert nps_summary(3, 11, 2).score == 6.3
    assert nps_summary(2, 11, 3).score == -6.3
    assert nps_summary(1, 1999, 0).score == 0.1  # 0.05 → 0.1: decimals, not binary floats
    assert nps_summary(3, 1997, 0).score == 0.2  # 0.15 (0.1499… as a float) → 0.2


async def test_no_nps_answers_gives_a_null_score(app, client):
    editor = await reviewer_headers(app)
    body = await digest(client, editor)
    assert body["total"] == 0
    assert body["nps"] == {"responses": 0, "promoters": 0, "passives": 0, "detractors": 0, "score": None}
    assert body["median_loop_days"] is None
    assert body["decided"] == {"build": 0, "stop": 0}
    assert body["by_theme"] == [] and body["loop_gaps"] == [] and body["overdue"] == []


# --- counts by source and theme -------------------------------------------------------------------


async def test_counts_by_source_and_theme_with_merged_themes_under_the_survivor(app, client):
    editor = await reviewer_headers(app)
    survivor = await insert_theme(app, "読み取り速度")
    merged = await insert_theme(app, "OCRが遅い", merged_into=survivor)
    pricing = await insert_theme(app, "価格")
    await insert_items(
        app,
        {"source": "support", "theme_id": survivor, "received_at": IN},
        {"source": "support", "theme_id": merged, "received_at": IN},
        {"source": "sales", "theme_id": merged, "received_at": IN},
        {"source": "sales", "theme_id": pricing, "received_at": IN},
        {"source": "interview", "theme_id": None, "received_at": IN},
        {"source": "interview", "theme_id": None, "received_at": IN},
        nps(9, theme_id=None),
        {"source": "support", "theme_id": pricing, "received_at": BEFORE},  # outside
    )
    body = await digest(client, editor)
    assert body["total"] == 7
    assert body["by_source"] == [
        {"key": "support", "label": None, "count": 2},
        {"key": "sales", "label": None, "count": 2},
        {"key": "nps", "label": None, "count": 1},
        {"key": "survey", "label": None, "count": 0},
        {"key": "interview", "label": None, "count": 2},
        {"key": "other", "label": None, "count": 0},
    ]
    # Most items first; on a tie, named themes before the unthemed ones (key null).
    assert body["by_theme"] == [
        {"key": str(survivor), "label": "読み取り速度", "count": 3},
        {"key": None, "label": None, "count": 3},
        {"key": str(pricing), "label": "価格", "count": 1},
    ]
    assert sum(c["count"] for c in body["by_theme"]) == body["total"]
    assert sum(c["count"] for c in body["by_source"]) == body["total"]


# --- decisions, loop gaps, overdue, loop time -----------------------------------------------------


async def test_decisions_in_the_window_by_kind(app, client):
    editor = await reviewer_headers(app)
    decided = {"status": "decided", "received_at": BEFORE}
    await insert_items(
        app,
        {**decided, "decision": "build", "decided_at": IN},
        {**decided, "decision": "build", "decided_at": IN, "status": "implemented", "implemented_at": IN},
        {**decided, "decision": "stop", "decided_at": IN, "rationale": "競合と同じ機能は作らない"},
        {**decided, "decision": "stop", "decided_at": BEFORE},  # decided before the window
    )
    assert (await digest(client, editor))["decided"] == {"build": 2, "stop": 1}


async def test_loop_gaps_and_overdue_items_whatever_the_window(app, client):
    editor = await reviewer_headers(app)
    now = utcnow()
    old, newer, announced = await insert_items(
        app,
        {"status": "implemented", "implemented_at": now - timedelta(days=60), "received_at": BEFORE},
        {"status": "implemented", "implemented_at": now - timedelta(days=1), "received_at": IN},
        {"status": "announced", "implemented_at": now - timedelta(days=90), "announced_at": now},
    )
    late_new, later_decided, not_due, late_but_announced = await insert_items(
        app,
        {"status": "new", "stage_due_at": now - timedelta(days=3)},
        {"status": "decided", "stage_due_at": now - timedelta(days=10)},
        {"status": "triaged", "stage_due_at": now + timedelta(days=3)},
        {"status": "announced", "stage_due_at": now - timedelta(days=30), "announced_at": now},
    )
    body = await digest(client, editor)
    assert body["loop_gaps"] == [str(old), str(newer)]  # oldest implementation first
    assert body["overdue"] == [str(later_decided), str(late_new)]  # longest overdue first
    assert str(not_due) not in body["overdue"] and str(late_but_announced) not in body["overdue"]
    assert str(announced) not in body["loop_gaps"]


async def test_loop_lists_are_capped_at_a_hundred(app, client):
    editor = await reviewer_headers(app)
    now = utcnow()
    await insert_items(
        app,
        *(
            {
                "status": "implemented",
                "implemented_at": now - timedelta(hours=i),
                "stage_due_at": now - timedelta(hours=i),
            }
            for i in range(1, 106)
        ),
    )
    body = await digest(client, editor)
    assert len(body["loop_gaps"]) == 100 and len(body["overdue"]) == 100


async def test_median_loop_time_in_days(app, client):
    editor = await reviewer_headers(app)

    def announced(days: float, at: datetime = IN) -> dict[str, Any]:
        return {"status": "announced", "received_at": at - timedelta(days=days), "announced_at": at}

    ids = await insert_items(app, announced(1), announced(2), announced(4.5), announced(10))
    assert (await digest(client, editor))["median_loop_days"] == 3.3  # (2 + 4.5) / 2 = 3.25 → 3.3
    await insert_items(app, announced(20), announced(3, at=BEFORE))  # the second is outside
    assert (await digest(client, editor))["median_loop_days"] == 4.5
    assert len(ids) == 4


# --- the window -----------------------------------------------------------------------------------


async def test_the_default_window_is_the_last_seven_days(app, client):
    editor = await reviewer_headers(app)
    now = utcnow()
    await insert_items(
        app,
        {"received_at": now - timedelta(days=1)},
        {"received_at": now - timedelta(days=6, hours=23)},
        {"received_at": now - timedelta(days=7, hours=1)},
    )
    response = await client.get("/api/v1/feedback/digest", headers=editor)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert until - since == timedelta(days=7)
    assert abs((until - now).total_seconds()) < 60


async def test_since_must_be_before_until(app, client):
    editor = await reviewer_headers(app)
    for params in (
        window(UNTIL, SINCE),
        window(SINCE, SINCE),
        {"since": (utcnow() + timedelta(days=1)).isoformat()},
    ):
        response = await client.get("/api/v1/feedback/digest", params=params, headers=editor)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "since"
    bad = await client.get("/api/v1/feedback/digest", params={"since": "last week"}, headers=editor)
    assert bad.status_code == 422


# --- the agenda -----------------------------------------------------------------------------------


async def test_markdown_agenda_has_every_section_and_the_customers_words(app, client):
    editor = await reviewer_headers(app)
    theme = await insert_theme(app, "請求書の読み取り")
    now = utcnow()
    await insert_items(
        app,
        *(nps(s) for s in (10, 9, 10, 9, 9, 7, 8, 7, 0, 6)),
        {"theme_id": theme, "body": "手書きの請求書が読めない", "received_at": IN},
        {
            "status": "decided",
            "decision": "stop",
            "decided_at": IN,
            "body": "PDFの一括印刷が欲しい",
            "rationale": "利用が少ないため作らない",
        },
        {
            "status": "implemented",
            "implemented_at": now - timedelta(days=5),
            "body": "仕訳の自動提案を入れてほしい",
            "theme_id": theme,
        },
        {"status": "triaged", "stage_due_at": now - timedelta(days=4), "body": "CSV出力の文字化け | *至急*"},
    )
    response = await client.get(
        "/api/v1/feedback/digest", params=window(), headers={**editor, "Accept": "text/markdown"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "accept" in response.headers["vary"].lower()
    text = response.text
    for heading in (
        "# Weekly feedback review",
        "## 1. What customers said (5 min)",
        "### By source",
        "### Top themes",
        "### NPS",
        "## 2. Decisions: build or stop (5 min)",
        "## 3. Closing the loop (5 min)",
        "### Loop gaps to announce",
        "### Overdue items",
        "### Median loop time",
    ):
        assert heading in text, heading
    assert text.count("(5 min)") == 3
    assert "score **+30.0** from 10 responses" in text
    assert "- nps: 10" in text and "- stop: 1" in text and "- build: 0" in text
    assert "1. 請求書の読み取り: 1 items" in text and "- (no theme yet): 10 items to triage" in text
    assert "Decided in the window, once per theme:" in text
    assert (
        "- **stop** unthemed items (the latest rationale) (1 items, " in text
        and "利用が少ないため作らない" in text
    )
    assert "仕訳の自動提案を入れてほしい" in text  # Japanese shown as-is, not escaped
    assert "triaged, due" in text
    assert "CSV出力の文字化け \\| \\*至急\\*" in text  # Markdown in customer words stays inert
    assert "nothing announced in the window" in text

    json_again = await client.get(
        "/api/v1/feedback/digest", params=window(), headers={**editor, "Accept": "application/json"}
    )
    assert json_again.headers["content-type"].startswith("application/json")


# --- who may --------------------------------------------------------------------------------------


async def test_who_may_read_the_digest(app, client):
    employee = await make_person(app, role="employee")
    expected = {
        "anonymous": (None, 401),
        "employee": (token_for(app, employee), 403),
        "feedback:write only": (await service_token(app, client, "feedback:write"), 403),
        "pitch:read": (await service_token(app, client, "pitch:read"), 403),
        "feedback:read": (await service_token(app, client, "feedback:read"), 200),
    }
    for role in ("manager", "editor", "admin"):
        expected[role] = (token_for(app, await make_person(app, role=role)), 200)
    for caller, (token, status) in expected.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for accept in ("application/json", "text/markdown"):
            response = await client.get("/api/v1/feedback/digest", headers={**headers, "Accept": accept})
            assert response.status_code == status, (caller, accept, response.text)
            if status != 200:
                assert response.headers["content-type"] == "application/problem+json"


async def test_digest_route_is_not_taken_for_a_feedback_id(app: FastAPI, client):
    """Item routes take only UUIDs, so route order cannot hand `digest` to them."""
    item_routes = [
        context.route
        for context in iter_route_contexts(app.routes)
        if context.path.startswith("/api/v1/feedback/{")
    ]
    assert item_routes
    for path in ("/api/v1/feedback/digest", "/api/v1/feedback/batch"):
        for method in ("GET", "PATCH", "POST"):
            scope = {"type": "http", "path": path, "method": method}
            assert all(route.matches(scope)[0] is not Match.FULL for route in item_routes), (method, path)
    missing = await client.get("/api/v1/feedback/not-an-id", headers=await reviewer_headers(app))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_a_window_given_as_unix_numbers_is_refused_not_guessed(app, client):
    """Found by the contract fuzzer: `since=0.70` (and `until=29010`) were read as Unix seconds
    although the contract publishes RFC 3339 date-times; the same holds for dates in bodies."""
    headers = await reviewer_headers(app)
    for params in ({"since": "0.7039888213309253"}, {"until": "29010"}, {"since": "-5"}):
        response = await client.get("/api/v1/feedback/digest", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["field"] == next(iter(params))
    listed = await client.get("/api/v1/feedback", params={"since": "1700000000"}, headers=headers)
    assert listed.status_code == 422, listed.text
    evidence = await client.post(
        "/api/v1/evidence",
        json={"kind": "metric", "claim": "週3時間減少", "source": "調査", "verify_by": 20261231},
        headers=headers,
    )
    assert evidence.status_code == 422, evidence.text
    assert evidence.json()["errors"][0]["field"] == "verify_by"
    fine = await client.get(
        "/api/v1/feedback/digest", params={"since": "2026-11-01T00:00:00Z"}, headers=headers
    )
    assert fine.status_code == 200, fine.text
