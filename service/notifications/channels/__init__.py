"""Where notifications leave CueCard: an SMTP server (email.py) and chat webhooks (chat.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """What one send did: taken (`ok`), or why not, and whether trying again could help."""

    ok: bool
    error: str | None = None
    # A refusal that will not change (a 5xx SMTP answer to the recipient, a 4xx from a chat
    # receiver other than 408/429): failed at once rather than retried for a day.
    permanent: bool = False
