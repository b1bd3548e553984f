"""The OpenAPI document declares what a generated client needs, and only what is true.

- Headers: If-None-Match on exactly the operations that answer 304 (the same declaration
  makes `resource_response` honour it), Idempotency-Key and If-Match as the header parameters
  through which alone the handlers receive them. No other code reads those headers: the
  registry below lists every place that does, so a new reader must declare itself here.
- Security: bearer and the OAuth 2.0 client-credentials flow, on every operation but the
  public ones; the scopes with their descriptions.
- Responses: every status an operation can answer, problems as application/problem+json.
- It is valid OpenAPI 3.1.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from service.auth.principal import SCOPE_DESCRIPTIONS, SCOPES
from tests.factories import make_product

SERVICE = Path(__file__).resolve().parents[1] / "service"
CONDITIONAL_HEADERS = ("if-none-match", "if-match", "idempotency-key")
# Every module that reads one of those headers straight from the request, and why that is
# still declared: anything else must take the header as a declared parameter.
HEADER_READERS = {
    # resource_response: only on routes that declare a 304 (documented with If-None-Match).
    "api/rest.py",
    # The pitch's fast route: its FastAPI twin declares the 304, hence If-None-Match.
    "pitch/rest.py",
    # Kept answers: a 304 only for an answer whose route gave an ETag (so declares the 304).
    "api/cached_reads.py",
    # SCIM (RFC 7644 §3.14) is outside the OpenAPI document.
    "scim/rest.py",
}
PUBLIC = {"/healthz", "/readyz", "/metrics", "/api/v1/auth/token"}


@pytest.fixture(scope="module")
def document(app):
    return app.openapi()


def _operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def _headers(operation) -> set[str]:
    return {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}


def test_it_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_no_code_reads_a_conditional_header_without_declaring_it():
    names = "|".join(CONDITIONAL_HEADERS)
    # `headers.get("if-match")`, or a raw ASGI header name compared as bytes (the pitch's route).
    pattern = re.compile(rf"headers\.get\(\s*[\"']({names})[\"']|b[\"']({names})[\"']", re.IGNORECASE)
    readers = {
        str(path.relative_to(SERVICE))
        for path in SERVICE.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    }
    assert readers == HEADER_READERS


def test_if_none_match_is_declared_exactly_where_a_304_is(document):
    for path, method, operation in _operations(document):
        declares_304 = "304" in operation["responses"]
        assert ("if-none-match" in _headers(operation)) == declares_304, (method, path)
        if declares_304:
            assert method == "get", path


def test_idempotency_key_and_if_match_are_declared_with_the_statuses_they_cause(document):
    idempotent = {(m, p) for p, m, op in _operations(document) if "idempotency-key" in _headers(op)}
    conditional = {(m, p) for p, m, op in _operations(document) if "if-match" in _headers(op)}
    # The writes integrations retry, and the changes that can race (CONTRACT.md).
    assert {
        ("post", "/api/v1/feedback"),
        ("post", "/api/v1/feedback/batch"),
        ("post", "/api/v1/people"),
        ("post", "/api/v1/briefs"),
        ("post", "/api/v1/messages"),
        ("post", "/api/v1/campaigns"),
    } <= idempotent
    assert {
        ("patch", "/api/v1/briefs/{brief_id}"),
        ("patch", "/api/v1/messages/{message_id}"),
        ("patch", "/api/v1/campaigns/{campaign_id}"),
        ("patch", "/api/v1/people/{person_id}"),
    } <= conditional
    for method, path in idempotent:
        operation = document["paths"][path][method]
        assert method == "post" and {"400", "409", "422"} <= operation["responses"].keys(), path
    for method, path in conditional:
        assert {"412", "428"} <= document["paths"][path][method]["responses"].keys(), path


async def test_if_none_match_is_honoured_where_declared_and_only_there(app, client, callers):
    product = await make_product(app)
    admin = callers.headers("admin")
    one = await client.get(f"/api/v1/products/{product.key}", headers=admin)
    assert (
        await client.get(
            f"/api/v1/products/{product.key}", headers={**admin, "If-None-Match": one.headers["etag"]}
        )
    ).status_code == 304
    listed = await client.get("/api/v1/products", headers={**admin, "If-None-Match": "*"})
    assert listed.status_code == 200  # a list declares no 304, so it has none to give


def test_bearer_and_client_credentials_secure_every_operation_but_the_public_ones(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert schemes["oauth2"]["type"] == "oauth2"
    assert flow["tokenUrl"] == "/api/v1/auth/token"
    assert list(flow["scopes"]) == list(SCOPES)
    assert all(flow["scopes"][s] == SCOPE_DESCRIPTIONS[s] for s in SCOPES), "describe every scope"
    assert document["security"] == [{"bearerAuth": []}, {"oauth2": []}]
    for path, method, operation in _operations(document):
        if path in PUBLIC:
            assert operation["security"] == [], path
        else:
            assert "security" not in operation, (method, path)  # the document-wide requirement
            assert {"401", "403"} <= operation["responses"].keys(), (method, path)


def test_every_problem_status_is_declared_with_the_problem_media_type(document):
    components = document["components"]["responses"]
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "4XX" not in responses and "5XX" not in responses
        assert "500" in responses, (method, path)
        if path.startswith("/api/v1/"):
            assert "422" in responses, (method, path)  # unknown query parameters, at least
        for status, response in responses.items():
            if int(status) < 400:
                continue
            if "$ref" in response:
                response = components[response["$ref"].rsplit("/", 1)[1]]
            assert list(response["content"]) == ["application/problem+json"], (method, path, status)
