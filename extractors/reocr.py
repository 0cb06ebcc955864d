"""Second-chance OCR of one value box (pytesseract), with the box's lines removed.

Page-level Tesseract misses or garbles values that touch form lines: comb
fields (one character per cell: Steuer-ID, IBAN, BIC), values squeezed into
narrow boxes. When a known box is empty or its value fails its format or
checksum, the box is cropped from the page image, ruling lines are erased
(pixel rows/columns that are mostly ink), and the crop is recognised as one
text line. Costs ~0.2–0.5 s per box on one core, so it runs only on demand.

Units: boxes in page pixels, top-left origin; returned words are in page
pixels too. Tesseract runs with ``OMP_THREAD_LIMIT=1`` (see PRODUCT.md).
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from formwerk.models import Word

DARK = 150
LINE_FILL = 0.6  # a row/column with this share of ink is a ruling line
MIN_INK = 0.003  # below this share of ink the box is empty
LANG = "deu+eng"


def _erase_lines(a: np.ndarray) -> np.ndarray:
    dark = a < DARK
    out = a.copy()
    cols = dark.mean(axis=0) >= LINE_FILL
    rows = dark.mean(axis=1) >= LINE_FILL
    out[:, cols] = 255
    out[rows, :] = 255
    return out


def ink_share(img: Image.Image, box: list[float]) -> float:
    a = np.asarray(img.convert("L").crop(tuple(int(v) for v in box)))
    if a.size == 0:
        return 0.0
    return float((_erase_lines(a) < DARK).mean())


def ocr_box(img: Image.Image, box: list[float], page: int, *, multiline: bool = False,
            whitelist: str | None = None, margin: float = 4.0) -> list[Word]:
    """Recognise the text inside ``box`` (page pixels); [] when the box is empty."""
    import pytesseract

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    W, H = img.size
    x0, y0 = max(0, int(box[0] - margin)), max(0, int(box[1] - margin))
    x1, y1 = min(W, int(box[2] + margin)), min(H, int(box[3] + margin))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return []
    a = _erase_lines(np.asarray(img.convert("L").crop((x0, y0, x1, y1))))
    if float((a < DARK).mean()) < MIN_INK:
        return []
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
            words = _recognise(pad, psm, whitelist, x0, y0, f, page)
            if words:
                return words
    return []


def _recognise(pad: Image.Image, psm: int, whitelist: str | None, x0: int, y0: int, f: float,
               page: int) -> list[Word]:
    import pytesseract

    config = f"--psm {psm}"
    if whitelist:
        config += f" -c tessedit_char_whitelist={whitelist}"
    d = pytesseract.image_to_data(pad, lang=LANG, config=config, output_type=pytesseract.Output.DICT)
    words = []
    for i, t in enumerate(d["text"]):
        if not t.strip() or float(d["conf"][i]) < 0:
            continue
        l, t_, w, h = d["left"][i] - 20, d["top"][i] - 20, d["width"][i], d["height"][i]
        words.append(Word(text=t, bbox=[x0 + l / f, y0 + t_ / f, x0 + (l + w) / f, y0 + (t_ + h) / f],
                          confidence=float(d["conf"][i]) / 100.0, page=page))
    return words


#: character whitelists per value type for comb/boxed fields
WHITELISTS = {
    "tax_id": "0123456789",
    "iban": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "bic": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "date": "0123456789.",
    "int": "0123456789",
    "bic": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
}
