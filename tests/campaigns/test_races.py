"""Campaigns, checks and grades under concurrency (finding 2).

One person submitting a check five times at once has one check waiting; four graders of one
check: one grade; racing activations, closes and edits: one change. Never a 500, and SQLite's
"database is locked" never reaches the caller.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import sqlalchemy as sa

from service.campaigns.models import Campaign, Check, Enrollment
from tests.campaigns.helpers import GUT_CHECK, make_campaign
from tests.factories import bearer, make_person, token_for
from tests.racing import assert_one_winner, race


async def _editors(app, n: int) -> list[dict[str, str]]:
    return [bearer(token_for(app, await make_person(app, role="editor"))) for _ in range(n)]


async def _rows(app, model, **where) -> list:
    async with app.state.sessionmaker() as session:
        stmt = sa.select(model).where(*(getattr(model, k) == uuid.UUID(str(v)) for k, v in where.items()))
        return list((await session.execute(stmt)).scalars())


async def _member(app, campaign) -> tuple[dict[str, str], object]:
    """An employee in the campaign's audience (no filter: everyone; a new hire is enrolled)."""
    person = await make_person(app)
    assert await _rows(app, Enrollment, campaign_id=campaign.id, person_id=person.id)
    return bearer(token_for(app, person)), person


async def test_one_person_submitting_five_checks_at_once_has_one_waiting(app):
    campaign = await make_campaign(app)
    me, person = await _member(app, campaign)
    url = f"/api/v1/campaigns/{campaign.id}/checks"
    responses = await race(app, [("POST", url, {"headers": me, "json": GUT_CHECK})] * 5)
    winner = assert_one_winner(responses, won=201)
    checks = await _rows(app, Check, person_id=person.id)
    assert [str(c.id) for c in checks] == [winner.json()["id"]]
    assert checks[0].status == "submitted"


async def test_refused_submissions_with_idempotency_keys_do_not_wait_on_the_lock(app):
    """A locked read followed by a refusal must not hold SQLite's write lock while the
    idempotency record is released in another session (that would wait busy_timeout, 15 s)."""
    campaign = await make_campaign(app)
    me, _ = await _member(app, campaign)
    url = f"/api/v1/campaigns/{campaign.id}/checks"
    first = await race(app, [("POST", url, {"headers": {**me, "Idempotency-Key": "k-1"}, "json": GUT_CHECK})])
    assert first[0].status_code == 201
    started = time.monotonic()
    again = await race(app, [("POST", url, {"headers": {**me, "Idempotency-Key": "k-2"}, "json": GUT_CHECK})])
    assert again[0].status_code == 409, again[0].text
    assert time.monotonic() - started < 5


async def test_four_graders_of_one_check_one_grade(app):
    campaign = await make_campaign(app)
    me, _ = await _member(app, campaign)
    submitted = await race(
        app, [("POST", f"/api/v1/campaigns/{campaign.id}/checks", {"headers": me, "json": GUT_CHECK})]
    )
    check_id = submitted[0].json()["id"]
    graders = await _editors(app, 4)
    results = ["passed", "needs_work", "passed", "needs_work"]
    responses = await race(
        app,
        [
            (
                "POST",
                f"/api/v1/checks/{check_id}/grade",
                {"headers": h, "json": {"result": r, "comment": f"grader {i}"}},
            )
            for i, (h, r) in enumerate(zip(graders, results, strict=True))
        ],
    )
    winner = assert_one_winner(responses)
    (row,) = await _rows(app, Check, id=check_id)
    assert (row.status, row.comment) == (winner.json()["status"], winner.json()["comment"])
    assert row.revision == 2  # graded once


async def test_concurrent_activations_activate_and_enroll_once(app):
    campaign = await make_campaign(app, status="planned")
    for _ in range(3):
        await make_person(app)
    editors = await _editors(app, 5)
    responses = await race(
        app, [("POST", f"/api/v1/campaigns/{campaign.id}/activate", {"headers": h}) for h in editors]
    )
    assert_one_winner(responses)
    (row,) = await _rows(app, Campaign, id=campaign.id)
    assert (row.status, row.revision) == ("active", campaign.revision + 1)
    enrolled = await _rows(app, Enrollment, campaign_id=campaign.id)
    assert len(enrolled) == len({e.person_id for e in enrolled})


async def test_complete_racing_cancel_one_wins(app):
    for _ in range(5):
        campaign = await make_campaign(app)
        editors = await _editors(app, 2)
        complete, cancel = await race(
            app,
            [
                ("POST", f"/api/v1/campaigns/{campaign.id}/complete", {"headers": editors[0]}),
                ("POST", f"/api/v1/campaigns/{campaign.id}/cancel", {"headers": editors[1]}),
            ],
        )
        winner = assert_one_winner([complete, cancel])
        (row,) = await _rows(app, Campaign, id=campaign.id)
        assert row.status == winner.json()["status"]
        assert (row.completed_at is None) != (row.cancelled_at is None)  # exactly one close


async def test_concurrent_edits_with_one_etag_keep_exactly_one(app, client, callers):
    campaign = await make_campaign(app, status="planned")
    url = f"/api/v1/campaigns/{campaign.id}"
    etag = (await client.get(url, headers=callers.headers("editor"))).headers["etag"]
    editors = await _editors(app, 5)
    responses = await race(
        app,
        [
            ("PATCH", url, {"headers": {**h, "If-Match": etag}, "json": {"name": f"キャンペーン {i}"}})
            for i, h in enumerate(editors)
        ],
    )
    winner = assert_one_winner(responses, lost=frozenset({412}))
    (row,) = await _rows(app, Campaign, id=campaign.id)
    assert (row.name, row.revision) == (winner.json()["name"], campaign.revision + 1)


async def test_a_weak_etag_never_matches_if_match(app, client, callers):
    campaign = await make_campaign(app, status="planned")
    url = f"/api/v1/campaigns/{campaign.id}"
    editor = callers.headers("editor")
    etag = (await client.get(url, headers=editor)).headers["etag"]
    weak = await client.patch(url, json={"name": "弱い"}, headers={**editor, "If-Match": f"W/{etag}"})
    assert weak.status_code == 412
    assert (await _rows(app, Campaign, id=campaign.id))[0].name != "弱い"
    assert (
        await client.patch(url, json={"name": "強い"}, headers={**editor, "If-Match": etag})
    ).status_code == 200


async def test_writers_queue_and_readers_do_not_wait(app, client, callers):
    """Twenty conflicting writes at once: all answered (no 'database is locked' 500), and a
    read made meanwhile is answered too."""
    campaign = await make_campaign(app, status="planned")
    editors = await _editors(app, 20)
    url = f"/api/v1/campaigns/{campaign.id}"
    writes = race(app, [("POST", f"{url}/cancel", {"headers": h}) for h in editors])
    read = client.get(url, headers=callers.headers("editor"))
    responses, seen = await asyncio.gather(writes, read)
    assert_one_winner(responses)
    assert seen.status_code == 200
