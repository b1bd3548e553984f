"""scim2-tester against a running CueCard: uvicorn on a free 127.0.0.1 port, the test database,
a people:write token from the real token endpoint.

    .venv/bin/pytest -s tests/scim/test_scim_tester.py

prints the counts (recorded in docs/scim.md). Every check must pass except the ones listed in
EXPECTED_FAILURES, each for the reason given there; the test fails if one of those starts to
pass too (update the list and the docs), or if any other check fails or is skipped.
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from scim2_client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException
from scim2_tester import Status, check_server

from service.auth.principal import Principal
from service.clients import service as clients_service
from service.clients.schemas import ClientCreate
from tests.factories import make_department
from tests.fuzzing import BACKEND
from tests.live import running_server
from tests.scim.conftest import CUECARD, ENTERPRISE

# (check, attribute) → why it cannot pass (RFC 7644 allows it; docs/scim.md says why).
# Empty: every check passes since userName is free, DELETE answers 404 afterwards, and
# /Schemas says which attributes every person always has and what format they take.
EXPECTED_FAILURES: dict[tuple[str, str | None], str] = {}


class HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client over plain httpx (its bundled engine needs the httpx2 package)."""

    def __init__(self, client: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url = self.client.build_request("GET", endpoint).url
        base = self.client.base_url
        return url.host == base.host and url.port == base.port and url.path.startswith(base.path)

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            raise RequestNetworkException() from exc


async def provisioning_token(app, base_url: str) -> str:
    """The bearer token an identity provider stores for months (Okta "HTTP Header", Entra
    "Secret Token"): a long-lived API token of a people:write client, issued as
    `cuecard clients create --api-token` issues it, and checked to work as sent."""
    async with app.state.sessionmaker() as session:
        created = await clients_service.create_client(
            session,
            Principal.operator(),
            ClientCreate(name=f"scim-{uuid.uuid4().hex[:8]}", scopes=["people:write"], api_token=True),
        )
    assert created.api_token and created.api_token.startswith("cca_")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.get(
            "/scim/v2/ServiceProviderConfig", headers={"Authorization": f"Bearer {created.api_token}"}
        )
    response.raise_for_status()
    return created.api_token


def _run_tester(base_url: str, token: str) -> list:
    """Every scim2-tester check, with what the server publishes as the only hints."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{base_url}/scim/v2", headers=headers, timeout=30) as http:
        scim = HttpxSCIMClient(http)
        scim.discover()
        return check_server(scim)


def _key(result) -> tuple[str, str | None]:
    urn = result.data.get("urn") if isinstance(result.data, dict) else None
    return result.title, urn


async def test_scim2_tester_passes_every_check_but_the_documented_ones(app, settings):
    await make_department(app, key="sales", name="営業部")

    with running_server(settings) as base_url:
        token = await provisioning_token(app, base_url)
        results = await asyncio.to_thread(_run_tester, base_url, token)

    counts = collections.Counter(r.status.name for r in results)
    failed = {_key(r): r for r in results if r.status in (Status.ERROR, Status.CRITICAL)}
    skipped = [_key(r) for r in results if r.status == Status.SKIPPED]
    print(f"\nscim2-tester: {len(results)} checks, {dict(counts)}")
    for key, result in sorted(failed.items(), key=str):
        expected = "expected" if key in EXPECTED_FAILURES else "UNEXPECTED"
        print(f"  {expected} failure {key}: {str(result.reason)[:300]}")
    for key in skipped:
        print(f"  skipped {key}")

    assert not skipped, skipped
    unexpected = {key: failed[key].reason for key in failed.keys() - EXPECTED_FAILURES.keys()}
    assert not unexpected, unexpected
    now_passing = EXPECTED_FAILURES.keys() - failed.keys()
    assert not now_passing, f"these pass now: update EXPECTED_FAILURES and docs/scim.md: {now_passing}"
    ran = {urn for _, urn in map(_key, results) if urn}
    assert {ENTERPRISE, CUECARD} <= ran  # both extensions were exercised
    assert "members" in ran  # and Groups' members


@pytest.mark.skipif(BACKEND != "postgres", reason="out-of-process: runs once, in the PostgreSQL pass")
async def test_scim2_cli_compliance_run_passes_from_outside(app, settings):
    """`scim2 --url … test` (scim2-cli), as an integrator runs it against a fresh server."""
    scim2 = Path(sys.executable).with_name("scim2")
    assert scim2.exists(), "scim2-cli is in the test extra (pip install -e '.[test]')"
    # A company has departments: /Schemas publishes their keys as `department`'s values.
    await make_department(app, key="sales", name="営業部")
    with running_server(settings) as base_url:
        token = await provisioning_token(app, base_url)
        # The token goes in the environment, not on the command line others can read.
        env = {**os.environ, "SCIM_CLI_HEADERS": f"Authorization: Bearer {token}"}
        result = await asyncio.to_thread(
            subprocess.run,
            [str(scim2), "--url", f"{base_url}/scim/v2", "test"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    lines = result.stdout.splitlines()
    print(
        f"\nscim2 test: exit {result.returncode}, {sum(line.startswith('SUCCESS') for line in lines)} SUCCESS"
    )
    failures = [
        f"{line} {lines[i + 1].strip() if i + 1 < len(lines) else ''}"[:300]
        for i, line in enumerate(lines)
        if line.split(" ", 1)[0] in ("ERROR", "CRITICAL", "SKIPPED")
    ]
    assert result.returncode == 0, (failures, result.stderr[-2000:])
    assert sum(line.startswith("SUCCESS") for line in lines) >= 80, result.stdout[-2000:]
