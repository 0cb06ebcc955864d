"""OCR engines behind one small contract.

An engine turns an upright page image into words with boxes (pixels, top-left
origin) and confidences in [0, 1]. Engines know nothing of Temporal; the
activity layer builds one per worker and injects it.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator, Mapping, Protocol, Sequence

from PIL import Image

from formwerk.errors import OcrEngineError
from formwerk.models import Word

log = logging.getLogger(__name__)

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

    def __init__(self, languages: str = "deu+eng", psm: int = 3, timeout_s: float = 180) -> None:
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
        return words_from_rows(data, page)

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


def words_from_rows(data: Mapping[str, Sequence], page: int) -> list[Word]:
    """Words from Tesseract's TSV columns (``image_to_data``'s dict, or parsed TSV).

    Blocks and lines are numbered as Tesseract numbers them (block, paragraph,
    line), made unique across the page.
    """
    words: list[Word] = []
    for i, text in enumerate(data["text"]):
        text = str(text).strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        x, y, w, h = (int(data[k][i]) for k in ("left", "top", "width", "height"))
        block, par, line = (int(data[k][i]) for k in ("block_num", "par_num", "line_num"))
        words.append(
            Word(
                text=text,
                bbox=[float(x), float(y), float(x + w), float(y + h)],
                confidence=max(0.0, min(1.0, conf / 100.0)),
                page=page,
                block=block * 1000 + par,
                line=block * 100000 + par * 1000 + line,
            )
        )
    return words


_TSV_COLUMNS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num",
                "left", "top", "width", "height", "conf", "text")


def parse_tsv(tsv: str) -> dict[str, list[str]]:
    """Tesseract's TSV (no header row, as ``GetTSVText`` gives it) as columns."""
    data: dict[str, list[str]] = {k: [] for k in _TSV_COLUMNS}
    for row in tsv.splitlines():
        cells = row.split("\t")
        if len(cells) < len(_TSV_COLUMNS) - 1:
            continue
        cells += [""] * (len(_TSV_COLUMNS) - len(cells))  # rows without text end in a tab or nothing
        for k, v in zip(_TSV_COLUMNS, cells):
            data[k].append(v)
    return data


def raw_pixels(image: Image.Image) -> tuple[bytes, int]:
    """The image's pixels as Tesseract takes them from memory, and bytes per pixel.

    Grey and RGB go as they are; bilevel pages as grey 0/255, which Tesseract
    binarises to the same pixels; anything else (RGBA, palette) as RGB, as the
    CLI engine writes it.
    """
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return image.tobytes(), 1 if image.mode == "L" else 3


class InProcessTesseractEngine:
    """Tesseract loaded once per OCR slot thread (tesserocr), pages from memory.

    The CLI engine starts a process per page that loads the language model
    (about 0.2 s for ``deu+eng``) and reads a temporary file; here each
    thread keeps its own loaded API (an API is not thread-safe) and gets the
    page's raw pixels. Tesseract releases the GIL while it recognises, so one
    slot per core still uses every core.

    The pixels carry no resolution, as the CLI engine's PNM file does not:
    Tesseract estimates the scale the same way in both, and the words come
    from the same TSV rows (``GetTSVText``), so they mean the same. tesserocr
    bundles its own Tesseract (5.5) but reads the system's language models.

    Orientation (rare: only pages that read badly) stays with the CLI's OSD.
    """

    def __init__(self, languages: str = "deu+eng", psm: int = 3, timeout_s: float = 180,
                 tessdata: str | None = None) -> None:
        try:
            import tesserocr
        except Exception as exc:
            raise OcrEngineError(detail=f"tesserocr not available: {exc}") from exc
        from formwerk.tess_inproc import tessdata_dir

        self._tesserocr = tesserocr
        self.languages = languages
        self.psm = psm
        self.timeout_s = timeout_s
        self._tessdata = tessdata or tessdata_dir()
        self._local = threading.local()
        self._osd: TesseractEngine | None = None
        self._osd_lock = threading.Lock()
        # load once here so a missing model fails at worker start, not on the first page
        self._api().End()
        self._local.api = None
        version = tesserocr.tesseract_version().split()[1]
        self.name = f"tesseract-{version}-inproc-{languages}-psm{psm}"

    def _api(self):
        api = getattr(self._local, "api", None)
        if api is None:
            try:
                api = self._tesserocr.PyTessBaseAPI(path=self._tessdata, lang=self.languages, psm=self.psm)
            except Exception as exc:  # model missing or unreadable
                raise OcrEngineError(detail=f"tesserocr cannot load {self.languages!r}: {exc}") from exc
            self._local.api = api
        return api

    def recognise(self, image: Image.Image, page: int) -> list[Word]:
        api = self._api()
        pixels, bpp = raw_pixels(image)
        try:
            api.SetImageBytes(pixels, image.width, image.height, bpp, image.width * bpp)
            # bounded like the CLI's timeout: a pathological page must not hold the slot
            # (milliseconds, at least 1: tesserocr reads 0 as "no limit")
            if not api.Recognize(timeout=max(1, int(self.timeout_s * 1000))):
                raise OcrEngineError(detail=f"tesseract timeout after {self.timeout_s} s")
            tsv = api.GetTSVText(0)
        finally:
            api.Clear()  # drops the page's pixels and results, keeps the model
        return words_from_rows(parse_tsv(tsv), page)

    def detect_rotation(self, image: Image.Image) -> int:
        with self._osd_lock:
            if self._osd is None:
                self._osd = TesseractEngine(languages=self.languages, psm=self.psm, timeout_s=self.timeout_s)
        return self._osd.detect_rotation(image)


def make_engine(kind: str, languages: str, psm: int = 3, timeout_s: float = 180) -> OcrEngine:
    """The page OCR engine by name: ``tesserocr`` (in process) or ``cli``.

    Without tesserocr (no wheel for the platform, model not loadable) the
    worker still reads pages, through the CLI, and says so once.
    """
    if kind not in ("tesserocr", "cli"):
        raise ValueError(f"unknown OCR engine {kind!r} (tesserocr, cli)")
    if kind == "tesserocr":
        try:
            return InProcessTesseractEngine(languages=languages, psm=psm, timeout_s=timeout_s)
        except OcrEngineError as exc:
            log.warning("in-process Tesseract unavailable (%s); pages go to the tesseract CLI", exc.detail)
    return TesseractEngine(languages=languages, psm=psm, timeout_s=timeout_s)
