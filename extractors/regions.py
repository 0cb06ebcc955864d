"""Reading a field's value from the words near its printed label.

One geometric model for text-layer and OCR words (page pixels, top-left
origin). A field definition says where the value sits relative to its label:

* ``right`` — same line, right of the label, up to the next printed label;
* ``below`` / ``inside`` — under the label (inside the same box), from the
  label's left edge to the next printed label on the label's line, down to the
  next printed label below (or ``max_dy``).

The caller tries the declared position first and the other one as a
fallback, because editions differ (the official GewA 1 puts values right of
the labels, other renderings put them below). "Printed" words — those covered by any label,
stop label or ignore text of the form — are never part of a value and stop
the region.
"""

from __future__ import annotations

from dataclasses import dataclass

from formwerk.models import Word

from extractors.layout import Line, Match, center, group_lines, norm, scale, union


@dataclass
class Region:
    """A value region on a page and the words read from it."""

    page: int
    words: list[Word]
    position: str

    @property
    def bbox(self) -> list[float] | None:
        return union([w.bbox for w in self.words]) if self.words else None

    def lines(self) -> list[list[Word]]:
        return [ln.words for ln in group_lines(self.words)] if self.words else []

    def text(self, line_sep: str = " ") -> str:
        return line_sep.join(" ".join(w.text for w in ln) for ln in self.lines())


class PageWords:
    """Words of one page with the set of printed (label) words marked."""

    def __init__(self, page: int, words: list[Word], dpi: int, width: int, height: int):
        self.page = page
        self.words = [w for w in words if w.text.strip()]
        self.dpi = dpi
        self.width = width
        self.height = height
        self.printed: set[int] = set()  # label words: never values, stop regions
        self.skipped: set[int] = set()  # other printed words: never values, don't stop


    @property
    def k(self) -> float:
        return scale(self.dpi)

    def mark_printed(self, m: Match, stop: bool = True) -> None:
        target = self.printed if stop else self.skipped
        for w in m.words:
            target.add(id(w))

    def is_printed(self, w: Word) -> bool:
        return id(w) in self.printed

    def is_skipped(self, w: Word) -> bool:
        return id(w) in self.skipped or id(w) in self.printed


def _label_end(pw: PageWords, m: Match) -> float:
    """Right edge of the printed text that continues the label on its line.

    Printed or skipped words following the label with gaps under one label
    height belong to it (a longer variant or an instruction in brackets)."""
    lb = m.bbox
    h = m.height
    end = lb[2]
    row = sorted((w for w in pw.words if w.bbox[0] >= lb[2] - 1 and abs(center(w.bbox)[1] - center(lb)[1]) < 0.5 * h
                  and id(w) not in {id(x) for x in m.words}), key=lambda w: w.bbox[0])
    for w in row:
        if w.bbox[0] - end > 1.0 * h or not pw.is_skipped(w):
            break
        end = w.bbox[2]
    return end


def _label_start(pw: PageWords, m: Match) -> float:
    """Left edge of the printed text the label ends (mirror of :func:`_label_end`)."""
    lb = m.bbox
    h = m.height
    start = lb[0]
    row = sorted((w for w in pw.words if w.bbox[2] <= lb[0] + 1 and abs(center(w.bbox)[1] - center(lb)[1]) < 0.5 * h),
                 key=lambda w: -w.bbox[2])
    for w in row:
        if start - w.bbox[2] > 1.0 * h or not pw.is_skipped(w):
            break
        start = w.bbox[0]
    return start


def _band(label: list[float], h: float, factor: float) -> tuple[float, float]:
    return label[1] - factor * h, label[3] + factor * h


def read_right(pw: PageWords, m: Match, max_dx: float | None, max_dy: float | None) -> Region:
    """Words right of the label on its line, up to the next printed word."""
    lb = m.bbox
    h = m.height
    y0, y1 = _band(lb, h, 0.5)
    if max_dy is not None:  # multi-line labels/values: allow a taller band
        y1 = max(y1, lb[1] + max_dy * pw.k)
    x_limit = lb[2] + (max_dx * pw.k if max_dx else pw.width)
    label_ids = {id(w) for w in m.words}
    end = _label_end(pw, m)
    cands = [w for w in pw.words if id(w) not in label_ids and y0 <= center(w.bbox)[1] <= y1 and w.bbox[0] >= end - 0.5 * h]
    # the first printed word right of the label closes the region
    for w in sorted(cands, key=lambda w: w.bbox[0]):
        if pw.is_printed(w) and abs(center(w.bbox)[1] - center(lb)[1]) < 1.5 * h:
            x_limit = min(x_limit, w.bbox[0])
            break
    words = [w for w in cands if not pw.is_skipped(w) and center(w.bbox)[0] < x_limit]
    return Region(m.page, words, "right")


def read_below(pw: PageWords, m: Match, max_dx: float | None, max_dy: float | None) -> Region:
    """Words under the label, within its column, down to the next printed word."""
    lb = m.bbox
    h = m.height
    x0 = _label_start(pw, m) - 1.5 * h
    x1 = lb[0] + (max_dx * pw.k if max_dx else pw.width)
    # next printed word right of the label on the label's own line ends the
    # column — unless it continues the label's own text (a longer variant)
    end = _label_end(pw, m)
    for w in sorted(pw.words, key=lambda w: w.bbox[0]):
        if pw.is_printed(w) and w.bbox[0] > end + 0.3 * h and abs(center(w.bbox)[1] - center(lb)[1]) < 0.7 * h:
            x1 = min(x1, w.bbox[0] - 0.3 * h)
            break
    y0 = lb[3] - 0.2 * h
    y1 = lb[3] + (max_dy * pw.k if max_dy else 12 * h)
    label_ids = {id(w) for w in m.words}
    cands = [
        w for w in pw.words
        if id(w) not in label_ids and x0 <= center(w.bbox)[0] < x1 and y0 < center(w.bbox)[1] <= y1
    ]
    for w in sorted(cands, key=lambda w: w.bbox[1]):
        # a printed word that starts a new line closes the region
        if pw.is_printed(w) and w.bbox[1] > lb[3] - 0.1 * h:
            y1 = min(y1, w.bbox[1])
            break
    words = [w for w in cands if not pw.is_skipped(w) and center(w.bbox)[1] < y1]
    return Region(m.page, words, "below")


def drop_ignored(words: list[Word], ignore_texts: list[str]) -> list[Word]:
    """Remove single words equal to an ignore text (e.g. a "€" sign after an amount)."""
    ign = {norm(t) for t in ignore_texts if len(t.split()) == 1}
    return [w for w in words if norm(w.text) not in ign]


def lines_of(words: list[Word]) -> list[Line]:
    return group_lines(words)


def read_top(pw: PageWords, max_lines: int = 1) -> Region:
    """The topmost non-printed line of the page (an invoice's letterhead / sender).

    A sender line "Firma · Straße · PLZ Ort" is cut at its first separator.
    """
    lines = [ln for ln in group_lines([w for w in pw.words if not pw.is_skipped(w)])
             if sum(c.isalpha() for c in " ".join(w.text for w in ln.words)) >= 3]
    lines.sort(key=lambda ln: ln.bbox[1])
    words: list[Word] = []
    for ln in lines[:max_lines]:
        for w in ln.words:
            if w.text in ("·", "|", "•"):
                break
            words.append(w)
    return Region(pw.page, words, "top")
