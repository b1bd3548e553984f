"""Feedback weighed by customer accounts (issue 14 item 4): ingest matches `customer.account` to
an account by key or exact name and creates the unknown ones (Japanese names included), set-based;
themes show their distinct accounts' revenue per currency; the digest ranks themes by that
revenue without exchange rates, filters by product, and lists each decision once per theme."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from service.accounts.keys import derived_key
from service.accounts.models import Account
from service.feedback.models import FeedbackItem
from tests.factories import bearer, counting_statements, make_product, service_token, unique
from tests.feedback.test_digest import BEFORE, IN, digest, window
from tests.feedback.test_themes import insert_items, insert_theme, reviewer_headers

ACCOUNTS = "/api/v1/accounts"


async def make_account(
    client, headers, *, revenue: tuple[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": unique("株式会社"), **body}
    if revenue is not None:
        payload["annual_revenue"] = {"amount": revenue[0], "currency": revenue[1]}
    response = await client.post(ACCOUNTS, json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def ticket(account: str | None, **overrides: Any) -> dict[str, Any]:
    return {
        "source": "support",
        "external_id": unique("T"),
        "body": "請求書の読み取りが遅い",
        "customer": {"account": account, "segment": "mid-market"},
        **overrides,
    }


async def accounts_of(app, external_ids: list[str]) -> dict[str, uuid.UUID | None]:
    items = FeedbackItem.__table__
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(items.c.external_id, items.c.account_id).where(items.c.external_id.in_(external_ids))
        )
        return {e: (uuid.UUID(str(a)) if a is not None else None) for e, a in rows}


async def stored_accounts(app, names: list[str]) -> dict[str, Any]:
    table = Account.__table__
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(sa.select(table).where(table.c.name.in_(names)))
        return {row.name: row for row in rows}


# --- ingest -----------------------------------------------------------------------------------------


async def test_ingest_matches_by_key_and_exact_name_and_creates_the_unknown(app, client, callers):
    admin = callers.headers("admin")
    by_key = await make_account(client, admin, key=unique("midori"))
    by_name = await make_account(client, admin, name=unique("株式会社みどり商事"))
    merged = await make_account(client, admin, name=unique("みどり（旧）"))
    survivor = await make_account(client, admin, name=unique("Midori Holdings"))
    response = await client.post(
        f"{ACCOUNTS}/{merged['id']}/merge", json={"into": survivor["id"]}, headers=admin
    )
    assert response.status_code == 200
    new_ja, new_en = unique("株式会社ひかり"), unique("Hikari Trading")
    items = [
        ticket(by_key["key"]),
        ticket(by_name["name"]),
        ticket(merged["name"]),  # a merged account's name lands on its survivor
        ticket(merged["key"]),
        ticket(new_ja),
        ticket(new_ja),  # twice in one batch: one account
        ticket(new_en, customer={"account": new_en, "segment": "Enterprise"}),
        ticket(by_name["name"].upper() + "X"),  # not an exact name: a new account of its own
        ticket(None, customer=None),
        ticket(new_ja, source="nps"),  # refused (no nps_score): creates nothing
    ]
    headers = bearer(await service_token(app, client, "feedback:write"))
    response = await client.post("/api/v1/feedback/batch", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 9 and len(response.json()["errors"]) == 1
    found = await accounts_of(app, [i["external_id"] for i in items])
    ids = [found[i["external_id"]] for i in items[:9]]
    assert ids[0] == uuid.UUID(by_key["id"]) and ids[1] == uuid.UUID(by_name["id"])
    assert ids[2] == ids[3] == uuid.UUID(survivor["id"])
    assert ids[4] == ids[5] is not None and ids[4] not in {uuid.UUID(a["id"]) for a in (by_key, by_name)}
    assert ids[8] is None
    created = await stored_accounts(app, [new_ja, new_en])
    assert created[new_ja].key == derived_key(new_ja) and created[new_ja].id == ids[4]
    assert created[new_ja].segment == "mid_market" and created[new_en].segment == "enterprise"
    assert created[new_ja].revenue_amount is None
    # The account is readable as any other, with its derived slug key.
    read = await client.get(f"{ACCOUNTS}/{ids[4]}", headers=admin)
    assert read.json()["name"] == new_ja and read.json()["key"] == derived_key(new_ja)

    # Re-sent and sent again in a later batch: the same accounts, none added.
    again = [ticket(new_ja), ticket(by_key["key"])]
    response = await client.post("/api/v1/feedback/batch", json={"items": again}, headers=headers)
    assert response.json()["created"] == 2
    found = await accounts_of(app, [i["external_id"] for i in again])
    assert list(found.values()).count(ids[4]) == 1 and uuid.UUID(by_key["id"]) in found.values()


async def test_an_employee_filing_one_item_creates_the_account_it_names(app, client, callers):
    name = unique("株式会社そら")
    response = await client.post(
        "/api/v1/feedback",
        json={"source": "sales", "body": "価格が高い", "customer": {"account": name, "segment": "SMB"}},
        headers=callers.headers("employee"),
    )
    assert response.status_code == 201, response.text
    created = await stored_accounts(app, [name])
    assert created[name].segment == "smb"


async def test_matching_is_set_based_whatever_the_number_of_accounts(app, client, callers):
    headers = bearer(await service_token(app, client, "feedback:write"))
    names = [unique("顧客") for _ in range(300)]
    items = [ticket(name) for name in names] + [ticket(name) for name in names[:50]]
    async with counting_statements(app) as statements:
        response = await client.post("/api/v1/feedback/batch", json={"items": items}, headers=headers)
    assert response.status_code == 200 and response.json()["created"] == 350, response.text
    touching = [s for s in statements if "accounts" in s.split("feedback_items")[0].lower()]
    # One read of the names, one INSERT of the new ones (in ≤ 1,000-row statements), one read back.
    assert len([s for s in touching if s.lstrip().upper().startswith("SELECT")]) == 2, touching
    assert len([s for s in touching if s.lstrip().upper().startswith("INSERT")]) == 1, touching
    assert len(set((await accounts_of(app, [i["external_id"] for i in items])).values())) == 300


# --- themes -----------------------------------------------------------------------------------------


async def test_a_theme_shows_distinct_accounts_and_revenue_per_currency(app, client, callers):
    admin = callers.headers("admin")
    jpy_a = await make_account(client, admin, revenue=("1200000000", "JPY"))
    jpy_b = await make_account(client, admin, revenue=("300000000.5", "JPY"))
    usd = await make_account(client, admin, revenue=("2500000", "USD"))
    none = await make_account(client, admin)
    theme = await insert_theme(app, "請求書の読み取り")
    absorbed = await insert_theme(app, "OCRが遅い", merged_into=theme)
    rows = [
        {"theme_id": theme, "account_id": uuid.UUID(jpy_a["id"])},
        {"theme_id": theme, "account_id": uuid.UUID(jpy_a["id"])},  # the same account twice: once
        {"theme_id": absorbed, "account_id": uuid.UUID(jpy_b["id"])},  # merged theme: the survivor's
        {"theme_id": theme, "account_id": uuid.UUID(usd["id"])},
        {"theme_id": theme, "account_id": uuid.UUID(none["id"])},
        {"theme_id": theme},
    ]
    await insert_items(app, *rows)
    editor = await reviewer_headers(app)
    read = (await client.get(f"/api/v1/themes/{theme}", headers=editor)).json()
    assert (read["items"], read["accounts"]) == (6, 4)
    assert read["revenue"] == [
        {"amount": "1500000000.5", "currency": "JPY"},
        {"amount": "2500000", "currency": "USD"},
    ]
    etag = (await client.get(f"/api/v1/themes/{theme}", headers=editor)).headers["etag"]
    # A revenue change shows in the theme (and its ETag).
    changed = await client.patch(
        f"{ACCOUNTS}/{usd['id']}",
        json={"annual_revenue": {"amount": "2600000", "currency": "USD"}},
        headers=admin,
    )
    assert changed.status_code == 200
    after = await client.get(f"/api/v1/themes/{theme}", headers=editor)
    assert after.json()["revenue"][1] == {"amount": "2600000", "currency": "USD"}
    assert after.headers["etag"] != etag
    # Merging two accounts of the theme: one account, one revenue.
    merged = await client.post(f"{ACCOUNTS}/{jpy_b['id']}/merge", json={"into": jpy_a["id"]}, headers=admin)
    assert merged.status_code == 200
    after = (await client.get(f"/api/v1/themes/{theme}", headers=editor)).json()
    assert after["accounts"] == 3 and after["revenue"][0] == {"amount": "1200000000", "currency": "JPY"}
    graphql = await client.post(
        "/graphql",
        json={
            "query": "query($id: ID!) { theme(id: $id) { accounts revenue { amount currency } } }",
            "variables": {"id": str(theme)},
        },
        headers=editor,
    )
    assert graphql.json()["data"]["theme"] == {
        "accounts": 3,
        "revenue": [{"amount": "1200000000", "currency": "JPY"}, {"amount": "2600000", "currency": "USD"}],
    }


# --- the digest -----------------------------------------------------------------------------------


async def test_the_digest_ranks_themes_by_revenue_per_currency_without_exchange_rates(app, client, callers):
    admin = callers.headers("admin")
    big_jpy = await make_account(client, admin, revenue=("900000000", "JPY"))
    small_jpy = [await make_account(client, admin, revenue=("1000000", "JPY")) for _ in range(3)]
    huge_usd = await make_account(client, admin, revenue=("99000000", "USD"))
    plain = [await make_account(client, admin) for _ in range(5)]
    few_rich = await insert_theme(app, "A")
    many_small = await insert_theme(app, "B")
    usd_only = await insert_theme(app, "C")
    many_plain = await insert_theme(app, "D")
    await insert_items(
        app,
        {"theme_id": few_rich, "account_id": uuid.UUID(big_jpy["id"]), "received_at": IN},
        *({"theme_id": many_small, "account_id": uuid.UUID(a["id"]), "received_at": IN} for a in small_jpy),
        *({"theme_id": many_small, "received_at": IN} for _ in range(5)),
        {"theme_id": usd_only, "account_id": uuid.UUID(huge_usd["id"]), "received_at": IN},
        *({"theme_id": many_plain, "account_id": uuid.UUID(a["id"]), "received_at": IN} for a in plain),
        *({"received_at": IN} for _ in range(20)),  # unthemed: last whatever its size
        {
            "theme_id": usd_only,
            "account_id": uuid.UUID(huge_usd["id"]),
            "received_at": IN - timedelta(days=30),
        },
    )
    body = await digest(client, await reviewer_headers(app))
    # JPY first: four accounts report revenue in it, one in USD.
    assert body["currencies"] == ["JPY", "USD"]
    ranked = [(t["label"], t["count"], t["accounts"], t["revenue"]) for t in body["themes"]]
    assert ranked == [
        ("A", 1, 1, [{"amount": "900000000", "currency": "JPY"}]),
        ("B", 8, 3, [{"amount": "3000000", "currency": "JPY"}]),
        ("C", 1, 1, [{"amount": "99000000", "currency": "USD"}]),  # no JPY: ranked by USD next
        ("D", 5, 5, []),  # no revenue: by accounts, then items
        (None, 20, 0, []),
    ]
    # `by_theme` keeps counting items, most first.
    assert [c["count"] for c in body["by_theme"]] == [20, 8, 5, 1, 1]


async def test_the_digest_counts_an_account_once_per_theme_merged_themes_included(app, client, callers):
    """An account in a theme and in a theme merged into it counts once for the survivor; items
    outside the window count nowhere; unthemed items' accounts count once too."""
    admin = callers.headers("admin")
    a = uuid.UUID((await make_account(client, admin, revenue=("1000", "JPY")))["id"])
    b = uuid.UUID((await make_account(client, admin, revenue=("20", "USD")))["id"])
    c = uuid.UUID((await make_account(client, admin, revenue=("300", "JPY")))["id"])
    survivor = await insert_theme(app, "請求書")
    absorbed = await insert_theme(app, "OCR", merged_into=survivor)
    other = await insert_theme(app, "連携")

    def item(theme: uuid.UUID | None, account: uuid.UUID, at=IN) -> dict[str, Any]:
        return {"theme_id": theme, "account_id": account, "received_at": at}

    await insert_items(
        app,
        *(item(survivor, a), item(survivor, a), item(absorbed, a), item(absorbed, b)),
        item(absorbed, c, BEFORE),
        *(item(other, a), item(other, c), item(other, c), item(other, c, BEFORE), item(other, b, BEFORE)),
        *(item(None, c), item(None, c), item(None, b), item(None, a, BEFORE)),
    )
    body = await digest(client, await reviewer_headers(app))
    assert body["currencies"] == ["JPY", "USD"]
    ranked = [(t["label"], t["count"], t["accounts"], t["revenue"]) for t in body["themes"]]
    assert ranked == [
        ("連携", 3, 2, [{"amount": "1300", "currency": "JPY"}]),
        ("請求書", 4, 2, [{"amount": "1000", "currency": "JPY"}, {"amount": "20", "currency": "USD"}]),
        (None, 3, 2, [{"amount": "300", "currency": "JPY"}, {"amount": "20", "currency": "USD"}]),
    ]


async def test_the_digest_filters_by_product(app, client):
    editor = await reviewer_headers(app)
    mine, other = await make_product(app), await make_product(app)
    theme = await insert_theme(app, "請求書")
    await insert_items(
        app,
        *({"product_id": mine.id, "theme_id": theme, "received_at": IN} for _ in range(3)),
        {"product_id": mine.id, "source": "nps", "nps_score": 10, "received_at": IN},
        *({"product_id": other.id, "received_at": IN} for _ in range(7)),
        {"received_at": IN},
    )
    everything = await digest(client, editor)
    assert everything["total"] == 12 and everything["product_key"] is None
    only = await digest(client, editor, **window(), product_key=mine.key)
    assert only["total"] == 4 and only["product_key"] == mine.key
    assert only["nps"]["responses"] == 1
    assert [(t["label"], t["count"]) for t in only["themes"]] == [("請求書", 3), (None, 1)]
    unknown = await client.get(
        "/api/v1/feedback/digest", params={**window(), "product_key": "no-such-product"}, headers=editor
    )
    assert unknown.status_code == 422 and unknown.headers["content-type"].startswith(
        "application/problem+json"
    )
    agenda = await client.get(
        "/api/v1/feedback/digest",
        params={**window(), "product_key": mine.key},
        headers={**editor, "Accept": "text/markdown"},
    )
    assert f"({mine.key})" in agenda.text.splitlines()[0]
    graphql = await client.post(
        "/graphql",
        json={
            "query": "query($since: DateTime, $until: DateTime, $p: String) { digest(since: $since, until: $until,"
            " productKey: $p) { total productKey themes { label count } } }",
            "variables": {**window(), "p": mine.key},
        },
        headers=editor,
    )
    assert graphql.json()["data"]["digest"]["total"] == 4


async def test_a_decision_on_a_theme_is_one_row_not_one_per_item(app, client):
    editor = await reviewer_headers(app)
    theme = await insert_theme(app, "紙の請求書")
    absorbed = await insert_theme(app, "請求書の紙", merged_into=theme)
    other = await insert_theme(app, "CSV")
    decided = {"status": "decided", "received_at": IN - timedelta(days=1)}
    await insert_items(
        app,
        *(
            {
                **decided,
                "theme_id": theme,
                "decision": "build",
                "rationale": "月末の残業を減らす",
                "decided_at": IN,
            }
            for _ in range(36)
        ),
        *(
            {
                **decided,
                "theme_id": absorbed,
                "decision": "build",
                "rationale": "月末の残業を減らす",
                "decided_at": IN,
            }
            for _ in range(2)
        ),
        *(
            {**decided, "theme_id": other, "decision": "stop", "rationale": "利用が少ない", "decided_at": IN}
            for _ in range(3)
        ),
        {**decided, "decision": "stop", "rationale": "古い", "decided_at": IN - timedelta(hours=2)},
        {**decided, "decision": "stop", "rationale": "対象外", "decided_at": IN - timedelta(hours=1)},
        {
            **decided,
            "theme_id": other,
            "decision": "stop",
            "rationale": "窓の外",
            "decided_at": IN - timedelta(days=30),
        },
    )
    body = await digest(client, editor)
    assert body["decided"] == {"build": 38, "stop": 5}
    rows = [(d["theme"], d["decision"], d["items"], d["rationale"]) for d in body["decisions"]]
    assert rows == [
        ("紙の請求書", "build", 38, "月末の残業を減らす"),
        ("CSV", "stop", 3, "利用が少ない"),
        (None, "stop", 2, "対象外"),  # unthemed, decided one by one: the latest rationale
    ]
    assert body["decisions"][0]["theme_id"] == str(theme)
    agenda = await client.get(
        "/api/v1/feedback/digest", params=window(), headers={**editor, "Accept": "text/markdown"}
    )
    assert agenda.text.count("月末の残業を減らす") == 1
    assert "- **build** 紙の請求書 (38 items, " in agenda.text
