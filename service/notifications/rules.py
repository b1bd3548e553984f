"""What a person wants, and when it may reach them: the rules both the fan-out (deciding which
rows to write) and the sender (deciding, at send time, whether a row is still wanted) apply.

Pure functions over `Preferences`, plus one loader. Times are UTC; quiet hours and the digest
hour are the person's local time (their IANA time zone).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.notifications.models import NotificationPreferences
from service.notifications.schemas import DeliveryMode, NotificationChannel, NotificationKind

# Personal notifications go by e-mail unless turned off. Chat is a department's channel, so
# only a campaign step's post goes there by default; a person may ask for a kind in chat too
# (it is posted to their department's destination, naming them).
DEFAULT_CHANNELS: dict[NotificationKind, dict[NotificationChannel, bool]] = {
    kind: {NotificationChannel.EMAIL: True, NotificationChannel.CHAT: kind is NotificationKind.CAMPAIGN_STEP}
    for kind in NotificationKind
}


def parse_hhmm(value: str) -> time:
    """ "22:30" → time(22, 30); raises ValueError on anything else."""
    hours, sep, minutes = value.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError("a time of day is HH:MM (24 h), e.g. 22:00")
    return time(int(hours), int(minutes))


def zone(name: str) -> ZoneInfo:
    """The IANA zone; raises ValueError for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Asia/Tokyo") from exc


@dataclass(frozen=True)
class Preferences:
    timezone: str = "UTC"
    quiet_start: time | None = None
    quiet_end: time | None = None
    delivery: DeliveryMode = DeliveryMode.IMMEDIATE
    # {kind: {channel: bool}} as the person set them; missing entries keep the default.
    kinds: dict[str, dict[str, bool]] = field(default_factory=dict)

    @classmethod
    def of(cls, row: NotificationPreferences | None) -> Preferences:
        if row is None:
            return cls()
        return cls(
            timezone=row.timezone,
            quiet_start=parse_hhmm(row.quiet_start) if row.quiet_start else None,
            quiet_end=parse_hhmm(row.quiet_end) if row.quiet_end else None,
            delivery=DeliveryMode(row.delivery),
            kinds={k: dict(v) for k, v in (row.kinds or {}).items()},
        )

    def wants(self, kind: NotificationKind | str, channel: NotificationChannel | str) -> bool:
        """Whether this kind may reach the person on this channel. The intranet (feed, live
        stream) keeps everything, whatever the switches say."""
        channel = NotificationChannel(channel)
        if channel is NotificationChannel.INTRANET:
            return True
        kind = NotificationKind(kind)
        chosen = self.kinds.get(kind.value, {}).get(channel.value)
        return DEFAULT_CHANNELS[kind][channel] if chosen is None else bool(chosen)

    def in_quiet_hours(self, at: datetime) -> bool:
        if self.quiet_start is None or self.quiet_end is None or self.quiet_start == self.quiet_end:
            return False
        local = at.astimezone(zone(self.timezone)).time()
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end  # wraps midnight

    def next_send_time(self, at: datetime, *, digest_hour: int) -> datetime:
        """The earliest UTC time at or after `at` an e-mail or chat post may go out: the next
        digest hour for a daily digest, else the end of quiet hours when `at` falls in them."""
        tz = zone(self.timezone)
        local = at.astimezone(tz)
        if self.delivery is DeliveryMode.DAILY_DIGEST:
            slot = local.replace(hour=digest_hour, minute=0, second=0, microsecond=0)
            if slot < local:
                slot = (local + timedelta(days=1)).replace(
                    hour=digest_hour, minute=0, second=0, microsecond=0
                )
            return slot.astimezone(UTC)
        if not self.in_quiet_hours(at):
            return at
        assert self.quiet_end is not None
        end = local.replace(hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0, microsecond=0)
        if end <= local:
            end = (local + timedelta(days=1)).replace(
                hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0, microsecond=0
            )
        return end.astimezone(UTC)


async def preferences_of(
    session: AsyncSession, person_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Preferences]:
    """Everyone's preferences in one query; people without a row get the defaults."""
    ids = set(person_ids)
    if not ids:
        return {}
    rows = (
        await session.execute(
            sa.select(NotificationPreferences).where(col(NotificationPreferences.person_id).in_(ids))
        )
    ).scalars()
    found = {row.person_id: Preferences.of(row) for row in rows}
    return {person_id: found.get(person_id, Preferences()) for person_id in ids}
