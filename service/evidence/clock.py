"""What falls due for evidence as time passes: a claim nearing its verify-by date
(`evidence.expiring`) and one past it (`evidence.expired`). Detectors for the clock
(service/events/clock.py), registered in service.wiring."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.briefs.models import Brief, BriefEvidence
from service.db import session_settings
from service.events.catalogue import EventType
from service.events.clock import Due, first_day_from, lookback_start, not_fired
from service.evidence import repository
from service.evidence.models import Evidence
from service.messages.models import Message, MessageEvidence
from service.products.models import Product


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def _product_keys(
    session: AsyncSession, evidence_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The products of the published briefs and messages citing each item, in one query."""
    ids = list(evidence_ids)
    if not ids:
        return {}
    by_brief: sa.Select[uuid.UUID, str] = (
        sa.select(col(BriefEvidence.evidence_id).label("evidence_id"), col(Product.key).label("key"))
        .join(Brief, col(Brief.id) == col(BriefEvidence.brief_id))
        .join(Product, col(Product.id) == col(Brief.product_id))
        .where(col(BriefEvidence.evidence_id).in_(ids), col(Brief.status) == "published")
    )
    by_message: sa.Select[uuid.UUID, str] = (
        sa.select(col(MessageEvidence.evidence_id), col(Product.key))
        .join(Message, col(Message.id) == col(MessageEvidence.message_id))
        .join(Product, col(Product.id) == col(Message.product_id))
        .where(col(MessageEvidence.evidence_id).in_(ids), col(Message.status) == "published")
    )
    keys: dict[uuid.UUID, set[str]] = {}
    for evidence_id, key in (await session.execute(sa.union(by_brief, by_message))).all():
        keys.setdefault(uuid.UUID(str(evidence_id)), set()).add(key)
    return {evidence_id: sorted(found) for evidence_id, found in keys.items()}


class _Item(NamedTuple):
    id: uuid.UUID
    claim: str
    verify_by: date
    owner_id: uuid.UUID | None


async def _candidates(
    session: AsyncSession, event_type: EventType, budget: int, *conditions: sa.ColumnElement[bool]
) -> list[_Item]:
    stmt: sa.Select[uuid.UUID, str, date | None, uuid.UUID | None] = (
        sa.select(col(Evidence.id), col(Evidence.claim), col(Evidence.verify_by), col(Evidence.owner_id))
        .where(
            col(Evidence.verify_by).is_not(None),
            col(Evidence.replaced_by_id).is_(None),
            # What a `briefs:read` receiver may see: cited by something published.
            repository.published_or_owned(None),
            not_fired(event_type, col(Evidence.id), due_on=col(Evidence.verify_by)),
            *conditions,
        )
        .order_by(col(Evidence.verify_by), col(Evidence.id))
        .limit(budget)
    )
    rows = (await session.execute(stmt)).all()
    return [_Item(id_, claim, verify_by, owner) for id_, claim, verify_by, owner in rows if verify_by]


def _due(event_type: EventType, row: _Item, due_at: datetime, keys: list[str], **extra: Any) -> Due:
    return Due(
        type=event_type,
        subject_id=row.id,
        due_on=row.verify_by,
        due_at=due_at,
        product_key=keys[0] if len(keys) == 1 else None,
        data={
            "evidence_id": row.id,
            "claim": row.claim,
            "verify_by": row.verify_by,
            **extra,
            "owner_id": row.owner_id,
            "product_keys": keys,
        },
    )


async def evidence_expiring(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Evidence whose verify_by is `CUECARD_EVIDENCE_EXPIRING_DAYS` days away or nearer and
    not yet past: once per item and verify_by (re-verified to a new date, it may fire again).

    Only evidence cited by a published brief or message (what a `briefs:read` receiver may
    see), not replaced. Due from 00:00 UTC `days` before verify_by; one cited or dated later
    fires when noticed. The window itself bounds it: no lookback."""
    today = now.date()
    days = session_settings(session).evidence_expiring_days
    rows = await _candidates(
        session,
        EventType.EVIDENCE_EXPIRING,
        budget,
        col(Evidence.verify_by) >= today,
        col(Evidence.verify_by) <= today + timedelta(days=days),
    )
    keys = await _product_keys(session, (row.id for row in rows))
    return [
        _due(
            EventType.EVIDENCE_EXPIRING,
            row,
            _start_of(row.verify_by - timedelta(days=days)),
            keys.get(row.id, []),
            days_left=(row.verify_by - today).days,
        )
        for row in rows
    ]


async def evidence_expired(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Evidence past its verify_by date: expired from 00:00 UTC of the day after it (the
    verify_by day itself is still valid), once per item and verify_by. Only evidence cited by
    a published brief or message, not replaced, that expired within the lookback."""
    today = now.date()
    first_day = first_day_from(lookback_start(session, now))
    rows = await _candidates(
        session,
        EventType.EVIDENCE_EXPIRED,
        budget,
        col(Evidence.verify_by) < today,
        col(Evidence.verify_by) >= first_day - timedelta(days=1),
    )
    keys = await _product_keys(session, (row.id for row in rows))
    return [
        _due(
            EventType.EVIDENCE_EXPIRED,
            row,
            _start_of(row.verify_by + timedelta(days=1)),
            keys.get(row.id, []),
            expired_at=_start_of(row.verify_by + timedelta(days=1)),
        )
        for row in rows
    ]
