"""Search: one query over briefs, messages, evidence, feedback and themes, as each caller may read them.

Matching is the index's (every query token present, service/search/tokens.py); ordering is
computed here, in Python, over the matching candidates: the same score on PostgreSQL and SQLite,
so both databases return the same results in the same order. Visibility is decided in the
candidate query itself, by the domains' read policies against the source rows: a draft, someone
else's feedback or evidence cited only by an unpublished brief never leaves the database.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.auth.principal import Principal
from service.briefs import policies as briefs_policies
from service.briefs.models import Brief, BriefEvidence
from service.db import needs_transaction
from service.errors import Forbidden, Invalid, field_error
from service.evidence import policies as evidence_policies
from service.evidence import repository as evidence_repository
from service.evidence.models import Evidence
from service.feedback import policies as feedback_policies
from service.feedback.models import FeedbackItem, Theme
from service.messages import policies as messages_policies
from service.messages.models import Message, MessageEvidence
from service.pagination import MAX_CURSOR_CHARS, Page, PageParams
from service.products import service as products_service
from service.search import repository
from service.search import tokens as tk
from service.search.documents import DOC_TYPES, Document
from service.search.schemas import SearchHit

MAX_QUERY_CHARS = 256
MAX_QUERY_TERMS = 64
# Matches scored per query: past this, the most recently written ones (a query that matches
# tens of thousands of documents is not one anyone pages to the end of).
CANDIDATE_CAP = 500
SNIPPET_CHARS = 160
SNIPPET_LEAD = 40
# Term-frequency saturation (BM25's k1 and b) against a typical document length in tokens.
K1, B, TYPICAL_TOKENS = 1.2, 0.75, 120.0
TITLE_WEIGHT = 1.0

DOCS = repository.DOCS


# --- input --------------------------------------------------------------------------------------


def _invalid(field: str, detail: str) -> Invalid:
    return Invalid(detail, errors=[field_error(field, detail, location="query")])


def parse_types(types: str | Sequence[str] | None) -> tuple[str, ...]:
    """`brief,message` → ('brief', 'message'); none given: every type; an unknown one is a 422."""
    if types is None:
        return DOC_TYPES
    names = types.split(",") if isinstance(types, str) else list(types)
    wanted = [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in DOC_TYPES]
    if unknown:
        raise _invalid("types", f"unknown type(s) {', '.join(unknown)}; known: {', '.join(DOC_TYPES)}")
    return tuple(dict.fromkeys(wanted)) or DOC_TYPES


def _terms(q: str) -> list[str]:
    if "\x00" in q:
        raise _invalid("q", "must not contain NUL characters")
    if len(q) > MAX_QUERY_CHARS:
        raise _invalid("q", f"at most {MAX_QUERY_CHARS} characters")
    if not q.strip():
        raise _invalid("q", "must not be empty")
    terms = tk.query_terms(q)
    if not terms:
        raise _invalid("q", "holds no letters or digits to search for")
    if len(terms) > MAX_QUERY_TERMS:
        raise _invalid("q", f"too many terms (at most {MAX_QUERY_TERMS})")
    return terms


@dataclass(frozen=True)
class SearchCursor:
    """After (score, type, id) in result order: no offset, so a page never repeats or skips a
    result because something before it changed. Encoded by `SearchHit.edge_cursor`."""

    score: float
    type: str
    id: str

    @classmethod
    def decode(cls, token: str) -> SearchCursor:
        try:
            if len(token) > MAX_CURSOR_CHARS:
                raise ValueError("too long")
            score, doc_type, ident = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score):
                raise ValueError("score")
            if doc_type not in DOC_TYPES:
                raise ValueError("type")
            return cls(float(score), doc_type, str(uuid.UUID(ident)))
        except (ValueError, TypeError, AttributeError, RecursionError, binascii.Error) as exc:
            raise Invalid(
                "The cursor is not one this API issued.",
                errors=[field_error("cursor", "invalid cursor", location="query", type_="cursor")],
            ) from exc

    def sort_key(self) -> tuple[float, str, str]:
        return (-self.score, self.type, self.id)


# --- who may see what -------------------------------------------------------------------------


def _exists(table: Any, *conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """The document's own row meets `conditions`. With none, every document of the type is
    visible, and its index row exists only while the document does (both change in one
    transaction): no lookup, which PostgreSQL would answer by hashing the whole table first."""
    if not conditions:
        return sa.true()
    # A scalar lookup (LIMIT 1), not EXISTS: PostgreSQL may answer an EXISTS under OR by hashing
    # every matching row of the table up front (a seq scan of all published messages, ~15 ms at
    # 50,000), where the search reads a few hundred candidates, newest first, each found by its
    # primary key. A scalar subquery with a LIMIT is never hashed.
    lookup = sa.select(sa.literal(1)).where(table.id == DOCS.c.doc_id, *conditions).limit(1)
    return lookup.scalar_subquery().is_not(None)


def visible_to(principal: Principal, types: Sequence[str]) -> dict[str, sa.ColumnElement[bool]]:
    """Per type this caller may read, the SQL condition (over the index row) of what it may see:
    the same policies as the domains' reads."""
    visible: dict[str, sa.ColumnElement[bool]] = {}
    if "brief" in types:
        statuses = briefs_policies.visible_statuses(principal)
        if statuses is None:
            visible["brief"] = _exists(Brief.__table__.c)
        elif statuses:
            visible["brief"] = _exists(Brief.__table__.c, col(Brief.status).in_(statuses))
    if "message" in types and messages_policies.can_read(principal):
        drafts = messages_policies.sees_drafts(principal)
        visible["message"] = _exists(
            Message.__table__.c, *(() if drafts else (col(Message.status) == "published",))
        )
    if "evidence" in types and evidence_policies.can_read(principal):
        if evidence_policies.sees_all(principal):
            visible["evidence"] = _exists(Evidence.__table__.c)
        else:
            visible["evidence"] = _exists(
                Evidence.__table__.c, evidence_repository.published_or_owned(principal.person_id)
            )
    if "feedback" in types and feedback_policies.can_read(principal):
        if feedback_policies.sees_hub(principal):
            visible["feedback"] = _exists(FeedbackItem.__table__.c)
        elif principal.is_person and principal.person_id is not None:
            visible["feedback"] = _exists(
                FeedbackItem.__table__.c, col(FeedbackItem.filed_by_id) == principal.person_id
            )
    if "theme" in types and feedback_policies.sees_hub(principal):
        # As the theme list shows them: a merged theme lives on in its survivor.
        visible["theme"] = _exists(Theme.__table__.c, col(Theme.merged_into_id).is_(None))
    return visible


def _of_product(doc_type: str, product_id: uuid.UUID) -> sa.ColumnElement[bool]:
    if doc_type != "evidence":
        return DOCS.c.product_id == product_id
    # Evidence has no product of its own: it belongs to the products of what cites it.
    by_brief = (
        sa.select(1)
        .select_from(BriefEvidence)
        .join(Brief, col(Brief.id) == col(BriefEvidence.brief_id))
        .where(col(BriefEvidence.evidence_id) == DOCS.c.doc_id, col(Brief.product_id) == product_id)
        .exists()
    )
    by_message = (
        sa.select(1)
        .select_from(MessageEvidence)
        .join(Message, col(Message.id) == col(MessageEvidence.message_id))
        .where(col(MessageEvidence.evidence_id) == DOCS.c.doc_id, col(Message.product_id) == product_id)
        .exists()
    )
    return sa.or_(by_brief, by_message)


# --- scoring and snippets -------------------------------------------------------------------------


def _matches(token: str, term: str) -> bool:
    return token.startswith(term) if tk.is_prefix_term(term) else token == term


def score(terms: Sequence[str], title: str, doc_tokens: Sequence[str]) -> float:
    """Each term's saturated frequency (BM25 without corpus statistics, so a score depends on
    the document and the query alone), plus a bonus for a term in the title; averaged over
    the terms and rounded, so ties compare equal on every database and platform."""
    title_tokens = tk.token_texts(title)
    norm = K1 * (1 - B + B * len(doc_tokens) / TYPICAL_TOKENS)
    total = 0.0
    for term in terms:
        if tk.is_prefix_term(term):
            tf = sum(1 for t in doc_tokens if t.startswith(term))
            in_title = any(t.startswith(term) for t in title_tokens)
        else:
            tf, in_title = doc_tokens.count(term), term in title_tokens
        total += tf / (tf + norm) if tf else 0.0
        total += TITLE_WEIGHT if in_title else 0.0
    return round(total / len(terms), 6)


def _highlights(text: str, terms: Sequence[str], start: int, end: int) -> list[list[int]]:
    spans: list[list[int]] = []
    for token in tk.tokenize(text):
        if token.start < start or token.end > end:
            continue
        term = next((t for t in terms if _matches(token.text, t)), None)
        if term is None:
            continue
        # A prefix term (one CJK character) highlights that character, not the bigram.
        span = [
            token.start - start,
            token.start - start + 1 if tk.is_prefix_term(term) else token.end - start,
        ]
        if spans and span[0] < spans[-1][1]:  # overlapping bigrams of one match: one highlight
            spans[-1][1] = max(spans[-1][1], span[1])
        else:
            spans.append(span)
    return spans


def snippet(terms: Sequence[str], title: str, body: str) -> tuple[str, list[list[int]]]:
    """A window of the body around its first match (the title when the body has none), with
    the matches' [start, end) offsets into that window."""
    first = next((t for t in tk.tokenize(body) if any(_matches(t.text, term) for term in terms)), None)
    if first is None:
        window = title[:SNIPPET_CHARS]
        return window, _highlights(window, terms, 0, len(window))
    start = max(0, min(first.start - SNIPPET_LEAD, len(body) - SNIPPET_CHARS))
    end = min(len(body), start + SNIPPET_CHARS)
    window = body[start:end]
    return window, _highlights(window, terms, 0, len(window))


# --- the use case ---------------------------------------------------------------------------------


@needs_transaction
async def search(
    session: AsyncSession,
    principal: Principal,
    q: str,
    params: PageParams,
    *,
    types: str | Sequence[str] | None = None,
    product_key: str | None = None,
    locale: str | None = None,
) -> Page[SearchHit]:
    """Searches what this caller may read, best match first."""
    terms = _terms(q)
    wanted = parse_types(types)
    after = SearchCursor.decode(params.cursor) if params.cursor else None
    visible = visible_to(principal, wanted)
    if not visible:  # as each type's list refuses it; a type among readable ones is just skipped
        raise Forbidden("This caller may read none of the types searched.")
    product_id = None
    if product_key is not None:
        product = await products_service.find_product(session, principal, product_key)
        if product is None:
            return Page(items=[], next_cursor=None)
        product_id = product.id
    per_type = []
    for doc_type, condition in visible.items():
        conditions = [DOCS.c.doc_type == doc_type, condition]
        if product_id is not None:
            conditions.append(_of_product(doc_type, product_id))
        if locale is not None:  # types without a locale (evidence, feedback, themes) are not excluded
            conditions.append(sa.or_(DOCS.c.locale == locale, DOCS.c.locale.is_(None)))
        per_type.append(sa.and_(*conditions))
    rows = await repository.candidates(session, terms, sa.or_(*per_type), cap=CANDIDATE_CAP)
    ranked = sorted(
        ((score(terms, r.title, r.tokens.split()), r) for r in rows),
        key=lambda pair: (-pair[0], pair[1].doc_type, str(pair[1].doc_id)),
    )
    if after is not None:
        ranked = [p for p in ranked if (-p[0], p[1].doc_type, str(p[1].doc_id)) > after.sort_key()]
    page = ranked[: params.limit]
    items = []
    for value, row in page:
        text, spans = snippet(terms, row.title, row.body)
        items.append(
            SearchHit(
                type=row.doc_type, id=row.doc_id, title=row.title, snippet=text, highlights=spans, score=value
            )
        )
    next_cursor = None
    if len(ranked) > params.limit:
        next_cursor = items[-1].edge_cursor()
    return Page(items=items, next_cursor=next_cursor)


# --- keeping the index in step ----------------------------------------------------------------------


async def index_documents(session: AsyncSession, docs: Sequence[Document]) -> None:
    """Writes these documents' index rows in the caller's transaction (joins its use case)."""
    await repository.upsert(session, docs)


async def remove_documents(session: AsyncSession, doc_type: str, doc_ids: Sequence[uuid.UUID]) -> None:
    """Drops these documents from the index in the caller's transaction."""
    await repository.delete(session, doc_type, doc_ids)
