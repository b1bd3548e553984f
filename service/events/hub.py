"""The process's event hub: what live streams wait on.

It holds one number, the newest `seq` this process knows to be committed, and wakes every
waiting stream when it grows. It holds no events and nothing per client: each stream reads
its own next batch from the outbox by `seq`, so a slow client costs its own cursor and
nothing else (a per-client queue would grow without bound while that client stalls).

The newest `seq` arrives three ways: `published(seq)` in the process that sequenced (the
API's embedded sequencer on SQLite), `on_notify(payload)` from the PostgreSQL LISTEN
connection (another replica's sequencer: service/listener.py), and a poll of the outbox
every few seconds, frequent while nothing is listening, rare as a safety net while something
is. `close()` ends every stream (server shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.events import repository
from service.logging import get_logger

log = get_logger("cuecard.events.hub")


_hubs: weakref.WeakSet[EventHub] = weakref.WeakSet()


def close_all() -> None:
    """Ends every live stream in this process, now: for the server's exit signal. uvicorn waits
    for open responses (up to its graceful-shutdown timeout) before the app's lifespan shutdown
    runs, so a stream the lifespan closes would hold every deploy for that long."""
    for hub in list(_hubs):
        hub.close()


class EventHub:
    """Implements the listener's NotifiedCache protocol (service/listener.py)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        poll_seconds: float = 2.0,
        listening_poll_seconds: float = 30.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.newest = 0
        self.listening = False
        self.closing = False
        # Polled this often while no LISTEN connection tells us of commits; while one does,
        # only as a safety net for a notice lost in between.
        self.poll_seconds = poll_seconds
        self.listening_poll_seconds = listening_poll_seconds
        self.waiting = 0  # how many streams wait now: a number, not a list of them
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None
        self._polled_at = 0.0
        _hubs.add(self)

    # --- what tells the hub of commits ---------------------------------------------------------

    def published(self, seq: int) -> None:
        """`seq` and every one below it are committed: wake the streams if it is news."""
        if seq > self.newest:
            self.newest = seq
            self._wake_all()

    def on_notify(self, payload: str) -> None:
        """Another replica's sequencer committed up to the `seq` in `payload`."""
        with contextlib.suppress(ValueError):
            self.published(int(payload))

    def invalidate_all(self) -> None:
        """Notices may have been missed: let every stream look at the outbox again."""
        self._polled_at = 0.0
        self._wake_all()

    def close(self) -> None:
        """Ends every stream at its next wake-up, which this brings about now (server shutdown).
        Safe to call from a signal handler or another thread."""
        self.closing = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        # One Event per generation: set wakes whoever waits on it, the next waiters get a new one.
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    # --- what streams call -----------------------------------------------------------------------

    async def wait(self, after: int, within: float) -> bool:
        """Waits until a `seq` above `after` is known, the hub closes, or `within` seconds pass;
        True when there may be something to read."""
        if self.newest > after or self.closing:
            return True
        self._loop = asyncio.get_running_loop()
        self._ensure_poller()
        wake = self._wake
        self.waiting += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), within)
        finally:
            self.waiting -= 1
        return self.newest > after or self.closing

    async def refresh(self) -> int:
        """The newest `seq` in the outbox (which the hub then knows)."""
        async with self.sessionmaker() as session:
            newest = await repository.newest_seq(session)
        self.published(newest)
        return newest

    def _ensure_poller(self) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="event-hub-poll")

    async def _poll(self) -> None:
        """Runs while streams wait: one query per interval for the whole process."""
        while not self.closing and self.waiting:
            interval = self.listening_poll_seconds if self.listening else self.poll_seconds
            now = time.monotonic()
            if now - self._polled_at >= interval:
                self._polled_at = now
                try:
                    await self.refresh()
                except Exception as exc:  # the database is down: the streams' own reads will say so
                    log.warning("event_hub_poll_failed", error=type(exc).__name__)
            await asyncio.sleep(min(interval, 1.0))

    async def aclose(self) -> None:
        """`close()`, and stops the poll (lifespan shutdown)."""
        self.close()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller


def hub_for(app: Any) -> EventHub:
    """The app's hub (`app.state.event_hub`), made on first use."""
    hub: EventHub | None = getattr(app.state, "event_hub", None)
    if hub is None:
        hub = app.state.event_hub = EventHub(app.state.sessionmaker)
    return hub
