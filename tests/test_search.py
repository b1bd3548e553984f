"""Search over REST and GraphQL, on the backend of this pass: Japanese, English and mixed queries
find the right documents first; visibility is the reads' (refused side first); the index moves
with the content's transaction; pages follow each other without gaps or repeats."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from service.briefs import service as briefs_service
from service.briefs.schemas import BriefCreate
from service.db import use_case
from service.evidence import service as evidence_service
from service.evidence.schemas import EvidenceCreate
from service.feedback import ingest
from service.feedback import themes as themes_service
from service.feedback.models import FeedbackItem
from service.feedback.schemas import ThemeCreate
from service.messages import service as messages_service
from service.messages.schemas import MessageCreate
from service.search import index as search_index
from service.search import repository as search_repository
from service.search import tokens
from service.search.documents import of_feedback
from service.search.models import SearchDocument
from tests.factories import (
    OPERATOR,
    bearer,
    complete_brief,
    make_brief,
    make_product,
    principal_of,
    service_token,
    unique,
)
from tests.racing import race

JA_BRIEF = {
    "title": "価格への反論に答える KuraDesk",
    "pitch": "価格が高いという反論には、月末の残業が週3時間減ることで答えます。",
}
EN_BRIEF = {
    "locale": "en",
    "title": "Answering pricing objections for KuraDesk",
    "pitch": "When a customer raises a pricing objection, show the three hours a week it saves.",
}


async def publish_message(app, product_key: str, **fields) -> str:
    async with app.state.sessionmaker() as session:
        draft = await messages_service.create_message(
            session, OPERATOR, MessageCreate(product_key=product_key, **fields)
        )
        await messages_service.submit_message(session, OPERATOR, draft.id)
        published = await messages_service.publish_message(session, OPERATOR, draft.id)
    return str(published.id)


async def draft_message(app, product_key: str, **fields) -> str:
    async with app.state.sessionmaker() as session:
        draft = await messages_service.create_message(
            session, OPERATOR, MessageCreate(product_key=product_key, **fields)
        )
    return str(draft.id)


async def search(client, callers, caller="employee", **params):
    response = await client.get("/api/v1/search", params=params, headers=callers.headers(caller))
    assert response.status_code == 200, response.text
    return response.json()


def found(body) -> list[tuple[str, str]]:
    return [(item["type"], item["id"]) for item in body["items"]]


@pytest.fixture
async def corpus(app, callers):
    """A published Japanese and English brief, key messages and FAQs in both, and decoys."""
    product = await make_product(app)
    editor, manager = callers.people["editor"], callers.people["manager"]
    ja = await make_brief(app, editor, product.key, status="published", reviewer=manager, **JA_BRIEF)
    en = await make_brief(app, editor, product.key, status="published", reviewer=manager, **EN_BRIEF)
    ids = {
        "ja_brief": str(ja.id),
        "en_brief": str(en.id),
        "ja_message": await publish_message(
            app,
            product.key,
            kind="key_message",
            locale="ja",
            title="価格の反論は時間で返す",
            body="価格への反論には、削減できる時間で答える。",
        ),
        "ja_faq": await publish_message(
            app,
            product.key,
            kind="faq",
            locale="ja",
            title="よくある質問: 価格が高いという反論",
            body="反論: 価格が高い。答え: 週3時間の削減で半年で元が取れます。",
        ),
        "en_message": await publish_message(
            app,
            product.key,
            kind="key_message",
            locale="en",
            title="Meet a pricing objection with hours saved",
            body="Every pricing objection is answered with the time it saves.",
        ),
        "en_faq": await publish_message(
            app,
            product.key,
            kind="faq",
            locale="en",
            title="FAQ: the pricing objection",
            body="Objection: the price is high. Pricing answer: it pays back within six months.",
        ),
        # Decoys: one of the two words only, or both far apart in a long text.
        "ja_decoy": await publish_message(
            app,
            product.key,
            kind="talking_point",
            locale="ja",
            title="評価の高い機能",
            body="価格表は営業部で配布する。" + "請求書の読み取りは高速です。" * 20 + "反論は少ない。",
        ),
        "ja_half": await publish_message(
            app,
            product.key,
            kind="talking_point",
            locale="ja",
            title="価格表",
            body="価格表は営業部で配布する。",
        ),
        "en_decoy": await publish_message(
            app,
            product.key,
            kind="talking_point",
            locale="en",
            title="Release notes",
            body="Faster import. " * 30 + "No objection came up about pricing.",
        ),
    }
    ids["product_key"] = product.key
    return ids


async def test_a_japanese_query_finds_the_brief_message_and_faq_first(client, callers, corpus):
    body = await search(client, callers, q="価格 反論")
    top = set(found(body)[:3])
    assert top == {
        ("brief", corpus["ja_brief"]),
        ("message", corpus["ja_message"]),
        ("message", corpus["ja_faq"]),
    }
    ids = [item["id"] for item in body["items"]]
    assert corpus["ja_half"] not in ids  # 価格 alone: every word of the query must match
    assert ids.index(corpus["ja_decoy"]) == 3  # both words, far apart, in a long text: after them
    first = body["items"][0]
    for start, end in first["highlights"]:
        assert first["snippet"][start:end] in ("価格", "反論")
    assert first["highlights"]


async def test_japanese_without_spaces_and_a_single_character(client, callers, corpus):
    body = await search(client, callers, q="価格への反論")
    assert ("brief", corpus["ja_brief"]) in found(body)  # bigrams match across the particle
    body = await search(client, callers, q="論", types="message")
    assert ("message", corpus["ja_faq"]) in found(body)  # one character: a prefix of bigrams


async def test_an_english_query_finds_the_brief_message_and_faq_first(client, callers, corpus):
    body = await search(client, callers, q="Pricing objections")
    top = set(found(body)[:3])
    assert top == {
        ("brief", corpus["en_brief"]),
        ("message", corpus["en_message"]),
        ("message", corpus["en_faq"]),
    }
    assert found(body)[3] == ("message", corpus["en_decoy"])
    hit = body["items"][0]
    assert [hit["snippet"][a:b].lower() for a, b in hit["highlights"]] != []
    assert all(hit["snippet"][a:b].lower().startswith(("pricing", "objection")) for a, b in hit["highlights"])


async def test_mixed_query_and_filters(client, callers, corpus):
    body = await search(client, callers, q="KuraDesk 価格")
    assert found(body)[0] == ("brief", corpus["ja_brief"])  # KuraDesk and 価格: only the Japanese brief
    body = await search(client, callers, q="pricing objection", types="brief", locale="en")
    assert found(body) == [("brief", corpus["en_brief"])]
    body = await search(client, callers, q="pricing objection", locale="ja")
    assert found(body) == []
    body = await search(client, callers, q="pricing objection", product_key="no-such-product")
    assert found(body) == []
    body = await search(
        client, callers, q="pricing objection", product_key=corpus["product_key"], types="brief"
    )
    assert set(found(body)) == {("brief", corpus["en_brief"])}


async def test_postgres_and_sqlite_agree_on_the_score(client, callers, corpus):
    """The score is computed in Python from the stored tokens: these exact values hold on both."""
    body = await search(client, callers, q="価格 反論", types="message")
    scores = {item["id"]: item["score"] for item in body["items"]}
    # The decoy (both words, far apart in a long text), the key message, the FAQ.
    assert sorted(scores.values()) == [0.290909, 1.764818, 1.792079]


# --- visibility: the refused side first ---------------------------------------------------------


async def test_an_employee_sees_no_draft(app, client, callers):
    product = await make_product(app)
    draft = await make_brief(app, callers.people["editor"], product.key, title="下書き 反論集 draftword")
    message = await draft_message(app, product.key, kind="faq", title="draftword 下書きFAQ")
    for caller in ("employee", "svc_pitch"):
        assert found(await search(client, callers, caller, q="draftword")) == []
    editor = found(await search(client, callers, "editor", q="draftword"))
    assert set(editor) == {("brief", str(draft.id)), ("message", message)}
    assert found(await search(client, callers, "manager", q="反論集")) == [("brief", str(draft.id))]


async def test_an_employee_sees_only_their_own_feedback_and_no_themes(app, client, callers):
    product = await make_product(app)
    mine = await client.post(
        "/api/v1/feedback",
        json={
            "source": "sales",
            "product_key": product.key,
            "body": "お客様から価格の反論: 高すぎる zebrafeedback",
        },
        headers=callers.headers("employee"),
    )
    assert mine.status_code == 201, mine.text
    theirs = await client.post(
        "/api/v1/feedback",
        json={
            "source": "sales",
            "product_key": product.key,
            "body": "別の営業が聞いた価格の反論 zebrafeedback",
        },
        headers=callers.headers("manager"),
    )
    assert theirs.status_code == 201, theirs.text
    async with app.state.sessionmaker() as session:
        theme = await themes_service.create_theme(
            session, OPERATOR, ThemeCreate(name="価格への反論 zebrafeedback", product_key=product.key)
        )
    employee = found(await search(client, callers, q="zebrafeedback"))
    assert employee == [("feedback", mine.json()["id"])]
    refused = await client.get(
        "/api/v1/search", params={"q": "zebrafeedback", "types": "theme"}, headers=callers.headers("employee")
    )
    assert refused.status_code == 403  # as the theme list is refused them
    editor = set(found(await search(client, callers, "editor", q="zebrafeedback")))
    assert editor == {
        ("feedback", mine.json()["id"]),
        ("feedback", theirs.json()["id"]),
        ("theme", str(theme.id)),
    }


async def test_evidence_behind_an_unpublished_brief_is_not_found(app, client, callers):
    product = await make_product(app)
    editor, manager = callers.people["editor"], callers.people["manager"]
    claim = {"kind": "metric", "claim": "quokkametric 入力時間が週3時間減少", "source": "pilot"}
    brief = await make_brief(app, editor, product.key, evidence=[claim], status="in_review")
    assert found(await search(client, callers, q="quokkametric")) == []
    staff = found(await search(client, callers, "manager", q="quokkametric"))
    assert [t for t, _ in staff] == ["evidence"]
    async with app.state.sessionmaker() as session:
        await briefs_service.approve_brief(session, principal_of(manager), brief.id)
    assert found(await search(client, callers, q="quokkametric")) == staff
    # Evidence belongs to the products of what cites it.
    assert found(await search(client, callers, q="quokkametric", product_key=product.key)) == staff
    other = await make_product(app)
    assert found(await search(client, callers, q="quokkametric", product_key=other.key)) == []


# --- the index moves with the content -------------------------------------------------------------


async def index_rows(session, doc_ids) -> int:
    stmt = sa.select(sa.func.count()).where(SearchDocument.__table__.c.doc_id.in_(doc_ids))
    return (await session.execute(stmt)).scalar_one()


async def test_a_rolled_back_change_leaves_no_index_row(app, callers):
    product = await make_product(app)
    editor = principal_of(callers.people["editor"])

    class Abort(Exception):
        pass

    created: list[uuid.UUID] = []
    with pytest.raises(Abort):
        async with app.state.sessionmaker() as session, use_case(session):
            brief = await briefs_service.create_brief(
                session, editor, BriefCreate(**complete_brief(product.key))
            )
            item = await evidence_service.create_evidence(
                session, OPERATOR, EvidenceCreate(kind="case", claim="rollback case", source="test")
            )
            created += [brief.id, item.id]
            assert await index_rows(session, created) == 2  # written in the use case's transaction
            raise Abort
    async with app.state.sessionmaker() as session:
        assert await index_rows(session, created) == 0


async def test_updating_content_updates_the_index(app, client, callers):
    product = await make_product(app)
    created = await client.post(
        "/api/v1/briefs",
        json=complete_brief(product.key, title="wombatword 旧題"),
        headers=callers.headers("editor"),
    )
    assert created.status_code == 201, created.text
    brief_id = created.json()["id"]
    assert found(await search(client, callers, "editor", q="wombatword")) == [("brief", brief_id)]
    changed = await client.patch(
        f"/api/v1/briefs/{brief_id}",
        json={"title": "platypusword 新題"},
        headers={**callers.headers("editor"), "If-Match": created.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    assert found(await search(client, callers, "editor", q="wombatword")) == []
    assert found(await search(client, callers, "editor", q="新題 platypusword")) == [("brief", brief_id)]


async def test_batch_ingested_feedback_is_searchable(app, client, callers):
    token = callers.tokens["admin"]
    items = [{"source": "sales", "body": f"capybara request {n} 価格"} for n in range(3)]
    response = await client.post(
        "/api/v1/feedback/batch", json={"items": items}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (200, 201), response.text
    assert len(found(await search(client, callers, "admin", q="capybara 価格"))) == 3


async def assert_feedback_index_is_the_items(app) -> int:
    """Every feedback item has exactly the index row the flush hook would write for it as stored
    now (the batch builds its rows from what it sent, not from the stored rows), and no other."""
    docs = SearchDocument.__table__.c
    compared = ("key_hash", "doc_id", "product_id", "locale", "title", "body", "tokens")
    async with app.state.sessionmaker() as session:
        items = (await session.execute(sa.select(FeedbackItem))).scalars().all()
        expected = {
            item.id: {k: v for k, v in search_repository.row_of(of_feedback(item)).items() if k in compared}
            for item in items
        }
        rows = await session.execute(
            sa.select(*(docs[k] for k in compared)).where(docs.doc_type == "feedback")
        )
        indexed = {row.doc_id: row._asdict() for row in rows}
    assert indexed == expected
    return len(expected)


async def test_a_batch_indexes_what_it_stores_first_time_changed_and_racing(app, client):
    headers = bearer(await service_token(app, client, "feedback:write"))
    keys = [unique("S") for _ in range(30)]

    def items(word: str) -> list[dict[str, object]]:
        return [
            {
                "source": "support",
                "external_id": key,
                "body": f"{word} 請求書の読み取り  が遅い\n  (#{n})",
                "tags": ["速度", "速度", "ＫｕｒａＤｅｓｋ"],
            }
            for n, key in enumerate(keys)
        ]

    url = "/api/v1/feedback/batch"
    first = await client.post(url, json={"items": items("wombat")}, headers=headers)
    assert first.json()["created"] == 30, first.text
    assert await assert_feedback_index_is_the_items(app) == 30
    changed = await client.post(url, json={"items": items("platypus")}, headers=headers)
    assert changed.json()["updated"] == 30, changed.text
    assert await assert_feedback_index_is_the_items(app) == 30
    # Two batches with the same keys and other content at once: whichever writes second replaces
    # rows the other stored after it looked (its INSERT meets them), under the stored ids.
    keys[:] = [unique("R") for _ in range(30)]
    racing = await race(
        app,
        [("POST", url, {"json": {"items": items(word)}, "headers": headers}) for word in ("koala", "quokka")],
    )
    assert [r.status_code for r in racing] == [200, 200], [r.text for r in racing]
    assert await assert_feedback_index_is_the_items(app) == 60


async def test_a_batch_of_several_chunks_mixes_outcomes_and_indexes_each_once(app, client):
    """Chunks are written while the next one is checked, and its lookups run between the
    previous chunk's INSERTs: every outcome, and a key repeated across a chunk boundary, come
    out as in one pass, with one index row per stored item."""
    headers = bearer(await service_token(app, client, "feedback:write"))
    url = "/api/v1/feedback/batch"
    size = ingest.FIRST_CHUNK + ingest.INGEST_CHUNK + 100  # three chunks

    def items(word: str, changed: range) -> list[dict[str, object]]:
        return [
            {
                "source": "support",
                "external_id": f"C-{n}",
                "body": f"{word if n in changed else 'dingo'} 価格 {n}",
            }
            for n in range(size)
        ]

    first = (await client.post(url, json={"items": items("dingo", range(0))[::2]}, headers=headers)).json()
    assert (first["created"], first["errors"]) == (size // 2, [])
    # Odd items are new, every tenth even one changed, the rest unchanged; item 0's key again
    # in the second chunk is refused, once.
    second_items = items("bilby", range(0, size, 10))
    second_items.append({"source": "support", "external_id": "C-0", "body": "again"})
    second = (await client.post(url, json={"items": second_items}, headers=headers)).json()
    changed = len(range(0, size, 10))
    assert (second["created"], second["updated"], second["unchanged"]) == (
        size // 2,
        changed,
        size // 2 - changed,
    )
    assert [(e["index"], e["errors"][0]["type"]) for e in second["errors"]] == [(size, "duplicate")]
    assert await assert_feedback_index_is_the_items(app) == size


async def test_an_item_written_under_another_id_is_indexed_as_stored(app, client):
    """What the race above may or may not hit: the INSERT returned an id the batch did not make
    (it replaced a row stored meanwhile), and did not write the one it made."""
    headers = bearer(await service_token(app, client, "feedback:write"))
    item = {"source": "support", "external_id": unique("S"), "body": "echidna 請求書"}
    assert (
        await client.post("/api/v1/feedback/batch", json={"items": [item]}, headers=headers)
    ).status_code == 200
    async with app.state.sessionmaker() as session, use_case(session):
        stored = (await session.execute(sa.select(FeedbackItem))).scalars().one()
        await session.execute(sa.update(FeedbackItem).values(body="numbat 請求書"))  # as the winner wrote it
        meant = await search_index.feedback_rows([(uuid.uuid4(), "echidna 請求書", [], None)])
        await search_index.write_feedback(session, meant, {stored.id})
    assert await assert_feedback_index_is_the_items(app) == 1


# --- pages ----------------------------------------------------------------------------------------


async def test_pages_follow_each_other_without_gap_or_repeat(app, client, callers):
    for n in range(7):
        response = await client.post(
            "/api/v1/feedback",
            json={"source": "sales", "body": "latency " * (n % 3 + 1) + f"report {n}"},
            headers=callers.headers("editor"),
        )
        assert response.status_code == 201, response.text
    everything = found(await search(client, callers, "editor", q="latency", limit=200))
    assert len(everything) == 7
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params = {"q": "latency", "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/search", params=params, headers=callers.headers("editor"))
        assert response.status_code == 200, response.text
        seen += found(response.json())
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        assert 'rel="next"' in response.headers["Link"]
    assert seen == everything


async def test_graphql_search_is_the_same_service(client, callers, corpus):
    query = """query($q: String!, $after: String) {
      search(q: $q, types: ["brief", "message"], first: 2, after: $after) {
        edges { cursor node { type id title snippet highlights score } }
        pageInfo { hasNextPage endCursor }
      }
    }"""
    rest = found(await search(client, callers, q="価格 反論", types="brief,message"))
    seen: list[tuple[str, str]] = []
    after = None
    while True:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": {"q": "価格 反論", "after": after}},
            headers=callers.headers("employee"),
        )
        data = response.json()
        assert "errors" not in data, data
        page = data["data"]["search"]
        seen += [(e["node"]["type"].lower(), e["node"]["id"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == rest


# --- refused input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "a\x00b"},
        {"q": "x" * 257},
        {"q": "!!!"},
        {"q": "price", "types": "brief,invoice"},
        {"q": "price", "cursor": "not-a-cursor"},
        {"q": "price", "limit": 0},
    ],
)
async def test_bad_input_is_a_422_problem(client, callers, params):
    response = await client.get("/api/v1/search", params=params, headers=callers.headers("employee"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_anonymous_is_refused(client):
    response = await client.get("/api/v1/search", params={"q": "price"})
    assert response.status_code == 401


# --- the tokenizer ---------------------------------------------------------------------------------


def test_tokens_bigrams_for_japanese_words_for_latin():
    assert [t.text for t in tokens.tokenize("価格反論", query=True)] == ["価格", "格反", "反論"]
    assert [t.text for t in tokens.tokenize("価格")] == ["価格", "格"]
    assert [t.text for t in tokens.tokenize("Pricing Objections, ＫｕｒａＤｅｓｋ café")] == [
        "pricing",
        "objection",
        "kuradesk",
        "cafe",
    ]
    mixed = tokens.tokenize("KuraDeskの価格")
    assert [(t.text, t.start, t.end) for t in mixed] == [
        ("kuradesk", 0, 8),
        ("の価", 8, 10),
        ("価格", 9, 11),
        ("格", 10, 11),
    ]
    assert tokens.query_terms("ｶﾞｲﾄﾞ") == tokens.query_terms("ガイド")


def test_document_tokens_line_by_line_are_the_texts_tokens():
    """A document is tokenised line by line, each line once (a feedback item's title is its first
    line): the same tokens as each whole text, whatever normalising does at a line break."""
    texts = [
        "価格への反論\n価格への反論",
        "ｶ\nﾞｷﾞ\nガ",  # a half-width voiced mark after a line break composes with nothing
        "cafe\u0301\n\u0301é",  # and a combining accent neither
        "ﬁle ß\nStraße ﬁ",  # folding lengthens: those lines go character by character
        "\n\n ＫｕｒａＤｅｓｋ\t값 가격\n\n",
        "",
    ]
    for title in texts:
        for body in texts:
            expected = " ".join(tokens.token_texts(title) + tokens.token_texts(body))
            assert tokens.document_tokens(title, body) == expected, (title, body)


def test_bigrams_find_every_labelled_text_where_words_do_not():
    """The figures in service/search/tokens.py's docstring (bench/search/recall.py)."""
    from bench.search import recall

    assert recall.measure("bigrams") == (1.0, 1.0)
    assert recall.measure("words")[0] < 0.4
    assert recall.measure("unigrams")[1] < 0.95
