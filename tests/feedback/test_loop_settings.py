"""The loop targets come from the app's own settings (CUECARD_FEEDBACK_LOOP_DAYS)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from asgi_lifespan import LifespanManager

from service.main import create_app
from tests.factories import bearer, make_person, token_for


async def test_due_times_follow_the_configured_targets(settings):
    configured = create_app(
        settings.model_copy(update={"feedback_loop_days": "triaged=5,decided=9,implemented=30,announced=7"})
    )
    async with LifespanManager(configured):
        employee = await make_person(configured)
        transport = httpx.ASGITransport(app=configured)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post(
                "/api/v1/feedback",
                json={
                    "source": "interview",
                    "body": "選んだ理由は導入の速さ",
                    "received_at": "2026-11-02T09:00:00Z",
                },
                headers=bearer(token_for(configured, employee)),
            )
    assert response.status_code == 201, response.text
    item = response.json()
    due = datetime.fromisoformat(item["stage_due_at"]) - datetime.fromisoformat(item["received_at"])
    assert due == timedelta(days=5)
