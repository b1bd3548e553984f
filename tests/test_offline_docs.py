"""Swagger UI and GraphiQL are served by the service itself: no CDN, they work offline."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

BASE_URL = "http://testserver"
# Any absolute or protocol-relative URL in the page text, wherever it hides (attributes,
# inline scripts, inline styles).
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.\-]+(?::\d+)?""")


class ResourceCollector(HTMLParser):
    """Every `src` and `href` attribute of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)


def collect(html: str) -> ResourceCollector:
    parser = ResourceCollector()
    parser.feed(html)
    parser.close()
    return parser


def same_origin(url: str) -> bool:
    """A relative URL, or an absolute one to the service itself."""
    parts = urlsplit(url)
    if url.startswith("//"):
        return False
    if parts.scheme in ("", "http", "https") and parts.netloc in ("", "testserver"):
        return not parts.scheme or parts.netloc == "testserver"
    return False


async def fetch_page(client, path: str) -> str:
    response = await client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def assert_self_contained(client, path: str) -> list[str]:
    html = await fetch_page(client, path)
    urls = collect(html).urls
    assert urls, f"{path} references no resources at all"
    for url in urls:
        assert same_origin(url), f"{path} points at another host: {url}"
        response = await client.get(urljoin(f"{BASE_URL}{path}", url))
        assert response.status_code == 200, f"{path}: {url} answered {response.status_code}"
        assert response.content, f"{path}: {url} is empty"
    for match in ABSOLUTE_URL.findall(html):
        host = urlsplit(match if "://" in match else "http:" + match).hostname
        assert host == "testserver", f"{path} mentions another host: {match}"
    return urls


def test_same_origin_rule():
    assert same_origin("/static/docs/swagger-ui.css")
    assert same_origin("static/x.js")
    assert same_origin("http://testserver/static/x.js")
    assert not same_origin("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js")
    assert not same_origin("//cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")
    assert not same_origin("http://testserver.evil.example/x.js")


async def test_swagger_ui_is_served_without_a_cdn(client):
    urls = await assert_self_contained(client, "/docs")
    assert "/static/docs/swagger-ui-bundle.js" in urls
    assert any(url.endswith(".css") for url in urls)


async def test_swagger_ui_loads_our_openapi_document(client):
    html = await fetch_page(client, "/docs")
    spec_urls = re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
    assert spec_urls == ["/openapi.json"]
    response = await client.get(spec_urls[0])
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "CueCard API"


async def test_openapi_is_3_1_and_the_bundled_swagger_ui_reads_it(client):
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1.")
    html = await fetch_page(client, "/docs")
    scripts = [attrs.get("src") for tag, attrs in collect(html).tags if tag == "script" and attrs.get("src")]
    assert scripts == ["/static/docs/swagger-ui-bundle.js"]
    bundle = await client.get(scripts[0])
    assert bundle.status_code == 200
    # OpenAPI 3.1 needs Swagger UI 5 (3.1 support arrived in 5.0.0); the bundle names its version.
    versions = re.findall(r"""PACKAGE_VERSION:\s*["'](\d+)\.(\d+)\.(\d+)["']""", bundle.text)
    assert len(versions) == 1, versions
    assert int(versions[0][0]) >= 5, versions
    assert "openapi-3-1" in bundle.text  # the OpenAPI 3.1 plugin is in the bundle


async def test_graphiql_is_served_without_a_cdn(client):
    urls = await assert_self_contained(client, "/graphql")
    assert any(url.endswith(".js") for url in urls)
    assert any(url.endswith(".css") for url in urls)


@pytest.mark.parametrize("path", ["/docs", "/graphql"])
async def test_pages_have_no_protocol_relative_or_foreign_urls(client, path):
    html = await fetch_page(client, path)
    assert "cdn." not in html
    assert "unpkg.com" not in html
    assert "jsdelivr" not in html
    for url in collect(html).urls:
        assert not url.startswith("//"), url
        assert urlsplit(url).scheme in ("", "http", "https"), url
