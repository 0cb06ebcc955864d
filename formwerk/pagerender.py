"""Page images on demand, from the original file.

Pages that carry a text layer are never rendered while a case is processed:
their words come from the PDF, and most of them are never looked at as
pixels. Whoever needs a picture of such a page (the extractor's tick
detection on a flattened form, the clerk's screen, the API's page image)
renders it here, from the original in the blob store. A scanned PDF page
that was upright is not stored either: it is rendered again and levelled by
the angle the OCR activity measured (``PageContent.skew_corrected``), which
gives the pixels the words were read from. Pages that had to be turned, and
pages of image files, are stored upright by the OCR activity.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from PIL import Image

from formwerk.documents.images import load_image_pages
from formwerk.documents.pdf import render_pdf_page
from formwerk.documents.sniff import FileKind, sniff
from formwerk.documents.upright import apply_skew
from formwerk.errors import NoPagesError

# Pages of an image file have no "dpi" to render at: they are what they are.
DEFAULT_MAX_PIXELS = 200_000_000


def render_page(data: bytes, page: int, dpi: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Page ``page`` (1-based) of the original ``data`` as a grey image at ``dpi``."""
    kind = sniff(data)
    if kind == FileKind.PDF:
        return render_pdf_page(data, page - 1, dpi, draw_forms=True).convert("L")
    pages = load_image_pages(data, kind, max_pixels, max_pages=max(page, 1))
    if not 1 <= page <= len(pages):
        raise NoPagesError(detail=f"page {page} of {len(pages)}")
    return pages[page - 1][0].convert("L")


def png_bytes(image: Image.Image) -> bytes:
    """Grey PNG, fast compression: scans are noisy and barely compress; speed matters more."""
    buf = io.BytesIO()
    (image if image.mode == "L" else image.convert("L")).save(buf, format="PNG", optimize=False,
                                                              compress_level=1)
    return buf.getvalue()


class RenderedPages:
    """A small LRU of rendered pages as PNG, keyed by (source, page, dpi).

    The web app shows the same page several times while a clerk works on a
    case (page switches, zoom); rendering a 300 dpi page costs about 0.2 s.
    """

    def __init__(self, capacity: int = 32) -> None:
        self._items: OrderedDict[tuple[str, int, int, float], bytes] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def png(self, blobs, source_key: str, page: int, dpi: int, skew: float = 0.0) -> bytes:
        key = (source_key, page, dpi, skew)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = png_bytes(apply_skew(render_page(blobs.get(source_key), page, dpi), skew))
        with self._lock:
            self._items[key] = data
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return data


def stored_or_rendered_png(blobs, rendered: RenderedPages, image_key: str | None, source_key: str | None,
                           page: int, dpi: int, skew: float = 0.0) -> bytes | None:
    """The page's PNG: the stored (upright) image, else rendered from the original and
    levelled by ``skew``; None if neither."""
    if image_key:
        return blobs.get(image_key)
    if source_key:
        return rendered.png(blobs, source_key, page, dpi, skew)
    return None


def page_pixels(blobs, image_key: str | None, source_key: str | None, page: int, dpi: int,
                skew: float = 0.0, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image | None:
    """The page as the words were read from it (grey): stored, or rendered again and levelled."""
    if image_key:
        return Image.open(io.BytesIO(blobs.get(image_key))).convert("L")
    if source_key:
        return apply_skew(render_page(blobs.get(source_key), page, dpi, max_pixels), skew)
    return None
