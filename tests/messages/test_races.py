"""Messages under concurrency (finding 2) and four eyes where the author is not the last editor.

Publishing is the approving step of a message in review: exactly one of many concurrent
publishes wins, a publish racing a request for changes keeps exactly one, edits racing on one
ETag keep exactly one, and nobody who wrote the version publishes it.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from service.messages.models import Message
from tests.factories import bearer, make_person, token_for
from tests.racing import assert_one_winner, race

KEY_MESSAGE = {
    "kind": "key_message",
    "locale": "ja",
    "title": "私たちは時間を売る",
    "body": "経理の入力作業を週3時間減らします。",
    "evidence_ids": [],
}


async def _editors(app, n: int, role: str = "editor") -> list[dict[str, str]]:
    return [bearer(token_for(app, await make_person(app, role=role))) for _ in range(n)]


async def _create(client, headers, **overrides) -> tuple[dict, str]:
    response = await client.post("/api/v1/messages", json={**KEY_MESSAGE, **overrides}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json(), response.headers["etag"]


async def _submit(client, headers, message_id) -> str:
    response = await client.post(f"/api/v1/messages/{message_id}/submit", headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["etag"]


async def _row(app, message_id) -> Message:
    async with app.state.sessionmaker() as session:
        found = await session.execute(sa.select(Message).where(Message.id == uuid.UUID(str(message_id))))
        return found.scalar_one()


async def test_concurrent_publishes_publish_once(app, client, callers):
    message, _ = await _create(client, callers.headers("editor"))
    await _submit(client, callers.headers("editor"), message["id"])
    publishers = await _editors(app, 6)
    responses = await race(
        app, [("POST", f"/api/v1/messages/{message['id']}/publish", {"headers": h}) for h in publishers]
    )
    winner = assert_one_winner(responses)
    row = await _row(app, message["id"])
    assert row.status == "published"
    assert row.published_at.isoformat().replace("+00:00", "Z") == winner.json()["published_at"]
    etag = (await client.get(f"/api/v1/messages/{message['id']}", headers=callers.headers("editor"))).headers[
        "etag"
    ]
    assert etag == winner.headers["etag"]  # one change: the winner's version is the current one


async def test_a_request_for_changes_racing_the_publish_one_wins(app, client, callers):
    """The publisher approves the version they read (If-Match); a request for changes at the
    same time either lands before (the publish is then 412 or 409) or is refused (409)."""
    (reviewer,) = await _editors(app, 1)
    for _ in range(5):
        message, _ = await _create(client, callers.headers("editor"))
        etag = await _submit(client, callers.headers("editor"), message["id"])
        url = f"/api/v1/messages/{message['id']}"
        publish, send_back = await race(
            app,
            [
                ("POST", f"{url}/publish", {"headers": {**callers.headers("admin"), "If-Match": etag}}),
                (
                    "POST",
                    f"{url}/request-changes",
                    {"headers": reviewer, "json": {"comment": "数字の出典を"}},
                ),
            ],
        )
        winner = assert_one_winner([publish, send_back], lost=frozenset({409, 412}))
        row = await _row(app, message["id"])
        if winner is publish:
            assert row.status == "published"
        else:
            assert (row.status, row.review_comment) == ("draft", "数字の出典を")


async def test_concurrent_edits_with_one_etag_keep_exactly_one(app, client, callers):
    message, etag = await _create(client, callers.headers("editor"))
    editors = await _editors(app, 5)
    responses = await race(
        app,
        [
            (
                "PATCH",
                f"/api/v1/messages/{message['id']}",
                {"headers": {**h, "If-Match": etag}, "json": {"title": f"題 {i}"}},
            )
            for i, h in enumerate(editors)
        ],
    )
    winner = assert_one_winner(responses, lost=frozenset({412}))
    row = await _row(app, message["id"])
    assert row.title == winner.json()["title"]
    assert row.revision == message_revision(etag) + 1


def message_revision(etag: str) -> int:
    return int(etag.strip('"').removeprefix("v"))


async def test_a_weak_etag_never_matches_if_match(app, client, callers):
    editor = callers.headers("editor")
    message, etag = await _create(client, editor)
    url = f"/api/v1/messages/{message['id']}"
    weak = await client.patch(url, json={"title": "弱い"}, headers={**editor, "If-Match": f"W/{etag}"})
    assert weak.status_code == 412
    assert (await _row(app, message["id"])).title == KEY_MESSAGE["title"]
    weak_publish = await client.post(
        f"{url}/publish", headers={**callers.headers("admin"), "If-Match": f"W/{etag}"}
    )
    assert weak_publish.status_code == 412
    assert (
        await client.patch(url, json={"title": "強い"}, headers={**editor, "If-Match": etag})
    ).status_code == 200


async def test_neither_author_nor_last_editor_may_publish_a_third_person_may(app, client, callers):
    author = callers.headers("editor")
    (colleague,) = await _editors(app, 1)
    message, etag = await _create(client, author)
    url = f"/api/v1/messages/{message['id']}"
    edited = await client.patch(url, json={"body": "同僚が直した"}, headers={**colleague, "If-Match": etag})
    assert edited.status_code == 200
    assert edited.json()["last_editor_id"] != edited.json()["author_id"]
    await _submit(client, author, message["id"])
    for who in (author, colleague):
        refused = await client.post(f"{url}/publish", headers=who)
        assert refused.status_code == 403, refused.text
        assert "Four eyes" in refused.json()["detail"]
    assert (await _row(app, message["id"])).status == "in_review"
    assert (await client.post(f"{url}/publish", headers=callers.headers("admin"))).status_code == 200


async def test_replacing_cited_evidence_makes_the_replacer_last_editor(app, client, callers):
    author = callers.headers("editor")
    (replacer,) = await _editors(app, 1)
    evidence = await client.post(
        "/api/v1/evidence",
        json={
            "kind": "metric",
            "claim": "パイロット5社で入力時間が週3時間減少",
            "source": "2026年パイロット調査",
        },
        headers=author,
    )
    assert evidence.status_code == 201, evidence.text
    message, etag = await _create(client, author, evidence_ids=[evidence.json()["id"]])
    replaced = await client.post(
        f"/api/v1/evidence/{evidence.json()['id']}/replace",
        json={"kind": "metric", "claim": "導入20社で週3.5時間減少", "source": "2026年下期調査"},
        headers=replacer,
    )
    assert replaced.status_code == 201, replaced.text
    url = f"/api/v1/messages/{message['id']}"
    assert (await client.get(url, headers=author)).headers["etag"] != etag
    await _submit(client, author, message["id"])
    assert (await client.post(f"{url}/publish", headers=replacer)).status_code == 403
    assert (await client.post(f"{url}/publish", headers=callers.headers("admin"))).status_code == 200
