"""Value-word lint: find *feature words* that are not backed by a measurable outcome.

A feature word ("high performance", "多機能") describes the product; a value word says what
the customer gets ("saves 3 hours a week", "入力ミスが40%減る"). :func:`lint` flags every
feature word whose sentence carries no measurable outcome, so an editor can rewrite it.

Word lists
    One file per language, ``<lang>.txt``, UTF-8, one entry per line. Blank lines and lines
    starting with ``#`` are ignored, and so is a trailing `` # comment``. The shipped lists
    live next to this module in ``lint_words/`` (``en.txt``, ``ja.txt``).

    Operators extend them with extra directories: an app's are its setting
    ``lint_words_dir`` (``CUECARD_LINT_WORDS_DIR``), held by the :class:`WordLists` that
    ``create_app`` (or the CLI) builds from its own ``Settings`` and hands to the services,
    in each session's ``info`` (:func:`session_info`, :func:`session_word_lists`) or as an
    argument. Nothing here reads the environment: two apps in one process may differ. The
    functions below take the directories as ``extra_dirs`` (none: the shipped lists only).
    Each directory may hold ``<lang>.txt`` files; their
    entries are merged into the shipped list for that language, in order. A line ``!entry``
    removes an entry merged so far (e.g. a word that is also a product name). A directory or
    file that does not exist is skipped. A language with a file in an extra directory but not
    shipped (``fr.txt``) becomes available too. Lists are read once per
    ``(language, directories)`` and cached for the life of the process (a pure cache: the
    directories are its key).

Locale
    The primary language subtag picks the list: ``ja-JP`` → ``ja``. A language with no list
    falls back to English when a message's fields are checked (advisory warnings); the lint
    endpoint refuses it instead (:func:`supported_languages` names what it accepts).

Matching
    Case-insensitive. An entry written in Latin script matches whole words only ("fast"
    does not match "fastest" or "breakfast"); inside it, spaces and hyphens are
    interchangeable ("easy to use" matches "easy-to-use"). An entry containing Japanese,
    Chinese or Korean characters matches as a substring ("高性能" matches "高性能な"). When matches
    overlap the longest wins ("high performance" over "performance").

Measurable outcome
    A number (ASCII or full-width digits, with an optional decimal or thousands separator
    and an optional scale such as k, million, 万, 億) followed by a unit of time (seconds …
    years, 秒 … 年), money (円, 万円, dollars, yen, or a leading $ ¥ € £), rate (%, ％, percent,
    パーセント, 割, 倍, x, times) or count (件, 人, 社, 回, items, errors, tickets, customers …),
    anywhere in the same sentence. Sentences end at ``. ! ? 。 ！ ？`` and at line breaks; a
    period between digits ("3.5") does not end a sentence. Numbers written in kanji
    (三, 十) are not recognised: "十分" is as often "enough" as "ten minutes".
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from service.config import Settings
from service.messages.schemas import LintWarning

WORDS_DIR = Path(__file__).parent / "lint_words"
DEFAULT_LANG = "en"

MESSAGE_TEMPLATE = (
    "“{word}” is a feature word: say what the customer gets, with a number (time, money, rate or count)"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One feature word without a measurable outcome; ``text[start:end] == word``."""

    start: int
    end: int
    word: str
    message: str


# --- locale -------------------------------------------------------------------------------

_LANG_RE = re.compile(r"[a-z]{2,8}")


def primary_language(locale: str) -> str:
    """The primary language subtag of a BCP 47 tag, lower-cased (``"ja-JP"`` → ``"ja"``)."""
    return (locale or "").strip().replace("_", "-").split("-", 1)[0].lower()


@lru_cache(maxsize=256)
def _resolve_lang(lang: str, dirs: tuple[str, ...]) -> str:
    # Only a plain subtag can name a file: nothing like "../x" reaches the filesystem.
    if not _LANG_RE.fullmatch(lang):
        return DEFAULT_LANG
    for directory in (str(WORDS_DIR), *dirs):
        if (Path(directory) / f"{lang}.txt").is_file():
            return lang
    return DEFAULT_LANG


@lru_cache(maxsize=16)
def _languages(dirs: tuple[str, ...]) -> tuple[str, ...]:
    # Read once per set of directories, like the lists themselves.
    found = {
        path.stem
        for directory in (str(WORDS_DIR), *dirs)
        if Path(directory).is_dir()
        for path in Path(directory).glob("*.txt")
        if _LANG_RE.fullmatch(path.stem)
    }
    return tuple(sorted(found))


def supported_languages(extra_dirs: Sequence[Path] = ()) -> list[str]:
    """The languages with a word list, shipped or from ``extra_dirs``, sorted."""
    return list(_languages(tuple(str(Path(d)) for d in extra_dirs)))


def is_supported(locale: str, extra_dirs: Sequence[Path] = ()) -> bool:
    """Whether ``locale``'s primary language has a word list (rather than falling back)."""
    return primary_language(locale) in supported_languages(extra_dirs)


# --- word lists ---------------------------------------------------------------------------

# Japanese, Chinese and Korean script (written without spaces, or with particles attached):
# an entry containing any of these matches as a substring.
_CJK_RE = re.compile(
    r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)
# A Latin-script word character: letters (with accents), digits. Used for whole-word bounds
# instead of \b, which would treat kana and kanji as word characters too ("fastな" still
# flags "fast").
_LATIN_WORD = r"0-9A-Za-z\u00c0-\u024f"
# Splits an entry (or a unit) into the words that spaces and hyphens separate.
_SEPARATOR_RE = re.compile(r"[\s\-\u2010\u2011]+")


def _read_entries(path: Path) -> list[str]:
    entries: list[str] = []
    for raw in path.read_text(encoding="utf-8-sig").splitlines():
        line = re.sub(r"(?:^|\s)#.*$", "", raw).strip()
        if line:
            entries.append(line)
    return entries


def _entry_pattern(entry: str) -> re.Pattern[str]:
    if _CJK_RE.search(entry):
        return re.compile(re.escape(entry), re.IGNORECASE)
    parts = [re.escape(part) for part in _SEPARATOR_RE.split(entry) if part]
    # Between the parts: horizontal space, or a hyphen with optional space ("easy-to use").
    body = r"(?:[ \t\u00a0\u3000]+|[ \t\u00a0\u3000]*[-\u2010\u2011][ \t\u00a0\u3000]*)".join(parts)
    return re.compile(rf"(?<![{_LATIN_WORD}]){body}(?![{_LATIN_WORD}])", re.IGNORECASE)


@lru_cache(maxsize=64)
def _load(lang: str, dirs: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    merged: dict[str, str] = {}  # case-folded entry → entry as written, in order
    for directory in (str(WORDS_DIR), *dirs):
        path = Path(directory) / f"{lang}.txt"
        if not path.is_file():
            continue
        for entry in _read_entries(path):
            if entry.startswith("!"):
                merged.pop(entry[1:].strip().casefold(), None)
            else:
                merged.setdefault(entry.casefold(), entry)
    return tuple(_entry_pattern(entry) for entry in merged.values())


def word_patterns(locale: str, extra_dirs: Sequence[Path] = ()) -> tuple[re.Pattern[str], ...]:
    """The compiled feature-word patterns for ``locale`` (cached)."""
    dirs = tuple(str(Path(d)) for d in extra_dirs)
    return _load(_resolve_lang(primary_language(locale), dirs), dirs)


# --- measurable outcomes ------------------------------------------------------------------

_DIGITS = "0-9\uff10-\uff19"
_NUMBER = rf"[{_DIGITS}]+(?:[.,\uff0e\uff0c][{_DIGITS}]+)*"
_SCALE = r"(?:[ \t]*(?:k|thousand|million|billion|bn|[十百千万億兆]))?"  # matched case-insensitively

_EN_TIME = [
    "ms", "millisecond", "milliseconds", "s", "sec", "secs", "second", "seconds", "min", "mins",
    "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "day", "days", "business days",
    "working days", "week", "weeks", "wk", "wks", "month", "months", "quarter", "quarters",
    "year", "years", "yr", "yrs",
]  # fmt: skip
_EN_MONEY = [
    "dollar", "dollars", "usd", "yen", "jpy", "euro", "euros", "eur", "gbp", "pound", "pounds",
]  # fmt: skip
_EN_RATE = [
    "%", "percent", "per cent", "pct", "percentage points", "points", "pp", "x", "×", "times", "fold",
]  # fmt: skip
_EN_COUNT_STEMS = [
    "item", "error", "mistake", "defect", "bug", "incident", "call", "ticket", "case", "complaint",
    "customer", "user", "client", "employee", "hire", "seller", "rep", "deal", "lead", "order",
    "invoice", "request", "step", "click", "page", "document", "form", "seat", "account",
    "company", "companies", "team", "store", "site", "office", "unit", "record", "entry",
    "entries", "email", "message", "meeting", "review", "approval", "visit", "sale", "signup",
    "license", "screen", "field", "task", "hand-off", "handoff", "interview", "FTE", "FTEs",
]  # fmt: skip
_EN_COUNT = [*_EN_COUNT_STEMS, *(s + "s" for s in _EN_COUNT_STEMS if s[-1] not in "sy")]
_EN_COUNT += ["people", "person", "persons", "staff", "headcount"]
_JA_UNITS = [
    # time
    "ミリ秒", "秒", "分", "時間", "営業日", "日", "週間", "週", "か月", "カ月", "ヶ月", "ケ月", "ヵ月",
    "箇月", "年",
    # money
    "円", "ドル", "ユーロ",
    # rate
    "パーセント", "ポイント", "割", "倍", "％",
    # count
    "件", "人", "名", "社", "回", "個", "台", "枚", "本", "通", "行", "項目", "工程", "ステップ",
    "クリック", "画面", "店舗", "拠点", "席", "箇所", "カ所", "ヶ所", "種類", "文字", "字",
    "アカウント", "ライセンス",
]  # fmt: skip


def _alternation(units: Sequence[str]) -> str:
    # Longest first, so "hours" is tried before "h" and "週間" before "週".
    ordered = sorted(set(units), key=len, reverse=True)
    return "|".join(r"[ -]".join(re.escape(part) for part in _SEPARATOR_RE.split(unit)) for unit in ordered)


_LATIN_UNITS = _alternation([*_EN_TIME, *_EN_MONEY, *_EN_RATE, *_EN_COUNT])
_OUTCOME_RE = re.compile(
    rf"[$¥€£＄￥][ \t]*{_NUMBER}"  # $120, ¥5,000
    rf"|{_NUMBER}{_SCALE}(?:"
    rf"(?:{_alternation(_JA_UNITS)})"  # 3時間, 40%, 5万円, 120件
    rf"|[ \t]*-?[ \t]*(?:{_LATIN_UNITS})(?![{_LATIN_WORD}])"  # 3 hours, 3-hour, 40 percent, 3x
    r"|[ \t]*%)",
    re.IGNORECASE,
)

# A sentence ends at . ! ? 。 ！ ？ (and the half-width ｡) or a line break; a period between
# digits ("3.5") is a decimal point, not an end.
_SENTENCE_END_RE = re.compile(rf"[!?。！？｡\n\r\u2028\u2029]|[.．](?![{_DIGITS}])")


def _sentences(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END_RE.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def has_measurable_outcome(text: str) -> bool:
    """True when ``text`` holds a number with a unit of time, money, rate or count."""
    return _OUTCOME_RE.search(text) is not None


# --- lint ---------------------------------------------------------------------------------


def lint(text: str, locale: str, extra_dirs: Sequence[Path] = ()) -> list[Finding]:
    """Feature words in ``text`` whose sentence has no measurable outcome, ordered by start."""
    if not text:
        return []
    candidates = [
        (m.start(), m.end()) for pattern in word_patterns(locale, extra_dirs) for m in pattern.finditer(text)
    ]
    # Longest match wins where matches overlap; ties go to the earlier one.
    chosen: list[tuple[int, int]] = []
    for start, end in sorted(set(candidates), key=lambda span: (span[0] - span[1], span[0])):
        if all(end <= s or start >= e for s, e in chosen):
            chosen.append((start, end))
    if not chosen:
        return []

    findings: list[Finding] = []
    measured: dict[tuple[int, int], bool] = {}
    sentences = _sentences(text)
    starts = [span[0] for span in sentences]
    for start, end in sorted(chosen):
        sentence = sentences[bisect_right(starts, start) - 1]
        if sentence not in measured:
            measured[sentence] = has_measurable_outcome(text[sentence[0] : sentence[1]])
        if not measured[sentence]:
            word = text[start:end]
            findings.append(
                Finding(start=start, end=end, word=word, message=MESSAGE_TEMPLATE.format(word=word))
            )
    return findings


# --- an app's word lists ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WordLists:
    """The word lists one app lints with: the shipped ones, extended by ``extra_dirs`` in order.

    Built from that app's settings (:meth:`from_settings`) and handed down explicitly, so
    what an app flags is decided by its own configuration, not by the process environment."""

    extra_dirs: tuple[Path, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> WordLists:
        """The shipped lists plus ``settings.lint_words_dir``, when set."""
        directory = settings.lint_words_dir
        return cls((directory,) if directory is not None else ())

    def supported_languages(self) -> list[str]:
        """The languages with a word list, sorted."""
        return supported_languages(self.extra_dirs)

    def is_supported(self, locale: str) -> bool:
        """Whether ``locale``'s primary language has a word list (rather than falling back)."""
        return is_supported(locale, self.extra_dirs)

    def lint(self, text: str, locale: str) -> list[Finding]:
        """Feature words in ``text`` whose sentence has no measurable outcome, ordered by start."""
        return list(_lint_remembered(text, locale, tuple(self.extra_dirs)))

    def field_warnings(self, obj: object, fields: Sequence[str], locale: str) -> list[LintWarning]:
        """Value-word lint findings for each named text field of a message or brief."""
        return [
            LintWarning(field=name, start=f.start, end=f.end, word=f.word, message=f.message)
            for name in fields
            for f in self.lint(getattr(obj, name) or "", locale)
        ]


@lru_cache(maxsize=4096)
def _lint_remembered(text: str, locale: str, extra_dirs: tuple[Path, ...]) -> tuple[Finding, ...]:
    """`lint` remembered by its arguments: reads show the findings of texts that change only
    when written (a brief page linted every brief on every read; the lists are fixed for the
    life of the process)."""
    return tuple(lint(text, locale, extra_dirs))


SHIPPED = WordLists()

_SESSION_KEY = "lint_word_lists"


def session_info(word_lists: WordLists) -> dict[str, Any]:
    """`info` for the sessionmaker, so the services that shape messages and briefs lint with
    the lists of the app (or CLI) that made the session."""
    return {_SESSION_KEY: word_lists}


def session_word_lists(session: AsyncSession) -> WordLists:
    """The word lists this session's sessionmaker was given (see :func:`session_info`)."""
    word_lists = session.info.get(_SESSION_KEY)
    if not isinstance(word_lists, WordLists):
        # No silent fallback: shipped-only lists here would ignore the operator's, unseen.
        raise RuntimeError(
            "this session carries no lint word lists: build its sessionmaker with "
            "info=lint.session_info(WordLists.from_settings(settings))"
        )
    return word_lists
