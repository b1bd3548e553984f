"""Inputs and outputs for campaigns, enrollments, acknowledgements, checks and readiness."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from service.auth.principal import Role
from service.errors import field_error
from service.feedback.schemas import Customer
from service.fields import InputModel, Name, ReadModel, Slug


# Each value set once: these feed the pydantic schemas (REST, OpenAPI), the tables' CHECK
# constraints (models.py) and the GraphQL enums (graphql.py).
class CampaignKind(StrEnum):
    """launch and reinforcement steps happen at fixed times; onboarding steps count days from each
    new hire's start date."""

    LAUNCH = "launch"
    ONBOARDING = "onboarding"
    REINFORCEMENT = "reinforcement"


class CampaignStatus(StrEnum):
    """planned → active → completed | cancelled."""

    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CampaignChannel(StrEnum):
    """Where a campaign step reaches people."""

    BRIEFING = "briefing"
    INTRANET = "intranet"
    NEWSLETTER = "newsletter"
    EMAIL = "email"
    CHAT = "chat"
    TRAINING = "training"


class CampaignExercise(StrEnum):
    """CUSTOMER_INTERVIEW: the new hire interviews a customer (why did you choose us, what was
    inconvenient, why do people not buy); the answers become feedback."""

    CUSTOMER_INTERVIEW = "customer_interview"


class CheckStatus(StrEnum):
    """submitted (waiting for a grade) → passed | needs_work."""

    SUBMITTED = "submitted"
    PASSED = "passed"
    NEEDS_WORK = "needs_work"


class GradeResult(StrEnum):
    """A grade: passed, or needs_work (with a comment saying what)."""

    PASSED = "passed"
    NEEDS_WORK = "needs_work"


class StepState(StrEnum):
    """DUE: its time has come (and you have not passed yet); UPCOMING: still ahead."""

    DUE = "due"
    UPCOMING = "upcoming"


class PersonState(StrEnum):
    """Where a person stands on the current brief version (or a minor fix of it), first that
    applies: passed (a passed check), not_acknowledged (nothing yet), check_pending (a check waits
    for a grade), needs_work (graded needs_work, nothing newer), acknowledged (read it, no check)."""

    NOT_ACKNOWLEDGED = "not_acknowledged"
    ACKNOWLEDGED = "acknowledged"
    CHECK_PENDING = "check_pending"
    NEEDS_WORK = "needs_work"
    PASSED = "passed"


Answer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
LongAnswer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]

MAX_STEPS = 50
MAX_DAY_OFFSET = 365


class Step(InputModel):
    """One campaign step: a launch or reinforcement step happens `at` a fixed time; an onboarding
    step `day_offset` days after each new hire's start date (0 = the first day)."""

    id: uuid.UUID | None = Field(
        default=None,
        description="Changing a campaign's steps: the `id` of the existing step this one is (it keeps its "
        "identity: what fell due, deliveries and attendance stay with it, wherever it moves). Leave it out "
        "for a new step; CueCard gives every step its id.",
    )
    channel: CampaignChannel
    title: Name
    message_id: uuid.UUID | None = Field(default=None, description="A message to send or show.")
    at: AwareDatetime | None = None
    day_offset: Annotated[int, Field(ge=0, le=MAX_DAY_OFFSET)] | None = None
    exercise: CampaignExercise | None = Field(
        default=None,
        description="`customer_interview`: the new hire interviews a customer (why did you choose us, "
        "what was inconvenient, why do people not buy); the answers become feedback.",
    )

    @model_validator(mode="after")
    def _one_time(self) -> Step:
        if (self.at is None) == (self.day_offset is None):
            raise ValueError("give exactly one of `at` (launch, reinforcement) or `day_offset` (onboarding)")
        return self


class Audience(InputModel):
    """Who the campaign speaks to: department keys and roles. An empty list matches everyone."""

    departments: list[Slug] = Field(default_factory=list, max_length=200)
    roles: list[Role] = Field(default_factory=list, max_length=4)


def steps_fit_kind(kind: str, steps: list[Step]) -> list[dict[str, Any]]:
    """Every step that does not suit the campaign's kind, as field errors."""
    errors = []
    onboarding = kind == "onboarding"
    for index, step in enumerate(steps):
        if onboarding and step.day_offset is None:
            errors.append(
                (index, "day_offset", "onboarding steps are timed by `day_offset` from the hire date")
            )
        if not onboarding and step.at is None:
            errors.append((index, "at", f"{kind} steps are timed by `at`"))
    return [field_error(f"steps.{i}.{name}", detail) for i, name, detail in errors]


class CampaignCreate(InputModel):
    brief_id: uuid.UUID = Field(description="Any version of the brief; the campaign follows its current one.")
    name: Name
    kind: CampaignKind
    audience: Audience = Field(default_factory=Audience)
    steps: list[Step] = Field(default_factory=list, max_length=MAX_STEPS)


class CampaignUpdate(InputModel):
    """Fields to change (the kind and brief stay). Changing the audience of an active campaign
    enrolls whoever now matches and lets go of whoever no longer does."""

    name: Name | None = None
    audience: Audience | None = None
    steps: list[Step] | None = Field(default=None, max_length=MAX_STEPS)


class StepRead(BaseModel):
    id: uuid.UUID = Field(description="The step's own id: stable when steps are reordered or edited.")
    index: int
    channel: CampaignChannel
    title: str
    message_id: uuid.UUID | None
    at: datetime | None
    day_offset: int | None
    exercise: CampaignExercise | None


class AudienceRead(BaseModel):
    departments: list[str]
    roles: list[str]


class CampaignRead(ReadModel):
    id: uuid.UUID
    brief_id: uuid.UUID = Field(description="The brief version it was created for.")
    lineage_id: uuid.UUID
    product_id: uuid.UUID
    product_key: str
    current_brief_id: uuid.UUID | None = Field(description="The brief's published version, if any.")
    current_version: int | None
    name: str
    kind: CampaignKind
    status: CampaignStatus
    audience: AudienceRead
    steps: list[StepRead]
    created_by_id: uuid.UUID | None
    activated_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    revision: int


class EnrollmentRead(ReadModel):
    """A person in a campaign's audience; `left_at` is set once they no longer are (history stays)."""

    id: uuid.UUID
    campaign_id: uuid.UUID
    person_id: uuid.UUID
    anchor_date: date | None = Field(description="Onboarding: the hire date the steps count from.")
    enrolled_at: datetime
    left_at: datetime | None
    created_at: datetime


class AcknowledgementRead(ReadModel):
    id: uuid.UUID
    person_id: uuid.UUID
    campaign_id: uuid.UUID = Field(description="The campaign it was given through.")
    brief_id: uuid.UUID = Field(description="The brief version acknowledged.")
    version: int
    acknowledged_at: datetime
    created_at: datetime


class AttendanceRead(ReadModel):
    """A person's confirmation that they attended a briefing step: one per campaign, step and person."""

    id: uuid.UUID
    campaign_id: uuid.UUID
    step_id: uuid.UUID
    person_id: uuid.UUID
    attended_at: datetime = Field(description="When the person confirmed it.")
    created_at: datetime


class GutCheckAnswers(InputModel):
    who_changes: Answer
    next_action: Answer
    what_we_give_up: Answer


class CheckCreate(InputModel):
    """The three gut-check answers and the pitch, in your own words."""

    answers: GutCheckAnswers
    pitch_in_own_words: LongAnswer


class CheckRead(ReadModel):
    id: uuid.UUID
    person_id: uuid.UUID
    campaign_id: uuid.UUID
    brief_id: uuid.UUID = Field(description="The brief version the check was answered for.")
    version: int
    answers: GutCheckAnswers
    pitch_in_own_words: str
    status: CheckStatus
    submitted_at: datetime
    graded_by_id: uuid.UUID | None
    graded_at: datetime | None
    comment: str | None
    created_at: datetime
    updated_at: datetime
    revision: int


class Grade(InputModel):
    """`needs_work` needs a comment: it is what the person reads next."""

    result: GradeResult
    comment: Comment | None = None

    @model_validator(mode="after")
    def _needs_work_says_why(self) -> Grade:
        if self.result == "needs_work" and not self.comment:
            raise ValueError("say what needs work in `comment`")
        return self


class InterviewAnswers(InputModel):
    why_chose_us: Answer | None = None
    what_was_inconvenient: Answer | None = None
    why_not_buy: Answer | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> InterviewAnswers:
        if not (self.why_chose_us or self.what_was_inconvenient or self.why_not_buy):
            raise ValueError("answer at least one of the three questions")
        return self


class InterviewCreate(InputModel):
    """A customer interview from the onboarding exercise; each answer becomes a feedback item
    (source `interview`) that the new hire follows in their feed."""

    customer: Customer | None = None
    interviewed_on: date | None = None
    answers: InterviewAnswers


class InterviewRead(BaseModel):
    campaign_id: uuid.UUID
    feedback_ids: list[uuid.UUID]


# --- the feed ------------------------------------------------------------------------------------


class CampaignStepItem(BaseModel):
    """A campaign step for you: `due` (its time has come and you have not passed the check yet)
    or `upcoming`; with where you stand on the campaign's current brief version."""

    kind: Literal["campaign_step"] = "campaign_step"
    at: datetime = Field(description="When the step is (or was) due.")
    state: StepState
    campaign_id: uuid.UUID
    campaign_name: str
    campaign_kind: CampaignKind
    product_key: str
    brief_id: uuid.UUID = Field(description="The current brief version to acknowledge and explain.")
    version: int
    step_id: uuid.UUID = Field(description="The step's own id, stable wherever the step moves in the plan.")
    step_index: int
    channel: CampaignChannel
    title: str
    message_id: uuid.UUID | None
    exercise: CampaignExercise | None
    acknowledged: bool
    check_status: CheckStatus | None = Field(description="Your best check on this version, if any.")


# --- readiness ----------------------------------------------------------------------------------


class ReadinessCounts(BaseModel):
    audience: int = Field(description="Active people currently in the audience.")
    acknowledged: int = Field(description="…who acknowledged the current version (or a minor fix of it).")
    passed: int = Field(description="…who passed a check on it.")
    overdue: int = Field(description="…whose last step is past and who have not passed yet.")
    attended: int = Field(
        description="…who confirmed attending at least one of the campaign's briefing steps "
        "(`POST /campaigns/{id}/steps/{step_id}/attendance`)."
    )


class DepartmentReadiness(ReadinessCounts):
    department: str | None = Field(description="Department key; null for people without one.")
    department_name: str | None


class StoryGap(BaseModel):
    """A part of the brief's story and how often people leave it out of the pitch in their own words."""

    part: str = Field(
        description="`value_proposition`, `differentiator:N` (the brief's N-th differentiator, from 1), "
        "`evidence` (any one cited claim) or `next_action` (the customer's next action)."
    )
    share: float | None = Field(
        description="Of the graded checks, the fraction whose pitch in one's own words left the part out: "
        "fewer than half of its content words (English: lowercased, stop words dropped, inflections "
        "folded) or character bigrams (Japanese, hiragana-only pairs dropped) came back. Null when "
        "none was graded."
    )
    graded: int = Field(description="Graded checks (passed or needs_work) whose brief version has the part.")


class CampaignReadiness(ReadinessCounts):
    campaign_id: uuid.UUID
    brief_id: uuid.UUID | None = Field(description="The current (published) brief version.")
    version: int | None
    basis_version: int | None = Field(
        description="The last substantive version: acknowledgements and checks from it on count."
    )
    departments: list[DepartmentReadiness]
    story_gaps: list[StoryGap] = Field(
        description="Where the story breaks: per part of the brief, the share of graded checks (on the "
        "current version or a minor fix of it, of the people counted here; the latest 1,000) that left it out."
    )


class CampaignPerson(BaseModel):
    """A person in the campaign's audience and where they stand on the current brief version."""

    person_id: uuid.UUID
    display_name: str
    email: str
    department_key: str | None
    state: PersonState
    overdue: bool = Field(description="The campaign's last step is due for them and they have not passed.")
    # The enrollment's keyset position (cursor), not shown.
    id: uuid.UUID = Field(exclude=True)
    created_at: datetime = Field(exclude=True)


class DepartmentShare(BaseModel):
    department: str | None
    department_name: str | None
    audience: int
    passed: int
    share: float | None = Field(description="passed / audience; null for an empty audience.")


class ProductReadiness(BaseModel):
    product_key: str
    product_name: str
    audience: int = Field(description="People in any active or completed campaign for the product's brief.")
    passed: int = Field(description="…who passed a check on the current version.")
    share: float | None
    departments: list[DepartmentShare]


class OrganisationReadiness(BaseModel):
    """Can our people state what makes us worth buying, in the customer's words?"""

    question: str
    audience: int = Field(description="Person-product pairs across every product below.")
    passed: int
    share: float | None
    products: list[ProductReadiness]
