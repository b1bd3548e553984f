"""REST adapter for notifications: your preferences, chat destinations (admins), nudges, and
what a campaign sent to whom."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from service.api.rest import PageDep, json, page_response
from service.auth.dependencies import PrincipalDep
from service.db import SessionDep
from service.notifications import destinations, nudges, preferences, records
from service.notifications.schemas import (
    ChatDestinationCreate,
    ChatDestinationRead,
    DeliveryRecord,
    NotificationPreferencesRead,
    NotificationPreferencesUpdate,
    NotificationStatus,
    NudgeCreate,
    NudgeResult,
)
from service.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["notifications"])


@router.get("/me/notification-preferences", response_model=NotificationPreferencesRead)
async def get_my_notification_preferences(session: SessionDep, principal: PrincipalDep) -> Response:
    """Your notification preferences as they apply (people only): time zone, quiet hours,
    `immediate` or `daily_digest`, and per kind whether it reaches you by e-mail and in chat
    (defaults filled in). The feed keeps every notification whatever these say."""
    return json(await preferences.get_my_preferences(session, principal))


@router.put("/me/notification-preferences", response_model=NotificationPreferencesRead)
async def set_my_notification_preferences(
    body: NotificationPreferencesUpdate, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Replace your notification preferences (people only); what you leave out takes its
    default. An unknown time zone, a time not HH:MM or an unknown kind is a 422, nothing saved."""
    return json(await preferences.set_my_preferences(session, principal, body))


@router.post("/chat-destinations", status_code=201, response_model=ChatDestinationRead)
async def create_chat_destination(
    body: ChatDestinationCreate, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Add a Slack or Teams incoming webhook for a department (`department_key`) or the whole
    company (admins). The URL must be https and reach a public address unless its host is in
    `CUECARD_WEBHOOK_ALLOW_HOSTS` (422 otherwise); it is shown masked from now on."""
    created = await destinations.create_destination(session, principal, body)
    return json(created, status_code=201, headers={"Location": f"/api/v1/chat-destinations/{created.id}"})


@router.get("/chat-destinations", response_model=Page[ChatDestinationRead])
async def list_chat_destinations(
    request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """List chat destinations, oldest first, URLs masked (admins)."""
    return page_response(request, await destinations.list_destinations(session, principal, page))


@router.delete("/chat-destinations/{destination_id}", status_code=204)
async def delete_chat_destination(
    destination_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Remove a chat destination (admins): nothing more is posted to it."""
    await destinations.delete_destination(session, principal, destination_id)
    return Response(status_code=204)


@router.post("/campaigns/{campaign_id}/nudges", response_model=NudgeResult)
async def nudge_people(
    campaign_id: uuid.UUID, body: NudgeCreate, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Ask people of an active campaign to catch up: `person_ids`, or everyone in a `state`
    and/or `overdue` (optional `note`). Managers reach their own department's people, editors
    and admins everyone; each person once per UTC day, through the channel they prefer (the
    feed always, e-mail when they want nudges by e-mail). `skipped`: nudged already today, or
    not yours to nudge."""
    return json(await nudges.nudge(session, principal, campaign_id, body))


@router.get("/campaigns/{campaign_id}/deliveries", response_model=Page[DeliveryRecord])
async def list_campaign_deliveries(
    request: Request,
    campaign_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    step_id: Annotated[str | None, Query(max_length=64, description="Only this step's.")] = None,
    person_id: Annotated[uuid.UUID | None, Query(description="Only this person's.")] = None,
    status: Annotated[NotificationStatus | None, Query(description="Only in this status.")] = None,
) -> Response:
    """What the campaign sent to whom (admins and editors), oldest first: one row per person or
    chat destination, step and channel (`intranet`, `email`, `chat`), with its status, attempts,
    when it was sent and why it failed or was cancelled."""
    result = await records.campaign_deliveries(
        session, principal, campaign_id, page, step_id=step_id, person_id=person_id, status=status
    )
    return page_response(request, result)
