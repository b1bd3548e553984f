"""GraphQL for notifications: your preferences (as REST's `/api/v1/me/notification-preferences`)
and nudges. `kinds` is a list here (GraphQL has no maps keyed by an enum): one entry per kind."""

from __future__ import annotations

import strawberry

from service import graphql_kit as gql
from service.notifications import nudges, preferences, records
from service.notifications.schemas import (
    DeliveryMode,
    DeliveryRecord,
    NotificationChannel,
    NotificationKind,
    NotificationPreferencesRead,
    NotificationPreferencesUpdate,
    NotificationStatus,
    NudgeCreate,
    NudgeResult,
)

gql.graphql_enum(NotificationKind)
# "NotificationChannel" is a campaign step's already: these are where a notification goes.
gql.graphql_enum(NotificationChannel, "NotificationChannel")
gql.graphql_enum(DeliveryMode)
NudgeResultType = gql.view_type(NudgeResult, "NudgeResult")
DeliveryRecordType = gql.view_type(DeliveryRecord, "CampaignDelivery")
NudgeInput = gql.input_type(NudgeCreate, "NudgeInput")


@strawberry.type(
    name="QuietHours", description="A daily window (your local time) with no e-mail or chat posts."
)
class QuietHoursType:
    start: str
    end: str


@strawberry.type(
    name="NotificationKindChannels", description="Whether a kind reaches you by e-mail and in chat."
)
class KindChannelsType:
    kind: NotificationKind
    email: bool
    chat: bool


@strawberry.type(
    name="NotificationPreferences",
    description="Your notification preferences as they apply (defaults filled in for every kind).",
)
class PreferencesType:
    timezone: str
    quiet_hours: QuietHoursType | None
    delivery: DeliveryMode
    kinds: list[KindChannelsType]

    @classmethod
    def of(cls, read: NotificationPreferencesRead) -> PreferencesType:
        return cls(
            timezone=read.timezone,
            quiet_hours=QuietHoursType(start=read.quiet_hours.start, end=read.quiet_hours.end)
            if read.quiet_hours
            else None,
            delivery=read.delivery,
            kinds=[KindChannelsType(kind=k, email=v.email, chat=v.chat) for k, v in read.kinds.items()],
        )


@strawberry.input(name="QuietHoursInput", description="HH:MM (24 h, local time); may wrap midnight.")
class QuietHoursInput:
    start: str
    end: str


@strawberry.input(
    name="NotificationKindChannelsInput", description="A kind's switches; one left out keeps its default."
)
class KindChannelsInput:
    kind: NotificationKind
    email: bool | None = None
    chat: bool | None = None


@strawberry.input(
    name="NotificationPreferencesInput",
    description="Your notification preferences, replacing the stored ones (what is left out takes its default).",
)
class PreferencesInput:
    timezone: str = "UTC"
    quiet_hours: QuietHoursInput | None = None
    delivery: DeliveryMode = DeliveryMode.IMMEDIATE
    kinds: list[KindChannelsInput] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="Your notification preferences (people only).")
    async def my_notification_preferences(self, info: gql.Info) -> PreferencesType:
        return PreferencesType.of(await gql.run(info, preferences.get_my_preferences))

    campaign_deliveries = gql.query(
        records.campaign_deliveries,
        "What a campaign sent to whom (admins and editors), oldest first: one entry per person or chat "
        "destination, step and channel, with its status.",
        campaign_id=strawberry.ID,
        step_id=str | None,
        person_id=strawberry.ID | None,
        status=NotificationStatus | None,
    )


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(
        description="Replace your notification preferences (people only); an unknown time zone, a time "
        "not HH:MM, or a kind named twice is refused."
    )
    async def set_my_notification_preferences(
        self, info: gql.Info, input: PreferencesInput
    ) -> PreferencesType:
        kinds: dict[str, dict[str, bool]] = {}
        duplicate = len({k.kind for k in input.kinds}) != len(input.kinds)
        for entry in input.kinds:
            switches = {
                name: value
                for name, value in (("email", entry.email), ("chat", entry.chat))
                if value is not None
            }
            kinds[entry.kind.value] = switches
        data = gql.parse(
            info,
            NotificationPreferencesUpdate,
            {
                "timezone": input.timezone,
                "quiet_hours": {"start": input.quiet_hours.start, "end": input.quiet_hours.end}
                if input.quiet_hours
                else None,
                "delivery": input.delivery.value,
                "kinds": kinds if not duplicate else {"(named twice)": {}},
            },
        )
        return PreferencesType.of(await gql.run(info, preferences.set_my_preferences, data))

    nudge_people = gql.mutation(
        nudges.nudge,
        "Ask people of an active campaign to catch up (managers: their department; editors, admins: "
        "everyone), each once per UTC day: `personIds`, or a `state` and/or `overdue`.",
        campaign_id=strawberry.ID,
        input=NudgeInput,
    )
