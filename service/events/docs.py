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

Order: within one change, the cause comes first (`brief.published` before the `pitch.changed`
it brings). Once a change has committed, the worker's sequencer numbers its events (`seq`, the
`id:` of a live stream's frames) after every event already numbered, so a reader resuming
"after N" never misses an event whose transaction began earlier and committed later. Events
about one product carry its key, and webhooks deliver them in order per product
(`pitch.changed` never overtakes an earlier one for the same product).

## Who may read what

A service client reads (subscribes to) a type when it holds the scope named below; an admin
may subscribe to every type. Types marked *admins only* carry unpublished work.
`webhook.ping` is never subscribed to: it is sent to the one webhook being tested.

| Type | Version | Scope | Emitted |
| --- | --- | --- | --- |
"""

_STREAMS = r"""
## Live streams (Server-Sent Events)

Two endpoints stream events as they commit, as `text/event-stream`:

- `GET /api/v1/me/events`: a person's own events (people only; service accounts get 403):
  campaign steps due for them and their overdue notices, their acknowledgements and checks
  (`person_id` is theirs), the `pitch.changed`, `brief.published` and withdrawn or expired
  messages of the products their active campaigns are about, `message.published` for those
  products when addressed to their department or to `all`, their campaigns starting
  (`campaign.activated`), and the feedback they filed moving on (`feedback.transitioned`).
  Nothing about another person, nor about a product outside their campaigns.
- `GET /api/v1/pitch/{product_key}/events`: `pitch.changed` of one product, for whoever may
  read its pitch (every person; service clients with `pitch:read`, or `briefs:read`). 403
  without it, 404 for a product that does not exist (one with nothing published yet may be
  watched: its first publish arrives).

Authenticate with the `Authorization: Bearer` header, as every request. A token in the query
string is never read (`?access_token=` is refused as an unknown parameter, 422): URLs end up in
logs. Browsers therefore read streams with `fetch`, not `EventSource` (which cannot send
headers); see the client below.

What the stream sends:

```text
retry: 3000
id: 1041

id: 1042
event: pitch.changed
data: {"id":"5b0c8e52-…","type":"pitch.changed","version":1,"timestamp":"…","data":{…}}

: keep-alive

```

- `retry:` and `id:` first: how long to wait before reconnecting, in milliseconds, and where
  the stream starts; keep that `id` as the last one, so a reconnection before any event arrived
  misses nothing.
- One block per event: `id:` is the event's position in commit order (`seq`), `event:` its
  type, `data:` the envelope above on one line.
- `: keep-alive` comments when nothing was sent for `CUECARD_SSE_HEARTBEAT_SECONDS` (default
  15); one may carry an `id:` without data, when events not meant for this stream moved its
  position on: keep it as the last id, so a reconnection does not read them again (a stream
  that ends may send such an `id:` last).
- With no `Last-Event-ID` the stream starts at "now": only events committed after it.
- Reconnect with `Last-Event-ID: <the last id received>`: the stream resumes right after it,
  with no gap and no duplicate, for as long as events are kept
  (`CUECARD_EVENT_RETENTION_HOURS`, default 72). An id older than the oldest kept event, one
  that is not a number or one ahead of the newest gets `event: reset` (`data:
  {"reason": "expired" | "unparseable" | "unknown"}`, with the `id:` to resume from next time)
  and the stream goes on from now: events were missed, so re-read what you show (the pitch,
  the feed) once.
- A stream ends after `CUECARD_SSE_MAX_STREAM_SECONDS` (default 1800) and when the server
  shuts down: reconnect with `Last-Event-ID` (the token is checked again then).

A browser client (fetch and a stream reader; reconnects with `Last-Event-ID`):

```js
async function follow(url, token, onEvent) {
  let lastId = null;
  let retry = 3000;
  for (;;) {
    try {
      const headers = { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" };
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      const response = await fetch(url, { headers, cache: "no-store" });
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        throw new Error(`refused: ${response.status}`); // do not retry a refusal
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message", data = [], id = null;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue; // keep-alive
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "id") id = text;
            else if (field === "event") type = text;
            else if (field === "data") data.push(text);
            else if (field === "retry" && /^\d+$/.test(text)) retry = Number(text);
          }
          if (id !== null) lastId = id; // also from the first block and keep-alives
          if (data.length) onEvent(type, JSON.parse(data.join("\n"))); // "reset": re-read your view
        }
      }
    } catch (error) {
      if (String(error.message).startsWith("refused")) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, retry));
  }
}

follow("/api/v1/pitch/ledger-sync/events", () => currentToken, (type, event) => {
  if (type === "pitch.changed" || type === "reset") refreshPitch();
});
```

`token` is a function so that a reconnection sends a fresh token.
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

What fired is recorded for as long as it could be found due again, then pruned by the worker
(in batches of at most 5,000 every ten minutes): `feedback.overdue` and `evidence.expired` once
they fell due more than the lookback plus one day ago; `evidence.expiring` once its `verify_by`
is that old; `check.waiting` once it is that old and the check was graded; `campaign.step_due`,
`campaign.reminder_due` and `campaign.person_overdue` once they are that old and the campaign
is completed or cancelled (while it is active an edited step or a corrected hire date could
bring an old one back into the lookback, and the record is what keeps it from firing again).
Raising `CUECARD_CLOCK_LOOKBACK_DAYS` later may fire again an overdue item or an expiry pruned
under the shorter lookback that the longer one reaches.
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
    lines.append(_STREAMS.rstrip("\n"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
