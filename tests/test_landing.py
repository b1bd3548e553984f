"""`GET /` leads somewhere: a page of links for a browser, the same links as JSON otherwise."""

from __future__ import annotations

import re

from tests.test_ops import client_for

EXPECTED = {"/docs", "/openapi.json", "/graphql", "/healthz", "/readyz"}


async def test_a_browser_gets_a_page_of_links_that_all_answer(client):
    response = await client.get("/", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    hrefs = set(re.findall(r'href="([^"]+)"', response.text))
    assert hrefs == EXPECTED
    # Offline: nothing loaded from elsewhere, and the page is covered by our CSP.
    assert "http" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', response.text))
    assert "default-src 'none'" in response.headers["content-security-policy"]
    for href in hrefs - {"/graphql"}:
        assert (await client.get(href)).status_code == 200, href
    graphiql = await client.get("/graphql", headers={"accept": "text/html"})
    assert graphiql.status_code == 200


async def test_a_script_gets_the_links_as_json(client):
    for accept in ("application/json", "*/*", None):
        headers = {"accept": accept} if accept else {}
        response = await client.get("/", headers=headers)
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == "application/json"
        links = response.json()["links"]
        assert {link["href"] for link in links.values()} == EXPECTED
        assert links["docs"]["href"] == "/docs"
        assert response.headers["vary"] == "Accept"


async def test_link_headers_point_to_the_docs_and_the_openapi_document(client):
    response = await client.get("/")
    assert response.headers["link"] == '</docs>; rel="service-doc", </openapi.json>; rel="service-desc"'


async def test_without_graphiql_the_page_does_not_promise_it(database_url, tmp_path):
    async with client_for(database_url, tmp_path, graphiql=False) as http:
        response = await http.get("/", headers={"accept": "application/json"})
    assert "GraphiQL" not in response.json()["links"]["graphql"]["title"]


async def test_other_methods_are_refused_as_405_not_404(client):
    assert (await client.post("/")).status_code == 405
