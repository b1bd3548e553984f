"""Which events a person's stream carries: one function of the event and what we know of the
person, so what a person may see is decided in one place (and tested from the refused side).

A person sees what their feed is about, and nothing about anyone else:
- events about them (`person_id` is theirs): campaign steps due, overdue, acknowledgements,
  briefings attended and checks;
- news of the products their active campaigns are about (their audiences): the pitch, the
  published brief, messages published for their department (or everyone);
- their campaigns starting, and the feedback they filed moving on.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.events.catalogue import EventType
from service.messages.schemas import EVERYONE

ABOUT_THE_PERSON = frozenset(
    {
        EventType.CAMPAIGN_STEP_DUE,
        EventType.CAMPAIGN_PERSON_OVERDUE,
        EventType.CAMPAIGN_REMINDER_DUE,
        EventType.ACKNOWLEDGEMENT_RECORDED,
        EventType.CAMPAIGN_STEP_ATTENDED,
        EventType.CHECK_SUBMITTED,
        EventType.CHECK_GRADED,
        EventType.CHECK_WAITING,
    }
)
ABOUT_THEIR_PRODUCTS = frozenset(
    {
        EventType.PITCH_CHANGED,
        EventType.BRIEF_PUBLISHED,
        EventType.MESSAGE_WITHDRAWN,
        EventType.MESSAGE_EXPIRED,
    }
)
# The types a person's stream reads from the outbox at all (the rest never reach `relevant`).
PERSON_TYPES = frozenset(
    {
        *ABOUT_THE_PERSON,
        *ABOUT_THEIR_PRODUCTS,
        EventType.MESSAGE_PUBLISHED,
        EventType.CAMPAIGN_ACTIVATED,
        EventType.FEEDBACK_TRANSITIONED,
    }
)


@dataclass(frozen=True)
class PersonContext:
    """What a person's stream knows of them, loaded at connect and refreshed now and then."""

    person_id: uuid.UUID
    department_key: str | None
    campaign_ids: frozenset[uuid.UUID]
    product_keys: frozenset[str]
    filed_feedback_ids: frozenset[uuid.UUID]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def relevant(event_type: str, data: Mapping[str, Any], product_key: str | None, ctx: PersonContext) -> bool:
    """Whether the person `ctx` describes sees this event on their stream."""
    if event_type in ABOUT_THE_PERSON:
        return _uuid(data.get("person_id")) == ctx.person_id
    product = product_key or data.get("product_key")
    if event_type in ABOUT_THEIR_PRODUCTS:
        return product in ctx.product_keys
    if event_type == EventType.MESSAGE_PUBLISHED:
        audiences = data.get("audiences") or []
        for_them = EVERYONE in audiences or (
            ctx.department_key is not None and ctx.department_key in audiences
        )
        return product in ctx.product_keys and for_them
    if event_type == EventType.CAMPAIGN_ACTIVATED:
        return _uuid(data.get("campaign_id")) in ctx.campaign_ids
    if event_type == EventType.FEEDBACK_TRANSITIONED:
        return _uuid(data.get("feedback_id")) in ctx.filed_feedback_ids
    return False
