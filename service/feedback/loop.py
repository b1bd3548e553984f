"""The loop's rules, and its moves of many items at once.

new → triaged → decided; a `build` decision → implemented → announced; a `stop` decision is an
outcome in itself: decided → announced (announcing a stop tells sales what we will not do and
why). Here: which stage may follow which, what a step must carry, the set-based step of every
open item of a theme (one UPDATE … FROM and one INSERT … SELECT, whatever the theme's size),
items that join a decided theme following it to its stage, and the drafts a stop proposes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.briefs import service as briefs_service
from service.db import is_postgres, session_settings
from service.errors import Forbidden, Invalid, NotFound, field_error
from service.feedback.models import FeedbackItem, FeedbackTransition
from service.feedback.schemas import Proposals, Transition
from service.messages import service as messages_service

ITEMS: sa.Table = FeedbackItem.__table__
STEPS: sa.Table = FeedbackTransition.__table__
STAGES = ("new", "triaged", "decided", "implemented", "announced")
RANK = {stage: rank for rank, stage in enumerate(STAGES)}
STAGE_STAMP = {
    "triaged": "triaged_at",
    "decided": "decided_at",
    "implemented": "implemented_at",
    "announced": "announced_at",
}
OPEN = ITEMS.c.status != "announced"


def next_stage(status: str, decision: str | None) -> str | None:
    """The one stage an item may move to from `status` (None once announced)."""
    if status == "decided":
        return "announced" if decision == "stop" else "implemented"
    index = RANK[status] + 1
    return STAGES[index] if index < len(STAGES) else None


def may_reach(to: str) -> sa.ColumnElement[bool]:
    """The items that may take the step to `to` from where they are (next_stage, in SQL)."""
    c = ITEMS.c
    if to == "implemented":
        return sa.and_(c.status == "decided", sa.or_(c.decision.is_(None), c.decision != "stop"))
    if to == "announced":
        return sa.or_(c.status == "implemented", sa.and_(c.status == "decided", c.decision == "stop"))
    previous = STAGES[RANK[to] - 1] if RANK[to] > 0 else None
    return c.status == previous if previous else sa.false()


def loop_targets(session: AsyncSession) -> dict[str, int]:
    """Days allowed to reach each stage from the previous one (settings.feedback_loop_targets)."""
    return session_settings(session).feedback_loop_targets


def days_to(session: AsyncSession, stage: str) -> timedelta | None:
    days = loop_targets(session).get(stage)
    return timedelta(days=days) if days is not None else None


def due_after(
    session: AsyncSession, stage: str, at: datetime, decision: str | None = None
) -> datetime | None:
    """When the stage after `stage` is due, counted from `at`; None once announced."""
    following = next_stage(stage, decision)
    allowed = days_to(session, following) if following else None
    return at + allowed if allowed is not None else None


# --- what a step carries ---------------------------------------------------------------------------


async def _announcement_problems(
    session: AsyncSession, principal: Principal, message_id: uuid.UUID | None
) -> list[dict[str, Any]]:
    if message_id is None:
        return [
            field_error(
                "message_id", "announcing needs the published message that tells sales", type_="missing"
            )
        ]
    try:
        message = await messages_service.get_message(session, principal, message_id)
    except (NotFound, Forbidden):
        return [field_error("message_id", "no such message", type_="not_found")]
    if message.status != "published":
        return [field_error("message_id", "the message is not published yet", type_="not_published")]
    return []


async def check_step(session: AsyncSession, principal: Principal, data: Transition) -> None:
    """Refuses (422) a step missing what it needs or carrying what it must not."""
    problems: list[dict[str, Any]] = []
    if data.to == "decided":
        problems += [
            field_error(name, "required to decide (build or stop, and why)", type_="missing")
            for name in ("decision", "rationale")
            if not getattr(data, name)
        ]
    else:
        problems += [
            field_error(name, "only sent when deciding", type_="unexpected")
            for name in ("decision", "rationale")
            if getattr(data, name) is not None
        ]
    if data.to == "announced":
        problems += await _announcement_problems(session, principal, data.message_id)
    elif data.message_id is not None:
        problems.append(field_error("message_id", "only sent when announcing", type_="unexpected"))
    if problems:
        raise Invalid(
            "This transition is missing or has extra fields: "
            + ", ".join(p["field"] for p in problems)
            + ".",
            errors=problems,
        )


# --- many items in one step -------------------------------------------------------------------------


def _new_id() -> sa.ColumnElement[Any]:
    """A fresh UUID per row, made by PostgreSQL (on SQLite, 16 random bytes as the 32 hex digits
    it stores a UUID as)."""
    return sa.func.gen_random_uuid()


async def _move(
    session: AsyncSession,
    *,
    which: sa.ColumnElement[bool],
    values: Callable[[sa.BindParameter[datetime]], dict[str, Any]],
    to: str,
    step_decision: sa.ColumnElement[Any] | None,
    note: str | None,
    actor_id: uuid.UUID | None,
    now: datetime,
    from_status: sa.ColumnElement[str] | None = None,
) -> int:
    """Moves the items `which` selects to `to` with `values`, recording each one's step (its
    stage before, `to`, the decision and the note); returns how many moved.

    PostgreSQL: one statement, the UPDATE … FROM a locking read of the items (so each step
    records the stage the item really left) feeding an INSERT … SELECT of the steps. SQLite
    (one writer at a time, no writes in WITH): the INSERT … SELECT, then the UPDATE, of the
    same rows. `from_status`: the stage each item left, as an expression of the item after the
    step, when `which` determines it (a theme's step): PostgreSQL then needs no locking read
    first, the UPDATE's own re-check of `which` on a row changed meanwhile is enough."""
    at = sa.bindparam("at", now, type_=STEPS.c.at.type)  # one parameter for every timestamp written
    written = values(at) | {"status": to, "revision": ITEMS.c.revision + 1, "updated_at": at}
    constants = {
        "to_status": sa.literal(to, STEPS.c.to_status.type),
        "note": sa.literal(note, STEPS.c.note.type),
        "actor_id": sa.literal(actor_id, STEPS.c.actor_id.type),
        "at": at,
    }
    if is_postgres(session) and from_status is not None:
        moved = (
            sa.update(ITEMS)
            .where(which)
            .values(written)
            .returning(ITEMS.c.id, from_status.label("from_status"))
            .cte("moved")
        )
        steps = (
            sa.insert(STEPS)
            .from_select(
                ["id", "feedback_id", "from_status", "decision", *constants],
                sa.select(
                    _new_id(),
                    moved.c.id,
                    moved.c.from_status,
                    step_decision if step_decision is not None else sa.null(),
                    *constants.values(),
                ),
            )
            .returning(STEPS.c.id)
            .cte("steps")
        )
        return int((await session.execute(sa.select(sa.func.count()).select_from(steps))).scalar_one())
    if is_postgres(session):
        old = (
            sa.select(ITEMS.c.id, ITEMS.c.status.label("from_status"), ITEMS.c.decision.label("old_decision"))
            .where(which)
            .with_for_update()
            .subquery("old")
        )
        moved = (
            sa.update(ITEMS)
            .where(ITEMS.c.id == old.c.id)
            .values(written)
            .returning(ITEMS.c.id, old.c.from_status, old.c.old_decision)
            .cte("moved")
        )
        decision: sa.ColumnElement[Any] = sa.null()
        if step_decision is not None:  # recorded where the step made the decision
            decision = sa.case((moved.c.old_decision.is_(None), step_decision), else_=sa.null())
        steps = (
            sa.insert(STEPS)
            .from_select(
                ["id", "feedback_id", "from_status", "decision", *constants],
                sa.select(_new_id(), moved.c.id, moved.c.from_status, decision, *constants.values()),
            )
            .returning(STEPS.c.id)
            .cte("steps")
        )
        return int((await session.execute(sa.select(sa.func.count()).select_from(steps))).scalar_one())
    decision = sa.null()
    if step_decision is not None:  # recorded where the step made the decision
        decision = sa.case((ITEMS.c.decision.is_(None), step_decision), else_=sa.null())
    await session.execute(
        sa.insert(STEPS).from_select(
            ["id", "feedback_id", "from_status", "decision", *constants],
            sa.select(
                sa.func.lower(sa.func.hex(sa.func.randomblob(16))),
                ITEMS.c.id,
                ITEMS.c.status,
                decision,
                *constants.values(),
            ).where(which),
        )
    )
    result = await session.execute(sa.update(ITEMS).where(which).values(written))
    return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult


def step_values(
    session: AsyncSession, data: Transition, now: datetime
) -> Callable[[sa.BindParameter[datetime]], dict[str, Any]]:
    """What one step writes on every item it moves (the same for all of them)."""

    def values(at: sa.BindParameter[datetime]) -> dict[str, Any]:
        written: dict[str, Any] = {
            STAGE_STAMP[data.to]: at,
            "stage_due_at": due_after(session, data.to, now, data.decision),
        }
        if data.to == "decided":
            written |= {"decision": data.decision, "rationale": data.rationale}
        if data.to == "announced":
            written["announcement_message_id"] = data.message_id
        return written

    return values


def left_from(to: str) -> sa.ColumnElement[str]:
    """The stage an item that took the step to `to` left, read on the item after the step."""
    if to == "announced":  # from implemented (a build), or straight from decided (a stop)
        return sa.case((ITEMS.c.implemented_at.is_not(None), "implemented"), else_="decided")
    previous = "decided" if to == "implemented" else STAGES[RANK[to] - 1]
    return sa.literal(previous, ITEMS.c.status.type)


async def step_items(
    session: AsyncSession,
    principal: Principal,
    *,
    theme_ids: list[uuid.UUID],
    data: Transition,
    now: datetime,
) -> tuple[int, int]:
    """Moves every open item of these themes that may take the step; (moved, skipped).

    The theme ids are given as a list, not a subquery: the partial index on `theme_id` finds
    the theme's rows, where a join would let the planner scan the whole table."""
    open_items = sa.and_(ITEMS.c.theme_id.in_(theme_ids), OPEN)
    total = (await session.execute(sa.select(sa.func.count()).where(open_items))).scalar_one()
    moved = await _move(
        session,
        which=sa.and_(open_items, may_reach(data.to)),
        values=step_values(session, data, now),
        to=data.to,
        step_decision=sa.literal(data.decision, STEPS.c.decision.type) if data.to == "decided" else None,
        note=data.note or None,
        actor_id=principal.person_id,
        now=now,
        from_status=left_from(data.to),
    )
    return moved, int(total) - moved


async def follow(
    session: AsyncSession,
    principal: Principal,
    *,
    which: sa.ColumnElement[bool],
    stage: str | None,
    decision: str | None,
    rationale: str | None,
    message_id: uuid.UUID | None,
    theme_name: str,
    now: datetime,
) -> int:
    """Items joining a theme moved as a whole follow it to its stage: those behind it whose
    decision (if any) is the theme's, in one step each (recorded, with a note saying why).
    Returns how many followed."""
    if stage is None or RANK[stage] == 0:
        return 0
    c = ITEMS.c
    behind = [s for s in STAGES if RANK[s] < RANK[stage]]
    which = sa.and_(
        which,
        c.status.in_(behind),
        sa.or_(c.decision.is_(None), c.decision == decision) if decision else sa.true(),
    )
    passed = [s for s in STAGES[1 : RANK[stage] + 1] if not (s == "implemented" and decision == "stop")]
    decides = RANK[stage] >= RANK["decided"] and decision is not None

    def values(at: sa.BindParameter[datetime]) -> dict[str, Any]:
        written: dict[str, Any] = {STAGE_STAMP[s]: sa.func.coalesce(c[STAGE_STAMP[s]], at) for s in passed}
        written["stage_due_at"] = due_after(session, stage, now, decision)
        if decides:
            written |= {"decision": decision, "rationale": sa.func.coalesce(c.rationale, rationale)}
        if stage == "announced":
            written["announcement_message_id"] = message_id
        return written

    step_decision = sa.literal(decision, STEPS.c.decision.type) if decides else None
    return await _move(
        session,
        which=which,
        values=values,
        to=stage,
        step_decision=step_decision,
        note=f"Followed its theme “{theme_name}” to {stage}."[:5000],
        actor_id=principal.person_id,
        now=now,
    )


# --- what a stop proposes ---------------------------------------------------------------------------

_FAQ_TITLE = {"ja": "「{subject}」に対応しない理由", "en": "Why we are not doing: {subject}"}
_ORIGIN = {
    "ja": "フィードバック（{origin}）の「やらない」判断から、判断者に代わってCueCardが提案した下書きです。"
    "編集者が確認してください。",
    "en": "Proposed by CueCard on behalf of the decider, from the stop decision on feedback {origin}; "
    "for an editor to review.",
}


def _language(locale: str) -> str:
    return "ja" if locale.lower().startswith("ja") else "en"


async def propose_for_stop(
    session: AsyncSession,
    principal: Principal,
    *,
    product_id: uuid.UUID | None,
    subject: str,
    rationale: str,
    origin: str,
    origin_id: str,
) -> Proposals:
    """Drafts, on behalf of whoever decided to stop: the trade-off under "what we give up" in a
    draft of the product's current brief, and an FAQ message answering the objection. `origin`
    names what was decided (e.g. `theme “…”`), written into both as the drafts' marker; the
    brief's note (read by editors, not searched) also gets `origin_id` to find it by."""
    subject = " ".join(subject.split())[:200]
    brief = None
    if product_id is not None:
        brief = await briefs_service.propose_trade_off(
            session,
            principal,
            product_id=product_id,
            trade_off=f"{subject}: {rationale}",
            note=_ORIGIN["en"].format(origin=f"{origin} ({origin_id})"),
        )
    language = _language(brief.locale) if brief is not None else ("ja" if _has_japanese(subject) else "en")
    message = await messages_service.propose_faq(
        session,
        principal,
        product_id=product_id,
        brief=brief,
        title=_FAQ_TITLE[language].format(subject=subject),
        body=f"{rationale}\n\n{_ORIGIN[language].format(origin=origin)}",
        locale=None if brief is not None else language,
    )
    return Proposals(brief_id=brief.id if brief is not None else None, message_id=message.id)


def _has_japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)
