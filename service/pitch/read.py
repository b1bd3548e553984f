"""The current pitch for a caller: the stored documents of a product kept in memory, each
caller's variant rendered once and kept beside them. A cache hit touches no database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.principal import Principal
from service.db import session_settings, utcnow
from service.errors import Forbidden, Invalid, NotFound, field_error
from service.evidence.freshness import today
from service.messages.schemas import EVERYONE
from service.people import service as people_service
from service.pitch import policies, repository
from service.pitch.cache import Lead, PitchCache, ProductPitches
from service.pitch.render import MEDIA_TYPES, Media, render, with_lead

MAX_FIXES = 10  # the newest fixes an account's lead shows (a card, not a history)


@dataclass(frozen=True, slots=True)
class RenderedPitch:
    body: bytes
    etag: str
    media_type: str
    locale: str = "en"  # the served locale (Content-Language)


def match_locale(available: Sequence[str], wanted: str) -> str | None:
    """The published locale answering a BCP 47 tag: the tag itself, then its truncations
    (RFC 4647 lookup: `en-US` → `en`), then another region of the same language."""
    by_lower = {a.lower(): a for a in available}
    subtags = wanted.lower().split("-")
    while subtags:
        found = by_lower.get("-".join(subtags))
        if found is not None:
            return found
        subtags.pop()
        if subtags and len(subtags[-1]) == 1:  # never end on a singleton (`x` of `x-private`)
            subtags.pop()
    primary = wanted.split("-")[0].lower()
    same = sorted(a for a in available if a.split("-")[0].lower() == primary)
    return same[0] if same else None


def _fallback_of(fallbacks: Mapping[str, str], tag: str) -> str | None:
    subtags = tag.lower().split("-")
    while subtags:
        found = fallbacks.get("-".join(subtags))
        if found is not None:
            return found
        subtags.pop()
    return None


def resolve_locale(
    first_published: Sequence[str], wanted: str | None, fallbacks: Mapping[str, str]
) -> tuple[str, bool] | None:
    """The locale to serve for `wanted` and whether it is a fallback; None: nothing in the
    chain is published.

    `first_published` lists the published locales, the product's first one first. Asked for
    nothing: en, else that first one. Asked for a tag: its BCP 47 match; else the configured
    chain (`fallbacks`, followed hop by hop); a language the configuration names nothing for
    falls back to the product's first published locale."""
    if not first_published:
        return None
    if not wanted:
        return (match_locale(first_published, "en") or first_published[0]), False
    found = match_locale(first_published, wanted)
    if found is not None:
        return found, False
    hop = _fallback_of(fallbacks, wanted)
    if hop is None:
        return first_published[0], True
    seen = {wanted.lower()}
    while hop is not None and hop.lower() not in seen:
        found = match_locale(first_published, hop)
        if found is not None:
            return found, True
        seen.add(hop.lower())
        hop = _fallback_of(fallbacks, hop)
    return None


async def _product_pitches(
    sessionmaker: async_sessionmaker[AsyncSession], cache: PitchCache, product_key: str
) -> ProductPitches:
    entry = cache.get(product_key)
    if entry is None:
        generation = cache.generation
        async with sessionmaker() as session:
            documents = await repository.documents_for_product_key(
                session, product_key, first_published_first=True
            )
        entry = ProductPitches(
            documents={d.locale: {"revision": d.revision, "document": d.document} for d in documents},
            first_published=[d.locale for d in documents],
        )
        cache.put(product_key, entry, generation)
    return entry


def _served(cache: PitchCache, entry: ProductPitches, locale: str | None) -> tuple[str, bool] | None:
    """The locale served for `locale` (and whether it is a fallback), resolved once per entry."""
    try:
        return entry.served[locale]
    except KeyError:
        pass
    served = resolve_locale(entry.first_published, locale, cache.locale_fallbacks)
    if len(entry.served) >= PitchCache.MAX_LOCALES:
        entry.served.clear()
    entry.served[locale] = served
    return served


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


async def _load_lead(
    sessionmaker: async_sessionmaker[AsyncSession], product_key: str, account: str, days: int
) -> Lead:
    """What was fixed for an account, newest first: per theme (or per item filed under none),
    its latest announcement for the account's feedback within the last `days` — the theme,
    the announcing message as published now, and when it was announced. An account nothing
    matches has nothing fixed (as one that never asked): no error."""
    now = utcnow()
    async with sessionmaker() as session:
        rows = await repository.fixes_for_account(
            session, product_key=product_key, account=account, since=now - timedelta(days=days), now=now
        )
    # Valid until the first of these leaves the period or loses its message to expiry.
    ends = [row.announced_at + timedelta(days=days) for row in rows]
    ends += [row.message_expires_at for row in rows if row.message_expires_at is not None]
    fixes: dict[Any, dict[str, Any]] = {}
    for row in rows:  # newest first: the first row of a theme is its latest announcement
        key = row.theme_id or row.item_id
        if key in fixes:
            continue
        fixes[key] = {
            "theme": {"id": str(row.theme_id), "name": row.theme_name} if row.theme_id else None,
            "message": {
                "id": str(row.message_id),
                "kind": row.message_kind,
                "locale": row.message_locale,
                "title": row.message_title,
                "body": row.message_body,
            },
            "announced_at": row.announced_at.isoformat(),
        }
        if len(fixes) == MAX_FIXES:
            break
    return Lead(list(fixes.values()), min(ends, default=None), days)


async def fixed_for_account(
    sessionmaker: async_sessionmaker[AsyncSession], cache: PitchCache, product_key: str, account: str
) -> Lead | None:
    """The lead for an account's read of a product's pitch (None: nothing fixed, or leads are
    off): kept until a write to what it is read from commits, or its first fix ends."""
    days = _fixed_for_days(sessionmaker)
    if days <= 0:
        return None
    lead = cache.get_lead(product_key, account)
    if lead is None or lead.days != days or (lead.valid_until is not None and lead.valid_until <= utcnow()):
        generation = cache.leads_generation
        lead = await _load_lead(sessionmaker, product_key, account, days)
        cache.put_lead(product_key, account, lead, generation)
    return lead if lead.fixes else None


def _fixed_for_days(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """CUECARD_PITCH_FIXED_FOR_DAYS of the app these sessions belong to (no session opened)."""
    settings = (sessionmaker.kw.get("info") or {}).get("settings")
    if settings is None:
        return session_settings(sessionmaker()).pitch_fixed_for_days
    days: int = settings.pitch_fixed_for_days
    return days


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
    account: str | None = None,
    media: Media = "json",
) -> RenderedPitch:
    """The current pitch for a product: a cache hit touches no database. With `account`, led
    by what was fixed for that account (`fixed_for_account`; kept in memory per account, a miss
    is one indexed query), or, with nothing fixed for it (or no such account), the plain pitch."""
    if not policies.can_read(principal):
        raise Forbidden("This token may not read pitches (scope pitch:read).")
    if audience is not None:
        await _check_audience(sessionmaker, principal, cache, audience)
    entry = await _product_pitches(sessionmaker, cache, product_key)
    served = _served(cache, entry, locale)
    if served is None:
        raise NotFound(f"Nothing is published for '{product_key}'" + (f" in {locale}." if locale else "."))
    served_locale, fallback = served
    stored = entry.documents[served_locale]
    on = today()
    variant = (served_locale, fallback, stored["revision"], audience, segment, competitor, media, on)
    rendered: RenderedPitch | None = entry.rendered.get(variant)
    if rendered is None:
        body, etag = render(
            stored["document"],
            audience=audience,
            segment=segment,
            competitor=competitor,
            media=media,
            on=on,
            fallback=fallback,
        )
        rendered = entry.rendered[variant] = RenderedPitch(body, etag, MEDIA_TYPES[media], served_locale)
        if len(entry.rendered) > PitchCache.MAX_VARIANTS:
            entry.rendered.popitem(last=False)
    if not account:  # not sent (or sent empty): the plain pitch
        return rendered
    lead = await fixed_for_account(sessionmaker, cache, product_key, account)
    if lead is None:  # as for segment and competitor: context nothing matches is the plain pitch
        return rendered
    led: RenderedPitch | None = lead.rendered.get((rendered.etag, media))
    if led is None:
        body, etag = with_lead(rendered.body, lead.fixes, media=media, locale=served_locale)
        if len(lead.rendered) >= PitchCache.MAX_LEAD_VARIANTS:
            lead.rendered.clear()
        led = lead.rendered[(rendered.etag, media)] = RenderedPitch(
            body, etag, rendered.media_type, served_locale
        )
    return led
