"""What a notification says: a subject, a plain-text and an HTML body per kind and language,
from template files an operator may override (docs/notifications.md).

Templates are plain files named `<kind>.<lang>.subject`, `<kind>.<lang>.txt` and
`<kind>.<lang>.html` (and `_layout`, `_footer`, `_chat`, `_chat_person`, `digest`, `_labels`),
looked up first in `CUECARD_TEMPLATES_DIR`, then among the shipped ones
(service/notifications/templates/); a language without its own file falls back to English.

The syntax is `string.Template` (`${name}`) plus one rule: a line that starts with `?name `
is kept (without that prefix) only when `name` has a value, so optional parts (a message's
body, a reviewer's comment) leave no empty headings. A name the data lacks renders empty. In
HTML every value is escaped (and its line breaks become `<br>`); what is rendered never runs
code, whatever the data or an operator's template says.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from service.config import Settings

SHIPPED_LANGUAGES = ("ja", "en")
FALLBACK_LANGUAGE = "en"
PREFERENCES_PATH = "/api/v1/me/notification-preferences"

_CONDITIONAL = re.compile(r"^\?([A-Za-z_][A-Za-z0-9_]*) ?(.*)$")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def language(locale: str | None) -> str:
    """The template language of a BCP 47 tag: its primary subtag (`ja-JP` → `ja`)."""
    primary = (locale or "").replace("_", "-").split("-", 1)[0].strip().lower()
    return primary or FALLBACK_LANGUAGE


def absolute(link: str | None, settings: Settings) -> str:
    """A path made absolute against CUECARD_PUBLIC_URL (left as it is without one)."""
    if not link:
        return settings.public_url or ""
    if link.startswith("/") and settings.public_url:
        return settings.public_url + link
    return link


@cache
def _shipped(name: str) -> str | None:
    resource = resources.files("service.notifications").joinpath("templates", name)
    return resource.read_text("utf-8") if resource.is_file() else None


def _read(directory: Path | None, name: str) -> str | None:
    if directory is not None:
        path = directory / name
        if path.is_file():
            return path.read_text("utf-8")
    return _shipped(name)


def template(settings: Settings, name: str, lang: str, suffix: str) -> str:
    """The operator's template, else the shipped one; in `lang`, else in English."""
    for candidate in dict.fromkeys((lang, FALLBACK_LANGUAGE)):
        found = _read(settings.templates_dir, f"{name}.{candidate}.{suffix}")
        if found is not None:
            return found
    raise LookupError(f"no template {name}.{lang}.{suffix} (nor in {FALLBACK_LANGUAGE})")


def labels(settings: Settings, lang: str) -> dict[str, str]:
    """`key.value=label` lines of `_labels.<lang>.txt` (e.g. `outcome.approved=承認されました`)."""
    found: dict[str, str] = {}
    for line in template(settings, "_labels", lang, "txt").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.lstrip().startswith("#"):
            found[key.strip()] = value.strip()
    return found


class _Values(dict[str, str]):
    """Substitution values; a name not given renders empty."""

    def __missing__(self, key: str) -> str:
        return ""


def fill(text: str, values: Mapping[str, str], *, escape: bool, raw: Mapping[str, str] | None = None) -> str:
    """Substitutes `${name}`s, keeping `?name ` lines only when `name` has a value; `raw`
    values (HTML rendered already) go in unescaped."""
    shown = _Values({k: _escaped(v) if escape else v for k, v in values.items()})
    shown.update(raw or {})
    kept = []
    for line in text.splitlines(keepends=True):
        conditional = _CONDITIONAL.match(line.rstrip("\r\n"))
        if conditional is not None:
            if not values.get(conditional.group(1)):
                continue
            line = conditional.group(2) + line[len(line.rstrip("\r\n")) :]
        kept.append(line)
    return Template("".join(kept)).safe_substitute(shown)


def _escaped(value: str) -> str:
    return html.escape(value).replace("\r\n", "\n").replace("\n", "<br>\n")


def _as_text(value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return "yes"
    return str(value)


def values_of(kind: str, data: Mapping[str, Any], settings: Settings, lang: str) -> dict[str, str]:
    """The names a template may use: the row's data as text, `link` absolute, `<key>_label`
    for values `_labels` names (`outcome_label`), dates by day (`expires_on`), and
    `preferences_link`."""
    values = {key: _as_text(value) for key, value in data.items() if not isinstance(value, (dict, list))}
    values["kind"] = kind
    values["link"] = absolute(values.get("link"), settings)
    values["preferences_link"] = absolute(PREFERENCES_PATH, settings)
    values["app_link"] = absolute("/", settings)
    if values.get("expires_at"):
        values["expires_on"] = values["expires_at"][:10]
    known = labels(settings, lang)
    for key, value in list(values.items()):
        label = known.get(f"{key}.{value}")
        if label is not None:
            values[f"{key}_label"] = label
    return values


def _subject(text: str) -> str:
    return " ".join(text.split())  # one line: a header cannot hold line breaks


@dataclass(frozen=True)
class Item:
    """One notification to render: its kind, its recipient's locale and its data."""

    kind: str
    locale: str
    data: Mapping[str, Any]


def render_parts(item: Item, settings: Settings) -> Rendered:
    """The item's own subject and bodies, without the layout around them."""
    lang = language(item.locale)
    values = values_of(item.kind, item.data, settings, lang)
    return Rendered(
        subject=_subject(fill(template(settings, item.kind, lang, "subject"), values, escape=False)),
        text=fill(template(settings, item.kind, lang, "txt"), values, escape=False).strip() + "\n",
        html=fill(template(settings, item.kind, lang, "html"), values, escape=True).strip(),
    )


def _framed(subject: str, text: str, content_html: str, settings: Settings, lang: str) -> Rendered:
    values = {
        "subject": subject,
        "preferences_link": absolute(PREFERENCES_PATH, settings),
        "app_link": absolute("/", settings),
    }
    footer = fill(template(settings, "_footer", lang, "txt"), values, escape=False)
    # The content is HTML rendered (and escaped) already: it goes in as it is.
    page = fill(
        template(settings, "_layout", lang, "html"), values, escape=True, raw={"content": content_html}
    )
    return Rendered(subject=subject, text=text.rstrip() + "\n\n" + footer, html=page)


def render_email(item: Item, settings: Settings) -> Rendered:
    """One notification's e-mail: its subject, text and HTML in the layout, with the footer."""
    parts = render_parts(item, settings)
    return _framed(parts.subject, parts.text, parts.html, settings, language(item.locale))


def render_digest(items: list[Item], locale: str, settings: Settings) -> Rendered:
    """One e-mail holding several notifications (a daily digest), in the recipient's language."""
    lang = language(locale)
    parts = [render_parts(item, settings) for item in items]
    first = items[0].data if items else {}
    values = {"count": str(len(items)), "display_name": _as_text(first.get("display_name"))}
    subject = _subject(fill(template(settings, "digest", lang, "subject"), values, escape=False))
    intro_text = fill(template(settings, "digest", lang, "txt"), values, escape=False).strip()
    intro_html = fill(template(settings, "digest", lang, "html"), values, escape=True).strip()
    rule = "\n" + "-" * 40 + "\n"
    text = intro_text + "\n" + rule + rule.join(f"{p.subject}\n\n{p.text.strip()}\n" for p in parts)
    content = (
        intro_html + "\n" + "\n<hr>\n".join(f"<h2>{html.escape(p.subject)}</h2>\n{p.html}" for p in parts)
    )
    return _framed(subject, text, content, settings, lang)


@dataclass(frozen=True)
class ChatMessage:
    """What a chat post says: a title (the subject), the text, and the link to open."""

    title: str
    text: str
    link: str


def render_chat(item: Item, settings: Settings, *, person_name: str | None) -> ChatMessage:
    """A chat post; naming the person when it is a person's notification posted to a channel."""
    lang = language(item.locale)
    parts = render_parts(item, settings)
    values = values_of(item.kind, item.data, settings, lang) | {"subject": parts.subject}
    name = "_chat_person" if person_name else "_chat"
    if person_name:
        values["display_name"] = person_name
    text = fill(template(settings, name, lang, "txt"), values, escape=False).strip()
    return ChatMessage(title=parts.subject, text=text, link=values["link"])
