"""A client generated from the checked-in OpenAPI document works against a live server.

`openapi-python-client` generates a package from `openapi/openapi.json`; the scenario below
uses nothing but that package: it fetches its own token with client credentials, retries a
write under an Idempotency-Key and sees the replay, reads an ETag and updates with If-Match
(current → 200, stale → 412), revalidates with If-None-Match (304), and pages through a list
by `next_cursor`. If the document stops declaring any of it, the generated code cannot do it.

PostgreSQL only: out-of-process suites run once, in the PostgreSQL pass of `make test`.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.factories import make_client
from tests.live import running_server

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
PACKAGE = "cuecard_generated_client"

pytestmark = pytest.mark.skipif(
    os.environ.get("CUECARD_TEST_BACKEND", "sqlite") != "postgres",
    reason="out-of-process suites run once, in the PostgreSQL pass of `make test`",
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The package openapi-python-client generates from the checked-in document, imported."""
    root = tmp_path_factory.mktemp("generated")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff hook
    result = subprocess.run(  # noqa: S603 - our own tool, on our own spec
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(SPEC),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Anything it could not understand is reported as a warning and left out of the client.
    assert "Warning" not in output and "Skipping" not in output, output
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _scenario(base_url: str, client_id: str, secret: str) -> None:
    from_client = _module("client")
    models = _module("models")
    issue_token = _module("api.auth.issue_token")
    create_person = _module("api.people.create_person")
    get_person = _module("api.people.get_person")
    update_person = _module("api.people.update_person")
    list_people = _module("api.people.list_people")

    # Its own token, through the clientCredentials flow the document declares.
    anonymous = from_client.Client(base_url=base_url, raise_on_unexpected_status=True)
    token = issue_token.sync(
        client=anonymous,
        body=models.BodyIssueToken(
            grant_type="client_credentials", client_id=client_id, client_secret=secret
        ),
    )
    assert isinstance(token, models.TokenResponse), token
    assert token.token_type.lower() == "bearer" and "people:write" in token.scope.split()
    api = from_client.AuthenticatedClient(
        base_url=base_url, token=token.access_token, raise_on_unexpected_status=True
    )

    # A retried write under the same Idempotency-Key replays the first answer.
    run = uuid.uuid4().hex[:8]
    body = models.PersonCreate(email=f"gen-{run}-0@example.com", display_name="生成 太郎")
    key = f"generated-client-{run}"
    first = create_person.sync_detailed(client=api, body=body, idempotency_key=key)
    again = create_person.sync_detailed(client=api, body=body, idempotency_key=key)
    assert first.status_code == again.status_code == 201, (first.content, again.content)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.parsed.id == first.parsed.id
    person_id = first.parsed.id

    # If-Match: the ETag just read changes the person; the one before that is stale.
    read = get_person.sync_detailed(person_id, client=api)
    assert read.status_code == 200
    etag = read.headers["etag"]
    assert get_person.sync_detailed(person_id, client=api, if_none_match=etag).status_code == 304
    changed = update_person.sync_detailed(
        person_id, client=api, body=models.PersonUpdate(display_name="生成 花子"), if_match=etag
    )
    assert changed.status_code == 200, changed.content
    assert changed.parsed.display_name == "生成 花子"
    stale = update_person.sync_detailed(
        person_id, client=api, body=models.PersonUpdate(display_name="Stale Write"), if_match=etag
    )
    assert stale.status_code == 412, stale.content
    assert isinstance(stale.parsed, models.Problem) and stale.parsed.status == 412

    # Paging: every person appears once, page by page, until next_cursor is null.
    created = {person_id}
    for n in range(1, 5):
        more = create_person.sync(
            client=api, body=models.PersonCreate(email=f"gen-{run}-{n}@example.com", display_name=f"Gen {n}")
        )
        created.add(more.id)
    seen: list[Any] = []
    page = list_people.sync(client=api, limit=2)
    pages = 1
    while True:
        seen += [p.id for p in page.items]
        if not page.next_cursor:  # null (or absent) on the last page
            break
        page = list_people.sync(client=api, limit=2, cursor=page.next_cursor)
        pages += 1
    assert created <= set(seen) and len(seen) == len(set(seen))
    assert pages >= 3


async def test_a_generated_client_fetches_a_token_and_uses_the_api(app, settings, generated):
    client_id, secret = await make_client(app, "people:write", name="generated-client")
    with running_server(settings) as base_url:
        await asyncio.to_thread(_scenario, base_url, client_id, secret)
