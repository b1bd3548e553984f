"""What reached whom: a campaign's deliveries for admins and editors (filters, pages), and the
caller's own notifications in their feed (REST and GraphQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.campaigns.helpers import make_campaign
from tests.factories import bearer, make_department, make_person, token_for
from tests.notifications.helpers import drive


async def test_admins_and_editors_see_what_reached_whom(app, client, callers):
    department = await make_department(app)
    aiko = await make_person(app, department_key=department.key)
    ben = await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(seconds=1)
    campaign = await make_campaign(
        app,
        departments=[department.key],
        steps=[
            {"channel": "email", "title": "一通目", "at": at.isoformat()},
            {"channel": "intranet", "title": "二通目", "at": at.isoformat()},
        ],
    )
    await drive(app, at + timedelta(minutes=1))
    url = f"/api/v1/campaigns/{campaign.id}/deliveries"
    response = await client.get(url, headers=callers.headers("admin"))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    first_step, second_step = (str(step.id) for step in campaign.steps)
    assert {(i["person_id"], i["step_id"], i["channel"]) for i in items} == {
        (str(p.id), step, channel)
        for p in (aiko, ben)
        for step, channel in ((first_step, "intranet"), (first_step, "email"), (second_step, "intranet"))
    }
    assert set(items[0]) == {
        "id",
        "kind",
        "channel",
        "person_id",
        "destination_id",
        "step_id",
        "status",
        "attempts",
        "sent_at",
        "reason",
        "created_at",
    }
    only = await client.get(
        url,
        params={"step_id": str(campaign.steps[0].id), "person_id": str(aiko.id), "status": "pending"},
        headers=callers.headers("editor"),
    )
    assert [(i["channel"], i["status"]) for i in only.json()["items"]] == [("email", "pending")]
    first = await client.get(url, params={"limit": 4}, headers=callers.headers("admin"))
    assert (
        len(first.json()["items"]) == 4
        and first.json()["next_cursor"]
        and 'rel="next"' in first.headers["link"]
    )
    rest = await client.get(
        url, params={"limit": 4, "cursor": first.json()["next_cursor"]}, headers=callers.headers("admin")
    )
    assert len(rest.json()["items"]) == 2
    step_id = campaign.steps[0].id
    query = (
        f'{{ campaignDeliveries(campaignId: "{campaign.id}", stepId: "{step_id}", status: PENDING) '
        "{ edges { node { channel status personId } } } }"
    )
    body = (await client.post("/graphql", json={"query": query}, headers=callers.headers("editor"))).json()
    nodes = [e["node"] for e in body["data"]["campaignDeliveries"]["edges"]]
    assert sorted(n["personId"] for n in nodes) == sorted(str(p.id) for p in (aiko, ben))
    assert {(n["channel"], n["status"]) for n in nodes} == {("EMAIL", "PENDING")}
    for name in ("manager", "employee", "svc_pitch"):
        assert (await client.get(url, headers=callers.headers(name))).status_code == 403
    assert (
        await client.get(url, params={"status": "lost"}, headers=callers.headers("admin"))
    ).status_code == 422


async def test_the_feed_shows_my_notifications(app, client):
    department = await make_department(app)
    person = await make_person(app, department_key=department.key)
    at = datetime.now(UTC) + timedelta(seconds=1)
    campaign = await make_campaign(
        app,
        departments=[department.key],
        steps=[{"channel": "chat", "title": "チャット", "at": at.isoformat()}],
    )
    await drive(app, at + timedelta(minutes=1))
    me = bearer(token_for(app, person))
    feed = (await client.get("/api/v1/me/feed", headers=me)).json()["items"]
    (mine,) = [i for i in feed if i["kind"] == "notification"]
    assert mine["notification_kind"] == "campaign_step" and mine["title"] == f"{campaign.name}: チャット"
    assert mine["link"] == f"/api/v1/campaigns/{campaign.id}/acknowledgements" and mine["at"]
    query = "{ myFeed { __typename ... on NotificationEntry { notificationKind title link } } }"
    body = (await client.post("/graphql", json={"query": query}, headers=me)).json()
    assert "errors" not in body, body
    entries = [e for e in body["data"]["myFeed"] if e["__typename"] == "NotificationEntry"]
    assert entries == [
        {
            "__typename": "NotificationEntry",
            "notificationKind": "CAMPAIGN_STEP",
            "title": mine["title"],
            "link": mine["link"],
        }
    ]
