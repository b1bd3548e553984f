"""Themes: feedback items saying the same thing, counted, and merged when two turn out to be one.

A merged theme points at its survivor (`merged_into_id`) and its items move there. Chains stay
flat: merging a theme that others were merged into re-points those at the new survivor too, so
every theme is either a survivor or points straight at one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from service.auth.principal import Principal
from service.db import is_postgres, transactional, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.events.catalogue import EventType
from service.events.service import emit
from service.feedback import accounts as feedback_accounts
from service.feedback import loop, policies
from service.feedback.models import FeedbackItem, Theme
from service.feedback.schemas import ThemeCreate, ThemeMerge, ThemeRead, ThemeTransitionResult, Transition
from service.fields import Slug
from service.pagination import Page, PageParams, fetch_page
from service.products import service as products_service
from service.reads import rows_in, rows_of

# --- who may see and change themes ------------------------------------------------------------
# The hub's own policies decide: themes are read by whoever sees every item (`sees_hub`) and
# written by whoever triages (`can_triage`).


def _require_review(principal: Principal) -> None:
    if not policies.sees_hub(principal):
        raise Forbidden("Themes are for editors, managers, admins and integrations with feedback:read.")


# --- queries (never commit) ---------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeCounts:
    items: int = 0
    accounts: int = 0


async def counts_for(session: AsyncSession, theme_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ThemeCounts]:
    """Items and distinct customer accounts per theme, for a whole page in one aggregate query.

    Items of themes merged into a survivor count under the survivor (a merge moves them, but an
    item filed against a merged theme while the merge ran still counts where it belongs).
    """
    if not theme_ids:
        return {}
    ids = list(set(theme_ids))
    member = aliased(Theme)
    # The theme an item counts under: the survivor when its theme was merged.
    survivor = sa.func.coalesce(member.merged_into_id, member.id).label("survivor")
    stmt = (
        select(
            survivor,
            sa.func.count().label("items"),
            sa.func.count(sa.distinct(col(FeedbackItem.account_id))).label("accounts"),
        )
        .select_from(FeedbackItem)
        .join(member, col(member.id) == FeedbackItem.theme_id)
        .where(sa.or_(col(member.id).in_(ids), col(member.merged_into_id).in_(ids)))
        .group_by(survivor)
    )
    rows = (await session.execute(stmt)).all()
    return {row.survivor: ThemeCounts(items=row.items, accounts=row.accounts) for row in rows}


async def _get(session: AsyncSession, theme_id: uuid.UUID) -> Theme | None:
    return await session.get(Theme, theme_id)


async def _lock(session: AsyncSession, theme_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Theme]:
    """The themes, locked until commit on PostgreSQL (in id order, so two merges cannot deadlock)."""
    stmt = (
        select(Theme)
        .where(col(Theme.id).in_(sorted(set(theme_ids))))
        .order_by(col(Theme.id))
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return {theme.id: theme for theme in (await session.execute(stmt)).scalars()}


# --- shaping ------------------------------------------------------------------------------------


def theme_etag(theme: ThemeRead) -> str:
    """The tag changes with the theme's row and with its counts (items filed or merged in), and
    with its accounts' revenue."""
    revenue = feedback_accounts.revenue_tag(theme.revenue)
    return f'"v{theme.revision}.{theme.items}.{theme.accounts}{revenue}"'


async def _to_read(session: AsyncSession, principal: Principal, themes: Sequence[Theme]) -> list[ThemeRead]:
    """Shape a page of themes with a constant number of queries, whatever its size."""
    counts = await counts_for(session, [t.id for t in themes])
    revenue = await feedback_accounts.theme_revenue(
        session, [t.id for t in themes if t.merged_into_id is None]
    )
    products = await products_service.products_by_ids(
        session, principal, {t.product_id for t in themes if t.product_id}
    )
    result = []
    for theme in themes:
        found = counts.get(theme.id, ThemeCounts()) if theme.merged_into_id is None else ThemeCounts()
        product = products.get(theme.product_id) if theme.product_id else None
        result.append(
            ThemeRead(
                id=theme.id,
                name=theme.name,
                description=theme.description,
                product_key=product.key if product else None,
                merged_into_id=theme.merged_into_id,
                stage=theme.stage,
                decision=theme.decision,
                rationale=theme.rationale,
                announcement_message_id=theme.announcement_message_id,
                items=found.items,
                accounts=found.accounts,
                revenue=feedback_accounts.revenue_list(revenue.get(theme.id, {})),
                created_at=theme.created_at,
                revision=theme.revision,
            )
        )
    return result


# --- use cases ----------------------------------------------------------------------------------


async def list_themes(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    product_key: Slug | None = None,
    include_merged: bool = False,
) -> Page[ThemeRead]:
    """Lists themes, oldest first, each with its items and distinct customer accounts."""
    _require_review(principal)
    stmt = select(Theme)
    if product_key is not None:
        product = await products_service.find_product(session, principal, product_key)
        if product is None:
            return Page(items=[], next_cursor=None)
        stmt = stmt.where(Theme.product_id == product.id)
    if not include_merged:
        stmt = stmt.where(col(Theme.merged_into_id).is_(None))
    page = await fetch_page(session, stmt, Theme, params)
    return Page(items=await _to_read(session, principal, list(page.rows)), next_cursor=page.next_cursor)


async def get_theme(session: AsyncSession, principal: Principal, theme_id: uuid.UUID) -> ThemeRead:
    """Gets a theme with its counts (a merged one counts nothing: its items are the survivor's)."""
    _require_review(principal)
    theme = await _get(session, theme_id)
    if theme is None:
        raise NotFound("No such theme.")
    return (await _to_read(session, principal, [theme]))[0]


async def themes_by_ids(
    session: AsyncSession, principal: Principal, theme_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ThemeRead]:
    """Gets many themes at once with their counts (for DataLoaders); nothing for non-reviewers."""
    ids = list(set(theme_ids))
    if not ids or not policies.sees_hub(principal):
        return {}
    rows = await rows_in(session, rows_of(Theme), Theme.__table__.c.id, ids)
    return {read.id: read for read in await _to_read(session, principal, rows)}


@transactional
async def create_theme(session: AsyncSession, principal: Principal, data: ThemeCreate) -> ThemeRead:
    """Creates a theme (editors, managers, admins)."""
    if not policies.can_triage(principal):
        raise Forbidden("Only editors, managers and admins create themes.")
    product_id = None
    if data.product_key is not None:
        product = await products_service.find_product(session, principal, data.product_key)
        if product is None:
            raise Invalid(
                f"No product '{data.product_key}'.", errors=[field_error("product_key", "no such product")]
            )
        product_id = product.id
    theme = Theme(name=data.name, description=data.description, product_id=product_id)
    session.add(theme)
    await session.flush()
    return (await _to_read(session, principal, [theme]))[0]


@transactional
async def merge_theme(
    session: AsyncSession, principal: Principal, theme_id: uuid.UUID, data: ThemeMerge
) -> ThemeRead:
    """Merges a theme into another in one transaction and returns the survivor.

    Every item of the theme, and of themes merged into it earlier, moves to the survivor;
    those themes then point at the survivor too. Nothing is deleted, so no item, customer
    account or score is lost. Into itself → 422; from or into a merged theme → 409.
    """
    if not policies.can_triage(principal):
        raise Forbidden("Only editors, managers and admins merge themes.")
    if data.into == theme_id:
        raise Invalid(
            "A theme cannot be merged into itself.",
            errors=[field_error("into", "must be another theme than the one merged")],
        )
    locked = await _lock(session, (theme_id, data.into))
    source, target = locked.get(theme_id), locked.get(data.into)
    if source is None:
        raise NotFound("No such theme.")
    if target is None:
        raise Invalid("No theme to merge into.", errors=[field_error("into", "no such theme")])
    if source.merged_into_id is not None:
        raise Conflict(f"This theme was already merged into {source.merged_into_id}.")
    if target.merged_into_id is not None:
        raise Conflict(
            f"Theme {target.id} was merged into {target.merged_into_id}: merge into the survivor instead."
        )

    now = utcnow()
    absorbed = select(Theme.id).where(Theme.merged_into_id == source.id).scalar_subquery()
    # Items joining a theme moved as a whole follow it to its stage (before they move: only
    # the joiners, not the survivor's own items the theme's step left where they were).
    await _follow(
        session,
        principal,
        target,
        which=sa.or_(col(FeedbackItem.theme_id) == source.id, col(FeedbackItem.theme_id).in_(absorbed)),
        now=now,
    )
    # One UPDATE per table: the items (a new row version each, so their ETags change) ...
    await session.execute(
        sa.update(FeedbackItem)
        .where(sa.or_(col(FeedbackItem.theme_id) == source.id, col(FeedbackItem.theme_id).in_(absorbed)))
        .values(theme_id=target.id, revision=FeedbackItem.revision + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    # ... and the themes merged into this one earlier: they now point at the survivor.
    await session.execute(
        sa.update(Theme)
        .where(col(Theme.merged_into_id) == source.id)
        .values(merged_into_id=target.id, revision=Theme.revision + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    source.merged_into_id = target.id
    for theme in (source, target):  # the survivor's counts changed: so does its version
        theme.revision += 1
        theme.updated_at = now
    await session.flush()  # the counts below read what the merge wrote
    return (await _to_read(session, principal, [target]))[0]


# --- deciding on the theme ------------------------------------------------------------------------


async def _follow(
    session: AsyncSession,
    principal: Principal,
    theme: Theme,
    *,
    which: sa.ColumnElement[bool],
    now: datetime,
) -> int:
    return await loop.follow(
        session,
        principal,
        which=which,
        stage=theme.stage,
        decision=theme.decision,
        rationale=theme.rationale,
        message_id=theme.announcement_message_id,
        theme_name=theme.name,
        now=now,
    )


async def follow_theme(
    session: AsyncSession,
    principal: Principal,
    theme_id: uuid.UUID,
    *,
    which: sa.ColumnElement[bool],
    now: datetime,
) -> int:
    """The items `which` selects, just filed under this theme, follow it to its stage (if it was
    moved as a whole); returns how many moved. Joins the caller's use case.

    The theme is read under a share lock (PostgreSQL): a step of the theme running meanwhile
    (which holds its row) finishes first, so the item either was in its UPDATE or sees its stage."""
    stmt = select(Theme).where(col(Theme.id) == theme_id).execution_options(populate_existing=True)
    if is_postgres(session):
        stmt = stmt.with_for_update(read=True)
    theme = (await session.execute(stmt)).scalar_one_or_none()
    if theme is None or theme.stage is None:
        return 0
    return await _follow(session, principal, theme, which=which, now=now)


@transactional
async def transition_theme(
    session: AsyncSession, principal: Principal, theme_id: uuid.UUID, data: Transition
) -> ThemeTransitionResult:
    """Moves every open item of the theme (and of themes merged into it) one step, in one
    transaction: each records its step, the theme keeps the stage and decision (items that join
    later follow it there), and one `theme.transitioned` event tells of it. Items that cannot
    take the step from their stage are counted as skipped. A stop decision proposes drafts.

    Only forward: a stage the theme reached already (or passed) → 409; a merged theme → 409."""
    if not policies.can_triage(principal):
        raise Forbidden("Only editors, managers and admins decide on themes.")
    theme = (await _lock(session, [theme_id])).get(theme_id)
    if theme is None:
        raise NotFound("No such theme.")
    if theme.merged_into_id is not None:
        raise Conflict(f"This theme was merged into {theme.merged_into_id}: decide on the survivor.")
    reached = loop.RANK[theme.stage] if theme.stage else 0
    if loop.RANK[data.to] <= reached:
        raise Conflict(
            f"This theme is at '{theme.stage}' already: it only moves forward.",
            allowed=[s for s in loop.STAGES if loop.RANK[s] > reached],
        )
    if data.to == "implemented" and theme.decision == "stop":
        raise Conflict(
            "This theme was decided 'stop': a stop is announced, not implemented.", allowed=["announced"]
        )
    await loop.check_step(session, principal, data)

    now = utcnow()
    merged = select(Theme.id).where(col(Theme.merged_into_id) == theme.id)
    members = [theme.id, *(await session.execute(merged)).scalars()]
    moved, skipped = await loop.step_items(session, principal, theme_ids=members, data=data, now=now)
    theme.stage = data.to
    if data.to == "decided":
        theme.decision, theme.rationale = data.decision, data.rationale
    if data.to == "announced":
        theme.announcement_message_id = data.message_id
    theme.revision += 1
    theme.updated_at = now
    await session.flush()
    product = None
    if theme.product_id is not None:
        product = (await products_service.products_by_ids(session, principal, {theme.product_id})).get(
            theme.product_id
        )
    proposals = None
    if data.to == "decided" and data.decision == "stop":
        proposals = await loop.propose_for_stop(
            session,
            principal,
            product_id=theme.product_id,
            subject=theme.name,
            rationale=data.rationale or "",
            origin=f"theme “{theme.name}”",
            origin_id=str(theme.id),
        )
    emit(
        session,
        EventType.THEME_TRANSITIONED,
        {
            "theme_id": theme.id,
            "to": data.to,
            "decision": data.decision if data.to == "decided" else None,
            "moved": moved,
            "skipped": skipped,
            "product_key": product.key if product else None,
            "message_id": data.message_id if data.to == "announced" else None,
            "proposals": proposals.model_dump() if proposals else None,
            "actor_id": principal.person_id,
            "at": now,
        },
        product_key=product.key if product else None,
    )
    return ThemeTransitionResult(
        theme_id=theme.id, stage=data.to, moved=moved, skipped=skipped, proposals=proposals
    )
