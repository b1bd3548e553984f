"""The pitch as a caller sees it: one stored document cut to their context, as JSON or as an
HTML card, with its ETag. Pure functions of the document and the day (no database)."""

from __future__ import annotations

import hashlib
import html
import json
from datetime import date
from typing import Any, Literal

from service.evidence.freshness import freshness

Media = Literal["json", "html"]
MEDIA_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8"}

# Where each kind of published message shows in the stored pitch document.
MESSAGE_SECTIONS = {
    "value_translation": "value_translations",
    "key_message": "key_messages",
    "talking_point": "talking_points",
    "faq": "faq",
}


def _mentions(text: str | None, needle: str | None) -> bool:
    return bool(text and needle and needle.casefold() in text.casefold())


def _view(
    document: dict[str, Any], *, audience: str | None, segment: str | None, competitor: str | None, on: date
) -> dict[str, Any]:
    """The response for one caller's context, from the stored document (no database)."""
    view = dict(document)
    if audience:
        view["key_messages"] = [
            m for m in document["key_messages"] if audience in m["audiences"] or "all" in m["audiences"]
        ]
        view["talking_points"] = [
            m for m in document["talking_points"] if audience in m["audiences"] or "all" in m["audiences"]
        ]
    if competitor:  # the differentiators against this competitor first
        view["differentiators"] = sorted(
            document["differentiators"], key=lambda d: not _mentions(d.get("alternative"), competitor)
        )
    if segment or competitor:  # evidence about this segment or competitor first
        view["evidence"] = sorted(
            document["evidence"],
            key=lambda e: (
                not any(_mentions(e[f], n) for f in ("claim", "source") for n in (segment, competitor))
            ),
        )
    cited = list(document["evidence"])
    for section in MESSAGE_SECTIONS.values():
        for message in view[section]:
            cited += message["evidence"]
    view["audience"] = audience
    view["freshness"] = freshness(cited, on).model_dump(mode="json")
    return view


LABELS = {
    "en": {
        "value": "Value",
        "evidence": "Evidence",
        "messages": "Key messages",
        "stale": "Some evidence is past its verify-by date: check before quoting it.",
        "next": "Customer's next step",
        "version": "version",
    },
    "ja": {
        "value": "価値",
        "evidence": "根拠",
        "messages": "キーメッセージ",
        "stale": "検証期限切れの根拠があります。引用する前に確認してください。",
        "next": "お客様の次の一歩",
        "version": "版",
    },
}


def _html_card(view: dict[str, Any]) -> bytes:
    """A self-contained, escaped fragment for a CRM side panel: inline styles, no assets."""
    e = html.escape
    labels = LABELS.get(view["locale"].split("-")[0], LABELS["en"])
    parts = [
        f'<section class="cuecard-pitch" lang="{e(view["locale"])}" style="font-family:system-ui,sans-serif;'
        'font-size:14px;line-height:1.5;max-width:420px;padding:12px;border:1px solid #ddd;border-radius:8px">',
        f'<h2 style="font-size:16px;margin:0 0 4px">{e(view["title"])}</h2>',
        f'<p style="color:#666;margin:0 0 8px">{e(view["product_name"])} · {labels["version"]} {view["version"]}</p>',
        f'<p style="font-weight:600;margin:0 0 8px">{e(view["pitch"])}</p>',
        f'<p style="margin:0 0 8px">{e(view["value_proposition"])}</p>',
    ]
    if view["freshness"]["status"] == "stale":
        parts.append(f'<p role="alert" style="color:#a15c00;margin:0 0 8px">⚠ {e(labels["stale"])}</p>')
    if view["value_translations"]:
        items = "".join(
            f"<li>{e(m['feature_term'] or m['title'])} → {e(m['value_statement'] or m['body'])}</li>"
            for m in view["value_translations"]
        )
        parts.append(f'<h3 style="font-size:14px;margin:8px 0 4px">{labels["value"]}</h3><ul>{items}</ul>')
    if view["evidence"]:
        items = "".join(
            f"<li>{e(ev['claim'])} <small>({e(ev['source'])})</small></li>" for ev in view["evidence"]
        )
        parts.append(f'<h3 style="font-size:14px;margin:8px 0 4px">{labels["evidence"]}</h3><ul>{items}</ul>')
    if view["key_messages"]:
        items = "".join(
            f"<li><strong>{e(m['title'])}</strong> {e(m['body'])}</li>" for m in view["key_messages"]
        )
        parts.append(f'<h3 style="font-size:14px;margin:8px 0 4px">{labels["messages"]}</h3><ul>{items}</ul>')
    if view["customer_next_action"]:
        parts.append(f"<p><strong>{labels['next']}:</strong> {e(view['customer_next_action'])}</p>")
    parts.append("</section>")
    return "".join(parts).encode()


def render(
    document: dict[str, Any],
    *,
    audience: str | None,
    segment: str | None,
    competitor: str | None,
    media: Media,
    on: date,
) -> tuple[bytes, str]:
    """The body for one caller's context and its strong ETag."""
    view = _view(document, audience=audience, segment=segment, competitor=competitor, on=on)
    body = _html_card(view) if media == "html" else json.dumps(view, ensure_ascii=False).encode()
    return body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
