"""Translations: a brief in another locale that translates a source brief (by lineage).

A translation records the source's version it was translated from. It is `outdated` while the
source has published a substantive version after that one (a minor fix does not count), and
`current` again once a revised translation, made from the newer source, is published. The
standing is derived from the versions, never stored as a flag: whichever path publishes the
source (approval now, a scheduled publish later), the next read and the next pitch assembly
see it, and the pitch is re-assembled whenever the product's briefs are published.

A leaf of the briefs domain (its repository and schemas only), so the pitch projection can
use it without importing the brief use cases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.briefs import repository
from service.briefs.schemas import Change, Translation, TranslationStatus

# Versions that went live: a scheduled (not yet live) or never-published version does not
# outdate anything.
_WENT_LIVE = ("published", "superseded", "archived")


@dataclass(frozen=True, slots=True)
class SourceVersions:
    """A source lineage's published history: what a translation made now would translate, and
    the last substantive version that went live."""

    published: int | None  # the version published now (None: none is)
    last_substantive: int  # 0: nothing substantive went live yet


async def source_versions(
    session: AsyncSession, lineage_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, SourceVersions]:
    """The published history of many source lineages (one query)."""
    ids = set(lineage_ids)
    if not ids:
        return {}
    result: dict[uuid.UUID, SourceVersions] = {}
    by_lineage: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    for row in await repository.published_versions(session, ids):
        if row.status in _WENT_LIVE:
            by_lineage[row.lineage_id].append(row)
    for lineage_id, rows in by_lineage.items():
        now = next((r.version for r in rows if r.status == "published"), None)
        substantive = [r.version for r in rows if r.change != Change.MINOR]
        result[lineage_id] = SourceVersions(published=now, last_substantive=max(substantive, default=0))
    return result


def standing(source_version: int | None, source: SourceVersions | None) -> Translation:
    """Current unless the source went live with a substantive version after `source_version`."""
    outdated = source is not None and source.last_substantive > (source_version or 0)
    return Translation(
        status=TranslationStatus.OUTDATED if outdated else TranslationStatus.CURRENT,
        source_version=source_version,
    )


async def standings(session: AsyncSession, briefs: Iterable[Any]) -> dict[uuid.UUID, Translation]:
    """Each translation's standing, by brief id (originals left out; one query)."""
    translations = [b for b in briefs if b.translation_of is not None]
    sources = await source_versions(session, {b.translation_of for b in translations})
    return {b.id: standing(b.translation_source_version, sources.get(b.translation_of)) for b in translations}


async def version_to_translate(session: AsyncSession, source_lineage_id: uuid.UUID) -> int | None:
    """The source version a translation made now translates: the published one, else the
    newest (a translation may start from a source still in review)."""
    source = (await source_versions(session, [source_lineage_id]))[source_lineage_id]
    if source.published is not None:
        return source.published
    versions = await repository.versions(session, [source_lineage_id])
    return max((v.version for v in versions), default=None)
