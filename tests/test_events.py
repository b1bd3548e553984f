"""The event outbox: each action writes its event in its own transaction, and only then.

For every event CueCard emits today, the REST action writes exactly one outbox row with the
catalogue's type and version and the payload a receiver acts on; a refused or rolled-back use
case writes none; `emit` refuses to run outside a use case; docs/events.md is the catalogue.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.auth.principal import SCOPES
from service.db import use_case
from service.events.catalogue import CATALOGUE, EventType, readable_types
from service.events.docs import render_markdown
from service.events.models import OutboxEvent
from service.events.service import emit, envelope
from tests.campaigns.helpers import GUT_CHECK, make_campaign, published_brief
from tests.factories import (
    bearer,
    make_brief,
    make_person,
    make_product,
    service_token,
    token_for,
    unique,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "events.md"


async def position(app) -> int:
    """The newest outbox position (0 when empty): what a test's action is measured after."""
    async with app.state.sessionmaker() as session:
        return (await session.execute(sa.select(sa.func.max(OutboxEvent.position)))).scalar() or 0


async def events_after(app, mark: int) -> list[OutboxEvent]:
    async with app.state.sessionmaker() as session:
        stmt = sa.select(OutboxEvent).where(OutboxEvent.position > mark).order_by(OutboxEvent.position)
        return list((await session.execute(stmt)).scalars())


def only(events: list[OutboxEvent], event_type: EventType) -> OutboxEvent:
    """The one event of this type (fails on none or several)."""
    found = [e for e in events if e.type == event_type]
    assert len(found) == 1, [(e.type, e.data) for e in events]
    assert found[0].version == CATALOGUE[event_type].version
    return found[0]


def same_keys_as_example(event: OutboxEvent) -> None:
    """What is emitted is what docs/events.md shows: the example has exactly the same fields."""
    assert set(event.data) == set(CATALOGUE[EventType(event.type)].example), event.type


# --- the catalogue and its documentation ----------------------------------------------------------


def test_every_type_has_a_version_description_scope_and_a_json_example():
    assert set(CATALOGUE) == set(EventType)
    for event_type, spec in CATALOGUE.items():
        assert spec.version >= 1
        assert spec.description and "\n" not in spec.description
        assert spec.scope is None or spec.scope in SCOPES
        assert json.loads(json.dumps(spec.example)) == spec.example, event_type


def test_issue_12_types_are_all_in_the_catalogue():
    named = [
        "brief.submitted",
        "brief.published",
        "pitch.changed",
        "message.submitted",
        "message.sent_back",
        "message.published",
        "evidence.expiring",
        "evidence.expired",
        "campaign.activated",
        "campaign.step_due",
        "acknowledgement.recorded",
        "check.submitted",
        "check.graded",
        "feedback.ingested",
        "feedback.transitioned",
        "person.onboarded",
        "person.left",
        "webhook.ping",
        "brief.scheduled",
        "message.withdrawn",
        "message.expired",
        "theme.transitioned",
        "feedback.overdue",
        "check.waiting",
        "campaign.person_overdue",
        "campaign.step_attended",  # issue 13
    ]
    # Issue 13 adds the reminders' clock event (service/notifications/reminders.py) and tells
    # authors when their brief is sent back.
    assert {str(t) for t in EventType} == {*named, "campaign.reminder_due", "brief.sent_back"}


def test_docs_events_md_is_the_catalogue():
    # Regenerate with: python -m service.events.docs > docs/events.md
    assert DOCS.read_text(encoding="utf-8") == render_markdown()
    text = DOCS.read_text(encoding="utf-8")
    for event_type in EventType:
        assert f"### {event_type}\n" in text


def test_what_each_scope_may_read():
    assert EventType.PITCH_CHANGED in readable_types({"pitch:read"})
    assert EventType.BRIEF_PUBLISHED not in readable_types({"pitch:read"})
    assert EventType.PERSON_LEFT in readable_types({"people:write"})  # implies people:read
    assert EventType.BRIEF_SUBMITTED not in readable_types(set(SCOPES))  # admins only
    assert readable_types(set(), admin=True) == frozenset(EventType)


# --- emit and the envelope -----------------------------------------------------------------------


async def test_emit_outside_a_use_case_is_refused(app):
    async with app.state.sessionmaker() as session:
        with pytest.raises(RuntimeError, match="outside a use case"):
            emit(session, EventType.PERSON_LEFT, {"person_id": uuid.uuid4()})
    assert await events_after(app, 0) == []


async def test_an_event_lands_with_its_use_case_and_only_with_it(app):
    mark = await position(app)
    person_id = uuid.uuid4()
    async with app.state.sessionmaker() as session:
        with pytest.raises(LookupError):
            async with use_case(session):
                emit(session, EventType.PERSON_LEFT, {"person_id": person_id})
                raise LookupError("the change fails after the event was added")
        assert await events_after(app, mark) == []
        async with use_case(session):
            # A nested block joins the outer transaction: nothing lands before it commits.
            async with use_case(session):
                emit(session, EventType.PERSON_LEFT, {"person_id": person_id}, product_key=None)
            assert await events_after(app, mark) == []
    (event,) = await events_after(app, mark)
    assert event.data == {"person_id": str(person_id)}


async def test_data_is_made_json_and_nul_bytes_cannot_break_postgresql(app):
    at = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    async with app.state.sessionmaker() as session:
        async with use_case(session):
            row = emit(
                session,
                "brief.published",
                {
                    "id": uuid.UUID(int=1),
                    "at": at,
                    "on": dt.date(2026, 12, 1),
                    "title": "a\x00b",
                    "n": [1, 2],
                },
                product_key="kuradesk",
            )
        with pytest.raises(ValueError):
            async with use_case(session):
                emit(session, "brief.unheard_of", {})
        with pytest.raises(TypeError):
            async with use_case(session):
                emit(session, EventType.PERSON_LEFT, {"person": object()})
        with pytest.raises(ValueError, match="naive"):
            async with use_case(session):
                emit(session, EventType.PERSON_LEFT, {"at": dt.datetime(2026, 12, 1)})
    (stored,) = [e for e in await events_after(app, 0) if e.id == row.id]
    assert stored.data == {
        "id": "00000000-0000-0000-0000-000000000001",
        "at": "2026-12-01T10:00:00Z",
        "on": "2026-12-01",
        "title": "a\ufffdb",
        "n": [1, 2],
    }
    assert stored.product_key == "kuradesk"


async def test_the_envelope_is_id_type_version_timestamp_data(app):
    async with app.state.sessionmaker() as session, use_case(session):
        emit(session, EventType.PERSON_LEFT, {"person_id": uuid.UUID(int=7)})
    (row,) = await events_after(app, 0)
    shaped = envelope(row)
    assert list(shaped) == ["id", "type", "version", "timestamp", "data"]
    assert uuid.UUID(shaped["id"]) == row.id
    assert shaped["type"] == "person.left" and shaped["version"] == 1
    assert shaped["timestamp"].endswith("Z")
    assert dt.datetime.fromisoformat(shaped["timestamp"]).tzinfo == dt.UTC
    assert shaped["data"] == {"person_id": "00000000-0000-0000-0000-000000000007"}
    json.dumps(shaped)


async def test_positions_grow_in_the_order_events_were_written(app):
    async with app.state.sessionmaker() as session, use_case(session):
        for n in range(3):
            emit(session, EventType.PERSON_LEFT, {"n": n})
    events = await events_after(app, 0)
    assert [e.data["n"] for e in events] == [0, 1, 2]
    assert [e.position for e in events] == sorted(e.position for e in events)


# --- briefs and the pitch -------------------------------------------------------------------------


async def test_submitting_a_brief_emits_brief_submitted(app, client):
    author = await make_person(app, role="editor")
    product = await make_product(app)
    brief = await make_brief(app, author, product.key)
    mark = await position(app)
    response = await client.post(f"/api/v1/briefs/{brief.id}/submit", headers=bearer(token_for(app, author)))
    assert response.status_code == 200, response.text
    events = await events_after(app, mark)
    assert [e.type for e in events] == ["brief.submitted"]
    event = only(events, EventType.BRIEF_SUBMITTED)
    same_keys_as_example(event)
    assert event.product_key == product.key
    assert event.data["brief_id"] == str(brief.id)
    assert event.data["product_key"] == product.key
    assert event.data["version"] == 1 and event.data["locale"] == "ja"
    assert event.data["submitted_by"] == str(author.id)


async def test_a_refused_submit_emits_nothing(app, client, callers):
    author = await make_person(app, role="editor")
    product = await make_product(app)
    brief = await make_brief(app, author, product.key, pitch="")  # incomplete: 422
    mark = await position(app)
    response = await client.post(f"/api/v1/briefs/{brief.id}/submit", headers=bearer(token_for(app, author)))
    assert response.status_code == 422
    response = await client.post(f"/api/v1/briefs/{brief.id}/submit", headers=callers.headers("employee"))
    assert response.status_code in (403, 404)
    assert await events_after(app, mark) == []


async def test_approving_emits_brief_published_then_pitch_changed_with_the_served_etag(app, client, callers):
    author = await make_person(app, role="editor")
    product = await make_product(app)
    brief = await make_brief(app, author, product.key, status="in_review")
    mark = await position(app)
    response = await client.post(f"/api/v1/briefs/{brief.id}/approve", headers=callers.headers("manager"))
    assert response.status_code == 200, response.text
    events = await events_after(app, mark)
    assert [e.type for e in events] == ["brief.published", "pitch.changed"]  # the cause first
    published = only(events, EventType.BRIEF_PUBLISHED)
    same_keys_as_example(published)
    assert published.data["brief_id"] == str(brief.id)
    assert published.data["product_key"] == product.key
    assert published.data["title"] == brief.title
    assert published.data["version"] == 1 and published.data["supersedes"] is None
    assert published.data["published_by"] == str(callers.people["manager"].id)
    changed = only(events, EventType.PITCH_CHANGED)
    same_keys_as_example(changed)
    assert changed.product_key == product.key
    assert changed.data["change"] == "published" and changed.data["locale"] == "ja"
    assert changed.data["brief_id"] == str(brief.id) and changed.data["version"] == 1
    # The ETag in the event is the one a plain read of the pitch answers with.
    pitch = await client.get(f"/api/v1/pitch/{product.key}", headers=callers.headers("svc_pitch"))
    assert pitch.status_code == 200, pitch.text
    assert changed.data["etag"] == pitch.headers["etag"]


async def test_a_refused_or_stale_approval_emits_nothing(app, client, callers):
    author = await make_person(app, role="editor")
    product = await make_product(app)
    brief = await make_brief(app, author, product.key, status="in_review")
    mark = await position(app)
    own = await client.post(f"/api/v1/briefs/{brief.id}/approve", headers=bearer(token_for(app, author)))
    assert own.status_code == 403  # four eyes
    stale = await client.post(
        f"/api/v1/briefs/{brief.id}/approve", headers={**callers.headers("manager"), "If-Match": '"999"'}
    )
    assert stale.status_code == 412
    assert await events_after(app, mark) == []


async def test_archiving_the_published_version_emits_pitch_withdrawn(app, client, callers):
    author = await make_person(app, role="editor")
    product = await make_product(app)
    brief = await make_brief(app, author, product.key, status="published")
    mark = await position(app)
    response = await client.post(f"/api/v1/briefs/{brief.id}/archive", headers=bearer(token_for(app, author)))
    assert response.status_code == 200, response.text
    changed = only(await events_after(app, mark), EventType.PITCH_CHANGED)
    assert changed.data["change"] == "withdrawn" and changed.data["etag"] is None


async def test_graphql_mutations_emit_the_same_and_a_refused_one_nothing(app, client, callers):
    """GraphQL answers a refusal with HTTP 200: the use case, not the request, decides what lands."""
    author = await make_person(app, role="editor")
    product = await make_product(app)
    brief = await make_brief(app, author, product.key, status="in_review")
    approve = {"query": f'mutation {{ approveBrief(id: "{brief.id}") {{ status }} }}'}
    mark = await position(app)
    refused = await client.post("/graphql", json=approve, headers=bearer(token_for(app, author)))
    assert refused.status_code == 200 and refused.json()["errors"], refused.text  # four eyes
    assert await events_after(app, mark) == []
    done = await client.post("/graphql", json=approve, headers=callers.headers("manager"))
    assert done.json()["data"]["approveBrief"] == {"status": "PUBLISHED"}, done.text
    assert [e.type for e in await events_after(app, mark)] == ["brief.published", "pitch.changed"]


# --- messages -------------------------------------------------------------------------------------


async def test_publishing_a_message_emits_message_published(app, client, callers):
    body = {
        "kind": "value_translation",
        "locale": "ja",
        "title": "高速OCRで請求書入力を短縮",
        "feature_term": "高速OCR",
        "value_statement": "請求書の入力時間を週3時間削減",
        "metric": {"value": 3, "unit": "hours/week", "basis": "pilot with 5 customers"},
    }
    created = await client.post("/api/v1/messages", json=body, headers=callers.headers("editor"))
    assert created.status_code == 201, created.text
    message = created.json()
    submitted = await client.post(
        f"/api/v1/messages/{message['id']}/submit", headers=callers.headers("editor")
    )
    assert submitted.status_code == 200, submitted.text
    mark = await position(app)
    own = await client.post(f"/api/v1/messages/{message['id']}/publish", headers=callers.headers("editor"))
    assert own.status_code == 403  # four eyes: refused, nothing emitted
    assert await events_after(app, mark) == []
    response = await client.post(
        f"/api/v1/messages/{message['id']}/publish", headers=callers.headers("admin")
    )
    assert response.status_code == 200, response.text
    event = only(await events_after(app, mark), EventType.MESSAGE_PUBLISHED)
    same_keys_as_example(event)
    assert event.data["message_id"] == message["id"]
    assert event.data["kind"] == "value_translation" and event.data["product_key"] is None
    assert event.data["audiences"] == ["all"]


# --- campaigns ------------------------------------------------------------------------------------


async def test_activating_a_campaign_emits_campaign_activated(app, client, callers):
    campaign = await make_campaign(app, status="planned", roles=["employee"])
    mark = await position(app)
    response = await client.post(
        f"/api/v1/campaigns/{campaign.id}/activate", headers=callers.headers("admin")
    )
    assert response.status_code == 200, response.text
    event = only(await events_after(app, mark), EventType.CAMPAIGN_ACTIVATED)
    same_keys_as_example(event)
    assert event.data["campaign_id"] == str(campaign.id)
    assert event.data["enrolled"] >= 1  # at least the callers' employee
    assert event.product_key == event.data["product_key"] == response.json()["product_key"]
    again = await client.post(f"/api/v1/campaigns/{campaign.id}/activate", headers=callers.headers("admin"))
    assert again.status_code == 409
    assert len(await events_after(app, mark)) == 1


async def test_answers_emit_acknowledgement_check_submitted_and_check_graded(app, client, callers):
    campaign = await make_campaign(app, roles=["employee"])
    employee = callers.headers("employee")
    person = callers.people["employee"]

    mark = await position(app)
    ack = await client.post(f"/api/v1/campaigns/{campaign.id}/acknowledgements", headers=employee)
    assert ack.status_code == 201, ack.text
    event = only(await events_after(app, mark), EventType.ACKNOWLEDGEMENT_RECORDED)
    same_keys_as_example(event)
    assert event.data["acknowledgement_id"] == ack.json()["id"]
    assert event.data["person_id"] == str(person.id) and event.data["campaign_id"] == str(campaign.id)
    mark = await position(app)
    again = await client.post(f"/api/v1/campaigns/{campaign.id}/acknowledgements", headers=employee)
    assert again.status_code == 200  # already there: nothing new, nothing emitted
    assert await events_after(app, mark) == []

    check = await client.post(f"/api/v1/campaigns/{campaign.id}/checks", json=GUT_CHECK, headers=employee)
    assert check.status_code == 201, check.text
    events = await events_after(app, mark)
    assert [e.type for e in events] == ["check.submitted"]  # acknowledged already
    submitted = only(events, EventType.CHECK_SUBMITTED)
    same_keys_as_example(submitted)
    assert submitted.data["check_id"] == check.json()["id"]
    mark = await position(app)
    twice = await client.post(f"/api/v1/campaigns/{campaign.id}/checks", json=GUT_CHECK, headers=employee)
    assert twice.status_code == 409
    assert await events_after(app, mark) == []

    own = await client.post(
        f"/api/v1/checks/{check.json()['id']}/grade", json={"result": "passed"}, headers=employee
    )
    assert own.status_code in (403, 404)
    graded = await client.post(
        f"/api/v1/checks/{check.json()['id']}/grade",
        json={"result": "passed"},
        headers=callers.headers("editor"),
    )
    assert graded.status_code == 200, graded.text
    event = only(await events_after(app, mark), EventType.CHECK_GRADED)
    same_keys_as_example(event)
    assert event.data["grade"] == "passed"
    assert event.data["person_id"] == str(person.id)
    assert event.data["campaign_id"] == str(campaign.id)
    assert event.data["graded_by"] == str(callers.people["editor"].id)


async def test_a_check_without_an_acknowledgement_records_one_too(app, client, callers):
    campaign = await make_campaign(app, roles=["employee"])
    mark = await position(app)
    check = await client.post(
        f"/api/v1/campaigns/{campaign.id}/checks", json=GUT_CHECK, headers=callers.headers("employee")
    )
    assert check.status_code == 201, check.text
    events = await events_after(app, mark)
    assert sorted(e.type for e in events) == ["acknowledgement.recorded", "check.submitted"]


# --- feedback -------------------------------------------------------------------------------------


def _item(external_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "source": "nps",
        "external_id": external_id,
        "body": "請求書の読み取りが速い",
        "nps_score": 9,
        **overrides,
    }


async def test_a_batch_emits_one_feedback_ingested_with_counts(app, client):
    product = await make_product(app)
    headers = bearer(await service_token(app, client, "feedback:write"))
    items = [_item(unique("nps"), product_key=product.key) for _ in range(5)]
    items.append({"source": "nps", "external_id": unique("nps"), "body": "no score"})  # rejected
    mark = await position(app)
    response = await client.post("/api/v1/feedback/batch", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 5
    events = await events_after(app, mark)
    assert [e.type for e in events] == ["feedback.ingested"]  # one per batch, not per item
    event = events[0]
    same_keys_as_example(event)
    assert {k: event.data[k] for k in ("created", "updated", "unchanged", "rejected")} == {
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert event.data["product_keys"] == [product.key]
    assert event.data["filed_by_client"]

    mark = await position(app)
    same = await client.post("/api/v1/feedback/batch", json={"items": items[:5]}, headers=headers)
    assert same.json()["unchanged"] == 5
    assert await events_after(app, mark) == []  # nothing changed: nothing to tell


async def test_a_refused_batch_emits_nothing(app, client, callers):
    mark = await position(app)
    items = [{"source": "other", "body": "x"}] * 10_001
    response = await client.post(
        "/api/v1/feedback/batch", json={"items": items}, headers=callers.headers("editor")
    )
    assert response.status_code == 422
    assert await events_after(app, mark) == []


async def test_transitioning_feedback_emits_feedback_transitioned(app, client, callers):
    product = await make_product(app)
    editor = callers.headers("editor")
    filed = await client.post(
        "/api/v1/feedback",
        json={"source": "sales", "body": "請求書が多すぎる", "product_key": product.key},
        headers=editor,
    )
    assert filed.status_code == 201, filed.text
    item = filed.json()
    mark = await position(app)
    skipped = await client.post(
        f"/api/v1/feedback/{item['id']}/transition", json={"to": "decided"}, headers=editor
    )
    assert skipped.status_code == 409
    assert await events_after(app, mark) == []
    moved = await client.post(
        f"/api/v1/feedback/{item['id']}/transition", json={"to": "triaged"}, headers=editor
    )
    assert moved.status_code == 200, moved.text
    event = only(await events_after(app, mark), EventType.FEEDBACK_TRANSITIONED)
    same_keys_as_example(event)
    assert event.data["feedback_id"] == item["id"]
    assert (event.data["from"], event.data["to"]) == ("new", "triaged")
    assert event.product_key == event.data["product_key"] == product.key
    assert event.data["actor_id"] == str(callers.people["editor"].id)


async def test_filing_one_item_emits_one_feedback_ingested(app, client, callers):
    mark = await position(app)
    filed = await client.post(
        "/api/v1/feedback", json={"source": "sales", "body": "速い"}, headers=callers.headers("editor")
    )
    assert filed.status_code == 201, filed.text
    event = only(await events_after(app, mark), EventType.FEEDBACK_INGESTED)
    assert event.data["created"] == 1 and event.data["rejected"] == 0


# --- people, also through SCIM ---------------------------------------------------------------------


async def test_people_created_and_deactivated_emit_onboarded_and_left(app, client, callers):
    admin = callers.headers("admin")
    department = callers.people["employee"].department_key
    mark = await position(app)
    body = {
        "email": f"{unique('new')}@example.com",
        "display_name": "新人 花子",
        "department_key": department,
    }
    created = await client.post("/api/v1/people", json=body, headers=admin)
    assert created.status_code == 201, created.text
    person = created.json()
    event = only(await events_after(app, mark), EventType.PERSON_ONBOARDED)
    same_keys_as_example(event)
    assert event.data["person_id"] == person["id"] and event.data["email"] == body["email"]
    assert event.data["department_key"] == department and event.data["role"] == "employee"

    mark = await position(app)
    renamed = await client.patch(
        f"/api/v1/people/{person['id']}", json={"display_name": "改名"}, headers=admin
    )
    assert renamed.status_code == 200
    assert await events_after(app, mark) == []  # not a lifecycle change
    left = await client.patch(f"/api/v1/people/{person['id']}", json={"active": False}, headers=admin)
    assert left.status_code == 200, left.text
    event = only(await events_after(app, mark), EventType.PERSON_LEFT)
    same_keys_as_example(event)
    assert event.data["person_id"] == person["id"] and event.data["department_key"] == department

    mark = await position(app)
    back = await client.patch(f"/api/v1/people/{person['id']}", json={"active": True}, headers=admin)
    assert back.status_code == 200
    only(await events_after(app, mark), EventType.PERSON_ONBOARDED)

    mark = await position(app)
    taken = await client.post("/api/v1/people", json=body, headers=admin)
    assert taken.status_code == 409
    assert await events_after(app, mark) == []


async def test_scim_provisioning_and_delete_emit_onboarded_and_left(app, client, callers):
    hr = callers.headers("svc_people")
    scim = {**hr, "Content-Type": "application/scim+json"}
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"{unique('scim')}@example.com",
        "displayName": "新人 花子",
    }
    mark = await position(app)
    created = await client.post("/scim/v2/Users", json=user, headers=scim)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    event = only(await events_after(app, mark), EventType.PERSON_ONBOARDED)
    assert event.data["email"] == user["userName"]

    mark = await position(app)
    deleted = await client.delete(f"/scim/v2/Users/{user_id}", headers=hr)
    assert deleted.status_code == 204, deleted.text
    event = only(await events_after(app, mark), EventType.PERSON_LEFT)
    assert event.data["email"] == user["userName"]
    mark = await position(app)
    assert (await client.delete(f"/scim/v2/Users/{user_id}", headers=hr)).status_code == 404
    assert await events_after(app, mark) == []


async def test_a_published_brief_from_the_helpers_left_its_events(app):
    """Setup through the services emits too: the factories' published brief wrote its events."""
    mark = await position(app)
    brief = await published_brief(app)
    types = [e.type for e in await events_after(app, mark)]
    assert types.count("brief.published") == 1 and types.count("pitch.changed") == 1
    assert brief.status == "published"
