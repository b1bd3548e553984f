"""CUECARD_LINT_WORDS_DIR: an operator's word list reaches the lint endpoint."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from service.main import create_app
from service.messages import lint
from tests.factories import bearer, make_person, token_for


async def test_an_operator_word_list_is_used(app, settings, tmp_path):
    (tmp_path / "ja.txt").write_text("# 社内で流行りの言い回し\n爆速\n", encoding="utf-8")
    configured = create_app(settings.model_copy(update={"lint_words_dir": tmp_path}))
    try:
        async with LifespanManager(configured):
            person = await make_person(configured)
            transport = httpx.ASGITransport(app=configured)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                response = await http.post(
                    "/api/v1/messages/lint",
                    json={"locale": "ja", "text": "爆速で高性能なAI"},
                    headers=bearer(token_for(configured, person)),
                )
        assert response.status_code == 200
        assert [f["word"] for f in response.json()["findings"]] == ["爆速", "高性能"]
    finally:
        lint.use_operator_word_lists(app.state.settings.lint_words_dir)
    assert [f.word for f in lint.lint("爆速で高性能なAI", "ja")] == ["高性能"]
