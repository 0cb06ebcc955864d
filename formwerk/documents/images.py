"""Reading raster files (TIFF multi-page, PNG, JPEG) without trusting them.

Dimensions are checked from the header *before* any pixel is decoded: a 30000
× 30000 PNG is a few hundred kilobytes on disk and 2.7 GB in memory.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from formwerk.documents.sniff import FileKind
from formwerk.errors import (
    CorruptFileError,
    EmptyImageError,
    ImageTooLargeError,
    NoPagesError,
    TooManyPagesError,
)

DEFAULT_DPI = 300
#: all pages of one file together (Settings.max_total_pixels): the pages are held decoded
#: at once (RGB, four bytes a pixel), and a TIFF of 50 white 100-megapixel group-4 pages
#: is a few kilobytes on disk
DEFAULT_MAX_TOTAL_PIXELS = 600_000_000


def _png_header_size(data: bytes) -> tuple[int, int] | None:
    # IHDR is always the first chunk: 8-byte signature, 4 length, 4 "IHDR", w, h.
    if len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise EmptyImageError(detail=f"{width}x{height}")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"Das Bild ist mit {width} × {height} Bildpunkten zu groß, um sicher "
            "verarbeitet zu werden. Bitte scannen Sie das Dokument mit 300 dpi erneut.",
            detail=f"{width * height} pixels > {max_pixels}",
        )


def image_dpi(img: Image.Image) -> int:
    dpi = img.info.get("dpi")
    try:
        value = int(round(float(dpi[0]))) if dpi else 0
    except (TypeError, ValueError):
        value = 0
    # Metadata of 72/96 dpi on a page-sized image is a lie of the writer;
    # anything implausible falls back to the scanner default.
    return value if 100 <= value <= 1200 else DEFAULT_DPI


def load_image_pages(
    data: bytes, kind: FileKind, max_pixels: int, max_pages: int, *,
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS,
) -> list[tuple[Image.Image, int]]:
    """Decode every page as (RGB image, dpi), upright per EXIF.

    Before any pixel is decoded: each page's header size against
    ``max_pixels``, the page count against ``max_pages`` and the sum of all
    pages against ``max_total_pixels``.
    """
    if kind == FileKind.PNG:
        size = _png_header_size(data)
        if size is not None:
            _check_size(*size, max_pixels)
    pages: list[tuple[Image.Image, int]] = []
    # PIL's own global bomb limit stays as it is (changing it is not
    # thread-safe); _check_size runs on each frame's header before decoding.
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
        _check_size(img.width, img.height, max_pixels)
        # counting frames walks the TIFF directory chain, no pixel is decoded:
        # a 500-page TIFF is refused before its first page costs memory
        frames = getattr(img, "n_frames", 1)
        if frames > max_pages:
            raise TooManyPagesError(
                f"Die Bilddatei hat {frames} Seiten; erlaubt sind höchstens {max_pages}. "
                "Bitte teilen Sie sie in einzelne Anträge auf."
            )
        _check_total(img, frames, max_pixels, max_total_pixels)
        for frame in ImageSequence.Iterator(img):
            _check_size(frame.width, frame.height, max_pixels)
            if len(pages) >= max_pages:
                raise TooManyPagesError(
                    f"Die Bilddatei hat mehr als {max_pages} Seiten. "
                    "Bitte teilen Sie sie in einzelne Anträge auf."
                )
            dpi = image_dpi(frame)
            page = ImageOps.exif_transpose(frame.copy()).convert("RGB")
            pages.append((page, dpi))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(detail=str(exc)) from exc
    except (EmptyImageError, ImageTooLargeError, TooManyPagesError):
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
        text = str(exc).lower()
        if "0x0" in text or "zero" in text or "size" in text and "0" in text:
            raise EmptyImageError(detail=str(exc)) from exc
        raise _corrupt(exc) from exc
    except MemoryError as exc:  # a header that passed the checks still asked for too much
        raise ImageTooLargeError(detail="MemoryError while decoding") from exc
    except Exception as exc:  # PIL's decoders fail in many ways on crafted files: all the file's fault
        raise _corrupt(exc) from exc
    if not pages:
        raise NoPagesError()
    return pages


def _check_total(img: Image.Image, frames: int, max_pixels: int, max_total_pixels: int) -> None:
    """Every frame's header size, and their sum, before the first is decoded."""
    total = 0
    for i in range(frames):
        img.seek(i)  # header of frame i only
        _check_size(img.width, img.height, max_pixels)
        total += img.width * img.height
    if total > max_total_pixels:
        raise ImageTooLargeError(
            f"Die {frames} Seiten der Bilddatei sind zusammen mit {total // 1_000_000} Megapixeln zu groß, "
            "um sicher verarbeitet zu werden. Bitte scannen Sie das Dokument mit 300 dpi erneut "
            "oder teilen Sie es auf.",
            detail=f"{total} pixels in {frames} frames > {max_total_pixels}",
        )
    img.seek(0)


def _corrupt(exc: BaseException) -> CorruptFileError:
    return CorruptFileError(
        "Die Bilddatei ist beschädigt oder unvollständig und kann nicht gelesen werden.",
        detail=f"{type(exc).__name__}: {exc}",
    )
