"""Geometry helpers over :class:`formwerk.models.Word` lists and label matching.

Conventions: boxes ``[x0, y0, x1, y1]`` in page pixels, top-left origin.
Distances given in form definitions are pixels at 300 dpi; multiply by
:func:`scale` to get pixels of a page rendered at another dpi.

Label matching is fuzzy so that it survives OCR errors: a label is located in
each text line with rapidfuzz's partial alignment, widened to whole words,
then scored by the plain ratio of the label against those words (0..1).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process

from formwerk.models import Word

#: minimum label score (0..1) to accept a match; short labels need more
LABEL_MIN_SCORE = 0.80
SHORT_LABEL_MIN_SCORE = 0.92
SHORT_LABEL_CHARS = 5
LINE_MIN_SCORE = 60  # a line whose best partial alignment scores less cannot hold the label


def scale(dpi: int | float | None) -> float:
    return (dpi or 300) / 300.0


@lru_cache(maxsize=65536)
def norm(s: str) -> str:
    """Lower case, NFC, unify dashes/quotes, collapse spaces (for matching only).

    Cached: the label search normalises the same words of a page thousands of
    times (a third of a digital document's extraction time, uncached).
    """
    s = unicodedata.normalize("NFC", s).lower()
    s = re.sub(r"[\u2010-\u2015\u2212]", "-", s)
    s = re.sub(r"[\u201c\u201d\u201e\u00ab\u00bb\"]", '"', s)
    # a trailing colon is optional on labels ("IBAN" / "IBAN:")
    s = re.sub(r":(?=\s|$)", "", s)
    return " ".join(s.split())


def union(boxes: list[list[float]]) -> list[float]:
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def center(b: list[float]) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


@dataclass
class Line:
    """Words of one text line, left to right, and char offsets into ``text``."""

    page: int
    words: list[Word]
    text: str = ""
    starts: list[int] = field(default_factory=list)

    def __post_init__(self):
        parts, pos = [], 0
        for w in self.words:
            self.starts.append(pos)
            t = norm(w.text)
            parts.append(t)
            pos += len(t) + 1
        self.text = " ".join(parts)

    @property
    def bbox(self) -> list[float]:
        return union([w.bbox for w in self.words])


def group_lines(words: list[Word], split_gaps: bool = True) -> list[Line]:
    """Group words into lines by vertical overlap (recogniser ids are not trusted:
    Tesseract splits one printed line into several blocks on forms)."""
    out: list[Line] = []
    rows: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w.page, center(w.bbox)[1], w.bbox[0])):
        if not w.text.strip():
            continue
        placed = False
        cy = center(w.bbox)[1]
        h = w.bbox[3] - w.bbox[1]
        for row in reversed(rows[-3:]):
            r0 = row[0]
            if r0.page != w.page:
                continue
            ry0 = sum(x.bbox[1] for x in row) / len(row)
            ry1 = sum(x.bbox[3] for x in row) / len(row)
            rh = ry1 - ry0
            if ry0 - 0.15 * rh <= cy <= ry1 + 0.15 * rh and h < 2.5 * rh and rh < 2.5 * h:
                row.append(w)
                placed = True
                break
        if not placed:
            rows.append([w])
    for row in rows:
        row.sort(key=lambda w: w.bbox[0])
        # split a row where there is a large horizontal gap: separate columns
        cur = [row[0]]
        for w in row[1:]:
            h = max(w.bbox[3] - w.bbox[1], 1)
            if split_gaps and w.bbox[0] - cur[-1].bbox[2] > 6 * h:
                out.append(Line(cur[0].page, cur))
                cur = [w]
            else:
                cur.append(w)
        out.append(Line(cur[0].page, cur))
    return out


@dataclass
class Match:
    """A label found on a page: its words, box and score in [0, 1]."""

    label: str
    page: int
    words: list[Word]
    score: float

    @property
    def bbox(self) -> list[float]:
        return union([w.bbox for w in self.words])

    @property
    def height(self) -> float:
        hs = sorted(w.bbox[3] - w.bbox[1] for w in self.words)
        return hs[len(hs) // 2]


def min_score(label: str) -> float:
    return SHORT_LABEL_MIN_SCORE if len(label.replace(" ", "")) <= SHORT_LABEL_CHARS else LABEL_MIN_SCORE


def match_in_line(label: str, line: Line) -> Match | None:
    """Best fuzzy occurrence of ``label`` in ``line`` widened to whole words."""
    lab = norm(label)
    if not lab or not line.text:
        return None
    al = fuzz.partial_ratio_alignment(lab, line.text)
    if al is None or al.score < LINE_MIN_SCORE:
        return None
    s, e = al.dest_start, al.dest_end
    idx = [i for i, st in enumerate(line.starts) if st < e and st + len(norm(line.words[i].text)) > s]
    if not idx:
        return None
    best: Match | None = None
    # widen/narrow by one word at each end: the alignment may cut words
    i0, i1 = idx[0], idx[-1]
    for a in {max(0, i0 - 1), i0, min(i0 + 1, i1)}:
        for b in {i1, min(len(line.words) - 1, i1 + 1), max(a, i1 - 1)}:
            if b < a:
                continue
            ws = line.words[a : b + 1]
            text = " ".join(norm(w.text) for w in ws)
            sc = fuzz.ratio(lab, text) / 100.0
            if best is None or sc > best.score:
                best = Match(label, line.page, ws, sc)
    return best


def find_label(label: str, lines: list[Line], threshold: float | None = None) -> list[Match]:
    """All lines' best matches of ``label`` with score ≥ threshold, best first."""
    thr = min_score(label) if threshold is None else threshold
    lab = norm(label)
    if not lab:
        return []
    # the lines that can hold the label at all, found in one C loop; the
    # per-line alignment below keeps the same cut-off, so nothing else changes
    hits = process.extract(lab, [line.text for line in lines], scorer=fuzz.partial_ratio,
                           score_cutoff=LINE_MIN_SCORE, limit=None)
    out = []
    for _, _, i in sorted(hits, key=lambda h: h[2]):
        m = match_in_line(label, lines[i])
        if m and m.score >= thr:
            out.append(m)
    out.sort(key=lambda m: -m.score)
    return out


def reading_key(m: Match) -> tuple:
    b = m.bbox
    return (m.page, round(b[1] / max(m.height, 1)), b[0])
