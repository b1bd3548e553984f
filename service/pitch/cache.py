"""The in-process cache of assembled pitches, invalidated on commit and across replicas.

Reads never rebuild joins: a miss loads the stored documents of one product (one indexed
query); a hit touches no database. Writes that change a pitch mark the product in the
session (`mark_changed`); after the commit this process drops its entry, and on PostgreSQL
the same transaction's NOTIFY tells every other replica to drop theirs.

Beside them, the leads of `?account=` reads ("you asked — it's fixed", service/pitch/read.py):
what was fixed for an account, by product and account. They depend on feedback, themes,
accounts, messages and products, written from many places; so any committed write to those
tables drops every lead: the cache follows the tables the read cache sees written
(service/readcache.py: the engine sees the SQL, whoever sends it; in this process when a
transaction commits and again once its connection is back in the pool, and in every other
replica through the NOTIFY of the same transaction). A lead also ends when its oldest fix
leaves the configured period.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from service.readcache import EVERYTHING

CHANNEL = "cuecard_pitch"
_PENDING = "pitch_changed"
_CACHE = "pitch_cache"
# What a lead is read from: a committed write to any of these (or to tables not named) drops leads.
LEAD_TABLES = frozenset({"feedback_items", "themes", "accounts", "messages", "products", EVERYTHING})


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


@dataclass
class Lead:
    """What was fixed for one account about one product (service/pitch/read.py)."""

    fixes: list[dict[str, Any]]
    valid_until: datetime | None  # the first fix leaves the period, or its message expires
    days: int  # the period it was read for (CUECARD_PITCH_FIXED_FOR_DAYS)
    # (plain pitch's ETag, media) -> the pitch led by these fixes (a RenderedPitch)
    rendered: dict[tuple[str, str], Any] = field(default_factory=dict)


class PitchCache:
    MAX_PRODUCTS = 5_000
    MAX_VARIANTS = 64  # rendered variants kept per product (audience × format × context)
    MAX_LOCALES = 64  # requested locales resolved per product (any BCP 47 tag may be asked)
    MAX_LEADS = 5_000  # (product, account) leads kept (most are empty: nothing fixed)
    MAX_LEAD_VARIANTS = 4  # rendered pitches kept per lead with fixes (locale × format × context)

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
        self._leads: OrderedDict[tuple[str, str], Lead] = OrderedDict()
        self.leads_generation = 0  # bumped whenever leads are dropped

    def get_lead(self, product_key: str, account: str) -> Lead | None:
        return self._leads.get((product_key, account))

    def put_lead(self, product_key: str, account: str, lead: Lead, generation: int) -> None:
        if generation != self.leads_generation or (self.requires_listener and not self.listening):
            return  # a write committed while loading, or deaf to other replicas: read through
        self._leads[(product_key, account)] = lead
        if len(self._leads) > self.MAX_LEADS:
            self._leads.popitem(last=False)

    def invalidate_leads(self) -> None:
        self.leads_generation += 1
        self._leads.clear()

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

    # What the read cache sees written (service/readcache.py `watch`): leads read these tables.
    def committing(self, tables: set[str]) -> None:
        if not tables.isdisjoint(LEAD_TABLES):
            self.invalidate_leads()

    committed = committing  # and again once the commit is done: a lead read meanwhile is refused

    def invalidate_all(self) -> None:
        self.invalidate()

    def invalidate(self, product_keys: set[str] | None = None) -> None:
        self.generation += 1
        if product_keys is None:
            self._products.clear()
            self.invalidate_leads()  # everything (e.g. the listener was away): leads too
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
