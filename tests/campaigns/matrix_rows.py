"""Authorization matrix rows for campaigns (merged by tests/test_authorization_matrix.py).

The shared campaign speaks to everyone, so every human caller is in its audience; its answers
(`ack_id`, `check_id`) belong to another employee: callers who do not review that person are
told they do not exist (404).
"""

from __future__ import annotations

import uuid
from typing import Any

from service.campaigns import service as campaigns_service
from service.campaigns.schemas import CheckCreate
from service.people import service as people_service
from tests.campaigns import graphql_matrix_rows
from tests.campaigns.helpers import GUT_CHECK, make_campaign
from tests.factories import OPERATOR, make_person, principal_of, unique
from tests.matrix import Row, admin_only, authed

SERVICES_REFUSED = {"svc_pitch": 403, "svc_people": 403}
RUNS_CAMPAIGNS = {**admin_only(200), "editor": 200}
REVIEWERS_ONLY = authed(200, employee=403, **SERVICES_REFUSED)
OTHERS_ANSWERS = authed(200, employee=404, manager=404, svc_pitch=404, svc_people=404)


async def _planned(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    return {"campaign_id": str((await make_campaign(app, status="planned")).id)}


async def _running(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    return {"campaign_id": str((await make_campaign(app)).id)}


async def _submitted_check(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    """A fresh check to grade, by a new employee in the shared campaign's audience."""
    person = await make_person(app, display_name="受講 者")
    async with app.state.sessionmaker() as session:
        check = await campaigns_service.submit_check(
            session, principal_of(person), uuid.UUID(ctx["campaign_id"]), CheckCreate(**GUT_CHECK)
        )
    return {"check_id": str(check.id)}


ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/campaigns"): Row(authed(200, **SERVICES_REFUSED)),
    ("POST", "/api/v1/campaigns"): Row(
        {**admin_only(201), "editor": 201},
        body=lambda ctx: {
            "brief_id": ctx["brief_id"],
            "name": "リマインド",
            "kind": "reinforcement",
            "steps": [{"channel": "chat", "title": "週次リマインド", "at": "2030-01-07T09:00:00+09:00"}],
        },
    ),
    ("GET", "/api/v1/campaigns/{campaign_id}"): Row(authed(200, **SERVICES_REFUSED)),
    ("PATCH", "/api/v1/campaigns/{campaign_id}"): Row(
        {**RUNS_CAMPAIGNS, "employee": 403, "manager": 403},
        body=lambda ctx: {"name": f"改名 {unique('c')}"},
        headers={"If-Match": "*"},
    ),
    # A fresh planned campaign has enrolled nobody yet: the employee cannot see it at all.
    ("POST", "/api/v1/campaigns/{campaign_id}/activate"): Row(
        {**RUNS_CAMPAIGNS, "employee": 404}, prepare=_planned
    ),
    ("POST", "/api/v1/campaigns/{campaign_id}/complete"): Row(RUNS_CAMPAIGNS, prepare=_running),
    ("POST", "/api/v1/campaigns/{campaign_id}/cancel"): Row(RUNS_CAMPAIGNS, prepare=_running),
    ("GET", "/api/v1/campaigns/{campaign_id}/enrollments"): Row(REVIEWERS_ONLY),
    ("GET", "/api/v1/campaigns/{campaign_id}/readiness"): Row(REVIEWERS_ONLY),
    ("GET", "/api/v1/campaigns/{campaign_id}/people"): Row(REVIEWERS_ONLY),
    ("GET", "/api/v1/readiness"): Row(REVIEWERS_ONLY),
    ("POST", "/api/v1/campaigns/{campaign_id}/acknowledgements"): Row(authed(201, **SERVICES_REFUSED)),
    ("GET", "/api/v1/campaigns/{campaign_id}/acknowledgements"): Row(authed(200, **SERVICES_REFUSED)),
    # Each person confirms for themselves (the briefing took place): the first time 201.
    ("POST", "/api/v1/campaigns/{campaign_id}/steps/{step_id}/attendance"): Row(
        authed(201, **SERVICES_REFUSED)
    ),
    ("GET", "/api/v1/acknowledgements/{acknowledgement_id}"): Row(OTHERS_ANSWERS),
    ("POST", "/api/v1/campaigns/{campaign_id}/checks"): Row(
        authed(201, **SERVICES_REFUSED), body=lambda ctx: GUT_CHECK
    ),
    ("GET", "/api/v1/checks"): Row(authed(200, **SERVICES_REFUSED)),
    ("GET", "/api/v1/checks/{check_id}"): Row(OTHERS_ANSWERS),
    ("POST", "/api/v1/checks/{check_id}/grade"): Row(
        OTHERS_ANSWERS, body=lambda ctx: {"result": "passed"}, prepare=_submitted_check
    ),
    ("POST", "/api/v1/campaigns/{campaign_id}/interviews"): Row(
        authed(201, **SERVICES_REFUSED),
        body=lambda ctx: {"answers": {"why_chose_us": "導入が一番早かった"}},
    ),
}
GRAPHQL_ROWS = graphql_matrix_rows.GRAPHQL_ROWS


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """A running campaign for everyone (a briefing that took place, the interview exercise) and
    another employee's answers."""
    campaign = await make_campaign(
        app,
        steps=[
            {"channel": "briefing", "title": "全社説明会", "at": "2026-01-06T10:00:00+09:00"},
            {
                "channel": "training",
                "title": "顧客インタビュー",
                "at": "2030-01-08T10:00:00+09:00",
                "exercise": "customer_interview",
            },
        ],
    )
    async with app.state.sessionmaker() as session:
        target = await people_service.get_person(session, OPERATOR, uuid.UUID(ctx["person_id"]))
        ack, _ = await campaigns_service.acknowledge(session, principal_of(target), campaign.id)
        check = await campaigns_service.submit_check(
            session, principal_of(target), campaign.id, CheckCreate(**GUT_CHECK)
        )
    found = {
        "campaign_id": str(campaign.id),
        "step_id": str(campaign.steps[0].id),
        "acknowledgement_id": str(ack.id),
        "check_id": str(check.id),
    }
    return {**found, **await graphql_matrix_rows.context(app, {**ctx, **found})}
