"""Campaigns: plan, run and close rollouts of a brief; acknowledgements, checks and grades;
each person's due and upcoming steps; the onboarding interview exercise."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal, Role
from service.briefs import service as briefs_service
from service.briefs.service import CurrentVersion
from service.campaigns import enrollment, policies, repository
from service.campaigns.models import Campaign, Check, Enrollment
from service.campaigns.schemas import (
    AcknowledgementRead,
    AttendanceRead,
    Audience,
    AudienceRead,
    CampaignChannel,
    CampaignCreate,
    CampaignKind,
    CampaignRead,
    CampaignStatus,
    CampaignStepItem,
    CampaignUpdate,
    CheckCreate,
    CheckRead,
    CheckStatus,
    EnrollmentRead,
    Grade,
    InterviewCreate,
    InterviewRead,
    Step,
    StepRead,
    steps_fit_kind,
)
from service.concurrency import check_if_match, etag
from service.db import transactional, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.events.catalogue import EventType
from service.events.service import emit
from service.feedback import service as feedback_service
from service.feedback.schemas import FeedbackCreate
from service.messages import service as messages_service
from service.pagination import Page, PageParams
from service.people import service as people_service
from service.products import service as products_service
from service.reads import as_dict

INTERVIEW_QUESTIONS = {
    "why_chose_us": ("なぜ私たちを選んだのですか", "Why did you choose us?"),
    "what_was_inconvenient": ("何が不便でしたか", "What was inconvenient?"),
    "why_not_buy": ("買わない人はなぜ買わないのでしょう", "Why do people not buy?"),
}


def campaign_etag(campaign: Campaign | CampaignRead) -> str:
    return etag(campaign.revision)


def check_etag(check: Check | CheckRead) -> str:
    return etag(check.revision)


def _touch(row: Campaign | Check) -> None:
    row.revision += 1
    row.updated_at = utcnow()


# --- shaping ------------------------------------------------------------------------------------


def step_due_at(step: dict[str, Any], anchor: datetime | None) -> datetime | None:
    """When a step is due: its fixed time, or `day_offset` days after the anchor (the hire day)."""
    if step.get("at") is not None:
        return datetime.fromisoformat(step["at"])
    if anchor is None:
        return None
    return anchor + timedelta(days=step.get("day_offset") or 0)


def anchor_of(anchor_date: date | None) -> datetime | None:
    """Onboarding steps fall due at the start (00:00 UTC) of the day they count to."""
    return datetime.combine(anchor_date, time(0), tzinfo=UTC) if anchor_date else None


async def _to_read(
    session: AsyncSession, principal: Principal, campaigns: Sequence[Campaign | sa.Row[Any]]
) -> list[CampaignRead]:
    """Two queries however many campaigns (table rows or named rows): their products and their
    briefs' current versions."""
    products = await products_service.products_by_ids(session, principal, {c.product_id for c in campaigns})
    current = await briefs_service.current_versions(session, principal, {c.lineage_id for c in campaigns})
    result = []
    for campaign in campaigns:
        now = current.get(campaign.lineage_id)
        data = as_dict(campaign)
        for shaped in ("audience_departments", "audience_roles", "steps"):
            del data[shaped]
        data.update(
            product_key=products[campaign.product_id].key,
            current_brief_id=now.brief_id if now else None,
            current_version=now.version if now else None,
            audience=AudienceRead(
                departments=list(campaign.audience_departments), roles=list(campaign.audience_roles)
            ),
            steps=[StepRead(index=i, **step) for i, step in enumerate(campaign.steps)],
        )
        result.append(CampaignRead.model_validate(data))
    return result


async def _read_one(session: AsyncSession, principal: Principal, campaign: Campaign) -> CampaignRead:
    return (await _to_read(session, principal, [campaign]))[0]


def _require_campaign_reader(principal: Principal) -> None:
    if not (policies.sees_all_campaigns(principal) or principal.is_person):
        raise Forbidden("This token may not read campaigns (scope campaigns:read).")


async def visible_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, *, lock: bool = False
) -> Campaign:
    """The campaign, if this caller may see it: all for editors, managers, admins and
    campaigns:read; for an employee only a campaign they are or were in."""
    _require_campaign_reader(principal)
    return await _seen(session, principal, await repository.get(session, campaign_id, for_update=lock))


CampaignRow = TypeVar("CampaignRow", Campaign, sa.Row[Any])


async def _seen(session: AsyncSession, principal: Principal, campaign: CampaignRow | None) -> CampaignRow:
    """The campaign (table row or named row), or 404 unless the caller may see it (see
    visible_campaign)."""
    if campaign is None:
        raise NotFound("No such campaign.")
    if not policies.sees_all_campaigns(principal):
        member = (
            await repository.get_enrollment(session, campaign.id, principal.person_id)
            if principal.person_id
            else None
        )
        if member is None:
            raise NotFound("No such campaign.")
    return campaign


# --- campaigns ----------------------------------------------------------------------------------


async def list_campaigns(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    status: CampaignStatus | None = None,
    kind: CampaignKind | None = None,
    brief_id: uuid.UUID | None = None,
) -> Page[CampaignRead]:
    """Lists campaigns, oldest first (an employee's own ones only), optionally filtered."""
    _require_campaign_reader(principal)
    lineage_id = None
    if brief_id is not None:
        try:
            lineage_id = (await briefs_service.get_brief(session, principal, brief_id)).lineage_id
        except NotFound:
            return Page(items=[], next_cursor=None)
    page = await repository.list_campaigns(
        session,
        params,
        status=status,
        kind=kind,
        lineage_id=lineage_id,
        enrolled_person_id=None if policies.sees_all_campaigns(principal) else principal.person_id,
    )
    return Page(items=await _to_read(session, principal, page.rows), next_cursor=page.next_cursor)


async def get_campaign(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> CampaignRead:
    """Gets a campaign."""
    _require_campaign_reader(principal)
    campaign = await _seen(session, principal, await repository.read_row(session, campaign_id))
    return (await _to_read(session, principal, [campaign]))[0]


async def campaigns_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, CampaignRead]:
    """Gets many campaigns at once, leaving out what the caller may not see (for DataLoaders)."""
    if not (policies.sees_all_campaigns(principal) or principal.is_person):
        return {}
    found: Mapping[uuid.UUID, Campaign | sa.Row[Any]]
    if policies.sees_all_campaigns(principal):
        found = await repository.by_ids(session, ids)
    else:
        found = await repository.by_ids_enrolled(session, ids, principal.person_id)
    return {c.id: c for c in await _to_read(session, principal, list(found.values()))}


def _step_id_errors(steps: list[Step], existing: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Input step ids that name no step of the campaign, or the same step twice."""
    known = {step["id"] for step in existing}
    seen: set[str] = set()
    errors = []
    for index, step in enumerate(steps):
        if step.id is None:
            continue
        if str(step.id) not in known:
            errors.append(
                field_error(
                    f"steps.{index}.id", "no such step in this campaign (leave `id` out for a new step)"
                )
            )
        elif str(step.id) in seen:
            errors.append(field_error(f"steps.{index}.id", "the same step is given twice"))
        seen.add(str(step.id))
    return errors


async def _check_plan(
    session: AsyncSession,
    principal: Principal,
    kind: str,
    audience: Audience | None,
    steps: list[Step] | None,
    existing_steps: Sequence[dict[str, Any]] = (),
) -> None:
    """Every problem with an audience and steps at once: unknown departments and messages,
    steps timed the wrong way for the kind, step ids the campaign does not have."""
    errors = steps_fit_kind(kind, steps or []) + _step_id_errors(steps or [], existing_steps)
    if audience is not None and audience.departments:
        known = await people_service.existing_department_keys(session, principal, audience.departments)
        errors += [
            field_error(f"audience.departments.{i}", f"no department '{key}'")
            for i, key in enumerate(audience.departments)
            if key not in known
        ]
    wanted = {step.message_id for step in steps or [] if step.message_id}
    found = await messages_service.messages_by_ids(session, principal, wanted) if wanted else {}
    errors += [
        field_error(f"steps.{index}.message_id", "no such message")
        for index, step in enumerate(steps or [])
        if step.message_id and step.message_id not in found
    ]
    if errors:
        raise Invalid("The campaign's plan has problems; see `errors`.", errors=errors)


def _stored_steps(steps: list[Step], existing: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Steps as stored: fixed times in UTC, whatever offset they were sent with, each with its id
    (text): the one it was given; else, for a step equal in every field to an existing step no
    other input claims, that step's id (a client that resends the plan it read without ids
    changes nothing); else a new one."""
    claimed = {str(step.id) for step in steps if step.id}
    unclaimed = [step for step in existing if step["id"] not in claimed]
    stored = []
    for step in steps:
        body = step.model_copy(update={"at": step.at.astimezone(UTC) if step.at else None}).model_dump(
            mode="json", exclude={"id"}
        )
        step_id = str(step.id) if step.id else None
        if step_id is None:
            same = next((s for s in unclaimed if {k: v for k, v in s.items() if k != "id"} == body), None)
            if same is not None:
                unclaimed.remove(same)
            step_id = same["id"] if same is not None else str(uuid.uuid4())
        stored.append({"id": step_id, **body})
    return stored


@transactional
async def create_campaign(session: AsyncSession, principal: Principal, data: CampaignCreate) -> CampaignRead:
    """Plans a campaign for a brief (status planned)."""
    if not policies.can_manage(principal):
        raise Forbidden("Only editors and admins plan campaigns.")
    try:
        brief = await briefs_service.get_brief(session, principal, data.brief_id)
    except NotFound as exc:
        raise Invalid("Unknown brief.", errors=[field_error("brief_id", "no such brief")]) from exc
    await _check_plan(session, principal, data.kind, data.audience, data.steps)
    campaign = Campaign(
        brief_id=brief.id,
        lineage_id=brief.lineage_id,
        product_id=brief.product_id,
        name=data.name,
        kind=data.kind,
        audience_departments=list(dict.fromkeys(data.audience.departments)),
        audience_roles=list(dict.fromkeys(data.audience.roles)),
        steps=_stored_steps(data.steps),
        created_by_id=principal.person_id,
    )
    await repository.add(session, campaign)
    return await _read_one(session, principal, campaign)


@transactional
async def update_campaign(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    data: CampaignUpdate,
    *,
    if_match: str | None,
) -> CampaignRead:
    """Changes a planned or active campaign (If-Match required); a new audience re-enrolls."""
    campaign = await visible_campaign(session, principal, campaign_id, lock=True)
    if not policies.can_manage(principal):
        raise Forbidden("Only editors and admins change campaigns.")
    check_if_match(if_match, campaign_etag(campaign), required=True)
    if campaign.status not in ("planned", "active"):
        raise Conflict(f"A {campaign.status} campaign cannot be changed.")
    changes = data.model_fields_set
    for name in ("name", "audience", "steps"):
        if name in changes and getattr(data, name) is None:
            raise Invalid(f"{name} cannot be null.", errors=[field_error(name, "cannot be null")])
    await _check_plan(session, principal, campaign.kind, data.audience, data.steps, campaign.steps)
    if campaign.status == "active" and data.steps is not None and not data.steps:
        raise Invalid("An active campaign needs at least one step.", errors=[field_error("steps", "empty")])
    if data.name is not None:
        campaign.name = data.name
    if data.steps is not None:
        campaign.steps = _stored_steps(data.steps, campaign.steps)
    audience_changed = False
    if data.audience is not None:
        departments = list(dict.fromkeys(data.audience.departments))
        roles: list[str] = list(dict.fromkeys(data.audience.roles))
        audience_changed = (departments, roles) != (campaign.audience_departments, campaign.audience_roles)
        campaign.audience_departments, campaign.audience_roles = departments, roles
    _touch(campaign)
    await session.flush()
    if campaign.status == "active" and (audience_changed or data.steps is not None):
        await enrollment.resync_campaign(session, campaign)
    return await _read_one(session, principal, campaign)


async def _current_version(session: AsyncSession, principal: Principal, campaign: Campaign) -> CurrentVersion:
    current = await briefs_service.current_versions(session, principal, [campaign.lineage_id])
    if campaign.lineage_id not in current:
        raise Conflict("The campaign's brief has no published version.")
    return current[campaign.lineage_id]


@transactional
async def activate_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> CampaignRead:
    """Starts a planned campaign and enrolls every active person in its audience."""
    campaign = await visible_campaign(session, principal, campaign_id, lock=True)
    if not policies.can_manage(principal):
        raise Forbidden("Only editors and admins run campaigns.")
    if campaign.status != "planned":
        raise Conflict(f"Only a planned campaign can be activated; this one is {campaign.status}.")
    if not campaign.steps:
        raise Conflict("Add at least one step before activating the campaign.")
    await _current_version(session, principal, campaign)
    campaign.status = "active"
    campaign.activated_at = utcnow()
    _touch(campaign)
    await session.flush()
    enrolled = await enrollment.enroll_audience(session, campaign)
    read = await _read_one(session, principal, campaign)
    emit(
        session,
        EventType.CAMPAIGN_ACTIVATED,
        {
            "campaign_id": campaign.id,
            "name": campaign.name,
            "kind": campaign.kind,
            "product_key": read.product_key,
            "lineage_id": campaign.lineage_id,
            "enrolled": enrolled,
            "activated_at": campaign.activated_at,
        },
        product_key=read.product_key,
    )
    return read


@transactional
async def _close(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    *,
    to: str,
    allowed_from: tuple[str, ...],
) -> CampaignRead:
    campaign = await visible_campaign(session, principal, campaign_id, lock=True)
    if not policies.can_manage(principal):
        raise Forbidden("Only editors and admins run campaigns.")
    if campaign.status not in allowed_from:
        raise Conflict(
            f"A {campaign.status} campaign cannot become {to}; allowed from: {', '.join(allowed_from)}."
        )
    campaign.status = to
    setattr(campaign, f"{to}_at", utcnow())
    _touch(campaign)
    return await _read_one(session, principal, campaign)


async def complete_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> CampaignRead:
    """Closes an active campaign; its enrollments and answers stay for readiness."""
    return await _close(session, principal, campaign_id, to="completed", allowed_from=("active",))


async def cancel_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> CampaignRead:
    """Cancels a planned or active campaign."""
    return await _close(session, principal, campaign_id, to="cancelled", allowed_from=("planned", "active"))


# --- enrollments ---------------------------------------------------------------------------------


def _audience_department(principal: Principal) -> tuple[bool, uuid.UUID | None]:
    allowed, department = policies.readiness_scope(principal)
    if not allowed:
        raise Forbidden("Only editors, admins and managers see a campaign's audience.")
    return allowed, department


async def list_enrollments(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    params: PageParams,
    *,
    current_only: bool = False,
) -> Page[EnrollmentRead]:
    """Lists a campaign's audience, past members included unless `current_only`; managers see
    their own department's people."""
    campaign = await visible_campaign(session, principal, campaign_id)
    _, department = _audience_department(principal)
    if principal.has_role(Role.MANAGER) and department is None:
        return Page(items=[], next_cursor=None)
    page = await repository.list_enrollments(
        session, params, campaign_id=campaign.id, department_id=department, current_only=current_only
    )
    return Page(items=[EnrollmentRead.model_validate(e) for e in page.rows], next_cursor=page.next_cursor)


# --- acknowledgements and checks -----------------------------------------------------------------


async def _enrolled(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> tuple[Campaign, Enrollment]:
    """The caller's place (locked) in a running campaign, or why they cannot answer it."""
    if not principal.is_person or principal.person_id is None:
        raise Forbidden("Only people acknowledge, answer checks and confirm attendance, for themselves.")
    campaign = await visible_campaign(session, principal, campaign_id)
    member = await repository.get_enrollment(session, campaign.id, principal.person_id, for_update=True)
    if member is None or member.left_at is not None:
        raise Forbidden("You are not in this campaign's audience.")
    if campaign.status != "active":
        raise Conflict(f"The campaign is {campaign.status}; only an active campaign takes answers.")
    return campaign, member


async def _member(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> tuple[Campaign, Enrollment, CurrentVersion]:
    """The caller's place in a running campaign and its brief's current version, or why they
    cannot answer it."""
    campaign, member = await _enrolled(session, principal, campaign_id)
    return campaign, member, await _current_version(session, principal, campaign)


async def _acknowledge_version(
    session: AsyncSession, person_id: uuid.UUID, campaign_id: uuid.UUID, current: CurrentVersion
) -> uuid.UUID | None:
    """Records the acknowledgement and emits acknowledgement.recorded; None when a concurrent
    request recorded it first (nothing new, nothing emitted)."""
    ack_id = await repository.insert_acknowledgement(
        session,
        person_id=person_id,
        campaign_id=campaign_id,
        brief_id=current.brief_id,
        lineage_id=current.lineage_id,
        version=current.version,
    )
    if ack_id is not None:
        emit(
            session,
            EventType.ACKNOWLEDGEMENT_RECORDED,
            {
                "acknowledgement_id": ack_id,
                "person_id": person_id,
                "campaign_id": campaign_id,
                "brief_id": current.brief_id,
                "lineage_id": current.lineage_id,
                "version": current.version,
            },
        )
    return ack_id


@transactional
async def acknowledge(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> tuple[AcknowledgementRead, bool]:
    """Records that the caller read the campaign's current brief version; idempotent (the
    existing acknowledgement and False when it is already there)."""
    campaign, _member_row, current = await _member(session, principal, campaign_id)
    person_id = principal.person_id
    assert person_id is not None
    existing = await repository.acknowledgement_since(
        session, person_id, current.lineage_id, current.basis_version
    )
    if existing is not None:
        return AcknowledgementRead.model_validate(existing), False
    new_id = await _acknowledge_version(session, person_id, campaign.id, current)
    row = await repository.acknowledgement_since(
        session, person_id, current.lineage_id, current.basis_version
    )
    assert row is not None
    return AcknowledgementRead.model_validate(row), row.id == new_id


@transactional
async def confirm_attendance(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, step_id: uuid.UUID
) -> tuple[AttendanceRead, bool]:
    """Records that the caller attended a briefing step of a campaign they are in, once it is
    due for them; idempotent (the existing record and False when it is already there)."""
    campaign, member = await _enrolled(session, principal, campaign_id)
    person_id = principal.person_id
    assert person_id is not None
    step = next((s for s in campaign.steps if s.get("id") == str(step_id)), None)
    if step is None:
        raise NotFound("No such step in this campaign.")
    if step["channel"] != CampaignChannel.BRIEFING:
        raise Conflict(f"Only a briefing step is attended; this one is a {step['channel']} step.")
    due = step_due_at(step, anchor_of(member.anchor_date))
    if due is None or due > utcnow():
        raise Conflict("This briefing has not taken place yet: confirm attending once it is due.")
    existing = await repository.get_attendance(session, campaign.id, step_id, person_id)
    if existing is not None:
        return AttendanceRead.model_validate(existing), False
    attended_id = await repository.insert_attendance(
        session, campaign_id=campaign.id, step_id=step_id, person_id=person_id
    )
    row = await repository.get_attendance(session, campaign.id, step_id, person_id)
    assert row is not None
    if attended_id is not None:
        products = await products_service.products_by_ids(session, principal, [campaign.product_id])
        product_key = products[campaign.product_id].key
        emit(
            session,
            EventType.CAMPAIGN_STEP_ATTENDED,
            {
                "attendance_id": row.id,
                "campaign_id": campaign.id,
                "product_key": product_key,
                "step_id": step_id,
                "step_index": campaign.steps.index(step),
                "title": step["title"],
                "person_id": person_id,
                "attended_at": row.attended_at,
            },
            product_key=product_key,
        )
    return AttendanceRead.model_validate(row), row.id == attended_id


async def _answer_visibility(
    session: AsyncSession, principal: Principal, person_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, bool]:
    lines = await repository.reporting_lines(session, person_ids)
    return {
        person_id: policies.can_read_answers(
            principal, person_id=person_id, manager_id=manager_id, department_id=department_id
        )
        for person_id, (manager_id, department_id) in lines.items()
    }


class _AnswersScope(TypedDict, total=False):
    reviewer_id: uuid.UUID
    department_id: uuid.UUID | None


def _answers_scope(principal: Principal) -> _AnswersScope:
    """Repository filters limiting a listing to what this caller may read: everything (editors,
    admins), or their own, their direct reports' and — for managers — their department's."""
    if policies.sees_everyones_answers(principal):
        return {}
    if principal.person_id is None:
        raise Forbidden("Acknowledgements and checks are read by people.")
    department = principal.department_id if principal.has_role(Role.MANAGER) else None
    return {"reviewer_id": principal.person_id, "department_id": department}


async def list_acknowledgements(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, params: PageParams
) -> Page[AcknowledgementRead]:
    """Lists the acknowledgements given through a campaign that the caller may read (an
    employee: their own)."""
    campaign = await visible_campaign(session, principal, campaign_id)
    scope = _answers_scope(principal)
    page = await repository.list_acknowledgements(session, params, campaign_id=campaign.id, **scope)
    return Page(
        items=[AcknowledgementRead.model_validate(a) for a in page.rows], next_cursor=page.next_cursor
    )


async def get_acknowledgement(
    session: AsyncSession, principal: Principal, ack_id: uuid.UUID
) -> AcknowledgementRead:
    """Gets an acknowledgement; someone else's is invisible (404) unless you review them."""
    row = await repository.get_acknowledgement(session, ack_id)
    if row is None or not (await _answer_visibility(session, principal, [row.person_id])).get(row.person_id):
        raise NotFound("No such acknowledgement.")
    return AcknowledgementRead.model_validate(row)


@transactional
async def submit_check(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, data: CheckCreate
) -> CheckRead:
    """Submits the caller's comprehension check for the current version (and acknowledges it)."""
    campaign, _member_row, current = await _member(session, principal, campaign_id)
    person_id = principal.person_id
    assert person_id is not None
    for earlier in await repository.checks_since(
        session, person_id, current.lineage_id, current.basis_version
    ):
        if earlier.status == "passed":
            raise Conflict("You already passed the check for this version.")
        if earlier.status == "submitted":
            raise Conflict("Your check for this version is waiting to be graded.")
    now = utcnow()
    check = Check(
        person_id=person_id,
        campaign_id=campaign.id,
        brief_id=current.brief_id,
        lineage_id=current.lineage_id,
        version=current.version,
        answers=data.answers.model_dump(),
        pitch_in_own_words=data.pitch_in_own_words,
        submitted_at=now,
    )
    try:
        await repository.add(session, check)
    except IntegrityError as exc:  # the database's guard: one check waiting per person and version
        raise Conflict("Your check for this version is waiting to be graded.") from exc
    # Explaining it in your own words includes having read it.
    if (
        await repository.acknowledgement_since(session, person_id, current.lineage_id, current.basis_version)
        is None
    ):
        await _acknowledge_version(session, person_id, campaign.id, current)
    emit(
        session,
        EventType.CHECK_SUBMITTED,
        {
            "check_id": check.id,
            "person_id": person_id,
            "campaign_id": campaign.id,
            "brief_id": check.brief_id,
            "version": check.version,
            "submitted_at": now,
        },
    )
    return CheckRead.model_validate(check)


async def _readable_check(
    session: AsyncSession, principal: Principal, check_id: uuid.UUID, *, lock: bool = False
) -> Check:
    check = await repository.get_check(session, check_id, for_update=lock)
    if check is None or not (await _answer_visibility(session, principal, [check.person_id])).get(
        check.person_id
    ):
        raise NotFound("No such check.")
    return check


async def get_check(session: AsyncSession, principal: Principal, check_id: uuid.UUID) -> CheckRead:
    """Gets a check; someone else's is invisible (404) unless you review them."""
    return CheckRead.model_validate(await _readable_check(session, principal, check_id))


async def list_checks(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    campaign_id: uuid.UUID | None = None,
    status: CheckStatus | None = None,
) -> Page[CheckRead]:
    """Lists the checks the caller may read: everyone's (editors, admins), their people's
    (managers), their own (employees); `status=submitted` is the grading queue."""
    scope = _answers_scope(principal)
    page = await repository.list_checks(session, params, campaign_id=campaign_id, status=status, **scope)
    return Page(items=[CheckRead.model_validate(as_dict(c)) for c in page.rows], next_cursor=page.next_cursor)


@transactional
async def grade_check(
    session: AsyncSession, principal: Principal, check_id: uuid.UUID, data: Grade
) -> CheckRead:
    """Grades a submitted check passed or needs_work (an editor, an admin or the person's manager)."""
    check = await _readable_check(session, principal, check_id, lock=True)
    lines = await repository.reporting_lines(session, [check.person_id])
    manager_id, department_id = lines.get(check.person_id, (None, None))
    if not policies.can_grade(
        principal, person_id=check.person_id, manager_id=manager_id, department_id=department_id
    ):
        raise Forbidden("Checks are graded by an editor or the person's manager, never by oneself.")
    if check.status != "submitted":
        raise Conflict(f"This check was already graded ({check.status}).")
    check.status = data.result
    check.comment = data.comment
    check.graded_by_id = principal.person_id
    check.graded_at = utcnow()
    _touch(check)
    emit(
        session,
        EventType.CHECK_GRADED,
        {
            "check_id": check.id,
            "person_id": check.person_id,
            "campaign_id": check.campaign_id,
            "brief_id": check.brief_id,
            "version": check.version,
            "grade": check.status,
            "graded_by": principal.person_id,
            "graded_at": check.graded_at,
        },
    )
    return CheckRead.model_validate(check)


# --- the onboarding interview exercise -------------------------------------------------------------


@transactional
async def record_interview(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, data: InterviewCreate
) -> InterviewRead:
    """Files a new hire's customer interview: each answer becomes a feedback item (source
    `interview`) they follow in their feed. One transaction."""
    campaign, _member_row, _current = await _member(session, principal, campaign_id)
    if not any(step.get("exercise") == "customer_interview" for step in campaign.steps):
        raise Conflict("This campaign has no customer-interview exercise.")
    products = await products_service.products_by_ids(session, principal, [campaign.product_id])
    if data.interviewed_on and data.interviewed_on > utcnow().date():
        raise Invalid(
            "An interview cannot have happened in the future.",
            errors=[field_error("interviewed_on", "is in the future")],
        )
    received = datetime.combine(data.interviewed_on, time(0), tzinfo=UTC) if data.interviewed_on else utcnow()
    # The same interview sent again (a retry) files nothing new: its id comes from its content.
    interview = hashlib.sha256(
        f"{campaign.id}\n{principal.person_id}\n{data.model_dump_json()}".encode()
    ).hexdigest()[:32]
    answered = [(question, answer) for question, answer in data.answers.model_dump().items() if answer]
    items = [
        FeedbackCreate(
            source="interview",
            product_key=products[campaign.product_id].key,
            customer=data.customer,
            body=f"{INTERVIEW_QUESTIONS[question][0]} / {INTERVIEW_QUESTIONS[question][1]}\n{answer}",
            tags=["onboarding", question],
            received_at=received,
        )
        for question, answer in answered
    ]
    # Keys from content, in the filer's own key space (the feedback service prefixes them).
    keys = [f"onboarding-interview-{interview}-{question}" for question, _answer in answered]
    # Filed in this transaction, the enrollment still locked: the answers land with the
    # membership they were checked against, or (on any refusal) none of them.
    filed = await feedback_service.file_feedback_items(session, principal, items, keys=keys)
    return InterviewRead(campaign_id=campaign.id, feedback_ids=[f.id for f in filed])


# --- the feed ----------------------------------------------------------------------------------------


async def my_campaign_steps(session: AsyncSession, principal: Principal) -> list[CampaignStepItem]:
    """The caller's due and upcoming campaign steps, soonest first: what is still asked of them.
    Once they passed the check on the current version, that campaign asks nothing more."""
    if principal.person_id is None:
        return []
    memberships = await repository.active_memberships(session, principal.person_id)
    if not memberships:
        return []
    lineages = {m.lineage_id for m in memberships}
    current = await briefs_service.current_versions(session, principal, lineages)
    acked, checks = await repository.status_by_person(
        session, principal.person_id, {lineage: v.basis_version for lineage, v in current.items()}
    )
    # A step names a message version; it shows the version of that message published now (none
    # while it is withdrawn or expired).
    live_messages = await messages_service.current_version_ids(
        session,
        principal,
        {uuid.UUID(str(s["message_id"])) for m in memberships for s in m.steps if s.get("message_id")},
    )
    now = utcnow()
    steps = []
    for campaign in memberships:
        version = current.get(campaign.lineage_id)
        if version is None:  # the brief was withdrawn: nothing to acknowledge meanwhile
            continue
        status = checks.get(campaign.lineage_id)
        anchor = anchor_of(campaign.anchor_date)
        for index, step in enumerate(campaign.steps):
            due = step_due_at(step, anchor)
            if due is None or status == "passed":
                continue
            steps.append(
                CampaignStepItem(
                    at=due,
                    state="due" if due <= now else "upcoming",
                    campaign_id=campaign.id,
                    campaign_name=campaign.name,
                    campaign_kind=campaign.kind,
                    product_key=campaign.product_key,
                    brief_id=version.brief_id,
                    version=version.version,
                    step_id=step["id"],
                    step_index=index,
                    channel=step["channel"],
                    title=step["title"],
                    message_id=live_messages.get(uuid.UUID(str(step["message_id"])))
                    if step.get("message_id")
                    else None,
                    exercise=step.get("exercise"),
                    acknowledged=campaign.lineage_id in acked,
                    check_status=status,
                )
            )
    steps.sort(key=lambda s: (s.at, s.campaign_name, s.step_index))
    return steps


async def my_active_campaigns(session: AsyncSession, principal: Principal) -> dict[uuid.UUID, str]:
    """The active campaigns the calling person is in, each with its product's key (what their
    live stream follows); empty for anyone else."""
    if principal.person_id is None:
        return {}
    return {
        row.id: row.product_key for row in await repository.active_memberships(session, principal.person_id)
    }
