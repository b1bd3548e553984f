"""A Server-Sent Events client for tests, driving the ASGI app directly.

httpx's ASGITransport runs an app to its end before it returns a response, and a stream has
no end: this drives the whole app (every middleware included) with its own `receive` and
`send`, hands over frames as they are sent, and disconnects like a client closing the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Frame:
    """One SSE block: its fields (the last of each) and its comment lines."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    retry: str | None = None
    comments: list[str] = field(default_factory=list)


def parse_block(block: str) -> Frame:
    frame = Frame()
    data: list[str] = []
    for line in block.split("\n"):
        if line.startswith(":"):
            frame.comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("id", "event", "retry"):
            setattr(frame, name, value)
    frame.data = "\n".join(data) if data else None
    return frame


class Stream:
    """`async with Stream(app, "/api/v1/me/events", headers) as s:` then `s.status`,
    `s.headers`, `await s.next_frame()`; leaving the block disconnects."""

    def __init__(self, app: Any, url: str, headers: dict[str, str] | None = None) -> None:
        self.app = app
        parts = urlsplit(url)
        self.path, self.query = parts.path, parts.query
        self.request_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""  # what was sent but not handed over as frames yet
        self.ended = False
        self._started = asyncio.Event()
        self._more = asyncio.Event()
        self._disconnect = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Stream:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": self.query.encode(),
            "root_path": "",
            "headers": [(b"host", b"testserver"), *self.request_headers],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        self._task = asyncio.create_task(self.app(scope, self._receive, self._send))
        self._task.add_done_callback(lambda _t: self._finish())
        await asyncio.wait_for(self._started.wait(), 10)
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Disconnects and waits for the app to notice (it must, promptly)."""
        self._disconnect.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 5)

    def _finish(self) -> None:
        self.ended = True
        self._started.set()
        self._more.set()

    async def _receive(self) -> dict[str, Any]:
        if not getattr(self, "_sent_request", False):
            self._sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if self._disconnect.is_set():
            return  # as uvicorn does for ASGI 2.3: what is sent after a disconnect goes nowhere
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            self._started.set()
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                self.ended = True
            self._more.set()

    async def next_frame(self, within: float = 5.0) -> Frame:
        """The next complete block; TimeoutError when none comes in time, EOFError at the end."""
        async with asyncio.timeout(within):
            while b"\n\n" not in self.body:
                if self.ended:
                    raise EOFError(self.body.decode())
                self._more.clear()
                await self._more.wait()
        block, _, self.body = self.body.partition(b"\n\n")
        return parse_block(block.decode())

    async def next_event(self, within: float = 5.0) -> Frame:
        """The next frame that is not only a comment or a `retry:`."""
        while True:
            frame = await self.next_frame(within)
            if frame.event is not None or frame.data is not None:
                return frame

    async def nothing_within(self, seconds: float) -> bool:
        """True when no event frame (comments aside) arrives within `seconds`."""
        with contextlib.suppress(TimeoutError):
            await self.next_event(seconds)
            return False
        return True

    async def text(self) -> str:
        """The whole body of a response that ends (a refusal)."""
        async with asyncio.timeout(5):
            while not self.ended:
                self._more.clear()
                await self._more.wait()
        return self.body.decode()
