"""The visible-character count of a text layer: white space as str.isspace has it."""

from __future__ import annotations

import io
import sys


def test_split_drops_exactly_the_characters_isspace_calls_white():
    # formwerk.documents.pdftext.visible_chars counts by str.split; it counted by str.isspace before
    assert not [c for c in map(chr, range(sys.maxunicode + 1)) if (len(("a" + c + "a").split()) == 2) != c.isspace()]


def test_visible_chars_of_a_page():
    import pypdfium2 as pdfium

    from formwerk.documents.pdf import PDFIUM_LOCK
    from formwerk.documents.pdftext import visible_chars
    from tests.badfiles import simple_pdf

    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(simple_pdf("Gewerbe-Anmeldung nach § 14 GewO"))
        try:
            page = doc[0]
            try:
                textpage = page.get_textpage()
                by_character = sum(1 for ch in textpage.get_text_range() if not ch.isspace())
                textpage.close()
                assert visible_chars(page) == by_character > 20
            finally:
                page.close()
        finally:
            doc.close()


def test_text_layer_read_only_on_the_pages_asked_for():
    from pypdf import PdfReader, PdfWriter

    from formwerk.documents.pdf import read_pdf
    from tests.badfiles import simple_pdf

    writer = PdfWriter()
    for _ in range(3):
        writer.add_page(PdfReader(io.BytesIO(simple_pdf())).pages[0])
    buf = io.BytesIO()
    writer.write(buf)
    every = read_pdf(buf.getvalue(), 300, 10)
    some = read_pdf(buf.getvalue(), 300, 10, text_pages={2})
    assert [p.has_text_layer for p in every.pages] == [True, True, True]
    assert [p.has_text_layer for p in some.pages] == [False, True, False]
    assert some.pages[1].words == every.pages[1].words and not some.pages[0].words
