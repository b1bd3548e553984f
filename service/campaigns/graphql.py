"""GraphQL types, queries and mutations for campaigns, enrollments, acknowledgements, checks,
readiness and the caller's feed.

The same service functions as REST decide permissions and validation (service/campaigns/service.py,
readiness.py, service/feed/service.py); nested fields (a campaign's brief and product, whose check
it is, who graded it, a feed step's campaign) batch through DataLoaders.

The feed is a union, `FeedEntry = CampaignStep | FeedbackLoop`, as REST's `kind`-discriminated
`FeedItem`: the two entries share only `at`, and a new kind of entry joins the union without
changing the others. Ask with fragments (`... on CampaignStep { title }`) and `__typename`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from enum import Enum
from typing import Annotated, Any

import strawberry
from pydantic import Field
from strawberry.types import Info

from service.api.graphql import Connection, Context, page_args, to_uuid, validate_input
from service.briefs.graphql import BriefType
from service.campaigns import readiness as readiness_service
from service.campaigns import schemas
from service.campaigns import service as campaigns_service
from service.campaigns.schemas import (
    AcknowledgementRead,
    AudienceRead,
    CampaignCreate,
    CampaignRead,
    CampaignReadiness,
    CampaignStepItem,
    CampaignUpdate,
    CheckCreate,
    CheckRead,
    DepartmentReadiness,
    DepartmentShare,
    EnrollmentRead,
    Grade,
    InterviewCreate,
    InterviewRead,
    OrganisationReadiness,
    ProductReadiness,
    StepRead,
)
from service.feed import service as feed_service
from service.feed.schemas import Announcement, FeedbackLoopItem, LoopStep
from service.feedback.graphql import CustomerInput, Decision, FeedbackItemType, FeedbackSource, LoopStage
from service.fields import InputModel
from service.pagination import MAX_LIMIT
from service.people.graphql import PersonType, Role
from service.products.graphql import ProductType


def _enum(values: type[Enum], name: str) -> Any:
    # The domain's value set is the GraphQL enum; its docstring, on one line, the description.
    return strawberry.enum(values, name=name, description=" ".join((values.__doc__ or "").split()))


CampaignKind = _enum(schemas.CampaignKind, "CampaignKind")
CampaignStatus = _enum(schemas.CampaignStatus, "CampaignStatus")
CampaignChannel = _enum(schemas.CampaignChannel, "CampaignChannel")
CampaignExercise = _enum(schemas.CampaignExercise, "CampaignExercise")
CheckStatus = _enum(schemas.CheckStatus, "CheckStatus")
GradeResult = _enum(schemas.GradeResult, "GradeResult")
StepState = _enum(schemas.StepState, "StepState")


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value is not None else None


async def _person(info: Info[Context, None], person_id: uuid.UUID | None) -> PersonType | None:
    if person_id is None:
        return None
    found = await info.context.loaders.person.load(person_id)
    return PersonType.from_model(found) if found else None


async def _campaign(info: Info[Context, None], campaign_id: uuid.UUID) -> CampaignType | None:
    found = await info.context.loaders.campaign.load(campaign_id)
    return CampaignType.from_model(found) if found else None


async def _brief(info: Info[Context, None], brief_id: uuid.UUID | None) -> BriefType | None:
    if brief_id is None:
        return None
    found = await info.context.loaders.brief.load(brief_id)
    return BriefType.from_model(found) if found else None


# --- campaigns -----------------------------------------------------------------------------------


@strawberry.type(
    name="CampaignAudience", description="Department keys and roles; an empty list matches everyone."
)
class AudienceType:
    departments: list[str]
    roles: list[Role]

    @classmethod
    def from_model(cls, a: AudienceRead) -> AudienceType:
        return cls(departments=list(a.departments), roles=[Role(r) for r in a.roles])


@strawberry.type(
    name="CampaignPlanStep",
    description="One planned campaign step: `at` (launch, reinforcement) or `dayOffset` days after each "
    "new hire's start date (onboarding).",
)
class PlanStepType:
    index: int
    channel: CampaignChannel
    title: str
    message_id: strawberry.ID | None
    at: dt.datetime | None
    day_offset: int | None
    exercise: CampaignExercise | None

    @classmethod
    def from_model(cls, s: StepRead) -> PlanStepType:
        return cls(
            index=s.index,
            channel=CampaignChannel(s.channel),
            title=s.title,
            message_id=_id(s.message_id),
            at=s.at,
            day_offset=s.day_offset,
            exercise=CampaignExercise(s.exercise) if s.exercise else None,
        )


@strawberry.type(name="Campaign", description="A rollout of a brief: who it speaks to, and its steps.")
class CampaignType:
    id: strawberry.ID
    brief_id: strawberry.ID = strawberry.field(description="The brief version it was created for.")
    lineage_id: strawberry.ID
    product_key: str
    current_brief_id: strawberry.ID | None = strawberry.field(
        description="The brief's published version, if any: the one people acknowledge and explain."
    )
    current_version: int | None
    name: str
    kind: CampaignKind
    status: CampaignStatus
    audience: AudienceType
    steps: list[PlanStepType]
    created_by_id: strawberry.ID | None
    activated_at: dt.datetime | None
    completed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    etag: str = strawberry.field(description="The ETag: pass it as `ifMatch` to refuse stale writes.")
    campaign_id: strawberry.Private[uuid.UUID]
    brief_uuid: strawberry.Private[uuid.UUID]
    product_uuid: strawberry.Private[uuid.UUID]
    current_brief_uuid: strawberry.Private[uuid.UUID | None]
    created_by_uuid: strawberry.Private[uuid.UUID | None]

    @strawberry.field(
        description="The brief's current (published) version, when there is one the caller may see."
    )
    async def brief(self, info: Info[Context, None]) -> BriefType | None:
        return await _brief(info, self.current_brief_uuid)

    @strawberry.field(description="The product the campaign's brief is about.")
    async def product(self, info: Info[Context, None]) -> ProductType | None:
        found = await info.context.loaders.product.load(self.product_uuid)
        return ProductType.from_model(found) if found else None

    @strawberry.field(description="Who planned it, when the caller may see the directory.")
    async def created_by(self, info: Info[Context, None]) -> PersonType | None:
        return await _person(info, self.created_by_uuid)

    @classmethod
    def from_model(cls, c: CampaignRead) -> CampaignType:
        return cls(
            id=strawberry.ID(str(c.id)),
            brief_id=strawberry.ID(str(c.brief_id)),
            lineage_id=strawberry.ID(str(c.lineage_id)),
            product_key=c.product_key,
            current_brief_id=_id(c.current_brief_id),
            current_version=c.current_version,
            name=c.name,
            kind=CampaignKind(c.kind),
            status=CampaignStatus(c.status),
            audience=AudienceType.from_model(c.audience),
            steps=[PlanStepType.from_model(s) for s in c.steps],
            created_by_id=_id(c.created_by_id),
            activated_at=c.activated_at,
            completed_at=c.completed_at,
            cancelled_at=c.cancelled_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
            etag=campaigns_service.campaign_etag(c),
            campaign_id=c.id,
            brief_uuid=c.brief_id,
            product_uuid=c.product_id,
            current_brief_uuid=c.current_brief_id,
            created_by_uuid=c.created_by_id,
        )


@strawberry.type(
    name="Enrollment",
    description="A person in a campaign's audience; `leftAt` is set once they no longer are.",
)
class EnrollmentType:
    id: strawberry.ID
    campaign_id: strawberry.ID
    person_id: strawberry.ID
    anchor_date: dt.date | None = strawberry.field(
        description="Onboarding: the hire date the steps count from."
    )
    enrolled_at: dt.datetime
    left_at: dt.datetime | None
    created_at: dt.datetime
    campaign_uuid: strawberry.Private[uuid.UUID]
    person_uuid: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def person(self, info: Info[Context, None]) -> PersonType | None:
        return await _person(info, self.person_uuid)

    @strawberry.field
    async def campaign(self, info: Info[Context, None]) -> CampaignType | None:
        return await _campaign(info, self.campaign_uuid)

    @classmethod
    def from_model(cls, e: EnrollmentRead) -> EnrollmentType:
        return cls(
            id=strawberry.ID(str(e.id)),
            campaign_id=strawberry.ID(str(e.campaign_id)),
            person_id=strawberry.ID(str(e.person_id)),
            anchor_date=e.anchor_date,
            enrolled_at=e.enrolled_at,
            left_at=e.left_at,
            created_at=e.created_at,
            campaign_uuid=e.campaign_id,
            person_uuid=e.person_id,
        )


# --- acknowledgements and checks -------------------------------------------------------------------


@strawberry.type(name="Acknowledgement", description="“I have read it”: one per person and brief version.")
class AcknowledgementType:
    id: strawberry.ID
    person_id: strawberry.ID
    campaign_id: strawberry.ID = strawberry.field(description="The campaign it was given through.")
    brief_id: strawberry.ID = strawberry.field(description="The brief version acknowledged.")
    version: int
    acknowledged_at: dt.datetime
    created_at: dt.datetime
    person_uuid: strawberry.Private[uuid.UUID]
    campaign_uuid: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def person(self, info: Info[Context, None]) -> PersonType | None:
        return await _person(info, self.person_uuid)

    @strawberry.field
    async def campaign(self, info: Info[Context, None]) -> CampaignType | None:
        return await _campaign(info, self.campaign_uuid)

    @classmethod
    def from_model(cls, a: AcknowledgementRead) -> AcknowledgementType:
        return cls(
            id=strawberry.ID(str(a.id)),
            person_id=strawberry.ID(str(a.person_id)),
            campaign_id=strawberry.ID(str(a.campaign_id)),
            brief_id=strawberry.ID(str(a.brief_id)),
            version=a.version,
            acknowledged_at=a.acknowledged_at,
            created_at=a.created_at,
            person_uuid=a.person_id,
            campaign_uuid=a.campaign_id,
        )


@strawberry.type(
    name="AcknowledgeResult",
    description="The acknowledgement, and whether this call recorded it (false: it was already there).",
)
class AcknowledgeResultType:
    acknowledgement: AcknowledgementType
    created: bool


@strawberry.type(name="CheckAnswers", description="The gut-check, answered in the person's own words.")
class CheckAnswersType:
    who_changes: str
    next_action: str
    what_we_give_up: str


@strawberry.type(
    name="Check",
    description="A comprehension check: the gut-check answered and the pitch in one's own words, graded "
    "by an editor or the person's manager.",
)
class CheckType:
    id: strawberry.ID
    person_id: strawberry.ID
    campaign_id: strawberry.ID
    brief_id: strawberry.ID = strawberry.field(description="The brief version the check was answered for.")
    version: int
    answers: CheckAnswersType
    pitch_in_own_words: str
    status: CheckStatus
    submitted_at: dt.datetime
    graded_by_id: strawberry.ID | None
    graded_at: dt.datetime | None
    comment: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    etag: str
    person_uuid: strawberry.Private[uuid.UUID]
    campaign_uuid: strawberry.Private[uuid.UUID]
    graded_by_uuid: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="Whose check it is.")
    async def person(self, info: Info[Context, None]) -> PersonType | None:
        return await _person(info, self.person_uuid)

    @strawberry.field
    async def campaign(self, info: Info[Context, None]) -> CampaignType | None:
        return await _campaign(info, self.campaign_uuid)

    @strawberry.field(description="Who graded it.")
    async def graded_by(self, info: Info[Context, None]) -> PersonType | None:
        return await _person(info, self.graded_by_uuid)

    @classmethod
    def from_model(cls, c: CheckRead) -> CheckType:
        return cls(
            id=strawberry.ID(str(c.id)),
            person_id=strawberry.ID(str(c.person_id)),
            campaign_id=strawberry.ID(str(c.campaign_id)),
            brief_id=strawberry.ID(str(c.brief_id)),
            version=c.version,
            answers=CheckAnswersType(
                who_changes=c.answers.who_changes,
                next_action=c.answers.next_action,
                what_we_give_up=c.answers.what_we_give_up,
            ),
            pitch_in_own_words=c.pitch_in_own_words,
            status=CheckStatus(c.status),
            submitted_at=c.submitted_at,
            graded_by_id=_id(c.graded_by_id),
            graded_at=c.graded_at,
            comment=c.comment,
            created_at=c.created_at,
            updated_at=c.updated_at,
            etag=campaigns_service.check_etag(c),
            person_uuid=c.person_id,
            campaign_uuid=c.campaign_id,
            graded_by_uuid=c.graded_by_id,
        )


@strawberry.type(
    name="InterviewResult", description="A recorded customer interview: one feedback item per answer."
)
class InterviewResultType:
    campaign_id: strawberry.ID
    feedback_ids: list[strawberry.ID]
    feedback_uuids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="The feedback items the answers became, in the same order.")
    async def feedback_items(self, info: Info[Context, None]) -> list[FeedbackItemType]:
        found = await info.context.loaders.feedback_item.load_many(self.feedback_uuids)
        return [FeedbackItemType.from_model(f) for f in found if f is not None]

    @classmethod
    def from_model(cls, r: InterviewRead) -> InterviewResultType:
        return cls(
            campaign_id=strawberry.ID(str(r.campaign_id)),
            feedback_ids=[strawberry.ID(str(i)) for i in r.feedback_ids],
            feedback_uuids=list(r.feedback_ids),
        )


# --- readiness -------------------------------------------------------------------------------------


@strawberry.type(name="DepartmentReadiness")
class DepartmentReadinessType:
    department: str | None = strawberry.field(description="Department key; null for people without one.")
    department_name: str | None
    audience: int
    acknowledged: int
    passed: int
    overdue: int

    @classmethod
    def from_model(cls, d: DepartmentReadiness) -> DepartmentReadinessType:
        return cls(
            department=d.department,
            department_name=d.department_name,
            audience=d.audience,
            acknowledged=d.acknowledged,
            passed=d.passed,
            overdue=d.overdue,
        )


@strawberry.type(
    name="CampaignReadiness",
    description="Of the active people in the audience: who acknowledged the current brief version (or a "
    "minor fix of it), who passed its check, and who is overdue (last step past, not passed).",
)
class CampaignReadinessType:
    campaign_id: strawberry.ID
    brief_id: strawberry.ID | None = strawberry.field(description="The current (published) brief version.")
    version: int | None
    basis_version: int | None = strawberry.field(
        description="The last substantive version: acknowledgements and checks from it on count."
    )
    audience: int
    acknowledged: int
    passed: int
    overdue: int
    departments: list[DepartmentReadinessType]
    campaign_uuid: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def campaign(self, info: Info[Context, None]) -> CampaignType | None:
        return await _campaign(info, self.campaign_uuid)

    @classmethod
    def from_model(cls, r: CampaignReadiness) -> CampaignReadinessType:
        return cls(
            campaign_id=strawberry.ID(str(r.campaign_id)),
            brief_id=_id(r.brief_id),
            version=r.version,
            basis_version=r.basis_version,
            audience=r.audience,
            acknowledged=r.acknowledged,
            passed=r.passed,
            overdue=r.overdue,
            departments=[DepartmentReadinessType.from_model(d) for d in r.departments],
            campaign_uuid=r.campaign_id,
        )


@strawberry.type(name="DepartmentShare")
class DepartmentShareType:
    department: str | None
    department_name: str | None
    audience: int
    passed: int
    share: float | None = strawberry.field(description="passed / audience; null for an empty audience.")

    @classmethod
    def from_model(cls, d: DepartmentShare) -> DepartmentShareType:
        return cls(
            department=d.department,
            department_name=d.department_name,
            audience=d.audience,
            passed=d.passed,
            share=d.share,
        )


@strawberry.type(name="ProductReadiness")
class ProductReadinessType:
    product_key: str
    product_name: str
    audience: int = strawberry.field(
        description="People in any active or completed campaign for the product's brief."
    )
    passed: int = strawberry.field(description="…who passed a check on the current version.")
    share: float | None
    departments: list[DepartmentShareType]

    @classmethod
    def from_model(cls, p: ProductReadiness) -> ProductReadinessType:
        return cls(
            product_key=p.product_key,
            product_name=p.product_name,
            audience=p.audience,
            passed=p.passed,
            share=p.share,
            departments=[DepartmentShareType.from_model(d) for d in p.departments],
        )


@strawberry.type(
    name="OrganisationReadiness",
    description="Can our people state what makes us worth buying, in the customer's words?",
)
class OrganisationReadinessType:
    question: str
    audience: int = strawberry.field(description="Person-product pairs across every product below.")
    passed: int
    share: float | None
    products: list[ProductReadinessType]

    @classmethod
    def from_model(cls, r: OrganisationReadiness) -> OrganisationReadinessType:
        return cls(
            question=r.question,
            audience=r.audience,
            passed=r.passed,
            share=r.share,
            products=[ProductReadinessType.from_model(p) for p in r.products],
        )


# --- the feed --------------------------------------------------------------------------------------


@strawberry.type(
    name="CampaignStep",
    description="A campaign step for you, due or upcoming, with where you stand on the campaign's "
    "current brief version.",
)
class CampaignStepType:
    at: dt.datetime = strawberry.field(description="When the step is (or was) due.")
    state: StepState
    campaign_id: strawberry.ID
    campaign_name: str
    campaign_kind: CampaignKind
    product_key: str
    brief_id: strawberry.ID = strawberry.field(
        description="The current brief version to acknowledge and explain."
    )
    version: int
    step_index: int
    channel: CampaignChannel
    title: str
    message_id: strawberry.ID | None
    exercise: CampaignExercise | None
    acknowledged: bool
    check_status: CheckStatus | None = strawberry.field(
        description="Your best check on this version, if any."
    )
    campaign_uuid: strawberry.Private[uuid.UUID]
    brief_uuid: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def campaign(self, info: Info[Context, None]) -> CampaignType | None:
        return await _campaign(info, self.campaign_uuid)

    @strawberry.field(description="The brief version to acknowledge and explain.")
    async def brief(self, info: Info[Context, None]) -> BriefType | None:
        return await _brief(info, self.brief_uuid)

    @classmethod
    def from_model(cls, t: CampaignStepItem) -> CampaignStepType:
        return cls(
            at=t.at,
            state=StepState(t.state),
            campaign_id=strawberry.ID(str(t.campaign_id)),
            campaign_name=t.campaign_name,
            campaign_kind=CampaignKind(t.campaign_kind),
            product_key=t.product_key,
            brief_id=strawberry.ID(str(t.brief_id)),
            version=t.version,
            step_index=t.step_index,
            channel=CampaignChannel(t.channel),
            title=t.title,
            message_id=_id(t.message_id),
            exercise=CampaignExercise(t.exercise) if t.exercise else None,
            acknowledged=t.acknowledged,
            check_status=CheckStatus(t.check_status) if t.check_status else None,
            campaign_uuid=t.campaign_id,
            brief_uuid=t.brief_id,
        )


@strawberry.type(name="FeedbackLoopStep", description="One step the item took.")
class LoopStepType:
    to: LoopStage
    at: dt.datetime
    note: str | None
    decision: Decision | None

    @classmethod
    def from_model(cls, s: LoopStep) -> LoopStepType:
        return cls(
            to=LoopStage(s.to), at=s.at, note=s.note, decision=Decision(s.decision) if s.decision else None
        )


@strawberry.type(name="FeedbackAnnouncement", description="The message that told sales what was done.")
class AnnouncementType:
    message_id: strawberry.ID
    title: str | None = strawberry.field(description="Null when the message is no longer visible to you.")

    @classmethod
    def from_model(cls, a: Announcement) -> AnnouncementType:
        return cls(message_id=strawberry.ID(str(a.message_id)), title=a.title)


@strawberry.type(
    name="FeedbackLoop",
    description="Feedback you filed (or that was filed for you), and how far its loop got.",
)
class FeedbackLoopType:
    at: dt.datetime = strawberry.field(description="The latest news: when it was filed or last moved.")
    feedback_id: strawberry.ID
    excerpt: str
    source: FeedbackSource
    product_key: str | None
    received_at: dt.datetime
    status: LoopStage
    decision: Decision | None
    rationale: str | None
    stage_due_at: dt.datetime | None
    overdue: bool
    transitions: list[LoopStepType]
    announcement: AnnouncementType | None
    feedback_uuid: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The feedback item itself.")
    async def item(self, info: Info[Context, None]) -> FeedbackItemType | None:
        found = await info.context.loaders.feedback_item.load(self.feedback_uuid)
        return FeedbackItemType.from_model(found) if found else None

    @classmethod
    def from_model(cls, f: FeedbackLoopItem) -> FeedbackLoopType:
        return cls(
            at=f.at,
            feedback_id=strawberry.ID(str(f.feedback_id)),
            excerpt=f.excerpt,
            source=FeedbackSource(f.source),
            product_key=f.product_key,
            received_at=f.received_at,
            status=LoopStage(f.status),
            decision=Decision(f.decision) if f.decision else None,
            rationale=f.rationale,
            stage_due_at=f.stage_due_at,
            overdue=f.overdue,
            transitions=[LoopStepType.from_model(s) for s in f.transitions],
            announcement=AnnouncementType.from_model(f.announcement) if f.announcement else None,
            feedback_uuid=f.feedback_id,
        )


FeedEntry = Annotated[
    CampaignStepType | FeedbackLoopType,
    strawberry.union(
        "FeedEntry",
        description="An entry of your feed: a campaign step, or news about feedback you filed.",
    ),
]


def _feed_entry(entry: CampaignStepItem | FeedbackLoopItem) -> CampaignStepType | FeedbackLoopType:
    if isinstance(entry, CampaignStepItem):
        return CampaignStepType.from_model(entry)
    return FeedbackLoopType.from_model(entry)


# --- inputs ----------------------------------------------------------------------------------------


@strawberry.input(description="Department keys and roles; an empty list matches everyone.")
class CampaignAudienceInput:
    departments: list[str] = strawberry.field(default_factory=list)
    roles: list[Role] = strawberry.field(default_factory=list)


@strawberry.input(
    description="One campaign step: `at` for launch and reinforcement, `dayOffset` (days from the hire "
    "date, 0 = the first day) for onboarding — exactly one of them."
)
class CampaignStepInput:
    channel: CampaignChannel
    title: str
    message_id: strawberry.ID | None = None
    at: dt.datetime | None = None
    day_offset: int | None = None
    exercise: CampaignExercise | None = None


@strawberry.input
class CampaignInput:
    brief_id: strawberry.ID = strawberry.field(
        description="Any version of the brief; the campaign follows its current one."
    )
    name: str
    kind: CampaignKind
    audience: CampaignAudienceInput | None = None
    steps: list[CampaignStepInput] = strawberry.field(default_factory=list)


@strawberry.input(
    description="Fields to change (the kind and brief stay); omitted fields stay. A new audience on an "
    "active campaign enrolls whoever now matches and lets go of whoever no longer does."
)
class CampaignPatch:
    name: str | None = strawberry.UNSET
    audience: CampaignAudienceInput | None = strawberry.UNSET
    steps: list[CampaignStepInput] | None = strawberry.UNSET


@strawberry.input
class CheckAnswersInput:
    who_changes: str
    next_action: str
    what_we_give_up: str


@strawberry.input(description="The three gut-check answers and the pitch, in your own words.")
class CheckInput:
    answers: CheckAnswersInput
    pitch_in_own_words: str


@strawberry.input(description="`NEEDS_WORK` needs a comment: it is what the person reads next.")
class GradeInput:
    result: GradeResult
    comment: str | None = None


@strawberry.input(description="Answer at least one of the three questions.")
class InterviewAnswersInput:
    why_chose_us: str | None = None
    what_was_inconvenient: str | None = None
    why_not_buy: str | None = None


@strawberry.input(
    description="A customer interview from the onboarding exercise; each answer becomes a feedback item "
    "(source INTERVIEW) that you follow in your feed."
)
class InterviewInput:
    answers: InterviewAnswersInput
    customer: CustomerInput | None = None
    interviewed_on: dt.date | None = None


def _plain(value: Any) -> Any:
    """A GraphQL input as plain data: enums as their values, omitted (UNSET) fields left out."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not strawberry.UNSET
        }
    return value


def _without_nulls(step: dict[str, Any]) -> dict[str, Any]:
    # A step's optional fields default to null in GraphQL; absent is what the schema means.
    return {k: v for k, v in step.items() if v is not None}


def _campaign_data(input: CampaignInput | CampaignPatch) -> dict[str, Any]:
    data = _plain(input)
    if data.get("steps"):
        data["steps"] = [_without_nulls(s) for s in data["steps"]]
    if isinstance(input, CampaignInput) and data.get("audience") is None:
        data.pop("audience", None)  # on create, null is the same as absent: everyone
    return data


class _FeedArgs(InputModel):
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = feed_service.DEFAULT_LIMIT


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
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        status: CampaignStatus | None = None,
        kind: CampaignKind | None = None,
        brief_id: strawberry.ID | None = None,
    ) -> Connection[CampaignType]:
        principal = info.context.principal
        async with info.context.session() as session:
            page = await campaigns_service.list_campaigns(
                session,
                principal,
                page_args(first, after),
                status=status.value if status else None,
                kind=kind.value if kind else None,
                brief_id=to_uuid(brief_id, "briefId") if brief_id is not None else None,
            )
        return Connection.from_page(page, CampaignType.from_model)

    @strawberry.field(description="One campaign (employees: only one they are or were in).")
    async def campaign(self, info: Info[Context, None], id: strawberry.ID) -> CampaignType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await campaigns_service.get_campaign(session, principal, to_uuid(id))
        return CampaignType.from_model(found)

    @strawberry.field(
        description="A campaign's audience, people who left included unless `current` (editors and "
        "admins; managers: their own department)."
    )
    async def campaign_enrollments(
        self,
        info: Info[Context, None],
        campaign_id: strawberry.ID,
        first: int = 50,
        after: str | None = None,
        current: bool = False,
    ) -> Connection[EnrollmentType]:
        principal = info.context.principal
        async with info.context.session() as session:
            page = await campaigns_service.list_enrollments(
                session,
                principal,
                to_uuid(campaign_id, "campaignId"),
                page_args(first, after),
                current_only=current,
            )
        return Connection.from_page(page, EnrollmentType.from_model)

    @strawberry.field(
        description="Audience, acknowledged, passed and overdue for the brief's current version, in "
        "total and per department (editors, admins, `campaigns:read`; managers: their department)."
    )
    async def campaign_readiness(
        self, info: Info[Context, None], campaign_id: strawberry.ID
    ) -> CampaignReadinessType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await readiness_service.campaign_readiness(
                session, principal, to_uuid(campaign_id, "campaignId")
            )
        return CampaignReadinessType.from_model(found)

    @strawberry.field(
        description="Can our people state what makes us worth buying, in the customer's words? Per "
        "product with a published pitch, the share of its campaign audiences that passed a check on the "
        "current version (editors, admins, `campaigns:read`; managers: their department)."
    )
    async def readiness(self, info: Info[Context, None]) -> OrganisationReadinessType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await readiness_service.organisation_readiness(session, principal)
        return OrganisationReadinessType.from_model(found)

    @strawberry.field(
        description="Checks the caller may read, oldest first: everyone's (editors, admins), their "
        "people's (managers), their own (employees); `status: SUBMITTED` is the grading queue."
    )
    async def checks(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        campaign_id: strawberry.ID | None = None,
        status: CheckStatus | None = None,
    ) -> Connection[CheckType]:
        principal = info.context.principal
        async with info.context.session() as session:
            page = await campaigns_service.list_checks(
                session,
                principal,
                page_args(first, after),
                campaign_id=to_uuid(campaign_id, "campaignId") if campaign_id is not None else None,
                status=status.value if status else None,
            )
        return Connection.from_page(page, CheckType.from_model)

    @strawberry.field(description="One check: yours, or of someone you review (otherwise NOT_FOUND).")
    async def check(self, info: Info[Context, None], id: strawberry.ID) -> CheckType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await campaigns_service.get_check(session, principal, to_uuid(id))
        return CheckType.from_model(found)

    @strawberry.field(
        description="One acknowledgement: yours, or of someone you review (otherwise NOT_FOUND)."
    )
    async def acknowledgement(self, info: Info[Context, None], id: strawberry.ID) -> AcknowledgementType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await campaigns_service.get_acknowledgement(session, principal, to_uuid(id))
        return AcknowledgementType.from_model(found)

    @strawberry.field(
        description="Your feed (people only): your campaign steps (due, then upcoming, soonest first), "
        "then news about the feedback you filed, most recent first; `limit` applies to the news."
    )
    async def my_feed(
        self, info: Info[Context, None], limit: int = feed_service.DEFAULT_LIMIT
    ) -> list[FeedEntry]:
        principal = info.context.principal
        args = validate_input(_FeedArgs, {"limit": limit})
        async with info.context.session() as session:
            feed = await feed_service.my_feed(session, principal, limit=args.limit)
        return [_feed_entry(entry) for entry in feed.items]


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(
        description="Plan a campaign for a brief (status PLANNED; editors and admins). Every problem with "
        "the audience and steps comes back at once (BAD_USER_INPUT)."
    )
    async def create_campaign(self, info: Info[Context, None], input: CampaignInput) -> CampaignType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(CampaignCreate, _campaign_data(input))
        async with info.context.session() as session:
            return CampaignType.from_model(await campaigns_service.create_campaign(session, principal, data))

    @strawberry.mutation(
        description="Change a planned or active campaign. `ifMatch` (the ETag) is required: missing → "
        "PRECONDITION_REQUIRED, stale → PRECONDITION_FAILED; a closed campaign → CONFLICT."
    )
    async def update_campaign(
        self, info: Info[Context, None], id: strawberry.ID, input: CampaignPatch, if_match: str | None = None
    ) -> CampaignType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(CampaignUpdate, _campaign_data(input))
        async with info.context.session() as session:
            found = await campaigns_service.update_campaign(
                session, principal, to_uuid(id), data, if_match=if_match
            )
        return CampaignType.from_model(found)

    @strawberry.mutation(
        description="Start a planned campaign: every active person in its audience is enrolled "
        "(CONFLICT without steps or without a published brief version)."
    )
    async def activate_campaign(self, info: Info[Context, None], id: strawberry.ID) -> CampaignType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await campaigns_service.activate_campaign(session, principal, to_uuid(id))
        return CampaignType.from_model(found)

    @strawberry.mutation(description="Close an active campaign (its readiness stays readable).")
    async def complete_campaign(self, info: Info[Context, None], id: strawberry.ID) -> CampaignType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await campaigns_service.complete_campaign(session, principal, to_uuid(id))
        return CampaignType.from_model(found)

    @strawberry.mutation(description="Cancel a planned or active campaign.")
    async def cancel_campaign(self, info: Info[Context, None], id: strawberry.ID) -> CampaignType:
        principal = info.context.principal
        async with info.context.session() as session:
            found = await campaigns_service.cancel_campaign(session, principal, to_uuid(id))
        return CampaignType.from_model(found)

    @strawberry.mutation(
        description="Acknowledge the campaign's current brief version yourself. Idempotent: `created` is "
        "true the first time, then false with the same acknowledgement."
    )
    async def acknowledge_campaign(
        self, info: Info[Context, None], campaign_id: strawberry.ID
    ) -> AcknowledgeResultType:
        principal = info.context.principal
        async with info.context.session() as session:
            ack, created = await campaigns_service.acknowledge(
                session, principal, to_uuid(campaign_id, "campaignId")
            )
        return AcknowledgeResultType(acknowledgement=AcknowledgementType.from_model(ack), created=created)

    @strawberry.mutation(
        description="Answer the comprehension check yourself (CONFLICT while one waits for a grade or "
        "after you passed this version)."
    )
    async def submit_check(
        self, info: Info[Context, None], campaign_id: strawberry.ID, input: CheckInput
    ) -> CheckType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(CheckCreate, _plain(input))
        async with info.context.session() as session:
            found = await campaigns_service.submit_check(
                session, principal, to_uuid(campaign_id, "campaignId"), data
            )
        return CheckType.from_model(found)

    @strawberry.mutation(
        description="Grade a submitted check: an editor, an admin or the person's manager; nobody grades "
        "their own (FORBIDDEN); an already graded check → CONFLICT."
    )
    async def grade_check(self, info: Info[Context, None], id: strawberry.ID, input: GradeInput) -> CheckType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(Grade, _plain(input))
        async with info.context.session() as session:
            found = await campaigns_service.grade_check(session, principal, to_uuid(id), data)
        return CheckType.from_model(found)

    @strawberry.mutation(
        description="The onboarding customer-interview exercise: each answer becomes a feedback item of "
        "source INTERVIEW that you follow in your feed."
    )
    async def record_interview(
        self, info: Info[Context, None], campaign_id: strawberry.ID, input: InterviewInput
    ) -> InterviewResultType:
        principal = info.context.principal  # authenticate before validating, as REST does
        data = validate_input(InterviewCreate, _plain(input))
        async with info.context.session() as session:
            found = await campaigns_service.record_interview(
                session, principal, to_uuid(campaign_id, "campaignId"), data
            )
        return InterviewResultType.from_model(found)
