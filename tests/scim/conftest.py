"""SCIM helpers: an HR integration's token (people:write) and SCIM request shorthands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.factories import bearer, service_token

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
