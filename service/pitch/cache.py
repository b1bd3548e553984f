"""The in-process cache of assembled pitches, invalidated on commit and across replicas.

Reads never rebuild joins: a miss loads the stored documents of one product (one indexed
query); a hit touches no database. Writes that change a pitch mark the product in the
session (`mark_changed`); after the commit this process drops its entry, and on PostgreSQL
the same transaction's NOTIFY tells every other replica to drop theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from service.logging import get_logger

log = get_logger("cuecard.pitch")
CHANNEL = "cuecard_pitch"
_PENDING = "pitch_changed"
_CACHE = "pitch_cache"


@dataclass
class ProductPitches:
    """Every published locale of one product, as stored."""

    documents: dict[str, dict[str, Any]]  # locale -> {"revision", "document"}
    rendered: OrderedDict[tuple, tuple[bytes, str]] = field(default_factory=OrderedDict)


class PitchCache:
    MAX_PRODUCTS = 5_000
    MAX_VARIANTS = 64  # rendered variants kept per product (audience × format × context)

    def __init__(self, *, requires_listener: bool = False) -> None:
        self._products: OrderedDict[str, ProductPitches] = OrderedDict()
        self.generation = 0  # bumped on every invalidation; a load started earlier is not stored
        # With several replicas, only cache while NOTIFYs can reach us (see PitchListener).
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


class PitchListener:
    """LISTENs on PostgreSQL for other replicas' pitch changes; reconnects when dropped."""

    def __init__(self, dsn: str, cache: PitchCache) -> None:
        self.dsn = dsn
        self.cache = cache
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pitch-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.cache.invalidate({payload} if payload else None)

    async def _run(self) -> None:
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self.dsn, timeout=5)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, self._on_notify)
                self.cache.invalidate()  # whatever was missed while disconnected
                self.cache.listening = True
                self.connected.set()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down: keep serving, retry shortly
                log.warning("pitch_listener_unavailable", error=type(exc).__name__)
            finally:
                self.cache.listening = False
                self.connected.clear()
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            # While disconnected nothing tells us about changes: serve nothing stale.
            self.cache.invalidate()
            await asyncio.sleep(1)


def asyncpg_dsn(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
