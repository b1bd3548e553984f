"""The demo's third scene: the onboarding camp and the launch tour, seen through the API with
the demo people's own tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.auth.principal import Principal
from service.demo import loader
from service.pagination import PageParams
from service.people import service as people_service
from service.people.schemas import PersonRead
from tests.factories import bearer, token_for

DEMO = Principal.operator("demo")


async def _load_demo(app) -> dict[str, PersonRead]:
    async with app.state.sessionmaker() as session:
        assert await loader.load(session, DEMO, if_empty=True)
        # The loader decides "first run" by whether anyone exists: a second run leaves it alone.
        assert not await loader.load(session, DEMO, if_empty=True)
        page = await people_service.list_people(session, DEMO, PageParams(limit=200))
    return {p.email: p for p in page.items}


def _as(app, people: dict[str, PersonRead], email: str) -> dict[str, str]:
    return bearer(token_for(app, people[email]))


@pytest.fixture
async def demo(app, client):
    return await _load_demo(app)


async def _campaign(client, headers, kind: str) -> dict:
    response = await client.get(f"/api/v1/campaigns?kind={kind}", headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 1
    return items[0]


async def test_onboarding_is_active_with_the_customer_interview(app, client, demo):
    editor = _as(app, demo, "sato.misaki@hoshino.example")
    onboarding = await _campaign(client, editor, "onboarding")
    assert onboarding["status"] == "active"
    assert onboarding["name"] == "新入社員オンボーディング / New-hire onboarding"
    assert onboarding["product_key"] == "kuradesk"
    assert onboarding["audience"] == {"departments": [], "roles": []}
    assert [s["day_offset"] for s in onboarding["steps"]] == [0, 1, 3, 7, 14]
    assert [s["exercise"] for s in onboarding["steps"]] == [None, None, "customer_interview", None, None]
    assert onboarding["steps"][2]["channel"] == "training"

    launch = await _campaign(client, editor, "launch")
    assert launch["status"] == "active"
    assert launch["audience"]["departments"] == ["sales", "support"]
    now = datetime.now(UTC)
    times = [datetime.fromisoformat(s["at"]) for s in launch["steps"]]
    assert any(t < now for t in times) and any(t > now for t in times)
    assert sum(s["channel"] == "briefing" for s in launch["steps"]) >= 3
    assert {"newsletter", "email"} <= {s["channel"] for s in launch["steps"]}


async def test_the_new_hire_sees_her_steps_and_her_interview_in_her_feed(app, client, demo):
    headers = _as(app, demo, "nakamura.rin@hoshino.example")
    response = await client.get("/api/v1/me/feed", headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]

    steps = {i["step_index"]: i for i in items if i["kind"] == "campaign_step"}
    assert {i["campaign_kind"] for i in steps.values()} == {"onboarding"}  # development is not on the launch
    assert steps[0]["state"] == "due"
    assert steps[2]["state"] == "due" and steps[2]["exercise"] == "customer_interview"
    assert steps[3]["state"] == "upcoming"
    assert steps[4]["state"] == "upcoming"
    assert all(s["acknowledged"] and s["check_status"] == "submitted" for s in steps.values())
    kinds = [i["kind"] for i in items]
    assert kinds == sorted(kinds, key=lambda k: k != "campaign_step")  # touchpoints come first

    interviews = [i for i in items if i["kind"] == "feedback_loop" and i["source"] == "interview"]
    excerpts = " ".join(i["excerpt"] for i in interviews)
    for question in ("なぜ私たちを選んだのですか", "何が不便でしたか", "買わない人はなぜ買わないのでしょう"):
        assert question in excerpts
    assert "triaged" in {i["status"] for i in interviews}

    # Her check waits in her manager's grading queue.
    manager = _as(app, demo, "yamamoto.sho@hoshino.example")
    queue = (await client.get("/api/v1/checks?status=submitted", headers=manager)).json()["items"]
    assert [c["person_id"] for c in queue] == [str(demo["nakamura.rin@hoshino.example"].id)]


async def test_a_hire_pushed_after_the_start_is_enrolled_with_everything_ahead(app, client, demo):
    headers = _as(app, demo, "kimura.sota@hoshino.example")
    items = (await client.get("/api/v1/me/feed", headers=headers)).json()["items"]
    steps = [i for i in items if i["kind"] == "campaign_step"]
    assert len(steps) == 5
    assert {s["state"] for s in steps} == {"upcoming"}


async def test_readiness_in_the_demo(app, client, demo):
    editor = _as(app, demo, "sato.misaki@hoshino.example")
    onboarding = await _campaign(client, editor, "onboarding")
    launch = await _campaign(client, editor, "launch")

    ready = (await client.get(f"/api/v1/campaigns/{onboarding['id']}/readiness", headers=editor)).json()
    # 中村 (submitted), 松本 (passed), Carter (needs work), 佐々木 (acknowledged, check day reached), 木村 (starts soon)
    assert (ready["audience"], ready["acknowledged"], ready["passed"], ready["overdue"]) == (5, 4, 1, 1)
    assert ready["attended"] == 1  # 中村 at her first-day orientation
    by_department = {
        d["department"]: (d["audience"], d["acknowledged"], d["passed"], d["overdue"])
        for d in ready["departments"]
    }
    assert by_department == {
        "development": (2, 2, 0, 1),
        "hr": (1, 0, 0, 0),
        "sales": (1, 1, 1, 0),
        "support": (1, 1, 0, 0),
    }

    ready = (await client.get(f"/api/v1/campaigns/{launch['id']}/readiness", headers=editor)).json()
    # Checks belong to the brief, not the campaign: 松本's onboarding pass counts on the launch too.
    assert (ready["audience"], ready["acknowledged"], ready["passed"], ready["overdue"]) == (7, 5, 2, 0)
    # 田中 and Wilson in Tokyo, 渡辺 in Osaka.
    assert ready["attended"] == 3
    assert {d["department"]: d["attended"] for d in ready["departments"]} == {"sales": 2, "support": 1}

    # The sales manager sees her own department only.
    manager = _as(app, demo, "suzuki.yui@hoshino.example")
    ready = (await client.get(f"/api/v1/campaigns/{launch['id']}/readiness", headers=manager)).json()
    assert [d["department"] for d in ready["departments"]] == ["sales"]
    assert (ready["audience"], ready["acknowledged"], ready["passed"], ready["attended"]) == (4, 3, 2, 2)

    headline = (await client.get("/api/v1/readiness", headers=editor)).json()
    kuradesk = next(p for p in headline["products"] if p["product_key"] == "kuradesk")
    assert (kuradesk["audience"], kuradesk["passed"]) == (10, 2)


async def test_the_needs_work_grades_say_why(app, client, demo):
    editor = _as(app, demo, "sato.misaki@hoshino.example")
    checks = (await client.get("/api/v1/checks?status=needs_work", headers=editor)).json()["items"]
    assert {c["person_id"] for c in checks} == {
        str(demo["liam.carter@hoshino.example"].id),
        str(demo["emma.wilson@hoshino.example"].id),
    }
    assert all(c["comment"] and c["graded_by_id"] for c in checks)
