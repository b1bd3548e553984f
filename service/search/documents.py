"""What each kind of content contributes to the index: a title and the text behind it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from service.briefs.models import Brief
from service.evidence.models import Evidence
from service.feedback.models import FeedbackItem, Theme
from service.messages.models import Message

DOC_TYPES = ("brief", "message", "evidence", "feedback", "theme")
# A feedback item has no title: its first words stand for one.
FEEDBACK_TITLE_CHARS = 80


@dataclass(frozen=True)
class Document:
    doc_type: str
    doc_id: uuid.UUID
    title: str
    body: str
    product_id: uuid.UUID | None = None
    locale: str | None = None


def _lines(parts: Iterable[Any]) -> str:
    return "\n".join(line for p in parts if p is not None and (line := str(p).strip()))


def _values(items: Iterable[Any]) -> Iterable[Any]:
    for item in items or ():
        if isinstance(item, dict):
            yield from item.values()
        else:
            yield item


def of_brief(b: Any) -> Document:
    body = _lines(
        [
            b.pitch,
            b.value_proposition,
            b.background,
            b.target_customer,
            *(p.get("text") for p in b.pains or () if isinstance(p, dict)),
            *_values(b.differentiators),
            b.customer_next_action,
            *_values([b.gut_check or {}]),
        ]
    )
    return Document("brief", b.id, b.title, body, b.product_id, b.locale)


def of_message(m: Any) -> Document:
    body = _lines([m.body, m.feature_term, m.value_statement])
    return Document("message", m.id, m.title, body, m.product_id, m.locale)


def of_evidence(e: Any) -> Document:
    return Document("evidence", e.id, e.claim, _lines([e.source]))


def of_feedback(f: Any) -> Document:
    return feedback_document(f.id, f.body, f.tags, f.product_id)


def feedback_document(
    doc_id: uuid.UUID, body: str | None, tags: Iterable[Any] | None, product_id: uuid.UUID | None
) -> Document:
    """A feedback item's document from its fields (the batch ingest has them without a row)."""
    body = body or ""
    title = " ".join(body.split())[:FEEDBACK_TITLE_CHARS]
    return Document("feedback", doc_id, title, _lines([body, *(tags or ())]), product_id)


def of_theme(t: Any) -> Document:
    return Document("theme", t.id, t.name, _lines([t.description]), t.product_id)


# Per model: its extractor, the attributes whose change re-indexes a row, and its type.
EXTRACTORS: dict[type[Any], tuple[Any, tuple[str, ...], str]] = {
    Brief: (
        of_brief,
        (
            "title",
            "pitch",
            "value_proposition",
            "background",
            "target_customer",
            "pains",
            "differentiators",
            "customer_next_action",
            "gut_check",
            "product_id",
            "locale",
        ),
        "brief",
    ),
    Message: (
        of_message,
        ("title", "body", "feature_term", "value_statement", "product_id", "locale"),
        "message",
    ),
    Evidence: (of_evidence, ("claim", "source"), "evidence"),
    FeedbackItem: (of_feedback, ("body", "tags", "product_id"), "feedback"),
    Theme: (of_theme, ("name", "description", "product_id"), "theme"),
}
