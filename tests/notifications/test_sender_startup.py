"""Start-up: without SMTP CueCard runs and says e-mail is off; SMTP without a public URL or a
sender is refused, by the settings and by the `cuecard` command (a clear line, exit 2)."""

from __future__ import annotations

import asyncio
import signal

import pytest
from pydantic import ValidationError

from service.config import Settings
from service.notifications.channels.email import SmtpServer, describe
from tests.live import free_port
from tests.test_cli import CUECARD, run


def test_smtp_without_a_public_url_or_a_sender_is_refused() -> None:
    with pytest.raises(ValidationError, match="CUECARD_SMTP_URL needs CUECARD_PUBLIC_URL"):
        Settings(smtp_url="smtp://127.0.0.1:25", mail_from="cuecard@example.com")
    with pytest.raises(ValidationError, match="CUECARD_MAIL_FROM"):
        Settings(smtp_url="smtp://127.0.0.1:25", public_url="https://cuecard.example.com")
    with pytest.raises(ValidationError, match="smtp://"):
        Settings(smtp_url="https://mail.example.com", public_url="https://c.example.com", mail_from="a@b.c")
    ok = Settings(smtp_url="smtps://mail.example.com", public_url="https://c.example.com", mail_from="a@b.c")
    assert ok.smtp_url == "smtps://mail.example.com"


def test_smtp_urls_name_the_server_and_its_security() -> None:
    assert SmtpServer.parse("smtp://mail.example.com") == SmtpServer(
        "mail.example.com", 25, None, None, False, False
    )
    assert SmtpServer.parse("smtp://u%40x:p%3Aw@mail.example.com?starttls=true") == SmtpServer(
        "mail.example.com", 587, "u@x", "p:w", False, True
    )
    assert SmtpServer.parse("smtps://mail.example.com:2465") == SmtpServer(
        "mail.example.com", 2465, None, None, True, False
    )
    assert describe(None, None) == "e-mail is off (CUECARD_SMTP_URL not set)"
    line = describe("smtp://user:secret@mail.example.com?starttls=true", "CueCard <c@example.com>")
    assert line == "e-mail on: mail.example.com:587 (STARTTLS) from CueCard <c@example.com>"
    assert "secret" not in line


async def test_the_cli_refuses_smtp_without_a_public_url(cli_env) -> None:
    env = cli_env | {"CUECARD_SMTP_URL": "smtp://127.0.0.1:2525", "CUECARD_MAIL_FROM": "cuecard@example.com"}
    code, out, err = await run(env, "serve", "--port", str(free_port()))
    assert code == 2 and out == ""
    assert err.strip() == (
        "configuration error: CUECARD_SMTP_URL needs CUECARD_PUBLIC_URL (e-mail links are absolute) "
        "and CUECARD_MAIL_FROM"
    )


async def test_serve_without_smtp_says_e_mail_is_off(cli_env) -> None:
    process = await asyncio.create_subprocess_exec(
        CUECARD, "serve", "--port", str(free_port()), env=cli_env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        seen: list[str] = []
        async with asyncio.timeout(60):
            while not any("e-mail is off" in line for line in seen):
                line = (await process.stderr.readline()).decode()
                assert line, f"serve ended before saying so: {seen}"
                seen.append(line)
        assert "e-mail is off (CUECARD_SMTP_URL not set)" in "".join(seen)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
