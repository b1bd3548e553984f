"""One PostgreSQL LISTEN connection per process, for every cache other replicas invalidate.

A write that changes what a cache holds sends `pg_notify(channel, payload)` in its own
transaction, so the notice goes out only if the change commits. Each process listens here
and hands the payload to the cache subscribed to that channel. While the connection is down
nothing tells us about changes, so every subscribed cache is emptied and told it is deaf
(`listening = False`): caches that need the notices then read through until we are back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import asyncpg
import sqlalchemy as sa

from service.logging import get_logger

log = get_logger("cuecard.listener")


class NotifiedCache(Protocol):
    listening: bool

    def on_notify(self, payload: str) -> None:
        """Drop what `payload` names (another replica committed a change)."""

    def invalidate_all(self) -> None:
        """Drop everything (notices may have been missed)."""


class ChangeListener:
    """LISTENs on PostgreSQL for other replicas' changes; reconnects when dropped."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._caches: dict[str, NotifiedCache] = {}
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def subscribe(self, channel: str, cache: NotifiedCache) -> None:
        if self._task is not None:
            raise RuntimeError("subscribe before start()")
        self._caches[channel] = cache

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        cache = self._caches.get(channel)
        if cache is not None:
            cache.on_notify(payload)

    def _set_listening(self, listening: bool) -> None:
        for cache in self._caches.values():
            cache.invalidate_all()  # whatever was missed while disconnected
            cache.listening = listening

    async def _run(self) -> None:
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self.dsn, timeout=5)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel in self._caches:
                    await connection.add_listener(channel, self._on_notify)
                self._set_listening(True)
                self.connected.set()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down: keep serving, retry shortly
                log.warning("change_listener_unavailable", error=type(exc).__name__)
            finally:
                self.connected.clear()
                # While disconnected nothing tells us about changes: serve nothing stale.
                self._set_listening(False)
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(1)


def asyncpg_dsn(url: sa.URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
