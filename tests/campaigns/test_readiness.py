"""Readiness over REST: exact counts for a scripted audience, per campaign and organisation-wide,
and who may see them.

Every number below is worked out by hand from the script in each test, so a count that drifts
by one (a left person still counted, a needs_work counted as passed, a person in two campaigns
counted twice) fails loudly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from service.people.schemas import PersonRead
from tests.campaigns.helpers import GUT_CHECK, ago, make_campaign, readiness, soon
from tests.factories import (
    bearer,
    make_brief,
    make_department,
    make_person,
    make_product,
    service_token,
    token_for,
)

ZERO = {"audience": 0, "acknowledged": 0, "passed": 0, "overdue": 0}


def who(app: FastAPI, person: PersonRead) -> dict[str, str]:
    return bearer(token_for(app, person))


def counts(body: dict) -> dict[str, int]:
    return {k: body[k] for k in ("audience", "acknowledged", "passed", "overdue")}


def rows(body: dict) -> dict[str | None, tuple[int, int, int, int]]:
    """{department key: (audience, acknowledged, passed, overdue)}."""
    return {
        d["department"]: (d["audience"], d["acknowledged"], d["passed"], d["overdue"])
        for d in body["departments"]
    }


def utc_day(offset: int = 0) -> str:
    """A UTC calendar day: onboarding steps fall due at 00:00 UTC."""
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


async def ack(client: httpx.AsyncClient, app: FastAPI, person: PersonRead, campaign_id) -> None:
    response = await client.post(
        f"/api/v1/campaigns/{campaign_id}/acknowledgements", headers=who(app, person)
    )
    assert response.status_code in (200, 201), response.text


async def check(client: httpx.AsyncClient, app: FastAPI, person: PersonRead, campaign_id) -> str:
    response = await client.post(
        f"/api/v1/campaigns/{campaign_id}/checks", json=GUT_CHECK, headers=who(app, person)
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def grade(
    client: httpx.AsyncClient, headers: dict, check_id: str, result: str = "passed"
) -> httpx.Response:
    body = (
        {"result": result}
        if result == "passed"
        else {"result": result, "comment": "差別化の代償が抜けています"}
    )
    return await client.post(f"/api/v1/checks/{check_id}/grade", json=body, headers=headers)


async def passes(client, app, person, campaign_id, grader_headers) -> None:
    graded = await grade(client, grader_headers, await check(client, app, person, campaign_id))
    assert graded.status_code == 200, graded.text


async def org_readiness(client: httpx.AsyncClient, headers: dict) -> dict:
    response = await client.get("/api/v1/readiness", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def products(body: dict) -> dict[str, tuple[int, int, float | None, dict]]:
    """{product key: (audience, passed, share, {department: (audience, passed, share)})}."""
    return {
        p["product_key"]: (
            p["audience"],
            p["passed"],
            p["share"],
            {d["department"]: (d["audience"], d["passed"], d["share"]) for d in p["departments"]},
        )
        for p in body["products"]
    }


async def publish_revision(
    client: httpx.AsyncClient, brief_id, change: str, *, author: dict, approver: dict
) -> dict:
    """Revise the published version, submit the copy and have someone else approve it."""
    revised = await client.post(f"/api/v1/briefs/{brief_id}/revise", json={"change": change}, headers=author)
    assert revised.status_code == 201, revised.text
    draft = revised.json()
    submitted = await client.post(f"/api/v1/briefs/{draft['id']}/submit", headers=author)
    assert submitted.status_code == 200, submitted.text
    # Four eyes: whoever opened the version may not publish it, and nothing changes meanwhile.
    own = await client.post(f"/api/v1/briefs/{draft['id']}/approve", headers=author)
    assert own.status_code == 403, own.text
    approved = await client.post(f"/api/v1/briefs/{draft['id']}/approve", headers=approver)
    assert approved.status_code == 200, approved.text
    return approved.json()


# --- one campaign -------------------------------------------------------------------------------


async def test_campaign_readiness_is_exact_per_department_for_a_scripted_audience(app, client, callers):
    editor, admin = callers.headers("editor"), callers.headers("admin")
    await make_department(app, key="sales", name="営業部")
    await make_department(app, key="support", name="サポート部")
    await make_department(app, key="dev", name="開発部")
    sales_manager = await make_person(app, role="manager", department_key="sales")
    support_manager = await make_person(app, role="manager", department_key="support")
    s1, s2, s3, s4 = [
        await make_person(app, department_key="sales", manager_id=sales_manager.id) for _ in range(4)
    ]
    t1, t2, t3 = [await make_person(app, department_key="support") for _ in range(3)]
    d1 = await make_person(app, department_key="dev")
    brief = await make_brief(
        app, await make_person(app, role="editor"), (await make_product(app)).key, status="published"
    )
    audience = {"departments": ["sales", "support"], "roles": ["employee"]}
    # Both campaigns speak for the same brief: answers belong to its version, not to a campaign.
    late = await make_campaign(
        app,
        brief=brief,
        **audience,
        steps=[
            {"channel": "briefing", "title": "説明会", "at": ago(3)},
            {"channel": "email", "title": "まとめ", "at": ago(1)},
        ],
    )
    running = await make_campaign(
        app,
        brief=brief,
        **audience,
        steps=[
            {"channel": "briefing", "title": "説明会", "at": ago(1)},
            {"channel": "email", "title": "まとめ", "at": soon(2)},
        ],
    )
    fresh = await readiness(client, editor, late.id)
    assert counts(fresh) == {"audience": 7, "acknowledged": 0, "passed": 0, "overdue": 7}
    assert fresh["version"] == 1 and fresh["basis_version"] == 1 and fresh["brief_id"] == str(brief.id)

    await ack(client, app, s1, late.id)
    await ack(client, app, s1, late.id)  # idempotent: still one
    await passes(client, app, s2, late.id, who(app, sales_manager))  # graded by their manager
    needs_work = await grade(client, editor, await check(client, app, s3, late.id), "needs_work")
    assert needs_work.status_code == 200, needs_work.text
    await ack(client, app, s4, running.id)
    await passes(client, app, t1, running.id, editor)
    await ack(client, app, t2, late.id)
    pending = await check(client, app, t3, late.id)  # submitted, never graded: acknowledged only

    # Refused grades leave the counts alone: nobody grades their own check, another
    # department's manager does not see it (404), an employee is not a reviewer.
    assert (await grade(client, who(app, t3), pending)).status_code == 403
    assert (await grade(client, who(app, sales_manager), pending)).status_code == 404
    assert (await grade(client, who(app, s1), pending)).status_code == 404

    # s4 leaves the company (out of every count, history kept); t2 moves to sales and brings
    # their acknowledgement along; d1 moves into the audience and has done nothing yet.
    assert (
        await client.patch(f"/api/v1/people/{s4.id}", json={"active": False}, headers=admin)
    ).status_code == 200
    moved = await client.patch(f"/api/v1/people/{t2.id}", json={"department_key": "sales"}, headers=admin)
    assert moved.status_code == 200
    joined = await client.patch(f"/api/v1/people/{d1.id}", json={"department_key": "support"}, headers=admin)
    assert joined.status_code == 200

    body = await readiness(client, editor, late.id)
    assert counts(body) == {"audience": 7, "acknowledged": 6, "passed": 2, "overdue": 5}
    assert rows(body) == {"sales": (4, 4, 1, 3), "support": (3, 2, 1, 2)}
    assert [d["department_name"] for d in body["departments"]] == ["営業部", "サポート部"]
    # Same people, same answers; the last step is still ahead, so nobody is overdue yet.
    other = await readiness(client, editor, running.id)
    assert counts(other) == {"audience": 7, "acknowledged": 6, "passed": 2, "overdue": 0}
    assert rows(other) == {"sales": (4, 4, 1, 0), "support": (3, 2, 1, 0)}

    # campaigns:read integrations see what editors see; admins too.
    reader = bearer(await service_token(app, client, "campaigns:read"))
    assert await readiness(client, reader, late.id) == body
    assert await readiness(client, admin, late.id) == body

    # A manager sees their own department only, rows and totals alike.
    mine = await readiness(client, who(app, sales_manager), late.id)
    assert counts(mine) == {"audience": 4, "acknowledged": 4, "passed": 1, "overdue": 3}
    assert rows(mine) == {"sales": (4, 4, 1, 3)}
    theirs = await readiness(client, who(app, support_manager), late.id)
    assert counts(theirs) == {"audience": 3, "acknowledged": 2, "passed": 1, "overdue": 2}
    assert rows(theirs) == {"support": (3, 2, 1, 2)}
    nowhere = await make_person(app, role="manager")
    alone = await readiness(client, who(app, nowhere), late.id)
    assert counts(alone) == ZERO and alone["departments"] == []

    url = f"/api/v1/campaigns/{late.id}/readiness"
    # People in the audience, other integrations and strangers see no readiness.
    assert (await client.get(url, headers=who(app, s1))).status_code == 403
    assert (await client.get(url, headers=callers.headers("employee"))).status_code == 403
    assert (await client.get(url, headers=callers.headers("svc_pitch"))).status_code == 403
    assert (await client.get(url, headers=callers.headers("svc_people"))).status_code == 403
    assert (await client.get(url)).status_code == 401
    missing = await client.get(
        "/api/v1/campaigns/00000000-0000-4000-8000-000000000000/readiness", headers=editor
    )
    assert missing.status_code == 404

    # A completed campaign keeps its audience, but someone who left the company since drops out
    # of its counts too (enrollment only follows people in active campaigns).
    assert (await client.post(f"/api/v1/campaigns/{late.id}/complete", headers=editor)).status_code == 200
    assert (
        await client.patch(f"/api/v1/people/{s1.id}", json={"active": False}, headers=admin)
    ).status_code == 200
    closed = await readiness(client, editor, late.id)
    assert counts(closed) == {"audience": 6, "acknowledged": 5, "passed": 2, "overdue": 4}
    assert rows(closed) == {"sales": (3, 3, 1, 2), "support": (3, 2, 1, 2)}
    assert counts(await readiness(client, editor, running.id)) == {
        "audience": 6,
        "acknowledged": 5,
        "passed": 2,
        "overdue": 0,
    }


async def test_onboarding_is_overdue_from_each_hire_date_plus_the_last_offset(app, client, callers):
    editor, admin = callers.headers("editor"), callers.headers("admin")
    await make_department(app, key="sales", name="営業部")
    hires = {
        name: await make_person(app, department_key="sales", hire_date=utc_day(offset))
        for name, offset in (
            ("corrected", -3),  # HR later corrects the start to 10 days ago: overdue
            ("due_today", -7),  # the last step (day 7) fell due at 00:00 UTC today: overdue
            ("tomorrow", -6),  # due tomorrow: not yet
            ("passed", -2),  # corrected to 8 days ago, but passed: never overdue
            ("starting", 5),  # starts next week
        )
    }
    await make_person(app, department_key="sales", hire_date=utc_day(-30))  # onboarding long over
    campaign = await make_campaign(
        app,
        kind="onboarding",
        steps=[
            {"channel": "briefing", "title": "初日: 会社の価値", "day_offset": 0},
            {"channel": "training", "title": "顧客インタビュー", "day_offset": 7},
        ],
    )
    assert counts(await readiness(client, editor, campaign.id)) == {
        "audience": 5,
        "acknowledged": 0,
        "passed": 0,
        "overdue": 1,
    }
    for name, day in (("corrected", -10), ("passed", -8)):
        fixed = await client.patch(
            f"/api/v1/people/{hires[name].id}", json={"hire_date": utc_day(day)}, headers=admin
        )
        assert fixed.status_code == 200, fixed.text
    await passes(client, app, hires["passed"], campaign.id, editor)
    await ack(client, app, hires["corrected"], campaign.id)  # acknowledging is not passing

    body = await readiness(client, editor, campaign.id)
    assert counts(body) == {"audience": 5, "acknowledged": 2, "passed": 1, "overdue": 2}
    assert rows(body) == {"sales": (5, 2, 1, 2)}


async def test_a_minor_revision_keeps_answers_and_a_substantive_one_asks_again(app, client, callers):
    editor, admin = callers.headers("editor"), callers.headers("admin")
    await make_department(app, key="sales", name="営業部")
    p1, p2, p3 = [await make_person(app, department_key="sales") for _ in range(3)]
    product = await make_product(app, key="kuradesk")
    brief = await make_brief(
        app, callers.people["editor"], product.key, status="published", reviewer=callers.people["admin"]
    )
    campaign = await make_campaign(
        app,
        brief=brief,
        departments=["sales"],
        roles=["employee"],
        steps=[{"channel": "chat", "title": "告知", "at": ago(1)}],
    )
    await ack(client, app, p1, campaign.id)
    await passes(client, app, p2, campaign.id, editor)
    assert (
        await grade(client, editor, await check(client, app, p3, campaign.id), "needs_work")
    ).status_code == 200
    before = await readiness(client, editor, campaign.id)
    assert counts(before) == {"audience": 3, "acknowledged": 3, "passed": 1, "overdue": 2}

    # A typo fix: version 2 is current, answers given on version 1 still count.
    v2 = await publish_revision(client, brief.id, "minor", author=editor, approver=admin)
    body = await readiness(client, editor, campaign.id)
    assert (body["brief_id"], body["version"], body["basis_version"]) == (v2["id"], 2, 1)
    assert counts(body) == counts(before)
    assert products(await org_readiness(client, editor))["kuradesk"][:3] == (3, 1, 0.3333)
    # Already passed since the last substantive version: nothing to submit again.
    again = await client.post(f"/api/v1/campaigns/{campaign.id}/checks", json=GUT_CHECK, headers=who(app, p2))
    assert again.status_code == 409

    # A substantive change asks everyone again: nothing counts until they answer version 3.
    v3 = await publish_revision(client, v2["id"], "substantive", author=editor, approver=admin)
    body = await readiness(client, editor, campaign.id)
    assert (body["brief_id"], body["version"], body["basis_version"]) == (v3["id"], 3, 3)
    assert counts(body) == {"audience": 3, "acknowledged": 0, "passed": 0, "overdue": 3}
    assert products(await org_readiness(client, editor))["kuradesk"][:3] == (3, 0, 0.0)

    await ack(client, app, p1, campaign.id)
    await passes(client, app, p2, campaign.id, editor)
    body = await readiness(client, editor, campaign.id)
    assert counts(body) == {"audience": 3, "acknowledged": 2, "passed": 1, "overdue": 2}
    assert rows(body) == {"sales": (3, 2, 1, 2)}
    assert products(await org_readiness(client, editor))["kuradesk"][:3] == (3, 1, 0.3333)


# --- the organisation ---------------------------------------------------------------------------


async def test_organisation_readiness_counts_each_person_once_per_product(app, client, callers):
    editor, admin = callers.headers("editor"), callers.headers("admin")
    for key, name in (("sales", "営業部"), ("support", "サポート部"), ("dev", "開発部")):
        await make_department(app, key=key, name=name)
    sales_manager = await make_person(app, role="manager", department_key="sales")
    s1, s2 = [await make_person(app, department_key="sales") for _ in range(2)]
    t1, t2 = [await make_person(app, department_key="support") for _ in range(2)]
    d1 = await make_person(app, department_key="dev")
    author = await make_person(app, role="editor")
    alpha, beta, gamma, delta = [await make_product(app, key=k) for k in ("alpha", "beta", "gamma", "delta")]
    brief_a = await make_brief(app, author, alpha.key, status="published")
    brief_b = await make_brief(app, author, beta.key, status="published")
    await make_brief(app, author, gamma.key, status="published")  # a pitch, no campaign yet
    draft_d = await make_brief(app, author, delta.key)  # nothing published: not a product here

    employees = {"roles": ["employee"]}
    a1 = await make_campaign(app, brief=brief_a, departments=["sales"], **employees)
    a2 = await make_campaign(app, brief=brief_a, departments=["sales", "support"], **employees)
    a3 = await make_campaign(app, brief=brief_a, departments=["dev"], **employees)
    await make_campaign(app, brief=brief_a, departments=["dev"], **employees, status="planned")
    await make_campaign(app, brief=draft_d, departments=["dev"], **employees, status="planned")
    b1 = await make_campaign(app, brief=brief_b, departments=["support"], **employees)

    await passes(client, app, s1, a1.id, editor)  # in a1 and a2: one person, one pass
    await ack(client, app, s2, a2.id)  # acknowledged is not passed
    await passes(client, app, t1, a2.id, editor)
    await passes(client, app, d1, a3.id, editor)  # …in a campaign about to be cancelled
    await passes(client, app, t1, b1.id, editor)
    needs_work = await grade(client, editor, await check(client, app, t2, b1.id), "needs_work")
    assert needs_work.status_code == 200
    assert (await client.post(f"/api/v1/campaigns/{a3.id}/cancel", headers=editor)).status_code == 200
    assert (await client.post(f"/api/v1/campaigns/{b1.id}/complete", headers=editor)).status_code == 200

    body = await org_readiness(client, editor)
    assert body["question"].startswith("Can our people state what makes us worth buying")
    assert (body["audience"], body["passed"], body["share"]) == (6, 3, 0.5)
    assert products(body) == {
        "alpha": (4, 2, 0.5, {"sales": (2, 1, 0.5), "support": (2, 1, 0.5)}),
        "beta": (2, 1, 0.5, {"support": (2, 1, 0.5)}),  # a completed campaign still counts
        "gamma": (0, 0, None, {}),
    }
    reader = bearer(await service_token(app, client, "campaigns:read"))
    assert await org_readiness(client, reader) == body
    assert await org_readiness(client, admin) == body

    # Someone who leaves drops out of every product's audience.
    assert (
        await client.patch(f"/api/v1/people/{t1.id}", json={"active": False}, headers=admin)
    ).status_code == 200
    after = products(await org_readiness(client, editor))
    assert after["alpha"] == (3, 1, 0.3333, {"sales": (2, 1, 0.5), "support": (1, 0, 0.0)})
    assert after["beta"] == (1, 0, 0.0, {"support": (1, 0, 0.0)})

    # A manager sees their own department in every product; without one, nothing.
    mine = await org_readiness(client, who(app, sales_manager))
    assert (mine["audience"], mine["passed"], mine["share"]) == (2, 1, 0.5)
    assert products(mine) == {
        "alpha": (2, 1, 0.5, {"sales": (2, 1, 0.5)}),
        "beta": (0, 0, None, {}),
        "gamma": (0, 0, None, {}),
    }
    alone = await org_readiness(client, who(app, await make_person(app, role="manager")))
    assert (alone["audience"], alone["passed"], alone["share"]) == (0, 0, None)
    assert all(p[:3] == (0, 0, None) for p in products(alone).values())

    for name in ("employee", "svc_pitch", "svc_people"):
        assert (await client.get("/api/v1/readiness", headers=callers.headers(name))).status_code == 403, name
    assert (await client.get("/api/v1/readiness", headers=who(app, s1))).status_code == 403
    assert (await client.get("/api/v1/readiness")).status_code == 401


async def test_organisation_readiness_with_nothing_published_is_empty(app, client, callers):
    body = await org_readiness(client, callers.headers("editor"))
    assert body["products"] == [] and (body["audience"], body["passed"], body["share"]) == (0, 0, None)
