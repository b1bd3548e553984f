"""The in-process cache of assembled pitches, invalidated on commit and across replicas.

Reads never rebuild joins: a miss loads the stored documents of one product (one indexed
query); a hit touches no database. Writes that change a pitch mark the product in the
session (`mark_changed`); after the commit this process drops its entry, and on PostgreSQL
the same transaction's NOTIFY tells every other replica to drop theirs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

CHANNEL = "cuecard_pitch"
_PENDING = "pitch_changed"
_CACHE = "pitch_cache"


@dataclass
class ProductPitches:
    """Every published locale of one product, as stored."""

    documents: dict[str, dict[str, Any]]  # locale -> {"revision", "document"}
    # The published locales, the one the product was first published in first: the fallback
    # when the configured chain names none for a language.
    first_published: list[str] = field(default_factory=list)
    # Requested locale (as asked) -> (served locale, fallback?) or None (nothing in the chain
    # is published): resolved once per product entry, so a hit stays free of the database.
    served: dict[str | None, tuple[str, bool] | None] = field(default_factory=dict)
    # variant -> service.pitch.read.RenderedPitch (which imports this module)
    rendered: OrderedDict[tuple[Any, ...], Any] = field(default_factory=OrderedDict)


class PitchCache:
    MAX_PRODUCTS = 5_000
    MAX_VARIANTS = 64  # rendered variants kept per product (audience × format × context)
    MAX_LOCALES = 64  # requested locales resolved per product (any BCP 47 tag may be asked)

    def __init__(
        self, *, requires_listener: bool = False, locale_fallbacks: dict[str, str] | None = None
    ) -> None:
        self._products: OrderedDict[str, ProductPitches] = OrderedDict()
        # CUECARD_LOCALE_FALLBACKS: {lower-cased locale: its fallback} (service/config.py).
        self.locale_fallbacks = dict(locale_fallbacks or {})
        # Department keys seen to exist: what `?audience=` may name (departments only grow).
        self.audiences: set[str] = set()
        self.generation = 0  # bumped on every invalidation; a load started earlier is not stored
        # With several replicas, only cache while NOTIFYs can reach us (see service/listener.py).
        self.requires_listener = requires_listener
        self.listening = False

    def get(self, product_key: str) -> ProductPitches | None:
        return self._products.get(product_key)

    def put(self, product_key: str, pitches: ProductPitches, generation: int) -> None:
        if generation != self.generation or (self.requires_listener and not self.listening):
            return  # invalidated while loading, or deaf to other replicas: read through
        self._products[product_key] = pitches
        if len(self._products) > self.MAX_PRODUCTS:
            self._products.popitem(last=False)

    def on_notify(self, payload: str) -> None:
        self.invalidate({payload} if payload else None)

    def invalidate_all(self) -> None:
        self.invalidate()

    def invalidate(self, product_keys: set[str] | None = None) -> None:
        self.generation += 1
        if product_keys is None:
            self._products.clear()
        else:
            for key in product_keys:
                self._products.pop(key, None)


def mark_changed(session: Any, product_key: str) -> None:
    """Record that this transaction changes `product_key`'s pitch (applied after commit)."""
    session.info.setdefault(_PENDING, set()).add(product_key)


def locale_fallbacks(session: Any) -> dict[str, str]:
    """The fallback chain configured for the app this session belongs to (none: {})."""
    cache = session.info.get(_CACHE)
    return cache.locale_fallbacks if cache is not None else {}


def session_info(cache: PitchCache) -> dict[str, Any]:
    """`info` for the sessionmaker, so sessions know which cache to invalidate."""
    return {_CACHE: cache}


@event.listens_for(Session, "after_commit")
def _invalidate_after_commit(session: Session) -> None:
    changed = session.info.pop(_PENDING, None)
    cache = session.info.get(_CACHE)
    if changed and cache is not None:
        cache.invalidate(changed)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
