"""Campaigns over REST: planning, the lifecycle, enrollment that follows people."""

from __future__ import annotations

from tests.campaigns.helpers import ago, make_campaign, published_brief, readiness, soon, today
from tests.factories import bearer, make_department, make_person, token_for


async def enrolled_ids(client, headers, campaign_id, *, current=True) -> set[str]:
    response = await client.get(
        f"/api/v1/campaigns/{campaign_id}/enrollments",
        params={"current": str(current).lower(), "limit": 200},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return {e["person_id"] for e in response.json()["items"]}


async def test_plan_activate_and_close_a_launch_with_several_briefing_sessions(app, client, callers):
    editor = callers.headers("editor")
    brief = await published_brief(app)
    sales = await make_department(app, key="sales-jp", name="営業部")
    seller = await make_person(app, department_key=sales.key)
    await make_person(app)  # another department: not in the audience
    body = {
        "brief_id": str(brief.id),
        "name": "請求書AI ローンチ",
        "kind": "launch",
        "audience": {"departments": ["sales-jp"], "roles": []},
        "steps": [
            {"channel": "briefing", "title": "説明会 東京 第1回", "at": soon(1)},
            {"channel": "briefing", "title": "説明会 東京 第2回", "at": soon(2)},
            {"channel": "briefing", "title": "説明会 大阪", "at": soon(3)},
            {"channel": "newsletter", "title": "社内報で紹介", "at": "2030-04-01T09:00:00+09:00"},
        ],
    }
    created = await client.post("/api/v1/campaigns", json=body, headers=editor)
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["status"] == "planned" and len(campaign["steps"]) == 4
    assert campaign["steps"][3]["at"] == "2030-04-01T00:00:00Z"  # stored and shown in UTC
    assert campaign["current_brief_id"] == str(brief.id) and campaign["current_version"] == 1
    assert created.headers["location"] == f"/api/v1/campaigns/{campaign['id']}"

    activated = await client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=editor)
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    assert await enrolled_ids(client, editor, campaign["id"]) == {str(seller.id)}

    again = await client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=editor)
    assert again.status_code == 409
    done = await client.post(f"/api/v1/campaigns/{campaign['id']}/complete", headers=editor)
    assert done.json()["status"] == "completed"
    cancelled = await client.post(f"/api/v1/campaigns/{campaign['id']}/cancel", headers=editor)
    assert cancelled.status_code == 409 and "allowed from" in cancelled.json()["detail"]


async def test_a_plan_with_problems_is_refused_whole_and_nothing_is_written(app, client, callers):
    editor = callers.headers("editor")
    brief = await published_brief(app)
    body = {
        "brief_id": str(brief.id),
        "name": "オンボーディング",
        "kind": "onboarding",
        "audience": {"departments": ["no-such-dept"]},
        "steps": [{"channel": "briefing", "title": "初日", "at": soon(1)}],
    }
    refused = await client.post("/api/v1/campaigns", json=body, headers=editor)
    assert refused.status_code == 422, refused.text
    fields = {e["field"] for e in refused.json()["errors"]}
    assert fields == {"steps.0.day_offset", "audience.departments.0"}
    both = await client.post(
        "/api/v1/campaigns",
        json={**body, "steps": [{"channel": "chat", "title": "x", "at": soon(1), "day_offset": 1}]},
        headers=editor,
    )
    assert both.status_code == 422
    listed = await client.get("/api/v1/campaigns", headers=editor)
    assert listed.json()["items"] == []


async def test_patch_needs_if_match_and_a_new_audience_re_enrolls(app, client, callers):
    editor = callers.headers("editor")
    sales = await make_department(app, key="sales", name="営業部")
    support = await make_department(app, key="support", name="サポート部")
    seller = await make_person(app, department_key=sales.key)
    helper = await make_person(app, department_key=support.key)
    campaign = await make_campaign(app, departments=["sales"])
    url = f"/api/v1/campaigns/{campaign.id}"
    assert await enrolled_ids(client, editor, campaign.id) == {str(seller.id)}

    no_match = await client.patch(url, json={"name": "改名"}, headers=editor)
    assert no_match.status_code == 428
    stale = await client.patch(url, json={"name": "改名"}, headers={**editor, "If-Match": '"v999"'})
    assert stale.status_code == 412
    etag = (await client.get(url, headers=editor)).headers["etag"]
    moved = await client.patch(
        url, json={"audience": {"departments": ["support"]}}, headers={**editor, "If-Match": etag}
    )
    assert moved.status_code == 200, moved.text
    assert await enrolled_ids(client, editor, campaign.id) == {str(helper.id)}
    # The seller left the audience but keeps their row (history): it shows without `current`.
    assert await enrolled_ids(client, editor, campaign.id, current=False) == {str(seller.id), str(helper.id)}


async def test_activation_needs_steps_and_a_published_brief(app, client, callers):
    editor = callers.headers("editor")
    campaign = await make_campaign(app, steps=[], status="planned")
    refused = await client.post(f"/api/v1/campaigns/{campaign.id}/activate", headers=editor)
    assert refused.status_code == 409 and "step" in refused.json()["detail"]


async def test_people_who_start_matching_later_are_enrolled_when_the_change_arrives(app, client, callers):
    admin = callers.headers("admin")
    editor = callers.headers("editor")
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="dev", name="開発部")
    developer = await make_person(app, department_key="dev")
    campaign = await make_campaign(app, departments=["sales"])
    assert await enrolled_ids(client, editor, campaign.id) == set()

    # A department change arrives: enrolled in the same request.
    moved = await client.patch(
        f"/api/v1/people/{developer.id}", json={"department_key": "sales"}, headers=admin
    )
    assert moved.status_code == 200
    assert await enrolled_ids(client, editor, campaign.id) == {str(developer.id)}

    # A new hire in the audience: enrolled on creation.
    hired = await client.post(
        "/api/v1/people",
        json={"email": "shinjin@example.com", "display_name": "新人 花子", "department_key": "sales"},
        headers=admin,
    )
    assert hired.status_code == 201
    assert await enrolled_ids(client, editor, campaign.id) == {str(developer.id), hired.json()["id"]}

    # Deactivated: out of the audience counts, history kept.
    left = await client.patch(f"/api/v1/people/{developer.id}", json={"active": False}, headers=admin)
    assert left.status_code == 200
    assert await enrolled_ids(client, editor, campaign.id) == {hired.json()["id"]}
    assert str(developer.id) in await enrolled_ids(client, editor, campaign.id, current=False)
    assert (await readiness(client, editor, campaign.id))["audience"] == 1

    # Coming back (reactivated) takes them back in.
    await client.patch(f"/api/v1/people/{developer.id}", json={"active": True}, headers=admin)
    assert str(developer.id) in await enrolled_ids(client, editor, campaign.id)


async def test_onboarding_enrolls_new_hires_with_steps_counted_from_their_hire_date(app, client, callers):
    admin = callers.headers("admin")
    veteran = await make_person(app, hire_date=today(-400))
    recent = await make_person(app, hire_date=today(-3))
    campaign = await make_campaign(
        app,
        kind="onboarding",
        steps=[
            {"channel": "briefing", "title": "初日: 会社の価値", "day_offset": 0},
            {
                "channel": "training",
                "title": "顧客インタビュー",
                "day_offset": 7,
                "exercise": "customer_interview",
            },
        ],
    )
    enrolled = await enrolled_ids(client, callers.headers("editor"), campaign.id)
    # Onboarding still running (hired within the last 7 days) or starting later: in; veterans: out.
    assert str(recent.id) in enrolled and str(veteran.id) not in enrolled

    hired = await client.post(
        "/api/v1/people",
        json={"email": "april@example.com", "display_name": "四月 一日", "hire_date": today(0)},
        headers=admin,
    )
    newcomer = hired.json()
    feed = await client.get("/api/v1/me/feed", headers=bearer(token_for(app, _person(newcomer))))
    steps = [i for i in feed.json()["items"] if i["kind"] == "campaign_step"]
    assert [(s["title"], s["state"]) for s in steps] == [
        ("初日: 会社の価値", "due"),
        ("顧客インタビュー", "upcoming"),
    ]
    assert steps[0]["at"].startswith(today(0)) and steps[1]["at"].startswith(today(7))
    assert steps[0]["acknowledged"] is False and steps[0]["check_status"] is None


async def test_launch_steps_in_the_past_are_due_and_future_ones_upcoming(app, client, callers):
    person = await make_person(app)
    await make_campaign(
        app,
        steps=[
            {"channel": "briefing", "title": "説明会", "at": ago(1)},
            {"channel": "email", "title": "まとめメール", "at": soon(2)},
        ],
    )
    feed = (await client.get("/api/v1/me/feed", headers=bearer(token_for(app, person)))).json()["items"]
    assert [(i["title"], i["state"]) for i in feed if i["kind"] == "campaign_step"] == [
        ("説明会", "due"),
        ("まとめメール", "upcoming"),
    ]


def _person(data: dict):
    from service.people.schemas import PersonRead

    return PersonRead.model_validate(data)


async def test_steps_name_messages_that_exist(app, client, callers):
    import uuid as _uuid

    from tests.messages.test_messages import published_message_id

    editor = callers.headers("editor")
    brief = await published_brief(app)
    message_id = await published_message_id(app)
    step = {"channel": "email", "title": "まとめメール", "at": soon(1)}
    body = {
        "brief_id": str(brief.id),
        "name": "メール配信",
        "kind": "reinforcement",
        "steps": [{**step, "message_id": message_id}, {**step, "message_id": str(_uuid.uuid4())}],
    }
    refused = await client.post("/api/v1/campaigns", json=body, headers=editor)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["steps.1.message_id"]
    accepted = await client.post(
        "/api/v1/campaigns", json={**body, "steps": body["steps"][:1]}, headers=editor
    )
    assert accepted.status_code == 201 and accepted.json()["steps"][0]["message_id"] == message_id
