"""Helpers for the extraction tests (no tests here): PDF → words, pages → OCR words.

Text-layer words come from pdfplumber, converted from PDF points to pixels at
300 dpi (the shared geometric model); page images from pypdfium2 with form
drawing on. OCR uses pytesseract with ``OMP_THREAD_LIMIT=1``.
"""

from __future__ import annotations

import io
import os

from formwerk.models import DocumentContent, PageContent, Word

DPI = 300


def text_layer_content(pdf_bytes: bytes, dpi: int = DPI) -> DocumentContent:
    import pdfplumber

    k = dpi / 72
    pages = []
    with pdfplumber.open(io.BytesIO(pdf_bytes)) as pdf:
        for i, p in enumerate(pdf.pages, start=1):
            words = [Word(text=w["text"], bbox=[w["x0"] * k, w["top"] * k, w["x1"] * k, w["bottom"] * k],
                          confidence=1.0, page=i) for w in p.extract_words(keep_blank_chars=False)]
            pages.append(PageContent(page=i, width=int(p.width * k), height=int(p.height * k), dpi=dpi,
                                     source="text_layer", words=words))
    return DocumentContent(pages=pages)


def render_pages(pdf_bytes: bytes, dpi: int = DPI) -> dict:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf_bytes)
    doc.init_forms()
    return {i + 1: doc[i].render(scale=dpi / 72, may_draw_forms=True).to_pil().convert("RGB")
            for i in range(len(doc))}


def with_unsure_word(content: DocumentContent, text: str, confidence: float) -> DocumentContent:
    """``content`` as an OCR'd document whose page read gave ``text`` only ``confidence``
    (a value the extractor reads a second time)."""
    return DocumentContent(pages=[p.model_copy(update={"source": "ocr", "words": [
        w.model_copy(update={"confidence": confidence}) if w.text == text else w for w in p.words]})
        for p in content.pages], acroform=content.acroform)


def ocr_page(img, page: int, dpi: int = DPI) -> PageContent:
    import pytesseract

    os.environ["OMP_THREAD_LIMIT"] = "1"
    d = pytesseract.image_to_data(img, lang="deu+eng", output_type=pytesseract.Output.DICT)
    words = []
    for i, t in enumerate(d["text"]):
        if t.strip() and float(d["conf"][i]) >= 0:
            x, y, w, h = d["left"][i], d["top"][i], d["width"][i], d["height"][i]
            words.append(Word(text=t, bbox=[x, y, x + w, y + h], confidence=float(d["conf"][i]) / 100,
                              page=page, block=d["block_num"][i], line=d["line_num"][i]))
    return PageContent(page=page, width=img.width, height=img.height, dpi=dpi, source="ocr", words=words)


def score(extraction, truth: dict) -> tuple[int, int, list[str]]:
    """(correct, scored, wrong field names) with the benchmark's comparison."""
    from bench.metrics import has_truth, values_equal

    ok, n, wrong = 0, 0, []
    for k, v in truth.items():
        if not has_truth(v):
            continue
        n += 1
        got = extraction.fields[k].value if k in extraction.fields else None
        if values_equal(v, got):
            ok += 1
        else:
            wrong.append(k)
    return ok, n, wrong
