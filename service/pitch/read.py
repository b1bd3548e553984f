"""The current pitch for a caller: the stored documents of a product kept in memory, each
caller's variant rendered once and kept beside them. A cache hit touches no database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.auth.principal import Principal
from service.errors import Forbidden, Invalid, NotFound, field_error
from service.evidence.freshness import today
from service.messages.schemas import EVERYONE
from service.people import service as people_service
from service.pitch import policies, repository
from service.pitch.cache import PitchCache, ProductPitches
from service.pitch.render import MEDIA_TYPES, Media, render


@dataclass(frozen=True, slots=True)
class RenderedPitch:
    body: bytes
    etag: str
    media_type: str


def pick_locale(documents: dict[str, dict[str, Any]], wanted: str | None) -> dict[str, Any] | None:
    if not documents:
        return None
    if wanted:
        if wanted in documents:
            return documents[wanted]
        primary = wanted.split("-")[0].lower()
        matches = sorted(loc for loc in documents if loc.split("-")[0].lower() == primary)
        return documents[matches[0]] if matches else None
    return documents.get("en") or documents[sorted(documents)[0]]


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
    stored = pick_locale(entry.documents, locale)
    if stored is None:
        raise NotFound(f"Nothing is published for '{product_key}'" + (f" in {locale}." if locale else "."))
    on = today()
    variant = (stored["document"]["locale"], stored["revision"], audience, segment, competitor, media, on)
    rendered: RenderedPitch | None = entry.rendered.get(variant)
    if rendered is None:
        body, etag = render(
            stored["document"], audience=audience, segment=segment, competitor=competitor, media=media, on=on
        )
        rendered = entry.rendered[variant] = RenderedPitch(body, etag, MEDIA_TYPES[media])
        if len(entry.rendered) > PitchCache.MAX_VARIANTS:
            entry.rendered.popitem(last=False)
    return rendered
