"""The pitch as stored: assembled from the published brief, its evidence and the published
messages when any of them changes (write time), never on a read."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from service.briefs import translations
from service.briefs.models import Brief
from service.briefs.schemas import Translation
from service.db import is_postgres, utcnow
from service.events.catalogue import EventType
from service.events.service import emit
from service.evidence.freshness import today
from service.evidence.models import Evidence
from service.pitch import repository
from service.pitch.cache import CHANNEL, mark_changed
from service.pitch.models import PitchDocument
from service.pitch.render import MESSAGE_SECTIONS, render
from service.products.models import Product


def _evidence_doc(evidence: Evidence) -> dict[str, Any]:
    return {
        "id": str(evidence.id),
        "kind": evidence.kind,
        "claim": evidence.claim,
        "source": evidence.source,
        "verify_by": evidence.verify_by.isoformat() if evidence.verify_by else None,
    }


async def _assemble(
    session: AsyncSession, product: Product, brief: Brief, translation: Translation | None
) -> dict[str, Any]:
    evidence = await repository.cited_evidence(session, brief.id)
    messages = await repository.published_messages(session, product.id, brief.locale)
    message_evidence = await repository.message_evidence(session, [m.id for m in messages])
    document: dict[str, Any] = {
        "product_key": product.key,
        "product_name": product.name,
        "locale": brief.locale,
        "brief_id": str(brief.id),
        "version": brief.version,
        "published_at": brief.published_at.isoformat() if brief.published_at else utcnow().isoformat(),
        "title": brief.title,
        "pitch": brief.pitch,
        "value_proposition": brief.value_proposition,
        "target_customer": brief.target_customer,
        "customer_next_action": brief.customer_next_action,
        "pains": brief.pains,
        "differentiators": brief.differentiators,
        "gut_check": brief.gut_check,
        "evidence": [_evidence_doc(e) for e in evidence],
        # A translation's standing against its source (null: an original), for sellers too.
        "translation": translation.model_dump(mode="json") if translation is not None else None,
        **{section: [] for section in MESSAGE_SECTIONS.values()},
    }
    for message in messages:
        document[MESSAGE_SECTIONS[message.kind]].append(
            {
                "id": str(message.id),
                "kind": message.kind,
                "title": message.title,
                "body": message.body,
                "audiences": message.audiences,
                "channel": message.channel,
                "feature_term": message.feature_term,
                "value_statement": message.value_statement,
                "metric": message.metric,
                "evidence": [_evidence_doc(e) for e in message_evidence.get(message.id, [])],
            }
        )
    return document


async def refresh_product(session: AsyncSession, *, product_id: uuid.UUID) -> None:
    """Re-assembles the stored pitch of every published locale of a product (no commit).

    Called in the same transaction as the change, so the stored pitch never disagrees with
    what was committed; readers in every replica drop their cached copy on commit.
    """
    product = await repository.get_product(session, product_id)
    if product is None:
        return
    existing = await repository.documents_for_product(session, product_id)
    published = await repository.published_briefs(session, product_id)
    changed: list[tuple[str, PitchDocument]] = []
    # Translations are of the same product's briefs: publishing the source re-assembles this
    # product, so a translation's pitch turns outdated in the source's own transaction.
    standings = await translations.standings(session, published)
    for brief in published:
        document = await _assemble(session, product, brief, standings.get(brief.id))
        current = existing.pop(brief.locale, None)
        if current is None:
            current = PitchDocument(
                product_id=product.id,
                product_key=product.key,
                locale=brief.locale,
                brief_id=brief.id,
                version=brief.version,
                published_at=brief.published_at or utcnow(),
                document=document,
            )
            session.add(current)
            changed.append(("published", current))
        elif current.document != document:
            change = "published" if current.brief_id != brief.id else "updated"
            current.brief_id = brief.id
            current.version = brief.version
            current.published_at = brief.published_at or utcnow()
            current.document = document
            current.revision += 1
            current.updated_at = utcnow()
            changed.append((change, current))
    for stale in existing.values():  # archived: nothing published in that locale any more
        await repository.delete_document(session, stale)
        changed.append(("withdrawn", stale))
    for change, stored in changed:
        _pitch_changed(session, change, stored)
    await session.flush()
    mark_changed(session, product.key)
    if is_postgres(session):
        # Transactional: delivered to every replica's listener only if this commits.
        await session.execute(
            sa.text("SELECT pg_notify(:channel, :key)"), {"channel": CHANNEL, "key": product.key}
        )


def _pitch_changed(session: AsyncSession, change: str, stored: PitchDocument) -> None:
    """Emits pitch.changed for one product and locale, with the ETag a plain JSON read of the
    stored pitch answers with today (no audience, segment or competitor): a CRM that holds it
    knows, without a request, whether its copy is current."""
    withdrawn = change == "withdrawn"
    etag = None
    if not withdrawn:
        _body, etag = render(
            stored.document, audience=None, segment=None, competitor=None, media="json", on=today()
        )
    emit(
        session,
        EventType.PITCH_CHANGED,
        {
            "product_key": stored.product_key,
            "locale": stored.locale,
            "change": change,
            "brief_id": None if withdrawn else stored.brief_id,
            "version": None if withdrawn else stored.version,
            "revision": None if withdrawn else stored.revision,
            "etag": etag,
        },
        product_key=stored.product_key,
    )


async def refresh_for_evidence(session: AsyncSession, *, evidence_ids: list[uuid.UUID]) -> None:
    """Re-assembles every pitch that shows any of these evidence items (no commit)."""
    for product_id in await repository.products_citing(session, evidence_ids):
        await refresh_product(session, product_id=product_id)


async def refresh_all(session: AsyncSession) -> None:
    """Re-assembles every stored pitch (company-wide message changes; no commit)."""
    for product_id in await repository.products_with_pitches(session):
        await refresh_product(session, product_id=product_id)
