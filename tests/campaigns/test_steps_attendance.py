"""Campaign steps with stable ids (issue 13), and people confirming that they attended a briefing.

A step's `id` is given by CueCard and kept wherever the step moves: PATCH names the steps it keeps
by id (an unknown id is refused), the clock knows what fired by the id (a reorder neither fires a
step again nor skips one), the feed and events carry it. `POST /campaigns/{id}/steps/{step_id}/
attendance` records, once, that the caller was at a briefing that took place; readiness counts
them as `attended`, a manager their own department's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from service.campaigns.models import Attendance
from service.events.catalogue import CATALOGUE, EventType
from service.events.clock import detect_due
from service.people.schemas import PersonRead
from tests.campaigns.helpers import ago, make_campaign, readiness, soon
from tests.campaigns.test_readiness import who
from tests.factories import (
    bearer,
    counting_statements,
    make_department,
    make_person,
    notices_settled,
    service_token,
)
from tests.racing import race, statuses
from tests.test_clock import events_after, position
from tests.test_graphql import gql
from tests.test_migrations import _engine, fresh_database, load_demo, migrate


def attend_url(campaign_id, step_id) -> str:
    return f"/api/v1/campaigns/{campaign_id}/steps/{step_id}/attendance"


async def attend(client: httpx.AsyncClient, app: FastAPI, person: PersonRead, campaign_id, step_id):
    return await client.post(attend_url(campaign_id, step_id), headers=who(app, person))


async def patch_steps(client: httpx.AsyncClient, headers: dict, campaign_id, steps: list[dict]):
    url = f"/api/v1/campaigns/{campaign_id}"
    etag = (await client.get(url, headers=headers)).headers["etag"]
    return await client.patch(url, json={"steps": steps}, headers={**headers, "If-Match": etag})


def plan(read: dict) -> list[dict]:
    """A campaign's steps as a PATCH sends them back (with their ids)."""
    keep = ("id", "channel", "title", "message_id", "at", "day_offset", "exercise")
    return [{k: step[k] for k in keep if step[k] is not None} for step in read["steps"]]


async def attendance_rows(app: FastAPI) -> list[Attendance]:
    async with app.state.sessionmaker() as session:
        return list((await session.execute(sa.select(Attendance))).scalars())


# --- stable ids -----------------------------------------------------------------------------------


async def test_steps_keep_their_ids_when_reordered_edited_or_resent(app, client, callers):
    editor = callers.headers("editor")
    campaign = await make_campaign(
        app,
        status="planned",
        steps=[
            {"channel": "briefing", "title": "全社説明会", "at": soon(1)},
            {"channel": "chat", "title": "リマインド", "at": soon(2)},
            {"channel": "email", "title": "まとめ", "at": soon(3)},
        ],
    )
    read = (await client.get(f"/api/v1/campaigns/{campaign.id}", headers=editor)).json()
    ids = [step["id"] for step in read["steps"]]
    assert len(set(ids)) == 3 and all(uuid.UUID(i) for i in ids)
    assert [step["index"] for step in read["steps"]] == [0, 1, 2]

    # Reordered, one edited, one dropped, one new: the kept ones keep their ids.
    briefing, chat, _email = plan(read)
    moved = await patch_steps(
        client,
        editor,
        campaign.id,
        [
            {**chat, "title": "リマインド (改)"},
            {"channel": "newsletter", "title": "社内報", "at": soon(4)},
            briefing,
        ],
    )
    assert moved.status_code == 200, moved.text
    steps = moved.json()["steps"]
    assert steps[0]["id"] == ids[1] and steps[2]["id"] == ids[0]
    assert steps[0]["title"] == "リマインド (改)" and steps[0]["index"] == 0
    assert steps[1]["id"] not in ids  # the new step got an id of its own
    assert ids[2] not in {s["id"] for s in steps}

    # The plan resent as read, or without ids but unchanged: nothing moves.
    again = await patch_steps(client, editor, campaign.id, plan(moved.json()))
    assert [s["id"] for s in again.json()["steps"]] == [s["id"] for s in steps]
    bare = [{k: v for k, v in s.items() if k != "id"} for s in plan(moved.json())]
    resent = await patch_steps(client, editor, campaign.id, bare)
    assert resent.status_code == 200, resent.text
    assert [s["id"] for s in resent.json()["steps"]] == [s["id"] for s in steps]


async def test_an_unknown_or_repeated_step_id_is_refused_and_nothing_changes(app, client, callers):
    editor = callers.headers("editor")
    campaign = await make_campaign(
        app,
        steps=[
            {"channel": "briefing", "title": "説明会", "at": soon(1)},
            {"channel": "chat", "title": "リマインド", "at": soon(2)},
        ],
    )
    url = f"/api/v1/campaigns/{campaign.id}"
    before = (await client.get(url, headers=editor)).json()
    first, second = plan(before)

    unknown = await patch_steps(client, editor, campaign.id, [{**first, "id": str(uuid.uuid4())}, second])
    assert unknown.status_code == 422, unknown.text
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in unknown.json()["errors"]] == ["steps.0.id"]

    twice = await patch_steps(client, editor, campaign.id, [first, {**second, "id": first["id"]}])
    assert twice.status_code == 422, twice.text
    assert [e["field"] for e in twice.json()["errors"]] == ["steps.1.id"]

    not_a_uuid = await patch_steps(client, editor, campaign.id, [{**first, "id": "step-1"}])
    assert not_a_uuid.status_code == 422

    # A new campaign has no steps to name yet.
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "brief_id": str(campaign.brief_id),
            "name": "複製",
            "kind": "launch",
            "steps": [{**first, "id": first["id"]}],
        },
        headers=editor,
    )
    assert created.status_code == 422, created.text
    assert [e["field"] for e in created.json()["errors"]] == ["steps.0.id"]

    after = (await client.get(url, headers=editor)).json()
    assert after["steps"] == before["steps"] and after["revision"] == before["revision"]


async def test_graphql_shows_step_ids_and_takes_them_back(app, client, callers):
    editor = callers.headers("editor")
    campaign = await make_campaign(
        app,
        steps=[
            {"channel": "briefing", "title": "説明会", "at": soon(1)},
            {"channel": "chat", "title": "リマインド", "at": soon(2)},
        ],
    )
    query = "query($id: ID!) { campaign(id: $id) { etag steps { id index title } } }"
    _, body = await gql(client, query, editor, {"id": str(campaign.id)})
    read = body["data"]["campaign"]
    a, b = read["steps"]
    mutation = """mutation($id: ID!, $etag: String, $input: CampaignPatch!) {
        updateCampaign(id: $id, ifMatch: $etag, input: $input) { steps { id index title } } }"""
    steps = [
        {"id": b["id"], "channel": "CHAT", "title": "リマインド", "at": soon(2)},
        {"id": a["id"], "channel": "BRIEFING", "title": "説明会", "at": soon(1)},
    ]
    _, body = await gql(
        client, mutation, editor, {"id": str(campaign.id), "etag": read["etag"], "input": {"steps": steps}}
    )
    assert "errors" not in body, body
    assert [(s["id"], s["index"]) for s in body["data"]["updateCampaign"]["steps"]] == [
        (b["id"], 0),
        (a["id"], 1),
    ]
    steps[0]["id"] = str(uuid.uuid4())
    _, body = await gql(
        client, mutation, editor, {"id": str(campaign.id), "etag": "*", "input": {"steps": steps}}
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- the clock and the feed know a step by its id ------------------------------------------------------


async def test_reordering_steps_neither_fires_one_again_nor_skips_one(app, client, callers):
    editor = callers.headers("editor")
    department = await make_department(app)
    person = await make_person(app, department_key=department.key)
    first_at = datetime.now(UTC) + timedelta(hours=1)
    second_at = first_at + timedelta(hours=1)
    campaign = await make_campaign(
        app,
        departments=[department.key],
        steps=[
            {"channel": "briefing", "title": "説明会", "at": first_at.isoformat()},
            {"channel": "chat", "title": "リマインド", "at": second_at.isoformat()},
        ],
    )
    read = (await client.get(f"/api/v1/campaigns/{campaign.id}", headers=editor)).json()
    briefing, chat = plan(read)

    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=first_at + timedelta(minutes=1)) == 1
    (fired,) = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    assert fired.data["step_id"] == briefing["id"] and fired.data["step_index"] == 0
    assert set(fired.data) == set(CATALOGUE[EventType.CAMPAIGN_STEP_DUE].example)

    # The chat step now comes first, the briefing (which fired) second.
    swapped = await patch_steps(client, editor, campaign.id, [chat, briefing])
    assert swapped.status_code == 200, swapped.text
    mark = await position(app)
    assert await detect_due(app.state.sessionmaker, now=first_at + timedelta(minutes=2)) == 0

    # The chat step, now at index 0, still fires when its time comes — and only it.
    assert await detect_due(app.state.sessionmaker, now=second_at + timedelta(minutes=1)) == 1
    (later,) = await events_after(app, mark, EventType.CAMPAIGN_STEP_DUE)
    assert later.data["step_id"] == chat["id"] and later.data["step_index"] == 0
    assert later.data["person_id"] == str(person.id)

    # The person's feed carries the ids too.
    feed = (await client.get("/api/v1/me/feed", headers=who(app, person))).json()
    steps = [i for i in feed["items"] if i["kind"] == "campaign_step"]
    assert [(s["step_id"], s["step_index"]) for s in steps] == [(briefing["id"], 1), (chat["id"], 0)]


# --- attendance -----------------------------------------------------------------------------------


async def briefed(app: FastAPI, **options):
    """A running campaign for one department: a briefing that took place, a chat step that did
    too, and a briefing still ahead."""
    department = await make_department(app)
    campaign = await make_campaign(
        app,
        departments=[department.key],
        steps=[
            {"channel": "briefing", "title": "全社説明会 東京", "at": ago(1)},
            {"channel": "chat", "title": "リマインド", "at": ago(0.5)},
            {"channel": "briefing", "title": "少人数説明会 大阪", "at": soon(1)},
        ],
        **options,
    )
    held, chat, ahead = (step.id for step in campaign.steps)
    return campaign, department, held, chat, ahead


async def test_a_person_confirms_attending_a_briefing_once(app, client):
    campaign, department, held, _chat, _ahead = await briefed(app)
    person = await make_person(app, department_key=department.key, display_name="出席 者")
    mark = await position(app)

    first = await attend(client, app, person, campaign.id, held)
    assert first.status_code == 201, first.text
    record = first.json()
    assert record["campaign_id"] == str(campaign.id) and record["step_id"] == str(held)
    assert record["person_id"] == str(person.id) and record["attended_at"]
    assert first.headers["etag"]

    again = await attend(client, app, person, campaign.id, held)
    assert again.status_code == 200, again.text
    assert again.json() == record
    assert len(await attendance_rows(app)) == 1

    (event,) = await events_after(app, mark, EventType.CAMPAIGN_STEP_ATTENDED)
    assert set(event.data) == set(CATALOGUE[EventType.CAMPAIGN_STEP_ATTENDED].example)
    assert event.data["attendance_id"] == record["id"] and event.data["step_id"] == str(held)
    assert event.data["title"] == "全社説明会 東京" and event.data["step_index"] == 0
    assert event.product_key == campaign.product_key


async def test_five_clicks_at_once_record_one_attendance_and_one_event(app):
    campaign, department, held, _chat, _ahead = await briefed(app)
    person = await make_person(app, department_key=department.key)
    mark = await position(app)
    responses = await race(app, [("POST", attend_url(campaign.id, held), {"headers": who(app, person)})] * 5)
    assert statuses(responses) == {201: 1, 200: 4}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(await attendance_rows(app)) == 1
    assert len(await events_after(app, mark, EventType.CAMPAIGN_STEP_ATTENDED)) == 1


async def test_attendance_is_refused_for_what_cannot_be_attended(app, client, callers):
    campaign, department, held, chat, ahead = await briefed(app)
    person = await make_person(app, department_key=department.key)

    def problem(response: httpx.Response, status: int) -> None:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")

    problem(await attend(client, app, person, campaign.id, chat), 409)  # not a briefing
    problem(await attend(client, app, person, campaign.id, ahead), 409)  # not yet taken place
    problem(await attend(client, app, person, campaign.id, uuid.uuid4()), 404)  # no such step
    problem(await client.post(attend_url(campaign.id, "not-a-uuid"), headers=who(app, person)), 422)
    problem(await attend(client, app, person, uuid.uuid4(), held), 404)  # no such campaign

    # Outside the audience: an employee does not see the campaign at all, a manager is refused.
    outsider = await make_person(app)
    problem(await attend(client, app, outsider, campaign.id, held), 404)
    problem(await client.post(attend_url(campaign.id, held), headers=callers.headers("manager")), 403)
    # Service accounts attend nothing; anonymous callers are not known.
    token = await service_token(app, client, "campaigns:read")
    problem(await client.post(attend_url(campaign.id, held), headers=bearer(token)), 403)
    assert (await client.post(attend_url(campaign.id, held))).status_code == 401

    # Someone who left the audience (moved department) no longer confirms.
    leaver = await make_person(app, department_key=department.key)
    elsewhere = await make_department(app)
    moved = await client.patch(
        f"/api/v1/people/{leaver.id}",
        json={"department_key": elsewhere.key},
        headers=callers.headers("admin"),
    )
    assert moved.status_code == 200, moved.text
    problem(await attend(client, app, leaver, campaign.id, held), 403)

    # A campaign that is over takes no attendance.
    done = await client.post(f"/api/v1/campaigns/{campaign.id}/complete", headers=callers.headers("editor"))
    assert done.status_code == 200, done.text
    problem(await attend(client, app, person, campaign.id, held), 409)
    assert await attendance_rows(app) == []


async def test_an_onboarding_briefing_is_attended_from_its_day(app, client):
    department = await make_department(app)
    today = datetime.now(UTC).date()
    hire = await make_person(app, department_key=department.key, hire_date=today.isoformat())
    campaign = await make_campaign(
        app,
        kind="onboarding",
        departments=[department.key],
        steps=[
            {"channel": "briefing", "title": "初日オリエンテーション", "day_offset": 0},
            {"channel": "briefing", "title": "一週間後の振り返り", "day_offset": 7},
        ],
    )
    day_0, day_7 = (step.id for step in campaign.steps)
    assert (await attend(client, app, hire, campaign.id, day_0)).status_code == 201
    assert (await attend(client, app, hire, campaign.id, day_7)).status_code == 409


async def test_readiness_counts_who_attended_a_briefing_within_the_callers_scope(app, client, callers):
    editor = callers.headers("editor")
    sales = await make_department(app, key="sales", name="営業部")
    support = await make_department(app, key="support", name="サポート部")
    manager = await make_person(app, role="manager", department_key="sales")
    s1, s2, _s3 = [await make_person(app, department_key="sales") for _ in range(3)]  # s3: no briefing
    t1, t2 = [await make_person(app, department_key="support") for _ in range(2)]
    campaign = await make_campaign(
        app,
        departments=[sales.key, support.key],
        roles=["employee"],
        steps=[
            {"channel": "briefing", "title": "説明会 第1回", "at": ago(2)},
            {"channel": "briefing", "title": "説明会 第2回", "at": ago(1)},
        ],
    )
    first, second = (step.id for step in campaign.steps)
    for person, step in ((s1, first), (s1, second), (s2, second), (t1, first), (t2, first)):
        assert (await attend(client, app, person, campaign.id, step)).status_code == 201
    # t2 leaves the audience: no longer counted (the record stays).
    moved = await client.patch(
        f"/api/v1/people/{t2.id}", json={"department_key": None}, headers=callers.headers("admin")
    )
    assert moved.status_code == 200, moved.text

    everyone = await readiness(client, editor, campaign.id)
    assert (everyone["audience"], everyone["attended"]) == (4, 3)  # s1 once, however many briefings
    rows = {d["department"]: (d["audience"], d["attended"]) for d in everyone["departments"]}
    assert rows == {"sales": (3, 2), "support": (1, 1)}

    mine = await readiness(client, who(app, manager), campaign.id)
    assert (mine["audience"], mine["attended"]) == (3, 2)
    assert [d["department"] for d in mine["departments"]] == ["sales"]

    query = "query($id: ID!) { campaignReadiness(campaignId: $id) { attended departments { department attended } } }"
    _, body = await gql(client, query, who(app, manager), {"id": str(campaign.id)})
    assert body["data"]["campaignReadiness"] == {
        "attended": 2,
        "departments": [{"department": "sales", "attended": 2}],
    }


async def test_readiness_reads_attendance_in_the_same_statements_however_many_attended(app, client, callers):
    editor = callers.headers("editor")
    campaign, department, held, _chat, _ahead = await briefed(app)
    people = [await make_person(app, department_key=department.key) for _ in range(6)]

    async def statements_for() -> int:
        async with counting_statements(app) as statements:
            await readiness(client, editor, campaign.id)
        return len(statements)

    await notices_settled(app)
    await statements_for()  # warm: the caller is read once, then served from the auth cache
    none = await statements_for()
    for person in people[:2]:
        assert (await attend(client, app, person, campaign.id, held)).status_code == 201
    await notices_settled(app)
    two = await statements_for()
    for person in people[2:]:
        assert (await attend(client, app, person, campaign.id, held)).status_code == 201
    await notices_settled(app)
    assert none == two == await statements_for()
    assert (await readiness(client, editor, campaign.id))["attended"] == 6


async def test_graphql_confirms_attendance_as_rest_does(app, client):
    campaign, department, held, chat, _ahead = await briefed(app)
    person = await make_person(app, department_key=department.key, display_name="出席 者")
    mutation = """mutation($c: ID!, $s: ID!) { confirmAttendance(campaignId: $c, stepId: $s) {
        created attendance { id stepId person { displayName } campaign { name } } } }"""

    _, body = await gql(client, mutation, who(app, person), {"c": str(campaign.id), "s": str(held)})
    assert "errors" not in body, body
    result = body["data"]["confirmAttendance"]
    assert result["created"] is True and result["attendance"]["stepId"] == str(held)
    assert result["attendance"]["person"]["displayName"] == "出席 者"
    _, body = await gql(client, mutation, who(app, person), {"c": str(campaign.id), "s": str(held)})
    assert body["data"]["confirmAttendance"]["created"] is False
    assert body["data"]["confirmAttendance"]["attendance"]["id"] == result["attendance"]["id"]

    for step, code in ((chat, "CONFLICT"), (uuid.uuid4(), "NOT_FOUND"), ("x", "BAD_USER_INPUT")):
        _, body = await gql(client, mutation, who(app, person), {"c": str(campaign.id), "s": str(step)})
        assert body["errors"][0]["extensions"]["code"] == code, body


# --- migration 0016 -----------------------------------------------------------------------------------


async def test_migration_gives_existing_steps_ids_and_fired_steps_theirs(tmp_path):
    """Campaigns from before 0016 (steps without ids) and steps that already fired: upgrading
    gives every step an id and every fired step the id of the step at its index, keys untouched."""
    campaigns = sa.table("campaigns", sa.column("id", sa.Uuid()), sa.column("steps", sa.JSON()))
    occurrences = sa.table(
        "clock_occurrences",
        *(sa.column(n) for n in ("key", "type", "step", "due_at", "fired_at")),
        sa.column("subject_id", sa.Uuid()),
        sa.column("person_id", sa.Uuid()),
    )
    async with fresh_database(tmp_path, "steps") as url:
        await migrate(url, "up", "head")
        await load_demo(url, tmp_path, with_client=False)
        await migrate(url, "down", "0015")
        engine = _engine(url)
        try:
            async with engine.begin() as conn:
                rows = (await conn.execute(sa.select(campaigns.c.id, campaigns.c.steps))).all()
                bare = {
                    c: [{k: v for k, v in step.items() if k != "id"} for step in steps] for c, steps in rows
                }
                for campaign_id, steps in bare.items():
                    await conn.execute(
                        campaigns.update().where(campaigns.c.id == campaign_id).values(steps=steps)
                    )
                campaign_id = rows[0].id
                person_id = (await conn.execute(sa.text("SELECT id FROM people LIMIT 1"))).scalar_one()
                person_id = person_id if isinstance(person_id, uuid.UUID) else uuid.UUID(person_id)
                key = f"campaign.step_due:{campaign_id}:1:{person_id}"
                now = datetime.now(UTC)
                await conn.execute(
                    occurrences.insert().values(
                        key=key,
                        type="campaign.step_due",
                        subject_id=campaign_id,
                        person_id=person_id,
                        step=1,
                        due_at=now,
                        fired_at=now,
                    )
                )
            await migrate(url, "up", "head")
            async with engine.connect() as conn:
                after = dict((await conn.execute(sa.select(campaigns.c.id, campaigns.c.steps))).all())
                fired = (
                    await conn.execute(sa.text("SELECT key, step, step_id FROM clock_occurrences"))
                ).one()
        finally:
            await engine.dispose()
    ids = [step["id"] for steps in after.values() for step in steps]
    assert len(ids) == len(set(ids)) > 2 and all(uuid.UUID(i) for i in ids)
    assert {
        c: [{k: v for k, v in step.items() if k != "id"} for step in steps] for c, steps in after.items()
    } == bare
    assert fired.key == key and fired.step == 1
    assert uuid.UUID(str(fired.step_id)) == uuid.UUID(after[campaign_id][1]["id"])
