"""An app's own `lint_words_dir` setting (CUECARD_LINT_WORDS_DIR) decides its word lists.

Two apps in one process: the one created with the setting flags the operator's word at every
door that lints (the lint endpoint, a message's and a brief's write warnings, over REST and
GraphQL), the suite's app, created without it, does not; neither reads the environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from service.config import Settings
from service.main import create_app
from tests.factories import bearer, complete_brief, make_person, make_product, token_for

OPERATOR_WORD = "爆速"  # not in the shipped ja list
TEXT = f"{OPERATOR_WORD}で高性能なAI"


@pytest.fixture
async def configured(settings: Settings, tmp_path: Path) -> AsyncIterator[FastAPI]:
    (tmp_path / "ja.txt").write_text(f"# 社内で流行りの言い回し\n{OPERATOR_WORD}\n", encoding="utf-8")
    application = create_app(settings.model_copy(update={"lint_words_dir": tmp_path}))
    async with LifespanManager(application):
        yield application


async def lint_words(app: FastAPI, token: str) -> list[str]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post(
            "/api/v1/messages/lint", json={"locale": "ja", "text": TEXT}, headers=bearer(token)
        )
    assert response.status_code == 200, response.text
    return [f["word"] for f in response.json()["findings"]]


async def written_warnings(app: FastAPI) -> dict[str, list[tuple[str, str]]]:
    """The warnings of a message and a brief written through REST, and a message through
    GraphQL, by an editor of `app`."""
    editor = await make_person(app, role="editor")
    headers = bearer(token_for(app, editor))
    product = await make_product(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        message = await http.post(
            "/api/v1/messages",
            json={"kind": "talking_point", "locale": "ja", "title": TEXT},
            headers=headers,
        )
        brief = await http.post(
            "/api/v1/briefs", json=complete_brief(product.key, value_proposition=TEXT), headers=headers
        )
        mutation = await http.post(
            "/graphql",
            json={
                "query": "mutation($title: String!) { createMessage(input: "
                '{kind: TALKING_POINT, locale: "ja", title: $title}) { warnings { field word } } }',
                "variables": {"title": TEXT},
            },
            headers=headers,
        )
    assert message.status_code == 201, message.text
    assert brief.status_code == 201, brief.text
    assert "errors" not in mutation.json(), mutation.text
    return {
        "message": [(w["field"], w["word"]) for w in message.json()["warnings"]],
        "brief": [
            (w["field"], w["word"]) for w in brief.json()["warnings"] if w["field"] == "value_proposition"
        ],
        "graphql message": [
            (w["field"], w["word"]) for w in mutation.json()["data"]["createMessage"]["warnings"]
        ],
    }


async def test_the_lint_endpoint_uses_the_apps_own_word_lists(app, configured, monkeypatch):
    monkeypatch.delenv("CUECARD_LINT_WORDS_DIR", raising=False)  # the setting, not the environment
    configured_person = await make_person(configured)
    plain_person = await make_person(app)

    assert await lint_words(configured, token_for(configured, configured_person)) == [OPERATOR_WORD, "高性能"]
    assert await lint_words(app, token_for(app, plain_person)) == ["高性能"]
    # And again, the other way round: nothing one app did changed the other's lists.
    assert await lint_words(configured, token_for(configured, configured_person)) == [OPERATOR_WORD, "高性能"]


async def test_write_warnings_use_the_apps_own_word_lists(app, configured, monkeypatch):
    monkeypatch.delenv("CUECARD_LINT_WORDS_DIR", raising=False)

    flagged = await written_warnings(configured)
    assert flagged["message"] == [("title", OPERATOR_WORD), ("title", "高性能")]
    assert flagged["brief"] == [("value_proposition", OPERATOR_WORD), ("value_proposition", "高性能")]
    assert flagged["graphql message"] == [("title", OPERATOR_WORD), ("title", "高性能")]

    plain = await written_warnings(app)
    assert plain["message"] == [("title", "高性能")]
    assert plain["brief"] == [("value_proposition", "高性能")]
    assert plain["graphql message"] == [("title", "高性能")]


async def test_an_operator_language_is_accepted_only_by_the_app_that_has_it(app, configured, tmp_path):
    # configured's directory is tmp_path (same test, same fixture directory).
    (tmp_path / "fr.txt").write_text("performant\n", encoding="utf-8")
    body = {"locale": "fr", "text": "Un outil performant"}
    for application, status, words in ((configured, 200, ["performant"]), (app, 422, None)):
        person = await make_person(application)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.post(
                "/api/v1/messages/lint", json=body, headers=bearer(token_for(application, person))
            )
        assert response.status_code == status, response.text
        if words is not None:
            assert [f["word"] for f in response.json()["findings"]] == words
        else:
            assert "fr" not in response.json()["supported"]


async def test_graphql_lint_uses_the_apps_own_word_lists(configured):
    person = await make_person(configured)
    transport = httpx.ASGITransport(app=configured)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post(
            "/graphql",
            json={"query": f'{{ lintMessage(locale: "ja", text: "{TEXT}") {{ findings {{ word }} }} }}'},
            headers=bearer(token_for(configured, person)),
        )
    assert [f["word"] for f in response.json()["data"]["lintMessage"]["findings"]] == [
        OPERATOR_WORD,
        "高性能",
    ]
