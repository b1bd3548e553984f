"""Chat posts: Slack incoming webhooks and Microsoft Teams workflow webhooks.

A destination's URL is a secret an admin gave CueCard, and it is called from inside the
network: it goes through the webhooks' SSRF guard (service/webhooks/ssrf.py), which refuses at
connect time any address that is not public unless its host is in CUECARD_WEBHOOK_ALLOW_HOSTS.
A 2xx answer means posted; anything else is retried (a 4xx other than 408 and 429 is final).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from service.notifications.channels import Outcome
from service.notifications.render import ChatMessage
from service.notifications.schemas import ChatKind
from service.webhooks.ssrf import deliver

_ANSWER_IN_ERROR = 200


def _slack_escaped(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: ChatMessage) -> dict[str, Any]:
    """`text` for notifications and clients without blocks; one section with the link."""
    lines = [_slack_escaped(line) for line in message.text.splitlines() if line.strip() != message.link]
    body = "\n".join(lines)
    if message.link:
        body += f"\n<{message.link}|{_slack_escaped(message.link)}>"
    return {
        # Shown in notifications and by clients without blocks; Slack parses it the same way.
        "text": _slack_escaped(message.text),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}],
        "unfurl_links": False,
    }


def teams_payload(message: ChatMessage, *, open_label: str) -> dict[str, Any]:
    """A message with one Adaptive Card (what a Teams workflow's "post card" step takes)."""
    rest = [line for line in message.text.splitlines() if line.strip() and line.strip() != message.link]
    if rest and rest[0] == message.title:
        rest = rest[1:]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "wrap": True}
        ]
        + [{"type": "TextBlock", "text": line, "wrap": True} for line in rest],
    }
    if message.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": open_label, "url": message.link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def payload(kind: str, message: ChatMessage, *, open_label: str) -> bytes:
    body = (
        slack_payload(message)
        if kind == ChatKind.SLACK.value
        else teams_payload(message, open_label=open_label)
    )
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def post(http: httpx.AsyncClient, url: str, content: bytes, *, deadline_seconds: float) -> Outcome:
    """POSTs the payload through the guarded client; never raises for the receiver or network."""
    result = await deliver(http, url, content=content, headers={}, deadline_seconds=deadline_seconds)
    if result.ok:
        return Outcome(True)
    if result.failure is not None:
        return Outcome(False, result.error or result.failure, permanent=result.failure == "refused")
    answer = result.body.decode("utf-8", errors="replace").strip()[:_ANSWER_IN_ERROR]
    status = result.status_code or 0
    permanent = 400 <= status < 500 and status not in (408, 425, 429)
    return Outcome(False, f"HTTP {status}" + (f": {answer}" if answer else ""), permanent=permanent)
