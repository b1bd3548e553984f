"""Briefs under concurrency (finding 2) and four eyes where the author is not the last editor.

Each race fires its conflicting requests at once, each over its own connection: exactly one
changes the brief, the others are told 409 (412 when their If-Match went stale), never 500,
and the database holds exactly the one change. On SQLite this needs the write lock that
`SELECT … FOR UPDATE` takes there (service/db.py); on PostgreSQL the row lock.
"""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa

from service.briefs.models import Brief
from tests.factories import bearer, complete_brief, make_person, make_product, token_for
from tests.racing import assert_one_winner, race


async def _create(client, headers, body) -> tuple[dict, str]:
    response = await client.post("/api/v1/briefs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json(), response.headers["etag"]


async def _people(app, role: str, n: int) -> list[dict[str, str]]:
    return [bearer(token_for(app, await make_person(app, role=role))) for _ in range(n)]


async def _in_review(client, author, product_key) -> dict:
    brief, _ = await _create(client, author, complete_brief(product_key))
    submitted = await client.post(f"/api/v1/briefs/{brief['id']}/submit", headers=author)
    assert submitted.status_code == 200, submitted.text
    return submitted.json()


async def _rows(app, lineage_id) -> list[Brief]:
    async with app.state.sessionmaker() as session:
        found = await session.execute(sa.select(Brief).where(Brief.lineage_id == uuid.UUID(str(lineage_id))))
        return list(found.scalars())


async def test_six_concurrent_approvals_publish_once(app, client, callers):
    product = await make_product(app)
    brief = await _in_review(client, callers.headers("editor"), product.key)
    reviewers = [await make_person(app, role="manager") for _ in range(6)]
    responses = await race(
        app,
        [
            ("POST", f"/api/v1/briefs/{brief['id']}/approve", {"headers": bearer(token_for(app, r))})
            for r in reviewers
        ],
    )
    winner = assert_one_winner(responses)
    (row,) = await _rows(app, brief["lineage_id"])
    assert row.status == "published"
    assert row.revision == brief["revision"] + 1  # one change, not six
    assert row.published_by_id == reviewers[responses.index(winner)].id  # the one told 200 did it


async def test_approval_racing_request_changes_one_wins(app, client, callers):
    product = await make_product(app)
    for _ in range(5):
        brief = await _in_review(client, callers.headers("editor"), product.key)
        url = f"/api/v1/briefs/{brief['id']}"
        approve, send_back = await race(
            app,
            [
                ("POST", f"{url}/approve", {"headers": callers.headers("manager")}),
                (
                    "POST",
                    f"{url}/request-changes",
                    {"headers": callers.headers("admin"), "json": {"comment": "直して"}},
                ),
            ],
        )
        winner = assert_one_winner([approve, send_back])
        (row,) = await _rows(app, brief["lineage_id"])
        assert row.status == ("published" if winner is approve else "draft")
        assert (row.published_at is not None) == (winner is approve)
        if winner is approve:  # the version is no longer in the review pipeline
            archived = await client.post(f"{url}/archive", headers=callers.headers("editor"))
            assert archived.status_code == 200


async def test_an_authors_edit_never_goes_live_by_racing_the_approval(app, client, callers):
    """The reviewer approves the content they read (If-Match); the author meanwhile pulls the
    brief back, rewrites it and resubmits. Replayed 20 times: what is published is always what
    the reviewer read, or nothing is published and the reviewer is told 412/409."""
    product = await make_product(app)
    author = callers.headers("editor")
    reviewer = callers.headers("manager")
    for attempt in range(20):
        brief = await _in_review(client, author, product.key)
        url = f"/api/v1/briefs/{brief['id']}"
        read = await client.get(url, headers=reviewer)
        reviewed = read.json()["value_proposition"]

        async def authors_rewrite(url: str = url, attempt: int = attempt) -> list[int]:
            codes = []
            back = await client.post(f"{url}/request-changes", json={"comment": "自分で直す"}, headers=author)
            codes.append(back.status_code)
            if back.status_code != 200:
                return codes
            edit = await client.patch(
                url,
                json={"value_proposition": f"未レビューの主張 {attempt}"},
                headers={**author, "If-Match": back.headers["etag"]},
            )
            codes.append(edit.status_code)
            if edit.status_code == 200:
                codes.append((await client.post(f"{url}/submit", headers=author)).status_code)
            return codes

        approval, author_codes = await asyncio.gather(
            race(
                app, [("POST", f"{url}/approve", {"headers": {**reviewer, "If-Match": read.headers["etag"]}})]
            ),
            authors_rewrite(),
        )
        (approved,) = approval
        assert approved.status_code in (200, 409, 412), approved.text
        assert all(code in (200, 409, 412) for code in author_codes), author_codes
        (row,) = await _rows(app, brief["lineage_id"])
        if approved.status_code == 200:
            assert row.status == "published"
            assert row.value_proposition == reviewed == approved.json()["value_proposition"]
        else:
            assert row.status != "published"
        await client.post(f"{url}/archive", headers=author)  # clear the way for the next round


async def test_concurrent_submits_send_to_review_once(app, client, callers):
    product = await make_product(app)
    editor = callers.headers("editor")
    brief, _ = await _create(client, editor, complete_brief(product.key))
    responses = await race(app, [("POST", f"/api/v1/briefs/{brief['id']}/submit", {"headers": editor})] * 5)
    assert_one_winner(responses)
    (row,) = await _rows(app, brief["id"])
    assert (row.status, row.revision) == ("in_review", brief["revision"] + 1)


async def test_concurrent_archives_archive_once(app, client, callers):
    product = await make_product(app)
    brief, _ = await _create(client, callers.headers("editor"), complete_brief(product.key))
    editors = await _people(app, "editor", 4)
    responses = await race(
        app, [("POST", f"/api/v1/briefs/{brief['id']}/archive", {"headers": h}) for h in editors]
    )
    assert_one_winner(responses)
    (row,) = await _rows(app, brief["id"])
    assert (row.status, row.revision) == ("archived", brief["revision"] + 1)


async def test_concurrent_revises_open_one_draft(app, client, callers):
    product = await make_product(app)
    brief = await _in_review(client, callers.headers("editor"), product.key)
    published = await client.post(f"/api/v1/briefs/{brief['id']}/approve", headers=callers.headers("manager"))
    assert published.status_code == 200
    editors = await _people(app, "editor", 5)
    responses = await race(
        app, [("POST", f"/api/v1/briefs/{brief['id']}/revise", {"headers": h}) for h in editors]
    )
    assert_one_winner(responses, won=201)
    rows = await _rows(app, brief["lineage_id"])
    assert sorted((r.version, r.status) for r in rows) == [(1, "published"), (2, "draft")]


async def test_concurrent_edits_with_one_etag_keep_exactly_one(app, client, callers):
    product = await make_product(app)
    brief, etag = await _create(client, callers.headers("editor"), complete_brief(product.key))
    editors = await _people(app, "editor", 5)
    responses = await race(
        app,
        [
            (
                "PATCH",
                f"/api/v1/briefs/{brief['id']}",
                {"headers": {**h, "If-Match": etag}, "json": {"title": f"題 {i}"}},
            )
            for i, h in enumerate(editors)
        ],
    )
    winner = assert_one_winner(responses, lost=frozenset({412}))
    (row,) = await _rows(app, brief["id"])
    assert row.title == winner.json()["title"]  # no lost update: the one 200 is what is stored
    assert row.revision == brief["revision"] + 1


async def test_a_weak_etag_never_matches_if_match(app, client, callers):
    """RFC 9110: If-Match uses strong comparison, so W/"v1" does not match "v1"."""
    product = await make_product(app)
    editor = callers.headers("editor")
    brief, etag = await _create(client, editor, complete_brief(product.key))
    weak = await client.patch(
        f"/api/v1/briefs/{brief['id']}", json={"title": "弱い"}, headers={**editor, "If-Match": f"W/{etag}"}
    )
    assert weak.status_code == 412
    assert (await client.get(f"/api/v1/briefs/{brief['id']}", headers=editor)).json()["title"] != "弱い"
    strong = await client.patch(
        f"/api/v1/briefs/{brief['id']}", json={"title": "強い"}, headers={**editor, "If-Match": etag}
    )
    assert strong.status_code == 200


# --- four eyes: neither the author nor the last editor approves ---------------------------------


async def test_neither_author_nor_last_editor_may_approve_a_third_person_may(app, client, callers):
    product = await make_product(app)
    author = callers.headers("editor")
    (colleague,) = await _people(app, "editor", 1)
    brief, etag = await _create(client, author, complete_brief(product.key))
    url = f"/api/v1/briefs/{brief['id']}"
    edited = await client.patch(url, json={"title": "同僚が直した"}, headers={**colleague, "If-Match": etag})
    assert edited.status_code == 200
    assert edited.json()["last_editor_id"] != edited.json()["author_id"]
    assert (await client.post(f"{url}/submit", headers=author)).status_code == 200

    for who in (author, colleague):  # the author, and the colleague who edited it last
        refused = await client.post(f"{url}/approve", headers=who)
        assert refused.status_code == 403, refused.text
        assert "Four eyes" in refused.json()["detail"]
    assert (await client.get(url, headers=author)).json()["status"] == "in_review"
    third = await client.post(f"{url}/approve", headers=callers.headers("admin"))
    assert third.status_code == 200, third.text


async def test_the_last_editor_is_recorded_when_evidence_is_replaced(app, client, callers):
    """Replacing evidence changes what a brief in review says: the replacer is its last editor."""
    product = await make_product(app)
    author = callers.headers("editor")
    (replacer,) = await _people(app, "editor", 1)
    brief = await _in_review(client, author, product.key)
    url = f"/api/v1/briefs/{brief['id']}"
    replaced = await client.post(
        f"/api/v1/evidence/{brief['evidence'][0]['id']}/replace",
        json={"kind": "metric", "claim": "導入20社で入力時間が週3.5時間減少", "source": "2026年下期調査"},
        headers=replacer,
    )
    assert replaced.status_code == 201
    now = (await client.get(url, headers=author)).json()
    assert now["revision"] > brief["revision"]  # its ETag changed with its content
    assert (await client.post(f"{url}/approve", headers=replacer)).status_code == 403
    assert (await client.post(f"{url}/approve", headers=callers.headers("manager"))).status_code == 200


async def test_a_reviser_is_author_of_the_new_version(app, client, callers):
    product = await make_product(app)
    author = callers.headers("editor")
    (reviser,) = await _people(app, "editor", 1)
    brief = await _in_review(client, author, product.key)
    assert (
        await client.post(f"/api/v1/briefs/{brief['id']}/approve", headers=callers.headers("manager"))
    ).status_code == 200
    draft = await client.post(f"/api/v1/briefs/{brief['id']}/revise", headers=reviser)
    assert draft.status_code == 201
    v2 = f"/api/v1/briefs/{draft.json()['id']}"
    assert (await client.post(f"{v2}/submit", headers=reviser)).status_code == 200
    assert (await client.post(f"{v2}/approve", headers=reviser)).status_code == 403
    # Version 1's author neither wrote nor edited version 2.
    assert (await client.post(f"{v2}/approve", headers=author)).status_code == 200


async def test_readers_do_not_wait_for_a_writer_holding_the_lock(app, client, callers):
    """While a transition holds its lock (SQLite: the write lock), reads are answered at once
    from the last committed state; only writers queue."""
    import time

    from service.briefs import repository

    product = await make_product(app)
    brief = await _in_review(client, callers.headers("editor"), product.key)
    async with app.state.sessionmaker() as holder:
        locked = await repository.get(holder, uuid.UUID(brief["id"]), for_update=True)
        locked.title = "未コミット"
        await holder.flush()
        started = time.monotonic()
        seen = await client.get(f"/api/v1/briefs/{brief['id']}", headers=callers.headers("manager"))
        assert seen.status_code == 200
        assert seen.json()["title"] == brief["title"]  # nothing uncommitted leaks
        assert time.monotonic() - started < 2  # busy_timeout is 15 s: it did not wait for the lock
        await holder.rollback()
