"""Tick styles as applicants draw them, for forms filled by other hands.

The project's own renderer draws one kind of tick per document (``_look``:
a neat cross, check, filled square or typed "X"; the real forms draw their
own ZapfDingbats cross). Applicants tick differently: a thin ✘, a pen cross
with wobbly strokes of varying width, a check mark ✓ running out of the box,
a box filled in, a cross much bigger than its box, or no tick at all but the
option's label circled.

Everything here is drawn with reportlab paths from a seeded
``random.Random`` (no glyphs, no code shared with ``extractors.checkbox``),
so the same seed gives the same strokes. Coordinates are PDF points with a
bottom-left origin, boxes ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

import math
import random
from typing import Sequence

#: ``"form"`` keeps the form's own tick (its appearance stream or the renderer's)
TICK_STYLES = ("form", "thin_cross", "pen_cross", "check", "filled", "overlap", "circled")

Box = Sequence[float]


def _ink(c, rng: random.Random) -> None:
    # ball pens are blue or black, never quite saturated
    if rng.random() < 0.5:
        c.setStrokeColorRGB(0.05, 0.08, rng.uniform(0.35, 0.6))
        c.setFillColorRGB(0.05, 0.08, 0.45)
    else:
        g = rng.uniform(0.05, 0.2)
        c.setStrokeColorRGB(g, g, g)
        c.setFillColorRGB(g, g, g)
    c.setLineCap(1)
    c.setLineJoin(1)


def _stroke(c, pts: list[tuple[float, float]], width: float) -> None:
    p = c.beginPath()
    p.moveTo(*pts[0])
    for q in pts[1:]:
        p.lineTo(*q)
    c.setLineWidth(width)
    c.drawPath(p, stroke=1, fill=0)


def _wobbly(rng: random.Random, a: tuple[float, float], b: tuple[float, float], wobble: float,
            n: int = 6) -> list[tuple[float, float]]:
    """Points from ``a`` to ``b`` with a hand's sideways wobble (a smooth bend plus jitter)."""
    (ax, ay), (bx, by) = a, b
    length = math.hypot(bx - ax, by - ay) or 1.0
    nx, ny = -(by - ay) / length, (bx - ax) / length
    bend = rng.uniform(-1, 1) * wobble
    pts = []
    for i in range(n + 1):
        t = i / n
        off = bend * math.sin(math.pi * t) + rng.gauss(0, wobble * 0.25)
        pts.append((ax + (bx - ax) * t + nx * off, ay + (by - ay) * t + ny * off))
    return pts


def _thin_cross(c, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    s = x1 - x0
    i = s * rng.uniform(0.1, 0.2)
    w = rng.uniform(0.35, 0.55)
    _stroke(c, [(x0 + i, y0 + i), (x1 - i, y1 - i)], w)
    _stroke(c, [(x0 + i, y1 - i), (x1 - i, y0 + i)], w)


def _pen_cross(c, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    s = x1 - x0
    for a, b in (((x0, y0), (x1, y1)), ((x0, y1), (x1, y0))):
        # strokes start short of or beyond the corner, never exactly on it
        a = (a[0] + rng.uniform(-0.1, 0.25) * s * (1 if a[0] == x0 else -1),
             a[1] + rng.uniform(-0.1, 0.25) * s * (1 if a[1] == y0 else -1))
        b = (b[0] + rng.uniform(-0.15, 0.2) * s * (1 if b[0] == x0 else -1),
             b[1] + rng.uniform(-0.15, 0.2) * s * (1 if b[1] == y0 else -1))
        pts = _wobbly(rng, a, b, s * 0.06)
        # pressure changes along the stroke: draw it in pieces of varying width
        base = rng.uniform(0.6, 1.5)
        for k in range(len(pts) - 1):
            _stroke(c, pts[k:k + 2], base * rng.uniform(0.7, 1.3))


def _check(c, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    s = x1 - x0
    start = (x0 + s * rng.uniform(0.05, 0.25), y0 + s * rng.uniform(0.4, 0.6))
    low = (x0 + s * rng.uniform(0.3, 0.45), y0 + s * rng.uniform(0.05, 0.2))
    # the long arm often leaves the box at the top right
    end = (x0 + s * rng.uniform(0.85, 1.35), y0 + s * rng.uniform(0.85, 1.4))
    w = rng.uniform(0.6, 1.4)
    _stroke(c, _wobbly(rng, start, low, s * 0.03, 3) + _wobbly(rng, low, end, s * 0.05, 5)[1:], w)


def _filled(c, box: Box, rng: random.Random) -> None:
    x0, y0, x1, y1 = box
    s = x1 - x0
    i = s * rng.uniform(0.08, 0.18)
    if rng.random() < 0.4:  # a felt pen: one dark square
        c.rect(x0 + i, y0 + i, s - 2 * i, s - 2 * i, stroke=0, fill=1)
        return
    # a ball pen: zig-zag scribble from top to bottom
    w = rng.uniform(0.8, 1.4)
    pts, y, left = [], y1 - i, True
    step = w * rng.uniform(0.8, 1.2)
    while y > y0 + i:
        pts.append(((x0 + i if left else x1 - i) + rng.gauss(0, s * 0.03), y))
        left, y = not left, y - step
    if len(pts) > 1:
        _stroke(c, pts, w)


def _overlap(c, box: Box, rng: random.Random) -> None:
    """A cross (or check) much bigger than the box, its centre off the box's centre."""
    x0, y0, x1, y1 = box
    s = x1 - x0
    cx, cy = (x0 + x1) / 2 + rng.uniform(-0.25, 0.25) * s, (y0 + y1) / 2 + rng.uniform(-0.25, 0.25) * s
    r = s * rng.uniform(0.75, 1.1)
    w = rng.uniform(0.7, 1.4)
    if rng.random() < 0.5:
        _stroke(c, _wobbly(rng, (cx - r, cy - r), (cx + r, cy + r), s * 0.05), w)
        _stroke(c, _wobbly(rng, (cx - r, cy + r), (cx + r, cy - r), s * 0.05), w)
    else:
        _stroke(c, [(cx - r * 0.8, cy), (cx - r * 0.25, cy - r * 0.8), (cx + r, cy + r * 1.1)], w)


def _circled(c, label: Box, rng: random.Random) -> None:
    """An ellipse drawn around the option's printed label (the box stays empty)."""
    x0, y0, x1, y1 = label
    h = y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = (x1 - x0) / 2 + h * rng.uniform(0.4, 0.9), h * rng.uniform(0.9, 1.4)
    start = rng.uniform(0, 2 * math.pi)
    turn = 2 * math.pi * rng.uniform(1.05, 1.2)  # the pen overshoots where it began
    pts = []
    for k in range(41):
        t = start + turn * k / 40
        grow = 1 + 0.06 * k / 40
        pts.append((cx + rx * grow * math.cos(t) + rng.gauss(0, h * 0.04),
                    cy + ry * grow * math.sin(t) + rng.gauss(0, h * 0.04)))
    _stroke(c, pts, rng.uniform(0.6, 1.2))


_DRAW = {"thin_cross": _thin_cross, "pen_cross": _pen_cross, "check": _check, "filled": _filled,
         "overlap": _overlap}


def draw_tick(c, style: str, box: Box, rng: random.Random, label: Box | None = None) -> None:
    """Draw one applicant's tick of ``style`` for the checkbox ``box`` on reportlab canvas ``c``.

    ``label`` (the option's printed label) is needed for ``"circled"``; without
    it the style falls back to a pen cross. ``"form"`` draws nothing.
    """
    if style == "form":
        return
    if style not in TICK_STYLES:
        raise ValueError(f"unknown tick style {style!r}; known: {TICK_STYLES}")
    c.saveState()
    _ink(c, rng)
    if style == "circled":
        if label is not None:
            _circled(c, label, rng)
        else:
            _pen_cross(c, box, rng)
    else:
        _DRAW[style](c, box, rng)
    c.restoreState()


# --------------------------------------------------------------------------
# real AcroForms: the applicant's tick drawn over the page instead of the
# form's own appearance
# --------------------------------------------------------------------------


def widget_rects(reader, names: set[str] | dict[str, str]) -> dict[str, tuple[int, list[float]]]:
    """Page index and ``/Rect`` of the widgets named ``names`` (fully qualified).

    With a mapping name -> on-state, a radio group's kid is the one that has
    that state (all kids share the group's name)."""
    from formwerk.documents.pdf import qualified_name

    out: dict[str, tuple[int, list[float]]] = {}
    for i, page in enumerate(reader.pages):
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            name = qualified_name(a)
            state = names.get(name) if isinstance(names, dict) else None
            if state is not None and state not in (a.get("/AP") or {}).get("/N", {}):
                continue
            if name in names and "/Rect" in a and name not in out:
                x0, y0, x1, y1 = (float(v) for v in a["/Rect"])
                out[name] = (i, [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)])
    return out


def label_beside(pdf_bytes: bytes, page: int, box: Box, others: Sequence[Box] = ()) -> list[float] | None:
    """The printed label right of ``box``: the words on its line up to the next box (PDF points).

    A word is on the box's line when its middle is within the box's height: a
    word of the line above that only reaches into the box's top ("Neuerrichtung
    / Übernahme" over the GewA 1's "Gesellschaftereintritt") is another label."""
    import io

    import pdfplumber

    x0, y0, x1, y1 = box
    with pdfplumber.open(io.BytesIO(pdf_bytes)) as pdf:
        p = pdf.pages[page]
        height = float(p.height)
        words = p.extract_words()
    stop = min([o[0] for o in others if o[0] > x1 and o[1] < y1 and o[3] > y0], default=1e9)
    picked = []
    for w in sorted(words, key=lambda w: w["x0"]):
        wy0, wy1 = height - w["bottom"], height - w["top"]
        if not y0 <= (wy0 + wy1) / 2 <= y1 or w["x0"] < x1 - 1 or w["x1"] > stop:
            continue
        if picked and w["x0"] - picked[-1][2] > 6:
            break
        if not picked and w["x0"] - x1 > 15:
            break
        picked.append((w["x0"], wy0, w["x1"], wy1))
    if not picked:
        return None
    return [picked[0][0], min(p[1] for p in picked), picked[-1][2], max(p[3] for p in picked)]


def overlay_ticks(pdf_bytes: bytes, ticked: dict[str, str], style: str, seed: int) -> bytes:
    """``pdf_bytes`` with a ``style`` tick drawn for each widget in ``ticked`` (name -> on-state).

    The widgets themselves should be left ``/Off`` by the caller; the ticks
    become page content, as a pen's ink is part of the paper.
    """
    import io

    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen import canvas as rl_canvas

    if style == "form" or not ticked:
        return pdf_bytes
    reader = PdfReader(io.BytesIO(pdf_bytes))
    rects = widget_rects(reader, dict(ticked))
    all_boxes = widget_rects(reader, _button_names(reader))
    rng = random.Random(f"ticks:{style}:{seed}")
    writer = PdfWriter(clone_from=reader)
    _flatten_buttons(writer)
    for i, page in enumerate(writer.pages):
        mine = [(n, r) for n, (pi, r) in sorted(rects.items()) if pi == i]
        if not mine:
            continue
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        buf = io.BytesIO()
        c = rl_canvas.Canvas(buf, pagesize=(w, h), invariant=1)
        for _, r in mine:
            label = None
            if style == "circled":
                others = [b for pi, b in all_boxes.values() if pi == i and b != r]
                label = label_beside(pdf_bytes, i, r, others)
            draw_tick(c, style, r, rng, label)
        c.showPage()
        c.save()
        page.merge_page(PdfReader(io.BytesIO(buf.getvalue())).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _button_names(reader) -> set[str]:
    fields = reader.get_fields() or {}
    return {k for k, f in fields.items() if f.get("/FT") == "/Btn"}


def _flatten_buttons(writer) -> None:
    """Draw every checkbox widget's current appearance into its page and drop the widget.

    A widget is painted over the page content (the GewA 1's boxes have an
    opaque grey background), so ink drawn as page content would vanish under
    it. Every box is flattened alike, ticked or not, so they all look the same.
    """
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    for page in writer.pages:
        annots = page.get("/Annots")
        if not annots:
            continue
        keep, ops, n = ArrayObject(), [], 0
        resources = page.setdefault(NameObject("/Resources"), DictionaryObject())
        resources = resources.get_object()
        xobjects = resources.setdefault(NameObject("/XObject"), DictionaryObject()).get_object()
        for ref in annots:
            a = ref.get_object()
            parent = a.get("/Parent")
            ft = a.get("/FT") or (parent.get_object().get("/FT") if parent is not None else None)
            state = a.get("/AS")
            normal = (a.get("/AP") or {}).get("/N")
            if ft != "/Btn" or state is None or normal is None or state not in normal:
                keep.append(ref)
                continue
            x0, y0 = (min(float(a["/Rect"][0]), float(a["/Rect"][2])), min(float(a["/Rect"][1]), float(a["/Rect"][3])))
            name = NameObject(f"/FwBox{n}")
            n += 1
            xobjects[name] = normal[state].indirect_reference or normal[state]
            ops.append(f"q 1 0 0 1 {x0:.3f} {y0:.3f} cm {name} Do Q")
        if not ops:
            continue
        stream = DecodedStreamObject()
        stream.set_data(("\n".join(ops) + "\n").encode())
        contents = page.get("/Contents")
        arr = ArrayObject()
        if contents is not None:
            c = contents.get_object()
            if isinstance(c, ArrayObject):
                arr.extend(c)
            else:
                arr.append(contents if hasattr(contents, "get_object") and contents is not c else c)
        arr.append(writer._add_object(stream))
        page[NameObject("/Contents")] = arr
        page[NameObject("/Annots")] = keep
