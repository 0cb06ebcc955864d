"""Bounds on reading one document: pixels before rendering, time while reading.

The defaults are those of ``formwerk.settings.Settings``; the worker passes
its settings, any other caller gets the same bounds.
"""

from __future__ import annotations

import math
import time

from formwerk.errors import CorruptFileError, DocumentTooComplexError, PageTooLargeError

#: pixels of one rendered page (``max_image_pixels``): the memory bound of rendering
DEFAULT_MAX_PAGE_PIXELS = 200_000_000
#: a page too large for the pixel limit is rendered at a lower dpi, down to this (``min_render_dpi``)
DEFAULT_MIN_RENDER_DPI = 150
#: reading one PDF: structure, text layer, form fields, active content (``max_read_seconds``)
DEFAULT_MAX_READ_SECONDS = 60.0
#: a PDF's streams other than images, decompressed, together (``max_stream_bytes``); pdfium
#: unpacks a content stream whole: 1 GB of page content in a 1 MB file took 2 GB and 14 s
DEFAULT_MAX_STREAM_BYTES = 100 * 1024 * 1024


def check_page_pixels(width_pt: float, height_pt: float, dpi: int,
                      max_pixels: int = DEFAULT_MAX_PAGE_PIXELS,
                      min_dpi: int = DEFAULT_MIN_RENDER_DPI, *, page: int | None = None) -> int:
    """The dpi at which a page of ``width_pt`` × ``height_pt`` points fits ``max_pixels``.

    Called before anything is rendered (a 14,400 pt square page at 300 dpi
    would be 3.6 gigapixels): ``dpi`` itself when the page fits, else the
    highest dpi that fits, but not below ``min_dpi`` (below, OCR reads
    nothing); a page that does not fit even there raises PageTooLargeError.
    """
    where = f"Seite {page}" if page else "Eine Seite"
    if not (math.isfinite(width_pt) and math.isfinite(height_pt)) or width_pt <= 0 or height_pt <= 0:
        raise CorruptFileError(f"{where} des Dokuments hat keine gültige Größe; die PDF-Datei ist beschädigt.",
                               detail=f"page size {width_pt!r} x {height_pt!r} pt")

    def pixels(at: float) -> int:
        return math.ceil(width_pt * at / 72) * math.ceil(height_pt * at / 72)

    if pixels(dpi) <= max_pixels:
        return dpi
    fit = int(72 * math.sqrt(max_pixels / (width_pt * height_pt)))
    while fit > 0 and pixels(fit) > max_pixels:  # ceil rounding may need one step less
        fit -= 1
    floor = min(min_dpi, dpi)
    if fit >= floor:
        return fit
    cm = f"{width_pt / 72 * 2.54:.0f} × {height_pt / 72 * 2.54:.0f} cm"
    raise PageTooLargeError(
        f"{where} des Dokuments ist mit {cm} zu groß, um sicher gelesen zu werden. Bitte senden "
        "Sie das Dokument in einem üblichen Papierformat (z. B. DIN A4).",
        detail=f"{width_pt:.0f}x{height_pt:.0f} pt: {pixels(floor)} px at {floor} dpi > {max_pixels}",
    )


class Deadline:
    """A time budget checked between steps (pdfium itself cannot be interrupted)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def check(self, stage: str) -> None:
        if self.end is not None and time.monotonic() > self.end:
            raise DocumentTooComplexError(detail=f"read budget of {self.seconds:g} s spent in {stage}")
