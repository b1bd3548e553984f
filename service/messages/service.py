"""Messages: value translations, key messages, talking points and FAQs every department plays from."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service import review
from service.auth.principal import Principal
from service.briefs import service as briefs_service
from service.briefs.schemas import BriefRead
from service.concurrency import check_if_match, etag
from service.db import conflict_on_duplicate, transactional, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.events.catalogue import EventType
from service.events.clock import Due
from service.events.service import emit
from service.evidence import service as evidence_service
from service.fields import Locale, Slug
from service.messages import lint, policies, repository
from service.messages.models import CONTENT_FIELDS, OPEN_STATUSES, Message
from service.messages.schemas import (
    EVERYONE,
    NOT_NULL_ON_UPDATE,
    Audience,
    LintFinding,
    LintRequest,
    LintResponse,
    MessageCreate,
    MessageKind,
    MessageRead,
    MessageStatus,
    MessageUpdate,
    RequestChanges,
    Revise,
    missing_value_translation_fields,
)
from service.pagination import Page, PageParams
from service.people import service as people_service
from service.pitch import service as pitch_service
from service.products import service as products_service
from service.reads import as_dict
from service.review import Approval

# The row-version column every table inherits (service/db.py TableBase); the ETag derives from it.
ROW_VERSION = "revision"
LINTED_FIELDS = ("title", "body", "value_statement")
DEFAULT_LOCALE = "en"


def _row_version(message: Message | sa.Row[Any]) -> int:
    version: int = getattr(message, ROW_VERSION)
    return version


def _etag(message: Message | sa.Row[Any]) -> str:
    return etag(_row_version(message))


def _bump(message: Message) -> None:
    """Record a change of state: a new row version (so a new ETag) and the time."""
    setattr(message, ROW_VERSION, _row_version(message) + 1)
    message.updated_at = utcnow()


def _touch(message: Message, principal: Principal) -> None:
    """Record an edit of the content: a new row version, the time and who made it (four eyes)."""
    _bump(message)
    message.last_editor_id = principal.person_id


# --- reads -----------------------------------------------------------------------------------


async def _to_read(
    session: AsyncSession, principal: Principal, messages: Sequence[Message | sa.Row[Any]]
) -> list[MessageRead]:
    """Shape a page of messages (table rows or named rows) with a constant number of queries,
    whatever its size."""
    citations = await repository.evidence_ids(session, [m.id for m in messages])
    cited = {evidence_id for ids in citations.values() for evidence_id in ids}
    evidence = await evidence_service.evidence_by_ids(session, principal, list(cited))
    products = await products_service.products_by_ids(
        session, principal, {m.product_id for m in messages if m.product_id}
    )
    word_lists = lint.session_word_lists(session)
    result = []
    for message in messages:
        evidence_ids = citations.get(message.id, [])
        data: dict[str, Any] = as_dict(message)
        del data[ROW_VERSION]
        data |= {
            "product_key": products[message.product_id].key if message.product_id else None,
            "evidence_ids": evidence_ids,
            "freshness": evidence_service.freshness(evidence[e] for e in evidence_ids if e in evidence),
            "warnings": word_lists.field_warnings(message, LINTED_FIELDS, message.locale),
        }
        result.append(MessageRead.model_validate(data).tagged(_etag(message)))
    return result


async def _read_one(session: AsyncSession, principal: Principal, message: Message) -> MessageRead:
    return (await _to_read(session, principal, [message]))[0]


async def list_messages(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    kind: MessageKind | None = None,
    status: MessageStatus | None = None,
    product_key: Slug | None = None,
    audience: Audience | None = None,
    locale: Locale | None = None,
    brief_id: uuid.UUID | None = None,
) -> Page[MessageRead]:
    """Lists messages, oldest first; a department `audience` also matches messages for "all"."""
    if not policies.can_read(principal):
        raise Forbidden("This token may not read messages (scope pitch:read or briefs:read).")
    statuses: list[str] | None = [status] if status else None
    if not policies.sees_drafts(principal):
        if status not in (None, "published"):
            return Page(items=[], next_cursor=None)  # drafts are not theirs to see
        statuses = ["published"]
    product_id = None
    if product_key is not None:
        product = await products_service.find_product(session, principal, product_key)
        if product is None:
            return Page(items=[], next_cursor=None)
        product_id = product.id
    page = await repository.list_messages(
        session,
        params,
        statuses=statuses,
        kind=kind,
        product_id=product_id,
        audience=audience,
        locale=locale,
        brief_id=brief_id,
    )
    return Page(items=await _to_read(session, principal, list(page.rows)), next_cursor=page.next_cursor)


async def messages_by_lineage(
    session: AsyncSession, principal: Principal, lineage_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[MessageRead]]:
    """The messages speaking for each brief (any version) that this caller may see (for DataLoaders)."""
    result: dict[uuid.UUID, list[MessageRead]] = {i: [] for i in lineage_ids}
    if not policies.can_read(principal):
        return result
    rows = await repository.by_brief_lineage(
        session, lineage_ids, published_only=not policies.sees_drafts(principal)
    )
    rows = [m for m in rows if policies.can_see(principal, m)]
    for row, read in zip(rows, await _to_read(session, principal, rows), strict=True):
        result[row.brief_lineage_id].append(read)
    return result


async def list_versions(
    session: AsyncSession, principal: Principal, message_id: uuid.UUID
) -> list[MessageRead]:
    """Lists every version of a message that this caller may see, oldest first."""
    message = await get_message(session, principal, message_id)
    rows = [
        m
        for m in await repository.version_rows(session, [message.lineage_id])
        if policies.can_see(principal, m)
    ]
    return await _to_read(session, principal, rows)


async def versions_by_lineage(
    session: AsyncSession, principal: Principal, lineage_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[MessageRead]]:
    """Every visible version of many messages at once (for DataLoaders)."""
    result: dict[uuid.UUID, list[MessageRead]] = {i: [] for i in lineage_ids}
    if not policies.can_read(principal):
        return result
    rows = [m for m in await repository.version_rows(session, lineage_ids) if policies.can_see(principal, m)]
    for read in await _to_read(session, principal, rows):
        result[read.lineage_id].append(read)
    return result


async def messages_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, MessageRead]:
    """Gets many messages at once, leaving out what the caller may not see (feeds, DataLoaders)."""
    if not policies.can_read(principal):
        return {}
    rows = [m for m in await repository.by_ids(session, ids) if policies.can_see(principal, m)]
    return {m.id: m for m in await _to_read(session, principal, rows)}


async def message_titles(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The titles of these messages, those the caller may see (one query; for feeds)."""
    if not policies.can_read(principal):
        return {}
    return {m.id: m.title for m in await repository.titles(session, ids) if policies.can_see(principal, m)}


async def get_message(session: AsyncSession, principal: Principal, message_id: uuid.UUID) -> MessageRead:
    """Gets a message; drafts exist only for those who may see drafts."""
    if not policies.can_read(principal):
        raise Forbidden("This token may not read messages (scope pitch:read or briefs:read).")
    message = await repository.read_row(session, message_id)
    if message is None or not policies.can_see(principal, message):
        raise NotFound("No such message.")
    return (await _to_read(session, principal, [message]))[0]


# --- validation shared by create and update ---------------------------------------------------

_UNSET: Any = object()


class _Problems:
    """Every broken rule of one write, reported together in a single 422."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.summaries: list[str] = []

    def add(self, summary: str, errors: list[dict[str, Any]]) -> None:
        if errors:
            self.summaries.append(summary)
            self.errors.extend(errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid(" ".join(self.summaries), errors=self.errors)


async def _product_id(session: AsyncSession, principal: Principal, key: str) -> uuid.UUID | None:
    product = await products_service.find_product(session, principal, key)
    return product.id if product is not None else None


async def _placement(
    session: AsyncSession,
    principal: Principal,
    problems: _Problems,
    *,
    brief_id: uuid.UUID | None,
    product_key: str | None,
    product_id: uuid.UUID | None,
) -> tuple[BriefRead | None, uuid.UUID | None]:
    """The brief and product a message speaks for; a brief decides its product.

    `product_key` is `_UNSET` when the caller did not send one; `product_id` is the current one.
    """
    brief = None
    if brief_id is not None:
        try:
            brief = await briefs_service.get_brief(session, principal, brief_id)
        except NotFound:
            problems.add("No such brief.", [field_error("brief_id", "no such brief")])
            return None, product_id
        product_id = await _product_id(session, principal, brief.product_key)
    if product_key is _UNSET:
        return brief, product_id
    given = None if product_key is None else await _product_id(session, principal, product_key)
    if product_key is not None and given is None:
        problems.add(f"No product '{product_key}'.", [field_error("product_key", "no such product")])
    elif brief is not None and given != product_id:
        problems.add(
            "The brief is about another product.",
            [
                field_error(
                    "product_key", "conflicts with the product of brief_id; omit it or send the brief's"
                )
            ],
        )
    elif brief is None:
        product_id = given
    return brief, product_id


async def _check_audiences(
    session: AsyncSession, principal: Principal, problems: _Problems, audiences: list[str]
) -> None:
    known = await people_service.existing_department_keys(
        session, principal, [key for key in audiences if key != EVERYONE]
    )
    unknown = [(index, key) for index, key in enumerate(audiences) if key != EVERYONE and key not in known]
    problems.add(
        "Unknown departments: " + ", ".join(key for _, key in unknown) + ".",
        [field_error(f"audiences.{index}", f"no such department '{key}'") for index, key in unknown],
    )


async def _check_evidence(
    session: AsyncSession, principal: Principal, problems: _Problems, evidence_ids: list[uuid.UUID]
) -> None:
    try:
        await evidence_service.require_existing(session, principal, evidence_ids, field="evidence_ids")
    except Invalid as exc:
        problems.add(exc.detail or "Some cited evidence does not exist.", exc.extras.get("errors", []))


def _check_value_translation(problems: _Problems, kind: str, values: dict[str, Any]) -> None:
    missing = missing_value_translation_fields(kind, values)
    problems.add(
        "A value translation needs " + ", ".join(e["field"] for e in missing) + ".",
        missing,
    )


async def _refresh_pitches(session: AsyncSession, product_ids: set[uuid.UUID | None]) -> None:
    """Re-assemble the pitches that show these messages, in this transaction (no commit)."""
    await repository.flush(session)  # the pitch reads what this transaction wrote
    if None in product_ids:  # a company-wide message: every pitch shows it
        await pitch_service.refresh_all(session)
        return
    for product_id in filter(None, product_ids):
        await pitch_service.refresh_product(session, product_id=product_id)


# --- writes ----------------------------------------------------------------------------------


def _check_expiry(problems: _Problems, expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= utcnow():
        problems.add(
            "expires_at must be in the future.", [field_error("expires_at", "must be in the future")]
        )


@transactional
async def create_message(session: AsyncSession, principal: Principal, data: MessageCreate) -> MessageRead:
    """Creates a draft message, version 1 of its lineage."""
    if not policies.can_write(principal):
        raise Forbidden("Only editors and admins write messages.")
    problems = _Problems()
    brief, product_id = await _placement(
        session,
        principal,
        problems,
        brief_id=data.brief_id,
        product_key=data.product_key if data.product_key is not None else _UNSET,
        product_id=None,
    )
    _check_value_translation(problems, data.kind, data.model_dump())
    await _check_audiences(session, principal, problems, data.audiences)
    await _check_evidence(session, principal, problems, data.evidence_ids)
    _check_expiry(problems, data.expires_at)
    problems.raise_if_any()

    message_id = uuid.uuid4()
    message = Message(
        **data.model_dump(exclude={"product_key", "evidence_ids", "locale"}),
        id=message_id,
        lineage_id=message_id,
        locale=data.locale or (brief.locale if brief is not None else DEFAULT_LOCALE),
        product_id=product_id,
        brief_lineage_id=brief.lineage_id if brief is not None else None,
        status="draft",
        author_id=principal.person_id,
        last_editor_id=principal.person_id,
    )
    await repository.add(session, message)
    await repository.add_citations(session, message.id, data.evidence_ids)
    await repository.flush(session)  # the answer reads the citations back
    return await _read_one(session, principal, message)


async def _writable_message(session: AsyncSession, principal: Principal, message_id: uuid.UUID) -> Message:
    """The message to change, locked; 404 for what the caller cannot see, 403 for what it may only read."""
    if policies.can_write(principal):
        message = await repository.get_for_update(session, message_id)
        if message is None:
            raise NotFound("No such message.")
        return message
    message = await repository.get(session, message_id) if policies.can_read(principal) else None
    if message is None or not policies.can_see(principal, message):
        raise NotFound("No such message.")
    raise Forbidden("Only editors and admins change messages.")


async def _reviewable_message(session: AsyncSession, principal: Principal, message_id: uuid.UUID) -> Message:
    """The message to review, locked; 404 for what the caller cannot see, 403 for what it may only read."""
    if policies.can_review(principal):
        message = await repository.get_for_update(session, message_id)
        if message is None:
            raise NotFound("No such message.")
        return message
    message = await repository.get(session, message_id) if policies.can_read(principal) else None
    if message is None or not policies.can_see(principal, message):
        raise NotFound("No such message.")
    raise Forbidden("Only managers, editors and admins review messages.")


@transactional
async def update_message(
    session: AsyncSession,
    principal: Principal,
    message_id: uuid.UUID,
    data: MessageUpdate,
    *,
    if_match: str | None,
) -> MessageRead:
    """Changes a draft (If-Match required); any other version is immutable (409)."""
    message = await _writable_message(session, principal, message_id)
    check_if_match(if_match, _etag(message), required=True)
    if message.status != "draft":
        hint = {
            "in_review": "request changes first",
            "scheduled": "withdraw it, then revise it",
        }.get(message.status, "revise it to open a new version")
        raise Conflict(f"A {message.status} message cannot be edited: {hint}.")
    changes = data.model_dump(exclude_unset=True)
    problems = _Problems()
    cleared = [name for name in NOT_NULL_ON_UPDATE if name in changes and changes[name] is None]
    problems.add(
        "These fields cannot be null: " + ", ".join(cleared) + ".",
        [field_error(name, "cannot be null") for name in cleared],
    )
    placement_changes = "brief_id" in changes or "product_key" in changes
    brief, product_id = None, message.product_id
    if placement_changes:
        brief, product_id = await _placement(
            session,
            principal,
            problems,
            brief_id=changes.get("brief_id", message.brief_id),
            product_key=changes.get("product_key", _UNSET),
            product_id=message.product_id,
        )
    merged = {
        name: changes.get(name, getattr(message, name))
        for name in ("feature_term", "value_statement", "metric")
    }
    _check_value_translation(problems, changes.get("kind") or message.kind, merged)
    if changes.get("audiences"):
        await _check_audiences(session, principal, problems, changes["audiences"])
    if changes.get("evidence_ids"):
        await _check_evidence(session, principal, problems, changes["evidence_ids"])
    if "expires_at" in changes:
        _check_expiry(problems, data.expires_at)
    problems.raise_if_any()

    changed = False
    if placement_changes:
        lineage = brief.lineage_id if brief is not None else None
        for name, value in (
            ("brief_id", changes.get("brief_id", message.brief_id)),
            ("brief_lineage_id", lineage),
        ):
            if getattr(message, name) != value:
                setattr(message, name, value)
                changed = True
        if message.product_id != product_id:
            message.product_id = product_id
            changed = True
    for name, value in changes.items():
        if name in ("brief_id", "product_key", "evidence_ids"):
            continue
        if name == "expires_at":
            value = data.expires_at
        if getattr(message, name) != value:
            setattr(message, name, value)
            changed = True
    if "evidence_ids" in changes:
        current = (await repository.evidence_ids(session, [message.id])).get(message.id, [])
        if current != changes["evidence_ids"]:
            await repository.replace_citations(session, message.id, changes["evidence_ids"])
            changed = True
    if not changed:  # nothing to write: same version, same ETag
        return await _read_one(session, principal, message)
    _touch(message, principal)
    await repository.flush(session)  # the answer reads the citations back
    return await _read_one(session, principal, message)


@transactional
async def submit_message(session: AsyncSession, principal: Principal, message_id: uuid.UUID) -> MessageRead:
    """Sends a draft to review (draft → in_review)."""
    message = await _writable_message(session, principal, message_id)
    if message.status != "draft":
        raise Conflict(f"Only a draft can be submitted; this message is {message.status}.")
    message.status = "in_review"
    message.submitted_at = utcnow()
    message.review_comment = None
    _bump(message)
    await _emit_review(
        session,
        message,
        EventType.MESSAGE_SUBMITTED,
        submitted_by=principal.person_id,
        submitted_at=message.submitted_at,
    )
    return await _read_one(session, principal, message)


@transactional
async def request_changes(
    session: AsyncSession, principal: Principal, message_id: uuid.UUID, data: RequestChanges
) -> MessageRead:
    """Sends a message in review back to draft with the reviewer's comment."""
    message = await _reviewable_message(session, principal, message_id)
    if message.status != "in_review":
        raise Conflict(f"Only a message in review can be sent back; this one is {message.status}.")
    message.status = "draft"
    message.review_comment = data.comment
    _bump(message)
    await _emit_review(
        session,
        message,
        EventType.MESSAGE_SENT_BACK,
        comment=data.comment,
        sent_back_by=principal.person_id,
        sent_back_at=utcnow(),
    )
    return await _read_one(session, principal, message)


async def _emit_review(session: AsyncSession, message: Message, event_type: EventType, **data: Any) -> None:
    """A step of a message's review (sent to review, sent back), for the reviewers or the author."""
    product_key = await _product_key(session, message.product_id)
    emit(
        session,
        event_type,
        {
            "message_id": message.id,
            "lineage_id": message.lineage_id,
            "product_key": product_key,
            "locale": message.locale,
            "version": message.version,
            "title": message.title,
            **data,
        },
        product_key=product_key,
    )


async def _go_live(session: AsyncSession, message: Message, now: datetime) -> None:
    """Publishes an approved version now: supersedes the lineage's published one, emits
    message.published and re-assembles the pitches of both (no commit)."""
    previous = await repository.published_in_lineage(session, message.lineage_id)
    products = {message.product_id}
    if previous is not None and previous.id != message.id:
        previous.status = "superseded"
        _bump(previous)
        products.add(previous.product_id)
        await repository.flush(session)  # before publishing: one published version per lineage
    message.status = "published"
    message.published_at = now
    message.publish_at = None
    _bump(message)
    with conflict_on_duplicate("Another version was published at the same time; reload and retry."):
        await repository.flush(session)
    product_key = await _product_key(session, message.product_id)
    emit(
        session,
        EventType.MESSAGE_PUBLISHED,
        {
            "message_id": message.id,
            "kind": message.kind,
            "title": message.title,
            "product_key": product_key,
            "brief_id": message.brief_id,
            "locale": message.locale,
            "audiences": message.audiences,
            "published_at": message.published_at,
        },
        product_key=product_key,
    )
    await _refresh_pitches(session, products)


async def _product_key(session: AsyncSession, product_id: uuid.UUID | None) -> str | None:
    if product_id is None:
        return None
    return await repository.product_key(session, product_id)


@transactional
async def publish_message(
    session: AsyncSession,
    principal: Principal,
    message_id: uuid.UUID,
    data: Approval | None = None,
    *,
    if_match: str | None = None,
) -> MessageRead:
    """Approves a message in review (four eyes): published now, superseding the lineage's
    published version, or `scheduled` until `publish_at`. Expired cited evidence needs an
    override with a reason (recorded)."""
    approval = data or Approval()
    message = await _reviewable_message(session, principal, message_id)
    check_if_match(if_match, _etag(message), required=False)
    if message.status != "in_review":
        hint = " Submit it first." if message.status == "draft" else ""
        raise Conflict(f"Only a message in review can be approved; this one is {message.status}.{hint}")
    if policies.wrote_this_version(principal, message):
        raise Forbidden("Four eyes: neither the author nor the last editor of a message may publish it.")
    now = utcnow()
    publish_at = review.launch_time(approval, now)
    if message.expires_at is not None and message.expires_at <= (publish_at or now):
        raise Conflict("This message expires before it would go live: change expires_at first.")
    cited = (await repository.evidence_ids(session, [message.id])).get(message.id, [])
    evidence = await evidence_service.evidence_by_ids(session, principal, cited)
    message.expired_evidence_override = review.expired_evidence_override(
        approval,
        review.expired_ids(evidence[e] for e in cited if e in evidence),
        approver=principal.person_id,
        now=now,
    )
    message.published_by_id = principal.person_id
    if publish_at is not None:
        message.status = "scheduled"
        message.publish_at = publish_at
        _bump(message)
        await repository.flush(session)
    else:
        await _go_live(session, message, now)
    return await _read_one(session, principal, message)


@transactional
async def withdraw_message(session: AsyncSession, principal: Principal, message_id: uuid.UUID) -> MessageRead:
    """Takes a published (or scheduled) message out of every pitch at once."""
    message = await _writable_message(session, principal, message_id)
    if message.status not in ("published", "scheduled"):
        raise Conflict(
            f"Only a published or scheduled message can be withdrawn; this one is {message.status}."
        )
    was_published = message.status == "published"
    message.status = "withdrawn"
    message.withdrawn_at = utcnow()
    message.publish_at = None
    _bump(message)
    if was_published:
        await _refresh_pitches(session, {message.product_id})
    await repository.flush(session)
    return await _read_one(session, principal, message)


@transactional
async def revise_message(
    session: AsyncSession, principal: Principal, message_id: uuid.UUID, data: Revise
) -> MessageRead:
    """Opens the next draft version (a new id, the same lineage) of a published, withdrawn or
    expired message, copying its content and evidence; what is published stays until the new
    version is approved."""
    message = await _writable_message(session, principal, message_id)
    if message.status not in ("published", "withdrawn", "expired"):
        raise Conflict(
            f"Only a published, withdrawn or expired version can be revised; this one is {message.status}."
        )
    newest = max(v.version for v in await repository.versions(session, message.lineage_id))
    if message.status != "published" and message.version != newest:  # an older withdrawn one
        raise Conflict(f"Version {newest} of this message is newer: revise that one.")
    draft = await _next_version(session, message, principal, change=data.change)
    return await _read_one(session, principal, draft)


async def _next_version(
    session: AsyncSession, message: Message, principal: Principal, *, change: str
) -> Message:
    versions = await repository.versions(session, message.lineage_id)
    open_versions = [v for v in versions if v.status in OPEN_STATUSES]
    if open_versions:
        raise Conflict(f"Version {open_versions[0].version} is already open ({open_versions[0].status}).")
    draft = Message(
        lineage_id=message.lineage_id,
        version=max(v.version for v in versions) + 1,
        change=change,
        status="draft",
        **{name: getattr(message, name) for name in CONTENT_FIELDS},
        author_id=principal.person_id,
        last_editor_id=principal.person_id,
    )
    # The version number is the guard: a concurrent revise that took it fails here.
    with conflict_on_duplicate("Another revision was opened at the same time."):
        await repository.add(session, draft)
    await repository.add_citations(
        session, draft.id, (await repository.evidence_ids(session, [message.id])).get(message.id, [])
    )
    await repository.flush(session)
    return draft


# --- time passing (the clock's detectors; service/wiring.py registers them) -------------------


async def go_live_due(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Publishes the scheduled messages whose `publish_at` has come (at most `budget`), each in
    this transaction with its events; the clock emits nothing more for them."""
    for message in await repository.due(session, status="scheduled", at="publish_at", now=now, limit=budget):
        await _go_live(session, message, now)
    return []


async def expire_due(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Marks published messages past their `expires_at` expired and takes them out of the
    pitches (at most `budget`)."""
    products: set[uuid.UUID | None] = set()
    for message in await repository.due(session, status="published", at="expires_at", now=now, limit=budget):
        message.status = "expired"
        _bump(message)
        products.add(message.product_id)
    if products:
        await _refresh_pitches(session, products)
    return []


async def current_version_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """For each message (any version), the id of its lineage's published version; those with
    none published, or that the caller may not see, are left out. One query."""
    if not policies.can_read(principal):
        return {}
    return await repository.published_version_ids(session, ids)


# --- lint ------------------------------------------------------------------------------------


def lint_text(principal: Principal, data: LintRequest, *, word_lists: lint.WordLists) -> LintResponse:
    """Finds feature words without a measurable outcome in a text (stores nothing), with the
    app's word lists (`app.state.word_lists`, which REST and GraphQL pass)."""
    if not policies.can_lint(principal):
        raise Forbidden("This caller may not use the lint.")
    if not word_lists.is_supported(data.locale):
        # "No findings" for a language without a word list would read as a clean text.
        supported = word_lists.supported_languages()
        raise Invalid(
            f"The lint has no word list for '{data.locale}'; supported locales: {', '.join(supported)}.",
            errors=[field_error("locale", f"Unsupported; supported: {', '.join(supported)}.", type_="enum")],
            supported=supported,
        )
    findings = word_lists.lint(data.text, data.locale)
    return LintResponse(
        findings=[LintFinding(start=f.start, end=f.end, word=f.word, message=f.message) for f in findings]
    )


# --- proposals from elsewhere ------------------------------------------------------------------


@transactional
async def propose_faq(
    session: AsyncSession,
    principal: Principal,
    *,
    product_id: uuid.UUID | None,
    brief: BriefRead | None,
    title: str,
    body: str,
    locale: str | None = None,
) -> MessageRead:
    """Drafts an FAQ answer on behalf of `principal` (who decided something sales will be asked
    about), for an editor to review and publish: `principal` is its author, so four eyes keep
    them from publishing it themselves."""
    if not policies.sees_drafts(principal):
        raise Forbidden("Only managers, editors and admins propose messages.")
    message_id = uuid.uuid4()
    message = Message(
        id=message_id,
        lineage_id=message_id,  # version 1 of its own lineage, as create_message makes it
        kind="faq",
        audiences=[EVERYONE],
        title=title[:300],
        body=body[:10_000],
        locale=locale or (brief.locale if brief is not None else DEFAULT_LOCALE),
        product_id=product_id,
        brief_id=brief.id if brief is not None else None,
        brief_lineage_id=brief.lineage_id if brief is not None else None,
        status="draft",
        author_id=principal.person_id,
        last_editor_id=principal.person_id,
    )
    await repository.add(session, message)
    return await _read_one(session, principal, message)
