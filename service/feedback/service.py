"""Feedback: the customer's voice in one place, and the loop that closes on it.

Items arrive one at a time (a person, a support tool) or in batches of up to
`settings.max_batch_items` (an NPS export), upserted by (source, external_id). Editors,
managers and admins walk them through new → triaged → decided → implemented → announced,
each stage due within the configured loop target; the filer follows along in their feed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.concurrency import check_if_match, etag
from service.db import session_settings, transactional, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.events.catalogue import EventType
from service.events.service import emit
from service.feedback import ingest, loop, policies, repository
from service.feedback import themes as themes_service
from service.feedback.models import FeedbackItem, FeedbackTransition
from service.feedback.schemas import (
    BatchResult,
    Customer,
    FeedbackCreate,
    FeedbackRead,
    FeedbackSource,
    FeedbackUpdate,
    LoopStage,
    Transition,
    TransitionRead,
    TransitionResult,
)
from service.fields import Slug
from service.pagination import Page, PageParams
from service.products import service as products_service

EXCERPT_CHARS = 140


def loop_targets(session: AsyncSession) -> dict[str, int]:
    """Days allowed to reach each stage from the previous one (settings.feedback_loop_targets)."""
    return loop.loop_targets(session)


def _days_to(session: AsyncSession, stage: str) -> timedelta | None:
    return loop.days_to(session, stage)


# --- reads ---------------------------------------------------------------------------------------


def _customer(item: FeedbackItem | sa.Row[Any]) -> Customer:
    return Customer.model_construct(account=item.customer_account, segment=item.customer_segment)


async def _to_read(
    session: AsyncSession, principal: Principal, items: Sequence[FeedbackItem | sa.Row[Any]]
) -> list[FeedbackRead]:
    """Shape a page of items (table rows or named rows) with one product query, whatever its size."""
    products = await products_service.products_by_ids(
        session, principal, {i.product_id for i in items if i.product_id}
    )
    now = utcnow()
    result = []
    for item in items:
        product = products.get(item.product_id) if item.product_id else None
        result.append(
            FeedbackRead(
                id=item.id,
                source=item.source,
                external_id=item.external_id,
                product_key=product.key if product else None,
                customer=_customer(item),
                body=item.body,
                nps_score=item.nps_score,
                tags=list(item.tags or []),
                received_at=item.received_at,
                status=item.status,
                decision=item.decision,
                rationale=item.rationale,
                theme_id=item.theme_id,
                filed_by_id=item.filed_by_id,
                stage_due_at=item.stage_due_at,
                overdue=item.stage_due_at is not None and item.stage_due_at < now,
                triaged_at=item.triaged_at,
                decided_at=item.decided_at,
                implemented_at=item.implemented_at,
                announced_at=item.announced_at,
                announcement_message_id=item.announcement_message_id,
                created_at=item.created_at,
                updated_at=item.updated_at,
                revision=item.revision,
            )
        )
    return result


async def _read_one(session: AsyncSession, principal: Principal, item: FeedbackItem) -> FeedbackRead:
    return (await _to_read(session, principal, [item]))[0]


def feedback_etag(item: FeedbackRead) -> str:
    """The ETag of an item as read: it changes with every write to the item."""
    return etag(item.revision)


def _require_read(principal: Principal) -> None:
    if not policies.can_read(principal):
        raise Forbidden("This token may file feedback but not read it (scope feedback:read).")


async def list_feedback(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    status: LoopStage | None = None,
    source: FeedbackSource | None = None,
    product_key: Slug | None = None,
    theme_id: uuid.UUID | None = None,
    since: datetime | None = None,
) -> Page[FeedbackRead]:
    """Lists feedback items, oldest first: the whole hub for those who triage, else one's own."""
    _require_read(principal)
    filed_by_id = None
    if not policies.sees_hub(principal):
        if principal.person_id is None:  # pragma: no cover - can_read admits persons only here
            return Page(items=[], next_cursor=None)
        filed_by_id = principal.person_id
    product_id = None
    if product_key is not None:
        product = await products_service.find_product(session, principal, product_key)
        if product is None:
            return Page(items=[], next_cursor=None)
        product_id = product.id
    page = await repository.list_items(
        session,
        params,
        filed_by_id=filed_by_id,
        status=status,
        source=source,
        product_id=product_id,
        theme_id=theme_id,
        since=since,
    )
    return Page(items=await _to_read(session, principal, list(page.rows)), next_cursor=page.next_cursor)


async def get_feedback(session: AsyncSession, principal: Principal, feedback_id: uuid.UUID) -> FeedbackRead:
    """Gets a feedback item; another employee's item does not exist for an employee."""
    _require_read(principal)
    item = await repository.read_row(session, feedback_id)
    if item is None or not policies.can_see(principal, item):
        raise NotFound("No such feedback item.")
    return (await _to_read(session, principal, [item]))[0]


async def feedback_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, FeedbackRead]:
    """Gets many items at once, those this caller may see (for DataLoaders)."""
    if not policies.can_read(principal):
        return {}
    found = await repository.by_ids(session, ids)
    visible = [item for item in found.values() if policies.can_see(principal, item)]
    return {read.id: read for read in await _to_read(session, principal, visible)}


def _transition_read(step: FeedbackTransition | sa.Row[Any]) -> TransitionRead:
    return TransitionRead.model_validate(step)


async def transitions_by_feedback_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[TransitionRead]]:
    """Each visible item's steps through the loop, oldest first (for DataLoaders and the feed)."""
    wanted = list(ids)
    result: dict[uuid.UUID, list[TransitionRead]] = {i: [] for i in wanted}
    if not policies.can_read(principal):
        return result
    items = await repository.by_ids(session, wanted)
    visible = {i for i, item in items.items() if policies.can_see(principal, item)}
    steps = await repository.transitions_for(session, visible)
    for feedback_id, rows in steps.items():
        result[feedback_id] = [_transition_read(row) for row in rows]
    return result


@dataclass(frozen=True)
class LoopNews:
    """One item the caller filed, with its steps so far (what the filer's feed shows)."""

    item: FeedbackRead
    excerpt: str
    transitions: list[TransitionRead]
    last_activity: datetime


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    """The body on one line (whitespace collapsed), cut at `limit` characters, not bytes."""
    first = " ".join(body.split())
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


async def loop_news(session: AsyncSession, principal: Principal, *, limit: int = 50) -> list[LoopNews]:
    """What the calling person filed and how far each item got, the most recent news first."""
    if not principal.is_person or principal.person_id is None:
        raise Forbidden("Only people file feedback they can follow; service accounts have no feed.")
    items = await repository.filed_by(session, principal.person_id, limit=limit)
    steps = await repository.transitions_for(session, [i.id for i in items])
    reads = await _to_read(session, principal, items)
    news = []
    for item, read in zip(items, reads, strict=True):
        transitions = [_transition_read(step) for step in steps.get(item.id, [])]
        last = max([item.created_at, *(t.at for t in transitions)])
        news.append(
            LoopNews(item=read, excerpt=excerpt(item.body), transitions=transitions, last_activity=last)
        )
    return news


# --- filing --------------------------------------------------------------------------------------


def _require_ingest(principal: Principal) -> None:
    if not policies.can_ingest(principal):
        raise Forbidden("Filing feedback needs a person or an integration with scope feedback:write.")


@transactional
async def ingest_batch(
    session: AsyncSession, principal: Principal, items: list[dict[str, Any]]
) -> BatchResult:
    """Upserts a batch by (source, external_id) in one transaction, keeping the good items.

    Each item is validated on its own; a bad one is reported by index and writes nothing.
    """
    _require_ingest(principal)
    limit = session_settings(session).max_batch_items
    if len(items) > limit:
        raise Invalid(
            f"A batch holds at most {limit} items; split this one.",
            errors=[field_error("items", f"at most {limit} items", type_="too_long")],
        )
    run = ingest.Ingest(session, principal, triage=_days_to(session, "triaged"))
    with ingest.collector_paused():
        try:
            await ingest.validate_and_write(run, principal, items)
        except BaseException:
            await run.abandon()  # before the use case rolls back: no INSERT left running
            raise
    _ingested(session, run, rejected=len(run.errors))
    return BatchResult(
        created=run.count("created"),
        updated=run.count("updated"),
        unchanged=run.count("unchanged"),
        errors=[
            ingest.item_error(
                index, items[index].get("external_id") if isinstance(items[index], dict) else None, found
            )
            for index, found in sorted(run.errors.items())
        ],
    )


@transactional
async def file_feedback(
    session: AsyncSession, principal: Principal, data: FeedbackCreate
) -> tuple[FeedbackRead, ingest.Outcome]:
    """Files one item (or updates the one with the same source and external_id) and says which."""
    reads, outcomes = await _file_together(session, principal, [data])
    return reads[0], outcomes[0]


@transactional
async def file_feedback_items(
    session: AsyncSession, principal: Principal, items: list[FeedbackCreate], *, keys: list[str] | None = None
) -> list[FeedbackRead]:
    """Files several items in one transaction: all of them, or (on any error) none.

    `keys` (one per item) lets a use case make its items' ids from their content, so a retry
    files nothing new; a person's keys land in the service's own key space all the same.
    """
    if keys is not None and len(keys) != len(items):
        raise ValueError("one key per item")
    return (await _file_together(session, principal, items, keys=keys))[0]


async def _file_together(
    session: AsyncSession, principal: Principal, items: list[FeedbackCreate], *, keys: list[str] | None = None
) -> tuple[list[FeedbackRead], list[ingest.Outcome]]:
    _require_ingest(principal)
    # No raw body here (GraphQL and REST hand over the parsed item): hash the fields as sent.
    pending = [
        ingest.prepare(
            principal,
            index,
            data,
            data.model_dump(mode="json", exclude_unset=True),
            derive_id=False,
            key=keys[index] if keys is not None else None,
        )
        for index, data in enumerate(items)
    ]
    run = ingest.Ingest(session, principal, triage=_days_to(session, "triaged"))
    try:
        await run.write(pending)
        await run.finish()
    except BaseException:
        await run.abandon()
        raise
    if run.errors:  # the use case ends here and rolls back what the other items wrote
        index, found = min(run.errors.items())
        if len(items) > 1:
            found = [{**e, "field": f"{index}.{e.get('field', '')}".rstrip(".")} for e in found]
        raise Invalid("The feedback item cannot be filed; see `errors`.", errors=found)
    _ingested(session, run, rejected=0)
    reads = []
    for one in pending:
        item = await repository.get_by_key(session, one.data.source, one.external_id)
        if item is None:  # pragma: no cover - written just above, in this transaction
            raise NotFound("No such feedback item.")
        read = await _read_one(session, principal, item)
        if not policies.can_read(principal):
            # A write-only pipe does not learn who follows the item: whether an e-mail it named
            # is an employee's must not show in its answer.
            read = read.model_copy(update={"filed_by_id": None})
        reads.append(read)
    return reads, [run.outcomes[one.index] for one in pending]


def _ingested(session: AsyncSession, run: ingest.Ingest, *, rejected: int) -> None:
    """One feedback.ingested per filing that created or changed items (a batch of 10,000 is one
    row, not 10,000), with its counts and the products it named."""
    created, updated = run.count("created"), run.count("updated")
    if not created and not updated:
        return
    emit(
        session,
        EventType.FEEDBACK_INGESTED,
        {
            "created": created,
            "updated": updated,
            "unchanged": run.count("unchanged"),
            "rejected": rejected,
            "product_keys": sorted(key for key, found in run.products.items() if found is not None),
            "filed_by_client": run.client,
        },
    )


@transactional
async def create_feedback(session: AsyncSession, principal: Principal, data: FeedbackCreate) -> FeedbackRead:
    """Files one feedback item (an upsert when its source and external_id exist)."""
    return (await file_feedback(session, principal, data))[0]


# --- triage and the loop ---------------------------------------------------------------------------


async def _triageable(session: AsyncSession, principal: Principal, feedback_id: uuid.UUID) -> FeedbackItem:
    """The item to change, locked; 404 for what the caller cannot see, 403 for what it may only read."""
    if policies.can_triage(principal):
        item = await repository.get_for_update(session, feedback_id)
        if item is None:
            raise NotFound("No such feedback item.")
        return item
    item = await repository.get(session, feedback_id) if policies.can_read(principal) else None
    if item is None or not policies.can_see(principal, item):
        raise NotFound("No such feedback item.")
    raise Forbidden("Only editors, managers and admins triage feedback.")


def _touch(item: FeedbackItem, now: datetime) -> None:
    item.revision += 1
    item.updated_at = now


async def _survivor_theme(session: AsyncSession, principal: Principal, theme_id: uuid.UUID) -> uuid.UUID:
    themes = await themes_service.themes_by_ids(session, principal, [theme_id])
    theme = themes.get(theme_id)
    if theme is None:
        raise Invalid("No such theme.", errors=[field_error("theme_id", "no such theme", type_="not_found")])
    return theme.merged_into_id or theme.id  # a merged theme's items belong to its survivor


@transactional
async def update_feedback(
    session: AsyncSession,
    principal: Principal,
    feedback_id: uuid.UUID,
    data: FeedbackUpdate,
    *,
    if_match: str | None = None,
) -> FeedbackRead:
    """Sets an item's theme, tags or product (editors, managers, admins); honours If-Match."""
    item = await _triageable(session, principal, feedback_id)
    check_if_match(if_match, etag(item.revision), required=False)
    changes = data.model_dump(exclude_unset=True)
    if "tags" in changes and changes["tags"] is None:
        raise Invalid(
            "tags cannot be null; send [] to clear them.", errors=[field_error("tags", "cannot be null")]
        )
    values: dict[str, Any] = {}
    if "theme_id" in changes:
        theme_id = changes["theme_id"]
        values["theme_id"] = await _survivor_theme(session, principal, theme_id) if theme_id else None
    if "tags" in changes:
        values["tags"] = list(dict.fromkeys(changes["tags"]))
    if "product_key" in changes:
        key = changes["product_key"]
        product = await products_service.find_product(session, principal, key) if key else None
        if key and product is None:
            raise Invalid(f"No product '{key}'.", errors=[field_error("product_key", "no such product")])
        values["product_id"] = product.id if product else None
    changed = {name: value for name, value in values.items() if getattr(item, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(item, name, value)
        _touch(item, utcnow())
    if changed.get("theme_id") is not None:
        await _follow_theme(session, principal, item, changed["theme_id"])
    return await _read_one(session, principal, item)


async def _follow_theme(
    session: AsyncSession, principal: Principal, item: FeedbackItem, theme_id: uuid.UUID
) -> None:
    """An item filed under a theme moved as a whole follows it to its stage (recorded as a step)."""
    before = item.status
    await repository.flush(session)
    followed = await themes_service.follow_theme(
        session, principal, theme_id, which=loop.ITEMS.c.id == item.id, now=utcnow()
    )
    if not followed:
        return
    await session.refresh(item)
    read = await _read_one(session, principal, item)
    emit(
        session,
        EventType.FEEDBACK_TRANSITIONED,
        {
            "feedback_id": item.id,
            "from": before,
            "to": item.status,
            "decision": item.decision
            if loop.RANK[before] < loop.RANK["decided"] <= loop.RANK[item.status]
            else None,
            "product_key": read.product_key,
            "theme_id": item.theme_id,
            "message_id": item.announcement_message_id if item.status == "announced" else None,
            "actor_id": principal.person_id,
            "at": item.updated_at,
        },
        product_key=read.product_key,
    )


@transactional
async def transition_feedback(
    session: AsyncSession,
    principal: Principal,
    feedback_id: uuid.UUID,
    data: Transition,
    *,
    if_match: str | None = None,
) -> TransitionResult:
    """Moves an item one stage on, records the step and starts the next stage's clock; a stop
    decision also proposes drafts (a brief trade-off, an FAQ) for an editor to review."""
    item, read = await step_one(session, principal, feedback_id, data, if_match=if_match)
    proposals = None
    if data.to == "decided" and data.decision == "stop":
        proposals = await loop.propose_for_stop(
            session,
            principal,
            product_id=item.product_id,
            subject=excerpt(item.body, 120),
            rationale=data.rationale or "",
            origin=f"item “{excerpt(item.body, 60)}”",
            origin_id=str(item.id),
        )
    return TransitionResult(**dict(read), proposals=proposals)


async def step_one(
    session: AsyncSession,
    principal: Principal,
    feedback_id: uuid.UUID,
    data: Transition,
    *,
    if_match: str | None = None,
) -> tuple[FeedbackItem, FeedbackRead]:
    """One item's step (its permission, stage and fields checked), recorded and announced as an
    event; proposes nothing (the caller decides what a stop proposes)."""
    item = await _triageable(session, principal, feedback_id)
    check_if_match(if_match, etag(item.revision), required=False)
    allowed = loop.next_stage(item.status, item.decision)
    if data.to != allowed:
        if allowed is None:
            raise Conflict("This item is announced: the loop is closed.", allowed=[])
        why = ""
        if data.to == "implemented" and item.decision == "stop":
            why = ": a stop decision is announced, not implemented"
        elif data.to == "announced" and item.status == "decided":
            why = ": a build decision is implemented before it is announced"
        raise Conflict(
            f"An item in '{item.status}' can only move to '{allowed}', not '{data.to}'{why}.",
            allowed=[allowed],
        )
    await loop.check_step(session, principal, data)

    now = utcnow()
    step = FeedbackTransition(
        feedback_id=item.id,
        from_status=item.status,
        to_status=data.to,
        decision=data.decision,
        note=data.note or None,
        actor_id=principal.person_id,
        at=now,
    )
    item.status = data.to
    setattr(item, loop.STAGE_STAMP[data.to], now)
    if data.to == "decided":
        item.decision = data.decision
        item.rationale = data.rationale
    if data.to == "announced":
        item.announcement_message_id = data.message_id
    item.stage_due_at = loop.due_after(session, data.to, now, item.decision)
    _touch(item, now)
    await repository.add(session, step)
    read = await _read_one(session, principal, item)
    emit(
        session,
        EventType.FEEDBACK_TRANSITIONED,
        {
            "feedback_id": item.id,
            "from": step.from_status,
            "to": step.to_status,
            "decision": item.decision if data.to == "decided" else None,
            "product_key": read.product_key,
            "theme_id": item.theme_id,
            "message_id": item.announcement_message_id if data.to == "announced" else None,
            "actor_id": principal.person_id,
            "at": now,
        },
        product_key=read.product_key,
    )
    return item, read


async def my_filed_ids(session: AsyncSession, principal: Principal, *, limit: int) -> set[uuid.UUID]:
    """The ids of what the calling person filed, the `limit` with the most recent news (what
    their live stream follows); empty for anyone else."""
    if not principal.is_person or principal.person_id is None:
        return set()
    return {row.id for row in await repository.filed_by(session, principal.person_id, limit=limit)}
