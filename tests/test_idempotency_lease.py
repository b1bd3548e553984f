"""An Idempotency-Key whose request died before it could release the key (the database went
away mid-request) is free again after a lease: a retry runs instead of a 409 for a day.

The PostgreSQL cut itself is in tests/test_faults.py; this proves the rule on both databases.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
from asgi_lifespan import LifespanManager

from service.api.idempotency import _fingerprint
from service.config import Settings
from service.idempotency import store
from service.main import create_app
from tests.factories import bearer, make_client, unique


async def test_a_key_left_in_progress_by_a_dead_request_is_taken_over_after_its_lease(
    settings: Settings,
) -> None:
    application = create_app(settings.model_copy(update={"idempotency_claim_seconds": 0.5}))
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            client_id, secret = await make_client(application, "feedback:write")
            token = (
                await http.post(
                    "/api/v1/auth/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": client_id,
                        "client_secret": secret,
                    },
                )
            ).json()["access_token"]
            key = unique("key")
            body = json.dumps(
                {"items": [{"source": "support", "external_id": unique("ZD"), "body": "遅い"}]}
            ).encode()
            # The first attempt claimed the key, then lost its database before releasing it.
            await store.claim(
                application.state.sessionmaker,
                owner=f"client:{client_id}",
                key=key,
                endpoint="POST /api/v1/feedback/batch",
                request_hash=_fingerprint(body),
                ttl=timedelta(hours=24),
                lease=timedelta(seconds=0.5),
            )
            headers = {**bearer(token), "Idempotency-Key": key, "Content-Type": "application/json"}

            still_running = await http.post("/api/v1/feedback/batch", content=body, headers=headers)
            assert still_running.status_code == 409, still_running.text
            assert int(still_running.headers["retry-after"]) > 0

            await asyncio.sleep(0.6)
            retried = await http.post("/api/v1/feedback/batch", content=body, headers=headers)
            assert retried.status_code == 200, retried.text
            assert retried.json()["created"] == 1
            replayed = await http.post("/api/v1/feedback/batch", content=body, headers=headers)
            assert replayed.headers.get("idempotent-replayed") == "true"
            assert replayed.json() == retried.json()
