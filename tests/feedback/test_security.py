"""Feedback from the attacker's side (issue 9, findings 1 and 15).

An employee must not pre-claim an integration's ticket key and so read or rewrite the customer's
ticket; must not inject NPS, survey or support voice; an integration must not inherit a person as
filer; and a `feedback:write` pipe must not learn which e-mails are employees, nor which items
exist that it could not read.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import sqlalchemy as sa

from service.db import utcnow
from service.feedback.models import FeedbackItem
from tests.factories import bearer, make_person, service_token, token_for, unique
from tests.feedback.test_ingest import JA_BODY, batch, count_items, ingest_headers, stored, ticket

CUSTOMER_TICKET = "請求書の金額が二重に計上された。顧客: 株式会社みどり商事、担当: 経理部 山本様"


async def listed_ids(client, headers) -> set[str]:
    response = await client.get("/api/v1/feedback", headers=headers)
    assert response.status_code == 200, response.text
    return {i["id"] for i in response.json()["items"]}


async def feed_ids(client, headers) -> set[str]:
    response = await client.get("/api/v1/me/feed", headers=headers)
    assert response.status_code == 200, response.text
    return {i["feedback_id"] for i in response.json()["items"] if i["kind"] == "feedback_loop"}


# --- finding 1: pre-claimed integration keys -------------------------------------------------------


async def test_an_employee_cannot_pre_claim_a_support_ticket_key(app, client, callers):
    employee = callers.headers("employee")
    claim = {"source": "support", "external_id": "ZD-969460", "body": "placeholder"}
    refused = await client.post("/api/v1/feedback", json=claim, headers=employee)
    assert refused.status_code == 422, refused.text
    assert {e["field"] for e in refused.json()["errors"]} == {"source", "external_id"}
    # Not with a source people may file either: people never choose a key.
    as_sales = await client.post("/api/v1/feedback", json={**claim, "source": "sales"}, headers=employee)
    assert as_sales.status_code == 422
    assert [e["field"] for e in as_sales.json()["errors"]] == ["external_id"]
    in_batch = await batch(client, employee, [claim, {**claim, "source": "sales"}])
    assert in_batch["created"] == 0 and [e["index"] for e in in_batch["errors"]] == [0, 1]
    assert await count_items(app) == 0

    # The support tool pushes the real ticket: nobody follows it, the employee never sees it.
    tool = await ingest_headers(app, client)
    pushed = await client.post(
        "/api/v1/feedback",
        json=ticket(external_id="ZD-969460", body=CUSTOMER_TICKET),
        headers=tool,
    )
    assert pushed.status_code == 201, pushed.text
    (row,) = await stored(app)
    assert row.filed_by_id is None and row.filed_by_client
    assert str(row.id) not in await listed_ids(client, employee)
    assert str(row.id) not in await feed_ids(client, employee)
    assert (await client.get(f"/api/v1/feedback/{row.id}", headers=employee)).status_code == 404


async def test_people_file_only_what_they_heard_first_hand(app, client, callers):
    employee = callers.headers("employee")
    for caller in ("employee", "manager", "editor", "admin"):
        for source, extra in (("nps", {"nps_score": 0}), ("survey", {}), ("support", {})):
            response = await client.post(
                "/api/v1/feedback",
                json={"source": source, "body": "最悪", **extra},
                headers=callers.headers(caller),
            )
            assert response.status_code == 422, (caller, source, response.text)
            assert [e["field"] for e in response.json()["errors"]] == ["source"]
    injected = await batch(client, employee, [{"source": "nps", "nps_score": 0, "body": "最悪"}] * 3)
    assert injected["created"] == 0 and len(injected["errors"]) == 3
    assert await count_items(app) == 0  # the weekly NPS is the survey's, not an employee's

    for source in ("sales", "interview", "other"):
        filed = await client.post(
            "/api/v1/feedback", json={"source": source, "body": "商談で聞いた声"}, headers=employee
        )
        assert filed.status_code == 201, filed.text
        assert filed.json()["external_id"].startswith("cuecard:")
    # Integrations file every source.
    tool = await ingest_headers(app, client)
    result = await batch(
        client,
        tool,
        [
            {"source": "nps", "external_id": "R-1", "nps_score": 9, "body": "良い"},
            {"source": "survey", "external_id": "S-1", "body": "便利"},
            ticket(),
        ],
    )
    assert result["created"] == 3 and result["errors"] == []


async def test_integrations_may_not_send_keys_in_the_services_own_space(app, client, callers):
    mine = await client.post(
        "/api/v1/feedback", json={"source": "sales", "body": JA_BODY}, headers=callers.headers("employee")
    )
    key = mine.json()["external_id"]
    assert key.startswith("cuecard:")
    tool = await ingest_headers(app, client)
    for external_id in (key, "cuecard:anything", "CueCard:anything"):
        response = await client.post(
            "/api/v1/feedback",
            json={"source": "sales", "external_id": external_id, "body": "上書き"},
            headers=tool,
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["type"] == "reserved"
    result = await batch(client, tool, [{"source": "sales", "external_id": key, "body": "上書き"}])
    assert result["created"] == result["updated"] == 0 and len(result["errors"]) == 1
    (row,) = await stored(app)
    assert row.body == JA_BODY and row.filed_by_id == callers.people["employee"].id
    # "cuecard-…" (a hyphen) is an integration's ordinary key, not the reserved prefix.
    plain = await client.post(
        "/api/v1/feedback", json={"source": "sales", "external_id": "cuecard-1", "body": "x"}, headers=tool
    )
    assert plain.status_code == 201


async def _legacy_person_claim(app, person_id: uuid.UUID, external_id: str, content_hash: str) -> uuid.UUID:
    """A row as the old code left it: a person filed an integration's key under their own name."""
    now = utcnow()
    item_id = uuid.uuid4()
    async with app.state.sessionmaker() as session:
        await session.execute(
            sa.insert(FeedbackItem.__table__).values(  # type: ignore[attr-defined]
                id=item_id,
                source="support",
                external_id=external_id,
                body="placeholder",
                tags=[],
                received_at=now,
                content_hash=content_hash,
                status="new",
                filed_by_id=person_id,
                filed_by_client=None,
                created_at=now,
                updated_at=now,
                revision=1,
            )
        )
        await session.commit()
    return item_id


async def test_an_integration_upsert_never_inherits_a_person_as_filer(app, client, callers):
    """Keys people claimed before they had their own key space: the integration takes them over."""
    employee = callers.people["employee"]
    headers = callers.headers("employee")
    sent = ticket(external_id="ZD-1", body=CUSTOMER_TICKET)
    changed = await _legacy_person_claim(app, employee.id, "ZD-1", "0" * 64)
    # Even a re-send identical to what is stored (same content hash) takes the row over.
    same_sent = ticket(external_id="ZD-2", body=CUSTOMER_TICKET)
    same_hash = hashlib.sha256(
        __import__("service.feedback.ingest", fromlist=["_canonical"])._canonical(same_sent)
    ).hexdigest()
    unchanged = await _legacy_person_claim(app, employee.id, "ZD-2", same_hash)
    assert {str(changed), str(unchanged)} <= await listed_ids(client, headers)  # the old exposure

    tool = await ingest_headers(app, client)
    result = await batch(client, tool, [sent, same_sent])
    assert (result["created"], result["updated"], result["errors"]) == (0, 2, [])
    rows = {r.external_id: r for r in await stored(app)}
    for key in ("ZD-1", "ZD-2"):
        assert rows[key].filed_by_id is None and rows[key].filed_by_client
    assert rows["ZD-1"].body == CUSTOMER_TICKET
    assert not {str(changed), str(unchanged)} & await listed_ids(client, headers)
    assert not {str(changed), str(unchanged)} & await feed_ids(client, headers)
    for item_id in (changed, unchanged):
        assert (await client.get(f"/api/v1/feedback/{item_id}", headers=headers)).status_code == 404

    # The single-item door behaves the same.
    single = await _legacy_person_claim(app, employee.id, "ZD-3", "0" * 64)
    pushed = await client.post("/api/v1/feedback", json=ticket(external_id="ZD-3"), headers=tool)
    assert pushed.status_code == 200, pushed.text
    assert (await client.get(f"/api/v1/feedback/{single}", headers=headers)).status_code == 404


async def test_the_employee_an_integration_names_follows_read_only(app, client, callers):
    employee = callers.people["employee"]
    headers = callers.headers("employee")
    tool = await ingest_headers(app, client)
    pushed = await client.post(
        "/api/v1/feedback",
        json=ticket(external_id="SF-42", source="sales", filed_by_email=employee.email),
        headers=tool,
    )
    assert pushed.status_code == 201, pushed.text
    item_id = pushed.json()["id"]
    assert item_id in await listed_ids(client, headers)
    assert item_id in await feed_ids(client, headers)
    assert (await client.get(f"/api/v1/feedback/{item_id}", headers=headers)).status_code == 200

    # Read-only: no triage, no edit, and no way to upsert onto the integration's key.
    assert (
        await client.patch(f"/api/v1/feedback/{item_id}", json={"tags": ["x"]}, headers=headers)
    ).status_code == 403
    assert (
        await client.post(f"/api/v1/feedback/{item_id}/transition", json={"to": "triaged"}, headers=headers)
    ).status_code == 403
    rewrite = await client.post(
        "/api/v1/feedback",
        json={"source": "sales", "external_id": "SF-42", "body": "書き換え"},
        headers=headers,
    )
    assert rewrite.status_code == 422
    (row,) = await stored(app)
    assert row.body == JA_BODY and row.revision == 1

    # A re-send without naming anyone keeps who listened.
    again = await client.post(
        "/api/v1/feedback", json=ticket(external_id="SF-42", source="sales", body="追記"), headers=tool
    )
    assert again.status_code == 200
    assert (await stored(app))[0].filed_by_id == employee.id


# --- finding 15: enumeration oracles ----------------------------------------------------------------


async def test_a_write_only_token_cannot_tell_which_e_mails_are_employees(app, client, callers):
    tool = await ingest_headers(app, client)
    known = callers.people["employee"].email
    unknown = f"{unique('nobody')}@example.com"

    def answer_shape(response) -> tuple[int, Any]:
        body = response.json()
        return response.status_code, {k: body[k] for k in ("filed_by_id", "status", "source")}

    answers = []
    for email in (known, unknown):
        response = await client.post("/api/v1/feedback", json=ticket(filed_by_email=email), headers=tool)
        answers.append(answer_shape(response))
    assert answers[0] == answers[1] == (201, {"filed_by_id": None, "status": "new", "source": "support"})

    results = [
        await batch(client, tool, [ticket(filed_by_email=email) for _ in range(2)])
        for email in (known, unknown)
    ]
    assert results[0] == results[1] == {"created": 2, "updated": 0, "unchanged": 0, "errors": []}
    # Stored as asked: the known employee follows theirs; the unknown e-mail files with no filer.
    filers = [r.filed_by_id for r in await stored(app)]
    assert filers.count(callers.people["employee"].id) == 3 and filers.count(None) == 3

    # GraphQL is the same service: no error there either.
    response = await client.post(
        "/graphql",
        json={
            "query": 'mutation($e: String) { createFeedback(input: {source: SUPPORT, body: "x",'
            " filedByEmail: $e}) { status } }",
            "variables": {"e": unknown},
        },
        headers=tool,
    )
    assert response.status_code == 200 and "errors" not in response.json(), response.text


async def test_no_answer_reveals_a_colleagues_item(app, client, callers):
    colleague = await make_person(app, role="employee")
    theirs = await client.post(
        "/api/v1/feedback",
        json={"source": "sales", "body": CUSTOMER_TICKET},
        headers=bearer(token_for(app, colleague)),
    )
    key = theirs.json()["external_id"]
    employee = callers.headers("employee")
    # Sending the colleague's key is refused for sending a key at all: 422, whether it exists or not.
    for external_id in (key, f"cuecard:{uuid.uuid4().hex}"):
        response = await client.post(
            "/api/v1/feedback",
            json={"source": "sales", "external_id": external_id, "body": "x"},
            headers=employee,
        )
        assert response.status_code == 422
        assert [e["type"] for e in response.json()["errors"]] == ["forbidden"]
    # The same words filed by the employee are their own item, never a 409.
    same = await client.post(
        "/api/v1/feedback", json={"source": "sales", "body": CUSTOMER_TICKET}, headers=employee
    )
    assert same.status_code == 201 and same.json()["id"] != theirs.json()["id"]
    assert (await client.get(f"/api/v1/feedback/{theirs.json()['id']}", headers=employee)).status_code == 404


async def test_integrations_share_one_key_space_and_upsert_by_source_and_external_id(app, client):
    """The documented choice: a ticket id is the source's, whichever integration sends it (a
    re-import by a second client updates, never duplicates); no answer between them is a 409."""
    first = await ingest_headers(app, client)
    second = bearer(await service_token(app, client, "feedback:write"))
    created = await client.post("/api/v1/feedback", json=ticket(external_id="ZD-7"), headers=first)
    assert created.status_code == 201
    updated = await client.post(
        "/api/v1/feedback", json=ticket(external_id="ZD-7", body="再送"), headers=second
    )
    assert updated.status_code == 200 and updated.json()["id"] == created.json()["id"]
    assert await count_items(app) == 1
