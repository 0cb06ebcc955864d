"""Text-layer words by pdfium: the same words pdfplumber finds, in C instead of Python.

pdfplumber interprets every content stream in Python (about 0.4 s per page
of the real GewA 1 form, most of a digital document's processing time);
pdfium reads the same characters in a few milliseconds. Words are grouped the
way pdfplumber groups them (``extract_words`` defaults: a new word at a space,
a line change, or a horizontal gap of more than 3 pt), with character boxes as pdfminer draws them (from the font's descent up
by the font size), so ``top`` and ``bottom`` match pdfplumber's. Boxes are in pixels at ``scale`` (pixels per point), top-left
origin, relative to the page's crop box, as pdfplumber's are.

Callers hold ``formwerk.documents.pdf.PDFIUM_LOCK``.
"""

from __future__ import annotations

import ctypes

import pypdfium2 as pdfium
import pypdfium2.raw as raw

from formwerk.models import Word

X_TOLERANCE = 3.0  # pt, pdfplumber's default
Y_TOLERANCE = 3.0

_PER_CHAR = ("FPDFText_GetUnicode", "FPDFText_IsHyphen", "FPDFText_GetLooseCharBox", "FPDFText_GetFontSize")


def _gil_holding_functions():
    """The per-character getters, called without releasing the GIL (``ctypes.PyDLL``).

    pypdfium2 calls pdfium through ``ctypes.CDLL``, which releases the GIL on
    every call. A page has thousands of characters and four calls each of
    about a microsecond: alone that costs nothing, but on a busy worker each
    release hands the GIL to another thread and taking it back waits up to
    the switch interval (5 ms), all while this thread holds the pdfium lock
    that every other PDF reader waits for. Under 20 concurrent uploads a
    digital form's reading went from 70 ms to 0.9 s that way. Holding the GIL
    through these short getters keeps the page's read as short as it is alone.
    Falls back to pypdfium2's own functions if the library cannot be loaded so.
    """
    try:
        from pypdfium2_raw.bindings import _libs

        lib = ctypes.PyDLL(_libs["pdfium"]._name)
        out = []
        for name in _PER_CHAR:
            fn, ref = getattr(lib, name), getattr(raw, name)
            fn.argtypes, fn.restype = ref.argtypes, ref.restype
            out.append(fn)
        return tuple(out)
    except Exception:  # pragma: no cover - another pypdfium2 layout: the releasing calls still work
        return tuple(getattr(raw, name) for name in _PER_CHAR)


_get_unicode, _is_hyphen, _get_loose_char_box, _get_font_size = _gil_holding_functions()


def page_words(page: pdfium.PdfPage, page_number: int, scale: float) -> list[Word]:
    """The words of one page's text layer, in reading order of the content stream."""
    textpage = page.get_textpage()
    try:
        return _words(textpage.raw, page, page_number, scale)
    finally:
        textpage.close()


def visible_chars(page: pdfium.PdfPage) -> int:
    """Characters of the page's text layer other than white space (one call into pdfium).

    Counted by ``str.split`` (white space as ``str.isspace`` has it), in C: a generator over the
    characters took 0.34 ms of a real GewA 1 page's 3.3."""
    textpage = page.get_textpage()
    try:
        return len("".join(textpage.get_text_range().split()))
    finally:
        textpage.close()


def _words(tp, page: pdfium.PdfPage, page_number: int, scale: float) -> list[Word]:
    left_pt, _, _, top_pt = page.get_cropbox()
    n = raw.FPDFText_CountChars(tp)
    rect = raw.FS_RECTF()
    words: list[Word] = []
    chars: list[str] = []
    box: list[float] = []  # x0, top, x1, bottom in pt, top-left origin

    def flush() -> None:
        if chars:
            text = "".join(chars).strip()
            if text:
                words.append(Word(text=text, bbox=[v * scale for v in box], confidence=1.0, page=page_number))
        chars.clear()

    for i in range(n):
        code = _get_unicode(tp, i)
        if code == 2 or (code < 32 and _is_hyphen(tp, i) == 1):
            code = ord("-")  # a soft hyphen at a line end, as pdfplumber writes it
        ch = chr(code) if code >= 32 else ""
        if not ch or ch.isspace() or code in (0xFFFE, 0xFFFF):
            flush()
            continue
        if not _get_loose_char_box(tp, i, ctypes.byref(rect)):
            continue
        x0, x1 = rect.left - left_pt, rect.right - left_pt
        # pdfminer's character box: from the font's descent up by the font size
        size = _get_font_size(tp, i) or (rect.top - rect.bottom)
        top, bottom = top_pt - (rect.bottom + size), top_pt - rect.bottom
        if chars and (x0 - box[2] > X_TOLERANCE or x0 < box[0] - X_TOLERANCE
                      or abs(top - box[1]) > Y_TOLERANCE):
            flush()
        if not chars:
            box = [x0, top, x1, bottom]
        else:
            box = [min(box[0], x0), min(box[1], top), max(box[2], x1), max(box[3], bottom)]
        chars.append(ch)
    flush()
    return _reading_order(words, Y_TOLERANCE * scale)


def _reading_order(words: list[Word], tolerance_px: float) -> list[Word]:
    """Lines top to bottom (tops within the tolerance are one line), words left to right.

    pdfplumber orders words so (``use_text_flow=False``); a content stream
    may draw a form's labels in any order.
    """
    by_top = sorted(words, key=lambda w: w.bbox[1])
    lines: list[list[Word]] = []
    last_top = None
    for w in by_top:
        if last_top is None or w.bbox[1] - last_top > tolerance_px:
            lines.append([])
        lines[-1].append(w)
        last_top = w.bbox[1]
    return [w for line in lines for w in sorted(line, key=lambda w: w.bbox[0])]
