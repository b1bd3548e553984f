"""Briefs: write, review with four eyes, publish (superseding), revise, archive."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service import review
from service.auth.principal import Principal
from service.briefs import policies, repository, story, translations
from service.briefs.models import CONTENT_FIELDS, OPEN_STATUSES, Brief
from service.briefs.schemas import (
    BriefCreate,
    BriefRead,
    BriefStatus,
    BriefUpdate,
    RequestChanges,
    Revise,
    Speakability,
)
from service.briefs.speech import speakability
from service.concurrency import check_if_match, etag
from service.db import conflict_on_duplicate, transactional, utcnow
from service.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from service.events.catalogue import EventType
from service.events.clock import Due
from service.events.service import emit
from service.evidence import service as evidence_service
from service.fields import Locale, Slug
from service.messages import lint
from service.pagination import Page, PageParams
from service.pitch import service as pitch_service
from service.products import service as products_service
from service.reads import as_dict
from service.review import Approval

LINTED_FIELDS = ("title", "value_proposition", "pitch")


def brief_etag(brief: Brief | BriefRead | sa.Row[Any]) -> str:
    return etag(brief.revision)


@dataclass(frozen=True)
class CurrentVersion:
    """A brief's published version, and the last substantive one up to it: acknowledgements and
    checks of `basis_version` or later still count (a minor fix does not ask again)."""

    lineage_id: uuid.UUID
    brief_id: uuid.UUID
    version: int
    basis_version: int
    product_id: uuid.UUID


async def _to_read(
    session: AsyncSession, principal: Principal, briefs: Sequence[Brief | sa.Row[Any]]
) -> list[BriefRead]:
    """Shape briefs (table rows or named rows) for output: three queries however many briefs
    (products, citations, evidence)."""
    products = await products_service.products_by_ids(session, principal, {b.product_id for b in briefs})
    cited = await repository.citations(session, [b.id for b in briefs])
    evidence = await evidence_service.evidence_by_ids(
        session, principal, list({e for ids in cited.values() for e in ids})
    )
    word_lists = lint.session_word_lists(session)
    standings = await translations.standings(session, briefs)
    result = []
    for brief in briefs:
        items = [evidence[e] for e in cited.get(brief.id, []) if e in evidence]
        data = as_dict(brief)
        data.update(
            product_key=products[brief.product_id].key,
            evidence=items,
            freshness=evidence_service.freshness(items),
            speakability=Speakability(**speakability(brief.pitch, brief.locale)),
            warnings=word_lists.field_warnings(brief, LINTED_FIELDS, brief.locale),
            translation=standings.get(brief.id),
        )
        result.append(BriefRead.model_validate(data))
    return result


async def _read_one(session: AsyncSession, principal: Principal, brief: Brief) -> BriefRead:
    return (await _to_read(session, principal, [brief]))[0]


async def _visible(
    session: AsyncSession, principal: Principal, brief_id: uuid.UUID, *, lock: bool = False
) -> Brief:
    brief = await repository.get(session, brief_id, for_update=lock)
    if brief is None or not policies.can_see(principal, brief):
        raise NotFound("No such brief.")
    return brief


def _touch(brief: Brief, principal: Principal) -> None:
    brief.revision += 1
    brief.updated_at = utcnow()


# --- reads ------------------------------------------------------------------------------------


async def list_briefs(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    product_key: Slug | None = None,
    status: BriefStatus | None = None,
    locale: Locale | None = None,
) -> Page[BriefRead]:
    """Lists the briefs this caller may see, oldest first, optionally filtered."""
    statuses = policies.visible_statuses(principal)
    if statuses == ():
        raise Forbidden("This token may not read briefs (scope briefs:read).")
    product_id = None
    if product_key is not None:
        product = await products_service.find_product(session, principal, product_key)
        if product is None:
            return Page(items=[], next_cursor=None)
        product_id = product.id
    page = await repository.list_briefs(
        session, params, statuses=statuses, product_id=product_id, status=status, locale=locale
    )
    return Page(items=await _to_read(session, principal, page.rows), next_cursor=page.next_cursor)


async def get_brief(session: AsyncSession, principal: Principal, brief_id: uuid.UUID) -> BriefRead:
    """Gets one brief version; drafts of others are invisible to employees (404)."""
    brief = await repository.read_row(session, brief_id)
    if brief is None or not policies.can_see(principal, brief):
        raise NotFound("No such brief.")
    return (await _to_read(session, principal, [brief]))[0]


async def list_versions(session: AsyncSession, principal: Principal, brief_id: uuid.UUID) -> list[BriefRead]:
    """Lists every version of a brief that this caller may see, oldest first."""
    brief = await _visible(session, principal, brief_id)
    versions = [
        b for b in await repository.versions(session, [brief.lineage_id]) if policies.can_see(principal, b)
    ]
    return await _to_read(session, principal, versions)


async def briefs_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, BriefRead]:
    """Gets many briefs at once, the invisible ones left out (for DataLoaders)."""
    found = [b for b in (await repository.by_ids(session, ids)).values() if policies.can_see(principal, b)]
    return {b.id: b for b in await _to_read(session, principal, found)}


async def versions_by_lineage(
    session: AsyncSession, principal: Principal, lineage_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[BriefRead]]:
    """Every visible version of many briefs at once (for DataLoaders)."""
    rows = [b for b in await repository.versions(session, lineage_ids) if policies.can_see(principal, b)]
    result: dict[uuid.UUID, list[BriefRead]] = {i: [] for i in lineage_ids}
    for read in await _to_read(session, principal, rows):
        result[read.lineage_id].append(read)
    return result


async def current_versions(
    session: AsyncSession, principal: Principal, lineage_ids: Iterable[uuid.UUID] | None
) -> dict[uuid.UUID, CurrentVersion]:
    """The current (published) version of many briefs, or of every brief when `lineage_ids` is
    None; lineages with nothing published are left out. One query."""
    by_lineage: dict[uuid.UUID, list[repository.PublishedVersion]] = {}
    for row in await repository.published_versions(session, lineage_ids):
        by_lineage.setdefault(row.lineage_id, []).append(row)
    result = {}
    for lineage_id, rows in by_lineage.items():
        now = next((r for r in rows if r.status == "published"), None)
        if now is None:
            continue
        substantive = [r.version for r in rows if r.version <= now.version and r.change != "minor"]
        result[lineage_id] = CurrentVersion(
            lineage_id=lineage_id,
            brief_id=now.id,
            version=now.version,
            basis_version=max(substantive, default=now.version),
            product_id=now.product_id,
        )
    return result


async def story_told(
    session: AsyncSession, principal: Principal, texts: Mapping[uuid.UUID, Sequence[str]]
) -> dict[uuid.UUID, list[tuple[str, int]]]:
    """For each brief version and the texts said about it: each part of its story (story.py) and
    how many of the texts tell it. Two queries. Only part names and counts leave this domain,
    never the brief's words, so readiness may show them to callers who do not read briefs."""
    claims = await repository.cited_claims(session, texts)
    result = {}
    for row in await repository.story_rows(session, texts):
        parts = story.parts(
            row.value_proposition,
            [d.get("difference", "") for d in row.differentiators],
            claims.get(row.id, []),
            row.customer_next_action,
        )
        counts = [0] * len(parts)
        for text in texts[row.id]:
            counts = [n + told for n, told in zip(counts, story.told(parts, text), strict=True)]
        result[row.id] = [(p.name, n) for p, n in zip(parts, counts, strict=True)]
    return result


# --- writes -----------------------------------------------------------------------------------


@transactional
async def create_brief(session: AsyncSession, principal: Principal, data: BriefCreate) -> BriefRead:
    """Creates a draft brief, version 1; inline evidence becomes stored evidence items."""
    if not policies.can_author(principal):
        raise Forbidden("Only editors and admins write briefs.")
    product = await products_service.find_product(session, principal, data.product_key)
    if product is None:
        raise Invalid(
            f"Unknown product '{data.product_key}'.", errors=[field_error("product_key", "no such product")]
        )
    source_version = None
    if data.translation_of is not None:
        source_version = await _translated_version(session, principal, data, product.id)
    brief_id = uuid.uuid4()
    brief = Brief(
        id=brief_id,
        lineage_id=brief_id,
        product_id=product.id,
        locale=data.locale,
        translation_of=data.translation_of,
        translation_source_version=source_version,
        **data.model_dump(include=set(CONTENT_FIELDS)),
        author_id=principal.person_id,
        last_editor_id=principal.person_id,
    )
    session.add(brief)
    await session.flush()
    ids = await evidence_service.resolve_citations(session, principal, data.evidence, field="evidence")
    await repository.set_citations(session, brief.id, ids)
    return await _read_one(session, principal, brief)


async def _translated_version(
    session: AsyncSession, principal: Principal, data: BriefCreate, product_id: uuid.UUID
) -> int | None:
    """The source version a new translation translates; 422 unless `translation_of` names a
    brief (by its lineage id) of the same product in another locale."""
    assert data.translation_of is not None
    versions = [
        v for v in await repository.versions(session, [data.translation_of]) if policies.can_see(principal, v)
    ]
    if not versions:
        raise Invalid(
            "translation_of names no brief; give the source brief's lineage_id.",
            errors=[field_error("translation_of", "no brief has this lineage id")],
        )
    source = versions[-1]
    if source.product_id != product_id:
        raise Invalid(
            "A translation is of a brief for the same product.",
            errors=[field_error("translation_of", "the source brief is for another product")],
        )
    if source.locale.lower() == data.locale.lower():
        raise Invalid(
            f"A translation is in another locale than its source ({source.locale}).",
            errors=[field_error("locale", "the same locale as the source brief")],
        )
    return await translations.version_to_translate(session, data.translation_of)


@transactional
async def update_brief(
    session: AsyncSession,
    principal: Principal,
    brief_id: uuid.UUID,
    data: BriefUpdate,
    *,
    if_match: str | None,
) -> BriefRead:
    """Changes a draft; If-Match is required. Published versions are immutable (409)."""
    brief = await _visible(session, principal, brief_id, lock=True)
    if not policies.can_author(principal):
        raise Forbidden("Only editors and admins write briefs.")
    check_if_match(if_match, brief_etag(brief), required=True)
    if brief.status != "draft":
        hint = "revise it to open a new version" if brief.status == "published" else "request changes first"
        raise Conflict(f"A {brief.status} brief cannot be edited: {hint}.")
    changes = data.model_dump(exclude_unset=True, exclude={"evidence"})
    for name, value in changes.items():
        if value is None and name in ("title",):
            raise Invalid(f"{name} cannot be null.", errors=[field_error(name, "cannot be null")])
        setattr(
            brief, name, value if value is not None else ([] if name in ("pains", "differentiators") else "")
        )
    if data.gut_check is None and "gut_check" in changes:
        brief.gut_check = {}
    if "evidence" in data.model_fields_set:
        ids = await evidence_service.resolve_citations(
            session, principal, data.evidence or [], field="evidence"
        )
        await repository.set_citations(session, brief.id, ids)
    brief.last_editor_id = principal.person_id
    _touch(brief, principal)
    return await _read_one(session, principal, brief)


def completeness_errors(brief: Brief, evidence_count: int) -> list[dict[str, str]]:
    """Every missing part of a brief at once (what submit refuses)."""
    errors = []
    if not brief.pains:
        errors.append(
            field_error("pains", "name at least one pain (dissatisfaction, inconvenience or anxiety)")
        )
    if not any(d.get("trade_off") for d in brief.differentiators):
        errors.append(field_error("differentiators", "at least one differentiator needs a trade_off"))
    if evidence_count == 0:
        errors.append(field_error("evidence", "cite at least one evidence item"))
    for question in ("who_changes", "next_action", "what_we_give_up"):
        if not (brief.gut_check or {}).get(question):
            errors.append(field_error(f"gut_check.{question}", "answer this gut-check question"))
    if not brief.pitch.strip():
        errors.append(field_error("pitch", "write the 30-second pitch"))
    return errors


@transactional
async def submit_brief(session: AsyncSession, principal: Principal, brief_id: uuid.UUID) -> BriefRead:
    """Sends a complete draft to review; 422 lists every missing part and the pitch's speaking time."""
    brief = await _visible(session, principal, brief_id, lock=True)
    if not policies.can_author(principal):
        raise Forbidden("Only editors and admins submit briefs.")
    if brief.status != "draft":
        raise Conflict(f"Only a draft can be submitted; this brief is {brief.status}.")
    cited = (await repository.citations(session, [brief.id]))[brief.id]
    errors = completeness_errors(brief, len(cited))
    spoken = speakability(brief.pitch, brief.locale)
    if brief.pitch.strip() and not spoken["ok"]:
        errors.append(
            field_error(
                "pitch",
                f"takes about {spoken['estimated_seconds']} s to say; keep it under {spoken['limit_seconds']} s",
                type_="too_long_to_say",
            )
        )
    if errors:
        raise Invalid("The brief is not ready for review; see `errors`.", errors=errors, speakability=spoken)
    brief.status = "in_review"
    brief.submitted_at = utcnow()
    brief.review_comment = None
    _touch(brief, principal)
    read = await _read_one(session, principal, brief)
    emit(
        session,
        EventType.BRIEF_SUBMITTED,
        {
            "brief_id": brief.id,
            "lineage_id": brief.lineage_id,
            "product_key": read.product_key,
            "locale": brief.locale,
            "version": brief.version,
            "title": brief.title,
            "submitted_by": principal.person_id,
            "submitted_at": brief.submitted_at,
        },
        product_key=read.product_key,
    )
    return read


@transactional
async def approve_brief(
    session: AsyncSession,
    principal: Principal,
    brief_id: uuid.UUID,
    data: Approval | None = None,
    *,
    if_match: str | None = None,
) -> BriefRead:
    """Approves a brief in review (four eyes): published now, superseding the product's
    published one in the same locale, or `scheduled` until `publish_at`. Expired cited evidence
    needs an override with a reason (recorded).

    With If-Match, only the version the reviewer read is approved (412 if it changed since)."""
    approval = data or Approval()
    brief = await _visible(session, principal, brief_id, lock=True)
    if not policies.can_review(principal):
        raise Forbidden("Only managers, editors and admins approve briefs.")
    check_if_match(if_match, brief_etag(brief), required=False)
    if brief.status != "in_review":
        raise Conflict(f"Only a brief in review can be approved; this one is {brief.status}.")
    if policies.wrote_this_version(principal, brief):
        raise Forbidden("Four eyes: neither the author nor the last editor of a version may approve it.")
    now = utcnow()
    publish_at = review.launch_time(approval, now)
    cited = (await repository.citations(session, [brief.id]))[brief.id]
    evidence = await evidence_service.evidence_by_ids(session, principal, cited)
    brief.expired_evidence_override = review.expired_evidence_override(
        approval,
        review.expired_ids(evidence[e] for e in cited if e in evidence),
        approver=principal.person_id,
        now=now,
    )
    brief.published_by_id = principal.person_id
    if publish_at is not None:
        brief.status = "scheduled"
        brief.publish_at = publish_at
        _touch(brief, principal)
        await session.flush()
        return await _read_one(session, principal, brief)
    await _go_live(session, principal, brief, now)
    return await _read_one(session, principal, brief)


async def _go_live(session: AsyncSession, principal: Principal, brief: Brief, now: datetime) -> None:
    """Publishes an approved version now, superseding the product's published one in its locale:
    brief.published, then the pitch re-projected in this transaction (pitch.changed), so the
    pitch shows the new version exactly when the version lands."""
    previous = await repository.published_for(session, brief.product_id, brief.locale)
    if previous is not None:
        previous.status = "superseded"
        _touch(previous, principal)
        await session.flush()  # before publishing: one published row per product and locale
    brief.status = "published"
    brief.published_at = now
    brief.publish_at = None
    _touch(brief, principal)
    # One published row (and one pitch) per product and locale: another version published
    # meanwhile is a 409.
    with conflict_on_duplicate("Another version was published at the same time; reload and retry."):
        await session.flush()
    product = (await products_service.products_by_ids(session, principal, {brief.product_id}))[
        brief.product_id
    ]
    # The cause before its effect: brief.published takes an earlier position than the
    # pitch.changed the re-projection emits.
    emit(
        session,
        EventType.BRIEF_PUBLISHED,
        {
            "brief_id": brief.id,
            "lineage_id": brief.lineage_id,
            "product_key": product.key,
            "locale": brief.locale,
            "version": brief.version,
            "title": brief.title,
            "published_at": now,
            "published_by": brief.published_by_id,
            "supersedes": previous.id if previous is not None else None,
        },
        product_key=product.key,
    )
    with conflict_on_duplicate("Another version was published at the same time; reload and retry."):
        await pitch_service.refresh_product(session, product_id=brief.product_id)


async def go_live_due(session: AsyncSession, now: datetime, budget: int) -> list[Due]:
    """Publishes the scheduled briefs whose `publish_at` has come (at most `budget`, earliest
    first), each with its events in this transaction; the clock emits nothing more for them.
    The clock's detector (service/wiring.py), acting for the approver it records."""
    for brief in await repository.scheduled_due(session, now=now, limit=budget):
        await _go_live(session, Principal.operator("clock"), brief, now)
    return []


@transactional
async def request_changes(
    session: AsyncSession, principal: Principal, brief_id: uuid.UUID, data: RequestChanges
) -> BriefRead:
    """Sends a brief in review back to draft with the reviewer's comment."""
    brief = await _visible(session, principal, brief_id, lock=True)
    if not policies.can_review(principal):
        raise Forbidden("Only managers, editors and admins review briefs.")
    if brief.status != "in_review":
        raise Conflict(f"Only a brief in review can be sent back; this one is {brief.status}.")
    brief.status = "draft"
    brief.review_comment = data.comment
    _touch(brief, principal)
    read = await _read_one(session, principal, brief)
    emit(
        session,
        EventType.BRIEF_SENT_BACK,
        {
            "brief_id": brief.id,
            "lineage_id": brief.lineage_id,
            "product_key": read.product_key,
            "locale": brief.locale,
            "version": brief.version,
            "title": brief.title,
            "comment": data.comment,
            "sent_back_by": principal.person_id,
            "sent_back_at": brief.updated_at,
        },
        product_key=read.product_key,
    )
    return read


@transactional
async def archive_brief(session: AsyncSession, principal: Principal, brief_id: uuid.UUID) -> BriefRead:
    """Archives a version; archiving the published one withdraws the product's current pitch."""
    brief = await _visible(session, principal, brief_id, lock=True)
    if not policies.can_author(principal):
        raise Forbidden("Only editors and admins archive briefs.")
    if brief.status == "archived":
        raise Conflict("This brief is already archived.")
    was_published = brief.status == "published"
    brief.status = "archived"
    brief.archived_at = utcnow()
    _touch(brief, principal)
    await session.flush()
    if was_published:
        await pitch_service.refresh_product(session, product_id=brief.product_id)
    return await _read_one(session, principal, brief)


@transactional
async def revise_brief(
    session: AsyncSession, principal: Principal, brief_id: uuid.UUID, data: Revise
) -> BriefRead:
    """Opens the next draft version of a published brief, copying its content and evidence."""
    brief = await _visible(session, principal, brief_id, lock=True)
    if not policies.can_author(principal):
        raise Forbidden("Only editors and admins revise briefs.")
    if brief.status != "published":
        raise Conflict(f"Only the published version can be revised; this one is {brief.status}.")
    versions = await repository.versions(session, [brief.lineage_id])
    open_versions = [v for v in versions if v.status in OPEN_STATUSES]
    if open_versions:
        raise Conflict(f"Version {open_versions[0].version} is already open ({open_versions[0].status}).")
    draft = Brief(
        lineage_id=brief.lineage_id,
        version=max(v.version for v in versions) + 1,
        change=data.change,
        product_id=brief.product_id,
        locale=brief.locale,
        # A revised translation is made from the source as published now: current again
        # once it is published.
        translation_of=brief.translation_of,
        translation_source_version=(
            await translations.version_to_translate(session, brief.translation_of)
            if brief.translation_of is not None
            else None
        ),
        **{name: getattr(brief, name) for name in CONTENT_FIELDS},
        author_id=principal.person_id,
        last_editor_id=principal.person_id,
    )
    session.add(draft)
    # The version number is the guard: a concurrent revise that took it fails here.
    with conflict_on_duplicate("Another revision was opened at the same time."):
        await session.flush()
    await repository.set_citations(
        session, draft.id, (await repository.citations(session, [brief.id]))[brief.id]
    )
    return await _read_one(session, principal, draft)


# --- proposals from elsewhere -----------------------------------------------------------------

# GutCheck answers hold at most this many characters (schemas.Answer).
_ANSWER_CHARS = 1000


def _appended(existing: str | None, addition: str, limit: int) -> str:
    """`addition` on a new line after `existing`, cut (not the existing text) to fit `limit`."""
    head = (existing or "").rstrip()
    joined = f"{head}\n{addition}" if head else addition
    return joined if len(joined) <= limit else joined[: limit - 1].rstrip() + "…"


@transactional
async def propose_trade_off(
    session: AsyncSession, principal: Principal, *, product_id: uuid.UUID, trade_off: str, note: str
) -> BriefRead | None:
    """Adds a trade-off under "what we give up" to a draft of the product's current brief.

    Written by the service on behalf of `principal` (who decided not to build something): it is
    the draft's author (or last editor), so four eyes keep them from approving it, and `note`
    (kept in the draft's `review_comment`) says where the proposal came from. An open draft
    takes the addition; otherwise the published version is revised into a new draft. None when
    the product has nothing published or its next version is already in review (nothing to
    propose into without touching a review)."""
    if not policies.can_review(principal):
        raise Forbidden("Only managers, editors and admins propose changes to briefs.")
    published = await repository.published_for_product(session, product_id)
    if not published:
        return None
    current = published[0]
    versions = await repository.versions(session, [current.lineage_id])
    open_version = next((v for v in versions if v.status in ("draft", "in_review")), None)
    if open_version is not None and open_version.status != "draft":
        return None
    if open_version is None:
        draft = Brief(
            lineage_id=current.lineage_id,
            version=max(v.version for v in versions) + 1,
            change="substantive",  # what we give up changed: people acknowledge it again
            product_id=current.product_id,
            locale=current.locale,
            **{name: getattr(current, name) for name in CONTENT_FIELDS},
            author_id=principal.person_id,
            last_editor_id=principal.person_id,
        )
        session.add(draft)
        with conflict_on_duplicate("Another revision was opened at the same time."):
            await session.flush()
        await repository.set_citations(
            session, draft.id, (await repository.citations(session, [current.id]))[current.id]
        )
    else:
        locked = await repository.get(session, open_version.id, for_update=True)
        if locked is None or locked.status != "draft":  # pragma: no cover - gone or submitted meanwhile
            return None
        draft = locked
        draft.last_editor_id = principal.person_id
        _touch(draft, principal)
    gut_check = dict(draft.gut_check or {})
    gut_check["what_we_give_up"] = _appended(gut_check.get("what_we_give_up"), trade_off, _ANSWER_CHARS)
    draft.gut_check = gut_check
    draft.review_comment = _appended(draft.review_comment, note, 5000)
    await session.flush()
    return await _read_one(session, principal, draft)
