"""Bulk: one action on up to 1,000 feedback items, each applied or refused on its own.

Each item runs the single-item use case (its policy, its checks, its event) inside a savepoint
of the one transaction: an item that fails rolls back to before it, so no item is ever
half-applied, and the others keep what they did. Each result carries the HTTP status (and, on
failure, the problem) the single-item call would have answered.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.db import transactional
from service.errors import CueCardError, Invalid, field_error
from service.feedback import loop, policies
from service.feedback import service as feedback_service
from service.feedback import themes as themes_service
from service.feedback.schemas import (
    BulkItemResult,
    BulkResult,
    FeedbackBulk,
    FeedbackUpdate,
    Proposals,
    Transition,
)

TRANSITION_FIELDS = ("to", "note", "decision", "rationale", "message_id")


def _check_request(data: FeedbackBulk) -> None:
    """The request as a whole: the fields its action needs, and none of the other action's."""
    sent = data.model_fields_set
    problems: list[dict[str, Any]] = []
    if data.action == "assign_theme":
        if data.theme_id is None:
            problems.append(field_error("theme_id", "required to assign a theme", type_="missing"))
        problems += [
            field_error(name, "only sent with action transition", type_="unexpected")
            for name in TRANSITION_FIELDS
            if name in sent and getattr(data, name) is not None
        ]
    else:
        if data.to is None:
            problems.append(field_error("to", "required to transition", type_="missing"))
        if data.theme_id is not None:
            problems.append(field_error("theme_id", "only sent with action assign_theme", type_="unexpected"))
    if problems:
        raise Invalid(
            f"This bulk {data.action} is missing or has extra fields: "
            + ", ".join(p["field"] for p in problems)
            + ".",
            errors=problems,
        )


@transactional
async def bulk_feedback(session: AsyncSession, principal: Principal, data: FeedbackBulk) -> BulkResult:
    """Applies one action to each item on its own (assign a theme, or move one stage on), with
    the single-item permission and checks; a refused item changes nothing. Stop decisions among
    them propose drafts once per product, not once per item."""
    _check_request(data)
    transition = None
    update = None
    if data.action == "transition":
        transition = Transition(**{name: getattr(data, name) for name in TRANSITION_FIELDS})
        if policies.can_triage(principal):  # what is wrong with the step is wrong for every item
            await loop.check_step(session, principal, transition)
    else:
        update = FeedbackUpdate(theme_id=data.theme_id)
        if policies.can_triage(principal):
            known = await themes_service.themes_by_ids(
                session, principal, [data.theme_id] if data.theme_id else []
            )
            if not known:
                raise Invalid(
                    "No such theme.", errors=[field_error("theme_id", "no such theme", type_="not_found")]
                )
    results: list[BulkItemResult] = []
    stopped: dict[uuid.UUID | None, list[tuple[uuid.UUID, str]]] = {}
    for feedback_id in data.ids:
        try:
            async with session.begin_nested():
                if transition is not None:
                    item, _ = await feedback_service.step_one(session, principal, feedback_id, transition)
                    if transition.to == "decided" and transition.decision == "stop":
                        stopped.setdefault(item.product_id, []).append((item.id, item.body))
                else:
                    assert update is not None
                    await feedback_service.update_feedback(session, principal, feedback_id, update)
        except CueCardError as error:
            results.append(BulkItemResult(id=feedback_id, status=error.status).failed(error))
            continue
        results.append(BulkItemResult(id=feedback_id, status=200))
    proposals: list[Proposals] = []
    for product_id, items in stopped.items():
        first_id, body = items[0]
        subject = feedback_service.excerpt(body, 120)
        more = f" and {len(items) - 1} more" if len(items) > 1 else ""
        proposals.append(
            await loop.propose_for_stop(
                session,
                principal,
                product_id=product_id,
                subject=subject,
                rationale=transition.rationale or "" if transition else "",
                origin=f"item “{feedback_service.excerpt(body, 60)}”{more}",
                origin_id=str(first_id),
            )
        )
    return BulkResult(results=results, proposals=proposals)
