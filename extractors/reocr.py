"""Second-chance OCR of one value box, with the box's lines removed.

Page-level Tesseract misses or garbles values that touch form lines: comb
fields (one character per cell: Steuer-ID, IBAN, BIC), values squeezed into
narrow boxes. When a known box is empty or its value fails its format or
checksum, the box is cropped from the page image, ruling lines are erased
(pixel rows/columns that are mostly ink), and the crop is recognised as one
text line. The recognition itself is behind a small contract,
:class:`CropOcr`, injected from the edge (``CatalogueExtractor(crop_ocr=…)``);
the default, :class:`TesseractCrops`, runs Tesseract in the process
(``formwerk.tess_inproc``): 10–50 ms per line instead of a 0.2 s model load
each; still it runs only on demand.

Units: boxes in page pixels, top-left origin; returned words are in page
pixels too. Tesseract runs with ``OMP_THREAD_LIMIT=1`` (set where the OCR
modules load, ``formwerk.ocr``/``formwerk.tess_inproc``; see PRODUCT.md).
"""

from __future__ import annotations

import re
from typing import Protocol

import numpy as np
from PIL import Image

from formwerk.models import Word


class CropOcr(Protocol):
    """The engine of second reads: recognises one prepared crop.

    ``image``: the crop as prepared here (grey, lines erased, padded);
    ``psm``: Tesseract's page segmentation mode (6 block, 7 line, 8 word,
    10 character); ``whitelist``: the only characters allowed, or ``None``.
    Returns words as dicts: ``text``, ``conf`` (0–100), ``left``, ``top``,
    ``width``, ``height`` (pixels of ``image``, top-left origin); no layout.
    Each read is bounded: past its timeout it raises
    :class:`formwerk.errors.OcrEngineError`, the error of the page engines
    (``formwerk.ocr``); ``extractors.reader.DocumentReader`` then leaves the
    field to the page read and a clerk.
    """

    def read_words(self, image: Image.Image, lang: str, psm: int, whitelist: str | None = None) -> list[dict]: ...


#: the bound of one second read (seconds) unless the worker gives another: a
#: line recognises in 10–50 ms, a table block (:func:`ocr_block`) in a second
#: or two; the page timeout (``settings.ocr_timeout_s``, 180 s) is for a page
CROP_TIMEOUT_S = 10.0


class TesseractCrops:
    """Tesseract for second reads: in the process, one loaded model per thread
    and language, or the CLI where tesserocr is missing or ``in_process`` is
    off (``formwerk.tess_inproc``); each read bounded by ``timeout_s`` seconds.
    Built by the worker from the settings (``ocr_in_process``, ``ocr_timeout_s``)."""

    def __init__(self, in_process: bool = True, timeout_s: float = CROP_TIMEOUT_S) -> None:
        self.in_process = in_process
        self.timeout_s = timeout_s

    def read_words(self, image: Image.Image, lang: str, psm: int, whitelist: str | None = None) -> list[dict]:
        from formwerk.tess_inproc import read_words

        return read_words(image, lang, psm, whitelist, in_process=self.in_process, timeout_s=self.timeout_s)


#: the default engine of second reads (callers that inject none: tests, dev tools)
TESSERACT_CROPS = TesseractCrops()

DARK = 150
LINE_FILL = 0.6  # a row with this share of ink is a ruling line
COL_FILL = 0.8  # a column with this share of ink is a ruling line / comb divider
COMB_MIN_FILL = 0.7  # ... or with this share when no column has more (dividers shorter than the crop)
MIN_INK = 0.003  # below this share of ink the box is empty
# one language model loads twice as fast as "deu+eng"; values are German
LANG = "deu"


def _erase_lines(a: np.ndarray) -> np.ndarray:
    """Erase ruling lines; long crops in strips (a slight skew spreads a long
    line over several pixel rows, but not within a short strip)."""
    h, w = a.shape
    step = max(8 * h, 50)
    if w <= step:
        return _erase_strip(a)
    return np.hstack([_erase_strip(a[:, i:i + step]) for i in range(0, w, step)])


def _erase_strip(a: np.ndarray) -> np.ndarray:
    dark = a < DARK
    out = a.copy()
    # a cell divider spans (almost) the whole height; a digit's stem does not
    cols = dark.mean(axis=0) >= COL_FILL
    rows = dark.mean(axis=1) >= LINE_FILL
    # anti-aliased edges of a line are lighter than DARK: erase a pixel either side
    cols = cols | np.roll(cols, 1) | np.roll(cols, -1)
    rows = rows | np.roll(rows, 1) | np.roll(rows, -1)
    out[:, cols] = 255
    out[rows, :] = 255
    return out


def _decomb(a: np.ndarray) -> np.ndarray | None:
    """A comb field (one character per cell) rebuilt without its cell lines.

    Cell dividers are columns that are ink over most of the crop height; with
    four or more regular cells, each cell's content (frame rows removed) is
    pasted side by side with white gaps. Returns None for an ordinary box.
    Why: Tesseract reads divider lines as "|", "I", "J" or "E".
    """
    h, w = a.shape
    dark = a < DARK
    colfill = dark.mean(axis=0)
    # dividers run the cell height, not always the crop's (a label's descenders
    # above, a margin): a column nearly as full as the fullest one is a divider
    # too ("1" strokes fill about half)
    div = np.where(colfill >= min(COL_FILL, max(COMB_MIN_FILL, 0.9 * colfill.max())))[0]
    if len(div) < 3:
        return None
    groups: list[list[int]] = []
    for c in div:
        if groups and c - groups[-1][-1] <= 3:
            groups[-1].append(c)
        else:
            groups.append([int(c)])
    edges = [(g[0], g[-1]) for g in groups]
    cells = [(edges[i][1] + 1, edges[i + 1][0]) for i in range(len(edges) - 1)]
    cells = [(c0, c1) for c0, c1 in cells if c1 - c0 >= 0.25 * h]
    if len(cells) < 2:
        return None
    widths = sorted(c1 - c0 for c0, c1 in cells)
    med = widths[len(widths) // 2]
    # the box may end inside the last cell (widget narrower than the comb)
    if w - edges[-1][1] >= 0.5 * med:
        cells.append((edges[-1][1] + 1, min(w, edges[-1][1] + 1 + med)))
    if med > 1.6 * h:  # wide cells: not a comb
        return None
    gap = np.full((h, max(3, h // 10)), 255, np.uint8)
    parts = []
    for c0, c1 in cells:
        cell = a[:, c0 + 3:max(c0 + 4, c1 - 3)].copy()
        # frame rows of this cell (per cell: a skew tilts them across the field)
        rows = (cell < DARK).mean(axis=1) >= 0.5
        cell[rows | np.roll(rows, 1) | np.roll(rows, -1), :] = 255
        _drop_edge_debris(cell)
        ink = (cell < DARK).any(axis=0)
        if ink.sum() < 2:
            continue  # empty cell
        xs = np.where(ink)[0]
        # tight to the glyph, like ordinary letter spacing
        parts += [cell[:, xs[0]:xs[-1] + 1], gap]
    if not parts:
        return np.full((h, 10), 255, np.uint8)
    return np.hstack([gap] + parts)


def _drop_edge_debris(cell: np.ndarray) -> None:
    """Blank short ink runs cut by the crop's top or bottom edge (the
    descender of a label printed above the comb, "Tag Monat Jahr"), when the
    cell has another run: the glyph. Read with it, "7" became "'7" → nothing."""
    from scipy import ndimage

    h = cell.shape[0]
    runs, n = ndimage.label((cell < DARK).any(axis=1))
    if n < 2:
        return
    for (sl,) in ndimage.find_objects(runs):
        if (sl.start == 0 or sl.stop == h) and sl.stop - sl.start < 0.3 * h:
            cell[sl, :] = 255


def is_comb(img: Image.Image, box: list[float], margin: float = 4.0) -> bool:
    """Whether ``box`` (page pixels) holds a comb field: one character per printed cell."""
    W, H = img.size
    x0, y0 = max(0, int(box[0] - margin)), max(0, int(box[1] - margin))
    x1, y1 = min(W, int(box[2] + margin)), min(H, int(box[3] + margin))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return False
    return _decomb(np.asarray(img.convert("L").crop((x0, y0, x1, y1)))) is not None


def ink_share(img: Image.Image, box: list[float]) -> float:
    a = np.asarray(img.convert("L").crop(tuple(int(v) for v in box)))
    if a.size == 0:
        return 0.0
    return float((_erase_lines(a) < DARK).mean())


def _crop(img: Image.Image, region: list[float], min_side: int) -> tuple[np.ndarray, int, int] | None:
    """Grey pixels of ``region`` clipped to the page, with its top-left corner;
    None when less than ``min_side`` pixels remain either way."""
    W, H = img.size
    x0, y0 = max(0, int(region[0])), max(0, int(region[1]))
    x1, y1 = min(W, int(region[2])), min(H, int(region[3]))
    if x1 - x0 < min_side or y1 - y0 < min_side:
        return None
    return np.asarray(img.convert("L").crop((x0, y0, x1, y1))), x0, y0


def ocr_box(img: Image.Image, box: list[float], page: int, *, multiline: bool = False,
            whitelist: str | None = None, margin: float = 4.0, lang: str | None = None,
            ocr: CropOcr = TESSERACT_CROPS) -> list[Word]:
    """Recognise the text inside ``box`` (page pixels); [] when the box is empty."""
    crop = _crop(img, [box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin], 4)
    if crop is None:
        return []
    raw, x0, y0 = crop
    a = _erase_lines(raw)
    if float((a < DARK).mean()) < MIN_INK:
        return []
    if not multiline:
        cells = _decomb(raw)
        if cells is not None:  # a comb field: recognise the cells pasted side by side
            a = cells
    best: list[Word] | None = None
    # first as scanned (grey levels help Tesseract), then binarised and larger:
    # grey widget backgrounds against the white pad read as a frame, and a lone
    # character (a count "0") needs the single-word/char modes
    for binarise, target, modes in ((False, 60, (6,) if multiline else (7,)),
                                    (True, 100, (6,) if multiline else (7, 8, 10))):
        b = np.where(a < DARK, 0, 255).astype(np.uint8) if binarise else a
        crop = Image.fromarray(b)
        f = 1.0
        if crop.height < target:  # Tesseract likes x-heights of 20+ px
            f = target / crop.height
            crop = crop.resize((int(crop.width * f), target), Image.LANCZOS)
        pad = Image.new("L", (crop.width + 40, crop.height + 40), 255)
        pad.paste(crop, (20, 20))
        for psm in modes:
            words = _recognise(ocr, pad, psm, whitelist, x0, y0, f, page, lang or LANG)
            if words and min(w.confidence for w in words) >= SURE_BOX_READ:
                return words
            if words and (best is None or _mean_conf(words) > _mean_conf(best)):
                best = words  # unsure (a comb read "17062006" at 0.0): the next pass may be sure
    return best or []


def _mean_conf(words: list[Word]) -> float:
    return sum(w.confidence for w in words) / len(words)


#: a box read whose every word is at least this sure ends the search through
#: the passes and modes of :func:`ocr_box`
SURE_BOX_READ = 0.5


#: enlargement of a value line for the second read: the page read runs at
#: the scan's 300 dpi, where Tesseract drops umlaut dots ("Jürgen" → "Jurgen")
#: and splits narrow digits off; twice the size reads them (measured on
#: scanned real GewA 1 forms: 74 of 81 values right vs 69 at 1x)
LINE_SCALE = 2.0
#: size of a third read that decides between two disagreeing reads (measured
#: on the tune set: 1.5x agreed with the right read in 9 of 10 non-e-mail
#: disagreements; 1x repeated the page read's errors)
THIRD_SCALE = 1.5


def ocr_line(img: Image.Image, region: list[float], page: int, *, multiline: bool = False,
             lang: str | None = None, scale: float | None = None, ocr: CropOcr = TESSERACT_CROPS) -> list[Word]:
    """A second, independent read of the value in ``region`` (page pixels).

    Unlike :func:`ocr_box` (a rescue for comb cells and missed boxes) this
    reads the value as a line of ordinary text: ruling lines erased, the crop
    enlarged ``scale`` times and recognised as one line (``multiline``: a
    block); a lone character falls back to the word/char modes. Not for
    comb fields (:func:`is_comb`): those go to :func:`ocr_box`. Returns []
    for a crop without ink.
    """
    scale = LINE_SCALE if scale is None else scale
    crop = _crop(img, region, 4)
    if crop is None:
        return []
    raw, x0, y0 = crop
    # only lines across the whole crop: erasing in strips (``_erase_lines``)
    # takes the dense x-height rows of a short strip of text for a line
    dark = raw < DARK
    a = raw.copy()
    a[dark.mean(axis=1) >= COL_FILL, :] = 255
    a[:, dark.mean(axis=0) >= COL_FILL] = 255
    if float((a < DARK).mean()) < MIN_INK or _only_rules(a):
        return []
    # the grey widget fill stays: whitening it (at grey level 150 or 200)
    # was measured to thin strokes (h → n, l → i)
    crop = Image.fromarray(a)
    if scale != 1.0:
        crop = crop.resize((max(1, int(crop.width * scale)), max(1, int(crop.height * scale))), Image.LANCZOS)
    # padded with the crop's own background: a white frame around a grey
    # widget fill reads as "(", "‚" or "|" beside the value
    pad = Image.new("L", (crop.width + 40, crop.height + 40), int(np.median(a)))
    pad.paste(crop, (20, 20))
    for psm in ((6,) if multiline else (7, 8, 10)):
        words = _recognise(ocr, pad, psm, None, x0, y0, scale, page, lang or LANG)
        if words:
            return words
    return []


def _only_rules(a: np.ndarray) -> bool:
    """Whether all ink left in a crop belongs to ruling lines: long flat or
    upright components. A line drawn slightly askew spreads over several pixel
    rows, none of them full enough to be erased by row, and an empty box's
    borders then read as "—L—L—L————". Text touching a line makes a component
    too tall to count. (Erasing those components before recognition as well
    was measured: it lost dates and places on real Meldeschein scans.)"""
    from scipy import ndimage

    dark = a < DARK
    labels, n = ndimage.label(dark)
    if n == 0:
        return True
    h, w = a.shape
    rule_ink = 0
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        ch, cw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        flat = cw >= 0.3 * w and cw >= 8 * ch and ch <= 0.25 * h
        upright = ch >= 0.8 * h and ch >= 10 * cw
        if flat or upright:
            rule_ink += int((labels[sl] == i).sum())
    return float(dark.sum() - rule_ink) / dark.size < MIN_INK


def _recognise(ocr: CropOcr, pad: Image.Image, psm: int, whitelist: str | None, x0: int, y0: int, f: float,
               page: int, lang: str) -> list[Word]:
    """Words of the padded crop ``pad`` (20 px pad, enlarged ``f`` times) in page pixels."""
    words = []
    for d in ocr.read_words(pad, lang, psm, whitelist):
        if not d["text"].strip():
            continue
        l, t_, w, h = d["left"] - 20, d["top"] - 20, d["width"], d["height"]
        words.append(Word(text=d["text"], bbox=[x0 + l / f, y0 + t_ / f, x0 + (l + w) / f, y0 + (t_ + h) / f],
                          confidence=d["conf"] / 100.0, page=page))
    return words


#: character whitelists per value type for comb/boxed fields
WHITELISTS = {
    "tax_id": "0123456789",
    "iban": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "bic": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "date": "0123456789",  # "14021986" parses; dots in comb cells read as noise
    "int": "0123456789",
}


#: ruling lines of a table: dark runs at least this long (points) across or
#: down; the tallest glyphs of form print stay well below
RULE_MIN_PT = 25.0
#: words of a block read kept only from this recogniser confidence on
BLOCK_MIN_CONF = 0.3


def ocr_block(img: Image.Image, region: list[float], page: int, px_per_pt: float,
              lang: str | None = None, ocr: CropOcr = TESSERACT_CROPS) -> list[Word]:
    """Read a whole region (e.g. a ruled table the page read skipped) as one block.

    Ruling lines — dark runs longer than any glyph (``RULE_MIN_PT``) down or
    across — are erased first: with them Tesseract takes the cells for
    pictures. Page pixels in and out; [] for a region without ink.
    """
    from scipy.ndimage import binary_dilation, binary_opening

    crop = _crop(img, region, 20)
    if crop is None:
        return []
    raw, x0, y0 = crop
    dark = raw < DARK
    n = max(int(RULE_MIN_PT * px_per_pt), 20)
    rules = binary_opening(dark, structure=np.ones((n, 1), bool)) | binary_opening(dark, structure=np.ones((1, n), bool))
    a = raw.copy()
    a[binary_dilation(rules, iterations=2)] = 255
    if float((a < DARK).mean()) < MIN_INK:
        return []
    pad = Image.new("L", (a.shape[1] + 40, a.shape[0] + 40), 255)
    pad.paste(Image.fromarray(a), (20, 20))
    words = _recognise(ocr, pad, 6, None, x0, y0, 1.0, page, lang or LANG)
    return [w for w in words if w.confidence >= BLOCK_MIN_CONF and re.search(r"[0-9A-Za-zÄÖÜäöüß]", w.text)]
