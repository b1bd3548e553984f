"""Standard Webhooks signatures (https://www.standardwebhooks.com), made by the public library.

Receivers verify with the same library (`standardwebhooks.Webhook(secret).verify(body,
headers)`, docs/webhooks.md), so what we sign is exactly what they check. Pure functions:
storing secrets and their rotation overlap belongs to the webhooks service.
"""

from __future__ import annotations

import base64
import math
import secrets as random
from collections.abc import Sequence
from datetime import UTC, datetime

import standardwebhooks

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    """Return a fresh signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode("ascii")


def signed_headers(
    secrets: Sequence[str], msg_id: str, timestamp: datetime | int, body: bytes | str
) -> dict[str, str]:
    """Return the `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for a body.

    One `v1,<signature>` per secret, space-separated: while a rotated secret overlaps the new
    one both sign, and a receiver holding either verifies. `msg_id` stays the same across
    retries of one event, so receivers can drop duplicates.
    """
    active = list(dict.fromkeys(secrets))  # a secret listed twice signs once
    if not active:
        raise ValueError("at least one secret is needed to sign a webhook")
    if not msg_id:
        raise ValueError("msg_id must not be empty")
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        seconds = math.floor(timestamp.timestamp())
    else:
        seconds = int(timestamp)
    # The library reads the datetime's wall clock as UTC: hand it a UTC one, whole seconds,
    # so the signed text and the `webhook-timestamp` header carry the same number.
    at = datetime.fromtimestamp(seconds, tz=UTC)
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    signatures = [
        standardwebhooks.Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=text) for secret in active
    ]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": " ".join(signatures),
    }
