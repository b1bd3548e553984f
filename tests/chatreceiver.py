"""A loopback chat receiver for the suite (Slack / Teams incoming webhooks stand-in): a minimal
HTTP/1.1 server on 127.0.0.1 that keeps every POST and answers as scripted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ChatReceiver:
    port: int = 0
    posts: list[Post] = field(default_factory=list)
    # Per path: the status to answer every post with (200 unless named).
    status: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Post]:
        return [p for p in self.posts if p.path == path]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            first, *lines = head.split("\r\n")
            _method, path, _version = first.split(" ")
            headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.posts.append(Post(path, headers, body))
            status = self.status.get(path, 200)
            answer = b"ok" if status < 300 else b"receiver says no"
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-length: {len(answer)}\r\nconnection: close\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def chat_receiver() -> AsyncIterator[ChatReceiver]:
    """Serves on 127.0.0.1 (a free port) for the block; as a fixture: `async with` it and yield."""
    got = ChatReceiver()
    server = await asyncio.start_server(got.handle, "127.0.0.1", 0)
    got.port = server.sockets[0].getsockname()[1]
    try:
        yield got
    finally:
        server.close()
        await server.wait_closed()
