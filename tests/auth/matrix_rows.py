"""Authorization matrix rows for the clients admin API (merged by tests/test_authorization_matrix.py).

Service accounts and their API tokens are managed by admins (and the operator CLI) only: every
other person and every service token is refused with 403 — before any lookup, so a client id
that does not exist tells a refused caller nothing — and the anonymous caller with 401.
"""

from __future__ import annotations

from typing import Any

from tests.factories import OPERATOR, unique
from tests.matrix import Row, admin_only


async def _fresh_token(app: Any, ctx: dict[str, Any]) -> dict[str, str]:
    """A token of the context's client for each caller to try to revoke."""
    from service.clients import service as clients_service
    from service.clients.schemas import ApiTokenCreate

    async with app.state.sessionmaker() as session:
        created = await clients_service.create_api_token(
            session, OPERATOR, ctx["managed_client_id"], ApiTokenCreate(name="matrix")
        )
    return {"token_id": str(created.id)}


ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/api/v1/clients"): Row(admin_only(200)),
    ("POST", "/api/v1/clients"): Row(
        admin_only(201),
        body=lambda ctx: {"name": unique("連携"), "scopes": ["pitch:read"], "api_token": True},
    ),
    ("GET", "/api/v1/clients/{client_id}"): Row(admin_only(200)),
    ("PATCH", "/api/v1/clients/{client_id}"): Row(admin_only(200), body=lambda ctx: {"name": "改名 済み"}),
    ("POST", "/api/v1/clients/{client_id}/rotate-secret"): Row(admin_only(200)),
    ("GET", "/api/v1/clients/{client_id}/api-tokens"): Row(admin_only(200)),
    ("POST", "/api/v1/clients/{client_id}/api-tokens"): Row(
        admin_only(201), body=lambda ctx: {"name": "Okta プロビジョニング"}
    ),
    ("DELETE", "/api/v1/clients/{client_id}/api-tokens/{token_id}"): Row(
        admin_only(204), prepare=_fresh_token
    ),
}
GRAPHQL_ROWS: dict[str, tuple[str, dict[str, str]]] = {}


async def context(app: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """A client of its own to manage (the shared `client` is the token endpoint's)."""
    from service.clients import service as clients_service
    from service.clients.schemas import ClientCreate

    async with app.state.sessionmaker() as session:
        created = await clients_service.create_client(
            session, OPERATOR, ClientCreate(name="人事 HR", scopes=["people:write"])
        )
    return {"client_id": created.client_id, "managed_client_id": created.client_id}
