"""GraphQL types, queries and mutations for campaigns, enrollments, acknowledgements and checks.

Readiness is in readiness_graphql.py, the caller's feed in service/feed/graphql.py. The types are
views of the service's read models (service.graphql_kit); nested fields (a campaign's brief and
product, whose check it is, who graded it) batch through the request's DataLoaders.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import strawberry

from service.auth.principal import Role
from service.briefs import service as briefs_service
from service.briefs.graphql import BriefType
from service.campaigns import schemas
from service.campaigns import service as campaigns_service
from service.campaigns.schemas import (
    AcknowledgementRead,
    Audience,
    AudienceRead,
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    CheckCreate,
    CheckRead,
    EnrollmentRead,
    Grade,
    GutCheckAnswers,
    InterviewAnswers,
    InterviewCreate,
    InterviewRead,
    Step,
    StepRead,
)
from service.feedback import service as feedback_service
from service.feedback.graphql import CustomerInput, FeedbackItemType
from service.graphql_kit import (
    Connection,
    Info,
    etag_field,
    input_of,
    input_type,
    load,
    load_all,
    page_args,
    paged,
    parse,
    plain,
    run,
    to_uuid,
    view,
    view_type,
)
from service.people import service as people_service
from service.people.graphql import PersonType
from service.products import service as products_service
from service.products.graphql import ProductType


def graphql_enum(values: type[StrEnum]) -> Any:
    """The domain's value set as the GraphQL enum of the same name, its docstring (on one line)
    the description."""
    return strawberry.enum(values, name=values.__name__, description=" ".join((values.__doc__ or "").split()))


CampaignKind = graphql_enum(schemas.CampaignKind)
CampaignStatus = graphql_enum(schemas.CampaignStatus)
CampaignChannel = graphql_enum(schemas.CampaignChannel)
CampaignExercise = graphql_enum(schemas.CampaignExercise)
CheckStatus = graphql_enum(schemas.CheckStatus)
GradeResult = graphql_enum(schemas.GradeResult)
StepState = graphql_enum(schemas.StepState)


def campaign(root: Any, info: Info) -> CampaignType | None:
    """The campaign named by the parent's `campaign_id` (a nested `campaign` field)."""
    return load(info, campaigns_service.campaigns_by_ids, root.campaign_id)


def person(root: Any, info: Info) -> PersonType | None:
    return load(info, people_service.people_by_ids, root.person_id)


# --- campaigns -----------------------------------------------------------------------------------


@view(
    AudienceRead,
    name="CampaignAudience",
    description="Department keys and roles; an empty list matches everyone.",
)
class AudienceType:
    roles: list[Role]


@view(
    StepRead,
    name="CampaignPlanStep",
    description="One planned campaign step: `at` (launch, reinforcement) or `dayOffset` days after each "
    "new hire's start date (onboarding).",
)
class PlanStepType:
    pass


@view(
    CampaignRead,
    name="Campaign",
    description="A rollout of a brief: who it speaks to, and its steps.",
    exclude={"product_id", "revision"},
)
class CampaignType:
    brief_id: strawberry.ID = strawberry.field(description="The brief version it was created for.")
    current_brief_id: strawberry.ID | None = strawberry.field(
        description="The brief's published version, if any: the one people acknowledge and explain."
    )
    etag: str = etag_field()

    @strawberry.field(
        description="The brief's current (published) version, when there is one the caller may see."
    )
    def brief(root: strawberry.Parent[CampaignRead], info: Info) -> BriefType | None:
        return load(info, briefs_service.briefs_by_ids, root.current_brief_id)

    @strawberry.field(description="The product the campaign's brief is about.")
    def product(root: strawberry.Parent[CampaignRead], info: Info) -> ProductType | None:
        return load(info, products_service.products_by_ids, root.product_id)

    @strawberry.field(description="Who planned it, when the caller may see the directory.")
    def created_by(root: strawberry.Parent[CampaignRead], info: Info) -> PersonType | None:
        return load(info, people_service.people_by_ids, root.created_by_id)


@view(
    EnrollmentRead,
    name="Enrollment",
    description="A person in a campaign's audience; `leftAt` is set once they no longer are.",
)
class EnrollmentType:
    anchor_date: dt.date | None = strawberry.field(
        description="Onboarding: the hire date the steps count from."
    )
    person: PersonType | None = strawberry.field(resolver=person)
    campaign: CampaignType | None = strawberry.field(resolver=campaign)


# --- acknowledgements and checks -------------------------------------------------------------------


@view(
    AcknowledgementRead,
    name="Acknowledgement",
    description="“I have read it”: one per person and brief version.",
)
class AcknowledgementType:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign it was given through.")
    brief_id: strawberry.ID = strawberry.field(description="The brief version acknowledged.")
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
    GutCheckAnswers, name="CheckAnswers", description="The gut-check, answered in the person's own words."
)


@view(
    CheckRead,
    name="Check",
    description="A comprehension check: the gut-check answered and the pitch in one's own words, graded "
    "by an editor or the person's manager.",
    exclude={"revision"},
)
class CheckType:
    brief_id: strawberry.ID = strawberry.field(description="The brief version the check was answered for.")
    etag: str = etag_field(description=None)  # type: ignore[arg-type]  # None: no description; graphql_kit types it str
    person: PersonType | None = strawberry.field(resolver=person, description="Whose check it is.")
    campaign: CampaignType | None = strawberry.field(resolver=campaign)

    @strawberry.field(description="Who graded it.")
    def graded_by(root: strawberry.Parent[CheckRead], info: Info) -> PersonType | None:
        return load(info, people_service.people_by_ids, root.graded_by_id)


@view(
    InterviewRead,
    name="InterviewResult",
    description="A recorded customer interview: one feedback item per answer.",
)
class InterviewResultType:
    @strawberry.field(description="The feedback items the answers became, in the same order.")
    def feedback_items(root: strawberry.Parent[InterviewRead], info: Info) -> list[FeedbackItemType]:
        return load_all(info, feedback_service.feedback_by_ids, root.feedback_ids)


# --- inputs ----------------------------------------------------------------------------------------

CampaignAudienceInput = input_type(
    Audience,
    "CampaignAudienceInput",
    description="Department keys and roles; an empty list matches everyone.",
)


@input_of(
    Step,
    name="CampaignStepInput",
    description="One campaign step: `at` for launch and reinforcement, `dayOffset` (days from the hire "
    "date, 0 = the first day) for onboarding — exactly one of them.",
)
class CampaignStepInput:
    at: dt.datetime | None = None


@input_of(CampaignCreate, name="CampaignInput")
class CampaignInput:
    brief_id: strawberry.ID = strawberry.field(
        description="Any version of the brief; the campaign follows its current one."
    )
    audience: CampaignAudienceInput | None = None


CampaignPatch = input_type(
    CampaignUpdate,
    "CampaignPatch",
    patch=True,
    description="Fields to change (the kind and brief stay); omitted fields stay. A new audience on an "
    "active campaign enrolls whoever now matches and lets go of whoever no longer does.",
)
CheckAnswersInput = input_type(GutCheckAnswers, "CheckAnswersInput")
CheckInput = input_type(
    CheckCreate, "CheckInput", description="The three gut-check answers and the pitch, in your own words."
)
GradeInput = input_type(
    Grade, "GradeInput", description="`NEEDS_WORK` needs a comment: it is what the person reads next."
)
InterviewAnswersInput = input_type(
    InterviewAnswers, "InterviewAnswersInput", description="Answer at least one of the three questions."
)


@input_of(
    InterviewCreate,
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
    @strawberry.field(
        description="Campaigns, oldest first: every one for editors, managers, admins and "
        "`campaigns:read` integrations; the ones they are or were in for employees. `briefId` is any "
        "version of the brief."
    )
    async def campaigns(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        status: schemas.CampaignStatus | None = None,
        kind: schemas.CampaignKind | None = None,
        brief_id: strawberry.ID | None = None,
    ) -> Connection[CampaignType]:
        brief = to_uuid(brief_id, "briefId") if brief_id is not None else None
        page = await paged(
            info, campaigns_service.list_campaigns, first, after, status=status, kind=kind, brief_id=brief
        )
        # Same caller, same visibility: another field's `campaign` (a check's) reads these, no query.
        loader = info.context.loader(campaigns_service.campaigns_by_ids)
        loader.prime_many({edge.node.id: edge.node for edge in page.edges})
        return page

    @strawberry.field(description="One campaign (employees: only one they are or were in).")
    async def campaign(self, info: Info, id: strawberry.ID) -> CampaignType:
        return await run(info, campaigns_service.get_campaign, to_uuid(id))

    @strawberry.field(
        description="A campaign's audience, people who left included unless `current` (editors and "
        "admins; managers: their own department)."
    )
    async def campaign_enrollments(
        self,
        info: Info,
        campaign_id: strawberry.ID,
        first: int = 50,
        after: str | None = None,
        current: bool = False,
    ) -> Connection[EnrollmentType]:
        page = await run(
            info,
            campaigns_service.list_enrollments,
            to_uuid(campaign_id, "campaignId"),
            page_args(first, after),
            current_only=current,
        )
        return Connection.of(page)


@strawberry.type
class CheckQuery:
    @strawberry.field(
        description="Checks the caller may read, oldest first: everyone's (editors, admins), their "
        "people's (managers), their own (employees); `status: SUBMITTED` is the grading queue."
    )
    async def checks(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        campaign_id: strawberry.ID | None = None,
        status: schemas.CheckStatus | None = None,
    ) -> Connection[CheckType]:
        of_campaign = to_uuid(campaign_id, "campaignId") if campaign_id is not None else None
        return await paged(
            info, campaigns_service.list_checks, first, after, campaign_id=of_campaign, status=status
        )

    @strawberry.field(description="One check: yours, or of someone you review (otherwise NOT_FOUND).")
    async def check(self, info: Info, id: strawberry.ID) -> CheckType:
        return await run(info, campaigns_service.get_check, to_uuid(id))

    @strawberry.field(
        description="One acknowledgement: yours, or of someone you review (otherwise NOT_FOUND)."
    )
    async def acknowledgement(self, info: Info, id: strawberry.ID) -> AcknowledgementType:
        return await run(info, campaigns_service.get_acknowledgement, to_uuid(id))


def _campaign_data(input: CampaignInput | CampaignPatch) -> dict[str, Any]:
    data: dict[str, Any] = plain(input)
    if isinstance(input, CampaignInput) and data.get("audience") is None:
        data.pop("audience", None)  # on create, null is the same as absent: everyone
    return data


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(
        description="Plan a campaign for a brief (status PLANNED; editors and admins). Every problem with "
        "the audience and steps comes back at once (BAD_USER_INPUT)."
    )
    async def create_campaign(self, info: Info, input: CampaignInput) -> CampaignType:
        data = parse(info, CampaignCreate, _campaign_data(input))
        return await run(info, campaigns_service.create_campaign, data)

    @strawberry.mutation(
        description="Change a planned or active campaign. `ifMatch` (the ETag) is required: missing → "
        "PRECONDITION_REQUIRED, stale → PRECONDITION_FAILED; a closed campaign → CONFLICT."
    )
    async def update_campaign(
        self,
        info: Info,
        id: strawberry.ID,
        input: CampaignPatch,
        if_match: str | None = None,
    ) -> CampaignType:
        data = parse(info, CampaignUpdate, _campaign_data(input))
        return await run(info, campaigns_service.update_campaign, to_uuid(id), data, if_match=if_match)

    @strawberry.mutation(
        description="Start a planned campaign: every active person in its audience is enrolled "
        "(CONFLICT without steps or without a published brief version)."
    )
    async def activate_campaign(self, info: Info, id: strawberry.ID) -> CampaignType:
        return await run(info, campaigns_service.activate_campaign, to_uuid(id))

    @strawberry.mutation(description="Close an active campaign (its readiness stays readable).")
    async def complete_campaign(self, info: Info, id: strawberry.ID) -> CampaignType:
        return await run(info, campaigns_service.complete_campaign, to_uuid(id))

    @strawberry.mutation(description="Cancel a planned or active campaign.")
    async def cancel_campaign(self, info: Info, id: strawberry.ID) -> CampaignType:
        return await run(info, campaigns_service.cancel_campaign, to_uuid(id))

    @strawberry.mutation(
        description="Acknowledge the campaign's current brief version yourself. Idempotent: `created` is "
        "true the first time, then false with the same acknowledgement."
    )
    async def acknowledge_campaign(self, info: Info, campaign_id: strawberry.ID) -> AcknowledgeResultType:
        ack, created = await run(info, campaigns_service.acknowledge, to_uuid(campaign_id, "campaignId"))
        return AcknowledgeResultType(acknowledgement=ack, created=created)

    @strawberry.mutation(
        description="Answer the comprehension check yourself (CONFLICT while one waits for a grade or "
        "after you passed this version)."
    )
    async def submit_check(self, info: Info, campaign_id: strawberry.ID, input: CheckInput) -> CheckType:
        data = parse(info, CheckCreate, input)
        return await run(info, campaigns_service.submit_check, to_uuid(campaign_id, "campaignId"), data)

    @strawberry.mutation(
        description="Grade a submitted check: an editor, an admin or the person's manager; nobody grades "
        "their own (FORBIDDEN); an already graded check → CONFLICT."
    )
    async def grade_check(self, info: Info, id: strawberry.ID, input: GradeInput) -> CheckType:
        return await run(info, campaigns_service.grade_check, to_uuid(id), parse(info, Grade, input))

    @strawberry.mutation(
        description="The onboarding customer-interview exercise: each answer becomes a feedback item of "
        "source INTERVIEW that you follow in your feed."
    )
    async def record_interview(
        self, info: Info, campaign_id: strawberry.ID, input: InterviewInput
    ) -> InterviewResultType:
        data = parse(info, InterviewCreate, input)
        return await run(info, campaigns_service.record_interview, to_uuid(campaign_id, "campaignId"), data)
