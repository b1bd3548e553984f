"""The issue's acceptance path, end to end over HTTP: a new hire pushed over SCIM sees the day-0
onboarding step in their feed and counts in every running campaign of their audience; when HR
deactivates them they leave the counts and keep their history."""

from __future__ import annotations

import pytest

from service.people.schemas import PersonRead
from tests.campaigns.helpers import acknowledge, make_campaign, published_brief, readiness, soon, utc_today
from tests.factories import bearer, make_department, service_token, token_for
from tests.scim.conftest import BASE, CUECARD, ENTERPRISE, SCIM_JSON, USER, patch_body
from tests.scim.test_scim import create, hire


@pytest.fixture
async def hr(app, client) -> dict[str, str]:
    """An HR system's headers: a people:write service account speaking SCIM."""
    return {**bearer(await service_token(app, client, "people:write")), "content-type": SCIM_JSON}


async def test_a_new_hire_pushed_over_scim_is_onboarded_counted_and_keeps_history(app, client, callers, hr):
    editor = callers.headers("editor")
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="dev", name="開発部")
    brief = await published_brief(app)
    onboarding = await make_campaign(
        app,
        brief=brief,
        kind="onboarding",
        departments=["sales"],
        name="新入社員オンボーディング",
        steps=[
            {"channel": "briefing", "title": "初日: お客様が私たちを選ぶ理由", "day_offset": 0},
            {
                "channel": "training",
                "title": "顧客インタビュー",
                "day_offset": 3,
                "exercise": "customer_interview",
            },
        ],
    )
    launch = await make_campaign(
        app,
        brief=brief,
        departments=["sales"],
        steps=[{"channel": "briefing", "title": "説明会 東京", "at": soon(2)}],
    )
    elsewhere = await make_campaign(app, brief=brief, departments=["dev"])
    planned = await make_campaign(app, brief=brief, departments=["sales"], status="planned")

    today = utc_today().isoformat()
    pushed = await create(
        client,
        hr,
        hire(
            "aoi.kato@hoshino.example",
            externalId="WD-20001",
            name={"familyName": "加藤", "givenName": "葵"},
            emails=[{"value": "aoi.kato@hoshino.example", "type": "work", "primary": True}],
            **{ENTERPRISE: {"department": "営業部"}, CUECARD: {"hireDate": today, "role": "employee"}},
        ),
    )
    me = await client.get("/api/v1/me", headers=bearer(token_for(app, _person(app, pushed))))
    person = PersonRead.model_validate(me.json())
    assert person.department_key == "sales" and person.hire_date.isoformat() == today
    headers = bearer(token_for(app, person))

    feed = (await client.get("/api/v1/me/feed", headers=headers)).json()["items"]
    steps = [(i["campaign_name"], i["title"], i["state"]) for i in feed if i["kind"] == "campaign_step"]
    assert steps[0] == ("新入社員オンボーディング", "初日: お客様が私たちを選ぶ理由", "due")
    assert ("請求書AI ローンチ", "説明会 東京", "upcoming") in steps
    assert len(steps) == 3  # day 0, day 3 and the launch session; nothing from dev's or a planned one

    for running in (onboarding, launch):
        assert (await readiness(client, editor, running.id))["audience"] == 1
    assert (await readiness(client, editor, elsewhere.id))["audience"] == 0
    assert (await readiness(client, editor, planned.id))["audience"] == 0
    assert (await acknowledge(client, headers, onboarding.id)).status_code == 201

    # HR deactivates (Okta's form): out of every count, history kept.
    left = await client.patch(
        f"{BASE}/Users/{pushed['id']}",
        json=patch_body({"op": "replace", "value": {"active": False}}),
        headers=hr,
    )
    assert left.status_code == 200 and left.json()["active"] is False
    for running in (onboarding, launch):
        counts = await readiness(client, editor, running.id)
        assert (counts["audience"], counts["acknowledged"]) == (0, 0)
    history = await client.get(f"/api/v1/campaigns/{onboarding.id}/enrollments", headers=editor)
    (row,) = history.json()["items"]
    assert row["person_id"] == pushed["id"] and row["left_at"] is not None
    acks = await client.get(f"/api/v1/campaigns/{onboarding.id}/acknowledgements", headers=editor)
    assert [a["person_id"] for a in acks.json()["items"]] == [pushed["id"]]
    assert (await client.get(f"{BASE}/Users/{pushed['id']}", headers=hr)).json()["schemas"][0] == USER


def _person(app, scim_user: dict) -> PersonRead:
    """Enough of a person to mint their token (the id and e-mail SCIM answered with)."""
    return PersonRead.model_validate(
        {
            "id": scim_user["id"],
            "email": scim_user["userName"],
            "display_name": scim_user.get("displayName") or "x",
            "role": "employee",
            "department_id": None,
            "department_key": None,
            "locale": "ja",
            "active": True,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "revision": 1,
        }
    )
