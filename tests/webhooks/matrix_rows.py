"""Authorization matrix rows for the webhooks API (merged by tests/test_authorization_matrix.py).

Webhooks (and their tests, deliveries and redeliveries) are managed by admins and by service
clients holding `webhooks:manage`. No caller of
the shared matrix but the admin may: every other person and both matrix clients (which lack the
scope) get 403 — before any lookup — and the anonymous caller 401. A client's own webhooks
(and 404 for another's) are tested in tests/test_webhooks_api.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.factories import OPERATOR
from tests.matrix import Row, admin_only

# A public address literal: `check_url` accepts it without resolving or sending anything.
PUBLIC_URL = "https://8.8.8.8/hooks/cuecard"


async def _fresh_webhook(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    """A webhook per caller, for the one that may delete it."""
    return {"webhook_id": await _create(app)}


async def _create(app: Any) -> str:
    from service.webhooks import service as webhooks_service
    from service.webhooks.schemas import WebhookCreate

    async with app.state.sessionmaker() as session:
        created = await webhooks_service.create_webhook(
            session, OPERATOR, WebhookCreate(url=PUBLIC_URL, events=["pitch.changed"])
        )
    return str(created.id)


ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/webhooks"): Row(admin_only(200)),
    ("POST", "/api/v1/webhooks"): Row(
        admin_only(201), body=lambda ctx: {"url": PUBLIC_URL, "events": ["pitch.changed", "brief.published"]}
    ),
    ("GET", "/api/v1/webhooks/{webhook_id}"): Row(admin_only(200)),
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): Row(admin_only(200), body=lambda ctx: {"active": False}),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): Row(admin_only(204), prepare=_fresh_webhook),
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): Row(admin_only(200)),
    ("POST", "/api/v1/webhooks/{webhook_id}/test"): Row(admin_only(202)),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): Row(admin_only(200)),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"): Row(admin_only(200)),
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): Row(admin_only(202)),
}
GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """A webhook registered by the operator (an admin's: the admin sees it), with a test ping
    delivered (so it may be redelivered)."""
    import sqlalchemy as sa

    from service.webhooks import service as webhooks_service
    from service.webhooks.models import WebhookDelivery

    webhook_id = await _create(app)
    async with app.state.sessionmaker() as session:
        ping = await webhooks_service.test_webhook(session, OPERATOR, uuid.UUID(webhook_id))
    async with app.state.engine.begin() as conn:
        await conn.execute(
            sa.update(WebhookDelivery).where(WebhookDelivery.id == ping.id).values(status="delivered")
        )
    return {"webhook_id": webhook_id, "delivery_id": str(ping.id)}
