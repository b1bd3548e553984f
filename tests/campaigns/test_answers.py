"""Acknowledgements, checks and grades over REST: idempotent, tied to the brief version, private."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from service.campaigns.models import Acknowledgement
from tests.campaigns.helpers import (
    GUT_CHECK,
    acknowledge,
    make_campaign,
    published_brief,
    submit_check,
    utc_today,
)
from tests.factories import bearer, make_department, make_person, token_for


async def revise_and_publish(app, client, callers, brief_id, change: str) -> str:
    """Opens, submits and approves the next version of a published brief; returns its id."""
    editor, manager = callers.headers("editor"), callers.headers("manager")
    opened = await client.post(f"/api/v1/briefs/{brief_id}/revise", json={"change": change}, headers=editor)
    assert opened.status_code == 201, opened.text
    new_id = opened.json()["id"]
    assert (await client.post(f"/api/v1/briefs/{new_id}/submit", headers=editor)).status_code == 200
    approved = await client.post(f"/api/v1/briefs/{new_id}/approve", headers=manager)
    assert approved.status_code == 200, approved.text
    return new_id


async def test_acknowledging_twice_keeps_one_row_and_says_so(app, client):
    person = await make_person(app)
    me = bearer(token_for(app, person))
    campaign = await make_campaign(app)
    first = await acknowledge(client, me, campaign.id)
    assert first.status_code == 201, first.text
    second = await acknowledge(client, me, campaign.id)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert first.json()["brief_id"] == str(campaign.current_brief_id) and first.json()["version"] == 1


async def test_concurrent_double_clicks_write_one_acknowledgement(app, client):
    person = await make_person(app)
    me = bearer(token_for(app, person))
    campaign = await make_campaign(app)
    answers = await asyncio.gather(*(acknowledge(client, me, campaign.id) for _ in range(6)))
    assert {r.status_code for r in answers} <= {200, 201}, [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    async with app.state.sessionmaker() as session:
        count = await session.scalar(
            sa.select(sa.func.count())
            .select_from(Acknowledgement)
            .where(Acknowledgement.person_id == person.id)
        )
    assert count == 1


async def test_only_the_audience_answers_and_only_while_the_campaign_runs(app, client, callers):
    await make_department(app, key="nobody-here", name="無人の部署")
    outsider_dept_campaign = await make_campaign(app, departments=["nobody-here"])
    # An employee outside the audience does not even see the campaign.
    employee = callers.headers("employee")
    assert (await acknowledge(client, employee, outsider_dept_campaign.id)).status_code == 404
    # A manager sees it (all campaigns) but is not in its audience.
    assert (
        await acknowledge(client, callers.headers("manager"), outsider_dept_campaign.id)
    ).status_code == 403
    # Service accounts have nobody to acknowledge for.
    assert (
        await acknowledge(client, callers.headers("svc_people"), outsider_dept_campaign.id)
    ).status_code in (403,)

    person = await make_person(app)
    me = bearer(token_for(app, person))
    running = await make_campaign(app)
    await client.post(f"/api/v1/campaigns/{running.id}/complete", headers=callers.headers("editor"))
    closed = await acknowledge(client, me, running.id)
    assert closed.status_code == 409 and "completed" in closed.json()["detail"]


async def test_a_check_is_graded_by_the_manager_or_an_editor_never_by_oneself(app, client, callers):
    manager = await make_person(app, role="manager", display_name="上司 さん")
    person = await make_person(app, manager_id=manager.id)
    me = bearer(token_for(app, person))
    campaign = await make_campaign(app)

    submitted = await submit_check(client, me, campaign.id)
    assert submitted.status_code == 201, submitted.text
    check = submitted.json()
    assert check["status"] == "submitted" and check["answers"] == GUT_CHECK["answers"]
    # Submitting acknowledged the version too.
    assert (await acknowledge(client, me, campaign.id)).status_code == 200
    # One pending check at a time.
    assert (await submit_check(client, me, campaign.id)).status_code == 409

    grade_url = f"/api/v1/checks/{check['id']}/grade"
    own = await client.post(grade_url, json={"result": "passed"}, headers=me)
    assert own.status_code == 403
    other_manager = callers.headers("manager")  # a manager, but not this person's (other department)
    assert (await client.post(grade_url, json={"result": "passed"}, headers=other_manager)).status_code == 404
    no_reason = await client.post(
        grade_url, json={"result": "needs_work"}, headers=bearer(token_for(app, manager))
    )
    assert no_reason.status_code == 422
    graded = await client.post(
        grade_url,
        json={"result": "needs_work", "comment": "顧客の言葉で: 『週3時間』を入れてください"},
        headers=bearer(token_for(app, manager)),
    )
    assert graded.status_code == 200, graded.text
    assert graded.json()["status"] == "needs_work" and graded.json()["graded_by_id"] == str(manager.id)
    assert (
        await client.post(grade_url, json={"result": "passed"}, headers=callers.headers("editor"))
    ).status_code == 409

    again = await submit_check(client, me, campaign.id)
    assert again.status_code == 201
    passed = await client.post(
        f"/api/v1/checks/{again.json()['id']}/grade",
        json={"result": "passed"},
        headers=callers.headers("editor"),
    )
    assert passed.json()["status"] == "passed"
    assert (await submit_check(client, me, campaign.id)).status_code == 409  # already passed this version


async def test_bad_check_answers_are_refused_whole(app, client):
    person = await make_person(app)
    me = bearer(token_for(app, person))
    campaign = await make_campaign(app)
    missing = await submit_check(
        client, me, campaign.id, {"answers": {"who_changes": "経理"}, "pitch_in_own_words": " "}
    )
    assert missing.status_code == 422
    fields = {e["field"] for e in missing.json()["errors"]}
    assert {"answers.next_action", "answers.what_we_give_up", "pitch_in_own_words"} <= fields
    extra = await submit_check(client, me, campaign.id, {**GUT_CHECK, "status": "passed"})
    assert extra.status_code == 422  # mass assignment refused
    listed = await client.get("/api/v1/checks", headers=me)
    assert listed.json()["items"] == []


async def test_one_employee_never_reads_anothers_check_or_acknowledgement(app, client, callers):
    alice = await make_person(app, display_name="有栖 アリス")
    bob = await make_person(app, display_name="坊 ボブ")
    campaign = await make_campaign(app)
    alice_h, bob_h = bearer(token_for(app, alice)), bearer(token_for(app, bob))
    ack = (await acknowledge(client, alice_h, campaign.id)).json()
    check = (await submit_check(client, alice_h, campaign.id)).json()

    assert (await client.get(f"/api/v1/acknowledgements/{ack['id']}", headers=bob_h)).status_code == 404
    assert (await client.get(f"/api/v1/checks/{check['id']}", headers=bob_h)).status_code == 404
    assert (await client.get(f"/api/v1/acknowledgements/{ack['id']}", headers=alice_h)).status_code == 200
    assert (await client.get(f"/api/v1/checks/{check['id']}", headers=alice_h)).status_code == 200
    assert (await client.get("/api/v1/checks", headers=bob_h)).json()["items"] == []
    acks = await client.get(f"/api/v1/campaigns/{campaign.id}/acknowledgements", headers=bob_h)
    assert acks.json()["items"] == []
    # Editors see everyone's.
    assert (
        await client.get(f"/api/v1/checks/{check['id']}", headers=callers.headers("editor"))
    ).status_code == 200
    # Nor does an employee see the audience.
    audience = await client.get(f"/api/v1/campaigns/{campaign.id}/enrollments", headers=bob_h)
    assert audience.status_code == 403


async def test_a_minor_revision_keeps_answers_a_substantive_one_asks_again(app, client, callers):
    brief = await published_brief(app)
    person = await make_person(app)
    me = bearer(token_for(app, person))
    campaign = await make_campaign(app, brief=brief)
    assert (await acknowledge(client, me, campaign.id)).status_code == 201
    check = (await submit_check(client, me, campaign.id)).json()
    await client.post(
        f"/api/v1/checks/{check['id']}/grade", json={"result": "passed"}, headers=callers.headers("editor")
    )

    feed = (await client.get("/api/v1/me/feed", headers=me)).json()["items"]
    assert [i for i in feed if i["kind"] == "campaign_step"] == []  # passed: nothing more asked

    typo_fix = await revise_and_publish(app, client, callers, brief.id, "minor")
    feed = (await client.get("/api/v1/me/feed", headers=me)).json()["items"]
    assert [i for i in feed if i["kind"] == "campaign_step"] == []  # a typo fix asks nothing again
    assert (await acknowledge(client, me, campaign.id)).status_code == 200  # still the v1 acknowledgement
    assert (await submit_check(client, me, campaign.id)).status_code == 409  # still passed

    rewrite = await revise_and_publish(app, client, callers, typo_fix, "substantive")
    feed = (await client.get("/api/v1/me/feed", headers=me)).json()["items"]
    steps = [i for i in feed if i["kind"] == "campaign_step"]
    assert steps and steps[0]["brief_id"] == rewrite and steps[0]["version"] == 3
    assert steps[0]["acknowledged"] is False
    assert steps[0]["check_status"] is None
    renewed = await acknowledge(client, me, campaign.id)
    assert renewed.status_code == 201 and renewed.json()["version"] == 3
    assert (await submit_check(client, me, campaign.id)).status_code == 201  # asked again


async def test_the_interview_exercise_files_feedback_the_new_hire_follows(app, client):
    hire = await make_person(app, display_name="新人 一郎")
    me = bearer(token_for(app, hire))
    campaign = await make_campaign(
        app,
        kind="onboarding",
        steps=[
            {
                "channel": "training",
                "title": "顧客インタビュー",
                "day_offset": 0,
                "exercise": "customer_interview",
            }
        ],
    )
    # The hire has no hire date: not onboarding. Give them one and they are enrolled.
    admin_patch = await _set_hire_date(app, client, hire)
    assert admin_patch.status_code == 200
    answers = {
        "customer": {"account": "株式会社あおば", "segment": "smb"},
        "answers": {
            "why_chose_us": "会計ソフトとの連携が一番早かった",
            "what_was_inconvenient": "初期設定の画面が英語だけだった",
            "why_not_buy": "手書きの請求書が多い会社には合わない",
        },
    }
    recorded = await client.post(f"/api/v1/campaigns/{campaign.id}/interviews", json=answers, headers=me)
    assert recorded.status_code == 201, recorded.text
    assert len(recorded.json()["feedback_ids"]) == 3
    # Filed in the hire's own key space (no integration key can be taken), and a retry of the
    # same interview files nothing new.
    for feedback_id in recorded.json()["feedback_ids"]:
        item = (await client.get(f"/api/v1/feedback/{feedback_id}", headers=me)).json()
        assert item["external_id"].startswith("cuecard:onboarding-interview-"), item
        assert item["filed_by_id"] == str(hire.id)
    retry = await client.post(f"/api/v1/campaigns/{campaign.id}/interviews", json=answers, headers=me)
    assert retry.status_code == 201 and retry.json()["feedback_ids"] == recorded.json()["feedback_ids"]
    feed = (await client.get("/api/v1/me/feed", headers=me)).json()["items"]
    loops = [i for i in feed if i["kind"] == "feedback_loop"]
    assert {i["source"] for i in loops} == {"interview"} and len(loops) == 3
    assert any("英語だけ" in i["excerpt"] for i in loops)

    empty = await client.post(f"/api/v1/campaigns/{campaign.id}/interviews", json={"answers": {}}, headers=me)
    assert empty.status_code == 422

    launch = await make_campaign(app)
    no_exercise = await client.post(
        f"/api/v1/campaigns/{launch.id}/interviews", json={"answers": {"why_chose_us": "速い"}}, headers=me
    )
    assert no_exercise.status_code == 409


async def _set_hire_date(app, client, person):
    from tests.factories import make_person as _make

    admin = await _make(app, role="admin")
    return await client.patch(
        f"/api/v1/people/{person.id}",
        json={"hire_date": utc_today().isoformat()},
        headers=bearer(token_for(app, admin)),
    )


async def test_a_department_manager_grades_and_sees_the_queue_a_manager_elsewhere_does_not(app, client):
    from tests.factories import make_department

    sales = await make_department(app, key="sales-q", name="営業部")
    dev = await make_department(app, key="dev-q", name="開発部")
    sales_manager = await make_person(app, role="manager", department_key=sales.key)
    dev_manager = await make_person(app, role="manager", department_key=dev.key)
    seller = await make_person(app, department_key=sales.key)  # no direct manager recorded
    campaign = await make_campaign(app)
    check = (await submit_check(client, bearer(token_for(app, seller)), campaign.id)).json()

    elsewhere = bearer(token_for(app, dev_manager))
    assert (await client.get("/api/v1/checks?status=submitted", headers=elsewhere)).json()["items"] == []
    refused = await client.post(
        f"/api/v1/checks/{check['id']}/grade", json={"result": "passed"}, headers=elsewhere
    )
    assert refused.status_code == 404

    mine = bearer(token_for(app, sales_manager))
    queue = (await client.get("/api/v1/checks?status=submitted", headers=mine)).json()["items"]
    assert [c["id"] for c in queue] == [check["id"]]
    graded = await client.post(f"/api/v1/checks/{check['id']}/grade", json={"result": "passed"}, headers=mine)
    assert graded.status_code == 200, graded.text


async def test_a_retried_interview_files_nothing_new_and_the_future_is_refused(app, client):
    from datetime import timedelta

    hire = await make_person(app, hire_date=utc_today().isoformat())
    me = bearer(token_for(app, hire))
    campaign = await make_campaign(
        app,
        kind="onboarding",
        steps=[
            {
                "channel": "training",
                "title": "顧客インタビュー",
                "day_offset": 0,
                "exercise": "customer_interview",
            }
        ],
    )
    body = {"interviewed_on": utc_today().isoformat(), "answers": {"why_chose_us": "サポートが日本語で早い"}}
    first = await client.post(f"/api/v1/campaigns/{campaign.id}/interviews", json=body, headers=me)
    retry = await client.post(f"/api/v1/campaigns/{campaign.id}/interviews", json=body, headers=me)
    assert first.status_code == retry.status_code == 201
    assert first.json()["feedback_ids"] == retry.json()["feedback_ids"]
    loops = [
        i
        for i in (await client.get("/api/v1/me/feed", headers=me)).json()["items"]
        if i["kind"] == "feedback_loop"
    ]
    assert len(loops) == 1

    future = {**body, "interviewed_on": (utc_today() + timedelta(days=3)).isoformat()}
    refused = await client.post(f"/api/v1/campaigns/{campaign.id}/interviews", json=future, headers=me)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "interviewed_on"
