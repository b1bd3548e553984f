"""The one tokenizer of search: documents and queries, PostgreSQL and SQLite alike.

Japanese is written without spaces and many of its words are two characters (価格, 反論,
不満), below what trigram matching can find. So a run of CJK characters (kanji, kana, hangul)
becomes its overlapping character bigrams (価格反論 → 価格 格反 反論), and a query's run the
same way: a query term matches a text that holds all its bigrams, wherever a word boundary
would have been. Latin text (any other letters and digits) becomes lowercased words with a
light English plural fold (objections → objection). Each run also ends in its last character
alone, so a one-character query (値) finds words that start or end with it.

Measured on the labelled sample of bench/search/recall.py (16 Japanese, English and mixed
queries over 26 short texts, every query token required, English folded alike): bigrams find
every relevant text (recall 1.00, precision 1.00 there; a bigram can still match across two
words); whole space-separated words find 0.36 of them (a Japanese sentence is one "word");
single characters find all at a precision of 0.92 (価格 also matches 評価は格段に).

Tokens are computed here, in Python, and stored: the databases index them verbatim (a
`tsvector` built with `array_to_tsvector` on PostgreSQL, FTS5's `ascii` tokenizer on SQLite,
which splits on spaces and keeps every non-ASCII character), so both find the same documents.

Text is normalised (NFKC, then case folding; Latin letters also lose their accents) so that
every token knows where it came from in the original: highlights are offsets into what the
caller sees, not into a normalised copy. When normalising would move characters (ｶﾞ → ガ,
ß → ss) it goes one character at a time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

# A token longer than this is not a word anyone searches for (a hash, a URL squashed into
# letters): cut so that index entries stay small (PostgreSQL refuses lexemes over 2 KiB).
MAX_TOKEN_CHARS = 48

_KANA_MARKS = ("\u3099", "\u309a")  # combining voiced / semi-voiced marks (half-width ﾞ ﾟ)


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int  # code point offsets into the original text, [start, end)
    end: int


# Scripts written without spaces between words, indexed by character bigrams: hiragana and
# katakana (with ー), katakana extensions, CJK ideographs (extension A, unified, compatibility,
# extensions B–G), hangul syllables, and 々 〆 〇.
_CJK = (
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0003134f\uac00-\ud7af\u3005-\u3007"
)
_IS_CJK = re.compile(f"[{_CJK}]")


def is_cjk(ch: str) -> bool:
    return _IS_CJK.match(ch) is not None


@lru_cache(maxsize=8192)
def _fold(ch: str) -> str:
    """One character as the index sees it: '' for a separator."""
    folded = unicodedata.normalize("NFKC", ch).casefold()
    out = []
    for c in folded:
        if c.isalnum():
            if c.isascii() or is_cjk(c):
                out.append(c)
            else:  # é → e: accents are not what people type consistently
                base = "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))
                out.append(base if base.isalnum() else c)
    return "".join(out)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A light English plural fold, the same for documents and queries."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _runs(text: str) -> Iterator[tuple[bool, list[tuple[str, int, int]]]]:
    """Runs of (folded character, start, end): CJK runs and other-word runs, in order."""
    run: list[tuple[str, int, int]] = []
    run_cjk = False
    for index, ch in enumerate(text):
        if ch in _KANA_MARKS or ch in ("\uff9e", "\uff9f"):
            if run and run_cjk:  # ｶﾞ → ガ: compose with the kana before it
                prev, start, _ = run[-1]
                mark = "\u3099" if ch in ("\u3099", "\uff9e") else "\u309a"
                run[-1] = (unicodedata.normalize("NFC", prev + mark), start, index + 1)
            continue
        if unicodedata.combining(ch):  # a decomposed accent: part of the word, not of the token
            if run:
                run[-1] = (run[-1][0], run[-1][1], index + 1)
            continue
        folded = _fold(ch)
        if not folded:
            if run:
                yield run_cjk, run
                run = []
            continue
        cjk = is_cjk(folded[0])
        if run and cjk != run_cjk:
            yield run_cjk, run
            run = []
        run_cjk = cjk
        run.append((folded, index, index + 1))
    if run:
        yield run_cjk, run


_WORD = re.compile(r"[^\W_]+")
_SCRIPT = re.compile(f"[{_CJK}]+|[^{_CJK}]+")


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def tokenize(text: str, *, query: bool = False) -> list[Token]:
    """Tokens of `text` with their spans. A document's CJK run also yields its last character
    alone (so one-character queries can match it); a query's run of one character is that
    character (matched as a prefix, see `is_prefix_term`).

    The whole text is normalised at once when that keeps every character in place (nearly
    always: it is 30 times faster than character by character); otherwise, one at a time."""
    folded = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
    if len(folded) != len(text):
        return _tokenize_by_character(text, query)
    tokens: list[Token] = []
    for match in _WORD.finditer(folded):
        word, at = match.group(), match.start()
        if word.isascii():
            tokens.append(Token(_stem(word[:MAX_TOKEN_CHARS]), at, match.end()))
            continue
        for part in _SCRIPT.finditer(word):
            run, start = part.group(), at + part.start()
            if is_cjk(run[0]):
                _cjk_tokens(tokens, [(c, start + i, start + i + 1) for i, c in enumerate(run)], query)
            else:
                latin = _strip_accents(run)[:MAX_TOKEN_CHARS]
                tokens.append(Token(_stem(latin), start, start + len(run)))
    return tokens


def _cjk_tokens(tokens: list[Token], run: list[tuple[str, int, int]], query: bool) -> None:
    for (a, start, _), (b, _, end) in pairwise(run):
        tokens.append(Token(a + b, start, end))
    if len(run) == 1 or not query:
        last, start, end = run[-1]
        tokens.append(Token(last, start, end))


def _tokenize_by_character(text: str, query: bool) -> list[Token]:
    tokens: list[Token] = []
    for cjk, run in _runs(text):
        if cjk:
            _cjk_tokens(tokens, run, query)
        else:
            word = "".join(c for c, _, _ in run)[:MAX_TOKEN_CHARS]
            tokens.append(Token(_stem(word), run[0][1], run[-1][2]))
    return tokens


def token_texts(text: str, *, query: bool = False) -> list[str]:
    """`[t.text for t in tokenize(text)]` without the spans: the indexing path (a batch of
    feedback is thousands of documents)."""
    out: list[str] = []
    if _add_token_texts(out, text, query) is None:
        out.extend(t.text for t in _tokenize_by_character(text, query))
    return out


def _add_token_texts(out: list[str], text: str, query: bool) -> list[str] | None:
    """Append the tokens of `text` to `out` when it is normalised at once (its folded form keeps
    every character in place); None, and nothing appended, when it must go one at a time."""
    if text.isascii():
        folded = text.lower()
    else:
        folded = unicodedata.normalize("NFKC", text).casefold()
        if len(folded) != len(text):
            return None
    append = out.append
    for word in _WORD.findall(folded):
        if word.isascii():
            append(_stem(word[:MAX_TOKEN_CHARS]))
            continue
        for run in _SCRIPT.findall(word):
            if _IS_CJK.match(run) is not None:
                last = len(run) - 1
                if last:
                    out += [run[i : i + 2] for i in range(last)]  # overlapping bigrams
                    if not query:
                        append(run[last])
                else:
                    append(run)
            else:
                append(_stem(_strip_accents(run)[:MAX_TOKEN_CHARS]))
    return out


def document_tokens(*texts: str, lines_seen: dict[str, list[str]] | None = None) -> str:
    """What the index stores for a document: its tokens, space-separated, in order.

    The same as joining `token_texts` of each text, computed line by line: no token spans a
    line break, and a line normalised at once folds the same alone as within its text (a line
    break neither composes nor decomposes with its neighbours). So a line met twice is
    tokenised once: in one document (a feedback item's title is usually its first line), and
    across the documents that share `lines_seen` (a batch's tags). A text with a line that
    must go one character at a time goes whole, as `token_texts` would."""
    out: list[str] = []
    if lines_seen is None:
        lines_seen = {}
    for text in texts:
        start = len(out)
        for line in text.split("\n"):
            known = lines_seen.get(line)
            if known is not None:
                out += known
                continue
            at = len(out)
            if _add_token_texts(out, line, False) is None:
                del out[start:]
                out += token_texts(text)
                break
            lines_seen[line] = out[at:]
    return " ".join(out)


def query_terms(q: str) -> list[str]:
    """The distinct tokens a query asks for, in order (a document must hold all of them)."""
    return list(dict.fromkeys(token_texts(q, query=True)))


def is_prefix_term(term: str) -> bool:
    """A lone CJK character in a query matches every token that starts with it (値 → 値段, 価値)."""
    return len(term) == 1 and is_cjk(term)
