"""Themes over REST: counts (items, distinct customer accounts), merging without losing anything,
refusals, pages, and who may read and write them.

Feedback rows are inserted with SQLAlchemy Core (test data, not a mock): these tests do not
depend on the ingest endpoints.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from service.db import utcnow
from service.feedback.models import FeedbackItem, Theme
from tests.factories import (
    counting_statements,
    make_person,
    make_product,
    notices_settled,
    service_token,
    token_for,
    unique,
)

ITEM_DEFAULTS: dict[str, Any] = {
    "source": "support",
    "product_id": None,
    "customer_account": None,
    "customer_segment": None,
    "body": "請求書の読み取りが遅い",
    "nps_score": None,
    "tags": [],
    "status": "new",
    "decision": None,
    "rationale": None,
    "theme_id": None,
    "filed_by_id": None,
    "filed_by_client": None,
    "stage_due_at": None,
    "triaged_at": None,
    "decided_at": None,
    "implemented_at": None,
    "announced_at": None,
    "announcement_message_id": None,
}


async def insert_items(app: FastAPI, *items: dict[str, Any]) -> list[uuid.UUID]:
    """Insert feedback rows directly (one executemany); returns their ids in order. A
    `customer_account` is matched to its account (created if new) as ingest would."""
    now = utcnow()
    accounts = await match_accounts(app, {i["customer_account"] for i in items if i.get("customer_account")})
    rows = []
    for item in items:
        unknown = set(item) - set(ITEM_DEFAULTS) - {"received_at", "external_id", "id", "account_id"}
        assert not unknown, f"not a feedback column: {unknown}"
        rows.append(
            {
                **ITEM_DEFAULTS,
                "id": uuid.uuid4(),
                "created_at": now,
                "updated_at": now,
                "revision": 1,
                "external_id": unique("ext"),
                "received_at": now,
                "content_hash": "0" * 64,
                "account_id": accounts.get(item.get("customer_account") or ""),
                **item,
            }
        )
    if rows:
        async with app.state.engine.begin() as conn:
            await conn.execute(sa.insert(FeedbackItem.__table__), rows)
    return [row["id"] for row in rows]


async def match_accounts(app: FastAPI, names: set[str]) -> dict[str, uuid.UUID]:
    """The accounts these customer names match, created when new (the ingest's own matching)."""
    from service.accounts import service as accounts_service
    from service.db import use_case
    from tests.factories import OPERATOR

    if not names:
        return {}
    async with app.state.sessionmaker() as session, use_case(session):
        return await accounts_service.match_or_create(session, OPERATOR, dict.fromkeys(names))


async def insert_theme(
    app: FastAPI, name: str = "請求書の読み取り", *, merged_into: uuid.UUID | None = None
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
                product_id=None,
                merged_into_id=merged_into,
            )
        )
    return theme_id


async def fresh_themes(app: FastAPI, ctx: dict[str, Any]) -> dict[str, str]:
    """Authorization-matrix setup, per caller: a theme with an item (the path's `theme_id`) and
    another to merge it into, left in `ctx["merge_into"]` for the row's body (built after this)."""
    source = await insert_theme(app, "入力が遅い")
    target = await insert_theme(app, "読み取り速度")
    await insert_items(app, {"theme_id": source, "customer_account": "acme"})
    ctx["merge_into"] = str(target)
    return {"theme_id": str(source)}


async def item_rows(app: FastAPI) -> list[dict[str, Any]]:
    table = FeedbackItem.__table__
    async with app.state.engine.connect() as conn:
        result = await conn.execute(sa.select(table).order_by(table.c.external_id))
        return [dict(row._mapping) for row in result]


async def reviewer_headers(app: FastAPI, role: str = "editor") -> dict[str, str]:
    person = await make_person(app, role=role)
    return {"Authorization": f"Bearer {token_for(app, person)}"}


async def create_theme(client, headers, **body) -> dict[str, Any]:
    response = await client.post("/api/v1/themes", json={"name": "請求書の読み取り", **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


# --- counts ---------------------------------------------------------------------------------------


async def test_a_theme_counts_its_items_and_distinct_customer_accounts(app, client):
    editor = await reviewer_headers(app)
    product = await make_product(app)
    response = await client.post(
        "/api/v1/themes",
        json={"name": "月末の締めが遅い", "description": "締め作業の不満", "product_key": product.key},
        headers=editor,
    )
    assert response.status_code == 201, response.text
    theme = response.json()
    assert response.headers["location"] == f"/api/v1/themes/{theme['id']}"
    assert theme["items"] == 0 and theme["accounts"] == 0
    assert theme["product_key"] == product.key and theme["merged_into_id"] is None

    theme_id = uuid.UUID(theme["id"])
    other = await insert_theme(app, "別のテーマ")
    await insert_items(
        app,
        {"theme_id": theme_id, "customer_account": "acme"},
        {"theme_id": theme_id, "customer_account": "acme"},  # the same account twice: one account
        {"theme_id": theme_id, "customer_account": "beta"},
        {"theme_id": theme_id, "customer_account": None},  # no account: an item, not an account
        {"theme_id": theme_id, "customer_account": "gamma", "source": "nps", "nps_score": 3},
        {"theme_id": other, "customer_account": "delta"},
        {"theme_id": None, "customer_account": "acme"},
    )

    one = await client.get(f"/api/v1/themes/{theme_id}", headers=editor)
    assert one.status_code == 200
    assert (one.json()["items"], one.json()["accounts"]) == (5, 3)
    etag = one.headers["etag"]
    again = await client.get(f"/api/v1/themes/{theme_id}", headers={**editor, "If-None-Match": etag})
    assert again.status_code == 304

    listed = await client.get("/api/v1/themes", headers=editor)
    assert listed.status_code == 200
    counts = {t["name"]: (t["items"], t["accounts"]) for t in listed.json()["items"]}
    assert counts == {"月末の締めが遅い": (5, 3), "別のテーマ": (1, 1)}

    # A new item changes the counts, so the ETag changes too.
    await insert_items(app, {"theme_id": theme_id, "customer_account": "epsilon"})
    changed = await client.get(f"/api/v1/themes/{theme_id}", headers={**editor, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["accounts"] == 4


async def test_theme_pages_are_keyset_ordered_and_count_in_constant_queries(app, client):
    editor = await reviewer_headers(app)
    ids = [await insert_theme(app, f"テーマ {i}") for i in range(7)]
    await insert_items(
        app, *({"theme_id": ids[i % 7], "customer_account": f"acct-{i % 4}"} for i in range(40))
    )
    seen, cursor, pages = [], None, 0
    while True:
        response = await client.get(
            "/api/v1/themes", params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=editor
        )
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [t["id"] for t in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in response.headers
            break
        assert 'rel="next"' in response.headers["link"]
    assert seen == [str(i) for i in ids] and pages == 3
    assert (await client.get("/api/v1/themes", params={"limit": 201}, headers=editor)).status_code == 422

    async def statements_for(limit: int) -> int:
        async with counting_statements(app) as statements:
            response = await client.get("/api/v1/themes", params={"limit": limit}, headers=editor)
            assert response.status_code == 200
        return len(statements)

    await notices_settled(app)
    await statements_for(2)  # warm: the caller is read once, then served from the auth cache
    assert await statements_for(2) == await statements_for(7)


# --- merging ---------------------------------------------------------------------------------------


async def test_merging_moves_every_item_and_loses_nothing(app, client):
    editor = await reviewer_headers(app)
    source = uuid.UUID((await create_theme(client, editor, name="OCRが遅い"))["id"])
    target = uuid.UUID((await create_theme(client, editor, name="読み取り速度"))["id"])
    # Merged into the source earlier; an item still filed against it moves with the source's.
    earlier = await insert_theme(app, "スキャンが遅い", merged_into=source)
    unrelated = await insert_theme(app, "価格")
    await insert_items(
        app,
        {"theme_id": source, "customer_account": "acme", "source": "nps", "nps_score": 2},
        {"theme_id": source, "customer_account": "beta", "source": "nps", "nps_score": 9},
        {"theme_id": source, "customer_account": None},
        {"theme_id": earlier, "customer_account": "zeta", "source": "nps", "nps_score": 6},
        {"theme_id": target, "customer_account": "beta"},  # beta raised both: one account after
        {"theme_id": target, "customer_account": "gamma", "source": "nps", "nps_score": 10},
        {"theme_id": unrelated, "customer_account": "acme"},
    )
    before = await item_rows(app)
    before_source = await client.get(f"/api/v1/themes/{source}", headers=editor)
    assert (before_source.json()["items"], before_source.json()["accounts"]) == (4, 3)  # zeta counted here

    response = await client.post(f"/api/v1/themes/{source}/merge", json={"into": str(target)}, headers=editor)
    assert response.status_code == 200, response.text
    survivor = response.json()
    assert survivor["id"] == str(target)
    assert (survivor["items"], survivor["accounts"]) == (6, 4)  # acme, beta, zeta, gamma
    assert "etag" in response.headers

    merged = (await client.get(f"/api/v1/themes/{source}", headers=editor)).json()
    assert merged["merged_into_id"] == str(target) and (merged["items"], merged["accounts"]) == (0, 0)
    repointed = (await client.get(f"/api/v1/themes/{earlier}", headers=editor)).json()
    assert repointed["merged_into_id"] == str(target)  # the chain stays flat

    after = await item_rows(app)
    assert len(after) == len(before)
    by_id = {row["id"]: row for row in after}
    for row in before:
        moved = by_id[row["id"]]
        expected_theme = target if row["theme_id"] in (source, earlier, target) else row["theme_id"]
        assert moved["theme_id"] == expected_theme
        for column in ("customer_account", "nps_score", "source", "body", "received_at", "status"):
            assert moved[column] == row[column], column
        assert moved["revision"] == row["revision"] + (row["theme_id"] in (source, earlier))
    assert sorted(r["nps_score"] for r in after if r["nps_score"] is not None) == [2, 6, 9, 10]

    # The default list shows survivors only; include_merged shows the history.
    names = {t["name"] for t in (await client.get("/api/v1/themes", headers=editor)).json()["items"]}
    assert names == {"読み取り速度", "価格"}
    everything = await client.get("/api/v1/themes", params={"include_merged": "true"}, headers=editor)
    assert {t["name"] for t in everything.json()["items"]} == {
        "OCRが遅い",
        "読み取り速度",
        "スキャンが遅い",
        "価格",
    }


async def test_merge_refusals(app, client):
    editor = await reviewer_headers(app, "manager")
    a = (await create_theme(client, editor, name="A"))["id"]
    b = (await create_theme(client, editor, name="B"))["id"]
    c = (await create_theme(client, editor, name="C"))["id"]

    itself = await client.post(f"/api/v1/themes/{a}/merge", json={"into": a}, headers=editor)
    assert itself.status_code == 422
    assert itself.headers["content-type"] == "application/problem+json"
    assert itself.json()["errors"][0]["field"] == "into"

    nowhere = await client.post(f"/api/v1/themes/{a}/merge", json={"into": str(uuid.uuid4())}, headers=editor)
    assert nowhere.status_code == 422
    missing = await client.post(f"/api/v1/themes/{uuid.uuid4()}/merge", json={"into": a}, headers=editor)
    assert missing.status_code == 404
    extra = await client.post(f"/api/v1/themes/{a}/merge", json={"into": b, "force": True}, headers=editor)
    assert extra.status_code == 422  # unknown fields are refused, not ignored

    assert (
        await client.post(f"/api/v1/themes/{a}/merge", json={"into": b}, headers=editor)
    ).status_code == 200
    into_merged = await client.post(f"/api/v1/themes/{c}/merge", json={"into": a}, headers=editor)
    assert into_merged.status_code == 409
    assert into_merged.headers["content-type"] == "application/problem+json"
    merged_again = await client.post(f"/api/v1/themes/{a}/merge", json={"into": c}, headers=editor)
    assert merged_again.status_code == 409
    assert (await client.get(f"/api/v1/themes/{c}", headers=editor)).json()["merged_into_id"] is None


async def test_theme_create_validates_its_input(app, client):
    editor = await reviewer_headers(app)
    unknown = await client.post(
        "/api/v1/themes", json={"name": "x", "product_key": "no-such"}, headers=editor
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "product_key"
    empty = await client.post("/api/v1/themes", json={"name": "  "}, headers=editor)
    assert empty.status_code == 422
    assert (await client.get(f"/api/v1/themes/{uuid.uuid4()}", headers=editor)).status_code == 404
    assert (await client.get("/api/v1/themes/not-a-uuid", headers=editor)).status_code == 422


# --- who may ---------------------------------------------------------------------------------------


async def test_who_may_read_and_write_themes(app, client):
    theme_id = await insert_theme(app)
    target_id = await insert_theme(app, "移動先")
    employee = await make_person(app, role="employee")
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "employee": token_for(app, employee),
        "feedback_write": await service_token(app, client, "feedback:write"),
        "feedback_read": await service_token(app, client, "feedback:read"),
    }
    for role in ("manager", "editor", "admin"):
        tokens[role] = token_for(app, await make_person(app, role=role))
    expected = {
        # caller: (list, get, create, merge)
        "anonymous": (401, 401, 401, 401),
        "employee": (403, 403, 403, 403),
        "feedback_write": (403, 403, 403, 403),
        "feedback_read": (200, 200, 403, 403),
        "manager": (200, 200, 201, 200),
        "editor": (200, 200, 201, 409),  # the manager merged it already
        "admin": (200, 200, 201, 409),
    }
    for caller, want in expected.items():
        headers = {"Authorization": f"Bearer {tokens[caller]}"} if tokens[caller] else {}
        got = (
            (await client.get("/api/v1/themes", headers=headers)).status_code,
            (await client.get(f"/api/v1/themes/{theme_id}", headers=headers)).status_code,
            (await client.post("/api/v1/themes", json={"name": "新テーマ"}, headers=headers)).status_code,
            (
                await client.post(
                    f"/api/v1/themes/{theme_id}/merge", json={"into": str(target_id)}, headers=headers
                )
            ).status_code,
        )
        assert got == want, caller


async def test_concurrent_merges_leave_every_theme_pointing_at_a_survivor(app, client):
    """A into B while B goes into C: whichever runs first, no theme ends up pointing at a merged
    one and every item sits on a survivor (PostgreSQL locks both themes of a merge)."""
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs row locks to mean anything")
    editor = await reviewer_headers(app)
    for _ in range(5):
        a, b, c = [await insert_theme(app, name) for name in ("A", "B", "C")]
        await insert_items(app, *({"theme_id": t, "customer_account": f"acct-{t}"} for t in (a, b, c)))
        first, second = await asyncio.gather(
            client.post(f"/api/v1/themes/{a}/merge", json={"into": str(b)}, headers=editor),
            client.post(f"/api/v1/themes/{b}/merge", json={"into": str(c)}, headers=editor),
        )
        assert second.status_code == 200, second.text
        assert first.status_code in (200, 409), first.text
        themes = {
            t["id"]: t
            for t in (
                await client.get("/api/v1/themes", params={"include_merged": "true"}, headers=editor)
            ).json()["items"]
        }
        merged_into = {t["merged_into_id"] for t in themes.values() if t["merged_into_id"]}
        assert all(themes[s]["merged_into_id"] is None for s in merged_into)  # flat: survivors only
        assert themes[str(c)]["items"] == (3 if first.status_code == 200 else 2)
        rows = await item_rows(app)
        assert {r["theme_id"] for r in rows} <= {
            uuid.UUID(s) for s in themes if themes[s]["merged_into_id"] is None
        }
        async with app.state.engine.begin() as conn:
            await conn.execute(sa.delete(FeedbackItem.__table__))
            await conn.execute(sa.update(Theme.__table__).values(merged_into_id=None))
            await conn.execute(sa.delete(Theme.__table__))
