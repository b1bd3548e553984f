"""Keys derived from account names: a valid slug for any name, Japanese included.

No transliteration is available (and a romanisation would not be stable across libraries), so
the key is the name's ASCII words, if any, and a stable hash of the whole name:
"Acme Corp" → "acme-corp-5c1a9e3b0d", "株式会社つばさ" → "account-3f0e6a1b2c". The same name always
derives the same key, so two requests creating the same new account converge on one row.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

HASH_CHARS = 10
_WORDS = re.compile(r"[a-z0-9]+")
MAX_KEY = 64


def derived_key(name: str) -> str:
    """A slug for `name`: its ASCII words (at most ~50 characters) and 10 hex of its SHA-256."""
    folded = unicodedata.normalize("NFKC", name).lower()
    words = "-".join(_WORDS.findall(folded))[: MAX_KEY - HASH_CHARS - 1 - 3].strip("-")
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_CHARS]
    return f"{words or 'account'}-{digest}"
