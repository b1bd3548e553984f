"""The current pitch: assembled when what it shows changes, served from memory to CRMs."""

from __future__ import annotations

import hashlib
import html
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.principal import Principal
from service.briefs.models import Brief
from service.db import is_postgres, transactional, utcnow
from service.errors import Forbidden, Invalid, NotFound, field_error
from service.evidence import service as evidence_service
from service.evidence.models import Evidence
from service.messages.schemas import EVERYONE
from service.people import service as people_service
from service.pitch import policies, repository
from service.pitch.cache import CHANNEL, PitchCache, ProductPitches, mark_changed
from service.pitch.models import PitchDocument, PitchUsage
from service.pitch.schemas import UsageCount, UsageCreate, UsageRecorded, UsageSummary
from service.products.models import Product

Media = Literal["json", "html"]
MESSAGE_SECTIONS = {
    "value_translation": "value_translations",
    "key_message": "key_messages",
    "talking_point": "talking_points",
    "faq": "faq",
}


# --- assembly (write time) -----------------------------------------------------------------


def _evidence_doc(evidence: Evidence) -> dict[str, Any]:
    return {
        "id": str(evidence.id),
        "kind": evidence.kind,
        "claim": evidence.claim,
        "source": evidence.source,
        "verify_by": evidence.verify_by.isoformat() if evidence.verify_by else None,
    }


async def _assemble(session: AsyncSession, product: Product, brief: Brief) -> dict[str, Any]:
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
    for brief in published:
        document = await _assemble(session, product, brief)
        current = existing.pop(brief.locale, None)
        if current is None:
            session.add(
                PitchDocument(
                    product_id=product.id,
                    product_key=product.key,
                    locale=brief.locale,
                    brief_id=brief.id,
                    version=brief.version,
                    published_at=brief.published_at or utcnow(),
                    document=document,
                )
            )
        elif current.document != document:
            current.brief_id = brief.id
            current.version = brief.version
            current.published_at = brief.published_at or utcnow()
            current.document = document
            current.revision += 1
            current.updated_at = utcnow()
    for stale in existing.values():  # archived: nothing published in that locale any more
        await repository.delete_document(session, stale)
    await session.flush()
    mark_changed(session, product.key)
    if is_postgres(session):
        # Transactional: delivered to every replica's listener only if this commits.
        await session.execute(
            sa.text("SELECT pg_notify(:channel, :key)"), {"channel": CHANNEL, "key": product.key}
        )


async def refresh_for_evidence(session: AsyncSession, *, evidence_ids: list[uuid.UUID]) -> None:
    """Re-assembles every pitch that shows any of these evidence items (no commit)."""
    for product_id in await repository.products_citing(session, evidence_ids):
        await refresh_product(session, product_id=product_id)


async def refresh_all(session: AsyncSession) -> None:
    """Re-assembles every stored pitch (company-wide message changes; no commit)."""
    for product_id in await repository.products_with_pitches(session):
        await refresh_product(session, product_id=product_id)


# --- the read (hot path) ----------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedPitch:
    body: bytes
    etag: str
    media_type: str


def _pick_locale(documents: dict[str, dict[str, Any]], wanted: str | None) -> dict[str, Any] | None:
    if not documents:
        return None
    if wanted:
        if wanted in documents:
            return documents[wanted]
        primary = wanted.split("-")[0].lower()
        matches = sorted(loc for loc in documents if loc.split("-")[0].lower() == primary)
        return documents[matches[0]] if matches else None
    return documents.get("en") or documents[sorted(documents)[0]]


def _mentions(text: str | None, needle: str | None) -> bool:
    return bool(text and needle and needle.casefold() in text.casefold())


def _view(
    document: dict[str, Any], *, audience: str | None, segment: str | None, competitor: str | None, on: date
) -> dict[str, Any]:
    """The response for one caller's context, from the stored document (no database)."""
    view = dict(document)
    if audience:
        view["key_messages"] = [
            m for m in document["key_messages"] if audience in m["audiences"] or "all" in m["audiences"]
        ]
        view["talking_points"] = [
            m for m in document["talking_points"] if audience in m["audiences"] or "all" in m["audiences"]
        ]
    if competitor:  # the differentiators against this competitor first
        view["differentiators"] = sorted(
            document["differentiators"], key=lambda d: not _mentions(d.get("alternative"), competitor)
        )
    if segment or competitor:  # evidence about this segment or competitor first
        view["evidence"] = sorted(
            document["evidence"],
            key=lambda e: (
                not any(_mentions(e[f], n) for f in ("claim", "source") for n in (segment, competitor))
            ),
        )
    cited = list(document["evidence"])
    for section in MESSAGE_SECTIONS.values():
        for message in view[section]:
            cited += message["evidence"]
    view["audience"] = audience
    view["freshness"] = evidence_service.freshness(cited, on).model_dump(mode="json")
    return view


LABELS = {
    "en": {
        "value": "Value",
        "evidence": "Evidence",
        "messages": "Key messages",
        "stale": "Some evidence is past its verify-by date: check before quoting it.",
        "next": "Customer's next step",
        "version": "version",
    },
    "ja": {
        "value": "価値",
        "evidence": "根拠",
        "messages": "キーメッセージ",
        "stale": "検証期限切れの根拠があります。引用する前に確認してください。",
        "next": "お客様の次の一歩",
        "version": "版",
    },
}


def _html_card(view: dict[str, Any]) -> bytes:
    """A self-contained, escaped fragment for a CRM side panel: inline styles, no assets."""
    e = html.escape
    labels = LABELS.get(view["locale"].split("-")[0], LABELS["en"])
    parts = [
        f'<section class="cuecard-pitch" lang="{e(view["locale"])}" style="font-family:system-ui,sans-serif;'
        'font-size:14px;line-height:1.5;max-width:420px;padding:12px;border:1px solid #ddd;border-radius:8px">',
        f'<h2 style="font-size:16px;margin:0 0 4px">{e(view["title"])}</h2>',
        f'<p style="color:#666;margin:0 0 8px">{e(view["product_name"])} · {labels["version"]} {view["version"]}</p>',
        f'<p style="font-weight:600;margin:0 0 8px">{e(view["pitch"])}</p>',
        f'<p style="margin:0 0 8px">{e(view["value_proposition"])}</p>',
    ]
    if view["freshness"]["status"] == "stale":
        parts.append(f'<p role="alert" style="color:#a15c00;margin:0 0 8px">⚠ {e(labels["stale"])}</p>')
    if view["value_translations"]:
        items = "".join(
            f"<li>{e(m['feature_term'] or m['title'])} → {e(m['value_statement'] or m['body'])}</li>"
            for m in view["value_translations"]
        )
        parts.append(f'<h3 style="font-size:14px;margin:8px 0 4px">{labels["value"]}</h3><ul>{items}</ul>')
    if view["evidence"]:
        items = "".join(
            f"<li>{e(ev['claim'])} <small>({e(ev['source'])})</small></li>" for ev in view["evidence"]
        )
        parts.append(f'<h3 style="font-size:14px;margin:8px 0 4px">{labels["evidence"]}</h3><ul>{items}</ul>')
    if view["key_messages"]:
        items = "".join(
            f"<li><strong>{e(m['title'])}</strong> {e(m['body'])}</li>" for m in view["key_messages"]
        )
        parts.append(f'<h3 style="font-size:14px;margin:8px 0 4px">{labels["messages"]}</h3><ul>{items}</ul>')
    if view["customer_next_action"]:
        parts.append(f"<p><strong>{labels['next']}:</strong> {e(view['customer_next_action'])}</p>")
    parts.append("</section>")
    return "".join(parts).encode()


async def _product_pitches(
    sessionmaker: async_sessionmaker[AsyncSession], cache: PitchCache, product_key: str
) -> ProductPitches:
    entry = cache.get(product_key)
    if entry is None:
        generation = cache.generation
        async with sessionmaker() as session:
            documents = await repository.documents_for_product_key(session, product_key)
        entry = ProductPitches(
            documents={d.locale: {"revision": d.revision, "document": d.document} for d in documents}
        )
        cache.put(product_key, entry, generation)
    return entry


async def _check_audience(
    sessionmaker: async_sessionmaker[AsyncSession], principal: Principal, cache: PitchCache, audience: str
) -> None:
    """An audience names a department (or `all`): anything else is a 422 listing the keys.

    An unknown key used to give the pitch without any audience's messages, a quietly different
    answer. Known keys are remembered (departments are never deleted or re-keyed), so the hot
    path stays free of the database; an unknown one is looked up, since it may be new."""
    if audience == EVERYONE or audience in cache.audiences:
        return
    async with sessionmaker() as session:
        keys = await people_service.department_keys(session, principal)
    cache.audiences.update(keys)
    if audience not in cache.audiences:
        accepted = [EVERYONE, *keys]
        raise Invalid(
            f"No department has the key '{audience}'; audience accepts: {', '.join(accepted)}.",
            errors=[
                field_error("audience", "Not a department key (or `all`).", location="query", type_="enum")
            ],
            accepted=accepted,
        )


async def current_pitch(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    *,
    cache: PitchCache,
    product_key: str,
    locale: str | None = None,
    audience: str | None = None,
    segment: str | None = None,
    competitor: str | None = None,
    media: Media = "json",
) -> RenderedPitch:
    """The current pitch for a product: a cache hit touches no database."""
    if not policies.can_read(principal):
        raise Forbidden("This token may not read pitches (scope pitch:read).")
    if audience is not None:
        await _check_audience(sessionmaker, principal, cache, audience)
    entry = await _product_pitches(sessionmaker, cache, product_key)
    stored = _pick_locale(entry.documents, locale)
    if stored is None:
        raise NotFound(f"Nothing is published for '{product_key}'" + (f" in {locale}." if locale else "."))
    today = evidence_service.today()
    variant = (stored["document"]["locale"], stored["revision"], audience, segment, competitor, media, today)
    rendered = entry.rendered.get(variant)
    if rendered is None:
        view = _view(stored["document"], audience=audience, segment=segment, competitor=competitor, on=today)
        body = _html_card(view) if media == "html" else json.dumps(view, ensure_ascii=False).encode()
        rendered = (body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')
        entry.rendered[variant] = rendered
        if len(entry.rendered) > PitchCache.MAX_VARIANTS:
            entry.rendered.popitem(last=False)
    media_type = "text/html; charset=utf-8" if media == "html" else "application/json"
    return RenderedPitch(body=rendered[0], etag=rendered[1], media_type=media_type)


# --- usage ----------------------------------------------------------------------------------


@transactional
async def record_usage(
    session: AsyncSession, principal: Principal, product_key: str, data: UsageCreate
) -> UsageRecorded:
    """Records that a CRM showed, used or copied the pitch (for the version then current)."""
    if not policies.can_report_usage(principal):
        raise Forbidden("Reporting pitch usage needs scope pitch:read.")
    if principal.is_person and data.user_email is not None:
        # A person reports their own use: naming someone else would put words in their mouth.
        raise Invalid(
            "A person reports their own usage; user_email is for integrations reporting for a user.",
            errors=[field_error("user_email", "not accepted from a person's token", type_="forbidden")],
        )
    user_email = principal.email if principal.is_person else data.user_email
    documents = {d.locale: d for d in await repository.documents_for_product_key(session, product_key)}
    stored = _pick_locale({k: {"doc": v} for k, v in documents.items()}, data.locale)
    if stored is None:
        raise NotFound(f"Nothing is published for '{product_key}'.")
    document: PitchDocument = stored["doc"]
    usage = PitchUsage(
        product_key=product_key,
        locale=document.locale,
        brief_id=document.brief_id,
        version=document.version,
        audience=data.audience,
        event=data.event,
        opportunity_ref=data.opportunity_ref,
        user_email=user_email.lower() if user_email else None,
        client_id=principal.client_id,
    )
    await repository.add_usage(session, usage)
    return UsageRecorded(
        id=usage.id,
        product_key=product_key,
        version=usage.version,
        event=usage.event,
        occurred_at=usage.occurred_at,
    )


async def usage_summary(session: AsyncSession, principal: Principal, product_key: str) -> UsageSummary:
    """Counts pitch usage per version, locale, audience and event."""
    if not policies.can_see_usage(principal):
        raise Forbidden("Editors and admins see pitch usage.")
    rows = await repository.usage_summary(session, product_key)
    return UsageSummary(product_key=product_key, counts=[UsageCount(**row._mapping) for row in rows])
