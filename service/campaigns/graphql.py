"""GraphQL types, queries and mutations for campaigns, enrollments, acknowledgements and checks.

Readiness is in readiness_graphql.py, the caller's feed in service/feed/graphql.py. The types are
views of the service's read models (service.graphql_kit); nested fields (a campaign's brief and
product, whose check it is, who graded it) batch through the request's DataLoaders.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry import ID

from service.auth.principal import Role
from service.briefs import service as briefs_service
from service.briefs.graphql import BriefType
from service.campaigns import schemas
from service.campaigns import service as campaigns_service
from service.feedback import service as feedback_service
from service.feedback.graphql import CustomerInput, FeedbackItemType
from service.graphql_kit import (
    Connection,
    Info,
    etag_field,
    input_of,
    input_type,
    listing,
    load,
    load_all,
    mutation,
    page_args,
    query,
    run,
    to_uuid,
    view,
    view_type,
)
from service.people import service as people_service
from service.people.graphql import PersonType
from service.products import service as products_service
from service.products.graphql import ProductType


def campaign(root: Any, info: Info) -> CampaignType | None:
    """The campaign named by the parent's `campaign_id` (a nested `campaign` field)."""
    return load(info, campaigns_service.campaigns_by_ids, root.campaign_id)


def person(root: Any, info: Info) -> PersonType | None:
    return load(info, people_service.people_by_ids, root.person_id)


# --- campaigns -----------------------------------------------------------------------------------


@view(
    schemas.AudienceRead,
    name="CampaignAudience",
    description="Department keys and roles; an empty list matches everyone.",
)
class AudienceType:
    roles: list[Role]


PlanStepType = view_type(
    schemas.StepRead,
    "CampaignPlanStep",
    description="One planned campaign step: `at` (launch, reinforcement) or `dayOffset` days after each "
    "new hire's start date (onboarding).",
)


@view(
    schemas.CampaignRead,
    name="Campaign",
    description="A rollout of a brief: who it speaks to, and its steps.",
    exclude={"product_id", "revision"},
)
class CampaignType:
    current_brief_id: ID | None = strawberry.field(
        description="The brief's published version, if any: the one people acknowledge and explain."
    )
    etag: str = etag_field()

    @strawberry.field(
        description="The brief's current (published) version, when there is one the caller may see."
    )
    def brief(root: strawberry.Parent[schemas.CampaignRead], info: Info) -> BriefType | None:
        return load(info, briefs_service.briefs_by_ids, root.current_brief_id)

    @strawberry.field(description="The product the campaign's brief is about.")
    def product(root: strawberry.Parent[schemas.CampaignRead], info: Info) -> ProductType | None:
        return load(info, products_service.products_by_ids, root.product_id)

    @strawberry.field(description="Who planned it, when the caller may see the directory.")
    def created_by(root: strawberry.Parent[schemas.CampaignRead], info: Info) -> PersonType | None:
        return load(info, people_service.people_by_ids, root.created_by_id)


@view(
    schemas.EnrollmentRead,
    name="Enrollment",
    description="A person in a campaign's audience; `leftAt` is set once they no longer are.",
)
class EnrollmentType:
    person: PersonType | None = strawberry.field(resolver=person)
    campaign: CampaignType | None = strawberry.field(resolver=campaign)


# --- acknowledgements and checks -------------------------------------------------------------------


@view(
    schemas.AcknowledgementRead,
    name="Acknowledgement",
    description="“I have read it”: one per person and brief version.",
)
class AcknowledgementType:
    person: PersonType | None = strawberry.field(resolver=person)
    campaign: CampaignType | None = strawberry.field(resolver=campaign)


@strawberry.type(
    name="AcknowledgeResult",
    description="The acknowledgement, and whether this call recorded it (false: it was already there).",
)
class AcknowledgeResultType:
    acknowledgement: AcknowledgementType
    created: bool


CheckAnswersType = view_type(
    schemas.GutCheckAnswers,
    name="CheckAnswers",
    description="The gut-check, answered in the person's own words.",
)


@view(
    schemas.CheckRead,
    name="Check",
    description="A comprehension check: the gut-check answered and the pitch in one's own words, graded "
    "by an editor or the person's manager.",
    exclude={"revision"},
)
class CheckType:
    etag: str = etag_field(description=None)  # type: ignore[arg-type]  # None: no description; graphql_kit types it str
    person: PersonType | None = strawberry.field(resolver=person, description="Whose check it is.")
    campaign: CampaignType | None = strawberry.field(resolver=campaign)

    @strawberry.field(description="Who graded it.")
    def graded_by(root: strawberry.Parent[schemas.CheckRead], info: Info) -> PersonType | None:
        return load(info, people_service.people_by_ids, root.graded_by_id)


@view(
    schemas.InterviewRead,
    name="InterviewResult",
    description="A recorded customer interview: one feedback item per answer.",
)
class InterviewResultType:
    @strawberry.field(description="The feedback items the answers became, in the same order.")
    def feedback_items(root: strawberry.Parent[schemas.InterviewRead], info: Info) -> list[FeedbackItemType]:
        return load_all(info, feedback_service.feedback_by_ids, root.feedback_ids)


# --- inputs ----------------------------------------------------------------------------------------

CampaignAudienceInput = input_type(
    schemas.Audience,
    "CampaignAudienceInput",
    description="Department keys and roles; an empty list matches everyone.",
)


@input_of(
    schemas.Step,
    name="CampaignStepInput",
    description="One campaign step: `at` for launch and reinforcement, `dayOffset` (days from the hire "
    "date, 0 = the first day) for onboarding — exactly one of them.",
)
class CampaignStepInput:
    # Declared, so undescribed here (REST describes them): the GraphQL contract stays as it is.
    message_id: ID | None = None
    at: dt.datetime | None = None
    exercise: schemas.CampaignExercise | None = None


@input_of(schemas.CampaignCreate, name="CampaignInput")
class CampaignInput:
    audience: CampaignAudienceInput | None = None


CampaignPatch = input_type(
    schemas.CampaignUpdate,
    "CampaignPatch",
    patch=True,
    description="Fields to change (the kind and brief stay); omitted fields stay. A new audience on an "
    "active campaign enrolls whoever now matches and lets go of whoever no longer does.",
)
CheckAnswersInput = input_type(schemas.GutCheckAnswers, "CheckAnswersInput")
CheckInput = input_type(
    schemas.CheckCreate,
    "CheckInput",
    description="The three gut-check answers and the pitch, in your own words.",
)
GradeInput = input_type(
    schemas.Grade, "GradeInput", description="`NEEDS_WORK` needs a comment: it is what the person reads next."
)
InterviewAnswersInput = input_type(
    schemas.InterviewAnswers,
    "InterviewAnswersInput",
    description="Answer at least one of the three questions.",
)


@input_of(
    schemas.InterviewCreate,
    name="InterviewInput",
    fields="answers customer interviewed_on",
    description="A customer interview from the onboarding exercise; each answer becomes a feedback item "
    "(source INTERVIEW) that you follow in your feed.",
)
class InterviewInput:
    customer: CustomerInput | None = None


# --- queries and mutations -------------------------------------------------------------------------


@strawberry.type
class CampaignQuery:
    # Primed: the same caller's other `campaign` fields (a check's) read these, no query.
    campaigns = listing(
        campaigns_service.list_campaigns,
        "Campaigns, oldest first: every one for editors, managers, admins and `campaigns:read` "
        "integrations; the ones they are or were in for employees. `briefId` is any version of the brief.",
        status=schemas.CampaignStatus | None,
        kind=schemas.CampaignKind | None,
        brief_id=ID | None,
        prime=campaigns_service.campaigns_by_ids,
    )
    campaign = query(
        campaigns_service.get_campaign, "One campaign (employees: only one they are or were in).", id=ID
    )

    @strawberry.field(
        description="A campaign's audience, people who left included unless `current` (editors and "
        "admins; managers: their own department)."
    )
    async def campaign_enrollments(
        self, info: Info, campaign_id: ID, first: int = 50, after: str | None = None, current: bool = False
    ) -> Connection[EnrollmentType]:
        campaign = to_uuid(campaign_id, "campaignId")
        page = page_args(first, after)
        return Connection.of(
            await run(info, campaigns_service.list_enrollments, campaign, page, current_only=current)
        )


@strawberry.type
class CheckQuery:
    checks = listing(
        campaigns_service.list_checks,
        "Checks the caller may read, oldest first: everyone's (editors, admins), their people's "
        "(managers), their own (employees); `status: SUBMITTED` is the grading queue.",
        campaign_id=ID | None,
        status=schemas.CheckStatus | None,
    )
    check = query(
        campaigns_service.get_check,
        "One check: yours, or of someone you review (otherwise NOT_FOUND).",
        id=ID,
    )
    acknowledgement = query(
        campaigns_service.get_acknowledgement,
        "One acknowledgement: yours, or of someone you review (otherwise NOT_FOUND).",
        id=ID,
    )


@strawberry.type
class CampaignMutation:
    create_campaign = mutation(
        campaigns_service.create_campaign,
        "Plan a campaign for a brief (status PLANNED; editors and admins). Every problem with the audience "
        "and steps comes back at once (BAD_USER_INPUT).",
        input=CampaignInput,
    )
    update_campaign = mutation(
        campaigns_service.update_campaign,
        "Change a planned or active campaign. `ifMatch` (the ETag) is required: missing → "
        "PRECONDITION_REQUIRED, stale → PRECONDITION_FAILED; a closed campaign → CONFLICT.",
        id=ID,
        input=CampaignPatch,
        if_match=str | None,
    )
    activate_campaign = mutation(
        campaigns_service.activate_campaign,
        "Start a planned campaign: every active person in its audience is enrolled (CONFLICT without "
        "steps or without a published brief version).",
        id=ID,
    )
    complete_campaign = mutation(
        campaigns_service.complete_campaign, "Close an active campaign (its readiness stays readable).", id=ID
    )
    cancel_campaign = mutation(
        campaigns_service.cancel_campaign, "Cancel a planned or active campaign.", id=ID
    )

    @strawberry.mutation(
        description="Acknowledge the campaign's current brief version yourself. Idempotent: `created` is "
        "true the first time, then false with the same acknowledgement."
    )
    async def acknowledge_campaign(self, info: Info, campaign_id: ID) -> AcknowledgeResultType:
        ack, created = await run(info, campaigns_service.acknowledge, to_uuid(campaign_id, "campaignId"))
        return AcknowledgeResultType(acknowledgement=ack, created=created)

    submit_check = mutation(
        campaigns_service.submit_check,
        "Answer the comprehension check yourself (CONFLICT while one waits for a grade or after you "
        "passed this version).",
        campaign_id=ID,
        input=CheckInput,
    )
    grade_check = mutation(
        campaigns_service.grade_check,
        "Grade a submitted check: an editor, an admin or the person's manager; nobody grades their own "
        "(FORBIDDEN); an already graded check → CONFLICT.",
        id=ID,
        input=GradeInput,
    )
    record_interview = mutation(
        campaigns_service.record_interview,
        "The onboarding customer-interview exercise: each answer becomes a feedback item of source "
        "INTERVIEW that you follow in your feed.",
        campaign_id=ID,
        input=InterviewInput,
    )
