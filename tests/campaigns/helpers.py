"""Building blocks for campaign tests: a published brief, a campaign walked to a status, answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from service.campaigns import service as campaigns_service
from service.campaigns.schemas import CampaignCreate
from tests.factories import make_brief, make_person, make_product, principal_of

GUT_CHECK = {
    "answers": {
        "who_changes": "経理担当者が月末の残業から解放される",
        "next_action": "先月分の請求書で無料トライアルする",
        "what_we_give_up": "手書きの請求書には対応しない",
    },
    "pitch_in_own_words": "請求書を読み取って会計ソフトに自動で入れるので、経理の入力が週3時間減ります。",
}


def soon(days: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def ago(days: float = 1) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def utc_today() -> date:
    """Today as the service counts days: in UTC. `date.today()` is the machine's local day,
    which differs from UTC's east of Greenwich every morning (Japan until 09:00)."""
    return datetime.now(UTC).date()


def today(offset_days: int = 0) -> str:
    return (utc_today() + timedelta(days=offset_days)).isoformat()


async def published_brief(app: FastAPI):
    """A published brief by its own editor, approved by its own manager."""
    author = await make_person(app, role="editor", display_name="起草 者")
    product = await make_product(app)
    return await make_brief(app, author, product.key, status="published")


async def make_campaign(
    app: FastAPI,
    *,
    brief=None,
    kind: str = "launch",
    departments: list[str] | None = None,
    roles: list[str] | None = None,
    steps: list[dict[str, Any]] | None = None,
    status: str = "active",
    name: str = "請求書AI ローンチ",
):
    """A campaign through the real services (planned or activated), by an editor of its own."""
    brief = brief or await published_brief(app)
    editor = await make_person(app, role="editor", display_name="企画 者")
    if steps is None:
        steps = (
            [{"channel": "briefing", "title": "初日オリエンテーション", "day_offset": 0}]
            if kind == "onboarding"
            else [{"channel": "briefing", "title": "全社説明会", "at": soon(1)}]
        )
    data = CampaignCreate.model_validate(
        {
            "brief_id": str(brief.id),
            "name": name,
            "kind": kind,
            "audience": {"departments": departments or [], "roles": roles or []},
            "steps": steps,
        }
    )
    async with app.state.sessionmaker() as session:
        campaign = await campaigns_service.create_campaign(session, principal_of(editor), data)
        if status == "active":
            campaign = await campaigns_service.activate_campaign(session, principal_of(editor), campaign.id)
    return campaign


async def acknowledge(client: httpx.AsyncClient, headers: dict, campaign_id) -> httpx.Response:
    return await client.post(f"/api/v1/campaigns/{campaign_id}/acknowledgements", headers=headers)


async def submit_check(client: httpx.AsyncClient, headers: dict, campaign_id, body=None) -> httpx.Response:
    return await client.post(
        f"/api/v1/campaigns/{campaign_id}/checks", json=body or GUT_CHECK, headers=headers
    )


async def readiness(client: httpx.AsyncClient, headers: dict, campaign_id) -> dict:
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/readiness", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
