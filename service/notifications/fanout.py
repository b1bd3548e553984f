"""The fan-out: sequenced events become notification rows, in the sequencer's transaction.

Registered with `sequencer.on_sequenced` (service/wiring.py): it runs in the transaction that
numbers the events, so each event is turned into rows exactly once (and the rows' unique
`dedupe_key` makes a replay add nothing). It never commits and makes no network call: a few
statements per event type in the batch (lookups, then one INSERT), whatever the batch's size.
The sender (service/notifications/sender.py) sends the `pending` rows when they are due.

Who is told what:
- `campaign.step_due` (per person): the step's channel `email` → an e-mail for the person if
  they want `campaign_step` by e-mail; `chat` → ONE post per chat destination of the
  departments the step fell due for, plus the company-wide ones (dedupe per campaign, step and
  destination); every step also leaves an intranet record per person. Nothing for someone no
  longer enrolled (left the audience, deactivated) or a campaign no longer active.
- `campaign.reminder_due` (service/notifications/reminders.py): a `reminder` to the person.
- `brief.submitted`, `message.submitted`: `review_waiting` to the reviewers: active editors
  and managers (the roles that review briefs and messages, service/briefs/policies.py,
  service/messages/policies.py) other than its author, last editor and submitter.
- `brief.published`, `message.published` (approved), `brief.sent_back`, `message.sent_back`
  (with the reviewer's comment): `review_decided` to the author and the last editor, not to the
  reviewer.
- `check.submitted`, `check.waiting`: `check_waiting` to the graders: the person's direct
  manager and the managers of their department (service/campaigns/policies.py can_grade); with
  none of those, the active editors.
- `check.graded`: `check_graded` to the person.
- `evidence.expiring`, `evidence.expired`: to the evidence's owner.
- `feedback.transitioned` to `decided` / `announced`: to the person who filed the item; a
  `theme.transitioned` to either: once to each person who filed items the theme step moved
  (`filed_by_id`; items an integration filed for nobody tell nobody).
- `campaign.person_overdue` (reminders.py): `person_overdue` to the person's direct manager and
  their department's managers.

Every person gets an intranet row (status `sent`: the feed and the live stream carry it) and,
per Preferences.wants, an e-mail row (`pending`, due at Preferences.next_send_time: quiet
hours, the digest) and, for personal kinds they turned chat on for, a post to their
department's chat destination naming them. Chat destination rows are due now.

The row's `data` holds the render inputs only (the sender's templates and this module agree on
them). Every row: `title` (one line), `link` (a PATH; the sender makes it absolute with
CUECARD_PUBLIC_URL), `digest` (bool: the person chose the daily digest); person rows also
`display_name` (the recipient's). Per kind:
- campaign_step: campaign_id, campaign_name, step_title, channel, message_title?, message_body?,
  pitch? (the brief's 30-second pitch); `link` acknowledges
  (`/api/v1/campaigns/{id}/acknowledgements`, a POST).
- reminder: the campaign_step keys + reminder_number (1, 2, ...).
- nudge: campaign_name, state, note?, sender_name (service/notifications/nudges.py).
- review_waiting: item_type ("brief"|"message"), item_title, author_name?
- review_decided: item_type, item_title, outcome ("approved"|"sent_back"), comment?
- check_waiting: campaign_name, person_name
- check_graded: campaign_name, result ("passed"|"needs_work"), comment?
- evidence_expiring / evidence_expired: claim, expires_at (ISO string)
- feedback_decided: excerpt, decision, rationale?
- feedback_announced: excerpt, message_title, message_body (the announcement, to quote)
  (a theme's step: the excerpt is the theme's name, and `items` how many of theirs it moved)
- person_overdue: campaign_name, person_name, department_name
A post to a chat destination for a person (personal kinds) carries the same keys, `display_name`
naming them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from service.briefs.models import Brief
from service.campaigns.models import Campaign, Check, Enrollment
from service.db import utcnow
from service.events.catalogue import EventType
from service.events.models import OutboxEvent
from service.evidence.models import Evidence
from service.feedback.models import FeedbackItem, FeedbackTransition, Theme
from service.logging import get_logger
from service.messages.models import Message
from service.notifications.models import ChatDestination
from service.notifications.records import Recipient, destination_row, person_rows, write
from service.notifications.rules import Preferences, preferences_of
from service.notifications.schemas import NotificationKind
from service.people.models import Department, Person

_EXCERPT = 140
Rows = list[dict[str, Any]]


log = get_logger("cuecard.notifications.fanout")
# What reading an event's data can raise when it is not shaped as documented.
_MISSHAPEN = (KeyError, TypeError, ValueError, AttributeError)


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _id(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def excerpt(text: str, limit: int = _EXCERPT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class PersonInfo:
    id: uuid.UUID
    display_name: str
    locale: str
    role: str
    department_id: uuid.UUID | None
    department_key: str | None
    department_name: str | None
    manager_id: uuid.UUID | None


@dataclass
class Batch:
    """What the handlers of one batch share: the people and destinations looked up so far."""

    session: AsyncSession
    now: Any = field(default_factory=utcnow)
    people: dict[uuid.UUID, PersonInfo] = field(default_factory=dict)
    preferences: dict[uuid.UUID, Preferences] = field(default_factory=dict)
    _destinations: list[Any] | None = None

    async def load_people(self, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, PersonInfo]:
        """The active people among `ids` (one query for those not looked up yet)."""
        wanted = {i for i in ids if i is not None}
        missing = wanted - set(self.people)
        if missing:
            rows: Any = await self.session.execute(
                sa.select(
                    col(Person.id),
                    col(Person.display_name),
                    col(Person.locale),
                    col(Person.role),
                    col(Person.department_id),
                    col(Person.manager_id),
                    col(Department.key).label("department_key"),
                    col(Department.name).label("department_name"),
                )
                .outerjoin(Department, col(Department.id) == col(Person.department_id))
                .where(col(Person.id).in_(missing), col(Person.active) == sa.true())
            )
            for row in rows.all():
                self.people[row.id] = PersonInfo(
                    id=row.id,
                    display_name=row.display_name,
                    locale=row.locale,
                    role=row.role,
                    department_id=row.department_id,
                    department_key=row.department_key,
                    department_name=row.department_name,
                    manager_id=row.manager_id,
                )
        return {i: self.people[i] for i in wanted if i in self.people}

    async def recipients(self, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Recipient]:
        """The active people among `ids`, with their preferences."""
        people = await self.load_people(ids)
        missing = set(people) - set(self.preferences)
        if missing:
            self.preferences.update(await preferences_of(self.session, missing))
        prefs = self.preferences
        return {
            i: Recipient(
                id=i,
                display_name=p.display_name,
                locale=p.locale,
                department_id=p.department_id,
                preferences=prefs[i],
            )
            for i, p in people.items()
        }

    async def destinations(self) -> list[Any]:
        """Every chat destination (id, department_key), oldest first (one query per batch)."""
        if self._destinations is None:
            self._destinations = list(
                (
                    await self.session.execute(
                        sa.select(col(ChatDestination.id), col(ChatDestination.department_key)).order_by(
                            col(ChatDestination.created_at), col(ChatDestination.id)
                        )
                    )
                ).all()
            )
        return self._destinations

    async def department_destination(self, person: uuid.UUID) -> uuid.UUID | None:
        """Where a personal notification a person wants in chat is posted: their department's
        first destination (none without one)."""
        info = self.people.get(person)
        if info is None or info.department_key is None:
            return None
        return next(
            (d.id for d in await self.destinations() if d.department_key == info.department_key), None
        )

    async def tell(
        self,
        kind: NotificationKind,
        recipients: Iterable[uuid.UUID | None],
        *,
        what: str,
        data: dict[str, Any],
        event: OutboxEvent | None = None,
        campaign_id: uuid.UUID | None = None,
        step_id: str | None = None,
        exclude: Iterable[uuid.UUID | None] = (),
    ) -> Rows:
        """Rows telling each of `recipients` (active people, less `exclude`) one thing."""
        skip = {e for e in exclude if e is not None}
        found = await self.recipients(r for r in recipients if r not in skip)
        rows: Rows = []
        for recipient in found.values():
            rows += person_rows(
                self.session,
                kind=kind,
                recipient=recipient,
                what=what,
                data=data,
                now=self.now,
                chat_destination=await self.department_destination(recipient.id),
                event_id=event.id if event else None,
                campaign_id=campaign_id,
                step_id=step_id,
            )
        return rows


Handler = Callable[[Batch, list[OutboxEvent]], Awaitable[Rows]]


async def _campaigns(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, sa.Row[Any]]:
    if not ids:
        return {}
    rows = await session.execute(
        sa.select(
            col(Campaign.id),
            col(Campaign.name),
            col(Campaign.status),
            col(Campaign.steps),
            col(Campaign.lineage_id),
            col(Campaign.brief_id),
        ).where(col(Campaign.id).in_(ids))
    )
    return {row.id: row for row in rows.all()}


async def campaign_names(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    return {i: row.name for i, row in (await _campaigns(session, ids)).items()}


async def _current_briefs(
    session: AsyncSession, campaigns: Iterable[sa.Row[Any]]
) -> dict[uuid.UUID, sa.Row[Any]]:
    """Per lineage, its newest published version (else the campaign's own brief): the pitch
    and locale a step speaks in."""
    campaigns = list(campaigns)
    if not campaigns:
        return {}
    lineages = {c.lineage_id for c in campaigns}
    rows = await session.execute(
        sa.select(
            col(Brief.id), col(Brief.lineage_id), col(Brief.pitch), col(Brief.locale), col(Brief.version)
        )
        .where(
            sa.or_(
                sa.and_(col(Brief.lineage_id).in_(lineages), col(Brief.status) == "published"),
                col(Brief.id).in_({c.brief_id for c in campaigns}),
            )
        )
        .order_by(col(Brief.version))
    )
    by_id: dict[uuid.UUID, Any] = {}
    published: dict[uuid.UUID, Any] = {}
    for row in rows.all():
        by_id[row.id] = row
        published[row.lineage_id] = row  # the newest wins (ordered by version)
    return {c.id: published.get(c.lineage_id) or by_id[c.brief_id] for c in campaigns if c.brief_id in by_id}


async def _still_enrolled(
    session: AsyncSession, pairs: set[tuple[uuid.UUID, uuid.UUID]]
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Of (campaign, person) pairs, those whose person is active and still in the audience."""
    if not pairs:
        return set()
    rows = await session.execute(
        sa.select(col(Enrollment.campaign_id), col(Enrollment.person_id))
        .join(Person, col(Person.id) == col(Enrollment.person_id))
        .where(
            col(Enrollment.campaign_id).in_({c for c, _ in pairs}),
            col(Enrollment.person_id).in_({p for _, p in pairs}),
            col(Enrollment.left_at).is_(None),
            col(Person.active) == sa.true(),
        )
    )
    return {(row.campaign_id, row.person_id) for row in rows.all()} & pairs


async def step_rows(batch: Batch, events: list[OutboxEvent], kind: NotificationKind) -> Rows:
    """`campaign.step_due` (kind campaign_step) and `campaign.reminder_due` (kind reminder)."""
    session = batch.session
    campaigns = await _campaigns(session, {_id(e.data["campaign_id"]) for e in events} - {None})
    briefs = await _current_briefs(session, campaigns.values())
    messages = await _messages_of(session, events)
    pairs = {(_id(e.data["campaign_id"]), _id(e.data["person_id"])) for e in events}
    enrolled = await _still_enrolled(session, pairs)
    recipients = await batch.recipients(p for _, p in enrolled)
    rows: Rows = []
    for event in events:
        d = event.data
        campaign_id, person_id = _id(d["campaign_id"]), _id(d["person_id"])
        campaign = campaigns.get(campaign_id)
        recipient = recipients.get(person_id)
        if campaign is None or campaign.status != "active" or recipient is None:
            continue
        if (campaign_id, person_id) not in enrolled:
            continue
        step_id = str(d["step_id"])
        brief = briefs.get(campaign.id)
        message = messages.get(_uuid(d.get("message_id")))
        channel = str(d.get("channel") or "intranet")
        data: dict[str, Any] = {
            "title": f"{campaign.name}: {d['title']}",
            "link": f"/api/v1/campaigns/{campaign.id}/acknowledgements",
            "campaign_id": str(campaign.id),
            "campaign_name": campaign.name,
            "step_title": d["title"],
            "channel": channel,
            "message_title": message.title if message else None,
            "message_body": message.body if message else None,
            "pitch": (brief.pitch or None) if brief else None,
        }
        what = f"{campaign.id}:{step_id}"
        if kind is NotificationKind.REMINDER:
            data["reminder_number"] = int(d["reminder_number"])
            what += f":{data['reminder_number']}"
        personal_chat = (
            None
            if kind is NotificationKind.CAMPAIGN_STEP
            else await batch.department_destination(recipient.id)
        )
        rows += person_rows(
            session,
            kind=kind,
            recipient=recipient,
            what=what,
            data=data,
            now=batch.now,
            # A step goes by e-mail only when it is an e-mail step; a reminder by e-mail whatever
            # the step (the person asked to be reminded that way, or not).
            email=channel == "email" or kind is NotificationKind.REMINDER,
            chat_destination=personal_chat,
            event_id=event.id,
            campaign_id=campaign.id,
            step_id=step_id,
        )
        if kind is NotificationKind.CAMPAIGN_STEP and channel == "chat":
            department = batch.people[recipient.id].department_key
            for destination in await batch.destinations():
                if destination.department_key not in (None, department):
                    continue
                shared = {k: v for k, v in data.items() if k != "display_name"}
                rows.append(
                    destination_row(
                        kind=kind,
                        destination_id=destination.id,
                        what=what,
                        data=shared,
                        locale=brief.locale if brief else "en",
                        now=batch.now,
                        event_id=event.id,
                        campaign_id=campaign.id,
                        step_id=step_id,
                    )
                )
    return rows


async def _steps_due(batch: Batch, events: list[OutboxEvent]) -> Rows:
    return await step_rows(batch, events, NotificationKind.CAMPAIGN_STEP)


async def _reminders_due(batch: Batch, events: list[OutboxEvent]) -> Rows:
    return await step_rows(batch, events, NotificationKind.REMINDER)


# What is reviewed (four eyes): per event type prefix, its table and the id's key in the data.
_REVIEWED: dict[str, tuple[Any, str]] = {"brief": (Brief, "brief_id"), "message": (Message, "message_id")}


async def _reviewed_items(batch: Batch, events: list[OutboxEvent]) -> dict[tuple[str, uuid.UUID], Any]:
    """The briefs and messages these events are about (title, author, last editor), by
    (item type, id): one query per type."""
    found: dict[tuple[str, uuid.UUID], Any] = {}
    for item_type, (model, key) in _REVIEWED.items():
        ids = {_id(e.data[key]) for e in events if e.type.startswith(f"{item_type}.")}
        if not ids:
            continue
        stmt = sa.select(model.id, model.title, model.author_id, model.last_editor_id).where(
            model.id.in_(ids)
        )
        for row in (await batch.session.execute(stmt)).all():
            found[(item_type, row.id)] = row
    return found


def _about(event: OutboxEvent) -> tuple[str, uuid.UUID]:
    item_type = event.type.split(".", 1)[0]
    return item_type, _id(event.data[_REVIEWED[item_type][1]])


async def _review_waiting(batch: Batch, events: list[OutboxEvent]) -> Rows:
    """`brief.submitted`, `message.submitted`: the reviewers (active editors and managers), not
    the author, the last editor or whoever submitted it (four eyes keep them from approving)."""
    items = await _reviewed_items(batch, events)
    reviewers = list(
        (
            await batch.session.execute(
                sa.select(col(Person.id)).where(
                    col(Person.active) == sa.true(), col(Person.role).in_(("editor", "manager"))
                )
            )
        ).scalars()
    )
    authors = await batch.load_people(i.author_id for i in items.values() if i.author_id)
    rows: Rows = []
    for event in events:
        item_type, item_id = _about(event)
        item = items.get((item_type, item_id))
        if item is None:
            continue
        author = authors.get(item.author_id) if item.author_id else None
        rows += await batch.tell(
            NotificationKind.REVIEW_WAITING,
            reviewers,
            what=str(event.id),
            data={
                "title": item.title,
                "link": f"/api/v1/{item_type}s/{item.id}",
                "item_type": item_type,
                "item_title": item.title,
                "author_name": author.display_name if author else None,
            },
            event=event,
            exclude=(item.author_id, item.last_editor_id, _uuid(event.data.get("submitted_by"))),
        )
    return rows


async def _review_decided(batch: Batch, events: list[OutboxEvent]) -> Rows:
    """Approved (`brief.published`, `message.published`) or sent back with the reviewer's comment
    (`brief.sent_back`, `message.sent_back`): to the author and the last editor, not the reviewer."""
    items = await _reviewed_items(batch, events)
    rows: Rows = []
    for event in events:
        item_type, item_id = _about(event)
        item = items.get((item_type, item_id))
        if item is None:
            continue
        approved = event.type.endswith(".published")
        rows += await batch.tell(
            NotificationKind.REVIEW_DECIDED,
            {item.author_id, item.last_editor_id} - {None},
            what=str(event.id),
            data={
                "title": item.title,
                "link": f"/api/v1/{item_type}s/{item.id}",
                "item_type": item_type,
                "item_title": item.title,
                "outcome": "approved" if approved else "sent_back",
                "comment": None if approved else event.data.get("comment"),
            },
            event=event,
            exclude=(_uuid(event.data.get("published_by" if approved else "sent_back_by")),),
        )
    return rows


async def managers_of(batch: Batch, people: Iterable[PersonInfo]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """Per person: their direct manager and the active managers of their department."""
    people = list(people)
    departments = {p.department_id for p in people if p.department_id}
    by_department: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    if departments:
        rows = await batch.session.execute(
            sa.select(col(Person.id), col(Person.department_id)).where(
                col(Person.active) == sa.true(),
                col(Person.role) == "manager",
                col(Person.department_id).in_(departments),
            )
        )
        for row in rows.all():
            by_department[row.department_id].add(row.id)
    return {
        p.id: ({p.manager_id} if p.manager_id else set())
        | (by_department.get(p.department_id, set()) if p.department_id else set())
        for p in people
    }


async def _checks_waiting(batch: Batch, events: list[OutboxEvent]) -> Rows:
    session = batch.session
    ids = {_id(e.data["check_id"]) for e in events}
    checks = {
        row.id: row
        for row in (
            await session.execute(
                sa.select(
                    col(Check.id), col(Check.person_id), col(Check.campaign_id), col(Check.status)
                ).where(col(Check.id).in_(ids))
            )
        ).all()
    }
    names = await campaign_names(session, {c.campaign_id for c in checks.values()})
    people = await batch.load_people(c.person_id for c in checks.values())
    graders = await managers_of(batch, people.values())
    editors: list[uuid.UUID] | None = None
    rows: Rows = []
    for event in events:
        check = checks.get(_id(event.data["check_id"]))
        if check is None or check.status != "submitted" or check.person_id not in people:
            continue
        who = graders.get(check.person_id, set()) - {check.person_id}
        if not who:
            if editors is None:
                editors = list(
                    (
                        await session.execute(
                            sa.select(col(Person.id)).where(
                                col(Person.active) == sa.true(), col(Person.role) == "editor"
                            )
                        )
                    ).scalars()
                )
            who = set(editors)
        person = people[check.person_id]
        campaign_name = names.get(check.campaign_id, "")
        rows += await batch.tell(
            NotificationKind.CHECK_WAITING,
            who,
            what=str(event.id),
            data={
                "title": f"{campaign_name}: {person.display_name}",
                "link": f"/api/v1/checks/{check.id}",
                "campaign_name": campaign_name,
                "person_name": person.display_name,
            },
            event=event,
            campaign_id=check.campaign_id,
            exclude=(check.person_id,),
        )
    return rows


async def _checks_graded(batch: Batch, events: list[OutboxEvent]) -> Rows:
    session = batch.session
    ids = {_id(e.data["check_id"]) for e in events}
    checks = {
        row.id: row
        for row in (
            await session.execute(
                sa.select(
                    col(Check.id), col(Check.person_id), col(Check.campaign_id), col(Check.comment)
                ).where(col(Check.id).in_(ids))
            )
        ).all()
    }
    names = await campaign_names(session, {c.campaign_id for c in checks.values()})
    rows: Rows = []
    for event in events:
        check = checks.get(_id(event.data["check_id"]))
        if check is None:
            continue
        campaign_name = names.get(check.campaign_id, "")
        rows += await batch.tell(
            NotificationKind.CHECK_GRADED,
            [check.person_id],
            what=str(event.id),
            data={
                "title": campaign_name,
                "link": f"/api/v1/checks/{check.id}",
                "campaign_name": campaign_name,
                "result": event.data["grade"],
                "comment": check.comment,
            },
            event=event,
            campaign_id=check.campaign_id,
        )
    return rows


async def _evidence(batch: Batch, events: list[OutboxEvent]) -> Rows:
    rows: Rows = []
    ids = {_id(e.data["evidence_id"]) for e in events}
    owners = {
        row.id: row.owner_id
        for row in (
            await batch.session.execute(
                sa.select(col(Evidence.id), col(Evidence.owner_id)).where(col(Evidence.id).in_(ids))
            )
        ).all()
    }
    for event in events:
        d = event.data
        evidence_id = _id(d["evidence_id"])
        expired = event.type == EventType.EVIDENCE_EXPIRED.value
        if expired:
            expires_at = str(d["expired_at"])
        else:  # expired from 00:00 UTC the day after `verify_by`
            expires_at = f"{date.fromisoformat(str(d['verify_by'])) + timedelta(days=1)}T00:00:00Z"
        rows += await batch.tell(
            NotificationKind.EVIDENCE_EXPIRED if expired else NotificationKind.EVIDENCE_EXPIRING,
            [owners.get(evidence_id) or _uuid(d.get("owner_id"))],
            what=str(event.id),
            data={
                "title": excerpt(str(d["claim"]), 100),
                "link": f"/api/v1/evidence/{evidence_id}",
                "claim": d["claim"],
                "expires_at": expires_at,
            },
            event=event,
        )
    return rows


async def _messages_of(session: AsyncSession, events: list[OutboxEvent]) -> dict[uuid.UUID | None, Any]:
    """The messages these events name (`message_id`): title and body, in one query."""
    ids = {_uuid(e.data.get("message_id")) for e in events} - {None}
    if not ids:
        return {}
    stmt = sa.select(col(Message.id), col(Message.title), col(Message.body)).where(col(Message.id).in_(ids))
    found: dict[uuid.UUID | None, Any] = {row.id: row for row in (await session.execute(stmt)).all()}
    return found


def _loop_news(
    event: OutboxEvent,
    messages: dict[uuid.UUID | None, Any],
    *,
    title: str,
    link: str,
    text: str,
    rationale: str | None,
) -> tuple[NotificationKind, dict[str, Any]]:
    """What a filer is told when feedback (an item, or a theme as a whole) is decided or
    announced: the decision and its rationale, or the announcing message quoted."""
    common = {"title": title, "link": link, "excerpt": text}
    if event.data["to"] == "decided":
        return NotificationKind.FEEDBACK_DECIDED, {
            **common,
            "decision": event.data.get("decision"),
            "rationale": rationale,
        }
    message = messages.get(_uuid(event.data.get("message_id")))
    return NotificationKind.FEEDBACK_ANNOUNCED, {
        **common,
        "message_title": message.title if message else None,
        "message_body": message.body if message else None,
    }


async def _feedback(batch: Batch, events: list[OutboxEvent]) -> Rows:
    wanted = [e for e in events if e.data.get("to") in ("decided", "announced")]
    if not wanted:
        return []
    session = batch.session
    ids = {_id(e.data["feedback_id"]) for e in wanted}
    items = {
        row.id: row
        for row in (
            await session.execute(
                sa.select(
                    col(FeedbackItem.id),
                    col(FeedbackItem.body),
                    col(FeedbackItem.filed_by_id),
                    col(FeedbackItem.rationale),
                ).where(col(FeedbackItem.id).in_(ids))
            )
        ).all()
    }
    messages = await _messages_of(session, wanted)
    rows: Rows = []
    for event in wanted:
        item = items.get(_id(event.data["feedback_id"]))
        if item is None or item.filed_by_id is None:
            continue
        kind, data = _loop_news(
            event,
            messages,
            title=excerpt(item.body, 80),
            link=f"/api/v1/feedback/{item.id}",
            text=excerpt(item.body),
            rationale=item.rationale,
        )
        rows += await batch.tell(kind, [item.filed_by_id], what=str(event.id), data=data, event=event)
    return rows


async def _themes(batch: Batch, events: list[OutboxEvent]) -> Rows:
    """A theme decided or announced as a whole (`theme.transitioned`): each person who filed one
    of the items it moved hears it once, however many of theirs it moved. The items are the ones
    whose step this was: the theme's (or a theme merged into it) with a step to that stage at
    the event's time by its actor (one query per theme step; they are rare)."""
    wanted = [e for e in events if e.data.get("to") in ("decided", "announced") and e.data.get("moved")]
    if not wanted:
        return []
    session = batch.session
    messages = await _messages_of(session, wanted)
    rows: Rows = []
    for event in wanted:
        d = event.data
        theme_id = _id(d["theme_id"])
        members = sa.select(col(Theme.id)).where(
            sa.or_(col(Theme.id) == theme_id, col(Theme.merged_into_id) == theme_id)
        )
        step = col(FeedbackTransition.feedback_id) == col(FeedbackItem.id)
        filers = (
            await session.execute(
                sa.select(col(FeedbackItem.filed_by_id), sa.func.count().label("items"))
                .join(FeedbackTransition, step)
                .where(
                    col(FeedbackItem.theme_id).in_(members),
                    col(FeedbackItem.filed_by_id).is_not(None),
                    col(FeedbackTransition.to_status) == d["to"],
                    col(FeedbackTransition.at) == datetime.fromisoformat(str(d["at"])),
                    col(FeedbackTransition.actor_id) == _uuid(d.get("actor_id")),
                )
                .group_by(col(FeedbackItem.filed_by_id))
            )
        ).all()
        theme = (
            await session.execute(
                sa.select(col(Theme.name), col(Theme.rationale)).where(col(Theme.id) == theme_id)
            )
        ).one_or_none()
        if theme is None:
            continue
        kind, data = _loop_news(
            event,
            messages,
            title=theme.name,
            link=f"/api/v1/themes/{theme_id}",
            text=theme.name,
            rationale=theme.rationale,
        )
        for filer in filers:
            rows += await batch.tell(
                kind,
                [filer.filed_by_id],
                what=str(event.id),
                data={**data, "items": filer.items},
                event=event,
            )
    return rows


async def _people_overdue(batch: Batch, events: list[OutboxEvent]) -> Rows:
    session = batch.session
    names = await campaign_names(session, {_id(e.data["campaign_id"]) for e in events} - {None})
    people = await batch.load_people(_id(e.data["person_id"]) for e in events)
    managers = await managers_of(batch, people.values())
    rows: Rows = []
    for event in events:
        campaign_id, person_id = _id(event.data["campaign_id"]), _id(event.data["person_id"])
        person = people.get(person_id)
        if person is None or campaign_id not in names:
            continue
        campaign_name = names[campaign_id]
        rows += await batch.tell(
            NotificationKind.PERSON_OVERDUE,
            managers.get(person.id, set()),
            what=str(event.id),
            data={
                "title": f"{campaign_name}: {person.display_name}",
                "link": f"/api/v1/campaigns/{campaign_id}/people?overdue=true",
                "campaign_name": campaign_name,
                "person_name": person.display_name,
                "department_name": person.department_name,
            },
            event=event,
            campaign_id=campaign_id,
            exclude=(person.id,),
        )
    return rows


HANDLERS: dict[str, Handler] = {
    EventType.CAMPAIGN_STEP_DUE.value: _steps_due,
    EventType.CAMPAIGN_REMINDER_DUE.value: _reminders_due,
    EventType.BRIEF_SUBMITTED.value: _review_waiting,
    EventType.MESSAGE_SUBMITTED.value: _review_waiting,
    EventType.BRIEF_PUBLISHED.value: _review_decided,
    EventType.BRIEF_SENT_BACK.value: _review_decided,
    EventType.MESSAGE_PUBLISHED.value: _review_decided,
    EventType.MESSAGE_SENT_BACK.value: _review_decided,
    EventType.CHECK_SUBMITTED.value: _checks_waiting,
    EventType.CHECK_WAITING.value: _checks_waiting,
    EventType.CHECK_GRADED.value: _checks_graded,
    EventType.EVIDENCE_EXPIRING.value: _evidence,
    EventType.EVIDENCE_EXPIRED.value: _evidence,
    EventType.FEEDBACK_TRANSITIONED.value: _feedback,
    EventType.THEME_TRANSITIONED.value: _themes,
    EventType.CAMPAIGN_PERSON_OVERDUE.value: _people_overdue,
}


async def fan_out(session: AsyncSession, events: list[OutboxEvent]) -> None:
    """Writes the notification rows of a batch of sequenced events (never commits)."""
    by_handler: dict[Handler, list[OutboxEvent]] = defaultdict(list)
    for event in events:
        handler = HANDLERS.get(event.type)
        if handler is not None:
            by_handler[handler].append(event)
    if not by_handler:
        return
    batch = Batch(session)
    rows: Rows = []
    for handler, handled in by_handler.items():
        try:
            rows += await handler(batch, handled)
        except _MISSHAPEN:
            # An event not shaped as its catalogue entry says (emitted by hand, an older version)
            # must not hold every later event back: the sequencer's transaction would roll back
            # and meet it again, forever. Its batch is told event by event; an event that still
            # fails is logged and left out (handlers only read until `write`).
            for event in handled:
                try:
                    rows += await handler(batch, [event])
                except _MISSHAPEN as exc:
                    log.warning(
                        "notification_fanout_skipped",
                        event_id=str(event.id),
                        type=event.type,
                        error=repr(exc),
                    )
    await write(session, rows)
