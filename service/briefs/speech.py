"""Speakability: how long a pitch takes to say out loud, against the 30-second limit.

A brief's pitch must be sayable by every seller in 30 seconds (``SPEAKING_LIMIT_SECONDS``).
The estimate is text length divided by a typical speaking rate:

* Space-separated languages (English and any language without a rate of its own): **150
  words per minute**. The National Center for Voice and Speech gives about 150 wpm as the
  average conversational rate of US English speakers; S. E. Lucas, *The Art of Public
  Speaking* (8th ed., 2004, p. 300) gives 125–150 wpm for speakers in the US.
* Japanese: **300 characters per minute**, the pace NHK treats as easiest to follow for news
  (矢野香『NHK式+心理学 一分で一生の信頼を勝ち取る法』: 「NHKは1分間300文字が…理想の速度」).
* Chinese: **240 characters per minute**, the commonly cited rate of ordinary Mandarin speech
  (about 240 syllables a minute, one syllable per character); measured news reading is a
  little faster (P. S. K. Lee & A. H. S. Chan, "Chinese speaking times", *International
  Journal of Industrial Ergonomics* 31(5), 2003: 224 ms per Mandarin character, ≈ 268 a
  minute), so 240 errs on the side of a pitch that fits.

Counting: Han characters, kana (with ー and 々), Hangul and full-width letters and digits
count as characters; whitespace and punctuation are not counted. Runs of other letters and
digits ("AI", "CueCard", "3", "1,200") count as words at the word rate, also inside
Japanese or Chinese text. Characters in a text whose locale has no character rate (a
Japanese pitch filed under ``en``) use the Japanese rate if the text has kana, else the
Chinese one, so a mislabelled pitch is not mistaken for a short one. The locale's primary
language subtag picks the rates (``ja-JP`` → ``ja``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

SPEAKING_LIMIT_SECONDS = 30

WORDS_PER_MINUTE = 150
CHARACTERS_PER_MINUTE = {"ja": 300, "zh": 240}
# Kana mark a text as Japanese when its locale has no character rate of its own.
_KANA_RE = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")

# One "character" of a language written without spaces: kana (incl. ー), CJK ideographs (incl.
# 々 and 〆), Hangul syllables and jamo, full-width letters and digits.
_CHAR_CLASS = (
    r"\u3005\u3006\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    r"\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
    r"\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff66-\uff9f"
)
# A word: a run of other letters and digits, keeping "don't", "3.5" and "1,200" whole;
# hyphenated compounds ("state-of-the-art") count one word per part, as they are said.
_WORD_CHAR = rf"[^\W_{_CHAR_CLASS}]"
_TOKEN_RE = re.compile(rf"(?P<char>[{_CHAR_CLASS}])|(?P<word>{_WORD_CHAR}+(?:['’.,]{_WORD_CHAR}+)*)")


def primary_language(locale: str) -> str:
    """The primary language subtag of a BCP 47 tag, lower-cased (``"ja-JP"`` → ``"ja"``)."""
    return (locale or "").strip().replace("_", "-").split("-", 1)[0].lower()


def _count(text: str) -> tuple[int, int]:
    """(characters, words) in ``text``."""
    chars = words = 0
    for match in _TOKEN_RE.finditer(text or ""):
        if match.lastgroup == "char":
            chars += 1
        else:
            words += 1
    return chars, words


def _character_rate(lang: str, text: str) -> int:
    if lang in CHARACTERS_PER_MINUTE:
        return CHARACTERS_PER_MINUTE[lang]
    return CHARACTERS_PER_MINUTE["ja" if _KANA_RE.search(text) else "zh"]


def estimate_seconds(text: str, locale: str) -> float:
    """Seconds needed to say ``text`` aloud at a typical rate for ``locale``, to one decimal."""
    chars, words = _count(text)
    seconds = 0.0
    if chars:
        seconds += chars * 60 / _character_rate(primary_language(locale), text)
    if words:
        seconds += words * 60 / WORDS_PER_MINUTE
    return round(seconds, 1)


def speakability(text: str, locale: str) -> dict[str, Any]:
    """The estimate against the limit, with the rate it rests on.

    ``{"estimated_seconds": 28.4, "limit_seconds": 30, "ok": True,
    "basis": "300 characters per minute (ja); other words at 150 words per minute"}``
    """
    return dict(_speakability(text, locale))


@lru_cache(maxsize=4096)
def _speakability(text: str, locale: str) -> tuple[tuple[str, Any], ...]:
    """Remembered by its arguments: every read of a brief shows it (a pure function of text
    that changes only when written)."""
    lang = primary_language(locale)
    estimated = estimate_seconds(text, locale)
    chars, words = _count(text)
    if lang in CHARACTERS_PER_MINUTE:
        basis = f"{CHARACTERS_PER_MINUTE[lang]} characters per minute ({lang})"
        if words:
            basis += f"; other words at {WORDS_PER_MINUTE} words per minute"
    else:
        basis = f"{WORDS_PER_MINUTE} words per minute " + (
            "(en)" if lang in ("", "en") else f"(the English rate, for {lang})"
        )
        if chars:
            basis += f"; CJK characters at {_character_rate(lang, text)} characters per minute"
    return (
        ("estimated_seconds", estimated),
        ("limit_seconds", SPEAKING_LIMIT_SECONDS),
        ("ok", estimated <= SPEAKING_LIMIT_SECONDS),
        ("basis", basis),
    )
