"""The feedback hub's side of customer accounts: items follow a merge, and themes are weighed by
the distinct accounts that raised them and those accounts' annual revenue, per currency.

Revenue is never converted: amounts in different currencies are kept apart (no exchange rates
are invented), each total the sum over *distinct* accounts (an account raising a theme forty
times weighs it once).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from service.accounts.models import Account
from service.accounts.schemas import MoneyRead, money_text
from service.db import utcnow
from service.feedback.models import FeedbackItem, Theme

Items: sa.Table = FeedbackItem.__table__
Themes: sa.Table = Theme.__table__
Accounts: sa.Table = Account.__table__


async def follow_account_merge(session: AsyncSession, merged: Sequence[uuid.UUID], into: uuid.UUID) -> None:
    """Moves the items of merged accounts to the survivor (a new row version each, so their
    ETags change), in the merge's transaction."""
    if not merged:
        return
    await session.execute(
        sa.update(Items)
        .where(Items.c.account_id.in_(list(merged)))
        .values(account_id=into, revision=Items.c.revision + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def revenue_list(totals: dict[str, Decimal]) -> list[MoneyRead]:
    """Totals per currency as the API writes them, by currency code."""
    return [MoneyRead(amount=money_text(totals[c]), currency=c) for c in sorted(totals)]


def revenue_tag(revenue: Sequence[MoneyRead]) -> str:
    """A short stable tag of revenue totals for an ETag ("" when there are none)."""
    if not revenue:
        return ""
    text = "|".join(f"{m.currency}:{m.amount}" for m in revenue)
    return "." + hashlib.sha256(text.encode()).hexdigest()[:10]


async def theme_revenue(
    session: AsyncSession, theme_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Decimal]]:
    """Per surviving theme: the annual revenue of the distinct accounts that raised it, per
    currency (items of merged themes count under the survivor, as for the counts)."""
    if not theme_ids:
        return {}
    ids = list(set(theme_ids))
    member = aliased(Themes)
    survivor = sa.func.coalesce(member.c.merged_into_id, member.c.id)
    pairs = (
        sa.select(survivor.label("theme"), Items.c.account_id)
        .select_from(Items.join(member, member.c.id == Items.c.theme_id))
        .where(
            sa.or_(member.c.id.in_(ids), member.c.merged_into_id.in_(ids)),
            Items.c.account_id.is_not(None),
        )
        .distinct()
        .subquery("theme_accounts")
    )
    stmt = (
        sa.select(
            pairs.c.theme,
            Accounts.c.revenue_currency,
            sa.func.sum(Accounts.c.revenue_amount).label("amount"),
        )
        .select_from(pairs.join(Accounts, Accounts.c.id == pairs.c.account_id))
        .where(Accounts.c.revenue_currency.is_not(None))
        .group_by(pairs.c.theme, Accounts.c.revenue_currency)
    )
    result: dict[uuid.UUID, dict[str, Decimal]] = {}
    for theme, currency, amount in (await session.execute(stmt)).all():
        result.setdefault(uuid.UUID(str(theme)), {})[currency] = amount
    return result
