"""Text helpers shared by the classifier parts (no model code here).

Conventions: page texts are what the page layer produced (text layer or OCR
words joined by spaces); the encoder sees at most the first
``MAX_PAGE_CHARS`` characters of a page (about 512 XLM-R tokens of German,
which is also the encoder's limit), so inference time per page is bounded.
"""

from __future__ import annotations

import re
import unicodedata

from formwerk.models import DocumentContent

#: Characters of a page that reach the encoder/TF-IDF (≈ 512 tokens; German
#: averages ~4 characters per XLM-R token, OCR noise makes that shorter).
MAX_PAGE_CHARS = 2000
#: Characters of a page searched for identifiers (titles sit near the top, but
#: continuation pages repeat them in footers, so search a little more).
MAX_IDENT_CHARS = 6000

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "–": "-", "—": "-"})
_NON_WORD = re.compile(r"[^0-9a-z§]+")


def fold(text: str) -> str:
    """Lower-case, umlauts spelled out, punctuation to single spaces.

    OCR often loses umlauts or hyphens; folding both sides of a comparison
    makes "Gewerbe-Anmeldung", "GEWERBE ANMELDUNG" and "Gewerbeanmeldung"
    differ only by spaces, which the fuzzy matcher tolerates.
    """
    t = unicodedata.normalize("NFKC", text).lower().translate(_FOLD)
    t = unicodedata.normalize("NFKD", t)
    t = "".join(c for c in t if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", t).strip()


def clip(text: str, limit: int = MAX_PAGE_CHARS) -> str:
    """The first ``limit`` characters, cut at a word boundary, whitespace collapsed."""
    t = " ".join(text.split())
    if len(t) <= limit:
        return t
    cut = t.rfind(" ", 0, limit)
    return t[: cut if cut > limit // 2 else limit]


def page_texts(content: DocumentContent) -> list[str]:
    """One text per page (possibly empty), in page order."""
    return [p.text for p in sorted(content.pages, key=lambda p: p.page)]


def is_blank(text: str, min_letters: int = 12) -> bool:
    """A page with fewer than ``min_letters`` letters carries no evidence."""
    return sum(c.isalpha() for c in text) < min_letters
