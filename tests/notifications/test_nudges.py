"""Nudges: managers reach their own department's people only, editors everyone; once per person,
campaign and UTC day (the second the same day is skipped); through the channel they prefer."""

from __future__ import annotations

from tests.campaigns.helpers import acknowledge, make_campaign
from tests.factories import bearer, make_department, make_person, service_token, token_for
from tests.notifications.helpers import notifications, set_preferences


async def setup(app, client):
    sales = await make_department(app)
    support = await make_department(app)
    manager = await make_person(app, role="manager", department_key=sales.key, display_name="営業 課長")
    behind = await make_person(app, department_key=sales.key, locale="ja")
    done = await make_person(app, department_key=sales.key)
    quiet = await make_person(app, department_key=sales.key)
    other = await make_person(app, department_key=support.key)
    campaign = await make_campaign(app, departments=[sales.key, support.key], roles=["employee"])
    assert (await acknowledge(client, bearer(token_for(app, done)), campaign.id)).status_code in (200, 201)
    await set_preferences(client, bearer(token_for(app, quiet)), kinds={"nudge": {"email": False}})
    return campaign, manager, {"behind": behind, "done": done, "quiet": quiet, "other": other}


async def test_a_manager_nudges_their_department_once_a_day(app, client):
    campaign, manager, people = await setup(app, client)
    url = f"/api/v1/campaigns/{campaign.id}/nudges"
    mine = bearer(token_for(app, manager))
    response = await client.post(
        url, json={"state": "not_acknowledged", "note": "今週中にお願いします"}, headers=mine
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"nudged": 2, "skipped": 0}  # behind, quiet; not support's person
    rows = await notifications(app, kind="nudge")
    assert {(r.person_id, r.channel) for r in rows} == {
        (people["behind"].id, "intranet"),
        (people["behind"].id, "email"),
        (people["quiet"].id, "intranet"),
    }
    mail = next(r for r in rows if r.channel == "email")
    assert mail.locale == "ja" and mail.status == "pending" and mail.campaign_id == campaign.id
    assert mail.data["note"] == "今週中にお願いします" and mail.data["sender_name"] == "営業 課長"
    assert mail.data["state"] == "not_acknowledged" and mail.data["campaign_name"] == campaign.name

    # The same day again: skipped. Another department's person: skipped, never reached.
    again = await client.post(
        url, json={"person_ids": [str(people["behind"].id), str(people["other"].id)]}, headers=mine
    )
    assert again.json() == {"nudged": 0, "skipped": 2}
    assert not await notifications(app, person_id=people["other"].id, kind="nudge")
    assert len(await notifications(app, kind="nudge")) == 3


async def test_editors_nudge_everyone_and_others_are_refused(app, client, callers):
    campaign, _, people = await setup(app, client)
    url = f"/api/v1/campaigns/{campaign.id}/nudges"
    response = await client.post(url, json={"state": "not_acknowledged"}, headers=callers.headers("editor"))
    assert response.json() == {"nudged": 3, "skipped": 0}
    assert {r.person_id for r in await notifications(app, kind="nudge")} == {
        people["behind"].id,
        people["quiet"].id,
        people["other"].id,
    }
    admin = await client.post(
        url, json={"person_ids": [str(people["done"].id)]}, headers=callers.headers("admin")
    )
    assert admin.json() == {"nudged": 1, "skipped": 0}
    before = len(await notifications(app, kind="nudge"))
    for headers in (
        callers.headers("employee"),
        bearer(await service_token(app, client, "campaigns:read")),
    ):
        refused = await client.post(url, json={"state": "not_acknowledged"}, headers=headers)
        assert refused.status_code == 403, refused.text
    for body in (
        {},
        {"person_ids": [str(people["behind"].id)], "state": "passed"},
        {"state": "asleep"},
        {"overdue": True, "x": 1},
    ):
        bad = await client.post(url, json=body, headers=callers.headers("editor"))
        assert bad.status_code == 422, (body, bad.text)
    assert len(await notifications(app, kind="nudge")) == before


async def test_graphql_nudges(app, client, callers):
    campaign, _, _ = await setup(app, client)
    query = f'mutation {{ nudgePeople(campaignId: "{campaign.id}", input: {{overdue: false}}) {{ nudged skipped }} }}'
    response = await client.post("/graphql", json={"query": query}, headers=callers.headers("editor"))
    assert response.json()["data"]["nudgePeople"] == {"nudged": 4, "skipped": 0}
    again = await client.post("/graphql", json={"query": query}, headers=callers.headers("editor"))
    assert again.json()["data"]["nudgePeople"] == {"nudged": 0, "skipped": 4}
