"""Applicants' tick styles in the generator (bench.synth.ticks) and the tick benchmark's pieces."""

from __future__ import annotations

import io
import random

import numpy as np
import pdfplumber
import pytest
from PIL import Image, ImageDraw
from reportlab.pdfgen import canvas as rl_canvas

from bench.synth import fill_real_form, render_document
from bench.synth.scan import rasterise
from bench.synth.ticks import TICK_STYLES, draw_tick

BOX = (100.0, 100.0, 111.0, 111.0)  # points, bottom-left origin (the GewA 1's 11 pt boxes)
LABEL = (114.0, 101.5, 160.0, 108.5)
DPI = 300


def _ink_of(style: str, seed: int = 1) -> tuple[float, float]:
    """(dark share inside the box, dark share around the label) of one drawn tick."""
    buf = io.BytesIO()
    c = rl_canvas.Canvas(buf, pagesize=(200, 200), invariant=1)
    draw_tick(c, style, BOX, random.Random(seed), LABEL)
    c.showPage()
    c.save()
    gray = np.asarray(rasterise(buf.getvalue(), DPI)[0].convert("L"))
    k = DPI / 72

    def share(b, grow=0.0):
        x0, y0, x1, y1 = b
        return float((gray[int((200 - y1 - grow) * k):int((200 - y0 + grow) * k),
                           int((x0 - grow) * k):int((x1 + grow) * k)] < 150).mean())

    ring = share(LABEL, 4.0) - share(LABEL)  # the band round the label, minus the label itself
    return share((BOX[0] + 2, BOX[1] + 2, BOX[2] - 2, BOX[3] - 2)), ring


@pytest.mark.parametrize("style", [s for s in TICK_STYLES if s not in ("form", "circled")])
def test_every_style_puts_ink_in_its_box(style):
    inside, _ = _ink_of(style)
    # a cross bigger than its box, centred off it, crosses the box with little ink
    assert inside > (0.005 if style == "overlap" else 0.03)


def test_a_circled_label_rings_the_label_not_the_box():
    inside, ring = _ink_of("circled")
    # a loose ellipse may graze the box beside the label, it never fills it
    assert ring > 0.02 and inside < _ink_of("pen_cross")[0]


def test_strokes_are_drawn_from_the_seed():
    assert _ink_of("pen_cross", 3) == _ink_of("pen_cross", 3)
    assert _ink_of("pen_cross", 3) != _ink_of("pen_cross", 4)


def test_a_tick_style_changes_only_the_ticks_of_a_generated_form():
    def words(doc):
        with pdfplumber.open(io.BytesIO(doc.pdf_bytes)) as pdf:
            # the seed's own look may tick with a typed "X" (text layer): leave ticks out
            return [(w["text"], round(w["x0"], 1), round(w["top"], 1))
                    for p in pdf.pages for w in p.extract_words() if w["text"] != "X"]

    plain = render_document("gewerbeanmeldung", 7)
    assert plain.pdf_bytes == render_document("gewerbeanmeldung", 7, tick_style=None).pdf_bytes
    styled = render_document("gewerbeanmeldung", 7, tick_style="pen_cross")
    assert styled.pdf_bytes != plain.pdf_bytes and styled.meta["tick_style"] == "pen_cross"
    assert words(styled) == words(plain) and styled.truth == plain.truth


def test_real_form_ticks_are_drawn_over_the_page_not_by_the_form():
    plain = fill_real_form("gewerbeanmeldung", 5)
    if plain is None:
        pytest.skip("../shared/data/forms not present")
    styled = fill_real_form("gewerbeanmeldung", 5, tick_style="check")
    assert styled.truth == plain.truth and styled.meta["ticked"] == plain.meta["ticked"]
    from pypdf import PdfReader

    # the ticked boxes are off in the AcroForm and every box is page content now
    annots = [a.get_object() for p in PdfReader(io.BytesIO(styled.pdf_bytes)).pages for a in p.get("/Annots") or []]
    assert not any(a.get("/FT") == "/Btn" for a in annots)


def test_the_benchmark_moves_boxes_with_the_scans_rotation():
    from bench.ticks import to_pixels

    img = Image.new("L", (1000, 1400), 255)
    box_pt = [80.0, 1300.0, 90.0, 1310.0]  # bottom-left origin, 1 px per point; near a corner
    x0, y0, x1, y1 = to_pixels(box_pt, 1.0, (1400, 1000), 0.0)
    ImageDraw.Draw(img).rectangle([x0, y0, x1, y1], fill=0)
    turned = np.asarray(img.rotate(1.5, resample=Image.BICUBIC, fillcolor=255))
    ys, xs = np.nonzero(turned < 128)
    bx0, by0, bx1, by1 = to_pixels(box_pt, 1.0, (1400, 1000), 1.5)
    assert abs(xs.mean() - (bx0 + bx1) / 2) < 1.0 and abs(ys.mean() - (by0 + by1) / 2) < 1.0
    assert abs(xs.mean() - (x0 + x1) / 2) > 5  # the rotation did move it


def test_new_detector_reads_real_form_groups_in_other_hands_styles():
    """One office scan per style: every group read right and accepted (a cut of python -m bench.ticks)."""
    from bench.ticks import run_doc
    from bench.synth.realforms import real_form_path

    if real_form_path("gewerbeanmeldung") is None:
        pytest.skip("../shared/data/forms not present")
    for style in ("thin_cross", "check", "filled"):
        rows = [r for r in run_doc(20000, style, "office_300", 0.94)
                if r["detector"] == "new" and r["reader"] == "edition"]
        assert len(rows) == 6
        assert all(r["right"] and r["accepted"] for r in rows), [r for r in rows if not r["accepted"]]


def test_the_reliability_table_keeps_clean_empties_apart():
    from bench.ticks import reliability, summarise

    rows = [dict(pred="a", truth="a", right=True, confidence=0.998, accepted=True),
            dict(pred="a", truth="b", right=False, confidence=0.62, accepted=False),
            dict(pred=None, truth="b", right=False, confidence=0.0, accepted=True),
            dict(pred=None, truth="b", right=False, confidence=0.3, accepted=False)]
    bins = {b["bin"]: b for b in reliability(rows)}
    assert bins["empty@0"]["n"] == 1 and bins["empty@0"]["share_right"] == 0.0
    assert bins["0.99-1.00"]["n"] == 1 and bins["0.99-1.00"]["share_right"] == 1.0
    assert bins["0.00-0.50"]["n"] == 1 and bins["0.50-0.80"]["n"] == 1
    assert summarise(rows) == dict(groups=4, right=1, accepted=2, accepted_right=1)
