"""The sender: notification rows that are due go out by e-mail or to chat, once each.

`send_due` is what the worker's `notify` job calls. Like webhook delivery
(service/webhooks/delivery.py) it claims due rows (PostgreSQL `FOR UPDATE SKIP LOCKED`; on
SQLite the locking read takes the write lock), marks them `sending` under a lease and commits;
sends outside any transaction; then records each outcome in a transaction of its own: `sent`,
`pending` again after a full-jitter wait, or `failed` once the give-up window has passed.

Before anything is sent, in the claim's transaction, each row is asked again whether it is
still wanted: its person active, the kind and channel still on in their preferences, still in
the campaign's audience (a campaign step or reminder), not acknowledged meanwhile (a reminder),
the campaign not called off. A row that no longer holds is `cancelled` with its reason. A row
falling in quiet hours set after it was written waits for their end.

A daily-digest e-mail row (`data.digest`) goes out together with every other due digest
e-mail row of the same person, as ONE message. With no SMTP server configured, e-mail rows
are cancelled ("e-mail is not configured") when they fall due, so they do not pile up.

At least once: a worker that dies between sending and recording leaves its lease to run out,
and the row is claimed and sent again, with the same Message-ID (`<row id@host>`), so a mail
client or a receiver can tell the copy. A row is sent at most once otherwise.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from service.auth.principal import Principal
from service.briefs import service as briefs_service
from service.campaigns.models import Acknowledgement, Campaign, Enrollment
from service.config import Settings
from service.db import use_case, utcnow
from service.logging import get_logger
from service.notifications import render
from service.notifications.channels import Outcome
from service.notifications.channels import chat as chat_channel
from service.notifications.channels import email as email_channel
from service.notifications.models import ChatDestination, Notification
from service.notifications.rules import Preferences, preferences_of
from service.notifications.schemas import (
    UNFINISHED,
    DeliveryMode,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from service.people import service as people_service
from service.people.schemas import PersonRead
from service.webhooks.ssrf import guarded_client

log = get_logger("cuecard.notifications.sender")

# The sender acts for nobody in particular: it reads people as the operator would.
SENDER = Principal.operator("notification-sender")
MAX_REASON = 500
EMAIL_OFF = "e-mail is not configured"

_PENDING, _SENDING = NotificationStatus.PENDING.value, NotificationStatus.SENDING.value
_EMAIL, _CHAT = NotificationChannel.EMAIL.value, NotificationChannel.CHAT.value
_CAMPAIGN_KINDS = (NotificationKind.CAMPAIGN_STEP.value, NotificationKind.REMINDER.value)

# Outcomes recorded by this process (sent, retried, failed, cancelled): a Prometheus counter.
outcomes: Counter[str] = Counter()


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def retry_delay(attempt: int, settings: Settings) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): full jitter, capped."""
    base, cap = settings.notification_retry_base_seconds, settings.notification_retry_cap_seconds
    return random.uniform(0, min(cap, base * 2 ** min(attempt - 1, 32)))  # noqa: S311 - not a secret


@dataclass(frozen=True)
class _Claimed:
    """One message to send, for one row or (a digest) several: everything read before commit."""

    attempts: dict[uuid.UUID, int]  # row id → the attempt this claim made
    channel: str
    # When the rows first fell due: the give-up window counts from here.
    due_since: datetime
    message: Any = None  # an EmailMessage, or the chat payload's bytes
    url: str | None = None  # a chat destination's
    error: str | None = None  # rendering failed: recorded as a failed attempt


async def send_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = 50,
    http: httpx.AsyncClient | None = None,
) -> int:
    """Sends up to `limit` due rows (a digest's companions ride along); returns how many
    messages it tried. Never raises for what an SMTP server or chat receiver does. `http`
    defaults to a guarded client from `settings.webhook_allow_hosts`; `now` moves the clock."""
    at = now or utcnow()
    if not await _anything_due(sessionmaker, at):
        return 0
    claimed = await _claim(sessionmaker, settings, at, limit)
    if not claimed:
        return 0
    client = http
    if client is None and any(c.channel == _CHAT for c in claimed):
        client = guarded_client(settings.webhook_allow_hosts)
    try:
        results = await asyncio.gather(*(_send(c, settings, client) for c in claimed))
    finally:
        if http is None and client is not None:
            await client.aclose()
    for one, result in zip(claimed, results, strict=True):
        await _record(sessionmaker, settings, one, result, now or utcnow())
    return len(claimed)


def _due(at: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(col(Notification.status) == _PENDING, col(Notification.next_attempt_at) <= at),
        sa.and_(col(Notification.status) == _SENDING, col(Notification.locked_until) <= at),
    )


async def _anything_due(sessionmaker: async_sessionmaker[AsyncSession], at: datetime) -> bool:
    # Looked for without a lock first: on SQLite the locking read takes the database's write
    # lock, which a worker polling every second should not take for nothing.
    async with sessionmaker() as session:
        found = await session.scalar(
            sa.select(col(Notification.id))
            .where(_due(at), col(Notification.channel).in_((_EMAIL, _CHAT)))
            .limit(1)
        )
    return found is not None


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, at: datetime, limit: int
) -> list[_Claimed]:
    """Cancels what no longer holds, leases the rest (`sending`) and commits before sending."""
    async with sessionmaker() as session, use_case(session):
        rows = list(
            (
                await session.execute(
                    sa.select(Notification)
                    .where(_due(at), col(Notification.channel).in_((_EMAIL, _CHAT)))
                    .order_by(col(Notification.next_attempt_at), col(Notification.id))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        if not rows:
            return []
        rows += await _digest_companions(session, rows, at)
        context = await _Context.load(session, settings, rows)
        plan = _Plan(settings, at, context)
        for row in rows:
            plan.take(row)
        return plan.claimed()


async def _digest_companions(
    session: AsyncSession, rows: list[Notification], at: datetime
) -> list[Notification]:
    """The other due digest e-mail rows of the people whose digest is claimed: one mail for all."""
    people = {
        r.person_id for r in rows if r.channel == _EMAIL and r.person_id and (r.data or {}).get("digest")
    }
    if not people:
        return []
    more = (
        await session.execute(
            sa.select(Notification)
            .where(
                col(Notification.person_id).in_(people),
                col(Notification.channel) == _EMAIL,
                col(Notification.id).not_in([r.id for r in rows]),
                _due(at),
            )
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    return [r for r in more if (r.data or {}).get("digest")]


@dataclass
class _Context:
    """What the re-check and the messages need, read in a few queries for the whole claim."""

    people: dict[uuid.UUID, PersonRead]
    preferences: dict[uuid.UUID, Preferences]
    destinations: dict[uuid.UUID, ChatDestination]
    # A department's destination, by department key; the company-wide one under None.
    by_department: dict[str | None, ChatDestination]
    campaigns: dict[uuid.UUID, Campaign]
    # (campaign, person) → still in the audience.
    enrolled: set[tuple[uuid.UUID, uuid.UUID]]
    # (campaign, person) → acknowledged the campaign's current version (or a later one).
    acknowledged: set[tuple[uuid.UUID, uuid.UUID]]

    @classmethod
    async def load(cls, session: AsyncSession, settings: Settings, rows: list[Notification]) -> _Context:
        person_ids = {r.person_id for r in rows if r.person_id is not None}
        people = await people_service.people_by_ids(session, SENDER, list(person_ids)) if person_ids else {}
        preferences = await preferences_of(session, person_ids)
        destinations: dict[uuid.UUID, ChatDestination] = {}
        by_department: dict[str | None, ChatDestination] = {}
        if any(r.channel == _CHAT for r in rows):
            for dest in (
                await session.execute(sa.select(ChatDestination).order_by(col(ChatDestination.created_at)))
            ).scalars():
                destinations[dest.id] = dest
                by_department.setdefault(dest.department_key, dest)  # the oldest of each
        campaign_rows = [r for r in rows if r.kind in _CAMPAIGN_KINDS and r.campaign_id is not None]
        campaigns, enrolled, acknowledged = await _campaign_state(session, campaign_rows)
        return cls(people, preferences, destinations, by_department, campaigns, enrolled, acknowledged)


async def _campaign_state(
    session: AsyncSession, rows: list[Notification]
) -> tuple[dict[uuid.UUID, Campaign], set[tuple[uuid.UUID, uuid.UUID]], set[tuple[uuid.UUID, uuid.UUID]]]:
    """The campaigns named, who is still in their audience and who acknowledged their current
    version: three queries (and the briefs' current versions) however many rows."""
    campaign_ids = {r.campaign_id for r in rows if r.campaign_id is not None}
    person_ids = {r.person_id for r in rows if r.person_id is not None}
    if not campaign_ids:
        return {}, set(), set()
    campaigns = {
        c.id: c
        for c in (
            await session.execute(sa.select(Campaign).where(col(Campaign.id).in_(campaign_ids)))
        ).scalars()
    }
    if not person_ids:
        return campaigns, set(), set()
    enrolled = {
        (e.campaign_id, e.person_id)
        for e in (
            await session.execute(
                sa.select(col(Enrollment.campaign_id), col(Enrollment.person_id)).where(
                    col(Enrollment.campaign_id).in_(campaign_ids),
                    col(Enrollment.person_id).in_(person_ids),
                    col(Enrollment.left_at).is_(None),
                )
            )
        ).all()
    }
    lineages = {c.lineage_id for c in campaigns.values()}
    current = await briefs_service.current_versions(session, SENDER, lineages)
    acks = (
        await session.execute(
            sa.select(
                col(Acknowledgement.person_id), col(Acknowledgement.lineage_id), col(Acknowledgement.version)
            ).where(
                col(Acknowledgement.lineage_id).in_(lineages), col(Acknowledgement.person_id).in_(person_ids)
            )
        )
    ).all()
    acknowledged = set()
    for campaign in campaigns.values():
        version = current.get(campaign.lineage_id)
        if version is None:
            continue
        for ack in acks:
            if ack.lineage_id == campaign.lineage_id and ack.version >= version.basis_version:
                acknowledged.add((campaign.id, ack.person_id))
    return campaigns, enrolled, acknowledged


class _Plan:
    """Decides, row by row, in the claim's transaction: cancel, wait, or lease and send."""

    def __init__(self, settings: Settings, at: datetime, context: _Context) -> None:
        self.settings, self.at, self.context = settings, at, context
        self.lease = timedelta(seconds=settings.notification_lease_seconds)
        self.host = urlsplit(settings.public_url or "").hostname or "cuecard.invalid"
        self.smtp = email_channel.SmtpServer.parse(settings.smtp_url) if settings.smtp_url else None
        self.digests: dict[uuid.UUID, list[Notification]] = {}
        self.singles: list[_Claimed] = []

    def take(self, row: Notification) -> None:
        refusal = self._refusal(row)
        if refusal is not None:
            self._finish(row, NotificationStatus.CANCELLED, refusal)
            return
        prefs = self.context.preferences.get(row.person_id) if row.person_id else None
        if prefs is not None and not (row.data or {}).get("digest") and prefs.in_quiet_hours(self.at):
            # Quiet hours set after the row was written: it waits for their end, unattempted.
            quiet = dataclasses.replace(prefs, delivery=DeliveryMode.IMMEDIATE)
            row.status, row.locked_until = _PENDING, None
            row.next_attempt_at = quiet.next_send_time(self.at, digest_hour=self.settings.digest_hour)
            self._touch(row)
            return
        if row.status == _SENDING:  # its worker's lease ran out before it recorded anything
            log.warning("notification lease ran out; sending again", notification_id=str(row.id))
        row.status, row.attempts = _SENDING, row.attempts + 1
        row.locked_until = self.at + self.lease
        self._touch(row)
        if row.channel == _EMAIL and row.person_id is not None and (row.data or {}).get("digest"):
            self.digests.setdefault(row.person_id, []).append(row)
        else:
            self.singles.append(self._single(row))

    def claimed(self) -> list[_Claimed]:
        return self.singles + [self._digest(rows) for rows in self.digests.values()]

    # --- the re-check ---------------------------------------------------------------------------

    def _refusal(self, row: Notification) -> str | None:
        context = self.context
        if row.channel == _EMAIL and self.smtp is None:
            return EMAIL_OFF
        if row.kind in _CAMPAIGN_KINDS and row.campaign_id is not None:
            campaign = context.campaigns.get(row.campaign_id)
            if campaign is not None and campaign.status in ("cancelled", "completed"):
                return f"the campaign is {campaign.status}"
        if row.person_id is None:
            if row.destination_id not in context.destinations:
                return "the chat destination was removed"
            return None
        person = context.people.get(row.person_id)
        if person is None or not person.active:
            return "the person is deactivated"
        if not context.preferences.get(row.person_id, Preferences()).wants(row.kind, row.channel):
            return f"{row.kind} by {row.channel} is turned off in the person's preferences"
        if row.kind in _CAMPAIGN_KINDS and row.campaign_id is not None:
            key = (row.campaign_id, row.person_id)
            if key not in context.enrolled:
                return "the person left the campaign's audience"
            if row.kind == NotificationKind.REMINDER.value and key in context.acknowledged:
                return "the person acknowledged the current version already"
        if row.channel == _CHAT and self._person_destination(person) is None:
            return "no chat destination for the person's department or the company"
        return None

    def _person_destination(self, person: PersonRead) -> ChatDestination | None:
        found = self.context.by_department
        return found.get(person.department_key) if person.department_key in found else found.get(None)

    # --- the messages ---------------------------------------------------------------------------

    def _due_since(self, row: Notification) -> datetime:
        """When the row first fell due: its writing, or (quiet hours, digest) the first time
        its person's preferences let it go."""
        prefs = self.context.preferences.get(row.person_id) if row.person_id else None
        if prefs is None:
            return row.created_at
        return max(
            row.created_at, prefs.next_send_time(row.created_at, digest_hour=self.settings.digest_hour)
        )

    def _single(self, row: Notification) -> _Claimed:
        claimed = _Claimed({row.id: row.attempts}, row.channel, self._due_since(row))
        item = render.Item(row.kind, row.locale, row.data or {})
        try:
            if row.channel == _EMAIL:
                rendered = render.render_email(item, self.settings)
                return dataclasses.replace(claimed, message=self._mail(row, rendered))
            return self._chat(row, item, claimed)
        except (LookupError, ValueError, OSError) as exc:  # a broken or missing template
            return dataclasses.replace(claimed, error=_bounded(f"could not render: {exc}"))

    def _chat(self, row: Notification, item: render.Item, claimed: _Claimed) -> _Claimed:
        person = self.context.people.get(row.person_id) if row.person_id else None
        if person is not None:
            dest = self._person_destination(person)
        else:
            dest = self.context.destinations.get(row.destination_id) if row.destination_id else None
        assert dest is not None  # the re-check cancelled the row otherwise
        message = render.render_chat(item, self.settings, person_name=person.display_name if person else None)
        label = render.labels(self.settings, render.language(row.locale)).get("action.open", "Open")
        body = chat_channel.payload(dest.kind, message, open_label=label)
        return dataclasses.replace(claimed, message=body, url=dest.url)

    def _digest(self, rows: list[Notification]) -> _Claimed:
        rows.sort(key=lambda r: (r.created_at, str(r.id)))
        first = rows[0]
        claimed = _Claimed({r.id: r.attempts for r in rows}, _EMAIL, min(self._due_since(r) for r in rows))
        items = [render.Item(r.kind, r.locale, r.data or {}) for r in rows]
        try:
            rendered = (
                render.render_email(items[0], self.settings)
                if len(rows) == 1
                else render.render_digest(items, first.locale, self.settings)
            )
        except (LookupError, ValueError, OSError) as exc:
            return dataclasses.replace(claimed, error=_bounded(f"could not render: {exc}"))
        return dataclasses.replace(claimed, message=self._mail(first, rendered))

    def _mail(self, row: Notification, rendered: render.Rendered) -> Any:
        assert self.settings.mail_from is not None and row.person_id is not None
        person = self.context.people[row.person_id]
        return email_channel.build_message(
            to=person.email,
            to_name=person.display_name,
            sender=self.settings.mail_from,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            # Stable per row: a copy sent again after a crash is recognisable as the same mail.
            message_id=f"<{row.id}@{self.host}>",
            unsubscribe_url=render.absolute(render.PREFERENCES_PATH, self.settings),
            date=self.at,
        )

    def _touch(self, row: Notification) -> None:
        row.revision += 1
        row.updated_at = self.at

    def _finish(self, row: Notification, status: NotificationStatus, reason: str | None) -> None:
        row.status, row.reason, row.locked_until = status.value, _bounded(reason) if reason else None, None
        self._touch(row)
        outcomes[status.value] += 1


async def _send(claimed: _Claimed, settings: Settings, http: httpx.AsyncClient | None) -> Outcome:
    if claimed.error is not None:
        return Outcome(False, claimed.error)
    timeout = settings.notification_timeout_seconds
    if claimed.channel == _EMAIL:
        assert settings.smtp_url is not None
        server = email_channel.SmtpServer.parse(settings.smtp_url)
        return await email_channel.send(server, claimed.message, deadline_seconds=timeout)
    assert http is not None and claimed.url is not None
    return await chat_channel.post(http, claimed.url, claimed.message, deadline_seconds=timeout)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    claimed: _Claimed,
    outcome: Outcome,
    at: datetime,
) -> None:
    """Records one message's outcome on its rows, where this claim still holds them."""
    retry_at: datetime | None = None
    attempt = max(claimed.attempts.values())
    if not outcome.ok and not outcome.permanent:
        retry_at = at + timedelta(seconds=retry_delay(attempt, settings))
        if retry_at > claimed.due_since + timedelta(hours=settings.notification_give_up_hours):
            retry_at = None
    if outcome.ok:
        status, reason = NotificationStatus.SENT, None
    elif retry_at is not None:
        status, reason = NotificationStatus.PENDING, f"attempt {attempt} failed, retrying: {outcome.error}"
    elif outcome.permanent:
        status, reason = NotificationStatus.FAILED, f"refused: {outcome.error}"
    else:
        hours = settings.notification_give_up_hours
        status, reason = (
            NotificationStatus.FAILED,
            f"gave up after {attempt} attempts in {hours:g} h: {outcome.error}",
        )
    async with sessionmaker() as session, use_case(session):
        rows = (
            await session.execute(
                sa.select(Notification)
                .where(col(Notification.id).in_(list(claimed.attempts)))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
        for row in rows:
            # A worker whose lease ran out may find its row claimed again: it leaves the row to
            # the claim that holds it now.
            if row.status != _SENDING or row.attempts != claimed.attempts[row.id]:
                continue
            row.status, row.locked_until, row.reason = (
                status.value,
                None,
                _bounded(reason) if reason else None,
            )
            row.revision += 1
            row.updated_at = at
            if status is NotificationStatus.SENT:
                row.sent_at = at
            elif retry_at is not None:
                row.next_attempt_at = retry_at
    outcomes["retried" if retry_at is not None else status.value] += len(claimed.attempts)
    if not outcome.ok:
        log.warning(
            "notification not sent", channel=claimed.channel, rows=len(claimed.attempts), error=outcome.error
        )


# --- metrics -----------------------------------------------------------------------------------


async def notification_stats(session: AsyncSession, *, now: datetime | None = None) -> dict[str, Any]:
    """What a dashboard watches: rows waiting by channel (pending or sending), how many of them
    are due now, and the oldest due one's age."""
    at = now or utcnow()
    waiting = (
        await session.execute(
            sa.select(col(Notification.channel), sa.func.count())
            .where(col(Notification.status).in_(UNFINISHED))
            .group_by(col(Notification.channel))
        )
    ).all()
    due, oldest = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.min(col(Notification.next_attempt_at))).where(
                col(Notification.status) == _PENDING, col(Notification.next_attempt_at) <= at
            )
        )
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return {
        "waiting": {channel: int(count) for channel, count in waiting},
        "due": int(due),
        "oldest_due_age_seconds": max((at - oldest).total_seconds(), 0.0) if oldest else 0.0,
    }
