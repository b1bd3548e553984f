"""Rules that a mutation run (`make mutants`) showed the rest of the suite would let change
unnoticed. Each test is written from the caller's side, over real HTTP and a real database."""

from __future__ import annotations

from tests.campaigns.helpers import make_campaign
from tests.factories import bearer, make_brief, make_person, make_product, service_token, token_for

# ---------------------------------------------------------------- If-Match (service/concurrency.py)


async def test_if_match_compares_strongly_a_weak_tag_of_the_current_version_is_refused(app, client):
    editor = bearer(token_for(app, await make_person(app, role="editor")))
    campaign = await make_campaign(app)
    url = f"/api/v1/campaigns/{campaign.id}"
    current = (await client.get(url, headers=editor)).headers["etag"]
    assert not current.startswith("W/")

    # RFC 9110 §13.1.1: If-Match uses the strong comparison; W/"v1" never matches "v1".
    weak = await client.patch(url, json={"name": "弱い"}, headers={**editor, "If-Match": f"W/{current}"})
    assert weak.status_code == 412, weak.text
    assert (await client.get(url, headers=editor)).json()["name"] != "弱い"

    # A list naming the current tag among others matches; so does "*"; whitespace is no matter.
    listed = await client.patch(
        url, json={"name": "一覧"}, headers={**editor, "If-Match": f' "v999" ,{current} '}
    )
    assert listed.status_code == 200, listed.text
    after = listed.headers["etag"]
    assert after != current
    star = await client.patch(url, json={"name": "星"}, headers={**editor, "If-Match": "*"})
    assert star.status_code == 200, star.text
    # A list of no tags names no version; the old tag is stale now.
    empty = await client.patch(url, json={"name": "空"}, headers={**editor, "If-Match": " , "})
    assert empty.status_code == 412, empty.text
    stale = await client.patch(url, json={"name": "古い"}, headers={**editor, "If-Match": current})
    assert stale.status_code == 412
    assert stale.json()["detail"].endswith(star.headers["etag"] + ".")


async def test_if_none_match_compares_weakly_and_answers_304(app, client):
    editor = bearer(token_for(app, await make_person(app, role="editor")))
    campaign = await make_campaign(app)
    url = f"/api/v1/campaigns/{campaign.id}"
    current = (await client.get(url, headers=editor)).headers["etag"]

    for header in (current, f"W/{current}", f'"v999", W/{current}', "*"):
        response = await client.get(url, headers={**editor, "If-None-Match": header})
        assert response.status_code == 304, header
    for header in ('"v999"', 'W/"v999"', ", ,"):
        response = await client.get(url, headers={**editor, "If-None-Match": header})
        assert response.status_code == 200, header


# ---------------------------------------------------------------- pitch (service/pitch/policies.py)


async def test_a_briefs_read_integration_reads_the_pitch_but_reports_no_usage(app, client, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    url = f"/api/v1/pitch/{product.key}"

    briefs_reader = bearer(await service_token(app, client, "briefs:read"))
    assert (await client.get(url, headers=briefs_reader)).status_code == 200
    usage = await client.post(f"{url}/usage", json={"event": "shown"}, headers=briefs_reader)
    assert usage.status_code == 403, usage.text

    # Scopes are names, not prefixes or cases: another integration reads nothing.
    feedback_writer = bearer(await service_token(app, client, "feedback:write"))
    assert (await client.get(url, headers=feedback_writer)).status_code == 403
    pitch_reader = bearer(await service_token(app, client, "pitch:read"))
    assert (await client.get(url, headers=pitch_reader)).status_code == 200
