"""Splitting "Vorname [Familienname]" cells with an international first-name lexicon.

The KG 1 children table has one column "Vorname des Kindes / ggf.
abweichender Familienname": a cell is either the given name(s) or the given
name(s) followed by a different family name. Trailing tokens that are not
known first names are taken as the family name.

The lexicon is Jörg Michael's first-name dictionary as shipped by the
``gender-guesser`` package (about 45,000 given names of some 50 countries).
It is deliberately *not* Faker's list: the benchmark's generator
(``bench.synth``) draws its names from Faker, and an extractor reading the
same list would be scored on exactly the names it knows.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


def fold(name: str) -> str:
    """Case and accents folded ("Çelik" → "celik", "Ayşe" → "ayse"): forms and
    scans write names with or without their diacritics."""
    s = unicodedata.normalize("NFKD", name.casefold().replace("ß", "ss").replace("ø", "o").replace("ł", "l"))
    return "".join(c for c in s if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Folded given names of the lexicon, loaded once (about 0.2 s)."""
    try:
        from gender_guesser.detector import Detector
    except ImportError:  # pragma: no cover - dependency missing: no splitting
        return frozenset()
    names: set[str] = set()
    for key in Detector(case_sensitive=False).names:
        # the dictionary writes double names with "+" or a space ("hans+peter")
        for part in key.replace("+", " ").replace("-", " ").split():
            names.add(fold(part))
    return frozenset(names)


def is_first_name(token: str) -> bool:
    parts = [p for p in token.split("-") if p]
    return bool(parts) and all(fold(p) in first_names() for p in parts)


def split_given_family(cell: str) -> tuple[str, str | None]:
    """``"Anna Maria"`` → (``"Anna Maria"``, None); ``"Anna Müller"`` → (``"Anna"``, ``"Müller"``)."""
    tokens = cell.split()
    if len(tokens) < 2 or not first_names():
        return cell, None
    last = tokens[-1]
    if is_first_name(last):
        return cell, None
    return " ".join(tokens[:-1]), last
