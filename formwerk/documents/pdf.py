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
import math
import re
import threading
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from formwerk.documents.limits import (  # noqa: F401 - check_page_pixels is public here too
    DEFAULT_MAX_PAGE_PIXELS,
    DEFAULT_MAX_READ_SECONDS,
    DEFAULT_MAX_STREAM_BYTES,
    DEFAULT_MIN_RENDER_DPI,
    Deadline,
    check_page_pixels,
)
from formwerk.documents.pdfscan import (  # noqa: F401 - public here too
    ACTIVE_CONTENT_NOTES,
    active_content_notes,
    find_active_content,
    scan_pdf,
)
from formwerk.errors import (
    BadInputError,
    CorruptFileError,
    DocumentTooComplexError,
    EncryptedPdfError,
    NoPagesError,
    TooManyPagesError,
    UnreadablePdfError,
)
from formwerk.models import AcroFormValue, Word

log = logging.getLogger(__name__)

# A page whose text layer has fewer characters than this is treated as a scan.
MIN_TEXT_LAYER_CHARS = 20

# Above this a page is rendered in grey: one byte per pixel instead of about
# seven at the peak of an RGB render (measured: 200 MP took 2.1 GB and 8 s in
# RGB, 0.4 GB and 0.3 s in grey); a page that large is read, not admired.
COLOUR_MAX_PIXELS = 40_000_000
_OBJECT_HEADER = re.compile(rb"\d+\s+\d+\s+obj\b")

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
    # what the page is measured (and will be rendered) at: the dpi asked for,
    # or less for a page too large for the pixel limit (see check_page_pixels)
    dpi: int = 300
    # the text layer's visible characters; None: counted from ``words``. Set when the
    # words were not read (``words_deferred``)
    text_chars: int | None = None

    @property
    def words_deferred(self) -> bool:
        return self.text_chars is not None

    @property
    def has_text_layer(self) -> bool:
        chars = self.text_chars if self.text_chars is not None else sum(len(w.text) for w in self.words)
        return chars >= MIN_TEXT_LAYER_CHARS


@dataclass
class PdfInfo:
    pages: list[PdfPageInfo]
    acroform: list[AcroFormValue]
    # kinds of active content found (keys of ACTIVE_CONTENT_NOTES); never run,
    # but reported on the case: the clerk should know what the file carried
    active_content: list[str] = field(default_factory=list)

    @property
    def has_filled_form(self) -> bool:
        return any(v.value and v.value != "Off" for v in self.acroform)

    @property
    def notes(self) -> list[str]:
        """Sentences for the case about the file's active content (empty for a plain PDF)."""
        return active_content_notes(self.active_content)


def _check_structure(data: bytes) -> None:
    # Random bytes behind a "%PDF-" header are no PDF at all, whether or not
    # they end in %%EOF: without a single "n g obj" there is nothing to read
    # (and nothing was cut off).
    if not _OBJECT_HEADER.search(data):
        raise UnreadablePdfError(detail="no indirect object in the file")


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
    _check_structure(data)
    _check_complete(data)
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        msg = str(exc).lower()
        if "password" in msg or "security" in msg:
            raise EncryptedPdfError(detail=str(exc)) from exc
        raise CorruptFileError(detail=str(exc)) from exc


def _check_encryption(data: bytes):
    """Reject PDFs that need a user password (owner-only protection is fine).

    Returns the opened (and decrypted) pypdf reader for the form-field read,
    which then parses the cross-reference table no second time; None when
    pypdf cannot open the file (pdfium is the authority on corruption)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedPdfError(detail="pypdf: user password required")
        return reader
    except EncryptedPdfError:
        raise
    except Exception as exc:  # pdfium is the authority on corruption; this is a pre-check
        log.debug("pypdf pre-check failed: %s", exc)
        return None


def read_pdf(data: bytes, dpi: int, max_pages: int, *, max_pixels: int = DEFAULT_MAX_PAGE_PIXELS,
             min_dpi: int = DEFAULT_MIN_RENDER_DPI,
             max_seconds: float | None = DEFAULT_MAX_READ_SECONDS,
             max_stream_bytes: int | None = DEFAULT_MAX_STREAM_BYTES,
             defer_words_of_filled_form: bool = False, text_pages: set[int] | None = None) -> PdfInfo:
    """Pages (sizes, text layer), form values and active content of a PDF, within bounds.

    ``text_pages``: the pages (1-based) whose text layer is read or counted (None: all); the
    others' is not looked at (their ``has_text_layer`` is False: a caller that asks for some
    pages only does nothing with the others).

    ``defer_words_of_filled_form``: a PDF whose form fields are filled is read from
    them; its pages' words (the printed form: most of the reading time) are then
    only counted, and read by ``text_layer_words`` if a step needs them.

    Rejects (BadInputError) files that are no PDF, damaged beyond repair,
    encrypted, with more than ``max_pages`` pages or a page too large for
    ``max_pixels`` even at ``min_dpi``, whose streams unpack to more than
    ``max_stream_bytes``, or that take longer than ``max_seconds`` to read.
    A broken cross-reference table is repaired.
    """
    deadline = Deadline(max_seconds)
    _check_structure(data)
    reader = _check_encryption(data)
    # before pdfium sees the file: it would unpack a content-stream bomb whole
    active = scan_pdf(data, deadline=deadline, max_stream_bytes=max_stream_bytes)
    # one pdfium document for the page sizes and the text layer, opened and closed under the lock
    # (it is only memory in between, while pypdf reads the form fields)
    with PDFIUM_LOCK:
        doc, pages, pdfium_active = _page_sizes(data, dpi, max_pages, max_pixels, min_dpi)
    try:
        deadline.check("page sizes")
        acro = read_acroform(data, dpi / 72.0, page_scales={p.index + 1: p.dpi / 72.0 for p in pages},
                             deadline=deadline, reader=reader)
        info = PdfInfo(pages=pages, acroform=acro, active_content=sorted(set(active) | set(pdfium_active)))
        with PDFIUM_LOCK:
            _read_text_layer(doc, [p for p in pages if text_pages is None or p.index + 1 in text_pages], deadline,
                             words=not (defer_words_of_filled_form and info.has_filled_form))
    finally:
        with PDFIUM_LOCK:
            doc.close()
    return info


def text_layer_words(data: bytes, pages: dict[int, int]) -> dict[int, list[Word]]:
    """The words of the text layer of ``pages`` (1-based page -> dpi) of a PDF read before."""
    from formwerk.documents.pdftext import page_words

    out: dict[int, list[Word]] = {}
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(data)
        try:
            for number, page_dpi in pages.items():
                page = doc[number - 1]
                try:
                    out[number] = page_words(page, number, page_dpi / 72.0)
                finally:
                    page.close()
        finally:
            doc.close()
    return out


def _page_sizes(data: bytes, dpi: int, max_pages: int, max_pixels: int,
                min_dpi: int) -> tuple[pdfium.PdfDocument, list[PdfPageInfo], list[str]]:
    """The document opened by pdfium (the caller closes it, under the lock), its pages' sizes and
    pdfium's view of its active content. Callers hold ``PDFIUM_LOCK``."""
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
        pages = []
        for i in range(n):
            w_pt, h_pt = doc.get_page_size(i)  # without loading the page
            at = check_page_pixels(w_pt, h_pt, dpi, max_pixels, min_dpi, page=i + 1)
            pages.append(PdfPageInfo(i, round(w_pt * at / 72), round(h_pt * at / 72), dpi=at))
        active = []
        # pdfium's own view (it repairs what pypdf may not parse): document
        # JavaScript in the name tree, attachments in /EmbeddedFiles
        if pdfium_c.FPDFDoc_GetJavaScriptActionCount(doc.raw) > 0:
            active.append("javascript")
        if doc.count_attachments() > 0:
            active.append("embedded_file")
        return doc, pages, active
    except BadInputError:
        doc.close()
        raise
    except Exception as exc:  # whatever else pdfium trips over is the file's fault
        doc.close()
        raise CorruptFileError(detail=f"{type(exc).__name__}: {exc}") from exc


def _read_text_layer(doc: pdfium.PdfDocument, pages: list[PdfPageInfo], deadline: Deadline | None = None,
                     words: bool = True) -> None:
    """Text-layer words of every page of ``doc``, by pdfium (``formwerk.documents.pdftext``); with
    ``words=False`` only their visible characters, counted in one call per page. Callers hold
    ``PDFIUM_LOCK``.

    pdfplumber found the same words ten times slower (0.46 s vs 0.06 s for the
    real GewA 1 form); its grouping and reading order are kept.
    """
    from formwerk.documents.pdftext import page_words, visible_chars

    try:
        for info in pages:
            if deadline is not None:
                deadline.check(f"text layer of page {info.index + 1}")
            page = doc[info.index]
            try:
                if words:
                    info.words = page_words(page, info.index + 1, info.dpi / 72.0)
                else:
                    info.text_chars = visible_chars(page)
            except Exception as exc:  # one broken content stream: that page is a scan
                log.warning("text layer of page %d unreadable: %s", info.index + 1, exc)
            finally:
                page.close()
    except DocumentTooComplexError:
        raise
    except Exception as exc:
        log.warning("text layer unreadable, treating all pages as scans: %s", exc)


def _get_object(ref):
    return ref.get_object()


def qualified_name(obj, get_object=_get_object) -> str:
    """Fully qualified AcroForm field name of a widget (``parent.child``), as get_fields() keys.

    ``get_object``: how a /Parent reference is read (``WidgetDicts.get_object`` in ``read_acroform``)."""
    parts = []
    seen = 0
    while obj is not None and seen < 32:
        t = obj.get("/T")
        if t is not None:
            parts.append(str(t))
        parent = obj.get("/Parent")
        obj = get_object(parent) if parent is not None else None
        seen += 1
    return ".".join(reversed(parts))


def _inherited(obj, key, get_object=_get_object):
    seen = 0
    while obj is not None and seen < 32:
        if key in obj:
            return obj[key]
        parent = obj.get("/Parent")
        obj = get_object(parent) if parent is not None else None
        seen += 1
    return None


def read_acroform(data: bytes, scale: float, *, page_scales: dict[int, float] | None = None,
                  deadline: Deadline | None = None, reader=None) -> list[AcroFormValue]:
    """One entry per widget: text fields carry /V, buttons their /AS state.

    Any failure here means "no usable form fields" (never a crash): real forms
    carry malformed names and broken field trees. ``page_scales`` (1-based
    page: pixels per point) overrides ``scale`` for pages measured at a lower dpi.
    ``reader``: the file already opened by pypdf (``read_pdf``'s encryption check).

    The widgets' dictionaries are read by ``formwerk.documents.widgets`` (the
    seven entries read here, from the file's bytes, as pypdf reads them); a
    file it does not read plainly is read by pypdf object by object, as before.
    """
    from pypdf import PdfReader

    from formwerk.documents.widgets import NotPlain, WidgetDicts

    try:
        if reader is None:  # ``reader``: the file opened (and decrypted) by pypdf before
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                reader.decrypt("")
        if "/AcroForm" not in reader.trailer["/Root"]:
            return []
        try:
            widgets = WidgetDicts(data, reader)

            def plain_object(ref):
                # whatever the fast reader trips over, pypdf reads the whole form instead: a
                # widget must never be lost to the shortcut (pypdf alone would skip it only if
                # it trips over it too)
                try:
                    return widgets.get_object(ref)
                except NotPlain:
                    raise
                except Exception as exc:
                    raise NotPlain(f"{type(exc).__name__} in the widget reader") from exc

            return _widget_values(reader, scale, page_scales, deadline, plain_object, widgets.annotations)
        except DocumentTooComplexError:
            raise
        except Exception as exc:  # NotPlain, or the shortcut's own failure
            log.debug("form fields read by pypdf: %s", type(exc).__name__)
        return _widget_values(reader, scale, page_scales, deadline, _get_object)
    except DocumentTooComplexError:
        raise
    except Exception as exc:
        log.warning("AcroForm unreadable, treating as no form fields: %s", exc)
        return []


def _widget_values(reader, scale: float, page_scales: dict[int, float] | None, deadline: Deadline | None,
                   get_object, annotations=None) -> list[AcroFormValue]:
    from formwerk.documents.widgets import NotPlain

    out: list[AcroFormValue] = []
    for pno, page in enumerate(reader.pages, start=1):
        if deadline is not None:
            deadline.check(f"form fields of page {pno}")
        page_scale = (page_scales or {}).get(pno, scale)
        box = page.mediabox
        page_top = float(box.top)
        left = float(box.left)
        annots = page.get("/Annots")
        if annotations is not None:
            annots = annotations(annots)
        for annot_ref in annots or []:
            try:
                annot = get_object(annot_ref)
                if annot.get("/Subtype") != "/Widget":
                    continue
                name = qualified_name(annot, get_object)
                ft = str(_inherited(annot, "/FT", get_object) or "")
                rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
                x0, x1 = sorted((rect[0], rect[2]))
                y0, y1 = sorted((rect[1], rect[3]))
                bbox = [(x0 - left) * page_scale, (page_top - y1) * page_scale,
                        (x1 - left) * page_scale, (page_top - y0) * page_scale]
                if ft == "/Btn":
                    state = str(annot.get("/AS") or "/Off").lstrip("/")
                    value, kind = state, "checkbox"
                else:
                    v = _inherited(annot, "/V", get_object)
                    value = "" if v is None else str(v)
                    kind = "choice" if ft == "/Ch" else "text"
                out.append(AcroFormValue(name=name, value=value, page=pno, bbox=bbox, kind=kind))
            except NotPlain:
                raise
            except Exception as exc:  # one bad widget must not hide the others
                log.debug("skipping malformed widget: %s", exc)
    return out


def render_pdf_page(data: bytes, index: int, dpi: int, draw_forms: bool = True, *,
                    max_pixels: int = DEFAULT_MAX_PAGE_PIXELS, min_dpi: int = DEFAULT_MIN_RENDER_DPI,
                    grayscale: bool | None = None) -> Image.Image:
    """Render one page (0-based ``index``); filled form values are drawn too.

    pdfplumber's own renderer leaves filled AcroForms blank (silent data loss),
    so we use pdfium with form support switched on. The page's size is checked
    before rendering (check_page_pixels): a page too large for ``max_pixels``
    at ``dpi`` is rendered at the lower dpi read_pdf measured it at (its
    ``image.info["dpi"]`` says which). RGB, except in grey when ``grayscale``
    or (when it is None) for pages above COLOUR_MAX_PIXELS.
    """
    with PDFIUM_LOCK:
        doc = open_pdf(data)
        try:
            if not 0 <= index < len(doc):
                raise NoPagesError(f"Das Dokument hat keine Seite {index + 1}.",
                                   detail=f"page {index + 1} of {len(doc)}")
            w_pt, h_pt = doc.get_page_size(index)
            at = check_page_pixels(w_pt, h_pt, dpi, max_pixels, min_dpi, page=index + 1)
            grey = grayscale if grayscale is not None else (
                math.ceil(w_pt * at / 72) * math.ceil(h_pt * at / 72) > COLOUR_MAX_PIXELS)
            if draw_forms:
                try:
                    doc.init_forms()
                except Exception as exc:
                    log.debug("init_forms failed: %s", exc)
            page = doc[index]
            bitmap = page.render(scale=at / 72.0, may_draw_forms=draw_forms, grayscale=grey)
            # a copy that owns its pixels; the bitmap and page are freed here,
            # under the lock, not later by the garbage collector in any thread
            image = bitmap.to_pil().convert("L" if grey else "RGB")
            bitmap.close()
            page.close()
            image.info["dpi"] = (at, at)
            return image
        except BadInputError:
            raise
        except Exception as exc:  # pdfium errors and whatever else a broken page causes
            raise CorruptFileError(detail=f"page {index + 1}: {type(exc).__name__}: {exc}") from exc
        finally:
            doc.close()
