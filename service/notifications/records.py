"""Notification rows: writing them once (their `dedupe_key`), and reading them back — what
reached whom, for admins and editors, and a person's own, for their feed.

Every writer (the fan-out, reminders, nudges) builds rows with `person_rows` /
`destination_row` and inserts them with `write`: a row whose `dedupe_key` exists is skipped,
so a replay, a retried transaction or a second nudge the same day adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.auth.principal import Principal, Role
from service.campaigns import service as campaigns_service
from service.db import is_postgres, session_settings
from service.errors import Forbidden
from service.notifications.models import Notification
from service.notifications.rules import Preferences
from service.notifications.schemas import (
    DeliveryMode,
    DeliveryRecord,
    NotificationChannel,
    NotificationItem,
    NotificationKind,
    NotificationStatus,
)
from service.pagination import Page, PageParams, fetch_page
from service.reads import read_rows

# Rows per INSERT: well under both databases' bound-parameter limits (~20 columns each).
_CHUNK = 400


@dataclass(frozen=True)
class Recipient:
    """A person a notification is for, with what their rows need."""

    id: uuid.UUID
    display_name: str
    locale: str
    department_id: uuid.UUID | None
    preferences: Preferences


def _row(
    *,
    kind: NotificationKind,
    channel: NotificationChannel,
    dedupe_key: str,
    data: dict[str, Any],
    locale: str,
    now: datetime,
    next_attempt_at: datetime,
    person_id: uuid.UUID | None = None,
    destination_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    step_id: str | None = None,
) -> dict[str, Any]:
    sent = channel is NotificationChannel.INTRANET
    return {
        "id": uuid.uuid4(),
        "created_at": now,
        "updated_at": now,
        "revision": 1,
        "kind": kind.value,
        "channel": channel.value,
        "person_id": person_id,
        "destination_id": destination_id,
        "dedupe_key": dedupe_key[:300],
        "event_id": event_id,
        "campaign_id": campaign_id,
        "step_id": step_id,
        "locale": locale or "en",
        "data": data,
        # The feed and the live stream carry the event already: the row records it reached them.
        "status": (NotificationStatus.SENT if sent else NotificationStatus.PENDING).value,
        "attempts": 0,
        "next_attempt_at": now if sent else next_attempt_at,
        "locked_until": None,
        "sent_at": now if sent else None,
        "reason": None,
    }


def person_rows(
    session: AsyncSession,
    *,
    kind: NotificationKind,
    recipient: Recipient,
    what: str,
    data: Mapping[str, Any],
    now: datetime,
    email: bool = True,
    chat_destination: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    step_id: str | None = None,
) -> list[dict[str, Any]]:
    """A person's rows for one thing (`what`, unique for the kind): always the intranet record;
    an e-mail when they want this kind by e-mail (and `email`); a post naming them to their
    department's chat destination when they turned chat on for this kind (`chat_destination`).
    E-mail waits for the end of quiet hours, or the digest."""
    prefs = recipient.preferences
    digest = prefs.delivery is DeliveryMode.DAILY_DIGEST
    body = {**data, "display_name": recipient.display_name, "digest": digest}
    common: dict[str, Any] = {
        "kind": kind,
        "data": body,
        "locale": recipient.locale,
        "now": now,
        "event_id": event_id,
        "campaign_id": campaign_id,
        "step_id": step_id,
    }
    base = f"{kind.value}:{what}:{recipient.id}"
    rows = [
        _row(
            channel=NotificationChannel.INTRANET,
            dedupe_key=f"{base}:intranet",
            next_attempt_at=now,
            person_id=recipient.id,
            **common,
        )
    ]
    if email and prefs.wants(kind, NotificationChannel.EMAIL):
        send_at = prefs.next_send_time(now, digest_hour=session_settings(session).digest_hour)
        rows.append(
            _row(
                channel=NotificationChannel.EMAIL,
                dedupe_key=f"{base}:email",
                next_attempt_at=send_at,
                person_id=recipient.id,
                **common,
            )
        )
    if chat_destination is not None and prefs.wants(kind, NotificationChannel.CHAT):
        rows.append(
            _row(
                channel=NotificationChannel.CHAT,
                dedupe_key=f"{kind.value}:{what}:{chat_destination}:{recipient.id}:chat",
                next_attempt_at=now,
                destination_id=chat_destination,
                **{**common, "data": {**body, "digest": False}},
            )
        )
    return rows


def destination_row(
    *,
    kind: NotificationKind,
    destination_id: uuid.UUID,
    what: str,
    data: Mapping[str, Any],
    locale: str,
    now: datetime,
    event_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    step_id: str | None = None,
) -> dict[str, Any]:
    """One post to a chat destination (a campaign step: one per destination, however many of
    its people the step fell due for)."""
    return _row(
        kind=kind,
        channel=NotificationChannel.CHAT,
        dedupe_key=f"{kind.value}:{what}:{destination_id}:chat",
        data={**data, "digest": False},
        locale=locale,
        now=now,
        next_attempt_at=now,
        destination_id=destination_id,
        event_id=event_id,
        campaign_id=campaign_id,
        step_id=step_id,
    )


async def write(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> set[str]:
    """Inserts the rows whose `dedupe_key` is new (in one statement per chunk, no commit); the
    keys it inserted."""
    unique = sorted({row["dedupe_key"]: row for row in rows}.values(), key=lambda r: str(r["dedupe_key"]))
    if not unique:
        return set()
    table = Notification.__table__
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    written: set[str] = set()
    for start in range(0, len(unique), _CHUNK):
        stmt = (
            dialect_insert(table)
            .values(unique[start : start + _CHUNK])
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(table.c.dedupe_key)
        )
        written.update((await session.execute(stmt)).scalars())
    return written


# --- reads ----------------------------------------------------------------------------------


def _check_can_see_records(principal: Principal) -> None:
    if not (principal.has_role(Role.ADMIN, Role.EDITOR) or principal.is_operator):
        raise Forbidden("What reached whom is for admins and editors.")


async def campaign_deliveries(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    params: PageParams,
    *,
    step_id: str | None = None,
    person_id: uuid.UUID | None = None,
    status: NotificationStatus | None = None,
) -> Page[DeliveryRecord]:
    """Lists what a campaign sent to whom (admins and editors), oldest first: one row per
    person or chat destination, step and channel, with how it stands."""
    _check_can_see_records(principal)
    await campaigns_service.visible_campaign(session, principal, campaign_id)
    stmt = sa.select(Notification).where(col(Notification.campaign_id) == campaign_id)
    if step_id is not None:
        stmt = stmt.where(col(Notification.step_id) == step_id)
    if person_id is not None:
        stmt = stmt.where(col(Notification.person_id) == person_id)
    if status is not None:
        stmt = stmt.where(col(Notification.status) == status.value)
    page = await fetch_page(session, stmt, Notification, params)
    return Page(items=[DeliveryRecord.model_validate(row) for row in page.rows], next_cursor=page.next_cursor)


_N = Notification.__table__.c
_MINE = (  # built once: a statement keeps its cache key (service/reads.py)
    sa.select(_N.id, _N.kind, _N.data, _N.created_at)
    .where(_N.person_id == sa.bindparam("person_id"), _N.channel == NotificationChannel.INTRANET.value)
    .order_by(_N.created_at.desc(), _N.id.desc())
    .limit(sa.bindparam("limit", type_=sa.Integer))
)


async def my_notifications(
    session: AsyncSession, principal: Principal, *, limit: int
) -> list[NotificationItem]:
    """The calling person's notifications (their intranet records), newest first."""
    if principal.person_id is None:
        return []
    rows = await read_rows(session, _MINE, {"person_id": principal.person_id, "limit": limit})
    return [
        NotificationItem(
            at=row.created_at,
            notification_id=row.id,
            notification_kind=NotificationKind(row.kind),
            title=str(row.data.get("title") or ""),
            link=row.data.get("link"),
        )
        for row in rows
    ]
