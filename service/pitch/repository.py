"""Queries for pitch documents and usage. Never commits.

The pitch is a projection of briefs, messages and evidence: assembling it reads those
tables here, in one place, at write time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from service.accounts import repository as accounts
from service.briefs.models import Brief, BriefEvidence
from service.db import utcnow
from service.evidence.models import Evidence
from service.feedback.models import FeedbackItem, Theme
from service.messages.models import Message, MessageEvidence
from service.pitch.models import PitchDocument, PitchUsage
from service.products.models import Product


async def documents_for_product_key(
    session: AsyncSession, product_key: str, *, first_published_first: bool = False
) -> list[PitchDocument]:
    """A product's stored pitches; with `first_published_first`, ordered by when their locale
    was first published (the product's original locale first), still one query."""
    stmt = select(PitchDocument).where(PitchDocument.product_key == product_key)
    if first_published_first:
        first = (
            sa.select(sa.func.min(Brief.published_at))
            .where(
                col(Brief.product_id) == col(PitchDocument.product_id),
                col(Brief.locale) == col(PitchDocument.locale),
                col(Brief.published_at).is_not(None),
            )
            .correlate(PitchDocument)
            .scalar_subquery()
        )
        stmt = stmt.order_by(first.asc().nulls_last(), col(PitchDocument.locale))
    return list((await session.execute(stmt)).scalars())


async def fixes_for_account(
    session: AsyncSession, *, product_key: str, account: str, since: datetime, now: datetime
) -> list[Any]:
    """Fixes announced since `since` for an account's feedback about a product, newest first:
    one row per announced item (its theme, survivor first, and the published version of the
    announcing message), in one statement.

    `account` is matched as feedback names accounts (service.accounts.repository.matching: its
    key, else its exact name; a merged account stands for its survivor), and items of accounts
    merged into the survivor count too.
    Only `build` decisions (a stop is not a fix), and only while the announcing message's
    lineage has a published, unexpired version (a withdrawn or expired one shows nothing).
    The account's items are found through their partial account index: few rows per account."""
    items, themes, messages = FeedbackItem.__table__, Theme.__table__, Message.__table__
    members = accounts.standing_for(accounts.matching(account))
    product = (
        sa.select(Product.__table__.c.id).where(Product.__table__.c.key == product_key).scalar_subquery()
    )
    filed = themes.alias("filed")  # the item's theme ...
    kept = themes.alias("kept")  # ... or its survivor, if it was merged
    announced = messages.alias("announced")
    current = messages.alias("current")  # the published version of the announcing message
    theme_id = sa.func.coalesce(kept.c.id, filed.c.id)
    stmt = (
        sa.select(
            theme_id.label("theme_id"),
            sa.func.coalesce(kept.c.name, filed.c.name).label("theme_name"),
            items.c.id.label("item_id"),
            items.c.announced_at,
            current.c.id.label("message_id"),
            current.c.kind.label("message_kind"),
            current.c.locale.label("message_locale"),
            current.c.title.label("message_title"),
            current.c.body.label("message_body"),
            current.c.expires_at.label("message_expires_at"),
        )
        .select_from(items)
        .outerjoin(filed, filed.c.id == items.c.theme_id)
        .outerjoin(kept, kept.c.id == filed.c.merged_into_id)
        .join(announced, announced.c.id == items.c.announcement_message_id)
        .join(
            current,
            sa.and_(
                current.c.lineage_id == announced.c.lineage_id,
                current.c.status == "published",
                sa.or_(current.c.expires_at.is_(None), current.c.expires_at > now),
            ),
        )
        .where(
            items.c.account_id.in_(members),
            items.c.status == "announced",
            items.c.decision == "build",
            items.c.announced_at >= since,
            sa.func.coalesce(kept.c.product_id, filed.c.product_id, items.c.product_id) == product,
        )
        .order_by(items.c.announced_at.desc(), items.c.id)
    )
    return list((await session.execute(stmt)).all())


async def documents_for_product(session: AsyncSession, product_id: uuid.UUID) -> dict[str, PitchDocument]:
    stmt = select(PitchDocument).where(PitchDocument.product_id == product_id)
    return {d.locale: d for d in (await session.execute(stmt)).scalars()}


async def published_briefs(session: AsyncSession, product_id: uuid.UUID) -> list[Brief]:
    stmt = select(Brief).where(Brief.product_id == product_id, Brief.status == "published")
    return list((await session.execute(stmt)).scalars())


async def cited_evidence(session: AsyncSession, brief_id: uuid.UUID) -> list[Evidence]:
    stmt = (
        select(Evidence)
        .join(BriefEvidence, col(BriefEvidence.evidence_id) == col(Evidence.id))
        .where(BriefEvidence.brief_id == brief_id)
        .order_by(col(BriefEvidence.position))
    )
    return list((await session.execute(stmt)).scalars())


async def published_messages(session: AsyncSession, product_id: uuid.UUID, locale: str) -> list[Message]:
    """Published messages for the product, and company-wide ones, in one locale; not those past
    their expiry (the clock marks them expired soon after, and re-assembles then)."""
    stmt = (
        select(Message)
        .where(
            Message.status == "published",
            sa.or_(col(Message.expires_at).is_(None), col(Message.expires_at) > utcnow()),
            Message.locale == locale,
            sa.or_(col(Message.product_id) == product_id, col(Message.product_id).is_(None)),
        )
        .order_by(col(Message.created_at), col(Message.id))
    )
    return list((await session.execute(stmt)).scalars())


async def message_evidence(
    session: AsyncSession, message_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Evidence]]:
    ids = list(message_ids)
    if not ids:
        return {}
    stmt = (
        select(MessageEvidence.message_id, Evidence)
        .join(Evidence, col(Evidence.id) == col(MessageEvidence.evidence_id))
        .where(col(MessageEvidence.message_id).in_(ids))
        .order_by(col(MessageEvidence.position))
    )
    result: dict[uuid.UUID, list[Evidence]] = {}
    for message_id, evidence in (await session.execute(stmt)).all():
        result.setdefault(message_id, []).append(evidence)
    return result


async def products_citing(session: AsyncSession, evidence_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Products whose published brief, or whose messages, cite any of these items."""
    ids = list(evidence_ids)
    via_briefs = (
        select(Brief.product_id)
        .join(BriefEvidence, col(BriefEvidence.brief_id) == col(Brief.id))
        .where(col(BriefEvidence.evidence_id).in_(ids), Brief.status == "published")
    )
    via_messages = (
        select(Message.product_id)
        .join(MessageEvidence, col(MessageEvidence.message_id) == col(Message.id))
        .where(col(MessageEvidence.evidence_id).in_(ids), Message.status == "published")
    )
    found = set((await session.execute(via_briefs)).scalars()) | set(
        (await session.execute(via_messages)).scalars()
    )
    if None in found:  # a company-wide message: every product's pitch shows it
        found.discard(None)
        found |= await products_with_pitches(session)
    return found


async def products_with_pitches(session: AsyncSession) -> set[uuid.UUID]:
    return set((await session.execute(select(PitchDocument.product_id).distinct())).scalars())


async def get_product(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    return await session.get(Product, product_id)


async def delete_document(session: AsyncSession, document: PitchDocument) -> None:
    await session.delete(document)


async def add_usage(session: AsyncSession, usage: PitchUsage) -> None:
    session.add(usage)


async def usage_summary(session: AsyncSession, product_key: str) -> list[sa.Row[Any]]:
    stmt = (
        select(  # type: ignore[call-overload]  # sqlmodel's select overloads stop at four columns
            PitchUsage.version,
            PitchUsage.locale,
            PitchUsage.audience,
            PitchUsage.event,
            sa.func.count().label("count"),
        )
        .where(PitchUsage.product_key == product_key)
        .group_by(PitchUsage.version, PitchUsage.locale, PitchUsage.audience, PitchUsage.event)
        .order_by(PitchUsage.version, PitchUsage.locale, PitchUsage.audience, PitchUsage.event)
    )
    return list((await session.execute(stmt)).all())
