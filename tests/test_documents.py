"""Page layer: type sniffing, bad input, text layers, rendering, upright pages."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from formwerk.documents.images import load_image_pages
from formwerk.documents.pdf import read_pdf, render_pdf_page
from formwerk.documents.sniff import FileKind, sniff
from formwerk.documents.upright import deskew, estimate_skew
from formwerk.errors import BadInputError, TooManyPagesError
from tests import badfiles


def _load(data: bytes):
    kind = sniff(data)
    if kind == FileKind.PDF:
        return read_pdf(data, 300, 50)
    return load_image_pages(data, kind, 200_000_000, 50)


@pytest.mark.parametrize("name", sorted(badfiles.BAD_INPUTS))
def test_bad_input_is_rejected_with_code_and_german_reason(name):
    make, code = badfiles.BAD_INPUTS[name]
    with pytest.raises(BadInputError) as info:
        _load(make())
    assert info.value.code == code
    assert not info.value.retryable
    # a sentence a clerk can read: German, ends with a full stop
    assert info.value.message.endswith(".") and len(info.value.message) > 20


def test_sniff_ignores_file_name_and_finds_real_type():
    assert sniff(badfiles.simple_pdf()) == FileKind.PDF
    assert sniff(badfiles.text_image(["Hallo"])) == FileKind.PNG
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), "white").save(buf, format="JPEG")
    assert sniff(buf.getvalue()) == FileKind.JPEG
    buf = io.BytesIO()
    Image.new("L", (10, 10), 255).save(buf, format="TIFF")
    assert sniff(buf.getvalue()) == FileKind.TIFF


def test_text_layer_words_are_in_page_pixels():
    info = read_pdf(badfiles.simple_pdf(), 300, 50)
    page = info.pages[0]
    assert page.has_text_layer
    assert (page.width_px, page.height_px) == (2480, 3508)  # A4 at 300 dpi
    first = page.words[0]
    assert first.text == "Gewerbe-Anmeldung"
    # drawn at x=72 pt, baseline 800 pt from the bottom in 14 pt type:
    # 300 px from the left, top ≈ (842 - 800 - 11) pt ≈ 130 px from the top
    assert abs(first.bbox[0] - 300) < 3
    assert 120 < first.bbox[1] < 140


def test_render_pdf_page_has_ink():
    img = render_pdf_page(badfiles.simple_pdf(), 0, 100)
    assert abs(img.width - 827) <= 1 and abs(img.height - 1169) <= 1  # A4 at 100 dpi
    assert min(img.convert("L").getdata()) < 50


def test_multipage_tiff_gives_every_page_with_its_dpi():
    frames = [Image.new("L", (850, 1100), 255) for _ in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    pages = load_image_pages(buf.getvalue(), FileKind.TIFF, 200_000_000, 50)
    assert len(pages) == 3 and all(dpi == 200 for _, dpi in pages)


def test_too_many_pages_is_rejected():
    frames = [Image.new("L", (20, 20), 255) for _ in range(4)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    with pytest.raises(TooManyPagesError):
        load_image_pages(buf.getvalue(), FileKind.TIFF, 200_000_000, 3)


def test_deskew_levels_a_tilted_page():
    img = Image.open(io.BytesIO(badfiles.text_image(["Gewerbe-Anmeldung Name Vorname"] * 12)))
    tilted = img.convert("RGB").rotate(2.5, fillcolor=(255, 255, 255))
    assert abs(estimate_skew(tilted) + 2.5) < 0.5
    fixed, angle = deskew(tilted)
    assert abs(angle + 2.5) < 0.5
    assert abs(estimate_skew(fixed)) < 0.5


def test_ocr_reads_every_image_mode_through_a_raw_pixel_file():
    """The engine hands Tesseract raw pixels (no PNG encoding); each mode reads the same."""
    import os

    from formwerk.ocr import TesseractEngine, image_file
    from tests import badfiles

    page = Image.open(io.BytesIO(badfiles.text_image(["Gewerbe-Anmeldung", "Familienname Müller"])))
    engine = TesseractEngine(languages="deu")
    texts = {}
    for mode in ("L", "RGB", "RGBA", "1"):
        words = engine.recognise(page.convert(mode), 1)
        texts[mode] = " ".join(w.text for w in words)
    assert "Gewerbe-Anmeldung" in texts["L"] and "Müller" in texts["L"]
    assert texts["RGB"] == texts["L"] and texts["RGBA"] == texts["L"]
    assert "Müller" in texts["1"]
    with image_file(page) as path:
        assert Image.open(path).size == page.size
    assert not os.path.exists(path)  # the temporary file is removed


def test_pdfium_is_used_by_one_thread_at_a_time():
    """PDFium is not thread-safe; the worker runs activities in a thread pool."""
    import threading

    from formwerk.documents.pdf import PDFIUM_LOCK

    data = badfiles.simple_pdf()
    expected = render_pdf_page(data, 0, 100).tobytes()
    done = threading.Event()
    out: list[bytes] = []

    def render():
        out.append(render_pdf_page(data, 0, 100).tobytes())
        read_pdf(data, 100, 10)
        done.set()

    with PDFIUM_LOCK:  # another thread is inside pdfium
        t = threading.Thread(target=render)
        t.start()
        assert not done.wait(0.5)  # the render waits for it
    assert done.wait(30)
    t.join()
    # and many at once give the same pixels (without the lock this crashed the process)
    threads = [threading.Thread(target=lambda: out.append(render_pdf_page(data, 0, 100).tobytes()))
               for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(out) == 9 and set(out) == {expected}
