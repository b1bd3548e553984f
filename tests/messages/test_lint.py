"""Value-word lint: feature words without a measurable outcome in the same sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.messages.lint import Finding, has_measurable_outcome, lint, primary_language


def spans(findings: list[Finding]) -> list[tuple[int, int, str]]:
    return [(f.start, f.end, f.word) for f in findings]


def assert_offsets(text: str, findings: list[Finding]) -> None:
    for finding in findings:
        assert text[finding.start : finding.end] == finding.word
    assert [f.start for f in findings] == sorted(f.start for f in findings)


# --- Japanese -----------------------------------------------------------------------------


def test_japanese_two_feature_words_with_exact_offsets() -> None:
    text = "高性能で多機能なAI"
    findings = lint(text, "ja")
    assert spans(findings) == [(0, 3, "高性能"), (4, 7, "多機能")]
    assert_offsets(text, findings)


def test_japanese_outcome_in_the_same_sentence_clears_it() -> None:
    assert lint("高性能: 請求書の入力時間を週3時間削減", "ja") == []


def test_japanese_outcome_in_another_sentence_does_not_count() -> None:
    text = "入力ミスが40%減ります。多機能です。"
    findings = lint(text, "ja-JP")
    assert spans(findings) == [(13, 16, "多機能")]
    assert_offsets(text, findings)


def test_full_width_digits_count_as_a_number() -> None:
    assert lint("高性能で週３時間の入力を削減", "ja") == []
    assert lint("柔軟な設定で１２０件の問い合わせを削減", "ja") == []


@pytest.mark.parametrize(
    "text",
    [
        "便利で、月5万円のコスト削減",
        "直感的な画面で入力ミスが2割減る",
        "高速: 処理が1.5倍に",
        "使いやすい画面で問い合わせが月120件減りました",
        "簡単操作で、30秒で申請できます",
        "シームレスな連携で承認が3日から1日に",
        "効率的な運用で年間1,200時間の削減",
    ],
)
def test_japanese_outcomes_of_every_kind(text: str) -> None:
    assert lint(text, "ja") == []


def test_japanese_substring_match_and_longest_wins() -> None:
    text = "柔軟性が高く、使いやすさも充実したオールインワン製品"
    findings = lint(text, "ja")
    assert [f.word for f in findings] == ["柔軟", "使いやすさ", "充実", "オールインワン"]
    assert_offsets(text, findings)


def test_newline_ends_a_sentence() -> None:
    text = "入力ミスが40%減ります\n多機能です"
    assert [f.word for f in lint(text, "ja")] == ["多機能"]


def test_number_without_a_unit_is_not_an_outcome() -> None:
    assert [f.word for f in lint("2.0は高性能です", "ja")] == ["高性能"]


# --- English ------------------------------------------------------------------------------


def test_english_feature_word_is_flagged() -> None:
    text = "High performance."
    findings = lint(text, "en")
    assert spans(findings) == [(0, 16, "High performance")]
    assert "High performance" in findings[0].message
    assert "number" in findings[0].message


def test_english_outcome_in_the_same_sentence_clears_it() -> None:
    assert lint("High performance: saves 3 hours a week", "en") == []


def test_english_outcome_in_another_sentence_does_not_count() -> None:
    text = "Saves 3 hours a week. Also powerful!"
    assert spans(lint(text, "en")) == [(27, 35, "powerful")]


@pytest.mark.parametrize("text", ["breakfast", "the fastest route", "Steadfast support", "fasting"])
def test_whole_words_only_in_english(text: str) -> None:
    assert lint(text, "en") == []


def test_english_is_case_insensitive_and_accepts_hyphen_or_space() -> None:
    text = "An EASY-TO-USE, high-performance tool. It is Fast and user friendly"
    findings = lint(text, "en-US")
    assert [f.word for f in findings] == ["EASY-TO-USE", "high-performance", "Fast", "user friendly"]
    assert_offsets(text, findings)


def test_longest_match_wins_when_words_overlap(tmp_path: Path) -> None:
    (tmp_path / "en.txt").write_text("performance\n", encoding="utf-8")
    text = "High performance and performance."
    findings = lint(text, "en", extra_dirs=[tmp_path])
    assert spans(findings) == [(0, 16, "High performance"), (21, 32, "performance")]


@pytest.mark.parametrize(
    "text",
    [
        "Robust: cuts costs by $1,200 a month.",
        "Flexible pricing, 40% fewer input errors",
        "Seamless hand-off in under 30 seconds",
        "Intuitive enough to onboard 12 hires a week",
        "Scalable to 3x the ticket volume",
        "Efficient: answers 2.5 times more calls",
        "Powerful reports save 40 percent of review time",
        "Innovative: a 3-hour task now takes minutes",
    ],
)
def test_english_outcomes_of_every_kind(text: str) -> None:
    assert lint(text, "en") == []


def test_decimal_point_does_not_end_a_sentence() -> None:
    assert lint("Fast: cuts 3.5 hours a week.", "en") == []
    assert [f.word for f in lint("Cuts 3.5 hours. Flexible.", "en")] == ["Flexible"]


def test_empty_and_plain_text() -> None:
    assert lint("", "en") == []
    assert lint("We make our customers' work faster.", "en") == []
    assert lint("請求書の入力を週3時間減らします。", "ja") == []


# --- locale and word lists ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "lang"), [("ja-JP", "ja"), ("JA", "ja"), ("en_GB", "en"), ("zh-Hant-TW", "zh"), ("", "")]
)
def test_primary_language(locale: str, lang: str) -> None:
    assert primary_language(locale) == lang


def test_locale_picks_the_list_and_unknown_falls_back_to_english() -> None:
    assert [f.word for f in lint("高性能", "ja-JP")] == ["高性能"]
    assert lint("高性能", "en") == []
    assert lint("powerful", "ja") == []
    assert [f.word for f in lint("powerful", "fr-FR")] == ["powerful"]
    assert [f.word for f in lint("powerful", "../../etc/passwd")] == ["powerful"]


def test_extra_dirs_extend_and_trim_the_shipped_list(tmp_path: Path) -> None:
    (tmp_path / "ja.txt").write_text("# 追加\nワクワク  # 社内で禁止\n!便利\n", encoding="utf-8")
    text = "ワクワクする便利な機能"
    assert [f.word for f in lint(text, "ja")] == ["便利"]
    findings = lint(text, "ja", extra_dirs=[tmp_path])
    assert spans(findings) == [(0, 4, "ワクワク")]
    assert [f.word for f in lint("高性能", "ja", extra_dirs=[tmp_path])] == ["高性能"]


def test_extra_dirs_may_add_a_language(tmp_path: Path) -> None:
    (tmp_path / "fr.txt").write_text("performant\n", encoding="utf-8")
    assert [f.word for f in lint("Un outil performant", "fr", extra_dirs=[tmp_path])] == ["performant"]
    assert lint("Un outil performant", "fr") == []


def test_missing_extra_dir_is_skipped(tmp_path: Path) -> None:
    assert [f.word for f in lint("多機能", "ja", extra_dirs=[tmp_path / "nope"])] == ["多機能"]


def test_finding_is_frozen() -> None:
    finding = lint("powerful", "en")[0]
    with pytest.raises(AttributeError):
        finding.start = 3  # type: ignore[misc]


def test_shipped_lists_have_the_core_words() -> None:
    for word in ["high performance", "multi-function", "seamless", "state-of-the-art", "all-in-one"]:
        assert [f.word for f in lint(word, "en")] == [word], word
    for word in [
        "高性能",
        "多機能",
        "使いやすい",
        "革新的",
        "最先端",
        "シームレス",
        "次世代",
        "オールインワン",
    ]:
        assert [f.word for f in lint(word, "ja")] == [word], word


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("週3時間", True),
        ("40%", True),
        ("４０％", True),
        ("¥5,000", True),
        ("$3k", True),
        ("5万円", True),
        ("120 tickets", True),
        ("1 customer", True),
        ("version 2.0", False),
        ("Windows 11", False),
        ("", False),
    ],
)
def test_measurable_outcome(text: str, expected: bool) -> None:
    assert has_measurable_outcome(text) is expected
