"""Who a usage report names (issue 9, finding 1): a person's token reports that person's own
use; only an integration reporting for its CRM users names a `user_email`."""

from __future__ import annotations

import sqlalchemy as sa

from service.pitch.models import PitchUsage
from tests.factories import make_brief, make_product


async def recorded(app) -> list[PitchUsage]:
    async with app.state.sessionmaker() as session:
        return list((await session.execute(sa.select(PitchUsage).order_by(PitchUsage.occurred_at))).scalars())


async def test_a_person_reports_only_their_own_use(app, client, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    url = f"/api/v1/pitch/{product.key}/usage"
    colleague = callers.people["manager"].email

    for caller in ("employee", "editor", "admin"):
        refused = await client.post(
            url, json={"event": "used", "user_email": colleague}, headers=callers.headers(caller)
        )
        assert refused.status_code == 422, (caller, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["user_email"]
    assert await recorded(app) == []

    own = await client.post(
        url, json={"event": "used", "opportunity_ref": "SF-1"}, headers=callers.headers("employee")
    )
    assert own.status_code == 201, own.text
    crm = await client.post(
        url, json={"event": "shown", "user_email": "Tanaka@Example.com"}, headers=callers.headers("svc_pitch")
    )
    assert crm.status_code == 201
    rows = await recorded(app)
    assert [(r.event, r.user_email, r.client_id) for r in rows] == [
        ("used", callers.people["employee"].email.lower(), None),
        ("shown", "tanaka@example.com", rows[1].client_id),
    ]
    assert rows[1].client_id is not None
