"""CUECARD_LINT_WORDS_DIR: an operator's word list reaches the lint endpoint."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from service.main import create_app
from service.messages import lint
from tests.factories import bearer, make_person, token_for


async def test_an_operator_word_list_is_used(settings, tmp_path, monkeypatch):
    (tmp_path / "ja.txt").write_text("# 社内で流行りの言い回し\n爆速\n", encoding="utf-8")
    # Read once per process: this test stands in for a process started with the setting.
    monkeypatch.setenv("CUECARD_LINT_WORDS_DIR", str(tmp_path))
    lint.operator_dirs.cache_clear()
    configured = create_app(settings)
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
        monkeypatch.delenv("CUECARD_LINT_WORDS_DIR")
        lint.operator_dirs.cache_clear()
    assert [f.word for f in lint.lint("爆速で高性能なAI", "ja")] == ["高性能"]
