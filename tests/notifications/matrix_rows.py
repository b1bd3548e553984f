"""Authorization matrix rows for notifications (merged by tests/test_authorization_matrix.py).

Preferences are a person's own (service accounts 403); chat destinations are admins'; a
campaign's deliveries are for admins and editors; nudges for managers (their department's
people: the matrix's manager reaches whoever of theirs is in the audience), editors and admins.
"""

from __future__ import annotations

from typing import Any

from tests.factories import OPERATOR
from tests.matrix import Row, admin_only, authed

# A public address literal: checked without resolving anything, and never sent to here.
CHAT_URL = "https://8.8.8.8/services/T0/B0/abcd"
PERSON_ONLY = authed(200, svc_pitch=403, svc_people=403)
NUDGERS = authed(200, employee=403, svc_pitch=403, svc_people=403)
RECORD_READERS = authed(200, employee=403, manager=403, svc_pitch=403, svc_people=403)


async def _create(app: Any) -> str:
    from service.notifications import destinations
    from service.notifications.schemas import ChatDestinationCreate

    async with app.state.sessionmaker() as session:
        created = await destinations.create_destination(
            session, OPERATOR, ChatDestinationCreate(kind="slack", url=CHAT_URL)
        )
    return str(created.id)


async def _fresh_destination(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    return {"destination_id": await _create(app)}


ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/me/notification-preferences"): Row(PERSON_ONLY),
    ("PUT", "/api/v1/me/notification-preferences"): Row(
        PERSON_ONLY, body=lambda ctx: {"timezone": "Asia/Tokyo", "kinds": {"nudge": {"email": False}}}
    ),
    ("GET", "/api/v1/chat-destinations"): Row(admin_only(200)),
    ("POST", "/api/v1/chat-destinations"): Row(
        admin_only(201), body=lambda ctx: {"kind": "teams", "url": CHAT_URL}
    ),
    ("DELETE", "/api/v1/chat-destinations/{destination_id}"): Row(
        admin_only(204), prepare=_fresh_destination
    ),
    ("POST", "/api/v1/campaigns/{campaign_id}/nudges"): Row(
        NUDGERS, body=lambda ctx: {"state": "not_acknowledged"}
    ),
    ("GET", "/api/v1/campaigns/{campaign_id}/deliveries"): Row(RECORD_READERS),
}

_PERSON_ONLY_GQL = {
    "*": "ok",
    "anonymous": "UNAUTHENTICATED",
    "svc_pitch": "FORBIDDEN",
    "svc_people": "FORBIDDEN",
}
GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {
    "myNotificationPreferences": (
        "{ myNotificationPreferences { timezone kinds { kind email } } }",
        _PERSON_ONLY_GQL,
    ),
    "setMyNotificationPreferences": (
        'mutation { setMyNotificationPreferences(input: {timezone: "Asia/Tokyo"}) { timezone } }',
        _PERSON_ONLY_GQL,
    ),
    "campaignDeliveries": (
        '{ campaignDeliveries(campaignId: "%(campaign_id)s") { edges { node { channel status stepId } } } }',
        {**_PERSON_ONLY_GQL, "employee": "FORBIDDEN", "manager": "FORBIDDEN"},
    ),
    "nudgePeople": (
        'mutation { nudgePeople(campaignId: "%(campaign_id)s", input: {overdue: false}) { nudged skipped } }',
        {**_PERSON_ONLY_GQL, "employee": "FORBIDDEN"},
    ),
}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """A chat destination (the one GET lists); the campaign comes from the campaigns' rows."""
    return {"destination_id": await _create(app)}
