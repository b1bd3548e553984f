"""Whether cited evidence is past its verify-by date: pure functions of the items and a day.

A leaf of the evidence domain (no services imported), so that what shows evidence (briefs,
messages, the pitch) can judge it without depending on the evidence use cases, and those
use cases can in turn re-derive what shows it (`service.pitch.projection`) without a cycle.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from service.db import utcnow
from service.evidence.models import Evidence
from service.evidence.schemas import EvidenceRead, Freshness


def today() -> date:
    return utcnow().date()


def is_expired(verify_by: date | None, on: date | None = None) -> bool:
    return verify_by is not None and verify_by < (on or today())


def freshness(items: Iterable[EvidenceRead | Evidence | dict[str, Any]], on: date | None = None) -> Freshness:
    """Stale while any cited item is past its verify-by date."""
    expired = []
    for item in items:
        verify_by = item.get("verify_by") if isinstance(item, dict) else item.verify_by
        if isinstance(verify_by, str):
            verify_by = date.fromisoformat(verify_by)
        if is_expired(verify_by, on):
            expired.append(uuid.UUID(str(item["id"] if isinstance(item, dict) else item.id)))
    return Freshness(status="stale" if expired else "fresh", expired=expired)
