"""Where the story breaks: which parts of a brief a text tells, by a plain overlap measure that
works for Japanese and English alike, with no external service. Pure functions.

The parts of a brief's story (`parts`), named as readiness reports them:
- `value_proposition`;
- `differentiator:N`, one per differentiator in the brief's order, counting from 1 (its
  `difference`: how it differs, the thing a seller says; the alternative is a name and the
  trade-off is a gut-check question of its own);
- `evidence`: told when any one of the cited claims is told (one proof point is enough);
- `next_action`: the customer's next action.
An empty part (no differentiators, no evidence, ...) is not a part.

A text becomes a set of *units*, after NFKC normalisation (full-width `３`, `ＰＤＦ` → `3`, `pdf`)
and lowercasing:
- a word in Latin script or digits (English, product names, figures) is one unit, unless it is a
  stop word; light suffix folding (`-s`/`-es`/`-ies`, `-ing`, `-ed`, a final `-e`) makes
  "reduce", "reduces", "reduced" and "reducing" one unit;
- a run of Japanese (kana, kanji; written without spaces) gives its character bigrams, except
  bigrams of hiragana only (particles and endings such as の/を/ます say nothing of the content);
  a run of one character is a unit itself.

overlap(part, text) = |units(part) ∩ units(text)| / |units(part)|: how much of what the part says
comes back in the text. A part is *covered* when its overlap is at least `COVERED` (one half).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

COVERED: Final = 0.5

_LATIN = r"[0-9a-z]+(?:'[a-z]+)?"
_JAPANESE = r"[\u3041-\u3096\u30a1-\u30fa\u30fc\u3005\u3006\u30f6\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
_RUNS = re.compile(f"({_LATIN})|({_JAPANESE})")
_HIRAGANA = frozenset(map(chr, range(0x3041, 0x3097))) | {"\u30fc"}

_STOP = """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each every few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those through
    to too under until up very was we were what when where which while who whom why will with
    would you your yours us via per let lets get gets make makes one"""
STOP_WORDS: Final = frozenset(_STOP.split())


def _fold(word: str) -> str:
    """A light English suffix folding: enough for inflections to meet, not a stemmer."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # running → run, but not fill → fil
            break
    return word[:-1] if word.endswith("e") and not word.endswith("ee") and len(word) > 3 else word


def units(text: str) -> frozenset[str]:
    """The text's content units: folded content words and Japanese character bigrams."""
    found: set[str] = set()
    for latin, japanese in _RUNS.findall(unicodedata.normalize("NFKC", text).lower()):
        if latin:
            word = latin.split("'")[0]
            if word not in STOP_WORDS:
                found.add(_fold(word))
        elif len(japanese) == 1:
            found.add(japanese)
        else:
            found.update(
                a + b for a, b in itertools.pairwise(japanese) if not (a in _HIRAGANA and b in _HIRAGANA)
            )
    return frozenset(found)


def overlap(part: str, text: str) -> float | None:
    """The share of the part's units that the text repeats; None when the part has none."""
    wanted = units(part)
    return len(wanted & units(text)) / len(wanted) if wanted else None


@dataclass(frozen=True)
class Part:
    """A part of the story; told when any of its texts is covered (evidence: any one claim)."""

    name: str
    texts: tuple[frozenset[str], ...]

    def told_in(self, said: frozenset[str]) -> bool:
        """Whether `said` (a text's units) covers this part."""
        return any(len(wanted & said) >= COVERED * len(wanted) for wanted in self.texts)


def parts(
    value_proposition: str, differences: Sequence[str], evidence: Iterable[str], next_action: str
) -> list[Part]:
    """The brief's story parts, in the brief's order; parts with nothing to measure left out."""

    def part(name: str, texts: Iterable[str]) -> list[Part]:
        measured = tuple(u for u in map(units, texts) if u)
        return [Part(name, measured)] if measured else []

    found = part("value_proposition", [value_proposition])
    for number, difference in enumerate(differences, start=1):
        found += part(f"differentiator:{number}", [difference])
    return found + part("evidence", evidence) + part("next_action", [next_action])


def told(story: Sequence[Part], text: str) -> list[bool]:
    """For each part, whether the text covers it."""
    said = units(text)
    return [p.told_in(said) for p in story]
