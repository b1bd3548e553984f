"""Approving content (briefs and messages alike): a launch time, and publishing over evidence
that has expired only with a recorded reason.

A leaf both domains use: it imports no domain. Four eyes itself stays in each domain's
policies (`wrote_this_version`): who wrote a version is theirs to know.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from service.errors import Conflict, Invalid, field_error
from service.fields import InputModel


class Change(StrEnum):
    """How much a new version changes: a substantive one asks people to re-acknowledge (briefs)
    and to review again; a minor one is a fix. One value set for briefs and messages."""

    SUBSTANTIVE = "substantive"
    MINOR = "minor"


class Revise(InputModel):
    """Opening the next version of a brief or a message."""

    change: Change = Change.SUBSTANTIVE


class ExpiredEvidenceOverride(InputModel):
    """Publish although some cited evidence is past its verify-by date, saying why."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Approval(InputModel):
    """The approving step's options; an empty body publishes now."""

    publish_at: AwareDatetime | None = Field(
        default=None,
        description="Go live at this time (RFC 3339 with an offset, in the future): the content is "
        "`scheduled` until then; the pitch switches and the events fire then.",
    )
    override_expired_evidence: ExpiredEvidenceOverride | None = Field(
        default=None,
        description="Needed to approve content citing expired evidence (else 409 listing the ids); "
        "recorded on the version.",
    )


class ExpiredEvidenceOverrideRead(BaseModel):
    """Who approved despite expired evidence, when, why, and which items were expired."""

    reason: str
    evidence_ids: list[uuid.UUID]
    by: uuid.UUID | None
    at: datetime


def launch_time(approval: Approval, now: datetime) -> datetime | None:
    """When approved content goes live: None for now; a `publish_at` not in the future is a 422."""
    if approval.publish_at is None:
        return None
    if approval.publish_at <= now:
        raise Invalid(
            "publish_at must be in the future; omit it to publish now.",
            errors=[field_error("publish_at", "must be in the future")],
        )
    return approval.publish_at


def expired_evidence_override(
    approval: Approval,
    expired: Sequence[uuid.UUID],
    *,
    approver: uuid.UUID | None,
    now: datetime,
) -> dict[str, Any] | None:
    """What to record for approving over `expired` cited evidence: None when nothing cited is
    expired; a 409 listing the ids when something is and no override (with a reason) was given."""
    if not expired:
        return None
    ids = [str(e) for e in expired]
    if approval.override_expired_evidence is None:
        raise Conflict(
            f"Cited evidence has expired ({', '.join(ids)}): re-verify or replace it, or approve with "
            '{"override_expired_evidence": {"reason": "..."}}.',
            expired_evidence_ids=ids,
        )
    return {
        "reason": approval.override_expired_evidence.reason,
        "evidence_ids": ids,
        "by": str(approver) if approver else None,
        "at": now.isoformat(),
    }


def expired_ids(items: Iterable[Any]) -> list[uuid.UUID]:
    """The ids of the items (evidence reads) that are expired, in order."""
    return [item.id for item in items if item.expired]
