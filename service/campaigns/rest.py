"""REST adapter for campaigns, acknowledgements, checks, readiness and the interview exercise."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from service.api.idempotency import IdempotencyKey, idempotent
from service.api.rest import NOT_MODIFIED, PageDep, ReadSessionDep, json, page_response, resource_response
from service.auth.dependencies import PrincipalDep
from service.campaigns import readiness as readiness_service
from service.campaigns import service as campaigns_service
from service.campaigns.schemas import (
    AcknowledgementRead,
    AttendanceRead,
    CampaignCreate,
    CampaignKind,
    CampaignPerson,
    CampaignRead,
    CampaignReadiness,
    CampaignStatus,
    CampaignUpdate,
    CheckCreate,
    CheckRead,
    CheckStatus,
    EnrollmentRead,
    Grade,
    InterviewCreate,
    InterviewRead,
    OrganisationReadiness,
    PersonState,
)
from service.concurrency import etag
from service.db import SessionDep
from service.fields import Slug
from service.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["campaigns"])


def _campaign(request: Request, campaign: CampaignRead, status_code: int = 200) -> Response:
    location = f"/api/v1/campaigns/{campaign.id}" if status_code == 201 else None
    return resource_response(
        request,
        campaign,
        campaigns_service.campaign_etag(campaign),
        status_code=status_code,
        location=location,
    )


def _check(request: Request, check: CheckRead, status_code: int = 200) -> Response:
    location = f"/api/v1/checks/{check.id}" if status_code == 201 else None
    return resource_response(
        request, check, campaigns_service.check_etag(check), status_code=status_code, location=location
    )


@router.get("/campaigns", response_model=Page[CampaignRead])
async def list_campaigns(
    request: Request,
    session: ReadSessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status: Annotated[CampaignStatus | None, Query()] = None,
    kind: Annotated[CampaignKind | None, Query()] = None,
    brief_id: Annotated[uuid.UUID | None, Query(description="Any version of the brief.")] = None,
) -> Response:
    """List campaigns (employees: the ones they are or were in)."""
    result = await campaigns_service.list_campaigns(
        session, principal, page, status=status, kind=kind, brief_id=brief_id
    )
    return page_response(request, result)


@router.post("/campaigns", status_code=201, response_model=CampaignRead)
async def create_campaign(
    request: Request,
    body: CampaignCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Plan a campaign for a brief: audience (department keys, roles; empty = everyone) and steps
    (`at` for launch and reinforcement, `day_offset` from the hire date for onboarding)."""

    async def produce() -> Response:
        return _campaign(request, await campaigns_service.create_campaign(session, principal, body), 201)

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/campaigns/{campaign_id}", response_model=CampaignRead, responses=NOT_MODIFIED)
async def get_campaign(
    request: Request, campaign_id: uuid.UUID, session: ReadSessionDep, principal: PrincipalDep
) -> Response:
    """Get a campaign."""
    return _campaign(request, await campaigns_service.get_campaign(session, principal, campaign_id))


@router.patch("/campaigns/{campaign_id}", response_model=CampaignRead)
async def update_campaign(
    request: Request,
    campaign_id: uuid.UUID,
    body: CampaignUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: Annotated[str | None, Header(description="The ETag you last read (required).")] = None,
) -> Response:
    """Change a planned or active campaign (If-Match required: 428 without, 412 when stale).
    A new audience on an active campaign enrolls whoever now matches and lets go of the rest."""
    updated = await campaigns_service.update_campaign(
        session, principal, campaign_id, body, if_match=if_match
    )
    return _campaign(request, updated)


@router.post("/campaigns/{campaign_id}/activate", response_model=CampaignRead)
async def activate_campaign(
    request: Request, campaign_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Start a planned campaign: every active person in its audience is enrolled (409 without
    steps or without a published brief version)."""
    return _campaign(request, await campaigns_service.activate_campaign(session, principal, campaign_id))


@router.post("/campaigns/{campaign_id}/complete", response_model=CampaignRead)
async def complete_campaign(
    request: Request, campaign_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Close an active campaign (its readiness stays readable)."""
    return _campaign(request, await campaigns_service.complete_campaign(session, principal, campaign_id))


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignRead)
async def cancel_campaign(
    request: Request, campaign_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Cancel a planned or active campaign."""
    return _campaign(request, await campaigns_service.cancel_campaign(session, principal, campaign_id))


@router.get("/campaigns/{campaign_id}/enrollments", response_model=Page[EnrollmentRead])
async def list_enrollments(
    request: Request,
    campaign_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    current: Annotated[bool, Query(description="Only people still in the audience.")] = False,
) -> Response:
    """The campaign's audience, people who left included (`left_at`) unless `current=true`;
    managers see their own department."""
    result = await campaigns_service.list_enrollments(
        session, principal, campaign_id, page, current_only=current
    )
    return page_response(request, result)


@router.get("/campaigns/{campaign_id}/readiness", response_model=CampaignReadiness)
async def campaign_readiness(
    campaign_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Audience, acknowledged, passed and overdue for the brief's current version, and `attended`
    (confirmed attending a briefing step), in total and per department (managers: their own
    department)."""
    return json(await readiness_service.campaign_readiness(session, principal, campaign_id))


@router.get("/campaigns/{campaign_id}/people", response_model=Page[CampaignPerson])
async def campaign_people(
    request: Request,
    campaign_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    state: Annotated[PersonState | None, Query(description="Only people in this state.")] = None,
    overdue: Annotated[
        bool | None, Query(description="Only people who are (true) or are not overdue.")
    ] = None,
    department: Annotated[Slug | None, Query(description="Only this department's people (its key).")] = None,
) -> Response:
    """Who is behind: the people in the campaign's audience, in enrollment order, each with where
    they stand on the brief's current version (`state`, the first that applies: `passed`,
    `not_acknowledged`, `check_pending`, `needs_work`, `acknowledged`) and whether they are
    `overdue` (the campaign's last step is due for them and they have not passed) — the people
    behind the readiness counts. Editors, admins and `campaigns:read`; managers see their own
    department's people (403 for another `department`)."""
    result = await readiness_service.campaign_people(
        session, principal, campaign_id, page, state=state, overdue=overdue, department=department
    )
    return page_response(request, result)


@router.get("/readiness", response_model=OrganisationReadiness)
async def organisation_readiness(session: SessionDep, principal: PrincipalDep) -> Response:
    """Can our people state what makes us worth buying, in the customer's words? Per product with
    a published pitch: the share of its campaign audiences that passed a check on the current
    version, in total and per department (editors and admins; managers: their own department)."""
    return json(await readiness_service.organisation_readiness(session, principal))


@router.post(
    "/campaigns/{campaign_id}/acknowledgements",
    status_code=201,
    response_model=AcknowledgementRead,
    responses={200: {"model": AcknowledgementRead, "description": "Already acknowledged: the same one."}},
)
async def acknowledge(
    request: Request, campaign_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Acknowledge the campaign's current brief version yourself. Idempotent: 201 the first
    time, then 200 with the same acknowledgement (also under concurrent double clicks)."""
    ack, created = await campaigns_service.acknowledge(session, principal, campaign_id)
    return resource_response(
        request,
        ack,
        etag(1),
        status_code=201 if created else 200,
        location=f"/api/v1/acknowledgements/{ack.id}",
    )


@router.post(
    "/campaigns/{campaign_id}/steps/{step_id}/attendance",
    status_code=201,
    response_model=AttendanceRead,
    responses={200: {"model": AttendanceRead, "description": "Already confirmed: the same record."}},
)
async def confirm_attendance(
    request: Request, campaign_id: uuid.UUID, step_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Confirm yourself that you attended a `briefing` step of a campaign you are in, once it is
    due for you (409 before; 409 for a step that is not a briefing or a campaign not active; 403
    outside its audience; 404 for a step it does not have). Idempotent: 201 the first time, then
    200 with the same record. Readiness counts you as `attended`."""
    attendance, created = await campaigns_service.confirm_attendance(session, principal, campaign_id, step_id)
    return resource_response(request, attendance, etag(1), status_code=201 if created else 200)


@router.get("/campaigns/{campaign_id}/acknowledgements", response_model=Page[AcknowledgementRead])
async def list_acknowledgements(
    request: Request, campaign_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """Acknowledgements given through this campaign that you may read (employees: their own)."""
    return page_response(
        request, await campaigns_service.list_acknowledgements(session, principal, campaign_id, page)
    )


@router.get(
    "/acknowledgements/{acknowledgement_id}", response_model=AcknowledgementRead, responses=NOT_MODIFIED
)
async def get_acknowledgement(
    request: Request, acknowledgement_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """One acknowledgement (yours, or of someone you review; otherwise 404)."""
    ack = await campaigns_service.get_acknowledgement(session, principal, acknowledgement_id)
    return resource_response(request, ack, etag(1))


@router.post("/campaigns/{campaign_id}/checks", status_code=201, response_model=CheckRead)
async def submit_check(
    request: Request,
    campaign_id: uuid.UUID,
    body: CheckCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Answer the comprehension check yourself: the three gut-check answers and the pitch in
    your own words (409 while one waits for a grade or after you passed this version)."""

    async def produce() -> Response:
        return _check(
            request, await campaigns_service.submit_check(session, principal, campaign_id, body), 201
        )

    return await idempotent(request, principal, produce, key=idempotency_key)


@router.get("/checks", response_model=Page[CheckRead])
async def list_checks(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    campaign_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[CheckStatus | None, Query(description="`submitted` is the grading queue.")] = None,
) -> Response:
    """Checks you may read: everyone's (editors, admins), your people's (managers), your own."""
    result = await campaigns_service.list_checks(
        session, principal, page, campaign_id=campaign_id, status=status
    )
    return page_response(request, result)


@router.get("/checks/{check_id}", response_model=CheckRead, responses=NOT_MODIFIED)
async def get_check(
    request: Request, check_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """One check (yours, or of someone you review; otherwise 404)."""
    return _check(request, await campaigns_service.get_check(session, principal, check_id))


@router.post("/checks/{check_id}/grade", response_model=CheckRead)
async def grade_check(
    request: Request, check_id: uuid.UUID, body: Grade, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Grade a submitted check `passed` or `needs_work` (with a comment): an editor, an admin or
    the person's manager; nobody grades their own."""
    return _check(request, await campaigns_service.grade_check(session, principal, check_id, body))


@router.post("/campaigns/{campaign_id}/interviews", status_code=201, response_model=InterviewRead)
async def record_interview(
    request: Request,
    campaign_id: uuid.UUID,
    body: InterviewCreate,
    session: SessionDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """The onboarding customer-interview exercise: each answer (why did you choose us, what was
    inconvenient, why do people not buy) becomes a feedback item of source `interview` that you
    follow in your feed. Accepts an Idempotency-Key."""

    async def produce() -> Response:
        recorded = await campaigns_service.record_interview(session, principal, campaign_id, body)
        return json(recorded, status_code=201)

    return await idempotent(request, principal, produce, key=idempotency_key)
