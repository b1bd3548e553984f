"""GraphQL authorization matrix rows for campaigns (merged via tests/campaigns/matrix_rows.py).

Each template runs for every caller in turn (anonymous, employee, manager, editor, admin,
svc_pitch, svc_people) against the same objects: `campaign_id` is a running campaign for everyone
(a briefing `step_id` that took place, the interview exercise), so every human caller answers it
for themselves; its answers
(`acknowledgement_id`, `check_id`) belong to another employee, whom only editors and admins review.
State-changing rows say what the second writer finds: the editor (before the admin in the caller
order) activates, completes, cancels or grades, and the admin then gets CONFLICT.
"""

from __future__ import annotations

import uuid
from typing import Any

from service.briefs import service as briefs_service
from tests.campaigns.helpers import make_campaign
from tests.factories import OPERATOR
from tests.matrix import ANY

NOBODY = "UNAUTHENTICATED"
SERVICES_REFUSED = {"svc_pitch": "FORBIDDEN", "svc_people": "FORBIDDEN"}
PEOPLE = {ANY: "ok", "anonymous": NOBODY, **SERVICES_REFUSED}
REVIEWERS = {**PEOPLE, "employee": "FORBIDDEN"}
# Another employee's answers: told they do not exist unless you review that person.
OTHERS_ANSWERS = {
    ANY: "ok",
    "anonymous": NOBODY,
    "employee": "NOT_FOUND",
    "manager": "NOT_FOUND",
    "svc_pitch": "NOT_FOUND",
    "svc_people": "NOT_FOUND",
}
RUNS_CAMPAIGNS = {ANY: "FORBIDDEN", "editor": "ok", "admin": "ok", "anonymous": NOBODY}
SECOND_RUNNER_CONFLICTS = {**RUNS_CAMPAIGNS, "admin": "CONFLICT"}

GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {
    "campaigns": (
        "{ campaigns(first: 2) { edges { node { name brief { version } product { key } } } } }",
        PEOPLE,
    ),
    "campaign": (
        '{ campaign(id: "%(campaign_id)s") { name etag brief { version } product { key } } }',
        PEOPLE,
    ),
    "campaignEnrollments": (
        '{ campaignEnrollments(campaignId: "%(campaign_id)s", first: 2) { edges { node { enrolledAt'
        " person { email } campaign { name } } } } }",
        REVIEWERS,
    ),
    "campaignReadiness": (
        '{ campaignReadiness(campaignId: "%(campaign_id)s") { audience acknowledged passed overdue'
        " departments { department audience } } }",
        REVIEWERS,
    ),
    "readiness": (
        "{ readiness { question audience passed share products { productKey share } } }",
        REVIEWERS,
    ),
    "checks": (
        "{ checks(first: 2) { edges { node { status person { email } campaign { name } gradedBy { email } } } } }",
        PEOPLE,
    ),
    "check": ('{ check(id: "%(check_id)s") { status person { email } campaign { name } } }', OTHERS_ANSWERS),
    "acknowledgement": (
        '{ acknowledgement(id: "%(acknowledgement_id)s") { version person { email } campaign { name } } }',
        OTHERS_ANSWERS,
    ),
    "myFeed": (
        "{ myFeed { __typename ... on CampaignStep { title state campaign { name } }"
        " ... on FeedbackLoop { status item { id } } } }",
        PEOPLE,
    ),
    "createCampaign": (
        'mutation { createCampaign(input: {briefId: "%(brief_id)s", name: "リマインド", kind: REINFORCEMENT,'
        " audience: {roles: [EMPLOYEE, MANAGER]},"
        ' steps: [{channel: CHAT, title: "週次リマインド", at: "2030-01-07T09:00:00+09:00"}]}) { status } }',
        RUNS_CAMPAIGNS,
    ),
    # Everyone is in its audience, so employees see the campaign but may not change it.
    "updateCampaign": (
        'mutation { updateCampaign(id: "%(campaign_id)s", input: {name: "改名 %(unique)s"}, ifMatch: "*")'
        " { name } }",
        RUNS_CAMPAIGNS,
    ),
    # A planned campaign has enrolled nobody yet: the employee cannot see it at all.
    "activateCampaign": (
        'mutation { activateCampaign(id: "%(planned_campaign_id)s") { status } }',
        {**SECOND_RUNNER_CONFLICTS, "employee": "NOT_FOUND"},
    ),
    "completeCampaign": (
        'mutation { completeCampaign(id: "%(campaign_id)s") { status } }',
        SECOND_RUNNER_CONFLICTS,
    ),
    "cancelCampaign": (
        'mutation { cancelCampaign(id: "%(campaign_id)s") { status } }',
        SECOND_RUNNER_CONFLICTS,
    ),
    # Idempotent: each person acknowledges for themselves, as often as they like.
    "acknowledgeCampaign": (
        'mutation { acknowledgeCampaign(campaignId: "%(campaign_id)s") { created acknowledgement { version } } }',
        PEOPLE,
    ),
    # Each person confirms attending the briefing for themselves, as often as they like.
    "confirmAttendance": (
        'mutation { confirmAttendance(campaignId: "%(campaign_id)s", stepId: "%(step_id)s")'
        " { created attendance { stepId person { email } campaign { name } } } }",
        PEOPLE,
    ),
    "submitCheck": (
        'mutation { submitCheck(campaignId: "%(campaign_id)s", input: {answers: {whoChanges: "経理担当者",'
        ' nextAction: "無料トライアル", whatWeGiveUp: "手書きの請求書"},'
        ' pitchInOwnWords: "請求書の入力が週3時間減ります。"}) { status } }',
        PEOPLE,
    ),
    "gradeCheck": (
        'mutation { gradeCheck(id: "%(check_id)s", input: {result: PASSED}) { status gradedBy { email } } }',
        {**OTHERS_ANSWERS, "admin": "CONFLICT"},  # the editor graded it first
    ),
    "recordInterview": (
        'mutation { recordInterview(campaignId: "%(campaign_id)s",'
        ' input: {answers: {whyChoseUs: "導入が一番早かった"}}) { feedbackIds } }',
        PEOPLE,
    ),
}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """A planned campaign for the published brief (to activate)."""
    async with app.state.sessionmaker() as session:
        brief = await briefs_service.get_brief(session, OPERATOR, uuid.UUID(ctx["brief_id"]))
    planned = await make_campaign(app, brief=brief, status="planned")
    return {"planned_campaign_id": str(planned.id)}
