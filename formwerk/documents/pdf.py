"""Reading PDFs: open safely, text-layer words, AcroForm values, rendering.

Real-world PDFs are broken in many ways (see notes/pdf-facts.md): every reader
call that can fail on malformed structure is guarded, and failures of optional
parts (form fields, text layer) degrade to "not present" rather than crashing.
Boxes are converted from PDF points (bottom-left origin for pypdf, top-left for
pdfplumber) to pixels at ``dpi`` with a top-left origin.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from PIL import Image

from formwerk.errors import CorruptFileError, EncryptedPdfError, NoPagesError, TooManyPagesError
from formwerk.models import AcroFormValue, Word

log = logging.getLogger(__name__)

# A page whose text layer has fewer characters than this is treated as a scan.
MIN_TEXT_LAYER_CHARS = 20

# PDFium is not thread-safe, not even across different documents (pypdfium2,
# "Incompatibility with Threading"), and the worker runs activities in a thread
# pool: two cases reading PDFs at once crashed the process (a general
# protection fault in libc). Every pdfium call, from open to close, holds this.
PDFIUM_LOCK = threading.Lock()


@dataclass
class PdfPageInfo:
    index: int  # 0-based
    width_px: int
    height_px: int
    words: list[Word] = field(default_factory=list)

    @property
    def has_text_layer(self) -> bool:
        return sum(len(w.text) for w in self.words) >= MIN_TEXT_LAYER_CHARS


@dataclass
class PdfInfo:
    pages: list[PdfPageInfo]
    acroform: list[AcroFormValue]

    @property
    def has_filled_form(self) -> bool:
        return any(v.value and v.value != "Off" for v in self.acroform)


def _check_complete(data: bytes) -> None:
    # A PDF always ends with %%EOF (possibly followed by whitespace or junk).
    # Without it the file was cut off in transfer; pdfium might still "repair"
    # it and silently drop the applicant's last pages, so we refuse it.
    if b"%%EOF" not in data[-2048:]:
        raise CorruptFileError(
            "Die PDF-Datei ist unvollständig (abgeschnitten) und kann nicht sicher "
            "gelesen werden. Bitte fordern Sie die Datei erneut an.",
            detail="no %%EOF marker at end of file",
        )


def open_pdf(data: bytes) -> pdfium.PdfDocument:
    """Open with pdfium, mapping failures to clear bad-input errors."""
    _check_complete(data)
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        if "password" in msg or "security" in msg:
            raise EncryptedPdfError(detail=str(exc)) from exc
        raise CorruptFileError(detail=str(exc)) from exc


def _check_encryption(data: bytes) -> None:
    """Reject PDFs that need a user password (owner-only protection is fine)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedPdfError(detail="pypdf: user password required")
    except EncryptedPdfError:
        raise
    except Exception as exc:  # pdfium is the authority on corruption; this is a pre-check
        log.debug("pypdf pre-check failed: %s", exc)


def read_pdf(data: bytes, dpi: int, max_pages: int) -> PdfInfo:
    _check_encryption(data)
    with PDFIUM_LOCK:
        pages = _page_sizes(data, dpi, max_pages)
    scale = dpi / 72.0
    _read_text_layer(data, pages, scale)
    acro = read_acroform(data, scale)
    return PdfInfo(pages=pages, acroform=acro)


def _page_sizes(data: bytes, dpi: int, max_pages: int) -> list[PdfPageInfo]:
    doc = open_pdf(data)
    try:
        n = len(doc)
        if n == 0:
            raise NoPagesError()
        if n > max_pages:
            raise TooManyPagesError(
                f"Das Dokument hat {n} Seiten; erlaubt sind höchstens {max_pages}. "
                "Bitte teilen Sie es in einzelne Anträge auf.",
            )
        scale = dpi / 72.0
        pages = []
        for i in range(n):
            w_pt, h_pt = doc[i].get_size()
            pages.append(PdfPageInfo(i, round(w_pt * scale), round(h_pt * scale)))
        return pages
    finally:
        doc.close()


def _read_text_layer(data: bytes, pages: list[PdfPageInfo], scale: float) -> None:
    import pdfplumber

    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for info, page in zip(pages, pdf.pages):
                try:
                    words = page.extract_words(keep_blank_chars=False, use_text_flow=False)
                except Exception as exc:  # one broken content stream: that page is a scan
                    log.warning("text layer of page %d unreadable: %s", info.index + 1, exc)
                    continue
                info.words = [
                    Word(
                        text=w["text"],
                        bbox=[w["x0"] * scale, w["top"] * scale, w["x1"] * scale, w["bottom"] * scale],
                        confidence=1.0,
                        page=info.index + 1,
                    )
                    for w in words
                    if w["text"].strip()
                ]
    except Exception as exc:
        log.warning("text layer unreadable, treating all pages as scans: %s", exc)


def qualified_name(obj) -> str:
    """Fully qualified AcroForm field name of a widget (``parent.child``), as get_fields() keys."""
    parts = []
    seen = 0
    while obj is not None and seen < 32:
        t = obj.get("/T")
        if t is not None:
            parts.append(str(t))
        parent = obj.get("/Parent")
        obj = parent.get_object() if parent is not None else None
        seen += 1
    return ".".join(reversed(parts))


def _inherited(obj, key):
    seen = 0
    while obj is not None and seen < 32:
        if key in obj:
            return obj[key]
        parent = obj.get("/Parent")
        obj = parent.get_object() if parent is not None else None
        seen += 1
    return None


def read_acroform(data: bytes, scale: float) -> list[AcroFormValue]:
    """One entry per widget: text fields carry /V, buttons their /AS state.

    Any failure here means "no usable form fields" (never a crash): real forms
    carry malformed names and broken field trees.
    """
    from pypdf import PdfReader

    out: list[AcroFormValue] = []
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        if "/AcroForm" not in reader.trailer["/Root"]:
            return []
        for pno, page in enumerate(reader.pages, start=1):
            box = page.mediabox
            page_top = float(box.top)
            left = float(box.left)
            for annot_ref in page.get("/Annots") or []:
                try:
                    annot = annot_ref.get_object()
                    if annot.get("/Subtype") != "/Widget":
                        continue
                    name = qualified_name(annot)
                    ft = str(_inherited(annot, "/FT") or "")
                    rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
                    x0, x1 = sorted((rect[0], rect[2]))
                    y0, y1 = sorted((rect[1], rect[3]))
                    bbox = [(x0 - left) * scale, (page_top - y1) * scale,
                            (x1 - left) * scale, (page_top - y0) * scale]
                    if ft == "/Btn":
                        state = str(annot.get("/AS") or "/Off").lstrip("/")
                        value, kind = state, "checkbox"
                    else:
                        v = _inherited(annot, "/V")
                        value = "" if v is None else str(v)
                        kind = "choice" if ft == "/Ch" else "text"
                    out.append(AcroFormValue(name=name, value=value, page=pno, bbox=bbox, kind=kind))
                except Exception as exc:  # one bad widget must not hide the others
                    log.debug("skipping malformed widget: %s", exc)
    except Exception as exc:
        log.warning("AcroForm unreadable, treating as no form fields: %s", exc)
        return []
    return out


def render_pdf_page(data: bytes, index: int, dpi: int, draw_forms: bool = True) -> Image.Image:
    """Render one page to RGB pixels; filled form values are drawn too.

    pdfplumber's own renderer leaves filled AcroForms blank (silent data loss),
    so we use pdfium with form support switched on.
    """
    with PDFIUM_LOCK:
        doc = open_pdf(data)
        try:
            if draw_forms:
                try:
                    doc.init_forms()
                except Exception as exc:
                    log.debug("init_forms failed: %s", exc)
            page = doc[index]
            bitmap = page.render(scale=dpi / 72.0, may_draw_forms=draw_forms)
            # a copy that owns its pixels; the bitmap and page are freed here,
            # under the lock, not later by the garbage collector in any thread
            image = bitmap.to_pil().convert("RGB")
            bitmap.close()
            page.close()
            return image
        except pdfium.PdfiumError as exc:
            raise CorruptFileError(detail=f"page {index + 1}: {exc}") from exc
        finally:
            doc.close()
