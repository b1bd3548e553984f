"""Campaigns, acknowledgements, checks, readiness and the feed over GraphQL: the same services as
REST, their refusals with `extensions.code`, and nested fields that batch (statements per page do
not grow with its size)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from service.campaigns import service as campaigns_service
from service.campaigns.models import Acknowledgement
from service.campaigns.schemas import CheckCreate, Grade
from tests.campaigns.helpers import GUT_CHECK, ago, make_campaign, published_brief, soon, today
from tests.factories import (
    Callers,
    bearer,
    counting_statements,
    make_brief,
    make_department,
    make_person,
    make_product,
    notices_settled,
    principal_of,
    service_token,
    token_for,
)
from tests.test_graphql import error_codes, gql, only_error, row_count

CAMPAIGN_FIELDS = (
    "id name kind status etag productKey currentBriefId currentVersion"
    " audience { departments roles } steps { index channel title at dayOffset exercise }"
)
CREATE = f"mutation($input: CampaignInput!) {{ createCampaign(input: $input) {{ {CAMPAIGN_FIELDS} }} }}"
UPDATE = (
    "mutation($id: ID!, $input: CampaignPatch!, $ifMatch: String) {"
    " updateCampaign(id: $id, input: $input, ifMatch: $ifMatch) { name etag } }"
)
ACKNOWLEDGE = (
    "mutation($id: ID!) { acknowledgeCampaign(campaignId: $id) {"
    " created acknowledgement { id version briefId person { email } campaign { name } } } }"
)
SUBMIT = (
    "mutation($id: ID!, $input: CheckInput!) { submitCheck(campaignId: $id, input: $input) {"
    " id status version answers { whoChanges } pitchInOwnWords } }"
)
GRADE = (
    "mutation($id: ID!, $input: GradeInput!) { gradeCheck(id: $id, input: $input) {"
    " status comment gradedBy { email } person { email } } }"
)
FEED = (
    "query($limit: Int) { myFeed(limit: $limit) { __typename"
    " ... on CampaignStep { at state title channel stepIndex acknowledged checkStatus version"
    " campaign { name } brief { version } }"
    " ... on FeedbackLoop { at status source excerpt item { id tags } } } }"
)
CHECK_INPUT = {
    "answers": {
        "whoChanges": GUT_CHECK["answers"]["who_changes"],
        "nextAction": GUT_CHECK["answers"]["next_action"],
        "whatWeGiveUp": GUT_CHECK["answers"]["what_we_give_up"],
    },
    "pitchInOwnWords": GUT_CHECK["pitch_in_own_words"],
}


async def data(client: httpx.AsyncClient, query: str, headers: dict, variables: dict | None = None) -> Any:
    status, body = await gql(client, query, headers, variables)
    assert status == 200
    assert "errors" not in body, body
    return body["data"]


async def code_of(client: httpx.AsyncClient, query: str, headers: dict, variables: dict | None = None) -> str:
    status, body = await gql(client, query, headers, variables)
    assert status == 200
    return only_error(body)["extensions"]["code"]


# --- the whole flow ----------------------------------------------------------------------------


async def test_plan_run_acknowledge_check_grade_and_see_readiness_and_the_feed(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    editor = callers.headers("editor")
    brief = await published_brief(app)
    sales = await make_department(app, name="営業部")
    boss = await make_person(app, role="manager", department_key=sales.key, display_name="課長")
    seller = await make_person(app, department_key=sales.key, manager_id=boss.id, display_name="営業 一郎")
    peer = await make_person(app, department_key=sales.key, display_name="営業 二郎")
    await make_person(app)  # another department: not in the audience
    as_seller, as_peer, as_boss = (bearer(token_for(app, p)) for p in (seller, peer, boss))

    # Planning is for editors and admins; a plan with problems is refused whole.
    plan = {
        "briefId": str(brief.id),
        "name": "請求書AI ローンチ",
        "kind": "LAUNCH",
        "audience": {"departments": [sales.key], "roles": []},
        "steps": [
            {"channel": "BRIEFING", "title": "説明会", "at": ago(1)},
            {"channel": "NEWSLETTER", "title": "社内報で紹介", "at": soon(3)},
        ],
    }
    assert await code_of(client, CREATE, callers.headers("employee"), {"input": plan}) == "FORBIDDEN"
    assert await code_of(client, CREATE, callers.headers("manager"), {"input": plan}) == "FORBIDDEN"
    _, body = await gql(
        client,
        CREATE,
        editor,
        {"input": {**plan, "kind": "ONBOARDING", "audience": {"departments": ["no-such-dept"]}}},
    )
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert {e["field"] for e in error["extensions"]["errors"]} == {
        "steps.0.day_offset",
        "steps.1.day_offset",
        "audience.departments.0",
    }
    campaign = (await data(client, CREATE, editor, {"input": plan}))["createCampaign"]
    assert campaign["status"] == "PLANNED" and campaign["kind"] == "LAUNCH"
    assert campaign["productKey"] == brief.product_key
    assert campaign["currentBriefId"] == str(brief.id) and campaign["currentVersion"] == 1
    assert campaign["audience"] == {"departments": [sales.key], "roles": []}
    assert [(s["index"], s["channel"], s["dayOffset"]) for s in campaign["steps"]] == [
        (0, "BRIEFING", None),
        (1, "NEWSLETTER", None),
    ]
    campaign_id = campaign["id"]

    # Changes take ifMatch: required, and refused when stale.
    rename = {"id": campaign_id, "input": {"name": "請求書AI ローンチ 第1期"}}
    assert await code_of(client, UPDATE, editor, rename) == "PRECONDITION_REQUIRED"
    assert await code_of(client, UPDATE, editor, {**rename, "ifMatch": '"v999"'}) == "PRECONDITION_FAILED"
    renamed = (await data(client, UPDATE, editor, {**rename, "ifMatch": campaign["etag"]}))["updateCampaign"]
    assert renamed["name"] == "請求書AI ローンチ 第1期" and renamed["etag"] != campaign["etag"]
    assert await code_of(client, UPDATE, editor, {**rename, "input": {"name": None}, "ifMatch": "*"}) == (
        "BAD_USER_INPUT"
    )

    # Nobody is enrolled (nor sees it, as an employee) before activation.
    one = f'{{ campaign(id: "{campaign_id}") {{ name status brief {{ version }} product {{ key }} }} }}'
    assert await code_of(client, one, as_seller) == "NOT_FOUND"
    activate = f'mutation {{ activateCampaign(id: "{campaign_id}") {{ status activatedAt }} }}'
    assert await code_of(client, activate, callers.headers("manager")) == "FORBIDDEN"
    activated = (await data(client, activate, editor))["activateCampaign"]
    assert activated["status"] == "ACTIVE" and activated["activatedAt"]
    assert await code_of(client, activate, editor) == "CONFLICT"
    seen = (await data(client, one, as_seller))["campaign"]
    assert seen == {
        "name": "請求書AI ローンチ 第1期",
        "status": "ACTIVE",
        "brief": {"version": 1},
        "product": {"key": brief.product_key},
    }

    enrollments = (
        "query($id: ID!) { campaignEnrollments(campaignId: $id, current: true, first: 10) {"
        " edges { node { leftAt person { email } campaign { name } } } } }"
    )
    found = await data(client, enrollments, editor, {"id": campaign_id})
    nodes = [e["node"] for e in found["campaignEnrollments"]["edges"]]
    assert {n["person"]["email"] for n in nodes} == {seller.email, peer.email, boss.email}
    assert all(n["leftAt"] is None and n["campaign"]["name"] == "請求書AI ローンチ 第1期" for n in nodes)
    assert await code_of(client, enrollments, as_seller, {"id": campaign_id}) == "FORBIDDEN"

    # Acknowledging twice records one row; both answers name it.
    first = (await data(client, ACKNOWLEDGE, as_seller, {"id": campaign_id}))["acknowledgeCampaign"]
    again = (await data(client, ACKNOWLEDGE, as_seller, {"id": campaign_id}))["acknowledgeCampaign"]
    assert (first["created"], again["created"]) == (True, False)
    assert first["acknowledgement"] == again["acknowledgement"]
    assert first["acknowledgement"]["person"] == {"email": seller.email}
    assert first["acknowledgement"]["briefId"] == str(brief.id)
    assert first["acknowledgement"]["version"] == 1
    assert await row_count(app, Acknowledgement) == 1
    ack_id = first["acknowledgement"]["id"]
    read_ack = f'{{ acknowledgement(id: "{ack_id}") {{ id person {{ email }} }} }}'
    assert (await data(client, read_ack, as_boss))["acknowledgement"]["id"] == ack_id
    assert await code_of(client, read_ack, as_peer) == "NOT_FOUND"  # another employee's: not there
    # Only people in the audience answer: the editor is not in it.
    assert await code_of(client, ACKNOWLEDGE, editor, {"id": campaign_id}) == "FORBIDDEN"

    # The check: answered by oneself, graded by the person's manager.
    assert await code_of(
        client, SUBMIT, as_seller, {"id": campaign_id, "input": {**CHECK_INPUT, "pitchInOwnWords": " "}}
    ) == ("BAD_USER_INPUT")
    check = (await data(client, SUBMIT, as_seller, {"id": campaign_id, "input": CHECK_INPUT}))["submitCheck"]
    assert check["status"] == "SUBMITTED" and check["version"] == 1
    assert check["answers"] == {"whoChanges": GUT_CHECK["answers"]["who_changes"]}
    assert await code_of(client, SUBMIT, as_seller, {"id": campaign_id, "input": CHECK_INPUT}) == "CONFLICT"
    read_check = f'{{ check(id: "{check["id"]}") {{ status person {{ email }} campaign {{ name }} }} }}'
    assert await code_of(client, read_check, as_peer) == "NOT_FOUND"
    assert (await data(client, read_check, as_seller))["check"]["person"] == {"email": seller.email}
    queue = "{ checks(status: SUBMITTED, first: 10) { edges { node { id person { email } } } } }"
    assert (await data(client, queue, as_peer))["checks"]["edges"] == []
    assert [e["node"] for e in (await data(client, queue, as_boss))["checks"]["edges"]] == [
        {"id": check["id"], "person": {"email": seller.email}}
    ]

    grade = {"id": check["id"], "input": {"result": "PASSED", "comment": "自分の言葉で言えている"}}
    assert await code_of(client, GRADE, as_seller, grade) == "FORBIDDEN"  # never one's own
    assert await code_of(client, GRADE, as_peer, grade) == "NOT_FOUND"
    needs_work = {"id": check["id"], "input": {"result": "NEEDS_WORK"}}
    assert await code_of(client, GRADE, as_boss, needs_work) == "BAD_USER_INPUT"  # say what
    graded = (await data(client, GRADE, as_boss, grade))["gradeCheck"]
    assert graded == {
        "status": "PASSED",
        "comment": "自分の言葉で言えている",
        "gradedBy": {"email": boss.email},
        "person": {"email": seller.email},
    }
    assert await code_of(client, GRADE, editor, grade) == "CONFLICT"  # graded already

    # Readiness: three in the audience, one acknowledged and passed, nobody overdue yet.
    ready = (
        "query($id: ID!) { campaignReadiness(campaignId: $id) { campaignId version basisVersion"
        " audience acknowledged passed overdue departments { department audience passed }"
        " campaign { name } } }"
    )
    numbers = (await data(client, ready, editor, {"id": campaign_id}))["campaignReadiness"]
    assert numbers == {
        "campaignId": campaign_id,
        "version": 1,
        "basisVersion": 1,
        "audience": 3,
        "acknowledged": 1,
        "passed": 1,
        "overdue": 0,
        "departments": [{"department": sales.key, "audience": 3, "passed": 1}],
        "campaign": {"name": "請求書AI ローンチ 第1期"},
    }
    assert await code_of(client, ready, as_seller, {"id": campaign_id}) == "FORBIDDEN"
    organisation = (
        "{ readiness { question audience passed share products { productKey audience passed share } } }"
    )
    headline = (await data(client, organisation, editor))["readiness"]
    assert headline["question"].startswith("Can our people state")
    assert headline["products"] == [
        {"productKey": brief.product_key, "audience": 3, "passed": 1, "share": round(1 / 3, 4)}
    ]
    assert await code_of(client, organisation, as_peer) == "FORBIDDEN"

    # The feed: someone who passed is asked nothing more; the others see what is due and coming.
    seller_feed = (await data(client, FEED, as_seller))["myFeed"]
    assert seller_feed == []
    peer_feed = (await data(client, FEED, as_peer))["myFeed"]
    assert [
        (e["__typename"], e["title"], e["state"], e["acknowledged"], e["checkStatus"]) for e in peer_feed
    ] == [
        ("CampaignStep", "説明会", "DUE", False, None),
        ("CampaignStep", "社内報で紹介", "UPCOMING", False, None),
    ]
    assert peer_feed[0]["campaign"] == {"name": "請求書AI ローンチ 第1期"}
    assert peer_feed[0]["brief"] == {"version": 1}
    assert await code_of(client, FEED, callers.headers("svc_pitch")) == "FORBIDDEN"
    assert await code_of(client, FEED, as_peer, {"limit": 0}) == "BAD_USER_INPUT"

    # Closing it: answers stop, readiness stays readable.
    complete = f'mutation {{ completeCampaign(id: "{campaign_id}") {{ status completedAt }} }}'
    assert (await data(client, complete, editor))["completeCampaign"]["status"] == "COMPLETED"
    cancel = f'mutation {{ cancelCampaign(id: "{campaign_id}") {{ status }} }}'
    assert await code_of(client, cancel, editor) == "CONFLICT"
    assert await code_of(client, ACKNOWLEDGE, as_peer, {"id": campaign_id}) == "CONFLICT"
    assert (await data(client, ready, editor, {"id": campaign_id}))["campaignReadiness"]["passed"] == 1


async def test_listing_and_filters_follow_what_the_caller_may_see(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    brief = await published_brief(app)
    launch = await make_campaign(app, brief=brief, roles=["employee"])
    planned = await make_campaign(app, brief=brief, status="planned", name="計画中")
    other = await make_campaign(app, roles=["admin"], name="管理者向け")
    listing = (
        "query($status: CampaignStatus, $kind: CampaignKind, $briefId: ID) {"
        " campaigns(first: 10, status: $status, kind: $kind, briefId: $briefId) { edges { node { id } } } }"
    )

    async def ids(headers: dict, **variables: Any) -> list[str]:
        found = await data(client, listing, headers, variables)
        return [e["node"]["id"] for e in found["campaigns"]["edges"]]

    editor = callers.headers("editor")
    assert await ids(editor) == [str(launch.id), str(planned.id), str(other.id)]
    assert await ids(editor, status="PLANNED") == [str(planned.id)]
    assert await ids(editor, briefId=str(brief.id)) == [str(launch.id), str(planned.id)]
    assert await ids(editor, kind="ONBOARDING") == []
    assert await ids(callers.headers("employee")) == [str(launch.id)]  # the ones they are in
    assert await code_of(client, listing, callers.headers("svc_pitch")) == "FORBIDDEN"
    assert await code_of(client, listing, {}) == "UNAUTHENTICATED"
    bad = "{ campaigns(first: 500) { edges { node { id } } } }"
    assert await code_of(client, bad, editor) == "BAD_USER_INPUT"
    not_a_uuid = '{ campaign(id: "nope") { id } }'
    assert await code_of(client, not_a_uuid, editor) == "BAD_USER_INPUT"
    other_one = f'{{ campaign(id: "{other.id}") {{ id }} }}'
    assert await code_of(client, other_one, callers.headers("employee")) == "NOT_FOUND"

    # A campaigns:read integration sees every campaign but answers nothing.
    reader = bearer(await service_token(app, client, "campaigns:read"))
    assert len(await ids(reader)) == 3
    assert await code_of(client, ACKNOWLEDGE, reader, {"id": str(launch.id)}) == "FORBIDDEN"
    assert (await data(client, "{ checks { edges { node { id } } } }", editor))["checks"]["edges"] == []
    assert await code_of(client, "{ checks { edges { node { id } } } }", reader) == "FORBIDDEN"


async def test_the_onboarding_interview_becomes_feedback_the_new_hire_follows(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    new_hire = await make_person(app, hire_date=today(0), display_name="新人 花子")
    campaign = await make_campaign(
        app,
        kind="onboarding",
        steps=[
            {
                "channel": "briefing",
                "title": "顧客インタビュー",
                "day_offset": 0,
                "exercise": "customer_interview",
            },
            {"channel": "chat", "title": "振り返り", "day_offset": 7},
        ],
    )
    headers = bearer(token_for(app, new_hire))
    record = (
        "mutation($id: ID!, $input: InterviewInput!) { recordInterview(campaignId: $id, input: $input) {"
        " campaignId feedbackIds feedbackItems { source tags filedBy { email } } } }"
    )
    answers = {
        "whyChoseUs": "月末の残業が減ると聞いたから",
        "whyNotBuy": "手書きの請求書が多い会社には合わない",
    }
    empty = {"id": str(campaign.id), "input": {"answers": {}}}
    assert await code_of(client, record, headers, empty) == "BAD_USER_INPUT"
    recorded = (
        await data(
            client,
            record,
            headers,
            {
                "id": str(campaign.id),
                "input": {"answers": answers, "customer": {"account": "acme"}, "interviewedOn": today(0)},
            },
        )
    )["recordInterview"]
    assert recorded["campaignId"] == str(campaign.id) and len(recorded["feedbackIds"]) == 2
    assert {tuple(i["tags"]) for i in recorded["feedbackItems"]} == {
        ("onboarding", "why_chose_us"),
        ("onboarding", "why_not_buy"),
    }
    assert all(
        i["source"] == "INTERVIEW" and i["filedBy"] == {"email": new_hire.email}
        for i in recorded["feedbackItems"]
    )

    feed = (await data(client, FEED, headers))["myFeed"]
    kinds = [e["__typename"] for e in feed]
    assert kinds == ["CampaignStep", "CampaignStep", "FeedbackLoop", "FeedbackLoop"]
    assert [(e["title"], e["state"]) for e in feed[:2]] == [
        ("顧客インタビュー", "DUE"),
        ("振り返り", "UPCOMING"),
    ]
    assert {e["item"]["id"] for e in feed[2:]} == set(recorded["feedbackIds"])
    assert all(e["status"] == "NEW" and e["source"] == "INTERVIEW" for e in feed[2:])

    # A campaign without the exercise takes no interviews; someone outside it is refused.
    launch = await make_campaign(app)
    assert await code_of(client, record, headers, {"id": str(launch.id), "input": {"answers": answers}}) == (
        "CONFLICT"
    )
    outsider = bearer(token_for(app, await make_person(app, role="manager")))
    assert await code_of(
        client, record, outsider, {"id": str(campaign.id), "input": {"answers": answers}}
    ) == ("FORBIDDEN")


# --- DataLoaders: statements per page ------------------------------------------------------------

CAMPAIGNS_PAGE = (
    "query($first: Int!) { campaigns(first: $first) { edges { node { name"
    " brief { version product { key } } product { key name } createdBy { email } } } } }"
)
CHECKS_PAGE = (
    "query($first: Int!) { checks(first: $first) { edges { node { status"
    " person { email department { key } } campaign { name product { key } } gradedBy { email } } } } }"
)


async def test_statements_per_page_of_campaigns_and_checks_do_not_grow_with_its_size(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    author = await make_person(app, role="editor")
    reviewer = await make_person(app, role="manager")
    grader = await make_person(app, role="editor")
    department = await make_department(app)
    products = [await make_product(app, name=f"製品 {i}") for i in range(5)]
    briefs = [
        await make_brief(app, author, product.key, status="published", reviewer=reviewer)
        for product in products
    ]
    people = [
        await make_person(app, department_key=department.key, display_name=f"社員 {i}") for i in range(50)
    ]
    campaigns = [
        await make_campaign(app, brief=briefs[i % 5], name=f"キャンペーン {i}", roles=["employee"])
        for i in range(50)
    ]
    # Every employee is in every campaign: one check each, in a different campaign, half graded.
    async with app.state.sessionmaker() as session:
        for i, person in enumerate(people):
            check = await campaigns_service.submit_check(
                session, principal_of(person), campaigns[i].id, CheckCreate.model_validate(GUT_CHECK)
            )
            if i % 2 == 0:
                await campaigns_service.grade_check(
                    session, principal_of(grader), check.id, Grade(result="passed")
                )
    headers = bearer(token_for(app, await make_person(app, role="admin")))
    await notices_settled(app)
    await gql(client, CAMPAIGNS_PAGE, headers, {"first": 50})  # warm the pool and the caller

    counts: dict[str, dict[int, int]] = {"campaigns": {}, "checks": {}}
    for query, root in ((CAMPAIGNS_PAGE, "campaigns"), (CHECKS_PAGE, "checks")):
        for first in (5, 50):
            async with counting_statements(app) as statements:
                status, body = await gql(client, query, headers, {"first": first})
            assert status == 200
            assert "errors" not in body, body
            nodes = [edge["node"] for edge in body["data"][root]["edges"]]
            assert len(nodes) == first
            if root == "campaigns":
                assert all(n["product"]["key"] == n["brief"]["product"]["key"] for n in nodes)
                assert all(n["brief"]["version"] == 1 and n["createdBy"]["email"] for n in nodes)
            else:
                assert all(n["person"]["department"]["key"] == department.key for n in nodes)
                assert all(n["campaign"]["product"]["key"] in {p.key for p in products} for n in nodes)
                assert [bool(n["gradedBy"]) for n in nodes] == [i % 2 == 0 for i in range(first)]
            counts[root][first] = len(statements)

    print(f"SQL statements per page: {counts}")
    for root, by_size in counts.items():
        assert by_size[5] == by_size[50], f"statements per page of {root} grew with its size: {by_size}"


async def test_an_employee_never_reads_another_employees_answers(
    app: FastAPI, client: httpx.AsyncClient, callers: Callers
) -> None:
    campaign = await make_campaign(app, roles=["employee"])
    other = await make_person(app)  # another department, no manager
    async with app.state.sessionmaker() as session:
        ack, _ = await campaigns_service.acknowledge(session, principal_of(other), campaign.id)
        check = await campaigns_service.submit_check(
            session, principal_of(other), campaign.id, CheckCreate.model_validate(GUT_CHECK)
        )
    employee, manager = callers.headers("employee"), callers.headers("manager")
    for query in (
        f'{{ acknowledgement(id: "{ack.id}") {{ id }} }}',
        f'{{ check(id: "{check.id}") {{ id }} }}',
    ):
        assert await code_of(client, query, employee) == "NOT_FOUND"
        assert await code_of(client, query, manager) == "NOT_FOUND"  # not their department
        assert await code_of(client, query, callers.headers("svc_people")) == "NOT_FOUND"
        _, body = await gql(client, query, callers.headers("editor"))
        assert "errors" not in body, body
    listing = f'{{ checks(campaignId: "{campaign.id}") {{ edges {{ node {{ id }} }} }} }}'
    assert (await data(client, listing, employee))["checks"]["edges"] == []
    assert (await data(client, listing, manager))["checks"]["edges"] == []
    # Nested: a check's person is the directory's business, the check itself the reviewer's.
    _, body = await gql(client, '{ check(id: "00000000-0000-4000-8000-000000000001") { id } }', employee)
    assert error_codes(body) == ["NOT_FOUND"]


# The intranet home (bench/reads/run.py HOME_QUERY): the caller's feed, campaigns with the brief
# to acknowledge and open checks with their campaign, in one request.
HOME = (
    "{ me { id department { key } }"
    " myFeed(limit: 20) { __typename ... on CampaignStep { title state acknowledged checkStatus } }"
    " campaigns(first: 20, status: ACTIVE) { edges { node { id name brief { id title } } } }"
    " checks(first: 5, status: SUBMITTED) { edges { node { id campaign { id name } } } } }"
)


async def test_the_intranet_home_costs_the_same_statements_for_two_campaigns_as_for_six(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    author = await make_person(app, role="editor")
    both, one = await make_department(app), await make_department(app)
    briefs = [
        await make_brief(app, author, (await make_product(app)).key, status="published") for _ in range(6)
    ]
    # `few` is in two campaigns, `many` in six; each has a check waiting in every one of them.
    few = await make_person(app, department_key=both.key, display_name="社員 少")
    many = await make_person(app, department_key=one.key, display_name="社員 多")
    campaigns = [
        await make_campaign(
            app,
            brief=briefs[i],
            name=f"キャンペーン {i}",
            departments=[one.key, both.key] if i < 2 else [one.key],
        )
        for i in range(6)
    ]
    async with app.state.sessionmaker() as session:
        for person, count in ((few, 2), (many, 6)):
            for campaign in campaigns[:count]:
                await campaigns_service.submit_check(
                    session, principal_of(person), campaign.id, CheckCreate.model_validate(GUT_CHECK)
                )
    await notices_settled(app)

    counts = {}
    for person, count in ((few, 2), (many, 6)):
        headers = bearer(token_for(app, person))
        await gql(client, HOME, headers)  # the caller cached
        tries = []
        for _ in range(3):  # the fewest of three: a change notice in flight may drop the cached caller
            async with counting_statements(app) as statements:
                status, body = await gql(client, HOME, headers)
            assert status == 200 and "errors" not in body, body
            tries.append(len(statements))
        home = body["data"]
        assert len(home["campaigns"]["edges"]) == count
        assert all(e["node"]["brief"]["title"] for e in home["campaigns"]["edges"])
        names = {e["node"]["name"] for e in home["campaigns"]["edges"]}
        assert {e["node"]["campaign"]["name"] for e in home["checks"]["edges"]} <= names
        assert {e["title"] for e in home["myFeed"]} == {"全社説明会"}
        counts[count] = min(tries)
    print(f"SQL statements of the intranet home: {counts}")
    assert counts[2] == counts[6], counts
    # 15 today: a check's campaign comes with the page of campaigns (no statement of its own); the
    # feed's steps cost 3 (memberships, current versions, acknowledgements and checks in one).
    assert counts[6] <= 15, counts
