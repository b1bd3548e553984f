"""When evidence expires, and how far its staleness reaches (tests that bite, issue 9).

The rule (service/evidence/service.py `is_expired`): an item is expired once its `verify_by`
date has passed in UTC — `verify_by < today (UTC)`. On the `verify_by` day itself the claim is
still good; the next UTC day it is expired, and so is every brief, message and pitch citing it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import bearer, make_brief, make_product, service_token
from tests.messages.test_messages import make_evidence
from tests.pitch.test_pitch import publish_message


def utc_today():
    return datetime.now(UTC).date()


async def test_evidence_is_good_on_its_verify_by_day_and_expired_the_day_after(app, client, callers):
    headers = callers.headers("editor")
    on_the_day = await make_evidence(app, verify_by=utc_today())
    day_after = await make_evidence(app, verify_by=utc_today() - timedelta(days=1))
    tomorrow = await make_evidence(app, verify_by=utc_today() + timedelta(days=1))

    def expired(evidence_id: str):
        return client.get(f"/api/v1/evidence/{evidence_id}", headers=headers)

    assert (await expired(on_the_day)).json()["expired"] is False
    assert (await expired(day_after)).json()["expired"] is True
    assert (await expired(tomorrow)).json()["expired"] is False
    listed = await client.get("/api/v1/evidence", params={"expired": "true"}, headers=headers)
    assert [i["id"] for i in listed.json()["items"]] == [day_after]

    # The same boundary reaches the pitch.
    product = await make_product(app)
    await make_brief(
        app,
        callers.people["editor"],
        product.key,
        status="published",
        evidence=[{"id": on_the_day}, {"id": tomorrow}],
    )
    crm = bearer(await service_token(app, client, "pitch:read"))
    pitch = await client.get(f"/api/v1/pitch/{product.key}", headers=crm)
    assert pitch.json()["freshness"] == {"status": "fresh", "expired": []}

    other = await make_product(app)
    await make_brief(
        app,
        callers.people["editor"],
        other.key,
        status="published",
        evidence=[{"id": day_after}],
        override_expired="再確認中",
    )
    stale = await client.get(f"/api/v1/pitch/{other.key}", headers=crm)
    assert stale.json()["freshness"] == {"status": "stale", "expired": [day_after]}


async def test_a_messages_expired_evidence_makes_the_pitch_stale(app, client, callers):
    editor = callers.headers("editor")
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published", locale="ja")
    crm = bearer(await service_token(app, client, "pitch:read"))
    url = f"/api/v1/pitch/{product.key}"
    assert (await client.get(url, headers=crm)).json()["freshness"]["status"] == "fresh"

    expired = await make_evidence(app, verify_by=utc_today() - timedelta(days=2))
    message = await publish_message(
        client,
        editor,
        callers.headers("admin"),
        approval={"override_expired_evidence": {"reason": "顧客に再確認中"}},
        kind="key_message",
        product_key=product.key,
        locale="ja",
        title="月末の入力を週3時間減らす",
        body="パイロット5社で入力時間が週3時間減りました。",
        evidence_ids=[expired],
    )
    assert message["freshness"] == {"status": "stale", "expired": [expired]}
    pitch = (await client.get(url, headers=crm)).json()
    assert [m["id"] for m in pitch["key_messages"]] == [message["id"]]
    # The brief's own evidence is fresh: the staleness can only have come from the message.
    assert pitch["freshness"] == {"status": "stale", "expired": [expired]}

    assert (await client.post(f"/api/v1/evidence/{expired}/verify", headers=editor)).status_code == 200
    assert (await client.get(url, headers=crm)).json()["freshness"] == {"status": "fresh", "expired": []}
