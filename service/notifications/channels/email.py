"""E-mail over SMTP (aiosmtplib): one multipart/alternative message (text and HTML) per send.

`CUECARD_SMTP_URL` is `smtp://[user:password@]host[:port]` (plain, port 25), with
`?starttls=true` to require an upgrade to TLS (port 587 by default), or `smtps://…` for TLS
from the first byte (port 465). User and password are percent-decoded.
"""

from __future__ import annotations

import asyncio
import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from service.notifications.channels import Outcome

_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """The server an `smtp://` or `smtps://` URL names; ValueError for anything else."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("CUECARD_SMTP_URL is smtp://[user:password@]host[:port] or smtps://…")
        query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        start_tls = not implicit and query.get("starttls", "false") in _TRUE
        default_port = 465 if implicit else 587 if start_tls else 25
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=start_tls,
        )


def describe(smtp_url: str | None, mail_from: str | None) -> str:
    """What start-up says about e-mail (never the password)."""
    if not smtp_url:
        return "e-mail is off (CUECARD_SMTP_URL not set)"
    server = SmtpServer.parse(smtp_url)
    security = "TLS" if server.use_tls else "STARTTLS" if server.start_tls else "no TLS"
    return f"e-mail on: {server.host}:{server.port} ({security}) from {mail_from}"


def _address(display_name: str | None, addr: str) -> Address | str:
    try:
        return Address(display_name=display_name or "", addr_spec=addr)
    except (ValueError, IndexError):  # an address the parser will not take apart: as it is
        return addr


def build_message(
    *,
    to: str,
    to_name: str | None,
    sender: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    unsubscribe_url: str,
    date: datetime,
) -> EmailMessage:
    """A UTF-8 multipart/alternative message; headers with Japanese are RFC 2047 encoded."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = _address(to_name, to)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    # Where a mail client's "unsubscribe" goes: the person's notification settings. Not
    # one-click (RFC 8058): that page needs a sign-in, so no List-Unsubscribe-Post.
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    # Autoresponders (out of office) should not answer a notification.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


async def send(server: SmtpServer, message: EmailMessage, *, deadline_seconds: float) -> Outcome:
    """Hands the message to the SMTP server; never raises for what the server or network does."""
    try:
        # The whole exchange, however slowly a server drips, not each read alone.
        async with asyncio.timeout(deadline_seconds):
            await aiosmtplib.send(
                message,
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.use_tls,
                start_tls=server.start_tls,
                timeout=deadline_seconds,
            )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        return Outcome(False, f"SMTP refused the recipient: {exc}", permanent=all(c >= 500 for c in codes))
    except aiosmtplib.SMTPResponseException as exc:
        # Retried even when 5xx: a refused sender or login is the operator's to fix, and then
        # what waits goes out.
        return Outcome(False, f"SMTP {exc.code}: {exc.message}")
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}")
    return Outcome(True)
