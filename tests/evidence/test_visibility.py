"""Unpublished evidence from the attacker's side (issue 9, finding 6), and what a `briefs:read`
integration may and may not read.

Evidence is visible to a caller only through something that caller may see — a published brief
or message citing it — or to its owner, and to editors, managers and admins. Evidence cited only
by a draft or in-review brief answers 404 and is absent from every list, over REST and GraphQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import bearer, make_brief, make_product, service_token
from tests.messages.test_messages import make_evidence
from tests.pitch.test_pitch import publish_message
from tests.test_graphql import gql

READERS_OF_PUBLISHED = ("employee", "svc_pitch", "briefs_read")
REVIEWERS = ("manager", "editor", "admin")


@pytest.fixture
async def world(app, client, callers) -> dict[str, Any]:
    """A draft, an in-review and a published brief, each with its own inline evidence; an
    uncited item; one cited by a published message; callers including a `briefs:read` token."""
    author = callers.people["editor"]
    briefs = {}
    for status in ("draft", "in_review", "published"):
        product = await make_product(app)
        briefs[status] = await make_brief(
            app,
            author,
            product.key,
            status=status,
            evidence=[{"kind": "metric", "claim": f"{status}: 入力時間が週3時間減少", "source": "社内調査"}],
        )
    evidence = {status: str(brief.evidence[0].id) for status, brief in briefs.items()}
    evidence["uncited"] = await make_evidence(app)
    evidence["message"] = await make_evidence(app)
    await publish_message(
        client,
        callers.headers("editor"),
        callers.headers("admin"),
        kind="key_message",
        title="入力作業を減らす",
        body="週3時間の入力作業が消えます。",
        evidence_ids=[evidence["message"]],
    )
    headers = {name: callers.headers(name) for name in (*REVIEWERS, "employee", "svc_pitch")}
    headers["briefs_read"] = bearer(await service_token(app, client, "briefs:read"))
    return {"briefs": briefs, "evidence": evidence, "headers": headers}


HIDDEN = ("draft", "in_review", "uncited")
SHOWN = ("published", "message")


async def every_listed_id(client, headers, limit: int = 2) -> list[str]:
    """Walk the whole list page by page (a filter applied after paging would lose items)."""
    ids: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        response = await client.get("/api/v1/evidence", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        ids += [item["id"] for item in page["items"]]
        if not page["next_cursor"]:
            return ids
        params["cursor"] = page["next_cursor"]


async def test_evidence_of_unpublished_briefs_is_404_for_employees_and_integrations(client, world):
    for caller in READERS_OF_PUBLISHED:
        headers = world["headers"][caller]
        for name in HIDDEN:
            response = await client.get(f"/api/v1/evidence/{world['evidence'][name]}", headers=headers)
            assert response.status_code == 404, (caller, name, response.text)
        for name in SHOWN:
            response = await client.get(f"/api/v1/evidence/{world['evidence'][name]}", headers=headers)
            assert response.status_code == 200, (caller, name, response.text)
    for caller in REVIEWERS:
        for name in (*HIDDEN, *SHOWN):
            response = await client.get(
                f"/api/v1/evidence/{world['evidence'][name]}", headers=world["headers"][caller]
            )
            assert response.status_code == 200, (caller, name)


async def test_lists_leave_unpublished_evidence_out_and_still_page_completely(client, world):
    hidden = {world["evidence"][name] for name in HIDDEN}
    shown = {world["evidence"][name] for name in SHOWN}
    for caller in READERS_OF_PUBLISHED:
        ids = await every_listed_id(client, world["headers"][caller])
        assert len(ids) == len(set(ids)) and set(ids) == shown, caller
    for caller in REVIEWERS:
        assert set(await every_listed_id(client, world["headers"][caller])) == hidden | shown
    # The expired filter runs over the same visible set.
    response = await client.get(
        "/api/v1/evidence", params={"expired": "true"}, headers=world["headers"]["employee"]
    )
    assert response.json()["items"] == []


async def test_graphql_hides_the_same_items(client, world):
    listing = "{ evidence(first: 50) { edges { node { id } } } }"
    item = "query($id: ID!) { evidenceItem(id: $id) { id claim } }"
    for caller in READERS_OF_PUBLISHED:
        headers = world["headers"][caller]
        status, body = await gql(client, listing, headers)
        assert status == 200 and "errors" not in body, body
        ids = {edge["node"]["id"] for edge in body["data"]["evidence"]["edges"]}
        assert ids == {world["evidence"][name] for name in SHOWN}, caller
        for name in HIDDEN:
            _, body = await gql(client, item, headers, {"id": world["evidence"][name]})
            assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", (caller, name)
        _, body = await gql(client, item, headers, {"id": world["evidence"]["published"]})
        assert body["data"]["evidenceItem"]["id"] == world["evidence"]["published"]
    _, body = await gql(client, item, world["headers"]["manager"], {"id": world["evidence"]["draft"]})
    assert body["data"]["evidenceItem"]["id"] == world["evidence"]["draft"]


async def test_acting_on_unseen_evidence_is_404_not_403(client, world):
    headers = world["headers"]["employee"]
    draft = world["evidence"]["draft"]
    assert (await client.post(f"/api/v1/evidence/{draft}/verify", headers=headers)).status_code == 404
    replace = await client.post(
        f"/api/v1/evidence/{draft}/replace",
        json={"kind": "case", "claim": "x", "source": "y"},
        headers=headers,
    )
    assert replace.status_code == 404
    # What they can see but may not change stays 403.
    published = world["evidence"]["published"]
    assert (await client.post(f"/api/v1/evidence/{published}/verify", headers=headers)).status_code == 403


async def test_the_owner_of_a_claim_sees_it_before_it_is_published(app, client, callers):
    owner = callers.people["employee"]
    created = await client.post(
        "/api/v1/evidence",
        json={
            "kind": "quote",
            "claim": "「月末が楽になった」",
            "source": "A社 経理部",
            "owner_id": str(owner.id),
        },
        headers=callers.headers("editor"),
    )
    evidence_id = created.json()["id"]
    assert (
        await client.get(f"/api/v1/evidence/{evidence_id}", headers=callers.headers("employee"))
    ).status_code == 200
    verified = await client.post(
        f"/api/v1/evidence/{evidence_id}/verify", headers=callers.headers("employee")
    )
    assert verified.status_code == 200  # they answer for it
    assert evidence_id in await every_listed_id(client, callers.headers("employee"))


# --- a briefs:read integration ------------------------------------------------------------------


async def test_a_briefs_read_integration_reads_published_work_and_nothing_unpublished(client, world):
    headers = world["headers"]["briefs_read"]
    briefs = world["briefs"]
    published = briefs["published"]
    listed = await client.get("/api/v1/briefs", headers=headers)
    assert listed.status_code == 200
    assert [b["id"] for b in listed.json()["items"]] == [str(published.id)]
    one = await client.get(f"/api/v1/briefs/{published.id}", headers=headers)
    assert one.status_code == 200
    assert [e["id"] for e in one.json()["evidence"]] == [world["evidence"]["published"]]
    for status in ("draft", "in_review"):
        assert (await client.get(f"/api/v1/briefs/{briefs[status].id}", headers=headers)).status_code == 404
        assert (
            await client.get(f"/api/v1/evidence/{world['evidence'][status]}", headers=headers)
        ).status_code == 404
    pitch = await client.get(f"/api/v1/pitch/{published.product_key}", headers=headers)
    assert pitch.status_code == 200
    assert (
        await client.get(f"/api/v1/pitch/{briefs['draft'].product_key}", headers=headers)
    ).status_code == 404

    # It reads; it writes nothing and reviews nothing.
    writes = [
        await client.post(
            "/api/v1/briefs", json={"product_key": published.product_key, "title": "x"}, headers=headers
        ),
        await client.post(f"/api/v1/briefs/{briefs['in_review'].id}/approve", headers=headers),
        await client.post(
            "/api/v1/evidence", json={"kind": "case", "claim": "x", "source": "y"}, headers=headers
        ),
        await client.post(f"/api/v1/evidence/{world['evidence']['published']}/verify", headers=headers),
    ]
    assert [r.status_code for r in writes] == [403, 404, 403, 403], [r.text for r in writes]
    # Nor does it read the feedback hub or the directory.
    assert (await client.get("/api/v1/feedback", headers=headers)).status_code == 403
