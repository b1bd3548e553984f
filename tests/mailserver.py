"""A loopback SMTP server for the suite (aiosmtpd on 127.0.0.1, a free port, this event loop):
it keeps every message it is handed, parsed, and can be told to refuse the next ones."""

from __future__ import annotations

import asyncio
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded text of the `text/<subtype>` part."""
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                return str(part.get_content())
        raise AssertionError(f"no text/{subtype} part")


@dataclass
class MailServer:
    port: int = 0
    messages: list[Received] = field(default_factory=list)
    # Answers to give DATA instead of accepting, in turn (e.g. "451 4.3.0 try again later").
    refusals: list[str] = field(default_factory=list)
    # Recipients answered "550 no such user".
    unknown: set[str] = field(default_factory=set)
    # Accepted (login, password) when the server asks for a login; None: no AUTH offered.
    credentials: tuple[str, str] | None = None
    logins: list[str] = field(default_factory=list)

    def url(self, **query: str) -> str:
        tail = "&".join(f"{k}={v}" for k, v in query.items())
        return f"smtp://127.0.0.1:{self.port}" + (f"?{tail}" if tail else "")

    async def handle_RCPT(
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        if address in self.unknown:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        if self.refusals:
            return self.refusals.pop(0)
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), raw, message))
        return "250 OK"

    def authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self.credentials is not None:
            login, password = data.login.decode(), data.password.decode()
            if (login, password) == self.credentials:
                self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@asynccontextmanager
async def smtp_server() -> AsyncIterator[MailServer]:
    """Serves on 127.0.0.1 (a free port) for the block; as a fixture: `async with` it and yield."""
    got = MailServer()

    def protocol() -> SMTP:
        return SMTP(
            got,
            hostname="mail.test",
            enable_SMTPUTF8=True,
            authenticator=got.authenticate if got.credentials else None,
            auth_require_tls=False,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, "127.0.0.1", 0)
    got.port = server.sockets[0].getsockname()[1]
    try:
        yield got
    finally:
        server.close()
        await server.wait_closed()
