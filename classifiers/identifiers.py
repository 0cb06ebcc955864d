"""Fuzzy matching of form identifiers (titles, form codes, legal references).

For every class the matcher returns a score in [0, 1] and the reasons a clerk
can read ("Titel 'Gewerbe-Anmeldung' erkannt (Seite 1)"). Matching is done on
folded text (see :func:`classifiers.text.fold`) so case, umlauts and hyphens do
not matter, and fuzzily so OCR errors survive:

* long identifiers (≥ 8 folded characters) use rapidfuzz ``partial_ratio``
  with a threshold that allows about one wrong character per 10;
* short codes ("GewA 1", "KG 1") must match exactly after folding, on word
  boundaries, with optional spaces — a fuzzy 6-character match would fire on
  half the German language.

The per-class score is a noisy-OR of its identifier matches:
``1 - Π(1 - q_j)`` with ``q_j`` the match quality (0.9–1.0 for a strong
identifier, a tenth of that for a weak one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from classifiers.classes import ClassDef
from classifiers.text import MAX_IDENT_CHARS, fold

SHORT = 8  # folded identifiers shorter than this must match exactly
WEAK_FACTOR = 0.1  # generic words barely count: they are what look-alike forms share


@dataclass(frozen=True)
class IdentifierHit:
    class_id: str
    identifier: str  # as written in the catalogue
    page: int  # 1-based
    score: float  # 0..100 similarity
    found: str  # the text that matched (folded)
    weak: bool = False
    is_title: bool = False

    def reason(self) -> str:
        """A German sentence for the clerk."""
        if self.is_title:
            kind = "Titel"
        elif self.weak:
            kind = "Schlagwort"
        elif re.search(r"[0-9§]", self.identifier):
            kind = "Formularkennung"
        else:
            kind = "Kennbegriff"
        where = f"Seite {self.page}"
        if self.score >= 99.5:
            return f"{kind} '{self.identifier}' erkannt ({where})"
        return f"{kind} '{self.identifier}' erkannt ({where}, gelesen '{self.found}', Ähnlichkeit {self.score:.0f} %)"


def _threshold(n: int) -> float:
    """Minimum partial_ratio for an identifier of ``n`` folded characters."""
    # one error per ~10 characters: 17 chars -> 88, 30 chars -> 90
    # (minus a hair: rapidfuzz compares floats, an exact one-edit score must pass)
    return (max(86.0, 100.0 - 100.0 * max(1, n // 10) / n) if n < 40 else 90.0) - 0.01


def _short_pattern(ident: str, bounded: bool = True) -> re.Pattern[str]:
    chars = fold(ident).replace(" ", "")
    # spaces are optional anywhere ("GewA1", "Gew A 1": OCR splits and joins
    # short codes); the characters themselves must be exact
    body = r"\s?".join(re.escape(c) for c in chars)
    if not bounded:  # a single generic word may sit inside a compound ("Wohngeldantrag")
        return re.compile(body)
    return re.compile(r"(?<![0-9a-z])" + body + r"(?![0-9a-z])")


class IdentifierMatcher:
    """Scores classes by their identifiers. Build once; ``match`` is thread-safe."""

    def __init__(self, classes: list[ClassDef]):
        self.classes = [c.id for c in classes]
        self._entries: list[tuple[str, str, str, bool, re.Pattern[str] | None]] = []
        self._titles = {(c.id, c.title) for c in classes}
        for c in classes:
            for ident, weak in [(i, False) for i in c.identifiers] + [(i, True) for i in c.weak_identifiers]:
                f = fold(ident)
                if not f:
                    continue
                if len(f) < SHORT:
                    pat = _short_pattern(ident)
                elif weak and len(f.split()) == 1:
                    pat = _short_pattern(ident, bounded=False)  # generic word: exact only
                else:
                    pat = None
                self._entries.append((c.id, ident, f, weak, pat))
        # long identifiers of every class, to reject a fuzzy hit that is really
        # another class's identifier ("Gewerbe-Abmeldung" read as "-Anmeldung")
        self._long = [(cid, f) for cid, _, f, _, pat in self._entries if pat is None]

    def hits(self, pages: list[str]) -> list[IdentifierHit]:
        """All identifier matches (best page per identifier)."""
        folded = [fold(p[:MAX_IDENT_CHARS]) for p in pages]
        best: dict[tuple[str, str], IdentifierHit] = {}
        for cid, ident, f, weak, pat in self._entries:
            for pno, text in enumerate(folded, start=1):
                if not text:
                    continue
                if pat is not None:
                    m = pat.search(text)
                    if not m:
                        continue
                    hit = IdentifierHit(cid, ident, pno, 100.0, m.group(0), weak, (cid, ident) in self._titles)
                else:
                    al = fuzz.partial_ratio_alignment(f, text, score_cutoff=_threshold(len(f)))
                    if al is None:
                        continue
                    found = text[al.dest_start : al.dest_end]
                    if al.score < 99.5 and self._belongs_elsewhere(cid, found, al.score):
                        continue
                    hit = IdentifierHit(cid, ident, pno, al.score, found, weak, (cid, ident) in self._titles)
                key = (cid, ident)
                if key not in best or hit.score > best[key].score:
                    best[key] = hit
                if hit.score >= 99.5:
                    break  # an exact hit: earlier pages are as good as it gets
        return list(best.values())

    def _belongs_elsewhere(self, cid: str, found: str, score: float) -> bool:
        # a tie counts against the hit: "Gewerbe-Aumeldung" is one letter from
        # both "-Anmeldung" and "-Abmeldung" and proves neither
        return any(other != cid and fuzz.ratio(f, found) >= score for other, f in self._long)

    def match(self, pages: list[str]) -> tuple[dict[str, float], dict[str, list[str]]]:
        """(score per class in [0, 1], German reasons per class)."""
        scores, _, reasons = self.analyse(pages)
        return scores, reasons

    def analyse(self, pages: list[str]) -> tuple[dict[str, float], dict[str, float], dict[str, list[str]]]:
        """(noisy-OR score, best strong-identifier quality, reasons) per class.

        The strong score (titles/codes only, weak words ignored) is what tells
        look-alike forms apart: a "Gewerbe-Abmeldung" title on a page that
        otherwise reads like a Gewerbe-Anmeldung is evidence *against* the latter.
        """
        reasons: dict[str, list[str]] = {c: [] for c in self.classes}
        miss: dict[str, float] = {c: 1.0 for c in self.classes}
        strong: dict[str, float] = {c: 0.0 for c in self.classes}
        for h in sorted(self.hits(pages), key=lambda h: (h.weak, -h.score)):
            thr = 100.0 if h.score >= 99.5 else _threshold(len(fold(h.identifier)))
            # quality: 1.0 for exact, falling to 0.9 at the threshold
            q = 1.0 if h.score >= 99.5 else 0.9 + 0.1 * (h.score - thr) / max(1e-6, 100.0 - thr)
            if h.weak:
                q *= WEAK_FACTOR
            else:
                strong[h.class_id] = max(strong[h.class_id], q)
            miss[h.class_id] *= 1.0 - min(q, 0.999)
            reasons[h.class_id].append(h.reason())
        scores = {c: 1.0 - miss[c] for c in self.classes}
        return scores, strong, reasons
