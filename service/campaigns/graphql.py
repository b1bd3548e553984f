"""GraphQL types, queries and mutations for campaigns, enrollments, acknowledgements and checks.
Readiness is in readiness_graphql.py, the caller's feed in service/feed/graphql.py."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import ID

from service import graphql_kit as gql
from service.auth.principal import Role
from service.briefs.graphql import BriefType
from service.campaigns import readiness as readiness_service
from service.campaigns import schemas
from service.campaigns import service as campaigns_service
from service.feedback.graphql import FeedbackItemType
from service.people.graphql import PersonType
from service.products.graphql import ProductType


@gql.view(schemas.AudienceRead, name="CampaignAudience")
class AudienceType:
    """Department keys and roles; an empty list matches everyone."""

    roles: list[Role]


@gql.view(schemas.StepRead, name="CampaignPlanStep")
class PlanStepType:
    """One planned campaign step: `at` (launch, reinforcement) or `dayOffset` days after each new
    hire's start date (onboarding)."""


CampaignPersonType = gql.view_type(schemas.CampaignPerson, "CampaignPerson", exclude={"id", "created_at"})


@gql.view(
    schemas.CampaignRead, name="Campaign", exclude={"product_id"}, by_id=campaigns_service.campaigns_by_ids
)
class CampaignType:
    """A rollout of a brief: who it speaks to, and its steps."""

    current_brief_id: ID | None = strawberry.field(
        description="The brief's published version, if any: the one people acknowledge and explain."
    )
    brief: BriefType | None = gql.loaded(
        "current_brief_id", "The brief's current (published) version, when there is one the caller may see."
    )
    product: ProductType | None = gql.loaded("product_id", "The product the campaign's brief is about.")
    created_by: PersonType | None = gql.loaded(
        "created_by_id", "Who planned it, when the caller may see the directory."
    )
    people = gql.query(
        readiness_service.campaign_people,
        "Who is behind, as `campaignReadiness` counts them (its callers; managers: their department).",
        parent="id",
    )


@gql.view(schemas.EnrollmentRead, name="Enrollment")
class EnrollmentType:
    """A person in a campaign's audience; `leftAt` is set once they no longer are."""

    person: PersonType | None = gql.loaded("person_id")
    campaign: CampaignType | None = gql.loaded("campaign_id")


@gql.view(schemas.AcknowledgementRead, name="Acknowledgement")
class AcknowledgementType:
    """“I have read it”: one per person and brief version."""

    person: PersonType | None = gql.loaded("person_id")
    campaign: CampaignType | None = gql.loaded("campaign_id")


@gql.view(schemas.AttendanceRead, name="Attendance")
class AttendanceType:
    """A person's confirmation that they attended a briefing step: one per campaign, step and person."""

    person: PersonType | None = gql.loaded("person_id")
    campaign: CampaignType | None = gql.loaded("campaign_id")


def _recorded(name: str, field: str, kind: type) -> Any:
    """`{field}` and `created`, the answer of an idempotent call: what it recorded or found."""
    fields = type(name, (), {"__annotations__": {field: kind, "created": bool}})
    description = f"The {field}, and whether this call recorded it (false: it was already there)."
    return strawberry.type(fields, name=name, description=description)


AcknowledgeResultType = _recorded("AcknowledgeResult", "acknowledgement", AcknowledgementType)
AttendanceResultType = _recorded("AttendanceResult", "attendance", AttendanceType)
CheckAnswersType = gql.view_type(
    schemas.GutCheckAnswers, "CheckAnswers", "The gut-check, answered in the person's own words."
)


@gql.view(schemas.CheckRead, name="Check")
class CheckType:
    """A comprehension check: the gut-check answered and the pitch in one's own words, graded by an
    editor or the person's manager."""

    etag: str = gql.etag_field(description=None)
    person: PersonType | None = gql.loaded("person_id", "Whose check it is.")
    campaign: CampaignType | None = gql.loaded("campaign_id")
    graded_by: PersonType | None = gql.loaded("graded_by_id", "Who graded it.")


@gql.view(schemas.InterviewRead, name="InterviewResult")
class InterviewResultType:
    """A recorded customer interview: one feedback item per answer."""

    feedback_items: list[FeedbackItemType] = gql.loaded(
        "feedback_ids", "The feedback items the answers became, in the same order.", many=True
    )


CampaignAudienceInput = gql.input_type(
    schemas.Audience, "CampaignAudienceInput", "Department keys and roles; an empty list matches everyone."
)


@gql.input_of(schemas.Step, name="CampaignStepInput", undescribed="message_id exercise")
class CampaignStepInput:
    """One campaign step: `at` for launch and reinforcement, `dayOffset` (days from the hire date,
    0 = the first day) for onboarding — exactly one of them."""


CampaignInput = gql.input_type(schemas.CampaignCreate, "CampaignInput")
CampaignPatch = gql.input_type(
    schemas.CampaignUpdate,
    "CampaignPatch",
    "Fields to change (the kind and brief stay); omitted fields stay. A new audience on an "
    "active campaign enrolls whoever now matches and lets go of whoever no longer does.",
    patch=True,
)
CheckAnswersInput = gql.input_type(schemas.GutCheckAnswers, "CheckAnswersInput")
CheckInput = gql.input_type(
    schemas.CheckCreate, "CheckInput", "The three gut-check answers and the pitch, in your own words."
)
GradeInput = gql.input_type(
    schemas.Grade, "GradeInput", "`NEEDS_WORK` needs a comment: it is what the person reads next."
)
InterviewAnswersInput = gql.input_type(
    schemas.InterviewAnswers, "InterviewAnswersInput", "Answer at least one of the three questions."
)


@gql.input_of(schemas.InterviewCreate, name="InterviewInput", fields="answers customer interviewed_on")
class InterviewInput:
    """A customer interview from the onboarding exercise; each answer becomes a feedback item
    (source INTERVIEW) that you follow in your feed."""


@strawberry.type
class CampaignRoot:
    # Primed: the same caller's other `campaign` fields (a check's) read these, no query.
    campaigns = gql.query(
        campaigns_service.list_campaigns,
        "Campaigns, oldest first: every one for editors, managers, admins and `campaigns:read` "
        "integrations; the ones they are or were in for employees. `briefId` is any version of the brief.",
        prime=campaigns_service.campaigns_by_ids,
    )
    campaign = gql.query(
        campaigns_service.get_campaign, "One campaign (employees: only one they are or were in)."
    )

    campaign_enrollments = gql.query(
        campaigns_service.list_enrollments,
        "A campaign's audience, people who left included unless `current` (editors and admins; managers: "
        "their own department).",
        campaign_id=ID,
        current=(bool, False, "current_only"),
    )
    create_campaign = gql.mutation(
        campaigns_service.create_campaign,
        "Plan a campaign for a brief (status PLANNED; editors and admins). Every problem with the audience "
        "and steps comes back at once (BAD_USER_INPUT).",
    )
    update_campaign = gql.mutation(
        campaigns_service.update_campaign,
        "Change a planned or active campaign. `ifMatch` (the ETag) is required: missing → "
        "PRECONDITION_REQUIRED, stale → PRECONDITION_FAILED; a closed campaign → CONFLICT.",
    )
    activate_campaign = gql.mutation(
        campaigns_service.activate_campaign,
        "Start a planned campaign: every active person in its audience is enrolled (CONFLICT without "
        "steps or without a published brief version).",
    )
    complete_campaign = gql.mutation(
        campaigns_service.complete_campaign, "Close an active campaign (its readiness stays readable)."
    )
    cancel_campaign = gql.mutation(campaigns_service.cancel_campaign, "Cancel a planned or active campaign.")

    acknowledge_campaign = gql.mutation(
        campaigns_service.acknowledge,
        "Acknowledge the campaign's current brief version yourself. Idempotent: `created` is true the "
        "first time, then false with the same acknowledgement.",
        campaign_id=ID,
        result=AcknowledgeResultType,
    )
    confirm_attendance = gql.mutation(
        campaigns_service.confirm_attendance,
        "Confirm yourself that you attended a BRIEFING step of a campaign you are in, once it is due for "
        "you (CONFLICT before, for another channel, or a campaign not active; FORBIDDEN outside its "
        "audience; NOT_FOUND for a step it does not have). Idempotent: `created` is true the first time, "
        "then false with the same attendance.",
        campaign_id=ID,
        step_id=ID,
        result=AttendanceResultType,
    )

    submit_check = gql.mutation(
        campaigns_service.submit_check,
        "Answer the comprehension check yourself (CONFLICT while one waits for a grade or after you "
        "passed this version).",
        campaign_id=ID,
        input=CheckInput,
    )
    grade_check = gql.mutation(
        campaigns_service.grade_check,
        "Grade a submitted check: an editor, an admin or the person's manager; nobody grades their own "
        "(FORBIDDEN); an already graded check → CONFLICT.",
    )
    record_interview = gql.mutation(
        campaigns_service.record_interview,
        "The onboarding customer-interview exercise: each answer becomes a feedback item of source "
        "INTERVIEW that you follow in your feed.",
        campaign_id=ID,
        input=InterviewInput,
    )


@strawberry.type
class CheckQuery:
    checks = gql.query(
        campaigns_service.list_checks,
        "Checks the caller may read, oldest first: everyone's (editors, admins), their people's "
        "(managers), their own (employees); `status: SUBMITTED` is the grading queue.",
    )
    check = gql.query(
        campaigns_service.get_check, "One check: yours, or of someone you review (otherwise NOT_FOUND)."
    )
    acknowledgement = gql.query(
        campaigns_service.get_acknowledgement,
        "One acknowledgement: yours, or of someone you review (otherwise NOT_FOUND).",
    )
