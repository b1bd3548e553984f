"""The weekly review: what customers said, what was decided, and where the loop is still open.

Everything is counted by the database in aggregate queries (a handful of statements, however
many items there are): one pass over the window's items for the totals, sources, themes and
NPS; one over its distinct (theme, account) pairs for each theme's accounts and revenue per
currency; one for the decisions, once per theme; index-ordered top-N reads for the loop gaps
and overdue items; one ordered-set aggregate for the median loop time. `Accept: text/markdown`
renders the same numbers as a 15-minute meeting agenda.

Cost: weighing themes by distinct accounts groups the window's items by (theme, account), which
is as many groups as there are distinct pairs (690,000 of 1,000,000 items in bench/digest): this
pass, not the others, decides the digest's time over a large window (docs/benchmarks.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from service.accounts.models import Account
from service.auth.principal import Principal
from service.db import is_postgres, needs_transaction, set_local, utcnow
from service.errors import Forbidden, Invalid, field_error
from service.feedback import accounts as feedback_accounts
from service.feedback import policies
from service.feedback.models import FeedbackItem, Theme
from service.feedback.schemas import (
    Count,
    Decision,
    DecisionSummary,
    Digest,
    FeedbackSource,
    LoopStage,
    NpsSummary,
    ThemeDemand,
)
from service.products import service as products_service

DEFAULT_WINDOW = timedelta(days=7)
# Lists in the digest are capped: a review reads the oldest first, and 100 is already a backlog.
LIST_CAP = 100
# The agenda is read aloud in 15 minutes: it names the first few of each list, the JSON has all.
AGENDA_ITEMS = 10
AGENDA_THEMES = 5
BODY_CHARS = 140
OPEN_STAGES = tuple(stage for stage in LoopStage if stage != LoopStage.ANNOUNCED)

Items: sa.Table = FeedbackItem.__table__
Themes: sa.Table = Theme.__table__
Accounts: sa.Table = Account.__table__


# --- the window ---------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    # A timestamp without an offset is read as UTC (the API speaks UTC throughout).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def review_window(
    since: datetime | None, until: datetime | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """[since, until): by default the last 7 days; `since` alone runs to now, `until` alone
    covers the 7 days before it."""
    until = _utc(until) if until is not None else None
    since = _utc(since) if since is not None else None
    if until is None:
        until = now
    if since is None:
        since = until - DEFAULT_WINDOW
    if since >= until:
        raise Invalid(
            "`since` must be before `until` (without `until`: before now).",
            errors=[field_error("since", "must be before until", location="query")],
        )
    return since, until


# --- arithmetic on aggregates -------------------------------------------------------------------


def _round1(value: Decimal) -> float:
    """One decimal, half away from zero, on exact decimals (12.25 → 12.3, never 12.2)."""
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def nps_summary(promoters: int, passives: int, detractors: int) -> NpsSummary:
    """% promoters − % detractors over all responses, exact to one decimal; null without any."""
    responses = promoters + passives + detractors
    score = None
    if responses:
        score = _round1(Decimal(100 * (promoters - detractors)) / Decimal(responses))
    return NpsSummary(
        responses=responses, promoters=promoters, passives=passives, detractors=detractors, score=score
    )


def _int(value: int | Decimal | None) -> int:
    """A count or a sum (None over no rows, a Decimal from PostgreSQL's SUM)."""
    return int(value) if value is not None else 0


# --- queries (read only) ------------------------------------------------------------------------


def _in_window(
    column: sa.ColumnElement[datetime], since: datetime, until: datetime, product: uuid.UUID | None = None
) -> sa.ColumnElement[bool]:
    """Within [since, until), and about the product when the digest is filtered by one."""
    return sa.and_(column >= since, column < until, *_about(product))


def _about(product: uuid.UUID | None) -> list[sa.ColumnElement[bool]]:
    return [] if product is None else [Items.c.product_id == product]


@dataclass
class Heard:
    """What the window's items add up to: the total and NPS, per source, per surviving theme
    (items, distinct accounts, their revenue per currency), and per currency how many of the
    window's distinct accounts report revenue in it."""

    total: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    themes: list[Count] = field(default_factory=list)
    weights: dict[str | None, ThemeWeight] = field(default_factory=dict)
    currencies: dict[str, int] = field(default_factory=dict)


async def _heard_rows(
    session: AsyncSession, since: datetime, until: datetime, product: uuid.UUID | None
) -> list[sa.Row[Any]]:
    """One pass over the window's items, grouped by source and theme as stored (a few thousand
    groups at most, read from the covering window index), then rolled up in SQL: the total with
    NPS, per source, and per surviving theme (merged themes resolved on the groups, not the rows)."""
    nps = Items.c.source == "nps"
    groups = (
        sa.select(
            Items.c.source.label("source"),
            Items.c.theme_id.label("theme_id"),
            sa.func.count().label("n"),
            sa.func.count().filter(sa.and_(nps, Items.c.nps_score >= 9)).label("promoters"),
            sa.func.count().filter(sa.and_(nps, Items.c.nps_score.between(7, 8))).label("passives"),
            sa.func.count().filter(sa.and_(nps, Items.c.nps_score <= 6)).label("detractors"),
        )
        .where(_in_window(Items.c.received_at, since, until, product))
        .group_by(Items.c.source, Items.c.theme_id)
        .cte("window_groups")
    )
    member = aliased(Themes)
    named = aliased(Themes)
    survivor = sa.func.coalesce(member.c.merged_into_id, groups.c.theme_id)
    zero = sa.literal(0, sa.Integer)
    total = sa.select(
        sa.literal("total", sa.String).label("kind"),
        sa.cast(sa.null(), sa.String).label("key"),
        sa.cast(sa.null(), sa.String).label("label"),
        sa.func.sum(groups.c.n).label("n"),
        sa.func.sum(groups.c.promoters).label("promoters"),
        sa.func.sum(groups.c.passives).label("passives"),
        sa.func.sum(groups.c.detractors).label("detractors"),
    )
    by_source = sa.select(
        sa.literal("source", sa.String),
        sa.cast(groups.c.source, sa.String),
        sa.cast(sa.null(), sa.String),
        sa.func.sum(groups.c.n),
        zero,
        zero,
        zero,
    ).group_by(groups.c.source)
    by_theme = (
        sa.select(
            sa.literal("theme", sa.String),
            sa.cast(survivor, sa.String),
            sa.cast(named.c.name, sa.String),
            sa.func.sum(groups.c.n),
            zero,
            zero,
            zero,
        )
        .select_from(
            groups.outerjoin(member, member.c.id == groups.c.theme_id).outerjoin(
                named, named.c.id == survivor
            )
        )
        .group_by(survivor, named.c.name)
    )
    return list((await session.execute(sa.union_all(total, by_source, by_theme))).all())


async def _weights(
    session: AsyncSession, since: datetime, until: datetime, product: uuid.UUID | None
) -> list[sa.Row[Any]]:
    """Per surviving theme and revenue currency: the distinct accounts among the window's items
    and the sum of their revenue. The (theme, account) pairs are grouped with no aggregate at
    all (merged themes resolved per item against the small themes table), then joined to the
    accounts: the cost is one hash entry per distinct pair."""
    member = aliased(Themes)
    survivor = sa.func.coalesce(member.c.merged_into_id, Items.c.theme_id)
    pairs = (
        sa.select(survivor.label("theme"), Items.c.account_id.label("account_id"))
        .select_from(Items.outerjoin(member, member.c.id == Items.c.theme_id))
        .where(_in_window(Items.c.received_at, since, until, product), Items.c.account_id.is_not(None))
        .group_by(survivor, Items.c.account_id)
        .subquery("window_pairs")
    )
    stmt = (
        sa.select(
            sa.cast(pairs.c.theme, sa.String).label("theme"),
            Accounts.c.revenue_currency.label("currency"),
            sa.func.count().label("accounts"),
            sa.func.sum(Accounts.c.revenue_amount).label("amount"),
        )
        .select_from(pairs.join(Accounts, Accounts.c.id == pairs.c.account_id))
        .group_by(pairs.c.theme, Accounts.c.revenue_currency)
    )
    return list((await session.execute(stmt)).all())


async def _heard(session: AsyncSession, since: datetime, until: datetime, product: uuid.UUID | None) -> Heard:
    """What the window's items add up to: counts, NPS and themes from the grouped pass
    (`_heard_rows`), accounts and revenue per theme from the pairs (`_weights`)."""
    heard = Heard()
    rows = await _heard_rows(session, since, until, product)
    total = next(row for row in rows if row.kind == "total")
    heard.total = _int(total.n)
    heard.promoters, heard.passives = _int(total.promoters), _int(total.passives)
    heard.detractors = _int(total.detractors)
    heard.sources = {row.key: _int(row.n) for row in rows if row.kind == "source"}
    heard.themes = sorted(
        (
            Count(
                key=str(uuid.UUID(row.key)) if row.key is not None else None,
                label=row.label,
                count=_int(row.n),
            )
            for row in rows
            if row.kind == "theme"
        ),
        key=lambda c: (-c.count, c.key is None, c.label or "", c.key or ""),
    )
    for found in await _weights(session, since, until, product):
        key = str(uuid.UUID(found.theme)) if found.theme is not None else None
        weight = heard.weights.setdefault(key, ThemeWeight())
        weight.accounts += _int(found.accounts)
        if found.currency is not None and found.amount is not None:
            weight.revenue[found.currency] = found.amount
            # The currency's weight in the ranking: the theme-account pairs that report in it.
            heard.currencies[found.currency] = heard.currencies.get(found.currency, 0) + _int(found.accounts)
    return heard


async def _loop_gaps(session: AsyncSession, product: uuid.UUID | None) -> list[uuid.UUID]:
    """Implemented but not yet announced, whenever: the longest-waiting first."""
    stmt = (
        sa.select(Items.c.id)
        .where(Items.c.status == "implemented", *_about(product))
        .order_by(Items.c.implemented_at, Items.c.id)
        .limit(LIST_CAP)
    )
    return list((await session.execute(stmt)).scalars())


async def _overdue(session: AsyncSession, now: datetime, product: uuid.UUID | None) -> list[uuid.UUID]:
    """Items whose stage is past due, the longest overdue first.

    One ordered read per open stage on (status, stage_due_at), each stopping after LIST_CAP
    rows, merged and cut again: the cost does not grow with the backlog.
    """
    per_stage = [
        sa.select(Items.c.id, Items.c.stage_due_at)
        .where(Items.c.status == stage, Items.c.stage_due_at < now, *_about(product))
        .order_by(Items.c.stage_due_at, Items.c.id)
        .limit(LIST_CAP)
        .subquery(f"overdue_{stage}")
        for stage in OPEN_STAGES
    ]
    merged = sa.union_all(*(sa.select(part.c.id, part.c.stage_due_at) for part in per_stage)).subquery()
    stmt = sa.select(merged.c.id).order_by(merged.c.stage_due_at, merged.c.id).limit(LIST_CAP)
    return [uuid.UUID(str(value)) for value in (await session.execute(stmt)).scalars()]


async def _median_loop_days(
    session: AsyncSession, since: datetime, until: datetime, product: uuid.UUID | None
) -> float | None:
    """Median of announced_at − received_at, in days, over items announced in the window."""
    announced = _in_window(Items.c.announced_at, since, until, product)
    if is_postgres(session):
        # The median of the intervals themselves (sorting intervals is faster than the numerics
        # EXTRACT returns), converted to days once.
        loop = Items.c.announced_at - Items.c.received_at
        median = sa.func.percentile_cont(0.5).within_group(loop)
        stmt = sa.select(sa.extract("epoch", median) / 86400.0).where(announced)
    else:
        # SQLite has no percentile: the middle one or two values by ORDER BY ... LIMIT/OFFSET.
        days = (sa.func.julianday(Items.c.announced_at) - sa.func.julianday(Items.c.received_at)).label("d")
        ordered = sa.select(days).where(announced).subquery()
        n = sa.select(sa.func.count()).select_from(Items).where(announced).scalar_subquery()
        middle = sa.select(ordered.c.d).order_by(ordered.c.d).limit(2 - n % 2).offset((n - 1) // 2).subquery()
        stmt = sa.select(sa.func.avg(middle.c.d))
    value = (await session.execute(stmt)).scalar_one_or_none()
    return None if value is None else _round1(Decimal(repr(float(value))))


@dataclass
class ThemeWeight:
    """The distinct accounts of one theme's items in the window, and their revenue per currency."""

    accounts: int = 0
    revenue: dict[str, Decimal] = field(default_factory=dict)


def currency_order(currencies: dict[str, int]) -> list[str]:
    """The currencies the most distinct accounts report revenue in first, then by code."""
    return sorted(currencies, key=lambda c: (-currencies[c], c))


def rank_themes(
    counts: Sequence[Count], weights: dict[str | None, ThemeWeight], currencies: Sequence[str]
) -> list[ThemeDemand]:
    """Themes by revenue-weighted demand (schemas.RANKING_RULE): revenue in each currency of
    `currencies` in turn, then distinct accounts, then items; the unthemed items last."""

    def order(demand: ThemeDemand) -> tuple[Any, ...]:
        weight = weights.get(demand.key, ThemeWeight())
        by_revenue = tuple(-weight.revenue.get(c, Decimal(0)) for c in currencies)
        return (
            demand.key is None,
            *by_revenue,
            -demand.accounts,
            -demand.count,
            demand.label or "",
            demand.key or "",
        )

    demands = []
    for count in counts:
        weight = weights.get(count.key, ThemeWeight())
        demands.append(
            ThemeDemand(
                key=count.key,
                label=count.label,
                count=count.count,
                accounts=weight.accounts,
                revenue=feedback_accounts.revenue_list(weight.revenue),
            )
        )
    return sorted(demands, key=order)


async def _decisions(
    session: AsyncSession, since: datetime, until: datetime, product: uuid.UUID | None
) -> list[DecisionSummary]:
    """Decisions made in the window, once per surviving theme and decision.

    Grouped by stored theme and decision from the decisions index (index only), merged themes
    resolved on the groups; each group's rationale is that of its latest decision, found by an
    index probe on (decided_at, decision, theme_id). Unthemed items: one row per decision (they
    were decided one by one: its rationale is the latest one's).
    """
    groups = (
        sa.select(
            Items.c.theme_id.label("theme_id"),
            Items.c.decision.label("decision"),
            sa.func.count().label("n"),
            sa.func.max(Items.c.decided_at).label("last"),
        )
        .where(_in_window(Items.c.decided_at, since, until, product), Items.c.decision.is_not(None))
        .group_by(Items.c.theme_id, Items.c.decision)
        .subquery("decision_groups")
    )
    latest = aliased(Items)
    rationale = (
        sa.select(latest.c.rationale)
        .where(
            latest.c.decided_at == groups.c.last,
            latest.c.decision == groups.c.decision,
            sa.or_(
                latest.c.theme_id == groups.c.theme_id,
                sa.and_(latest.c.theme_id.is_(None), groups.c.theme_id.is_(None)),
            ),
        )
        .limit(1)
        .scalar_subquery()
    )
    member = aliased(Themes)
    named = aliased(Themes)
    survivor = sa.func.coalesce(member.c.merged_into_id, groups.c.theme_id)
    stmt = sa.select(
        survivor.label("theme_id"),
        named.c.name.label("theme"),
        groups.c.decision,
        groups.c.n,
        groups.c.last,
        rationale.label("rationale"),
    ).select_from(
        groups.outerjoin(member, member.c.id == groups.c.theme_id).outerjoin(named, named.c.id == survivor)
    )
    merged: dict[tuple[uuid.UUID | None, str], DecisionSummary] = {}
    for row in (await session.execute(stmt)).all():
        theme_id = uuid.UUID(str(row.theme_id)) if row.theme_id is not None else None
        last = _utc(row.last)
        found = merged.get((theme_id, row.decision))
        if found is None:
            merged[(theme_id, row.decision)] = DecisionSummary(
                theme_id=theme_id,
                theme=row.theme,
                decision=Decision(row.decision),
                rationale=row.rationale,
                items=_int(row.n),
                decided_at=last,
            )
            continue
        found.items += _int(row.n)
        if last > found.decided_at:
            found.decided_at, found.rationale = last, row.rationale
    return sorted(
        merged.values(),
        key=lambda d: (
            d.theme_id is None,
            -d.items,
            -d.decided_at.timestamp(),
            d.theme or "",
            str(d.theme_id),
        ),
    )


@dataclass(frozen=True)
class AgendaItem:
    """What the agenda says about one item: its words as the customer said them."""

    id: uuid.UUID
    source: str
    body: str
    theme: str | None
    received_at: datetime
    status: str
    stage_due_at: datetime | None
    decision: str | None
    rationale: str | None


async def _agenda_items(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AgendaItem]:
    if not ids:
        return {}
    member = aliased(Themes)
    named = aliased(Themes)
    stmt = (
        sa.select(
            Items.c.id,
            Items.c.source,
            Items.c.body,
            named.c.name.label("theme"),
            Items.c.received_at,
            Items.c.status,
            Items.c.stage_due_at,
            Items.c.decision,
            Items.c.rationale,
        )
        .select_from(
            Items.outerjoin(member, member.c.id == Items.c.theme_id).outerjoin(
                named, named.c.id == sa.func.coalesce(member.c.merged_into_id, Items.c.theme_id)
            )
        )
        .where(Items.c.id.in_(list(ids)))
    )
    return {row.id: AgendaItem(**row._mapping) for row in (await session.execute(stmt)).all()}


# --- use cases ----------------------------------------------------------------------------------


def _require_review(principal: Principal) -> None:
    if not policies.sees_hub(principal):
        raise Forbidden("The digest is for editors, managers, admins and integrations with feedback:read.")


async def _plan_for_this_window(session: AsyncSession) -> None:
    """On PostgreSQL, plan each statement for this window's bounds.

    After five runs of a prepared statement PostgreSQL may switch to a generic plan, made
    without the bounds: measured 30% slower for a 90-day window (no parallel scan) once a few
    7-day digests had run. Planning takes under a millisecond; SET LOCAL ends with the read.
    """
    await set_local(
        session,
        "plan_cache_mode = force_custom_plan",
        # The window's (theme, account) groups are hashed in memory, not spilled to disk: ~105 MB
        # for the benchmark's 690,000 groups (docs/benchmarks.md); freed when the read ends.
        "work_mem = '128MB'",
        # JIT compiling the pairs' aggregate cost ~100-300 ms a call and saved nothing (measured).
        "jit = off",
    )


async def _product(session: AsyncSession, principal: Principal, key: str | None) -> uuid.UUID | None:
    if key is None:
        return None
    product = await products_service.find_product(session, principal, key)
    if product is None:
        raise Invalid(
            f"No product '{key}'.",
            errors=[field_error("product_key", "no such product", location="query", type_="not_found")],
        )
    return product.id


async def _compute(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    product_key: str | None = None,
    product: uuid.UUID | None = None,
) -> Digest:
    await _plan_for_this_window(session)
    heard = await _heard(session, since, until, product)
    currencies = currency_order(heard.currencies)
    decisions = await _decisions(session, since, until, product)
    decided = {decision.value: 0 for decision in Decision}
    for summary in decisions:
        decided[summary.decision.value] += summary.items
    return Digest(
        since=since,
        until=until,
        product_key=product_key,
        total=heard.total,
        by_source=[Count(key=source, count=heard.sources.get(source, 0)) for source in FeedbackSource],
        by_theme=heard.themes,
        currencies=currencies,
        themes=rank_themes(heard.themes, heard.weights, currencies),
        nps=nps_summary(heard.promoters, heard.passives, heard.detractors),
        decided=decided,
        decisions=decisions,
        loop_gaps=await _loop_gaps(session, product),
        overdue=await _overdue(session, now, product),
        median_loop_days=await _median_loop_days(session, since, until, product),
    )


@needs_transaction
async def weekly_digest(
    session: AsyncSession,
    principal: Principal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    product_key: str | None = None,
) -> Digest:
    """Builds the weekly review of [since, until) (default: the last 7 days), for one product
    when `product_key` is given."""
    _require_review(principal)
    now = utcnow()
    since, until = review_window(since, until, now=now)
    product = await _product(session, principal, product_key)
    return await _compute(session, since, until, now, product_key=product_key, product=product)


@needs_transaction
async def digest_agenda(
    session: AsyncSession,
    principal: Principal,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    product_key: str | None = None,
) -> str:
    """Renders the weekly review as a 15-minute meeting agenda in Markdown."""
    _require_review(principal)
    now = utcnow()
    since, until = review_window(since, until, now=now)
    product = await _product(session, principal, product_key)
    digest = await _compute(session, since, until, now, product_key=product_key, product=product)
    shown = [*digest.loop_gaps[:AGENDA_ITEMS], *digest.overdue[:AGENDA_ITEMS]]
    details = await _agenda_items(session, shown)
    return render_agenda(digest, details, now=now)


# --- the agenda ---------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def _text(value: str, limit: int = BODY_CHARS) -> str:
    """Customer words as they were said (Japanese stays Japanese), on one line, inert as Markdown."""
    flat = " ".join(value.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _day(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def _item_line(item: AgendaItem | None, item_id: uuid.UUID, extra: str) -> str:
    if item is None:  # gone between the two reads: still name it
        return f"- `{item_id}` {extra}".rstrip()
    theme = f", {_text(item.theme, 80)}" if item.theme else ""
    return f"- 「{_text(item.body)}」 ({item.source}{theme}) {extra} `{item.id}`".replace("  ", " ")


def _more(shown: int, total: int, capped: bool) -> list[str]:
    if total <= shown:
        return []
    rest = f"{total - shown}{'+' if capped else ''}"
    return [f"- … and {rest} more in the JSON digest"]


def _money(revenue: Sequence[Any]) -> str:
    return " · ".join(f"{m.currency} {Decimal(m.amount):,}" for m in revenue)


def _demand_line(n: int, theme: ThemeDemand) -> str:
    label = _text(theme.label, 120) if theme.label else "(unnamed theme)"
    weight = f", {theme.accounts} accounts" if theme.accounts else ""
    revenue = f" ({_money(theme.revenue)})" if theme.revenue else ""
    return f"{n}. {label}: {theme.count} items{weight}{revenue}"


def _decision_line(decision: DecisionSummary) -> str:
    what = _text(decision.theme, 80) if decision.theme else "unthemed items (the latest rationale)"
    why = f": {_text(decision.rationale, 200)}" if decision.rationale else ""
    return f"- **{decision.decision}** {what} ({decision.items} items, {_day(decision.decided_at)}){why}"


def render_agenda(digest: Digest, details: dict[uuid.UUID, AgendaItem], *, now: datetime) -> str:
    """The digest as a 15-minute agenda: 5 minutes each for what customers said, decisions, loop."""
    about = f" ({_text(digest.product_key)})" if digest.product_key else ""
    lines = [
        f"# Weekly feedback review{about}: {_when(digest.since)} → {_when(digest.until)}",
        "",
        f"15 minutes. {digest.total} items heard in the window.",
        "",
        "## 1. What customers said (5 min)",
        "",
        "### By source",
        "",
    ]
    heard = [c for c in sorted(digest.by_source, key=lambda c: -c.count) if c.count]
    lines += [f"- {c.key}: {c.count}" for c in heard] or ["- nothing heard in the window"]
    lines += ["", "### Top themes (by the revenue of the accounts asking, then accounts, then items)", ""]
    top = [theme for theme in digest.themes if theme.key is not None][:AGENDA_THEMES]
    lines += [_demand_line(n, theme) for n, theme in enumerate(top, start=1)]
    unthemed = next((theme.count for theme in digest.themes if theme.key is None), 0)
    if unthemed:
        lines.append(f"- (no theme yet): {unthemed} items to triage")
    if not digest.themes:
        lines.append("- no items in the window")
    nps = digest.nps
    lines += ["", "### NPS", ""]
    if nps.score is None:
        lines.append("- no NPS responses in the window")
    else:
        lines += [
            f"- score **{nps.score:+.1f}** from {nps.responses} responses",
            f"- promoters (9–10): {nps.promoters}, passives (7–8): {nps.passives}, "
            f"detractors (0–6): {nps.detractors}",
        ]
    lines += [
        "",
        "## 2. Decisions: build or stop (5 min)",
        "",
        f"- build: {digest.decided.get('build', 0)}",
        f"- stop: {digest.decided.get('stop', 0)}",
    ]
    if digest.decisions:
        lines += ["", "Decided in the window, once per theme:", ""]
        lines += [_decision_line(decision) for decision in digest.decisions[:AGENDA_ITEMS]]
        lines += _more(AGENDA_ITEMS, len(digest.decisions), capped=False)
    lines += ["", "## 3. Closing the loop (5 min)", "", "### Loop gaps to announce", ""]
    if digest.loop_gaps:
        lines.append("Implemented, not yet announced to sales (oldest first):")
        lines.append("")
        for item_id in digest.loop_gaps[:AGENDA_ITEMS]:
            item = details.get(item_id)
            lines.append(_item_line(item, item_id, f"heard {_day(item.received_at)}" if item else ""))
        lines += _more(AGENDA_ITEMS, len(digest.loop_gaps), capped=len(digest.loop_gaps) >= LIST_CAP)
    else:
        lines.append("- none: everything implemented has been announced")
    lines += ["", "### Overdue items", ""]
    if digest.overdue:
        for item_id in digest.overdue[:AGENDA_ITEMS]:
            item = details.get(item_id)
            late = ""
            if item is not None and item.stage_due_at is not None:
                days = (now - item.stage_due_at).days
                late = f"{item.status}, due {_day(item.stage_due_at)} ({days} days late)"
            lines.append(_item_line(item, item_id, late))
        lines += _more(AGENDA_ITEMS, len(digest.overdue), capped=len(digest.overdue) >= LIST_CAP)
    else:
        lines.append("- none")
    lines += ["", "### Median loop time", ""]
    if digest.median_loop_days is None:
        lines.append("- nothing announced in the window")
    else:
        lines.append(
            f"- {digest.median_loop_days:.1f} days from hearing it to telling sales "
            "(items announced in the window)"
        )
    return "\n".join(lines) + "\n"
