"""Unknown parameters and values outside closed sets are errors, not silence.

A query parameter an operation does not declare is a 422 naming it and listing what the
operation accepts (it used to be ignored: the caller got a quietly different answer). The
pitch's `audience` must name a department; the lint's locale must have a word list. Free-text
context (segment, competitor, account) never errors: no match is the plain answer.
"""

from __future__ import annotations

import pytest

from tests.factories import bearer, make_brief, make_department, make_product, service_token, unique


def _unknown(response, *names: str) -> list[str]:
    """Assert a 422 naming exactly `names` as unknown query parameters; the accepted list."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert [(e["location"], e["field"], e["type"]) for e in problem["errors"]] == [
        ("query", name, "unknown_parameter") for name in names
    ]
    for name in names:
        assert name in problem["detail"]
    return problem["accepted"]


async def test_an_unknown_query_parameter_is_named_with_the_accepted_ones(client, callers):
    admin = callers.headers("admin")
    accepted = _unknown(await client.get("/api/v1/products?q=crm", headers=admin), "q")
    assert accepted == ["cursor", "limit"]
    ok = await client.get("/api/v1/products?limit=5", headers=admin)
    assert ok.status_code == 200, ok.text


async def test_channel_on_a_list_that_does_not_filter_by_it_is_refused(client, callers):
    editor = callers.headers("editor")
    accepted = _unknown(await client.get("/api/v1/messages?channel=email", headers=editor), "channel")
    assert {"kind", "status", "product_key", "audience", "locale", "brief_id", "limit", "cursor"} == set(
        accepted
    )
    # Every unknown one at once, sorted; a declared one beside them does not hide them.
    _unknown(
        await client.get("/api/v1/feedback?source=sales&q=x&channel=chat", headers=editor), "channel", "q"
    )


async def test_single_resources_and_writes_refuse_undeclared_parameters_too(client, callers):
    editor = callers.headers("editor")
    accepted = _unknown(
        await client.post("/api/v1/messages/lint?dry_run=1", json={"text": "fast"}, headers=editor), "dry_run"
    )
    assert accepted == []
    me = await client.get("/api/v1/me?expand=department", headers=editor)
    _unknown(me, "expand")


async def test_japanese_parameter_names_are_reported_as_sent(client, callers):
    accepted = _unknown(
        await client.get("/api/v1/products?検索=請求書", headers=callers.headers("admin")), "検索"
    )
    assert "limit" in accepted


@pytest.fixture
async def pitch(app, callers):
    product = await make_product(app, name="クラデスク 請求書AI")
    await make_brief(app, callers.people["editor"], product.key, status="published")
    return product


async def test_the_pitch_refuses_unknown_parameters_like_every_operation(app, client, pitch):
    crm = bearer(await service_token(app, client, "pitch:read"))
    accepted = _unknown(await client.get(f"/api/v1/pitch/{pitch.key}?q=x", headers=crm), "q")
    assert accepted == ["account", "audience", "competitor", "locale", "segment"]
    # A malformed request is refused before credentials are looked at, on the fast route as on
    # the others (as the body-size and media-type checks are); with no unknown parameter, 401.
    _unknown(await client.get(f"/api/v1/pitch/{pitch.key}?q=x"), "q")
    _unknown(await client.get("/api/v1/products?q=x"), "q")
    assert (await client.get(f"/api/v1/pitch/{pitch.key}?segment=x")).status_code == 401


async def test_free_text_context_without_a_match_is_the_plain_pitch(app, client, pitch):
    crm = bearer(await service_token(app, client, "pitch:read"))
    plain = await client.get(f"/api/v1/pitch/{pitch.key}", headers=crm)
    assert plain.status_code == 200, plain.text
    for query in (
        "segment=no-such-segment",
        "competitor=Nobody%20Inc",
        "account=acct-unknown-42",
        "segment=存在しない業界&competitor=無名&account=不明",
    ):
        answer = await client.get(f"/api/v1/pitch/{pitch.key}?{query}", headers=crm)
        assert answer.status_code == 200, (query, answer.text)
        assert answer.json() == plain.json(), query


async def test_an_audience_must_name_a_department(app, client, pitch):
    crm = bearer(await service_token(app, client, "pitch:read"))
    department = await make_department(app, key=unique("sales"), name="営業部")
    bad = unique("nobody")
    refused = await client.get(f"/api/v1/pitch/{pitch.key}?audience={bad}", headers=crm)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "audience" and problem["errors"][0]["location"] == "query"
    assert bad in problem["detail"] and department.key in problem["detail"]
    assert "all" in problem["accepted"] and department.key in problem["accepted"]

    for audience in (department.key, "all"):
        ok = await client.get(f"/api/v1/pitch/{pitch.key}?audience={audience}", headers=crm)
        assert ok.status_code == 200, ok.text
        assert ok.json()["audience"] == audience


async def test_a_department_created_after_the_first_read_is_an_audience_at_once(app, client, pitch):
    crm = bearer(await service_token(app, client, "pitch:read"))
    key = unique("later")
    assert (await client.get(f"/api/v1/pitch/{pitch.key}?audience={key}", headers=crm)).status_code == 422
    await make_department(app, key=key, name="後から")
    assert (await client.get(f"/api/v1/pitch/{pitch.key}?audience={key}", headers=crm)).status_code == 200


async def test_an_unsupported_lint_locale_says_so(client, callers):
    editor = callers.headers("editor")
    refused = await client.post(
        "/api/v1/messages/lint", json={"locale": "fr", "text": "Une solution rapide."}, headers=editor
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["supported"] == ["en", "ja"]
    assert "fr" in problem["detail"] and "en, ja" in problem["detail"]
    assert problem["errors"][0]["field"] == "locale"

    for locale, text in (("ja-JP", "多機能なツールです。"), ("en-GB", "A fast tool."), ("ja", "高速です。")):
        found = await client.post(
            "/api/v1/messages/lint", json={"locale": locale, "text": text}, headers=editor
        )
        assert found.status_code == 200, found.text
        assert found.json()["findings"], locale


async def test_graphql_lint_refuses_an_unsupported_locale_too(client, callers):
    query = 'query { lintMessage(text: "Une solution rapide.", locale: "de") { findings { word } } }'
    answer = await client.post("/graphql", json={"query": query}, headers=callers.headers("editor"))
    assert answer.status_code == 200
    errors = answer.json()["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "en, ja" in errors[0]["message"]
