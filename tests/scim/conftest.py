"""SCIM helpers: an HR integration's token (people:write), SCIM request shorthands and the
onboarding campaign a pushed new hire lands in."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from service.campaigns import service as campaigns_service
from service.campaigns.schemas import CampaignCreate
from service.pagination import PageParams
from service.people.schemas import PersonRead
from tests.factories import (
    bearer,
    make_brief,
    make_department,
    make_person,
    make_product,
    principal_of,
    service_token,
)

BASE = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CUECARD = "urn:cuecard:params:scim:schemas:extension:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"


@pytest.fixture
async def hr(app, client) -> dict[str, str]:
    """Headers of an HR system: a service account with scope people:write, SCIM content type."""
    token = await service_token(app, client, "people:write")
    return {**bearer(token), "content-type": SCIM_JSON}


def user_body(email: str, **extra: object) -> dict:
    return {"schemas": [USER], "userName": email, **extra}


def patch_body(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def assert_scim_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON), response.headers
    body = response.json()
    assert body["schemas"] == [ERROR], body
    assert body["status"] == str(status), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    assert body.get("detail"), body
    return body


@contextmanager
def scim_settings(app, **changes: object) -> Iterator[None]:
    """The app with these settings changed (e.g. scim_relink), restored afterwards."""
    before = app.state.settings
    app.state.settings = before.model_copy(update=changes)
    try:
        yield
    finally:
        app.state.settings = before


@dataclass(frozen=True)
class Onboarding:
    """An active onboarding campaign for one department, and the editor who runs it."""

    app: FastAPI
    editor: PersonRead
    campaign_id: uuid.UUID

    async def enrollments(self) -> dict[uuid.UUID, Any]:
        """Everyone enrolled so far (leavers too, with `left_at`), by person id."""
        async with self.app.state.sessionmaker() as session:
            page = await campaigns_service.list_enrollments(
                session, principal_of(self.editor), self.campaign_id, PageParams()
            )
        return {e.person_id: e for e in page.items}


async def make_onboarding(app: FastAPI, department: str = "sales", name: str = "営業部") -> Onboarding:
    """The department (key and name), a published brief and an active onboarding campaign for
    the department's new hires."""
    await make_department(app, key=department, name=name)
    editor = await make_person(app, role="editor")
    brief = await make_brief(app, editor, (await make_product(app)).key, status="published")
    plan = CampaignCreate.model_validate(
        {
            "brief_id": str(brief.id),
            "name": f"{name} オンボーディング",
            "kind": "onboarding",
            "audience": {"departments": [department]},
            "steps": [{"channel": "briefing", "title": "初日オリエンテーション", "day_offset": 0}],
        }
    )
    async with app.state.sessionmaker() as session:
        campaign = await campaigns_service.create_campaign(session, principal_of(editor), plan)
        campaign = await campaigns_service.activate_campaign(session, principal_of(editor), campaign.id)
    return Onboarding(app, editor, campaign.id)
