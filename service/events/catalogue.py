"""Every event CueCard emits: its type, version, meaning, who may read it and an example.

The one source of the catalogue: `emit` refuses a type that is not here, docs/events.md is
generated from it (`python -m service.events.docs`) and tests/test_events.py checks both. The
catalogue is additive: a new type or a new field in `data` is not a breaking change; a change
that is (a field renamed, removed or retyped) bumps the type's version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.auth.principal import SCOPES, expand_scopes


class EventType(StrEnum):
    BRIEF_SUBMITTED = "brief.submitted"
    BRIEF_PUBLISHED = "brief.published"
    BRIEF_SCHEDULED = "brief.scheduled"
    BRIEF_SENT_BACK = "brief.sent_back"
    PITCH_CHANGED = "pitch.changed"
    MESSAGE_SUBMITTED = "message.submitted"
    MESSAGE_SENT_BACK = "message.sent_back"
    MESSAGE_PUBLISHED = "message.published"
    MESSAGE_WITHDRAWN = "message.withdrawn"
    MESSAGE_EXPIRED = "message.expired"
    EVIDENCE_EXPIRING = "evidence.expiring"
    EVIDENCE_EXPIRED = "evidence.expired"
    CAMPAIGN_ACTIVATED = "campaign.activated"
    CAMPAIGN_STEP_DUE = "campaign.step_due"
    CAMPAIGN_STEP_ATTENDED = "campaign.step_attended"
    CAMPAIGN_PERSON_OVERDUE = "campaign.person_overdue"
    CAMPAIGN_REMINDER_DUE = "campaign.reminder_due"
    ACKNOWLEDGEMENT_RECORDED = "acknowledgement.recorded"
    CHECK_SUBMITTED = "check.submitted"
    CHECK_GRADED = "check.graded"
    CHECK_WAITING = "check.waiting"
    FEEDBACK_INGESTED = "feedback.ingested"
    FEEDBACK_TRANSITIONED = "feedback.transitioned"
    FEEDBACK_OVERDUE = "feedback.overdue"
    THEME_TRANSITIONED = "theme.transitioned"
    PERSON_ONBOARDED = "person.onboarded"
    PERSON_LEFT = "person.left"
    WEBHOOK_PING = "webhook.ping"


@dataclass(frozen=True)
class EventSpec:
    """What a receiver is promised about one event type."""

    version: int
    description: str
    # The scope a service client needs to read (subscribe to) it; None: admins only.
    # Admins may subscribe to every type.
    scope: str | None
    example: dict[str, Any] = field(default_factory=dict)
    # Whether CueCard emits it today (False: reserved for the issue that needs it).
    emitted: bool = True


_BRIEF = "0d5f6c1e-5a0b-4c55-9c3e-2f1b7a9d4e01"
_LINEAGE = "6b0e7c1a-33f2-4f0e-8a77-1c5d2b9e0f10"
_PERSON = "8a1d2c3b-4e5f-4a6b-9c7d-0e1f2a3b4c5d"
_EDITOR = "2c4e6a8b-0d1f-4e3a-8b5c-7d9e1f3a5b7c"
_CAMPAIGN = "4f3e2d1c-0b9a-4877-8665-5a4b3c2d1e0f"
_MESSAGE = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"
_EVIDENCE = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5e"
_FEEDBACK = "7c6b5a49-3827-4165-9f4e-3d2c1b0a9f8e"
_THEME = "5d4c3b2a-1908-4776-8e5d-4c3b2a190817"
_CHECK = "3b2a1908-f7e6-4d5c-9b3a-2918f7e6d5c4"
_ACK = "e1d2c3b4-a596-4877-9a6b-5c4d3e2f1a0b"
_DEPARTMENT = "c0ffee00-1234-4567-89ab-cdef01234567"
_STEP = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
_ATTENDANCE = "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c"

CATALOGUE: dict[EventType, EventSpec] = {
    EventType.BRIEF_SUBMITTED: EventSpec(
        1,
        "A draft brief was sent to review (four eyes: someone else approves it).",
        None,
        {
            "brief_id": _BRIEF,
            "lineage_id": _LINEAGE,
            "product_key": "ledger-sync",
            "locale": "en",
            "version": 2,
            "title": "Ledger Sync closes the books two days sooner",
            "submitted_by": _EDITOR,
            "submitted_at": "2026-12-01T09:30:00Z",
        },
    ),
    EventType.BRIEF_PUBLISHED: EventSpec(
        1,
        "A brief version is now the product's published brief in its locale: when it was approved, "
        "or, approved with `publish_at`, when that time came (`published_by` is the approver).",
        "briefs:read",
        {
            "brief_id": _BRIEF,
            "lineage_id": _LINEAGE,
            "product_key": "ledger-sync",
            "locale": "en",
            "version": 2,
            "title": "Ledger Sync closes the books two days sooner",
            "published_at": "2026-12-01T10:00:00Z",
            "published_by": _PERSON,
            "supersedes": "11111111-2222-4333-8444-555555555555",
        },
    ),
    EventType.BRIEF_SCHEDULED: EventSpec(
        1,
        "A brief version was approved to publish at a later time.",
        None,
        {
            "brief_id": _BRIEF,
            "product_key": "ledger-sync",
            "locale": "en",
            "version": 2,
            "publish_at": "2026-12-07T08:00:00Z",
        },
        emitted=False,
    ),
    EventType.BRIEF_SENT_BACK: EventSpec(
        1,
        "A brief in review was sent back to draft with the reviewer's comment.",
        None,
        {
            "brief_id": _BRIEF,
            "lineage_id": _LINEAGE,
            "product_key": "ledger-sync",
            "locale": "en",
            "version": 2,
            "title": "Ledger Sync closes the books two days sooner",
            "comment": "Add a customer case to the evidence.",
            "sent_back_by": _PERSON,
            "sent_back_at": "2026-12-01T09:45:00Z",
        },
    ),
    EventType.MESSAGE_SUBMITTED: EventSpec(
        1,
        "A draft message was sent to review (four eyes: neither its author nor its last editor approves it).",
        None,
        {
            "message_id": _MESSAGE,
            "lineage_id": _LINEAGE,
            "product_key": "ledger-sync",
            "locale": "ja",
            "version": 2,
            "title": "請求書の入力が週3時間減ります",
            "submitted_by": _EDITOR,
            "submitted_at": "2026-12-01T09:30:00Z",
        },
    ),
    EventType.MESSAGE_SENT_BACK: EventSpec(
        1,
        "A message in review was sent back to draft with the reviewer's comment.",
        None,
        {
            "message_id": _MESSAGE,
            "lineage_id": _LINEAGE,
            "product_key": "ledger-sync",
            "locale": "ja",
            "version": 2,
            "title": "請求書の入力が週3時間減ります",
            "comment": "数字の出典を添えてください。",
            "sent_back_by": _PERSON,
            "sent_back_at": "2026-12-01T09:45:00Z",
        },
    ),
    EventType.PITCH_CHANGED: EventSpec(
        1,
        "What the current pitch of a product in one locale shows changed (published, re-assembled "
        "after a message is published, withdrawn or expires or evidence changes, or withdrawn); one "
        "per product and locale, in order. "
        "`etag` is what a plain JSON read (no audience, segment or competitor) answered with then.",
        "pitch:read",
        {
            "product_key": "ledger-sync",
            "locale": "en",
            "change": "updated",
            "brief_id": _BRIEF,
            "version": 2,
            "revision": 3,
            "etag": '"5f0c2a9d41b7e3c86a1d0f4e"',
        },
    ),
    EventType.MESSAGE_PUBLISHED: EventSpec(
        1,
        "A message version (key message, talking point, FAQ, value translation) was published: when "
        "it was approved, or, approved with `publish_at`, when that time came.",
        "briefs:read",
        {
            "message_id": _MESSAGE,
            "kind": "key_message",
            "title": "Close the books two days sooner",
            "product_key": "ledger-sync",
            "brief_id": _BRIEF,
            "locale": "en",
            "audiences": ["all"],
            "published_at": "2026-12-01T10:05:00Z",
        },
    ),
    EventType.MESSAGE_WITHDRAWN: EventSpec(
        1,
        "A published message was withdrawn.",
        "briefs:read",
        {"message_id": _MESSAGE, "product_key": "ledger-sync", "withdrawn_at": "2026-12-03T12:00:00Z"},
        emitted=False,
    ),
    EventType.MESSAGE_EXPIRED: EventSpec(
        1,
        "A published message passed its `expires_at`.",
        "briefs:read",
        {"message_id": _MESSAGE, "product_key": "ledger-sync", "expired_at": "2026-12-31T00:00:00Z"},
        emitted=False,
    ),
    EventType.EVIDENCE_EXPIRING: EventSpec(
        1,
        "Evidence cited by something published is `CUECARD_EVIDENCE_EXPIRING_DAYS` (default 14) days "
        "or fewer from its `verify_by` date; once per item and `verify_by` (from the clock).",
        "briefs:read",
        {
            "evidence_id": _EVIDENCE,
            "claim": "Customers close the books two days sooner",
            "verify_by": "2026-12-15",
            "days_left": 14,
            "owner_id": _EDITOR,
            "product_keys": ["ledger-sync"],
        },
    ),
    EventType.EVIDENCE_EXPIRED: EventSpec(
        1,
        "Evidence cited by something published passed its `verify_by` date unverified: expired from "
        "00:00 UTC the day after; once per item and `verify_by` (from the clock).",
        "briefs:read",
        {
            "evidence_id": _EVIDENCE,
            "claim": "Customers close the books two days sooner",
            "verify_by": "2026-12-15",
            "expired_at": "2026-12-16T00:00:00Z",
            "owner_id": _EDITOR,
            "product_keys": ["ledger-sync"],
        },
    ),
    EventType.CAMPAIGN_ACTIVATED: EventSpec(
        1,
        "A planned campaign started; its audience is enrolled.",
        "campaigns:read",
        {
            "campaign_id": _CAMPAIGN,
            "name": "Ledger Sync launch",
            "kind": "launch",
            "product_key": "ledger-sync",
            "lineage_id": _LINEAGE,
            "enrolled": 42,
            "activated_at": "2026-12-01T11:00:00Z",
        },
    ),
    EventType.CAMPAIGN_STEP_DUE: EventSpec(
        1,
        "A step of an active campaign became due for a person enrolled in it (launch `at`, or "
        "`day_offset` days from the hire date at 00:00 UTC); once per step (its `step_id`: reordering "
        "the steps neither fires one again nor skips one) and person, never retroactively (from the "
        "clock). `step_index` is the step's place in the plan when it fell due.",
        "campaigns:read",
        {
            "campaign_id": _CAMPAIGN,
            "campaign_name": "Ledger Sync launch",
            "kind": "launch",
            "product_key": "ledger-sync",
            "step_id": _STEP,
            "step_index": 0,
            "person_id": _PERSON,
            "due_at": "2026-12-07T09:00:00Z",
            "channel": "chat",
            "title": "Kick-off: what changes for our customers",
            "message_id": _MESSAGE,
            "exercise": None,
        },
    ),
    EventType.CAMPAIGN_STEP_ATTENDED: EventSpec(
        1,
        "A person confirmed attending a briefing step of a campaign they are in (once per step and "
        "person; confirming again emits nothing).",
        "campaigns:read",
        {
            "attendance_id": _ATTENDANCE,
            "campaign_id": _CAMPAIGN,
            "product_key": "ledger-sync",
            "step_id": _STEP,
            "step_index": 0,
            "title": "全社説明会: 何がお客様にとって変わるのか",
            "person_id": _PERSON,
            "attended_at": "2026-12-07T10:30:00Z",
        },
    ),
    EventType.CAMPAIGN_PERSON_OVERDUE: EventSpec(
        1,
        "A person enrolled in an active campaign fell overdue: its last step is due for them (for "
        "onboarding: from their hire date) and they have not passed its check, still so "
        "`CUECARD_REMINDER_AFTER_HOURS` (default 48) later; `due_at` is that time, `state` where they "
        "stand (as `GET /api/v1/campaigns/{id}/people` says). Once per campaign and person (from the clock).",
        "campaigns:read",
        {
            "campaign_id": _CAMPAIGN,
            "person_id": _PERSON,
            "state": "not_acknowledged",
            "due_at": "2026-12-10T09:00:00Z",
        },
    ),
    EventType.CAMPAIGN_REMINDER_DUE: EventSpec(
        1,
        "A person has not acknowledged a campaign step that fell due for them: reminder "
        "`reminder_number` is due, `CUECARD_REMINDER_AFTER_HOURS` (default 48) after the step and "
        "after the previous reminder, at most `CUECARD_REMINDER_MAX` (default 2) times; never once they "
        "acknowledged the campaign's brief version or left its audience (from the clock).",
        "campaigns:read",
        {
            "campaign_id": _CAMPAIGN,
            "campaign_name": "Ledger Sync launch",
            "person_id": _PERSON,
            "step_index": 0,
            "step_id": "0",
            "channel": "chat",
            "title": "Kick-off: what changes for our customers",
            "message_id": _MESSAGE,
            "step_due_at": "2026-12-07T09:00:00Z",
            "reminder_number": 1,
        },
    ),
    EventType.ACKNOWLEDGEMENT_RECORDED: EventSpec(
        1,
        "A person acknowledged reading a campaign's current brief version (also when a check does it).",
        "campaigns:read",
        {
            "acknowledgement_id": _ACK,
            "person_id": _PERSON,
            "campaign_id": _CAMPAIGN,
            "brief_id": _BRIEF,
            "lineage_id": _LINEAGE,
            "version": 2,
        },
    ),
    EventType.CHECK_SUBMITTED: EventSpec(
        1,
        "A person submitted a comprehension check; it waits to be graded.",
        "campaigns:read",
        {
            "check_id": _CHECK,
            "person_id": _PERSON,
            "campaign_id": _CAMPAIGN,
            "brief_id": _BRIEF,
            "version": 2,
            "submitted_at": "2026-12-02T14:00:00Z",
        },
    ),
    EventType.CHECK_GRADED: EventSpec(
        1,
        "A submitted check was graded `passed` or `needs_work`.",
        "campaigns:read",
        {
            "check_id": _CHECK,
            "person_id": _PERSON,
            "campaign_id": _CAMPAIGN,
            "brief_id": _BRIEF,
            "version": 2,
            "grade": "passed",
            "graded_by": _EDITOR,
            "graded_at": "2026-12-02T16:00:00Z",
        },
    ),
    EventType.CHECK_WAITING: EventSpec(
        1,
        "A submitted check has waited `CUECARD_CHECK_WAITING_HOURS` (default 48) for a grade; "
        "once per check (from the clock).",
        "campaigns:read",
        {
            "check_id": _CHECK,
            "person_id": _PERSON,
            "campaign_id": _CAMPAIGN,
            "brief_id": _BRIEF,
            "version": 2,
            "product_key": "ledger-sync",
            "submitted_at": "2026-12-02T14:00:00Z",
            "waiting_hours": 48,
        },
    ),
    EventType.FEEDBACK_INGESTED: EventSpec(
        1,
        "Feedback was filed: one event per batch (or per single filing) that created or changed "
        "items, with counts; not one per item.",
        "feedback:read",
        {
            "created": 118,
            "updated": 3,
            "unchanged": 40,
            "rejected": 2,
            "product_keys": ["ledger-sync"],
            "filed_by_client": "nps-export",
        },
    ),
    EventType.FEEDBACK_TRANSITIONED: EventSpec(
        1,
        "A feedback item moved one stage on (triaged, decided, implemented, announced).",
        "feedback:read",
        {
            "feedback_id": _FEEDBACK,
            "from": "triaged",
            "to": "decided",
            "decision": "build",
            "product_key": "ledger-sync",
            "theme_id": _THEME,
            "message_id": None,
            "actor_id": _EDITOR,
            "at": "2026-12-02T15:00:00Z",
        },
    ),
    EventType.FEEDBACK_OVERDUE: EventSpec(
        1,
        "A feedback item is still in its stage past the stage's due time; once per item and due "
        "time (from the clock).",
        "feedback:read",
        {
            "feedback_id": _FEEDBACK,
            "status": "triaged",
            "stage_due_at": "2026-12-09T15:00:00Z",
            "product_key": "ledger-sync",
            "theme_id": _THEME,
        },
    ),
    EventType.THEME_TRANSITIONED: EventSpec(
        1,
        "A theme's open items were moved on together (`POST /api/v1/themes/{id}/transition`): one "
        "event per theme step, not one per item (each item's step is in its history). `skipped`: open "
        "items that could not take the step from their stage. A stop decision names the drafts it "
        "proposed (`proposals`, else null).",
        "feedback:read",
        {
            "theme_id": _THEME,
            "to": "decided",
            "decision": "stop",
            "moved": 12,
            "skipped": 1,
            "product_key": "ledger-sync",
            "message_id": None,
            "proposals": {"brief_id": _BRIEF, "message_id": _MESSAGE},
            "actor_id": _EDITOR,
            "at": "2026-12-02T15:00:00Z",
        },
    ),
    EventType.PERSON_ONBOARDED: EventSpec(
        1,
        "A person became active: created active, re-activated, or re-provisioned by SCIM.",
        "people:read",
        {
            "person_id": _PERSON,
            "email": "aiko.tanaka@example.com",
            "display_name": "Aiko Tanaka",
            "role": "employee",
            "department_id": _DEPARTMENT,
            "department_key": "sales",
            "manager_id": _EDITOR,
            "hire_date": "2026-12-07",
        },
    ),
    EventType.PERSON_LEFT: EventSpec(
        1,
        "A person was deactivated (an admin, HR push, or SCIM `active: false` / DELETE); their history stays.",
        "people:read",
        {
            "person_id": _PERSON,
            "email": "aiko.tanaka@example.com",
            "department_id": _DEPARTMENT,
            "department_key": "sales",
        },
    ),
    EventType.WEBHOOK_PING: EventSpec(
        1,
        "Sent only to the webhook being tested (`POST /api/v1/webhooks/{id}/test`); never subscribed to.",
        None,
        {"webhook_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"},
    ),
}

if set(CATALOGUE) != set(EventType):  # pragma: no cover - caught at import, by every test
    raise RuntimeError(f"event types without a catalogue entry: {set(EventType) - set(CATALOGUE)}")
if unknown := {spec.scope for spec in CATALOGUE.values()} - {None, *SCOPES}:  # pragma: no cover
    raise RuntimeError(f"catalogue scopes that are not scopes: {unknown}")


def readable_types(scopes: frozenset[str] | set[str], *, admin: bool = False) -> frozenset[EventType]:
    """The event types a caller with these scopes may read (an admin: all of them)."""
    if admin:
        return frozenset(EventType)
    held = expand_scopes(frozenset(scopes))
    return frozenset(t for t, spec in CATALOGUE.items() if spec.scope is not None and spec.scope in held)
