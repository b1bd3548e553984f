"""Speakability: the 30-second pitch, estimated from typical speaking rates."""

from __future__ import annotations

import pytest

from service.briefs.speech import SPEAKING_LIMIT_SECONDS, estimate_seconds, speakability

JA_SENTENCE = "請求書の入力を毎週三時間減らします"  # 17 characters, no ASCII


def test_limit_is_thirty_seconds() -> None:
    assert SPEAKING_LIMIT_SECONDS == 30


def test_seventy_five_english_words_take_thirty_seconds() -> None:
    pitch = " ".join(["CueCard keeps sales, support and HR telling one value story."] * 8)
    pitch = " ".join(pitch.split()[:75])
    assert len(pitch.split()) == 75
    assert estimate_seconds(pitch, "en") == 30.0
    assert speakability(pitch, "en-US") == {
        "estimated_seconds": 30.0,
        "limit_seconds": 30,
        "ok": True,
        "basis": "150 words per minute (en)",
    }


def test_one_more_english_word_is_over() -> None:
    pitch = " ".join(["word"] * 76)
    assert estimate_seconds(pitch, "en") == 30.4
    assert speakability(pitch, "en")["ok"] is False


def test_punctuation_and_hyphenated_words() -> None:
    # state-of-the-art is said as four words; "don't", "1,200" and "3.5" as one each.
    assert estimate_seconds("State-of-the-art. Don't: 1,200 — 3.5!", "en") == 2.8


def test_one_hundred_fifty_japanese_characters_take_thirty_seconds() -> None:
    # 8 x 17 + 14 = 150 characters; the four 。 are not counted.
    pitch = "。".join([JA_SENTENCE * 2] * 4) + "。営業が同じ話をすぐに言えます"
    assert estimate_seconds(pitch, "ja") == 30.0
    result = speakability(pitch, "ja-JP")
    assert result["ok"] is True
    assert result["basis"] == "300 characters per minute (ja)"


def test_japanese_punctuation_and_spaces_are_not_counted() -> None:
    pitch = "、".join([JA_SENTENCE] * 8) + "。" + "　" * 20  # 136 characters, 7 commas, 1 period
    assert estimate_seconds(pitch, "ja") == 27.2


def test_two_hundred_japanese_characters_are_over_the_limit() -> None:
    pitch = "入力" * 100
    assert estimate_seconds(pitch, "ja") == 40.0
    result = speakability(pitch, "ja")
    assert result["ok"] is False
    assert result["limit_seconds"] == 30


def test_mixed_japanese_counts_characters_and_words() -> None:
    # 16 characters at 300/min (3.2 s) + "CueCard" and "3" at 150 wpm (0.8 s)
    text = "CueCardは請求書の入力を週3時間減らします"
    assert estimate_seconds(text, "ja") == 4.0
    assert speakability(text, "ja")["basis"] == (
        "300 characters per minute (ja); other words at 150 words per minute"
    )


def test_full_width_letters_and_digits_are_characters() -> None:
    assert estimate_seconds("ＡＩで３時間", "ja") == estimate_seconds("あいでさんじ", "ja") == 1.2


def test_chinese_rate() -> None:
    assert estimate_seconds("我" * 120, "zh-CN") == 30.0
    assert speakability("我" * 120, "zh")["basis"] == "240 characters per minute (zh)"


def test_japanese_under_an_english_locale_is_not_mistaken_for_short() -> None:
    assert estimate_seconds("あ" * 150, "en") == 30.0
    assert estimate_seconds("我" * 120, "en") == 30.0


@pytest.mark.parametrize("locale", ["en", "ja", "zh", "fr", ""])
def test_empty_is_zero(locale: str) -> None:
    assert estimate_seconds("", locale) == 0.0
    assert estimate_seconds("  。、!", locale) == 0.0
    assert speakability("", locale)["estimated_seconds"] == 0.0


def test_unknown_locale_uses_the_english_word_rate() -> None:
    assert estimate_seconds(" ".join(["mot"] * 75), "fr-FR") == 30.0
    assert speakability("mot", "fr")["basis"] == "150 words per minute (the English rate, for fr)"
