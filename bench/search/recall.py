"""Recall and precision of search tokenizers on a small labelled Japanese/English sample.

    .venv/bin/python -m bench.search.recall

Every query is matched the way search matches (a text must hold every query token); the
labels say which texts a reader would want for it. Compared:

- `bigrams`: service/search/tokens.py (CJK character bigrams, lowercased English words with a
  plural fold) — what search uses;
- `words`: text split on spaces and punctuation (what a plain `to_tsvector('simple', ...)`
  does: a Japanese sentence is one "word");
- `unigrams`: every CJK character on its own (no word boundaries needed, but 価格 then also
  matches 評価…格安).

tests/test_search.py asserts the figures for `bigrams` (recall 1.00).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from service.search import tokens

TEXTS: dict[str, str] = {
    "j1": "価格への反論には、削減できる時間で答える。",
    "j2": "よくある質問: 価格が高いという反論への答え方",
    "j3": "請求書の入力時間を週3時間減らす",
    "j4": "評価の高い機能は読み取りの速さです",
    "j5": "格安の競合製品との違いは自動仕訳です",
    "j6": "手書きの請求書には対応しない",
    "j7": "月末の残業が減り、経理担当者の不満が消える",
    "j8": "入力ミスで支払いを誤る不安をなくす",
    "j9": "導入の反論: 既存の会計ソフトと連携できるのか",
    "j10": "価格表は営業部で配布する",
    "j11": "不便な手入力をなくし、価値を時間で示す",
    "j12": "クラデスクは紙の請求書を読み取ります",
    # Decoys: the characters of 価格 and 反論, not the words.
    "j13": "評価は格段に上がった",
    "j14": "お客様の反応と議論のまとめ",
    "e1": "Answering pricing objections with hours saved",
    "e2": "FAQ: the price objection and how to answer it",
    "e3": "Cut invoice entry time by three hours a week",
    "e4": "Handwritten invoices are not supported",
    "e5": "The objection we hear most: integration with existing accounting software",
    "e6": "Pricing page for the sales team",
    "e7": "Month-end overtime drops for the accounting team",
    "e8": "Fewer input errors, less anxiety about wrong payments",
    "m1": "KuraDeskの価格への反論に答える",
    "m2": "KuraDesk reads 請求書 automatically",
    "m3": "CRMカードで pricing objection を扱う",
    "m4": "OCR精度の不満と accuracy complaints",
}

# query -> the texts it should find
QUERIES: dict[str, set[str]] = {
    "価格 反論": {"j1", "j2", "m1"},
    "反論": {"j1", "j2", "j9", "m1"},
    "請求書": {"j3", "j6", "j12", "m2"},
    "入力時間": {"j3"},
    "不満": {"j7", "m4"},
    "不安": {"j8"},
    "価格": {"j1", "j2", "j10", "m1"},
    "会計ソフト": {"j9"},
    "手書き": {"j6"},
    "pricing objection": {"e1", "m3"},
    "objections": {"e1", "e2", "e5", "m3"},
    "invoice": {"e3", "e4"},
    "accounting": {"e5", "e7"},
    "KuraDesk 価格": {"m1"},
    "KuraDesk 請求書": {"m2"},
    "pricing 反論": set(),
}


# English is folded the same way in all three: only the handling of Japanese differs.
def _words(text: str, *, query: bool = False) -> list[str]:
    return [tokens._stem(w) for w in re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", text).casefold())]


def _unigrams(text: str, *, query: bool = False) -> list[str]:
    out: list[str] = []
    for word in re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", text).casefold()):
        for part in re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]|[^\u3040-\u30ff\u4e00-\u9fff]+", word):
            out.append(part if tokens.is_cjk(part[0]) else tokens._stem(part))
    return out


def _bigrams(text: str, *, query: bool = False) -> list[str]:
    return tokens.token_texts(text, query=query)


TOKENIZERS: dict[str, Callable[..., list[str]]] = {
    "bigrams": _bigrams,
    "words": _words,
    "unigrams": _unigrams,
}


def _matches(doc: list[str], terms: list[str]) -> bool:
    return all(
        any(t.startswith(term) for t in doc) if tokens.is_prefix_term(term) else term in doc for term in terms
    )


def measure(name: str) -> tuple[float, float]:
    """(recall, precision) micro-averaged over QUERIES."""
    tokenize = TOKENIZERS[name]
    docs = {key: tokenize(text) for key, text in TEXTS.items()}
    relevant = retrieved = hits = 0
    for q, wanted in QUERIES.items():
        terms = list(dict.fromkeys(tokenize(q, query=True)))
        got = {key for key, doc in docs.items() if _matches(doc, terms)}
        relevant += len(wanted)
        retrieved += len(got)
        hits += len(got & wanted)
    return hits / relevant, hits / retrieved if retrieved else 1.0


def main() -> None:
    for name in TOKENIZERS:
        recall, precision = measure(name)
        print(f"{name:9} recall {recall:.2f}  precision {precision:.2f}")


if __name__ == "__main__":
    main()
