"""The widget reader (formwerk.documents.widgets) reads what pypdf reads, or hands the file to pypdf."""

from __future__ import annotations

import io
import random

import pytest
from pypdf import PdfReader
from pypdf.generic._utils import read_string_from_stream

from formwerk.documents import pdf, widgets
from formwerk.documents.widgets import NotPlain, WidgetDicts
from tests.badfiles import _pdf_of_objects


def _reader(data: bytes) -> PdfReader:
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        reader.decrypt("")
    return reader


def both(data: bytes):
    """(pypdf's values, the widget reader's values or the NotPlain reason), each from a fresh reader."""
    slow = [v.model_dump() for v in pdf._widget_values(_reader(data), 300 / 72, None, None, pdf._get_object)]
    reader = _reader(data)
    try:
        widgets = WidgetDicts(data, reader)
        fast = [v.model_dump() for v in pdf._widget_values(reader, 300 / 72, None, None, widgets.get_object,
                                                           widgets.annotations)]
    except NotPlain as exc:
        return slow, f"not plain: {exc}"
    return slow, fast


def form_pdf(widget_bodies: list[bytes], parents: list[bytes] = ()) -> bytes:
    """A one-page PDF whose page carries the given widget dictionaries (objects 4…) and parents after them."""
    n = len(widget_bodies)
    annots = b" ".join(b"%d 0 R" % (4 + i) for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm 3 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>".replace(b"5 0 R", b"%d 0 R" % (4 + n + len(parents))),
        b"<< /Fields [] >>",
        *widget_bodies,
        *parents,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [%s] >>" % annots,
    ]
    return _pdf_of_objects(objects)


ODD_WIDGETS = [
    # plain
    b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (Name) /V (Schaefer) /Rect [10 20 110 40] >>",
    # escapes, octal, nested parentheses, line ends in strings
    b"<< /Subtype /Widget /FT /Tx /T (Vorname\\050n\\051) /V (M\\374ller \\(geb. (Meier)\\)\\\n x\\777) "
    b"/Rect [ 1.5 2.25 -3 .5 ] >>",
    # UTF-16 hex string, name with # escapes as state, button
    b"<< /Subtype /Widget /FT /Btn /T <FEFF004A0061> /AS /Erh#E9#B0#84ung /Rect [0 0 10 10] >>",
    b"<< /Subtype /Widget /FT /Btn /T (ja) /Rect [0 0 10 10] >>",  # no /AS: Off
    # an escaped key that means /V: pypdf's to read
    b"<< /Subtype /Widget /FT /Tx /T (x) /#56 (hidden) /Rect [0 0 1 1] >>",
    # repeated key
    b"<< /Subtype /Widget /FT /Tx /T (a) /T (b) /Rect [0 0 1 1] >>",
    # a comment inside
    b"<< /Subtype /Widget /FT /Tx % note\n /T (c) /Rect [0 0 1 1] >>",
    # deep and odd but valid values beside the wanted ones
    b"<< /Subtype /Widget /FT /Tx /T (d) /AP << /N << /Yes 9 0 R /Off 9 0 R >> /D << /A [1 [2 [3 <<>>]]] >> >> "
    b"/MK << /BG [0.9 0.9 0.9] /CA (\\)) >> /DA (/Helv 0 Tf) /Ff 4096 /F true /Q null /Rect [0 0 1 1] >>",
    # a value pypdf would refuse (a bare keyword), a number with a comma, a reference in /Rect
    b"<< /Subtype /Widget /FT /Tx /T (e) /X foo /Rect [0 0 1 1] >>",
    b"<< /Subtype /Widget /FT /Tx /T (f) /Rect [0 0 1,5 1] >>",
    b"<< /Subtype /Widget /FT /Tx /T (g) /Rect [0 0 9 0 R] >>",
    # /V as a name, an array (choice), a number; /T a number
    b"<< /Subtype /Widget /FT /Tx /T (h) /V /Name /Rect [0 0 1 1] >>",
    b"<< /Subtype /Widget /FT /Ch /T (i) /V [(a) (b)] /Rect [0 0 1 1] >>",
    b"<< /Subtype /Widget /FT /Tx /T 5 /V 7 /Rect [0 0 1 1] >>",
    # not a widget, no subtype, missing /Rect, short /Rect
    b"<< /Subtype /Link /Rect [0 0 1 1] >>",
    b"<< /FT /Tx /T (j) >>",
    b"<< /Subtype /Widget /FT /Tx /T (k) >>",
    b"<< /Subtype /Widget /FT /Tx /T (l) /Rect [0 0 1] >>",
    # a key without a value
    b"<< /Subtype /Widget /FT /Tx /T (m) /Rect [0 0 1 1] /Z >>",
    # white space pypdf reads differently in names and dictionaries (\v), and NUL
    b"<< /Subtype /Widget /FT /Tx /T (n)\x0b/Rect [0 0 1 1] >>",
    b"<< /Subtype /Widget\x00/FT /Tx /T (o) /Rect [0 0 1 1] >>",
]


@pytest.mark.parametrize("body", ODD_WIDGETS, ids=range(len(ODD_WIDGETS)))
def test_odd_widgets_read_as_pypdf_reads_them(body):
    slow, fast = both(form_pdf([body, ODD_WIDGETS[0]]))
    assert isinstance(fast, str) or fast == slow


def test_plain_widgets_are_read_without_pypdf():
    slow, fast = both(form_pdf(ODD_WIDGETS[:4] + [ODD_WIDGETS[7]]))
    assert fast == slow and len(fast) == 5
    assert [v["value"] for v in fast] == ["Schaefer", "Müller (geb. (Meier)) x\\777", "Erh鰄ung", "Off", ""]  # pypdf: UTF-8, else GBK


def test_parents_give_names_and_inherited_values():
    kids = [b"<< /Subtype /Widget /Parent 6 0 R /Rect [0 0 1 1] /AS /Off >>",
            b"<< /Subtype /Widget /Parent 6 0 R /Rect [2 2 3 3] >>"]
    parents = [b"<< /T (Kind) /FT /Tx /V (Lena) /Parent 7 0 R /Kids [4 0 R 5 0 R] >>", b"<< /T (Familie) >>"]
    slow, fast = both(form_pdf(kids, parents))
    assert fast == slow and {v["name"] for v in fast} == {"Familie.Kind"} and fast[0]["value"] == "Lena"


def test_string_escapes_decode_as_pypdf_decodes_them():
    rng = random.Random(16)
    alphabet = b"ab()\\\n\r0123789nrtbf/ %<>[]#_&$x\xe4\x00\xfe\xff"
    for _ in range(20_000):
        token = b"(" + bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) + b")"
        try:
            token = token[:widgets._literal_end(token, 0)]
        except NotPlain:
            continue
        inner = token[1:-1]
        mine = widgets.create_string_object(widgets._ESCAPE.sub(widgets._unescape, inner) if b"\\" in inner
                                            else inner)
        theirs = read_string_from_stream(io.BytesIO(token))
        assert type(mine) is type(theirs) and mine == theirs, token


def test_real_and_generated_forms_read_alike():
    synth = pytest.importorskip("bench.synth")
    read = 0
    for form in ("gewerbeanmeldung", "kindergeld_kg1", "meldebehoerde_anmeldung", "wohngeld_mietzuschuss"):
        for seed in range(3):
            doc = synth.fill_real_form(form, seed)
            if doc is None:
                pytest.skip("../shared/data not available")
            slow, fast = both(doc.pdf_bytes)
            assert fast == slow and len(fast) > 20, (form, seed)
            read += 1
        slow, fast = both(synth.render_document(form, 300).pdf_bytes)
        assert isinstance(fast, str) or fast == slow
    assert read == 12


def test_memo_gives_the_same_values_twice():
    data = form_pdf(ODD_WIDGETS[:4])
    first = both(data)
    assert both(data) == first and first[0] == first[1]


def _filled_incrementally(path, values: int = 15) -> bytes:
    """A blank real form (its widgets in object streams) with some text fields filled as an update."""
    from pypdf import PdfWriter

    blank = path.read_bytes()
    writer = PdfWriter(io.BytesIO(blank), incremental=True)
    names = [k for k, v in PdfReader(io.BytesIO(blank)).get_fields().items() if v.get("/FT") == "/Tx"][:values]
    for page in writer.pages:
        if "/Annots" in page:
            writer.update_page_form_field_values(page, {n: f"Wert {i} (Müller)" for i, n in enumerate(names)},
                                                 auto_regenerate=False)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_widgets_in_object_streams_read_alike():
    from pathlib import Path

    forms = Path(__file__).resolve().parents[2] / "shared" / "data" / "forms"
    blanks = sorted(forms.glob("*.pdf"))
    if not blanks:
        pytest.skip("../shared/data not available")
    for path in blanks:
        for data in (path.read_bytes(), _filled_incrementally(path)):
            for _ in range(2):  # and again from the memo
                slow, fast = both(data)
                assert fast == slow and len(fast) > 20, path.name
        assert sum(v["value"].startswith("Wert") for v in fast) > 0



def test_a_failure_of_the_shortcut_loses_no_widget(monkeypatch):
    data = form_pdf(ODD_WIDGETS[:4] + [ODD_WIDGETS[7]])
    expected = pdf.read_acroform(data, 300 / 72)
    assert len(expected) == 5

    def broken(self, ref):
        raise IndexError("a bug in the shortcut")

    monkeypatch.setattr(WidgetDicts, "get_object", broken)
    assert pdf.read_acroform(data, 300 / 72) == expected  # pypdf read them all
    monkeypatch.setattr(WidgetDicts, "annotations", broken)
    assert pdf.read_acroform(data, 300 / 72) == expected
