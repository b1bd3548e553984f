"""Finding 16: nosniff on every response; the docs pages run only their own scripts."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.test_offline_docs import collect, same_origin

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


@pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect", "/graphql"])
async def test_docs_pages_allow_only_their_own_scripts(client, path):
    response = await client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = directives(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    scripts = policy["script-src"]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in scripts
    # Each inline bootstrap is allowed by its hash: the page still runs (and nothing else inline).
    for script in INLINE_SCRIPT.findall(response.text):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts, path
    # Every script and stylesheet the page loads is the service's own ('self').
    parsed = collect(response.text)
    for tag, attrs in parsed.tags:
        if tag == "script" and attrs.get("src"):
            assert same_origin(attrs["src"]), attrs
            assert "'self'" in scripts
        if tag == "link" and attrs.get("href"):
            assert same_origin(attrs["href"]), attrs


async def test_docs_page_scripts_and_styles_load_under_the_policy(client):
    response = await client.get("/docs", headers={"Accept": "text/html"})
    for url in collect(response.text).urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "method, path, kwargs, status",
    [
        ("GET", "/healthz", {}, 200),
        ("GET", "/openapi.json", {}, 200),
        ("GET", "/api/v1/people", {}, 401),
        ("GET", "/no-such-page", {}, 404),
        ("POST", "/api/v1/briefs", {"content": b"x", "headers": {"content-type": "text/plain"}}, 415),
        ("GET", "/api/v1/people?department_key=a%00", {}, 422),
    ],
)
async def test_every_response_says_nosniff(client, method, path, kwargs, status):
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
