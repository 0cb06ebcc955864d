"""OCR engines behind one small contract.

An engine turns an upright page image into words with boxes (pixels, top-left
origin) and confidences in [0, 1]. Engines know nothing of Temporal; the
activity layer builds one per worker and injects it.
"""

from __future__ import annotations

import os
import re
import tempfile
from contextlib import contextmanager
from typing import Iterator, Protocol

from PIL import Image

from formwerk.errors import OcrEngineError
from formwerk.models import Word

# One OpenMP thread per Tesseract process: on a small machine the default
# threading oversubscribes the cores (13 s vs 2.9 s per 300 dpi page measured
# here); we parallelise over pages instead. Set before pytesseract spawns.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@contextmanager
def image_file(image: Image.Image) -> Iterator[str]:
    """The image as a temporary PNM file (raw pixels) for the ``tesseract`` process.

    Given a PIL image, pytesseract first writes it as PNG at the default
    compression level: measured here 2.2 s for one 300 dpi page, about as long
    as recognising it. Writing raw pixels takes 10 ms; Tesseract reads the
    same pixels, so the words are identical.
    """
    img = image if image.mode in ("1", "L", "RGB") else image.convert("RGB")
    fd, path = tempfile.mkstemp(prefix="formwerk-ocr-", suffix=".pnm")
    os.close(fd)
    try:
        img.save(path, format="PPM")
        yield path
    finally:
        os.unlink(path)


class OcrEngine(Protocol):
    name: str

    def recognise(self, image: Image.Image, page: int) -> list[Word]: ...

    def detect_rotation(self, image: Image.Image) -> int:
        """Degrees (0/90/180/270) to rotate the image clockwise to make it upright."""
        ...


class TesseractEngine:
    """Tesseract via pytesseract (words from ``image_to_data``)."""

    def __init__(self, languages: str = "deu+eng", psm: int = 3, timeout_s: int = 180) -> None:
        import pytesseract

        self._tess = pytesseract
        self.languages = languages
        self.psm = psm
        self.timeout_s = timeout_s
        try:
            version = str(pytesseract.get_tesseract_version())
        except Exception as exc:  # not installed: the worker cannot do OCR at all
            raise OcrEngineError(detail=f"tesseract not available: {exc}") from exc
        self.name = f"tesseract-{version.split()[0]}-{languages}-psm{psm}"

    def recognise(self, image: Image.Image, page: int) -> list[Word]:
        try:
            with image_file(image) as path:
                data = self._tess.image_to_data(
                    path,
                    lang=self.languages,
                    config=f"--psm {self.psm}",
                    output_type=self._tess.Output.DICT,
                    timeout=self.timeout_s,
                )
        except RuntimeError as exc:  # pytesseract's timeout
            raise OcrEngineError(detail=f"tesseract timeout: {exc}") from exc
        except self._tess.TesseractError as exc:
            raise OcrEngineError(detail=str(exc)) from exc
        words: list[Word] = []
        for i, text in enumerate(data["text"]):
            text = text.strip()
            conf = float(data["conf"][i])
            if not text or conf < 0:
                continue
            x, y, w, h = data["left"][i], data["top"][i], data["width"][i], data["height"][i]
            words.append(
                Word(
                    text=text,
                    bbox=[float(x), float(y), float(x + w), float(y + h)],
                    confidence=max(0.0, min(1.0, conf / 100.0)),
                    page=page,
                    block=int(data["block_num"][i]) * 1000 + int(data["par_num"][i]),
                    line=int(data["block_num"][i]) * 100000
                    + int(data["par_num"][i]) * 1000
                    + int(data["line_num"][i]),
                )
            )
        return words

    def detect_rotation(self, image: Image.Image) -> int:
        # OSD on a half-size page first (4x faster); when it is unsure, ask
        # again at full resolution: on noisy scans the small copy was seen to
        # give confidence 0.9 where the full page gave 13 for the same answer.
        gray = image.convert("L")
        if gray.width > 1300:
            found = self._osd(gray.resize((gray.width // 2, gray.height // 2)))
            if found is not None:
                return found
        return self._osd(gray) or 0

    def _osd(self, image: Image.Image) -> int | None:
        """Rotation when OSD is confident, else None (blank or text-poor page)."""
        try:
            with image_file(image) as path:
                osd = self._tess.image_to_osd(path, config="--psm 0", timeout=60)
        except Exception:
            return None
        rotate = re.search(r"Rotate:\s*(\d+)", osd)
        conf = re.search(r"Orientation confidence:\s*([\d.]+)", osd)
        if not rotate or not conf or float(conf.group(1)) < 1.5:
            return None
        return int(rotate.group(1)) % 360
