"""The pitch in the reader's language (issue 15, items 4 and 5): the fallback chain, BCP 47
matching, translations that go outdated when their source changes substantively, and the
whole card (FAQ, talking points, differentiators and trade-offs, gut-check, each claim's
freshness) in the served locale."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pydantic
import pytest
from asgi_lifespan import LifespanManager

from service.config import Settings
from service.evidence.service import today
from service.main import create_app
from tests.factories import (
    complete_brief,
    counting_statements,
    make_brief,
    make_product,
    notices_settled,
)
from tests.pitch.test_card_escaping import CARD_TAGS, Markup
from tests.pitch.test_pitch import publish_message
from tests.test_graphql import gql


def english(product_key: str, **overrides: object) -> dict:
    """An English brief body that passes submit."""
    body = complete_brief(
        product_key,
        locale="en",
        title="KuraDesk invoice AI launch",
        pains=[{"kind": "dissatisfaction", "text": "Month-end overtime typing invoices"}],
        value_proposition="Cut invoice entry by three hours a week",
        differentiators=[
            {
                "alternative": "Manual entry",
                "difference": "Reads and books invoices automatically",
                "trade_off": "No handwritten invoices",
            }
        ],
        evidence=[{"kind": "metric", "claim": "Five pilots saved 3 h/week", "source": "2026 pilot"}],
        pitch="KuraDesk reads your invoices so month-end ends on time.",
        customer_next_action="Load last month's invoices in a free trial",
        gut_check={
            "who_changes": "Accounts clerks leave on time",
            "next_action": "Try it with last month's invoices",
            "what_we_give_up": "Handwritten invoices",
        },
    )
    body.update(overrides)
    return body


def overrides(body: dict) -> dict:
    """A brief body as make_brief's overrides (the product is its own argument)."""
    return {k: v for k, v in body.items() if k != "product_key"}


async def walk_to_published(client, brief_id: str, author, approver) -> dict:
    submitted = await client.post(f"/api/v1/briefs/{brief_id}/submit", headers=author)
    assert submitted.status_code == 200, submitted.text
    approved = await client.post(f"/api/v1/briefs/{brief_id}/approve", headers=approver)
    assert approved.status_code == 200, approved.text
    return approved.json()


async def revise_and_publish(client, brief_id: str, change: str, author, approver, **edits) -> dict:
    opened = await client.post(f"/api/v1/briefs/{brief_id}/revise", json={"change": change}, headers=author)
    assert opened.status_code == 201 or opened.status_code == 200, opened.text
    draft = opened.json()
    if edits:
        patched = await client.patch(
            f"/api/v1/briefs/{draft['id']}",
            json=edits,
            headers={**author, "If-Match": opened.headers["etag"]},
        )
        assert patched.status_code == 200, patched.text
    return await walk_to_published(client, draft["id"], author, approver)


@asynccontextmanager
async def app_with(settings: Settings, **changes: object) -> AsyncIterator[httpx.AsyncClient]:
    """Another app on the same database, with other settings (read it after the writes)."""
    other = create_app(settings.model_copy(update=changes))
    async with LifespanManager(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as client:
            yield client


# --- the fallback chain -------------------------------------------------------------------------


async def test_english_asked_with_only_japanese_published_serves_japanese_and_says_so(
    app, client, crm, callers
):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")  # ja
    url = f"/api/v1/pitch/{product.key}"

    asked_en = await client.get(f"{url}?locale=en", headers=crm)
    assert asked_en.status_code == 200, asked_en.text
    assert asked_en.headers["content-language"] == "ja"
    assert asked_en.json()["locale"] == "ja"
    assert asked_en.json()["fallback"] is True

    asked_ja = await client.get(f"{url}?locale=ja", headers=crm)
    assert asked_ja.headers["content-language"] == "ja"
    assert asked_ja.json()["fallback"] is False
    # The same document, but not the same answer: the ETag follows the fallback.
    assert asked_ja.headers["etag"] != asked_en.headers["etag"]
    not_modified = await client.get(
        f"{url}?locale=en", headers={**crm, "If-None-Match": asked_en.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert not_modified.headers["content-language"] == "ja"
    other = await client.get(f"{url}?locale=en", headers={**crm, "If-None-Match": asked_ja.headers["etag"]})
    assert other.status_code == 200

    # The card says so too, in Japanese (the served locale).
    card = await client.get(f"{url}?locale=en", headers={**crm, "Accept": "text/html"})
    assert card.headers["content-language"] == "ja"
    assert 'lang="ja"' in card.text
    assert "ご指定の言語では公開されていないため" in card.text
    plain = await client.get(f"{url}?locale=ja", headers={**crm, "Accept": "text/html"})
    assert "ご指定の言語では公開されていないため" not in plain.text

    # Once English is published, English is served, no longer a fallback.
    await make_brief(
        app, callers.people["editor"], product.key, status="published", **overrides(english(product.key))
    )
    now_en = await client.get(f"{url}?locale=en", headers=crm)
    assert now_en.json()["locale"] == "en"
    assert now_en.json()["fallback"] is False
    assert now_en.headers["content-language"] == "en"


async def test_usage_is_recorded_against_the_locale_served(app, client, crm, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")  # ja
    recorded = await client.post(
        f"/api/v1/pitch/{product.key}/usage", json={"event": "shown", "locale": "en-US"}, headers=crm
    )
    assert recorded.status_code == 201, recorded.text
    summary = await client.get(f"/api/v1/pitch/{product.key}/usage", headers=callers.headers("editor"))
    assert [(c["locale"], c["event"], c["count"]) for c in summary.json()["counts"]] == [("ja", "shown", 1)]


async def test_a_fallback_is_resolved_once_and_a_hit_touches_no_database(app, client, crm, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")  # ja
    urls = [f"/api/v1/pitch/{product.key}?locale={tag}" for tag in ("en", "en-US", "ja", "de")]
    await notices_settled(app)
    for url in urls:  # warm: one load of the product, each requested locale resolved once
        await client.get(url, headers=crm)
        await client.get(url, headers={**crm, "Accept": "text/html"})
    async with counting_statements(app) as statements:
        for url in urls * 3:
            assert (await client.get(url, headers=crm)).status_code == 200
            assert (await client.get(url, headers={**crm, "Accept": "text/html"})).status_code == 200
    assert statements == []


async def test_bcp47_region_tags_match_their_language(app, client, crm, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")  # ja
    await make_brief(
        app, callers.people["editor"], product.key, status="published", **overrides(english(product.key))
    )
    url = f"/api/v1/pitch/{product.key}"
    for asked, served in (("en-US", "en"), ("EN-gb", "en"), ("ja-JP", "ja"), ("en", "en")):
        response = await client.get(f"{url}?locale={asked}", headers=crm)
        assert response.status_code == 200, (asked, response.text)
        assert (response.json()["locale"], response.json()["fallback"]) == (served, False), asked
        assert response.headers["content-language"] == served
    # en-US and en are one answer (one ETag): matching is not falling back.
    assert (await client.get(f"{url}?locale=en-US", headers=crm)).headers["etag"] == (
        await client.get(f"{url}?locale=en", headers=crm)
    ).headers["etag"]


async def test_without_a_setting_the_product_first_published_locale_is_the_fallback(
    app, client, crm, callers
):
    product = await make_product(app)
    await make_brief(
        app, callers.people["editor"], product.key, status="published", **overrides(english(product.key))
    )
    await make_brief(app, callers.people["editor"], product.key, status="published")  # ja, later
    de = await client.get(f"/api/v1/pitch/{product.key}?locale=de-DE", headers=crm)
    assert de.status_code == 200
    assert (de.json()["locale"], de.json()["fallback"]) == ("en", True)
    assert de.headers["content-language"] == "en"


async def test_configured_fallbacks_are_followed_and_404_stays_when_none_is_published(
    app, settings, client, crm, callers
):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")  # ja first
    await make_brief(
        app, callers.people["editor"], product.key, status="published", **overrides(english(product.key))
    )
    ja_only = await make_product(app)
    await make_brief(app, callers.people["editor"], ja_only.key, status="published")
    nothing = await make_product(app)

    async with app_with(settings, locale_fallbacks="de:en, fr:ko, pt:es,es:pt, it:de") as other:

        async def served(key: str, locale: str) -> tuple[int, str | None, bool | None]:
            response = await other.get(f"/api/v1/pitch/{key}?locale={locale}", headers=crm)
            if response.status_code != 200:
                return response.status_code, None, None
            assert response.headers["content-language"] == response.json()["locale"]
            return 200, response.json()["locale"], response.json()["fallback"]

        # de → en (not the product's first locale, ja).
        assert await served(product.key, "de-AT") == (200, "en", True)
        # it → de → en: the chain is followed hop by hop.
        assert await served(product.key, "it") == (200, "en", True)
        # de → en, en not published for this product: the chain ends, nothing is served.
        assert await served(ja_only.key, "de") == (404, None, None)
        # fr → ko: nothing published in the chain → 404, not the first locale.
        assert await served(product.key, "fr") == (404, None, None)
        # A loop ends.
        assert await served(product.key, "pt") == (404, None, None)
        # A language the setting does not name: the product's first published locale.
        assert await served(product.key, "zh-Hant-TW") == (200, "ja", True)
        # Nothing published at all: 404 whatever is asked.
        assert await served(nothing.key, "en") == (404, None, None)
        assert await served(nothing.key, "ja") == (404, None, None)
        # Published locales are served as they are.
        assert await served(product.key, "ja") == (200, "ja", False)

    # The default app, without the setting: de falls back to the first published locale.
    response = await client.get(f"/api/v1/pitch/{product.key}?locale=de", headers=crm)
    assert (response.json()["locale"], response.json()["fallback"]) == ("ja", True)


@pytest.mark.parametrize(
    "value", ["en", "en:", ":ja", "en:ja,en:de", "en:ja;de:en", "english-language-tag-x:ja", "en:j4"]
)
def test_a_malformed_fallback_setting_refuses_to_start(value):
    with pytest.raises(pydantic.ValidationError, match="CUECARD_LOCALE_FALLBACKS"):
        Settings(locale_fallbacks=value)


def test_the_fallback_setting_reads_as_a_map():
    assert Settings(locale_fallbacks="en:ja, de-AT:en").locale_fallback_map == {"en": "ja", "de-at": "en"}
    assert Settings().locale_fallback_map == {}


# --- translations ------------------------------------------------------------------------------


async def test_a_translation_goes_outdated_on_a_substantive_source_revision_until_revised(
    app, client, crm, callers
):
    editor, manager = callers.headers("editor"), callers.headers("manager")
    product = await make_product(app)
    source = await make_brief(app, callers.people["editor"], product.key, status="published")  # ja v1
    created = await client.post(
        "/api/v1/briefs", json=english(product.key, translation_of=str(source.lineage_id)), headers=editor
    )
    assert created.status_code == 201, created.text
    translation = created.json()
    assert translation["translation_of"] == str(source.lineage_id)
    assert translation["translation"] == {"status": "current", "source_version": 1}
    await walk_to_published(client, translation["id"], editor, manager)
    original = (await client.get(f"/api/v1/briefs/{source.id}", headers=editor)).json()
    assert original["translation_of"] is None and original["translation"] is None

    pitch_url = f"/api/v1/pitch/{product.key}?locale=en"
    first = await client.get(pitch_url, headers=crm)
    assert first.json()["translation"] == {"status": "current", "source_version": 1}
    assert (await client.get(f"/api/v1/pitch/{product.key}?locale=ja", headers=crm)).json()[
        "translation"
    ] is None

    # A minor fix of the source: the translation stays current.
    v2 = await revise_and_publish(client, str(source.id), "minor", editor, manager, title="誤字修正")
    assert v2["version"] == 2
    read = (await client.get(f"/api/v1/briefs/{translation['id']}", headers=editor)).json()
    assert read["translation"] == {"status": "current", "source_version": 1}

    # A substantive revision of the source: outdated, for editors and sellers alike.
    v3 = await revise_and_publish(
        client, v2["id"], "substantive", editor, manager, value_proposition="請求書の入力時間を週5時間減らす"
    )
    assert v3["version"] == 3
    for role in ("editor", "employee"):
        seen = await client.get(f"/api/v1/briefs/{translation['id']}", headers=callers.headers(role))
        assert seen.status_code == 200
        assert seen.json()["translation"] == {"status": "outdated", "source_version": 1}, role
    outdated = await client.get(pitch_url, headers=crm)
    assert outdated.json()["translation"] == {"status": "outdated", "source_version": 1}
    assert outdated.headers["etag"] != first.headers["etag"]
    # `freshness` keeps its two values: outdated is the translation's, not the evidence's.
    assert outdated.json()["freshness"] == {"status": "fresh", "expired": []}
    card = await client.get(pitch_url, headers={**crm, "Accept": "text/html"})
    assert "The original changed since this translation (of its version 1)" in card.text

    # The translation is revised (from source v3): its draft is current, the published one
    # outdated until the revision is published.
    opened = await client.post(
        f"/api/v1/briefs/{translation['id']}/revise", json={"change": "substantive"}, headers=editor
    )
    assert opened.json()["translation"] == {"status": "current", "source_version": 3}
    assert opened.json()["translation_of"] == str(source.lineage_id)
    assert (await client.get(pitch_url, headers=crm)).json()["translation"]["status"] == "outdated"
    await walk_to_published(client, opened.json()["id"], editor, manager)
    current = await client.get(pitch_url, headers=crm)
    assert current.json()["translation"] == {"status": "current", "source_version": 3}
    assert current.json()["version"] == 2
    card = await client.get(pitch_url, headers={**crm, "Accept": "text/html"})
    assert "The original changed" not in card.text


async def test_a_translation_names_a_brief_of_the_same_product_in_another_locale(app, client, callers):
    editor = callers.headers("editor")
    product, elsewhere = await make_product(app), await make_product(app)
    source = await make_brief(app, callers.people["editor"], product.key, status="published")  # ja
    before = (await client.get("/api/v1/briefs", headers=editor)).json()["items"]
    refused = {
        "unknown": english(product.key, translation_of="00000000-0000-4000-8000-000000000000"),
        "same locale": complete_brief(product.key, translation_of=str(source.lineage_id)),
        "other product": english(elsewhere.key, translation_of=str(source.lineage_id)),
    }
    for case, body in refused.items():
        response = await client.post("/api/v1/briefs", json=body, headers=editor)
        assert response.status_code == 422, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in response.json()["errors"]} & {"translation_of", "locale"}, case
    not_an_id = await client.post(
        "/api/v1/briefs", json=english(product.key, translation_of="ja"), headers=editor
    )
    assert not_an_id.status_code == 422
    # Writing briefs (translations too) stays with editors and admins.
    employee = await client.post(
        "/api/v1/briefs",
        json=english(product.key, translation_of=str(source.lineage_id)),
        headers=callers.headers("employee"),
    )
    assert employee.status_code == 403
    assert (await client.get("/api/v1/briefs", headers=editor)).json()["items"] == before


async def test_graphql_mirrors_locale_fallback_and_translation(app, client, crm, callers):
    editor = callers.headers("editor")
    product = await make_product(app)
    source = await make_brief(app, callers.people["editor"], product.key, status="published")  # ja
    status, body = await gql(
        client,
        """mutation($input: BriefInput!) { createBrief(input: $input) {
             id translationOf translation { status sourceVersion } } }""",
        editor,
        {
            "input": {
                "productKey": product.key,
                "title": "Deutsche Ausgabe",
                "locale": "de",
                "translationOf": str(source.lineage_id),
            }
        },
    )
    assert status == 200 and "errors" not in body, body
    created = body["data"]["createBrief"]
    assert created["translationOf"] == str(source.lineage_id)
    assert created["translation"] == {"status": "CURRENT", "sourceVersion": 1}

    query = """query($key: String!, $locale: String) { currentPitch(productKey: $key, locale: $locale) {
                 locale fallback translation { status } evidence { claim freshness } } }"""
    status, body = await gql(client, query, crm, {"key": product.key, "locale": "en"})
    assert status == 200 and "errors" not in body, body
    pitch = body["data"]["currentPitch"]
    assert (pitch["locale"], pitch["fallback"], pitch["translation"]) == ("ja", True, None)
    assert pitch["evidence"][0]["freshness"] == "FRESH"
    status, body = await gql(client, query, crm, {"key": product.key, "locale": "ja-JP"})
    assert body["data"]["currentPitch"]["fallback"] is False


# --- the whole card -----------------------------------------------------------------------------


async def publish_the_rest(client, callers, product_key: str, locale: str, texts: dict[str, str]) -> None:
    editor, admin = callers.headers("editor"), callers.headers("admin")
    for kind in ("talking_point", "faq", "key_message"):
        await publish_message(
            client,
            editor,
            admin,
            product_key=product_key,
            kind=kind,
            locale=locale,
            title=texts[f"{kind}_title"],
            body=texts[f"{kind}_body"],
        )


JA_TEXTS = {
    "talking_point_title": "月末の残業",
    "talking_point_body": "まず月末の残業時間を聞く",
    "faq_title": "手書きの請求書は読めますか？",
    "faq_body": "いいえ、手書きには対応しません & 今後も予定はありません",
    "key_message_title": "入力ゼロ",
    "key_message_body": "請求書の入力がなくなる",
}
EN_TEXTS = {
    "talking_point_title": "Month-end",
    "talking_point_body": "Ask how late month-end runs",
    "faq_title": "Can it read handwriting?",
    "faq_body": "No <and> it will not",
    "key_message_title": "Zero typing",
    "key_message_body": "Invoices book themselves",
}


@pytest.mark.parametrize("locale", ["ja", "en"])
async def test_the_card_shows_the_whole_pitch_in_the_served_locale(app, client, crm, callers, locale):
    editor = callers.headers("editor")
    product = await make_product(app)
    past = (today() - timedelta(days=2)).isoformat()
    expired = await client.post(
        "/api/v1/evidence",
        json={"kind": "case", "claim": "B社で月末残業ゼロ", "source": "B社事例", "verify_by": past},
        headers=editor,
    )
    future = (today() + timedelta(days=30)).isoformat()
    body = complete_brief(product.key) if locale == "ja" else english(product.key)
    body["evidence"] = [
        {**body["evidence"][0], "verify_by": future},
        {"id": expired.json()["id"]},
    ]
    await make_brief(
        app,
        callers.people["editor"],
        product.key,
        status="published",
        override_expired="the card must show a stale claim as stale",
        **overrides(body),
    )
    texts = JA_TEXTS if locale == "ja" else EN_TEXTS
    await publish_the_rest(client, callers, product.key, locale, texts)
    url = f"/api/v1/pitch/{product.key}?locale={locale}"

    pitch = (await client.get(url, headers=crm)).json()
    assert [(e["claim"], e["freshness"]) for e in pitch["evidence"]] == [
        (body["evidence"][0]["claim"], "fresh"),
        ("B社で月末残業ゼロ", "stale"),
    ]
    assert pitch["faq"][0]["body"] == texts["faq_body"]
    assert pitch["talking_points"][0]["title"] == texts["talking_point_title"]

    response = await client.get(url, headers={**crm, "Accept": "text/html"})
    assert response.status_code == 200
    card = response.text
    assert "<script" not in card.lower()
    parser = Markup()
    parser.feed(card)
    parser.close()
    assert parser.tags <= CARD_TAGS, parser.tags - CARD_TAGS
    assert f'lang="{locale}"' in card
    shown = [
        *texts.values(),
        body["differentiators"][0]["alternative"],
        body["differentiators"][0]["difference"],
        body["differentiators"][0]["trade_off"],
        *body["gut_check"].values(),
        body["evidence"][0]["claim"],
        "B社で月末残業ゼロ",
        past,
        future,
    ]
    for text in shown:
        assert html.escape(text) in card, text
    labels = (
        [
            "トークポイント",
            "よくある質問",
            "差別化",
            "トレードオフ",
            "腹落ちチェック",
            "誰が変わるか",
            "検証期限切れ",
            "検証済み",
        ]
        if locale == "ja"
        else [
            "Talking points",
            "FAQ",
            "Differentiators",
            "Trade-off",
            "Gut check",
            "Who changes",
            "past verify-by",
            "verified",
        ]
    )
    for label in labels:
        assert label in card, label
    other = "Talking points" if locale == "ja" else "トークポイント"
    assert other not in card
    # Compact for a 360 px side panel: a fluid width, long words wrap.
    assert "width:100%" in card and "overflow-wrap:anywhere" in card


async def test_the_card_is_the_same_for_the_same_pitch(app, client, crm, callers):
    """Rendered once per variant: a second read answers the very same bytes and ETag."""
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    url = f"/api/v1/pitch/{product.key}?locale=en-US"
    first = await client.get(url, headers={**crm, "Accept": "text/html"})
    second = await client.get(url, headers={**crm, "Accept": "text/html"})
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
