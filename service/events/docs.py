"""docs/events.md, written from the catalogue: `python -m service.events.docs > docs/events.md`.

tests/test_events.py checks that the file is exactly what this renders, so the documented
catalogue cannot drift from the one `emit` enforces."""

from __future__ import annotations

import json

from service.events.catalogue import CATALOGUE, EventType

_HEAD = """# Events

CueCard writes every event to an **outbox** in the same database transaction as the change
that causes it: a change that rolls back emits nothing, a committed one always emits. Webhooks
and live streams deliver from the outbox (at least once: receivers de-duplicate by `id`).

This file is generated from `service/events/catalogue.py` (`python -m service.events.docs >
docs/events.md`); a test fails when the two differ.

## The envelope

Every event has the same shape; `data` depends on the type:

```json
{
  "id": "5b0c8e52-7c1d-4f7e-9b8a-1f2e3d4c5b6a",
  "type": "pitch.changed",
  "version": 1,
  "timestamp": "2026-12-01T10:00:00.123456Z",
  "data": {"product_key": "ledger-sync", "locale": "en", "...": "..."}
}
```

- `id`: the event's UUID, the same on every delivery attempt.
- `type`: one of the types below. `version`: the version of that type's `data`.
- `timestamp`: when the change happened (ISO 8601, UTC, `Z`).
- `data`: ids and what a receiver needs to act without calling back in the common case.
  Ids are UUID strings, instants ISO 8601 UTC with `Z`, dates `YYYY-MM-DD`.

The catalogue is **additive**: new types and new fields in `data` may appear at any time, so
receivers ignore what they do not know. A change that would break a receiver (a field renamed,
removed or retyped) ships as a new `version` of the type.

Order: the outbox numbers events in the order they were written (within one change, the
cause first: `brief.published` before the `pitch.changed` it brings). Events about one product
carry its key, so they can be delivered in order per product (`pitch.changed` never overtakes
an earlier one for the same product). On PostgreSQL a transaction that began earlier may commit
later, so a reader resuming "after position N" must allow for a late arrival just below the
newest position it saw.

## Who may read what

A service client reads (subscribes to) a type when it holds the scope named below; an admin
may subscribe to every type. Types marked *admins only* carry unpublished work.
`webhook.ping` is never subscribed to: it is sent to the one webhook being tested.

| Type | Version | Scope | Emitted |
| --- | --- | --- | --- |
"""


_CLOCK = """## Time that passes

`campaign.step_due`, `evidence.expiring`, `evidence.expired`, `feedback.overdue` and
`check.waiting` are caused by no request: a clock in the worker (`service/events/clock.py`)
looks every few seconds for what fell due and emits it. Each occurrence fires **exactly once**
(also across restarts and with several workers): it is recorded under a unique key in the
transaction of its event, so an event that rolls back is tried again and a second worker that
finds the same occurrence emits nothing. The `timestamp` is when the clock noticed it; `data`
says when it fell due. The rules:

- `campaign.step_due`: for each step of an **active** campaign and each person enrolled in it
  (not left). A launch or reinforcement step falls due at its `at`, for the people enrolled by
  then: someone enrolled after that time gets nothing for it. An onboarding step falls due at
  00:00 UTC on the day `day_offset` days after the person's hire date, for the people enrolled
  by the end of that day: a hire enrolled on their first day still gets day 0, one enrolled
  later does not get the steps of earlier days. Once per campaign, step (`step_index`) and
  person: editing a step that already fired does not fire it again.
- `evidence.expiring` and `evidence.expired`: for evidence cited by a published brief or
  message (what a `briefs:read` reader may see) and not replaced. Expiring from 00:00 UTC
  `CUECARD_EVIDENCE_EXPIRING_DAYS` (default 14) days before `verify_by` until `verify_by`
  itself; expired from 00:00 UTC the day after `verify_by`. Once per item and `verify_by`:
  re-verified to a later date, the item may fire again for that date.
- `feedback.overdue`: an item still in its stage after `stage_due_at`; once per item and due
  time (the next stage's due time is a new occurrence).
- `check.waiting`: a check still `submitted` `CUECARD_CHECK_WAITING_HOURS` (default 48) after
  it was submitted; once per check.

Nothing fires that fell due more than `CUECARD_CLOCK_LOOKBACK_DAYS` (default 7) ago: a new
deployment, or one back from an outage longer than that, does not replay its history
(`evidence.expiring` needs no such bound: it only concerns dates still ahead).
"""


def _scope(scope: str | None) -> str:
    return f"`{scope}`" if scope else "admins only"


def render_markdown() -> str:
    """The whole of docs/events.md."""
    lines = [_HEAD.rstrip("\n")]
    for event_type in EventType:
        spec = CATALOGUE[event_type]
        emitted = "yes" if spec.emitted else "reserved (a later issue emits it)"
        lines.append(
            f"| [`{event_type}`](#{event_type.replace('.', '')}) | {spec.version} | {_scope(spec.scope)} | {emitted} |"
        )
    lines.append("")
    lines.append("## The types")
    for event_type in EventType:
        spec = CATALOGUE[event_type]
        example = {
            "id": "5b0c8e52-7c1d-4f7e-9b8a-1f2e3d4c5b6a",
            "type": str(event_type),
            "version": spec.version,
            "timestamp": "2026-12-01T10:00:00.123456Z",
            "data": spec.example,
        }
        lines += [
            "",
            f"### {event_type}",
            "",
            spec.description,
            "",
            f"Version {spec.version}. Read with {_scope(spec.scope)}."
            + ("" if spec.emitted else " Reserved: listed now, emitted by the issue that needs it."),
            "",
            "```json",
            json.dumps(example, ensure_ascii=False, indent=2),
            "```",
        ]
    lines += ["", _CLOCK.rstrip("\n")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
