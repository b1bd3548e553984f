"""GraphQL for notifications: your preferences (as REST's `/api/v1/me/notification-preferences`)
and nudges. `kinds` is a list here (GraphQL has no maps keyed by an enum): one entry per kind."""

from __future__ import annotations

from typing import Any

import strawberry
from pydantic import field_validator

from service import graphql_kit as gql
from service.notifications import nudges, preferences, records
from service.notifications.schemas import (
    DeliveryRecord,
    KindChannels,
    KindChannelsUpdate,
    NotificationKind,
    NotificationPreferencesRead,
    NotificationPreferencesUpdate,
    NotificationStatus,
    NudgeCreate,
    NudgeResult,
    QuietHours,
)

NudgeResultType = gql.view_type(NudgeResult, "NudgeResult")
DeliveryRecordType = gql.view_type(DeliveryRecord, "CampaignDelivery")
NudgeInput = gql.input_type(NudgeCreate, "NudgeInput")
HHMM = "start end"  # the types say what HH:MM is; the fields stay undescribed, as the contract has them
QuietHoursType = gql.view_type(
    QuietHours,
    "QuietHours",
    "A daily window (your local time) with no e-mail or chat posts.",
    undescribed=HHMM,
)
QuietHoursInput = gql.input_type(
    QuietHours, "QuietHoursInput", "HH:MM (24 h, local time); may wrap midnight.", undescribed=HHMM
)


class _KindChannels(KindChannels):  # an entry of `kinds`
    kind: NotificationKind


class _KindChannelsUpdate(KindChannelsUpdate):
    kind: NotificationKind


class _PreferencesUpdate(NotificationPreferencesUpdate):  # `kinds` as GraphQL sends them: entries
    @field_validator("kinds", mode="before")
    @classmethod
    def _by_kind(cls, entries: Any) -> Any:
        if not isinstance(entries, list):
            return entries
        kinds = {entry.pop("kind"): entry for entry in entries}
        if len(kinds) < len(entries):
            raise ValueError("a kind is named twice")
        return kinds


KindChannelsType = gql.view_type(
    _KindChannels,
    "NotificationKindChannels",
    "Whether a kind reaches you by e-mail and in chat.",
    fields="kind email chat",
)
KindChannelsInput = gql.input_type(
    _KindChannelsUpdate,
    "NotificationKindChannelsInput",
    "A kind's switches; one left out keeps its default.",
    fields="kind email chat",
)


def _kinds(root: strawberry.Parent[NotificationPreferencesRead]) -> list[KindChannelsType]:
    return [_KindChannels(kind=kind, **channels.model_dump()) for kind, channels in root.kinds.items()]


@gql.view(NotificationPreferencesRead, name="NotificationPreferences", undescribed="timezone")
class PreferencesType:
    """Your notification preferences as they apply (defaults filled in for every kind)."""

    kinds: list[KindChannelsType] = strawberry.field(resolver=_kinds)


@gql.input_of(_PreferencesUpdate, name="NotificationPreferencesInput")
class PreferencesInput:
    """Your notification preferences, replacing the stored ones (what is left out takes its default)."""

    kinds: list[KindChannelsInput] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationRoot:
    my_notification_preferences = gql.query(
        preferences.get_my_preferences, "Your notification preferences (people only)."
    )
    campaign_deliveries = gql.query(
        records.campaign_deliveries,
        "What a campaign sent to whom (admins and editors), oldest first: one entry per person or chat "
        "destination, step and channel, with its status.",
        campaign_id=strawberry.ID,
        step_id=str | None,
        person_id=strawberry.ID | None,
        status=NotificationStatus | None,
    )
    set_my_notification_preferences = gql.mutation(
        preferences.set_my_preferences,
        "Replace your notification preferences (people only); an unknown time zone, a time not HH:MM, "
        "or a kind named twice is refused.",
        input=PreferencesInput,
    )
    nudge_people = gql.mutation(
        nudges.nudge,
        "Ask people of an active campaign to catch up (managers: their department; editors, admins: "
        "everyone), each once per UTC day: `personIds`, or a `state` and/or `overdue`.",
        campaign_id=strawberry.ID,
        input=NudgeInput,
    )
