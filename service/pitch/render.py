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


def _with_freshness(items: list[dict[str, Any]], on: date) -> list[dict[str, Any]]:
    """Each claim with its own freshness (`fresh` | `stale`), for the day of the read."""
    return [{**item, "freshness": "stale" if freshness([item], on).expired else "fresh"} for item in items]


def _view(
    document: dict[str, Any],
    *,
    audience: str | None,
    segment: str | None,
    competitor: str | None,
    on: date,
    fallback: bool = False,
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
        view[section] = [
            {**m, "evidence": _with_freshness(m["evidence"], on)} if m["evidence"] else m
            for m in view[section]
        ]
    view["evidence"] = _with_freshness(view["evidence"], on)
    view["audience"] = audience
    view["freshness"] = freshness(cited, on).model_dump(mode="json")
    # Documents stored before translations existed carry no `translation` (not one).
    view.setdefault("translation", None)
    view["fallback"] = fallback
    return view


LABELS = {
    "en": {
        "value": "Value",
        "evidence": "Evidence",
        "messages": "Key messages",
        "talking_points": "Talking points",
        "faq": "FAQ",
        "differentiators": "Differentiators",
        "trade_off": "Trade-off",
        "gut_check": "Gut check",
        "who_changes": "Who changes",
        "next_action": "Next action",
        "what_we_give_up": "What we give up",
        "fresh": "verified",
        "stale_item": "past verify-by",
        "verify_by": "verify by",
        "stale": "Some evidence is past its verify-by date: check before quoting it.",
        "next": "Customer's next step",
        "version": "version",
        "fallback": "Not published in the language asked for: shown in {locale}.",
        "outdated": "The original changed since this translation (of its version {version}): check before quoting.",
        "fixed": "You asked — it's fixed",
        "announced_on": "announced {date}",
    },
    "ja": {
        "value": "価値",
        "evidence": "根拠",
        "messages": "キーメッセージ",
        "talking_points": "トークポイント",
        "faq": "よくある質問",
        "differentiators": "差別化",
        "trade_off": "トレードオフ",
        "gut_check": "腹落ちチェック",
        "who_changes": "誰が変わるか",
        "next_action": "次の行動",
        "what_we_give_up": "捨てるもの",
        "fresh": "検証済み",
        "stale_item": "検証期限切れ",
        "verify_by": "検証期限",
        "stale": "検証期限切れの根拠があります。引用する前に確認してください。",
        "next": "お客様の次の一歩",
        "version": "版",
        "fallback": "ご指定の言語では公開されていないため、日本語版を表示しています。",
        "outdated": "この翻訳の後に原文（第{version}版から）が改訂されています。引用する前に確認してください。",
        "fixed": "ご要望いただいた件、対応しました",
        "announced_on": "{date} お知らせ",
    },
}


H3 = '<h3 style="font-size:14px;margin:10px 0 4px">'
UL = '<ul style="margin:0;padding-left:18px">'
STALE = "color:#a15c00"


def _evidence_item(ev: dict[str, Any], labels: dict[str, str]) -> str:
    e = html.escape
    stale = ev["freshness"] == "stale"
    badge = labels["stale_item"] if stale else labels["fresh"]
    if ev.get("verify_by"):
        badge += f" · {labels['verify_by']} {e(ev['verify_by'])}"
    style = f' style="{STALE}"' if stale else ' style="color:#2e7d32"'
    return f"<li>{e(ev['claim'])} <small>({e(ev['source'])})</small> <small{style}>[{badge}]</small></li>"


def _html_card(view: dict[str, Any]) -> bytes:
    """A self-contained, escaped fragment for a CRM side panel: inline styles, no assets, no
    script; fits a 360 px panel (fluid width, long words wrap). Labels in the served locale."""
    e = html.escape
    labels = LABELS.get(view["locale"].split("-")[0].lower(), LABELS["en"])
    parts = [
        f'<section class="cuecard-pitch" lang="{e(view["locale"])}" style="font-family:system-ui,sans-serif;'
        "font-size:14px;line-height:1.5;max-width:420px;width:100%;box-sizing:border-box;"
        'overflow-wrap:anywhere;padding:10px;border:1px solid #ddd;border-radius:8px">',
        f'<h2 style="font-size:16px;margin:0 0 4px">{e(view["title"])}</h2>',
        f'<p style="color:#666;margin:0 0 8px">{e(view["product_name"])} · {labels["version"]} {view["version"]}</p>',
    ]
    if view.get("fallback"):
        note = labels["fallback"].format(locale=view["locale"])
        parts.append(f'<p role="note" style="color:#555;margin:0 0 8px">{e(note)}</p>')
    translation = view.get("translation")
    if translation and translation.get("status") == "outdated":
        note = labels["outdated"].format(version=int(translation.get("source_version") or 0))
        parts.append(f'<p role="alert" style="{STALE};margin:0 0 8px">⚠ {e(note)}</p>')
    parts += [
        f'<p style="font-weight:600;margin:0 0 8px">{e(view["pitch"])}</p>',
        f'<p style="margin:0 0 8px">{e(view["value_proposition"])}</p>',
    ]
    if view["freshness"]["status"] == "stale":
        parts.append(f'<p role="alert" style="{STALE};margin:0 0 8px">⚠ {e(labels["stale"])}</p>')
    if view["value_translations"]:
        items = "".join(
            f"<li>{e(m['feature_term'] or m['title'])} → {e(m['value_statement'] or m['body'])}</li>"
            for m in view["value_translations"]
        )
        parts.append(f"{H3}{labels['value']}</h3>{UL}{items}</ul>")
    if view["differentiators"]:
        items = "".join(
            f"<li><strong>{e(d.get('alternative') or '')}</strong>: {e(d.get('difference') or '')}"
            + (f"<br><small>{labels['trade_off']}: {e(d['trade_off'])}</small>" if d.get("trade_off") else "")
            + "</li>"
            for d in view["differentiators"]
        )
        parts.append(f"{H3}{labels['differentiators']}</h3>{UL}{items}</ul>")
    if view["evidence"]:
        items = "".join(_evidence_item(ev, labels) for ev in view["evidence"])
        parts.append(f"{H3}{labels['evidence']}</h3>{UL}{items}</ul>")
    for section, label in (("key_messages", "messages"), ("talking_points", "talking_points")):
        if view[section]:
            items = "".join(
                f"<li><strong>{e(m['title'])}</strong> {e(m['body'])}"
                + (
                    f"{UL}{''.join(_evidence_item(ev, labels) for ev in m['evidence'])}</ul>"
                    if m["evidence"]
                    else ""
                )
                + "</li>"
                for m in view[section]
            )
            parts.append(f"{H3}{labels[label]}</h3>{UL}{items}</ul>")
    if view["faq"]:
        items = "".join(
            f'<details style="margin:0 0 4px"><summary>{e(m["title"])}</summary>'
            f'<p style="margin:4px 0 0 12px">{e(m["body"])}</p>'
            + (
                f"{UL}{''.join(_evidence_item(ev, labels) for ev in m['evidence'])}</ul>"
                if m["evidence"]
                else ""
            )
            + "</details>"
            for m in view["faq"]
        )
        parts.append(f"{H3}{labels['faq']}</h3>{items}")
    gut_check = view.get("gut_check") or {}
    answers = [(q, gut_check.get(q)) for q in ("who_changes", "next_action", "what_we_give_up")]
    if any(a for _q, a in answers):
        items = "".join(
            f'<dt style="font-weight:600">{labels[q]}</dt><dd style="margin:0 0 4px 12px">{e(a)}</dd>'
            for q, a in answers
            if a
        )
        parts.append(f'{H3}{labels["gut_check"]}</h3><dl style="margin:0">{items}</dl>')
    if view["customer_next_action"]:
        parts.append(
            f'<p style="margin:8px 0 0"><strong>{labels["next"]}:</strong> {e(view["customer_next_action"])}</p>'
        )
    parts.append("</section>")
    return "".join(parts).encode()


# --- "you asked — it's fixed": the lead for one account (service/pitch/read.py) -----------------

LEAD_KEY = b'{"fixed_for_account": '


def _announced_on(announced_at: str, language: str) -> str:
    """The day a fix was announced, in the card's language (UTC, as every date we show)."""
    day = date.fromisoformat(announced_at[:10])
    if language == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def _lead_card(fixes: list[dict[str, Any]], locale: str) -> str:
    """The fixes as the card's first block: a headline, then each announcement's title, text
    and day (the message's own language marked where it differs from the card's)."""
    e = html.escape
    language = locale.split("-")[0].lower()
    labels = LABELS.get(language, LABELS["en"])
    items = []
    for fix in fixes:
        message = fix["message"]
        lang = "" if message["locale"] == locale else f' lang="{e(message["locale"])}"'
        day = labels["announced_on"].format(date=_announced_on(fix["announced_at"], language))
        theme = f"<br><small>{e(fix['theme']['name'])}</small>" if fix["theme"] else ""
        items.append(
            f"<li{lang}><strong>{e(message['title'])}</strong> {e(message['body'])}"
            f'{theme}<br><small style="color:#555"><time datetime="{e(fix["announced_at"])}">'
            f"{e(day)}</time></small></li>"
        )
    return (
        '<aside class="cuecard-fixed" role="note" style="margin:0 0 10px;padding:8px;'
        'border-left:4px solid #2e7d32;background:#f1f8f2">'
        f'<h3 style="font-size:14px;margin:0 0 4px;color:#2e7d32">✓ {e(labels["fixed"])}</h3>'
        f"{UL}{''.join(items)}</ul></aside>"
    )


def with_lead(body: bytes, fixes: list[dict[str, Any]], *, media: Media, locale: str) -> tuple[bytes, str]:
    """A rendered pitch led by what was fixed for one account, and its ETag.

    JSON: `fixed_for_account` first, the pitch's own members after it, byte for byte. HTML: the
    fixes as the card's first block. `fixes` is never empty: nothing fixed is the plain pitch."""
    if media == "html":
        start = body.index(b">") + 1  # after the card's opening <section …>
        body = body[:start] + _lead_card(fixes, locale).encode() + body[start:]
    else:
        body = LEAD_KEY + json.dumps(fixes, ensure_ascii=False).encode() + b", " + body[1:]
    return body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def render(
    document: dict[str, Any],
    *,
    audience: str | None,
    segment: str | None,
    competitor: str | None,
    media: Media,
    on: date,
    fallback: bool = False,
) -> tuple[bytes, str]:
    """The body for one caller's context and its strong ETag (`fallback`: served in another
    language than the one asked for, so the body, and with it the ETag, says so)."""
    view = _view(
        document, audience=audience, segment=segment, competitor=competitor, on=on, fallback=fallback
    )
    body = _html_card(view) if media == "html" else json.dumps(view, ensure_ascii=False).encode()
    return body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
