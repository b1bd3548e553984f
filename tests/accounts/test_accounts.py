"""Customer accounts over REST and GraphQL: create, read, change, merge; what is refused and by
whom. Revenue is a decimal string in an ISO 4217 currency, never a float."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from service.accounts.keys import derived_key
from service.feedback.models import FeedbackItem
from tests.factories import bearer, service_token, unique

ACCOUNTS = "/api/v1/accounts"


async def create(client, headers, **body: Any) -> dict[str, Any]:
    response = await client.post(ACCOUNTS, json={"name": unique("株式会社つばさ"), **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def count_accounts(app) -> int:
    async with app.state.engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT count(*) FROM accounts"))).scalar_one()


async def test_an_editor_creates_a_japanese_account_with_revenue_and_reads_it_back(client, callers):
    editor = callers.headers("editor")
    name = unique("株式会社みどり商事")
    response = await client.post(
        ACCOUNTS,
        json={
            "key": unique("midori"),
            "name": name,
            "segment": "mid_market",
            "annual_revenue": {"amount": "1250000000.50", "currency": "JPY"},
        },
        headers=editor,
    )
    assert response.status_code == 201, response.text
    account = response.json()
    assert response.headers["location"] == f"{ACCOUNTS}/{account['id']}"
    assert account["name"] == name and account["segment"] == "mid_market"
    assert account["annual_revenue"] == {"amount": "1250000000.5", "currency": "JPY"}
    assert account["merged_into_id"] is None
    again = await client.get(f"{ACCOUNTS}/{account['id']}", headers=callers.headers("manager"))
    assert again.status_code == 200 and again.json() == account
    assert again.headers["etag"] == '"v1"'
    cached = await client.get(
        f"{ACCOUNTS}/{account['id']}", headers={**editor, "If-None-Match": again.headers["etag"]}
    )
    assert cached.status_code == 304


async def test_a_key_is_derived_from_a_japanese_name_as_a_stable_slug(client, callers):
    name = unique("株式会社つばさ")
    account = await create(client, callers.headers("admin"), name=name)
    assert account["key"] == derived_key(name)
    assert account["key"].startswith("account-") or account["key"][0].isalnum()
    assert derived_key("株式会社つばさ") == derived_key("株式会社つばさ") != derived_key("株式会社みどり")
    assert derived_key("ＡＣＭＥ Corp.").startswith("acme-corp-")


async def test_bad_input_is_a_problem_and_changes_nothing(app, client, callers):
    editor = callers.headers("editor")
    before = await count_accounts(app)
    cases = {
        "currency not ISO 4217": {"annual_revenue": {"amount": "100", "currency": "YEN"}},
        "currency lower case": {"annual_revenue": {"amount": "100", "currency": "usd"}},
        "currency too long": {"annual_revenue": {"amount": "100", "currency": "USDX"}},
        "amount as a float": {"annual_revenue": {"amount": 100.5, "currency": "USD"}},
        "amount negative": {"annual_revenue": {"amount": "-5", "currency": "USD"}},
        "amount exponent": {"annual_revenue": {"amount": "1e9", "currency": "USD"}},
        "amount five decimals": {"annual_revenue": {"amount": "1.23456", "currency": "USD"}},
        "amount too large": {"annual_revenue": {"amount": "1" + "0" * 16, "currency": "USD"}},
        "amount without currency": {"annual_revenue": {"amount": "100"}},
        "NUL in the name": {"name": "株式会社\x00つばさ"},
        "NUL in the currency": {"annual_revenue": {"amount": "100", "currency": "US\x00"}},
        "segment not in the set": {"segment": "galactic"},
        "key not a slug": {"key": "株式会社"},
        "empty name": {"name": "   "},
        "unknown field": {"revenue": 5},
    }
    for case, body in cases.items():
        response = await client.post(ACCOUNTS, json={"name": unique("名前"), **body}, headers=editor)
        assert response.status_code == 422, (case, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), case
    assert await count_accounts(app) == before


async def test_a_taken_key_or_name_is_a_conflict(client, callers):
    editor = callers.headers("editor")
    first = await create(client, editor, key=unique("acme"))
    same_key = await client.post(ACCOUNTS, json={"key": first["key"], "name": unique("Acme")}, headers=editor)
    assert same_key.status_code == 409, same_key.text
    same_name = await client.post(ACCOUNTS, json={"name": first["name"]}, headers=editor)
    assert same_name.status_code == 409, same_name.text


async def test_patch_changes_clears_and_honours_if_match(client, callers):
    editor = callers.headers("editor")
    account = await create(
        client, editor, segment="smb", annual_revenue={"amount": "3000000", "currency": "USD"}
    )
    path = f"{ACCOUNTS}/{account['id']}"
    stale = await client.patch(path, json={"segment": "enterprise"}, headers={**editor, "If-Match": '"v9"'})
    assert stale.status_code == 412
    changed = await client.patch(
        path,
        json={"segment": "enterprise", "annual_revenue": {"amount": "0.25", "currency": "EUR"}},
        headers={**editor, "If-Match": '"v1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["segment"] == "enterprise" and changed.json()["revision"] == 2
    assert changed.json()["annual_revenue"] == {"amount": "0.25", "currency": "EUR"}
    cleared = await client.patch(path, json={"segment": None, "annual_revenue": None}, headers=editor)
    assert cleared.json()["segment"] is None and cleared.json()["annual_revenue"] is None
    refused = await client.patch(path, json={"name": None}, headers=editor)
    assert refused.status_code == 422
    bad = await client.patch(
        path, json={"annual_revenue": {"amount": "1", "currency": "ZZZ"}}, headers=editor
    )
    assert bad.status_code == 422
    after = await client.get(path, headers=editor)
    assert after.json()["revision"] == 3 and after.json()["annual_revenue"] is None


async def test_the_list_is_paged_filtered_by_segment_and_hides_merged_accounts(client, callers):
    admin = callers.headers("admin")
    made = [await create(client, admin, segment="public_sector") for _ in range(3)]
    merged = await client.post(
        f"{ACCOUNTS}/{made[0]['id']}/merge", json={"into": made[1]["id"]}, headers=admin
    )
    assert merged.status_code == 200, merged.text
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"segment": "public_sector", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(ACCOUNTS, params=params, headers=admin)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert made[0]["id"] not in seen and {made[1]["id"], made[2]["id"]} <= set(seen)
    with_merged = await client.get(
        ACCOUNTS, params={"segment": "public_sector", "include_merged": "true", "limit": 100}, headers=admin
    )
    assert made[0]["id"] in [a["id"] for a in with_merged.json()["items"]]


async def insert_feedback(app, account_id: str, count: int) -> list[uuid.UUID]:
    from tests.feedback.test_themes import insert_items

    return await insert_items(
        app, *({"account_id": uuid.UUID(account_id), "body": "月末の締めが遅い"} for _ in range(count))
    )


async def account_of(app, item_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    async with app.state.engine.connect() as conn:
        stmt = sa.select(FeedbackItem.__table__.c.account_id).where(FeedbackItem.__table__.c.id.in_(item_ids))
        return {uuid.UUID(str(v)) for v in (await conn.execute(stmt)).scalars()}


async def test_merge_moves_feedback_and_the_merged_account_still_resolves(app, client, callers):
    editor = callers.headers("editor")
    older = await create(client, editor, name=unique("つばさ（旧）"))
    dup = await create(client, editor, name=unique("株式会社つばさ"))
    survivor = await create(client, editor, name=unique("Tsubasa Inc."))
    older_items = await insert_feedback(app, older["id"], 2)
    dup_items = await insert_feedback(app, dup["id"], 3)
    first = await client.post(f"{ACCOUNTS}/{older['id']}/merge", json={"into": dup["id"]}, headers=editor)
    assert first.status_code == 200, first.text
    assert await account_of(app, older_items) == {uuid.UUID(dup["id"])}
    # Merging the survivor of an earlier merge carries what was merged into it.
    second = await client.post(f"{ACCOUNTS}/{dup['id']}/merge", json={"into": survivor["id"]}, headers=editor)
    assert second.status_code == 200 and second.json()["id"] == survivor["id"]
    assert second.json()["revision"] == 2
    assert await account_of(app, older_items + dup_items) == {uuid.UUID(survivor["id"])}
    for merged in (older, dup):
        read = (await client.get(f"{ACCOUNTS}/{merged['id']}", headers=editor)).json()
        assert read["merged_into_id"] == survivor["id"]
    # Refused: into itself (422), from or into a merged account (409), into nothing (422).
    itself = await client.post(
        f"{ACCOUNTS}/{survivor['id']}/merge", json={"into": survivor["id"]}, headers=editor
    )
    assert itself.status_code == 422
    again = await client.post(f"{ACCOUNTS}/{dup['id']}/merge", json={"into": survivor["id"]}, headers=editor)
    assert again.status_code == 409
    into_merged = await client.post(
        f"{ACCOUNTS}/{survivor['id']}/merge", json={"into": dup["id"]}, headers=editor
    )
    assert into_merged.status_code == 409
    nowhere = await client.post(
        f"{ACCOUNTS}/{survivor['id']}/merge", json={"into": str(uuid.uuid4())}, headers=editor
    )
    assert nowhere.status_code == 422
    patch_merged = await client.patch(f"{ACCOUNTS}/{dup['id']}", json={"segment": "smb"}, headers=editor)
    assert patch_merged.status_code == 409
    missing = await client.post(
        f"{ACCOUNTS}/{uuid.uuid4()}/merge", json={"into": survivor["id"]}, headers=editor
    )
    assert missing.status_code == 404


async def test_who_may_read_and_write_accounts(app, client, callers):
    admin = callers.headers("admin")
    account = await create(client, admin)
    path = f"{ACCOUNTS}/{account['id']}"
    other = await create(client, admin)
    readers = {
        "manager": callers.headers("manager"),
        "feedback:read": bearer(await service_token(app, client, "feedback:read")),
    }
    for who, headers in readers.items():
        assert (await client.get(ACCOUNTS, headers=headers)).status_code == 200, who
        assert (await client.get(path, headers=headers)).status_code == 200, who
        # Readers, not keepers: every write refused, nothing changed.
        assert (
            await client.post(ACCOUNTS, json={"name": unique("x")}, headers=headers)
        ).status_code == 403, who
        assert (await client.patch(path, json={"segment": "smb"}, headers=headers)).status_code == 403, who
        merged = await client.post(f"{path}/merge", json={"into": other["id"]}, headers=headers)
        assert merged.status_code == 403, who
    refused = {
        "employee": callers.headers("employee"),
        "feedback:write": bearer(await service_token(app, client, "feedback:write")),
        "pitch:read": callers.headers("svc_pitch"),
    }
    for who, headers in refused.items():
        assert (await client.get(ACCOUNTS, headers=headers)).status_code == 403, who
        assert (await client.get(path, headers=headers)).status_code == 403, who
        assert (
            await client.post(ACCOUNTS, json={"name": unique("x")}, headers=headers)
        ).status_code == 403, who
        assert (await client.patch(path, json={"segment": "smb"}, headers=headers)).status_code == 403, who
    assert (await client.get(ACCOUNTS)).status_code == 401
    after = (await client.get(path, headers=admin)).json()
    assert after == account


async def test_graphql_creates_changes_merges_and_refuses_like_rest(app, client, callers):
    async def gql(query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    editor = callers.headers("editor")
    create_q = (
        "mutation($name: String!) { createAccount(input: {name: $name, segment: ENTERPRISE, "
        'annualRevenue: {amount: "5000000", currency: "USD"}}) { id key name segment annualRevenue { amount currency } etag } }'
    )
    name = unique("北斗物流株式会社")
    made = (await gql(create_q, editor, name=name))["data"]["createAccount"]
    assert made["name"] == name and made["segment"] == "ENTERPRISE" and made["key"] == derived_key(name)
    assert made["annualRevenue"] == {"amount": "5000000", "currency": "USD"}
    bad = await gql(
        'mutation { createAccount(input: {name: "x", annualRevenue: {amount: "1", currency: "XXX"}}) { id } }',
        editor,
    )
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    patched = await gql(
        'mutation($id: ID!) { updateAccount(id: $id, input: {segment: SMB}, ifMatch: "\\"v1\\"") { segment revision: etag } }',
        editor,
        id=made["id"],
    )
    assert patched["data"]["updateAccount"]["segment"] == "SMB"
    other = (await gql(create_q, editor, name=unique("北斗")))["data"]["createAccount"]
    merged = await gql(
        "mutation($id: ID!, $into: ID!) { mergeAccount(id: $id, into: $into) { id } }",
        editor,
        id=made["id"],
        into=other["id"],
    )
    assert merged["data"]["mergeAccount"]["id"] == other["id"]
    read = await gql(
        "query($id: ID!) { account(id: $id) { mergedInto { id name } } accounts(first: 5) { edges { node { id } } } }",
        callers.headers("manager"),
        id=made["id"],
    )
    assert read["data"]["account"]["mergedInto"]["id"] == other["id"]
    employee = await gql("{ accounts(first: 1) { edges { node { id } } } }", callers.headers("employee"))
    assert employee["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    manager = await gql(create_q, callers.headers("manager"), name=unique("x"))
    assert manager["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_ingest_and_the_pitch_name_the_same_account_for_a_value(app, client, callers):
    """The one rule in its two forms (service.accounts.repository): ingest's set-based match and
    the SQL subquery the pitch's `?account=` lead embeds give the same survivor for every value:
    the key before a name, and a merged account (even merged twice over) stands for its survivor."""
    from service.accounts import repository
    from service.accounts import service as accounts_service
    from tests.factories import OPERATOR

    editor = callers.headers("editor")
    shared = unique("tsubasa")  # one account's name and another's key
    named = await create(client, editor, key=unique("named"), name=shared)
    keyed = await create(client, editor, key=shared, name=unique("株式会社つばさ"))
    earlier = await create(client, editor, name=unique("つばさ（旧）"))
    merged = await create(client, editor, name=unique("ツバサ"))
    for source, into in ((earlier, merged), (merged, named)):
        response = await client.post(
            f"{ACCOUNTS}/{source['id']}/merge", json={"into": into["id"]}, headers=editor
        )
        assert response.status_code == 200, response.text
    expected = {
        shared: keyed["id"],
        named["key"]: named["id"],
        keyed["name"]: keyed["id"],
        earlier["key"]: named["id"],
        earlier["name"]: named["id"],
        merged["name"]: named["id"],
    }
    async with app.state.sessionmaker() as session:
        by_ingest = await accounts_service.match_or_create(session, OPERATOR, dict.fromkeys(expected))
        by_pitch = {
            value: (await session.execute(sa.select(repository.matching(value)))).scalar_one()
            for value in [*expected, unique("どこにもない")]
        }
        standing = await session.execute(repository.standing_for(repository.matching(earlier["name"])))
        members = {uuid.UUID(str(v)) for v in standing.scalars()}
    assert {value: str(id_) for value, id_ in by_ingest.items()} == expected
    assert [str(v) if v else None for v in by_pitch.values()] == [*expected.values(), None]
    assert members == {uuid.UUID(a["id"]) for a in (named, earlier, merged)}
