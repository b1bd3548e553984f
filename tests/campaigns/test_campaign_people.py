"""Who is behind (`GET /campaigns/{id}/people`, `Campaign.people`): each person's state and whether
they are overdue, exactly as readiness counts them, paged by cursor, and who may see whom."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from service.people.schemas import PersonRead
from tests.campaigns.helpers import ago, make_campaign, readiness
from tests.campaigns.test_readiness import ack, check, grade, passes, who
from tests.factories import (
    bearer,
    counting_statements,
    make_brief,
    make_department,
    make_person,
    make_product,
    notices_settled,
    service_token,
)
from tests.test_graphql import gql


async def everyone(client: httpx.AsyncClient, headers: dict, campaign_id, **params) -> list[dict]:
    """Every page, followed by `next_cursor`."""
    found: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/api/v1/campaigns/{campaign_id}/people", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def states(items: list[dict]) -> dict[str, tuple[str, bool]]:
    return {i["email"]: (i["state"], i["overdue"]) for i in items}


async def scripted(app: FastAPI, client: httpx.AsyncClient, editor: dict):
    """Sales: nothing, acknowledged, pending, needs work, passed; support: passed, nothing.
    The campaign's last step is past, so everyone who has not passed is overdue."""
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="support", name="サポート部")
    managers = {
        key: await make_person(app, role="manager", department_key=key) for key in ("sales", "support")
    }
    people: dict[str, PersonRead] = {}
    for name, key in (("s1", "sales"), ("s2", "sales"), ("s3", "sales"), ("s4", "sales"), ("s5", "sales")):
        people[name] = await make_person(app, department_key=key, email=f"{name}@example.com")
    for name in ("t1", "t2"):
        people[name] = await make_person(app, department_key="support", email=f"{name}@example.com")
    brief = await make_brief(
        app, await make_person(app, role="editor"), (await make_product(app)).key, status="published"
    )
    campaign = await make_campaign(
        app,
        brief=brief,
        departments=["sales", "support"],
        roles=["employee"],
        steps=[{"channel": "briefing", "title": "説明会", "at": ago(2)}],
    )
    await ack(client, app, people["s2"], campaign.id)
    await check(client, app, people["s3"], campaign.id)
    assert (
        await grade(client, editor, await check(client, app, people["s4"], campaign.id), "needs_work")
    ).status_code == 200
    await passes(client, app, people["s5"], campaign.id, editor)
    await passes(client, app, people["t1"], campaign.id, editor)
    return campaign, people, managers


EXPECTED = {
    "s1@example.com": ("not_acknowledged", True),
    "s2@example.com": ("acknowledged", True),
    "s3@example.com": ("check_pending", True),
    "s4@example.com": ("needs_work", True),
    "s5@example.com": ("passed", False),
    "t1@example.com": ("passed", False),
    "t2@example.com": ("not_acknowledged", True),
}


async def test_each_person_has_the_state_readiness_counts_them_in(app, client, callers):
    editor = callers.headers("editor")
    campaign, people, _ = await scripted(app, client, editor)
    items = await everyone(client, editor, campaign.id)
    assert states(items) == EXPECTED
    s1 = next(i for i in items if i["email"] == "s1@example.com")
    assert s1 == {
        "person_id": str(people["s1"].id),
        "display_name": people["s1"].display_name,
        "email": "s1@example.com",
        "department_key": "sales",
        "state": "not_acknowledged",
        "overdue": True,
    }

    # The list and the counts agree, in total and per department.
    counted = await readiness(client, editor, campaign.id)
    assert counted["passed"] == sum(i["state"] == "passed" for i in items)
    assert counted["acknowledged"] == sum(i["state"] != "not_acknowledged" for i in items)
    assert counted["overdue"] == sum(i["overdue"] for i in items)
    assert counted["audience"] == len(items)
    for row in counted["departments"]:
        mine = [i for i in items if i["department_key"] == row["department"]]
        assert (row["audience"], row["passed"], row["overdue"]) == (
            len(mine),
            sum(i["state"] == "passed" for i in mine),
            sum(i["overdue"] for i in mine),
        )

    # Filters: a state, overdue or not, both, a department.
    assert set(states(await everyone(client, editor, campaign.id, state="passed"))) == {
        "s5@example.com",
        "t1@example.com",
    }
    assert len(await everyone(client, editor, campaign.id, overdue="true")) == 5
    assert len(await everyone(client, editor, campaign.id, overdue="false")) == 2
    assert states(await everyone(client, editor, campaign.id, state="needs_work", overdue="true")) == {
        "s4@example.com": ("needs_work", True)
    }
    assert set(states(await everyone(client, editor, campaign.id, department="support"))) == {
        "t1@example.com",
        "t2@example.com",
    }
    assert await everyone(client, editor, campaign.id, department="nowhere") == []
    url = f"/api/v1/campaigns/{campaign.id}/people"
    assert (await client.get(url, params={"state": "late"}, headers=editor)).status_code == 422
    assert (await client.get(url, params={"overdue": "maybe"}, headers=editor)).status_code == 422

    # Whoever leaves the company leaves the list, as they leave the counts.
    gone = await client.patch(
        f"/api/v1/people/{people['t2'].id}", json={"active": False}, headers=callers.headers("admin")
    )
    assert gone.status_code == 200
    assert "t2@example.com" not in states(await everyone(client, editor, campaign.id))


async def test_pages_are_stable_and_cursors_checked(app, client, callers):
    editor = callers.headers("editor")
    campaign, _, _ = await scripted(app, client, editor)
    url = f"/api/v1/campaigns/{campaign.id}/people"
    whole = (await client.get(url, headers=editor)).json()["items"]
    paged = await everyone(client, editor, campaign.id, limit=3)
    assert [i["person_id"] for i in paged] == [i["person_id"] for i in whole]
    assert len({i["person_id"] for i in paged}) == 7
    first = await client.get(url, params={"limit": 3}, headers=editor)
    assert 'rel="next"' in first.headers["link"]
    assert (await client.get(url, params={"cursor": "not-a-cursor"}, headers=editor)).status_code == 422
    assert (await client.get(url, params={"limit": 201}, headers=editor)).status_code == 422

    # Set-based: the statements for a page do not grow with its size, over REST and GraphQL.
    async def statements_for(limit: int) -> int:
        async with counting_statements(app) as statements:
            response = await client.get(url, params={"limit": limit}, headers=editor)
            assert len(response.json()["items"]) == limit
        return len(statements)

    await notices_settled(app)
    await statements_for(2)  # warm: the caller is read once, then served from the auth cache
    assert await statements_for(2) == await statements_for(7)


async def test_managers_see_their_department_and_others_are_refused(app, client, callers):
    editor = callers.headers("editor")
    campaign, people, managers = await scripted(app, client, editor)
    url = f"/api/v1/campaigns/{campaign.id}/people"
    sales = who(app, managers["sales"])
    mine = await everyone(client, sales, campaign.id)
    assert states(mine) == {k: v for k, v in EXPECTED.items() if k.startswith("s")}
    assert states(await everyone(client, sales, campaign.id, department="sales")) == states(mine)
    # Asking for another department's people is refused, not answered with an empty list.
    assert (await client.get(url, params={"department": "support"}, headers=sales)).status_code == 403
    support = await everyone(client, who(app, managers["support"]), campaign.id)
    assert set(states(support)) == {"t1@example.com", "t2@example.com"}
    nowhere = who(app, await make_person(app, role="manager"))
    assert await everyone(client, nowhere, campaign.id) == []
    assert (await client.get(url, params={"department": "sales"}, headers=nowhere)).status_code == 403

    # Integrations with campaigns:read and admins see everyone; no one else sees anyone.
    reader = bearer(await service_token(app, client, "campaigns:read"))
    assert states(await everyone(client, reader, campaign.id)) == EXPECTED
    assert states(await everyone(client, callers.headers("admin"), campaign.id)) == EXPECTED
    for refused in (who(app, people["s1"]), callers.headers("employee"), callers.headers("svc_pitch")):
        assert (await client.get(url, headers=refused)).status_code == 403
    assert (await client.get(url, headers=callers.headers("svc_people"))).status_code == 403
    assert (await client.get(url)).status_code == 401
    missing = "/api/v1/campaigns/00000000-0000-4000-8000-000000000000/people"
    assert (await client.get(missing, headers=editor)).status_code == 404


PEOPLE = (
    "query($id: ID!, $state: PersonState, $overdue: Boolean, $first: Int!, $after: String) {"
    " campaign(id: $id) { name people(state: $state, overdue: $overdue, first: $first, after: $after) {"
    " edges { cursor node { personId displayName email departmentKey state overdue } }"
    " pageInfo { hasNextPage endCursor } } } }"
)


async def test_graphql_lists_the_same_people_through_the_same_service(app, client, callers):
    editor = callers.headers("editor")
    campaign, _, managers = await scripted(app, client, editor)

    async def people(headers: dict, **variables) -> tuple[int, dict]:
        return await gql(client, PEOPLE, headers, {"id": str(campaign.id), "first": 50, **variables})

    _, body = await people(editor)
    connection = body["data"]["campaign"]["people"]
    rest = await everyone(client, editor, campaign.id)
    assert [e["node"]["personId"] for e in connection["edges"]] == [i["person_id"] for i in rest]
    assert {e["node"]["email"]: (e["node"]["state"], e["node"]["overdue"]) for e in connection["edges"]} == {
        k: (v[0].upper(), v[1]) for k, v in EXPECTED.items()
    }
    _, body = await people(editor, state="NEEDS_WORK", overdue=True)
    assert [e["node"]["email"] for e in body["data"]["campaign"]["people"]["edges"]] == ["s4@example.com"]
    _, body = await people(editor, first=3)
    page = body["data"]["campaign"]["people"]
    assert len(page["edges"]) == 3 and page["pageInfo"]["hasNextPage"]
    _, body = await people(editor, first=50, after=page["pageInfo"]["endCursor"])
    assert len(body["data"]["campaign"]["people"]["edges"]) == 4

    async def statements_for(first: int) -> int:
        async with counting_statements(app) as statements:
            _, found = await people(editor, first=first)
            assert len(found["data"]["campaign"]["people"]["edges"]) == first
        return len(statements)

    await notices_settled(app)
    await statements_for(2)  # warm: the caller is read once, then served from the auth cache
    assert await statements_for(2) == await statements_for(7)

    _, body = await people(who(app, managers["sales"]))
    assert len(body["data"]["campaign"]["people"]["edges"]) == 5
    for refused in ("employee", "svc_pitch"):
        _, body = await people(callers.headers(refused))
        assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "NOT_FOUND"), body
    other = (
        'query($id: ID!) { campaign(id: $id) { people(department: "support") { edges { node { email } } } } }'
    )
    _, body = await gql(client, other, who(app, managers["sales"]), {"id": str(campaign.id)})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
