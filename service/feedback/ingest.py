"""The feedback ingest engine: validate, key, check and upsert items in chunks.

The use cases in service.py (a batch, one item, an interview's answers) decide who may file
and own the transaction; this engine does the work inside it, fast enough for a 10,000-item
NPS export: each chunk's INSERT runs while the next chunk is validated, lookups happen once
per batch, and the CPU work yields to the event loop every YIELD_EVERY items.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import service as accounts_service
from service.auth.principal import Principal
from service.db import utcnow
from service.errors import field_error
from service.feedback import policies, repository
from service.feedback.schemas import FeedbackCreate, ItemError
from service.people import service as people_service
from service.products import service as products_service
from service.search import index as search_index

Outcome = Literal["created", "updated", "unchanged"]

INGEST_CHUNK = 2500
# The first chunk is smaller: the database waits idle while it is validated, so a small one
# starts the writes sooner (the pipeline's fill); later chunks are written while the next is
# validated.
FIRST_CHUNK = 500
# The bound on how long a batch holds the event loop: its CPU work (validating, hashing, checking,
# building rows) yields to the loop after every YIELD_EVERY items, and writes go in statements
# of a few hundred rows (repository.WRITE_CHUNK, PG_WRITE_CHUNK). One item costs ~25-100 µs of CPU,
# so other requests on the loop wait a few ms at most (measured: tests/feedback/test_batch_loop.py),
# where one 2,500-item chunk held it ~65 ms before. Documented in docs/feedback.md. The batch's
# own INSERTs wait for the loop too: at 100 items a slice the database sat idle between
# statements (a 500-row INSERT took ~50 ms where ~25 ms is its own); at 20 they follow each other.
YIELD_EVERY = 20
# New items per INSERT of the items and INSERT of their search documents; the next part is
# tokenised while these run (PostgreSQL writes the items in statements of this size too).
INDEX_CHUNK = repository.PG_WRITE_CHUNK
_NEW_TAGS = repository.INSERTED_COLUMNS.index("tags")
_CHANGED_TAGS = repository.UPDATED_COLUMNS.index("tags")


_collector_pauses = 0  # batches holding the pause now
_collector_was_enabled = True  # what the first of them found


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is validated and written.

    A 10,000-item batch allocates a few hundred thousand short-lived objects (dicts, models,
    rows); profiling showed the collector's passes over them costing 100–250 ms a batch, as much
    as validating them. Reference counting frees them all the same; cycles, if any, wait for the
    next collection. The switch is process-wide (the collector has no other kind), so it is
    counted: overlapping batches share one pause, the last one out restores what the first one
    found (one event loop: no lock needed). The REST adapter also holds it around
    Idempotency-Key handling, which re-parses the whole body.
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
    """What the caller sent for the item, as canonical JSON (sorted keys, no spaces, UTF-8).

    Stored content hashes are of `json.dumps(sent, sort_keys=True, ensure_ascii=False,
    separators=(",", ":"))`; orjson writes the same bytes for every valid item at about half
    the cost (they differ only on floats written with an exponent, which no valid item holds:
    the one number is an NPS score of 0–10). tests/feedback/test_ingest.py pins the two."""
    return orjson.dumps(sent, option=orjson.OPT_SORT_KEYS)


@dataclass(slots=True)
class Pending:
    """One valid item on its way in."""

    index: int
    data: FeedbackCreate
    content_hash: str
    external_id: str
    received_at: datetime | None = None
    product_id: uuid.UUID | None = None
    filer_id: uuid.UUID | None = None
    filer_named: bool = False


def prepare(
    principal: Principal,
    index: int,
    data: FeedbackCreate,
    sent: Any,
    *,
    derive_id: bool,
    key: str | None = None,
) -> Pending:
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
    return Pending(index, data, hashlib.sha256(canonical).hexdigest(), external_id)


def item_error(index: int, external_id: Any, errors: list[dict[str, Any]]) -> ItemError:
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


class Ingest:
    """One upsert of valid items, fed in chunks, inside the session's transaction (the use case
    commits). Each problem becomes that item's error; products and filers are looked up once.
    A chunk's INSERT runs while the caller validates the next chunk."""

    def __init__(self, session: AsyncSession, principal: Principal, *, triage: timedelta | None) -> None:
        self.session = session
        self.principal = principal
        self.now = utcnow()
        self.triage = triage  # how long a new item may wait for triage (None: no due date)
        self.client = policies.filer_client(principal)
        self.may_name = policies.may_name_filer(principal)
        self.tells_unknown = policies.may_learn_who_exists(principal)
        self.products: dict[str, uuid.UUID | None] = {}
        self.people: dict[str, uuid.UUID | None] = {}
        # customer.account as sent → the account it matched (or was created as) this run.
        self.accounts: dict[str, uuid.UUID] = {}
        self.seen: dict[tuple[str, str], int] = {}
        self.errors: dict[int, list[dict[str, Any]]] = {}
        self.outcomes: dict[int, Outcome] = {}
        # The session's connection runs one statement at a time: every use of it here takes
        # this lock. asyncio.Lock is first come, first served, so a chunk's lookups run between
        # the previous chunk's INSERT parts instead of after all of them, and the database
        # keeps writing while this chunk's rows are built and tokenised.
        self._connection = asyncio.Lock()
        self._inserting: list[asyncio.Task[None]] = []  # chunks being written, oldest first

    def count(self, outcome: Outcome) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)

    async def write(self, pending: list[Pending]) -> None:
        """Upsert one chunk; its INSERT is left running (behind the previous chunk's, if that
        is still running) until a later call or `finish`."""
        async with self._turn():
            await self._look_up(pending)
        ready = []
        for count, p in enumerate(pending):
            if self._check(p):
                ready.append(p)
            if count % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
        # Keys are unique across the batch's chunks (`_check`), so this chunk's lookups may run
        # before the previous chunk's items are in.
        async with self._turn():
            await self._match_accounts(ready)
            existing = await repository.existing_by_keys(
                self.session, [(p.data.source, p.external_id) for p in ready]
            )
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        # What each written item's search document is made of (Core statements write the rows:
        # no flush hook sees them, so the batch indexes them itself, in its transaction).
        new_docs: list[search_index.FeedbackFields] = []
        changed_docs: list[search_index.FeedbackFields] = []
        # The new items' ids (uuid4): one read of the system's random source for the chunk, not one a row.
        randomness = os.urandom(16 * len(ready))
        for count, p in enumerate(ready):
            if count % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            stored = existing.get((p.data.source, p.external_id))
            if stored is None:
                row = self._new_row(p, uuid.UUID(bytes=randomness[16 * count : 16 * count + 16], version=4))
                inserts.append(row)
                new_docs.append((row[0], p.data.body, row[_NEW_TAGS], p.product_id))
                self.outcomes[p.index] = "created"
            elif stored.content_hash == p.content_hash and not self._takes_over(stored):
                self.outcomes[p.index] = "unchanged"
            else:
                row = self._changed_row(p, stored)
                updates.append(row)
                changed_docs.append((stored.id, p.data.body, row[_CHANGED_TAGS], p.product_id))
                self.outcomes[p.index] = "updated"
        if updates:
            changed_rows = await search_index.feedback_rows(changed_docs)
            async with self._turn():
                await repository.update_items(self.session, updates, now=self.now)
                await search_index.write_feedback(
                    self.session, changed_rows, {doc[0] for doc in changed_docs}
                )
        if inserts:
            await self._settle(keep=1)  # two chunks in flight at most: bounded memory
            self._inserting.append(asyncio.create_task(self._insert(inserts, new_docs)))
            await asyncio.sleep(0)  # let it reach the database before the caller's next CPU-bound chunk

    async def _insert(self, rows: list[tuple[Any, ...]], docs: list[search_index.FeedbackFields]) -> None:
        """Insert new items and index them, INDEX_CHUNK at a time: a part's documents are
        tokenised while the part before it is written (the tokenising yields to the loop)."""
        writing: asyncio.Task[None] | None = None
        try:
            for start in range(0, len(rows), INDEX_CHUNK):
                index_rows = await search_index.feedback_rows(docs[start : start + INDEX_CHUNK])
                if writing is not None:
                    await writing
                writing = asyncio.create_task(
                    self._insert_part(rows[start : start + INDEX_CHUNK], index_rows)
                )
                await asyncio.sleep(0)
            if writing is not None:
                await writing
        except BaseException:
            if writing is not None and not writing.done():
                writing.cancel()
                with contextlib.suppress(BaseException):
                    await writing
            raise

    async def _insert_part(self, rows: list[tuple[Any, ...]], index_rows: list[dict[str, Any]]) -> None:
        async with self._turn():
            written = await repository.insert_items(
                self.session, rows, now=self.now, filed_by_client=self.client
            )
            await search_index.write_feedback(self.session, index_rows, written)

    async def finish(self) -> None:
        await self._settle(keep=0)

    async def abandon(self) -> None:
        """Stop the INSERTs still running (the transaction is rolled back by the caller)."""
        inserting, self._inserting = self._inserting, []
        for task in inserting:
            task.cancel()
        for task in inserting:
            with contextlib.suppress(BaseException):
                await task

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """The connection, for one group of statements. A chunk's INSERT that failed meanwhile
        raises its own error here, not the "transaction aborted" the next statement would."""
        async with self._connection:
            for task in self._inserting:
                if task.done() and not task.cancelled() and (failed := task.exception()) is not None:
                    raise failed
            yield

    async def _settle(self, *, keep: int) -> None:
        """Wait until at most `keep` chunks are still being written (raising what one raised)."""
        while len(self._inserting) > keep:
            await self._inserting.pop(0)

    async def _match_accounts(self, ready: list[Pending]) -> None:
        """Match the customer accounts of the chunk's good items not seen in earlier chunks,
        creating the unknown ones: one query for them all, one INSERT for the new ones."""
        named: dict[str, str | None] = {}
        for p in ready:
            customer = p.data.customer
            if customer is not None and customer.account and customer.account not in self.accounts:
                named.setdefault(customer.account, customer.segment)
        if named:
            self.accounts.update(await accounts_service.match_or_create(self.session, self.principal, named))

    async def _look_up(self, pending: list[Pending]) -> None:
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

    def _check(self, p: Pending) -> bool:
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

    def _new_row(self, p: Pending, item_id: uuid.UUID) -> tuple[Any, ...]:
        """The item as repository.INSERTED_COLUMNS, in that order."""
        data, customer = p.data, p.data.customer
        received = p.received_at or self.now
        return (
            item_id,
            data.source,
            p.external_id,
            p.product_id,
            customer.account if customer else None,
            customer.segment if customer else None,
            self.accounts.get(customer.account) if customer and customer.account else None,
            data.body,
            data.nps_score,
            list(dict.fromkeys(data.tags)),
            received,
            p.content_hash,
            p.filer_id,
            self._due(received),
        )

    def _changed_row(self, p: Pending, stored: repository.Existing) -> tuple[Any, ...]:
        """The item as repository.UPDATED_COLUMNS, in that order."""
        data, customer = p.data, p.data.customer
        received = p.received_at or stored.received_at
        return (
            stored.id,
            p.product_id,
            customer.account if customer else None,
            customer.segment if customer else None,
            self.accounts.get(customer.account) if customer and customer.account else None,
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

    def _filer_after(self, p: Pending, stored: repository.Existing) -> uuid.UUID | None:
        if p.filer_named:
            return p.filer_id
        if self._takes_over(stored):
            return None  # an integration upsert never inherits a person as filer
        # Who listened does not change because the ticket text did, unless named again.
        return stored.filed_by_id


async def validate_and_write(run: Ingest, principal: Principal, items: list[Any]) -> None:
    """Validate each item on its own, chunk by chunk, writing each chunk as it is ready."""
    validate = FeedbackCreate.__pydantic_validator__.validate_python
    bounds = sorted({0, *range(min(FIRST_CHUNK, len(items)), len(items), INGEST_CHUNK), len(items)})
    for start, end in itertools.pairwise(bounds):
        pending: list[Pending] = []
        for index in range(start, end):
            if index % YIELD_EVERY == YIELD_EVERY - 1:  # the stated bound: let others run
                await asyncio.sleep(0)
            raw = items[index]
            try:
                data = validate(raw)
            except ValidationError as exc:
                run.errors[index] = _validation_errors(exc)
                continue
            pending.append(prepare(principal, index, data, raw, derive_id=True))
        await run.write(pending)
    await run.finish()
