"""Feedback: the customer's voice in one place, and the loop that closes on it.

Items arrive one at a time (a person, a support tool) or in batches of up to
`settings.max_batch_items` (an NPS export), upserted by (source, external_id). Editors,
managers and admins walk them through new → triaged → decided → implemented → announced,
each stage due within the configured loop target; the filer follows along in their feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.concurrency import check_if_match, etag
from service.db import session_settings, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.feedback import policies, repository
from service.feedback import themes as themes_service
from service.feedback.models import FeedbackItem, FeedbackTransition
from service.feedback.schemas import (
    BatchResult,
    Customer,
    FeedbackCreate,
    FeedbackRead,
    FeedbackUpdate,
    ItemError,
    Transition,
    TransitionRead,
)
from service.messages import service as messages_service
from service.pagination import Page, PageParams
from service.people import service as people_service
from service.products import service as products_service

Outcome = Literal["created", "updated", "unchanged"]

NEXT_STAGE = {"new": "triaged", "triaged": "decided", "decided": "implemented", "implemented": "announced"}
STAGE_STAMP = {
    "triaged": "triaged_at",
    "decided": "decided_at",
    "implemented": "implemented_at",
    "announced": "announced_at",
}
EXCERPT_CHARS = 140


def loop_targets(session: AsyncSession) -> dict[str, int]:
    """Days allowed to reach each stage from the previous one (settings.feedback_loop_targets)."""
    return session_settings(session).feedback_loop_targets


def _days_to(session: AsyncSession, stage: str) -> timedelta | None:
    days = loop_targets(session).get(stage)
    return timedelta(days=days) if days is not None else None


def due_after(session: AsyncSession, stage: str, at: datetime) -> datetime | None:
    """When the stage after `stage` is due, counted from `at`; None once announced."""
    following = NEXT_STAGE.get(stage)
    allowed = _days_to(session, following) if following else None
    return at + allowed if allowed is not None else None


# --- reads ---------------------------------------------------------------------------------------


def _customer(item: FeedbackItem) -> Customer:
    return Customer.model_construct(account=item.customer_account, segment=item.customer_segment)


async def _to_read(
    session: AsyncSession, principal: Principal, items: Sequence[FeedbackItem]
) -> list[FeedbackRead]:
    """Shape a page of items with one product query, whatever its size."""
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
    status: str | None = None,
    source: str | None = None,
    product_key: str | None = None,
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
    item = await repository.get(session, feedback_id)
    if item is None or not policies.can_see(principal, item):
        raise NotFound("No such feedback item.")
    return await _read_one(session, principal, item)


async def feedback_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, FeedbackRead]:
    """Gets many items at once, those this caller may see (for DataLoaders)."""
    if not policies.can_read(principal):
        return {}
    found = await repository.by_ids(session, ids)
    visible = [item for item in found.values() if policies.can_see(principal, item)]
    return {read.id: read for read in await _to_read(session, principal, visible)}


def _transition_read(step: FeedbackTransition) -> TransitionRead:
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


# --- ingest --------------------------------------------------------------------------------------

# Items validated and hashed per step: while PostgreSQL inserts one chunk, Python prepares the next.
INGEST_CHUNK = 2500
# The bound on how long a batch holds the event loop: its CPU work (validating, hashing, checking,
# building rows) yields to the loop after every YIELD_EVERY items, and writes go in statements
# of a few hundred rows (repository.WRITE_CHUNK, PG_WRITE_CHUNK). One item costs ~25-100 µs of CPU,
# so other requests on the loop wait at most ~10 ms (measured: tests/feedback/test_batch_loop.py),
# where one 2,500-item chunk held it ~65 ms before. Documented in docs/feedback.md.
YIELD_EVERY = 100


_encode_canonical = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


_collector_pauses = 0
_collector_was_enabled = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is validated and written.

    A 10,000-item batch allocates a few hundred thousand short-lived objects (dicts, models,
    rows); profiling showed the collector's passes over them costing 100–250 ms a batch, as much
    as validating them. Reference counting frees them all the same; cycles, if any, wait for the
    next collection. Concurrent batches share one pause (one event loop: no lock needed). The
    REST adapter also holds it around Idempotency-Key handling, which re-parses the whole body.
    """
    global _collector_pauses, _collector_was_enabled
    if _collector_pauses == 0:
        _collector_was_enabled = gc.isenabled()
        gc.disable()
    _collector_pauses += 1
    try:
        yield
    finally:
        _collector_pauses -= 1
        if _collector_pauses == 0 and _collector_was_enabled:
            gc.enable()


def _canonical(sent: Any) -> bytes:
    """What the caller sent for the item, as canonical JSON (sorted keys, no spaces, UTF-8)."""
    return _encode_canonical(sent).encode()


@dataclass(slots=True)
class _Pending:
    """One valid item on its way in."""

    index: int
    data: FeedbackCreate
    content_hash: str
    external_id: str
    received_at: datetime | None = None
    product_id: uuid.UUID | None = None
    filer_id: uuid.UUID | None = None
    filer_named: bool = False


def _prepare(
    principal: Principal,
    index: int,
    data: FeedbackCreate,
    sent: Any,
    *,
    derive_id: bool,
    key: str | None = None,
) -> _Pending:
    """Hash what was sent and settle the item's key: the integration's own `external_id`, or
    one the service makes (people always get one under policies.PERSON_KEY_PREFIX)."""
    canonical = _canonical(sent)
    if policies.may_choose_external_id(principal) and data.external_id is not None:
        external_id = data.external_id
    elif key is not None:  # made by another domain's use case (the interview exercise)
        external_id = policies.PERSON_KEY_PREFIX + key if principal.is_person else key
    elif derive_id:
        # The same item from the same caller gets the same id: a re-sent batch adds nothing.
        # The caller's subject is in the seed, so two callers never derive the same key.
        seed = principal.subject.encode() + b"\n" + canonical
        digest = hashlib.sha256(seed).hexdigest()[:32]
        external_id = policies.PERSON_KEY_PREFIX + digest if principal.is_person else "auto-" + digest
    elif principal.is_person:
        external_id = policies.PERSON_KEY_PREFIX + uuid.uuid4().hex
    else:
        external_id = f"cuecard-{uuid.uuid4().hex}"
    return _Pending(index, data, hashlib.sha256(canonical).hexdigest(), external_id)


def _item_error(index: int, external_id: Any, errors: list[dict[str, Any]]) -> ItemError:
    for error in errors:  # point into the batch body, e.g. #/items/3/nps_score
        suffix = "/" + error["field"].replace(".", "/") if error["field"] else ""
        error["pointer"] = f"#/items/{index}{suffix}"
    return ItemError(
        index=index, external_id=external_id if isinstance(external_id, str) else None, errors=errors
    )


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        field_error(".".join(str(p) for p in err["loc"]), err["msg"], type_=err["type"])
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


class _Ingest:
    """One upsert of valid items, fed in chunks, inside the session's transaction (the caller
    commits). Each problem becomes that item's error; products and filers are looked up once.
    A chunk's INSERT runs while the caller validates the next chunk."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.now = utcnow()
        self.triage = _days_to(session, "triaged")
        self.client = policies.filer_client(principal)
        self.may_name = policies.may_name_filer(principal)
        self.tells_unknown = policies.may_learn_who_exists(principal)
        self.products: dict[str, uuid.UUID | None] = {}
        self.people: dict[str, uuid.UUID | None] = {}
        self.seen: dict[tuple[str, str], int] = {}
        self.errors: dict[int, list[dict[str, Any]]] = {}
        self.outcomes: dict[int, Outcome] = {}
        self._inserting: asyncio.Task[None] | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)

    async def write(self, pending: list[_Pending]) -> None:
        """Upsert one chunk; its INSERT is left running until the next call or `finish`."""
        await self._settle()
        await self._look_up(pending)
        ready = []
        for count, p in enumerate(pending):
            if self._check(p):
                ready.append(p)
            if count % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        existing = await repository.existing_by_keys(
            self.session, [(p.data.source, p.external_id) for p in ready]
        )
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for count, p in enumerate(ready):
            if count % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            stored = existing.get((p.data.source, p.external_id))
            if stored is None:
                inserts.append(self._new_row(p))
                self.outcomes[p.index] = "created"
            elif stored.content_hash == p.content_hash and not self._takes_over(stored):
                self.outcomes[p.index] = "unchanged"
            else:
                updates.append(self._changed_row(p, stored))
                self.outcomes[p.index] = "updated"
        if updates:
            await repository.update_items(self.session, updates, now=self.now)
        if inserts:
            self._inserting = asyncio.create_task(
                repository.insert_items(self.session, inserts, now=self.now, filed_by_client=self.client)
            )
            await asyncio.sleep(0)  # let it reach the database before the caller's next CPU-bound chunk

    async def finish(self) -> None:
        await self._settle()

    async def abandon(self) -> None:
        """Stop an INSERT still running (the transaction is rolled back by the caller)."""
        if self._inserting is not None:
            self._inserting.cancel()
            with contextlib.suppress(BaseException):
                await self._inserting
            self._inserting = None

    async def _settle(self) -> None:
        if self._inserting is not None:
            inserting, self._inserting = self._inserting, None
            await inserting

    async def _look_up(self, pending: list[_Pending]) -> None:
        """Resolve the chunk's product keys and filer e-mails not seen in earlier chunks."""
        for key in {p.data.product_key for p in pending if p.data.product_key} - self.products.keys():
            product = await products_service.find_product(self.session, self.principal, key)
            self.products[key] = product.id if product is not None else None
        emails = {
            p.data.filed_by_email.lower() for p in pending if p.data.filed_by_email
        } - self.people.keys()
        if not self.may_name:  # a person may name themself, no one else
            own = (self.principal.email or "").lower()
            if own in emails:
                self.people[own] = self.principal.person_id
            emails = set()
        if emails:
            found = await people_service.person_ids_by_emails(self.session, self.principal, emails)
            self.people.update({email: found.get(email) for email in emails})

    def _check(self, p: _Pending) -> bool:
        """Fill in the item's product, filer and received time; False (and its errors) if it cannot go in."""
        problems: list[dict[str, Any]] = []
        data = p.data
        if not policies.may_file_source(self.principal, data.source):
            problems.append(
                field_error(
                    "source",
                    "people file only what they heard first-hand: "
                    + ", ".join(policies.PERSON_SOURCES)
                    + "; support, nps and survey come from integrations",
                    type_="forbidden",
                )
            )
        if data.external_id is not None:
            if not policies.may_choose_external_id(self.principal):
                problems.append(
                    field_error(
                        "external_id",
                        "people do not choose an external_id: the service assigns one",
                        type_="forbidden",
                    )
                )
            elif policies.is_reserved_key(data.external_id):
                problems.append(
                    field_error(
                        "external_id",
                        f"the prefix '{policies.PERSON_KEY_PREFIX}' is the service's own",
                        type_="reserved",
                    )
                )
        if data.product_key:
            p.product_id = self.products.get(data.product_key)
            if p.product_id is None:
                problems.append(
                    field_error("product_key", f"no product '{data.product_key}'", type_="not_found")
                )
        if data.filed_by_email:
            email = data.filed_by_email.lower()
            if email not in self.people:
                problems.append(
                    field_error(
                        "filed_by_email",
                        "only integrations, editors and admins file on behalf of someone else",
                        type_="forbidden",
                    )
                )
            elif self.people[email] is None and self.tells_unknown:
                problems.append(
                    field_error("filed_by_email", "no person with this e-mail", type_="not_found")
                )
            else:  # unknown to a pipe that may not learn who exists: filed with no one following
                p.filer_id = self.people[email]
                p.filer_named = True
        elif self.principal.is_person:
            p.filer_id = self.principal.person_id
        if data.received_at is not None:
            if data.received_at.tzinfo is None:
                problems.append(
                    field_error("received_at", "needs a time zone offset (RFC 3339)", type_="timezone_aware")
                )
            else:
                p.received_at = data.received_at
        if not problems:
            key = (data.source, p.external_id)
            first = self.seen.setdefault(key, p.index)
            if first != p.index:
                problems.append(
                    field_error(
                        "external_id",
                        f"same source and external_id as item {first} of this batch",
                        type_="duplicate",
                    )
                )
        if problems:
            self.errors[p.index] = problems
            return False
        return True

    def _due(self, received: datetime) -> datetime | None:
        return received + self.triage if self.triage is not None else None

    def _new_row(self, p: _Pending) -> tuple[Any, ...]:
        """The item as repository.INSERTED_COLUMNS, in that order."""
        data, customer = p.data, p.data.customer
        received = p.received_at or self.now
        return (
            data.source,
            p.external_id,
            p.product_id,
            customer.account if customer else None,
            customer.segment if customer else None,
            data.body,
            data.nps_score,
            list(dict.fromkeys(data.tags)),
            received,
            p.content_hash,
            p.filer_id,
            self._due(received),
        )

    def _changed_row(self, p: _Pending, stored: repository.Existing) -> tuple[Any, ...]:
        """The item as repository.UPDATED_COLUMNS, in that order."""
        data, customer = p.data, p.data.customer
        received = p.received_at or stored.received_at
        return (
            stored.id,
            p.product_id,
            customer.account if customer else None,
            customer.segment if customer else None,
            data.body,
            data.nps_score,
            list(dict.fromkeys(data.tags)),
            received,
            p.content_hash,
            self._filer_after(p, stored),
            self.client,
            self._due(received),
        )

    def _takes_over(self, stored: repository.Existing) -> bool:
        """An integration re-sending a key a person filed under (possible only before people had
        their own key space) takes the item over: the person stops following it."""
        return self.client is not None and stored.filed_by_client is None and stored.filed_by_id is not None

    def _filer_after(self, p: _Pending, stored: repository.Existing) -> uuid.UUID | None:
        if p.filer_named:
            return p.filer_id
        if self._takes_over(stored):
            return None  # an integration upsert never inherits a person as filer
        # Who listened does not change because the ticket text did, unless named again.
        return stored.filed_by_id


def _require_ingest(principal: Principal) -> None:
    if not policies.can_ingest(principal):
        raise Forbidden("Filing feedback needs a person or an integration with scope feedback:write.")


async def _validate_and_write(run: _Ingest, principal: Principal, items: list[Any]) -> None:
    """Validate each item on its own, chunk by chunk, writing each chunk as it is ready."""
    validate = FeedbackCreate.__pydantic_validator__.validate_python
    for start in range(0, len(items), INGEST_CHUNK):
        pending: list[_Pending] = []
        for index in range(start, min(start + INGEST_CHUNK, len(items))):
            if index % YIELD_EVERY == YIELD_EVERY - 1:  # the stated bound: let others run
                await asyncio.sleep(0)
            raw = items[index]
            try:
                data = validate(raw)
            except ValidationError as exc:
                run.errors[index] = _validation_errors(exc)
                continue
            pending.append(_prepare(principal, index, data, raw, derive_id=True))
        await run.write(pending)
    await run.finish()


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
    run = _Ingest(session, principal)
    with collector_paused():
        try:
            await _validate_and_write(run, principal, items)
        except BaseException:
            await run.abandon()
            raise
    await session.commit()
    return BatchResult(
        created=run.count("created"),
        updated=run.count("updated"),
        unchanged=run.count("unchanged"),
        errors=[
            _item_error(
                index, items[index].get("external_id") if isinstance(items[index], dict) else None, found
            )
            for index, found in sorted(run.errors.items())
        ],
    )


async def file_feedback(
    session: AsyncSession, principal: Principal, data: FeedbackCreate
) -> tuple[FeedbackRead, Outcome]:
    """Files one item (or updates the one with the same source and external_id) and says which."""
    reads, outcomes = await _file_together(session, principal, [data])
    return reads[0], outcomes[0]


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
) -> tuple[list[FeedbackRead], list[Outcome]]:
    _require_ingest(principal)
    # No raw body here (GraphQL and REST hand over the parsed item): hash the fields as sent.
    pending = [
        _prepare(
            principal,
            index,
            data,
            data.model_dump(mode="json", exclude_unset=True),
            derive_id=False,
            key=keys[index] if keys is not None else None,
        )
        for index, data in enumerate(items)
    ]
    run = _Ingest(session, principal)
    try:
        await run.write(pending)
        await run.finish()
    except BaseException:
        await run.abandon()
        raise
    if run.errors:
        await session.rollback()
        index, found = min(run.errors.items())
        if len(items) > 1:
            found = [{**e, "field": f"{index}.{e.get('field', '')}".rstrip(".")} for e in found]
        raise Invalid("The feedback item cannot be filed; see `errors`.", errors=found)
    await session.commit()
    reads = []
    for one in pending:
        item = await repository.get_by_key(session, one.data.source, one.external_id)
        if item is None:  # pragma: no cover - written in the transaction just committed
            raise NotFound("No such feedback item.")
        read = await _read_one(session, principal, item)
        if not policies.can_read(principal):
            # A write-only pipe does not learn who follows the item: whether an e-mail it named
            # is an employee's must not show in its answer.
            read = read.model_copy(update={"filed_by_id": None})
        reads.append(read)
    return reads, [run.outcomes[one.index] for one in pending]


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
        await session.commit()
    return await _read_one(session, principal, item)


async def _check_announcement(
    session: AsyncSession, principal: Principal, message_id: uuid.UUID | None
) -> list[dict[str, str]]:
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


async def transition_feedback(
    session: AsyncSession,
    principal: Principal,
    feedback_id: uuid.UUID,
    data: Transition,
    *,
    if_match: str | None = None,
) -> FeedbackRead:
    """Moves an item one stage on, records the step and starts the next stage's clock."""
    item = await _triageable(session, principal, feedback_id)
    check_if_match(if_match, etag(item.revision), required=False)
    allowed = NEXT_STAGE.get(item.status)
    if data.to != allowed:
        if allowed is None:
            raise Conflict("This item is announced: the loop is closed.", allowed=[])
        raise Conflict(
            f"An item in '{item.status}' can only move to '{allowed}', not '{data.to}'.", allowed=[allowed]
        )
    problems: list[dict[str, str]] = []
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
        problems += await _check_announcement(session, principal, data.message_id)
    elif data.message_id is not None:
        problems.append(field_error("message_id", "only sent when announcing", type_="unexpected"))
    if problems:
        raise Invalid(
            "This transition is missing or has extra fields: "
            + ", ".join(p["field"] for p in problems)
            + ".",
            errors=problems,
        )

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
    setattr(item, STAGE_STAMP[data.to], now)
    if data.to == "decided":
        item.decision = data.decision
        item.rationale = data.rationale
    if data.to == "announced":
        item.announcement_message_id = data.message_id
    item.stage_due_at = due_after(session, data.to, now)
    _touch(item, now)
    await repository.add(session, step)
    await session.commit()
    return await _read_one(session, principal, item)
