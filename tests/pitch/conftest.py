"""What the pitch tests share."""

from __future__ import annotations

import pytest

from tests.factories import bearer, service_token


@pytest.fixture
async def crm(app, client):
    """A CRM plugin's token: pitch:read only."""
    return bearer(await service_token(app, client, "pitch:read"))
