"""The HTML card escapes every field it shows, not only the title, and forbids scripts outright
(finding 16 and the "tests that bite": escaping was only ever checked on the title)."""

from __future__ import annotations

import html
from html.parser import HTMLParser

from tests.factories import JA_PITCH, bearer, make_brief, make_product, service_token
from tests.pitch.test_pitch import publish_message


def payload(field: str) -> str:
    """A hostile value naming its field, so a miss says which field leaked."""
    return f'<script>alert("{field}")</script>"><img src=x onerror=alert("{field}")> {field} 請求書'


CARD_TAGS = {
    "section",
    "h2",
    "h3",
    "p",
    "ul",
    "li",
    "strong",
    "small",
    "br",
    "details",
    "summary",
    "dl",
    "dt",
    "dd",
}
CARD_ATTRIBUTES = {"class", "lang", "style", "role"}


class Markup(HTMLParser):
    """The element and attribute names of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


# Brief fields (nested ones by path) that reach the pitch; the card shows some of them.
BRIEF_TEXT = [
    "title",
    "background",
    "target_customer",
    "value_proposition",
    "customer_next_action",
]


async def test_every_field_of_the_card_is_escaped(app, client, callers):
    product = await make_product(app, name=payload("product_name"))
    overrides = {field: payload(field) for field in BRIEF_TEXT}
    overrides["pitch"] = JA_PITCH + payload("pitch")
    overrides["pains"] = [{"kind": "anxiety", "text": payload("pain")}]
    overrides["differentiators"] = [
        {
            "alternative": payload("alternative"),
            "difference": payload("difference"),
            "trade_off": payload("trade_off"),
        }
    ]
    overrides["evidence"] = [
        {"kind": "metric", "claim": payload("evidence_claim"), "source": payload("evidence_source")}
    ]
    overrides["gut_check"] = {
        "who_changes": payload("who_changes"),
        "next_action": payload("next_action"),
        "what_we_give_up": payload("what_we_give_up"),
    }
    await make_brief(app, callers.people["editor"], product.key, status="published", **overrides)
    editor = callers.headers("editor")
    await publish_message(
        client,
        editor,
        callers.headers("admin"),
        product_key=product.key,
        kind="value_translation",
        locale="ja",
        title=payload("translation_title"),
        feature_term=payload("feature_term"),
        value_statement=payload("value_statement"),
        metric={"value": 3, "unit": "hours/week", "basis": payload("metric_basis")},
    )
    await publish_message(
        client,
        editor,
        callers.headers("admin"),
        product_key=product.key,
        kind="key_message",
        locale="ja",
        title=payload("message_title"),
        body=payload("message_body"),
    )
    for kind in ("talking_point", "faq"):
        await publish_message(
            client,
            editor,
            callers.headers("admin"),
            product_key=product.key,
            kind=kind,
            locale="ja",
            title=payload(f"{kind}_title"),
            body=payload(f"{kind}_body"),
        )

    crm = bearer(await service_token(app, client, "pitch:read"))
    response = await client.get(f"/api/v1/pitch/{product.key}", headers={**crm, "Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    card = response.text

    # Nothing hostile survives as markup, whatever field it came through: parsed as a browser
    # would, the card holds only the card's own elements and attributes.
    parser = Markup()
    parser.feed(card)
    parser.close()
    assert parser.tags <= CARD_TAGS, parser.tags - CARD_TAGS
    assert parser.attributes <= CARD_ATTRIBUTES, parser.attributes - CARD_ATTRIBUTES
    for tag in ("<script", "<img"):
        assert tag not in card.lower(), tag
    # And the fields the card shows are really in it (escaped), so the checks above bite.
    shown = [
        "product_name",
        "title",
        "pitch",
        "value_proposition",
        "customer_next_action",
        "evidence_claim",
        "evidence_source",
        "feature_term",
        "value_statement",
        "message_title",
        "message_body",
        "talking_point_title",
        "talking_point_body",
        "faq_title",
        "faq_body",
        "alternative",
        "difference",
        "trade_off",
        "who_changes",
        "next_action",
        "what_we_give_up",
    ]
    for field in shown:
        assert html.escape(payload(field)) in card, field


async def test_the_card_forbids_scripts_and_sniffing(app, client, callers):
    product = await make_product(app)
    await make_brief(app, callers.people["editor"], product.key, status="published")
    crm = bearer(await service_token(app, client, "pitch:read"))
    response = await client.get(f"/api/v1/pitch/{product.key}", headers={**crm, "Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["content-security-policy"].split(";")
    }
    assert policy["default-src"] == ["'none'"]
    assert "script-src" not in policy  # falls back to default-src 'none': no script at all
    assert policy["style-src"] == ["'unsafe-inline'"]  # the card's own inline styles
    assert "sandbox" in policy
    # The JSON representation gets nosniff too.
    as_json = await client.get(f"/api/v1/pitch/{product.key}", headers=crm)
    assert as_json.headers["x-content-type-options"] == "nosniff"
