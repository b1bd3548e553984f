"""Rendering: every kind in Japanese and English, from the data the fan-out writes (optional
keys present or not), escaped in HTML, links absolute, overridable by operators' templates."""

from __future__ import annotations

from typing import Any

import pytest

from service.config import Settings
from service.notifications import render
from service.notifications.schemas import NotificationKind

PUBLIC = "https://cuecard.example.com"
HOSTILE = '<img src=x onerror="alert(1)">&'

STEP = {"campaign_id": "c1", "campaign_name": "請求書AI", "step_title": "説明会", "channel": "briefing"}
# The row contract: what each kind's data holds (besides title, link, digest, display_name),
# then its optional keys.
REQUIRED: dict[str, dict[str, Any]] = {
    "campaign_step": STEP,
    "reminder": STEP | {"reminder_number": 2},
    "nudge": {"campaign_name": "請求書AI", "state": "not_acknowledged", "sender_name": "上司 一郎"},
    "review_waiting": {"item_type": "brief", "item_title": "請求書ブリーフ"},
    "review_decided": {"item_type": "message", "item_title": "請求書メッセージ", "outcome": "sent_back"},
    "check_waiting": {"campaign_name": "請求書AI", "person_name": "新人 花子"},
    "check_graded": {"campaign_name": "請求書AI", "result": "passed"},
    "evidence_expiring": {"claim": "導入 300 社", "expires_at": "2026-12-20T00:00:00+00:00"},
    "evidence_expired": {"claim": "導入 300 社", "expires_at": "2026-11-20T00:00:00+00:00"},
    "feedback_decided": {"excerpt": "CSV で出したい", "decision": "build"},
    "feedback_announced": {
        "excerpt": "CSV で出したい",
        "message_title": "CSV 出力",
        "message_body": "できます",
    },
    "person_overdue": {"campaign_name": "請求書AI", "person_name": "新人 花子", "department_name": "営業部"},
}
OPTIONAL: dict[str, dict[str, Any]] = {
    "campaign_step": {"message_title": "題", "message_body": "本文", "pitch": "ピッチ本文"},
    "reminder": {"message_title": "題", "message_body": "本文", "pitch": "ピッチ本文"},
    "nudge": {"note": "金曜までにお願いします"},
    "review_waiting": {"author_name": "起草 者"},
    "review_decided": {"comment": "数字の出典を"},
    "check_graded": {"comment": "よくできました"},
    "feedback_decided": {"rationale": "要望が多い"},
}


@pytest.fixture
def public(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": PUBLIC})


def item(kind: str, locale: str, *, optional: bool, person: bool = True, **extra: Any) -> render.Item:
    data: dict[str, Any] = {"title": "t", "link": "/go/here", "digest": False} | REQUIRED[kind]
    if person:
        data["display_name"] = "山田 太郎"
    if optional:
        data |= OPTIONAL.get(kind, {})
    return render.Item(kind, locale, data | extra)


def test_the_contract_covers_every_kind() -> None:
    assert set(REQUIRED) == {k.value for k in NotificationKind}


@pytest.mark.parametrize("locale", ["ja", "en"])
@pytest.mark.parametrize("kind", [k.value for k in NotificationKind])
@pytest.mark.parametrize("optional", [True, False])
def test_every_kind_renders_whole(public: Settings, kind: str, locale: str, optional: bool) -> None:
    mail = render.render_email(item(kind, locale, optional=optional), public)
    for part in (mail.subject, mail.text, mail.html):
        assert "${" not in part and "\n?" not in part and part.strip()
    assert "\n" not in mail.subject
    assert f"{PUBLIC}/go/here" in mail.text and f'href="{PUBLIC}/go/here"' in mail.html
    assert f"{PUBLIC}/api/v1/me/notification-preferences" in mail.text
    assert "山田 太郎" in mail.text
    for value in OPTIONAL.get(kind, {}).values():
        assert (value in mail.text) is optional
    if locale == "ja":
        assert any(ch >= "\u3000" for ch in mail.subject)  # written in Japanese
    # No label left untranslated (`sent_back`, `not_acknowledged` as such).
    for raw in ("sent_back", "not_acknowledged", "needs_work", "_label"):
        assert raw not in mail.text


def test_a_destination_post_has_no_greeting(public: Settings) -> None:
    message = render.render_chat(
        item("campaign_step", "ja", optional=True, person=False), public, person_name=None
    )
    assert message.title == "【請求書AI】説明会"
    assert message.text.splitlines() == ["【請求書AI】説明会", "題", f"{PUBLIC}/go/here"]
    named = render.render_chat(item("nudge", "en", optional=False), public, person_name="Alex")
    assert named.text.startswith("For Alex: 上司 一郎 asks you to catch up on 請求書AI")


@pytest.mark.parametrize(
    ("locale", "lang"),
    [("ja-JP", "ja"), ("ja", "ja"), ("JA_jp", "ja"), ("en-GB", "en"), ("de-DE", "de"), ("", "en")],
)
def test_languages_of_locales(locale: str, lang: str) -> None:
    assert render.language(locale) == lang


def test_an_unknown_language_falls_back_to_english(public: Settings) -> None:
    mail = render.render_email(item("review_decided", "fr-FR", optional=False), public)
    assert mail.subject == 'Your message "請求書メッセージ" was sent back'


def test_values_are_escaped_in_html_only(public: Settings) -> None:
    mail = render.render_email(item("review_decided", "en", optional=True, comment=HOSTILE), public)
    assert HOSTILE in mail.text
    assert "<img" not in mail.html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in mail.html


def test_conditional_lines() -> None:
    text = "a ${x}\n?y [${y}]\n?z [${z}]\nb\n"
    assert render.fill(text, {"x": "1", "y": "2"}, escape=False) == "a 1\n[2]\nb\n"
    assert render.fill("${missing}|$$|${x}", {"x": "<"}, escape=True) == "|$|&lt;"


def test_operators_override_any_file(public: Settings, tmp_path) -> None:
    (tmp_path / "check_graded.ja.html").write_text("<p>独自 ${campaign_name} ${result_label}</p>\n", "utf-8")
    (tmp_path / "_footer.ja.txt").write_text("-- ACME 社内通知\n", "utf-8")
    (tmp_path / "nudge.de.subject").write_text("Erinnerung: ${campaign_name}\n", "utf-8")
    custom = public.model_copy(update={"templates_dir": tmp_path})
    mail = render.render_email(item("check_graded", "ja", optional=False), custom)
    assert "<p>独自 請求書AI 合格</p>" in mail.html and mail.text.rstrip().endswith("-- ACME 社内通知")
    assert mail.subject == "理解度チェックの結果：合格（請求書AI）"  # not overridden: shipped
    german = render.render_email(item("nudge", "de", optional=False), custom)
    assert german.subject == "Erinnerung: 請求書AI"  # a language of the operator's own
    assert "asks you to catch up" in german.text  # its other files fall back to English


def test_a_digest_lists_every_item(public: Settings) -> None:
    items = [item("check_graded", "ja", optional=False), item("evidence_expired", "ja", optional=False)]
    digest = render.render_digest(items, "ja-JP", public)
    assert digest.subject == "CueCard 今日のお知らせ（2 件）"
    assert "理解度チェックの結果：合格（請求書AI）" in digest.text and "2026-11-20" in digest.text
    assert digest.html.count("<h2>") == 2 and '<html lang="ja">' in digest.html
