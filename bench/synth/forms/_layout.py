"""A tiny declarative form layout engine on reportlab (A4, points).

A form is a list of *items* (headings, static text, rows of cells, tables;
declared in ``_items``). ``render_form`` lays them out top-down in one of several *styles* and fills
the cells with values in a "filled-in" font. Output is a vector PDF with a real
text layer: labels in Helvetica, values in the fill font, so the text layer
contains both.

Conventions: reportlab points (1/72 inch), origin bottom-left internally; the
``Cell.key`` of a text cell looks up the *printed* string in ``values``; a
``Check`` looks up the selected option id (or a set of ids) in ``values``.
Randomness (offsets, fonts, tick style: ``_look``) comes only from the
``random.Random`` passed in, so output is deterministic per seed.
"""

from __future__ import annotations

import io
import random
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas as rl_canvas

from ._items import Cell, Check, FormSpec, Heading, Item, Note, Row, Table
from ._look import Look, pick_label
from ..ticks import TICK_STYLES, draw_tick

PAGE_W, PAGE_H = A4  # 595.27 x 841.89 pt
STYLES = ("boxed", "lined", "twocol")


# --------------------------------------------------------------------------
# rendering (items: ``_items``; the document's random look: ``_look``)
# --------------------------------------------------------------------------


class _Renderer:
    MARGIN = 36.0
    tick_rng: random.Random | None = None  # set for an applicant's tick style (render_form)

    def __init__(self, spec: FormSpec, values: dict[str, Any], rng: random.Random, look: Look):
        self.spec, self.values, self.rng, self.look = spec, values, rng, look
        self.buf = io.BytesIO()
        # invariant=1: no timestamps/random ids in the file -> same seed, same bytes
        self.c = rl_canvas.Canvas(self.buf, pagesize=A4, invariant=1)
        self.c.setTitle(spec.title)
        self.c.setAuthor("formwerk bench.synth")
        self.left = self.MARGIN + look.dx
        self.right = PAGE_W - self.MARGIN + look.dx
        self.page_no = 1
        self.y = 0.0

    # -- primitives ------------------------------------------------------
    def text(self, x: float, y: float, s: str, font: str = "Helvetica", size: float = 7.0):
        self.c.setFont(font, size)
        self.c.drawString(x, y, s)

    def fit(self, s: str, font: str, size: float, width: float) -> float:
        """Largest size <= ``size`` at which ``s`` fits ``width`` (min 5 pt)."""
        w = pdfmetrics.stringWidth(s, font, size)
        if w <= width or w == 0:
            return size
        return max(5.0, size * width / w)

    def fill_text(self, x: float, y: float, s: str, width: float):
        """Write a filled-in value: fill font, slight jitter like a hand/typewriter."""
        if not s:
            return
        size = self.fit(s, self.look.fill_font, self.look.fill_size, width - 4)
        jx, jy = self.rng.uniform(0, 6), self.rng.uniform(-1.0, 1.0)
        self.c.setFillColorRGB(0.05, 0.05, 0.25 if self.look.fill_font != "Courier" else 0.05)
        self.text(x + 2 + min(jx, max(0.0, width - 4 - pdfmetrics.stringWidth(
            s, self.look.fill_font, size))), y + jy, s, self.look.fill_font, size)
        self.c.setFillColorRGB(0, 0, 0)

    def checkbox(self, x: float, y: float, ticked: bool, size: float = 8.0,
                 label: tuple[float, float, float, float] | None = None):
        """Square with lower-left corner (x, y); tick drawn per ``look.tick``.

        An applicant's tick style (``bench.synth.ticks``, asked for by
        ``render_form(tick_style=...)``) is drawn by ``ticks.draw_tick`` from
        its own random stream; ``label`` is the option label's box (circled
        labels)."""
        c = self.c
        c.setLineWidth(0.6)
        c.rect(x, y, size, size, stroke=1, fill=0)
        if not ticked:
            return
        if self.tick_rng is not None:
            draw_tick(c, self.look.tick, (x, y, x + size, y + size), self.tick_rng, label)
            return
        c.setStrokeColorRGB(0.05, 0.05, 0.3)
        c.setLineWidth(1.3)
        t = self.look.tick
        if t == "cross":
            c.line(x + 1, y + 1, x + size - 1, y + size - 1)
            c.line(x + 1, y + size - 1, x + size - 1, y + 1)
        elif t == "check":
            p = c.beginPath()
            p.moveTo(x + 1, y + size * 0.5)
            p.lineTo(x + size * 0.4, y + 1)
            p.lineTo(x + size + 1.5, y + size + 2)
            c.drawPath(p, stroke=1, fill=0)
        elif t == "fill":
            c.setFillColorRGB(0.1, 0.1, 0.2)
            c.rect(x + 1, y + 1, size - 2, size - 2, stroke=0, fill=1)
            c.setFillColorRGB(0, 0, 0)
        else:  # a typed "X" (appears in the text layer too)
            c.setFillColorRGB(0.05, 0.05, 0.3)
            self.text(x + 1.2, y + 1.0, "X", "Helvetica-Bold", size * 0.95)
            c.setFillColorRGB(0, 0, 0)
        c.setStrokeColorRGB(0, 0, 0)
        c.setLineWidth(0.6)

    # -- page handling ---------------------------------------------------
    def new_page(self, first: bool):
        if not first:
            self.footer()
            self.c.showPage()
            self.page_no += 1
        self.y = PAGE_H - self.MARGIN + self.look.dy
        if first:
            self.header()
        else:
            cont = f"Fortsetzung - {self.spec.title}" + (f" {self.spec.code}" if self.spec.code else "")
            self.text(self.left, self.y - 10, cont, "Helvetica-Bold", 9)
            self.y -= 22

    def ensure(self, h: float):
        if self.y - h < self.MARGIN + 20:
            self.new_page(first=False)

    def header(self):
        s, c = self.spec, self.c
        top = self.y
        if s.authority_key is not None:
            c.setLineWidth(0.6)
            c.rect(self.left, top - 44, 230, 44)
            self.text(self.left + 3, top - 9, s.authority_label, size=6.5)
            self.fill_text(self.left + 2, top - 30, str(self.values.get(s.authority_key, "")), 226)
        tx = self.right - 250
        code_w = pdfmetrics.stringWidth(s.code, "Helvetica-Bold", 14) + 10 if s.code else 0
        size = self.fit(s.title, "Helvetica-Bold", 16, self.right - tx - code_w)
        self.text(tx, top - 16, s.title, "Helvetica-Bold", size)
        if s.code:
            self.text(self.right - code_w + 10, top - 16, s.code, "Helvetica-Bold", 14)
        if s.subtitle:
            self.text(tx, top - 30, s.subtitle, size=8)
        self.y = top - 56
        if s.instruction:
            self.text(self.left, self.y, s.instruction, size=7)
        self.y -= 8

    def footer(self):
        txt = self.spec.footer or (f"{self.spec.code} - " if self.spec.code else "")
        self.text(self.left, self.MARGIN - 10 + self.look.dy, f"{txt}Seite {self.page_no}", size=6.5)

    # -- items -----------------------------------------------------------
    def heading(self, h: Heading):
        self.ensure(30)
        self.y -= 4
        self.c.setFillColorRGB(0.85, 0.85, 0.85)
        self.c.rect(self.left, self.y - 12, self.right - self.left, 12, stroke=0, fill=1)
        self.c.setFillColorRGB(0, 0, 0)
        self.text(self.left + 3, self.y - 9, h.text, "Helvetica-Bold", 8.5)
        if h.right:
            mid = (self.left + self.right) / 2
            self.text(mid + 3, self.y - 9, h.right, "Helvetica-Bold", 8.5)
        self.y -= 14

    def note(self, n: Note):
        words, line, lines = n.text.split(), "", []
        width = self.right - self.left
        for w in words:
            cand = (line + " " + w).strip()
            if pdfmetrics.stringWidth(cand, "Helvetica", n.size) > width and line:
                lines.append(line)
                line = w
            else:
                line = cand
        lines.append(line)
        self.ensure(len(lines) * (n.size + 1.5) + 4)
        for ln in lines:
            self.y -= n.size + 1.5
            self.text(self.left, self.y, ln, size=n.size)
        self.y -= 4

    def row(self, cells: Row):
        total = sum(c.width for c in cells)
        width = self.right - self.left
        lab = self.look.label_size
        line_h = 15 * self.look.row_scale
        nlines = max(
            (c.lines if isinstance(c, Cell) else len(_check_lines(c, width * c.width / total - 8)))
            for c in cells
        )
        boxed = self.look.style != "lined"
        heads = []
        for cell in cells:
            label = pick_label(cell.label, self.look)
            head = f"{cell.num}  {label}" if cell.num else label
            heads.append(_wrap(head, "Helvetica", lab, width * cell.width / total - 6))
        nlab = max(len(hl) for hl, _ in heads)
        lab_h = lab + 1.5 + (nlab - 1) * (lab + 1)
        h = lab_h + 3.5 + line_h * nlines + (4 if boxed else 2)
        self.ensure(h)
        x = self.left
        top = self.y
        for cell, (head_lines, head_size) in zip(cells, heads):
            w = width * cell.width / total
            self.c.setLineWidth(0.6)
            if boxed:
                self.c.rect(x, top - h, w, h)
            for k, hl in enumerate(head_lines):
                self.text(x + 3, top - lab - 1.5 - k * (lab + 1), hl, size=head_size)
            base = top - lab_h - 2.5 - line_h * 0.75
            if isinstance(cell, Cell):
                val = self.values.get(cell.key) if cell.key else None
                texts = val if isinstance(val, list) else str(val or "").split("\n")
                for i in range(cell.lines):
                    yb = base - i * line_h
                    if not boxed:
                        self.c.setLineWidth(0.4)
                        self.c.line(x + 2, yb - 3, x + w - 6, yb - 3)
                    if i < len(texts):
                        self.fill_text(x + 2, yb, texts[i], w - 6)
            else:
                self.check_group(cell, x + 4, base, w - 8)
            x += w
        self.y = top - h - (0 if boxed else 4)

    def check_group(self, g: Check, x: float, y: float, width: float):
        sel = self.values.get(g.key) if g.key else None
        sel = sel if isinstance(sel, (set, list, tuple)) else {sel}
        line_h = 15 * self.look.row_scale
        cx = x
        for i, line in enumerate(_check_lines(g, width)):
            yy = y - i * line_h
            cx = x
            for opt_id, opt_label in line:
                lw = pdfmetrics.stringWidth(opt_label, "Helvetica", _OPT_SIZE)
                self.checkbox(cx, yy - 1, opt_id in sel, label=(cx + 11, yy - 1.5, cx + 11 + lw, yy + _OPT_SIZE - 1))
                self.text(cx + 11, yy, opt_label, size=_OPT_SIZE)
                cx += _opt_width(opt_label)
        if g.other_key:
            self.fill_text(cx, yy, str(self.values.get(g.other_key) or ""), x + width - cx)

    def table(self, t: Table):
        rows = self.values.get(t.key) or []
        lab = self.look.label_size
        line_h = 16 * self.look.row_scale
        nhead = max(h.count("\n") + 1 for h, _, _ in t.columns)
        head_h = line_h + (nhead - 1) * (lab + 1.5)
        self.ensure(lab + 8 + head_h + line_h * t.rows)
        head = f"{t.num}  {t.label}" if t.num else t.label
        self.text(self.left, self.y - lab - 2, head, "Helvetica-Bold", lab + 1)
        self.y -= lab + 6
        width = self.right - self.left
        total = sum(w for _, _, w in t.columns)
        xs = [self.left]
        for _, _, w in t.columns:
            xs.append(xs[-1] + width * w / total)
        top = self.y
        self.c.setLineWidth(0.6)
        bottom = top - head_h - t.rows * line_h
        self.c.line(self.left, top, self.right, top)
        for i in range(t.rows + 1):
            yy = top - head_h - i * line_h
            self.c.line(self.left, yy, self.right, yy)
        for xx in xs:
            self.c.line(xx, top, xx, bottom)
        for j, (header, _, _) in enumerate(t.columns):
            for k, hl in enumerate(header.split("\n")):
                self.text(xs[j] + 3, top - lab - 3 - k * (lab + 1.5), hl, "Helvetica-Bold",
                          self.fit(hl, "Helvetica-Bold", lab, xs[j + 1] - xs[j] - 6))
        for i, row in enumerate(rows[: t.rows]):
            yb = top - head_h - (i + 1) * line_h + 4
            for j, (_, key, _) in enumerate(t.columns):
                self.fill_text(xs[j] + 1, yb, str(row.get(key, "")), xs[j + 1] - xs[j] - 2)
        self.y = bottom - 6

    def run(self) -> bytes:
        self.new_page(first=True)
        items = self.spec.items
        if self.look.style == "twocol":
            items = _two_column(items)
        for it in items:
            if isinstance(it, Heading):
                self.heading(it)
            elif isinstance(it, Note):
                self.note(it)
            elif isinstance(it, Table):
                self.table(it)
            else:
                self.row(it)
        self.footer()
        self.c.showPage()
        self.c.save()
        return self.buf.getvalue()


_OPT_SIZE = 7.5


def _wrap(text: str, font: str, size: float, width: float) -> tuple[list[str], float]:
    """Fit a label into ``width``: shrink a little (to 85 %), else wrap to lines."""
    for s in (size, size * 0.92, size * 0.85):
        if pdfmetrics.stringWidth(text, font, s) <= width:
            return [text], s
    s = size * 0.85
    lines, line = [], ""
    for word in text.split():
        cand = (line + " " + word).strip()
        if line and pdfmetrics.stringWidth(cand, font, s) > width:
            lines.append(line)
            line = word
        else:
            line = cand
    lines.append(line)
    return lines, s


def _opt_width(label: str) -> float:
    return pdfmetrics.stringWidth(label, "Helvetica", _OPT_SIZE) + 20


def _check_lines(g: Check, width: float) -> list[list[tuple[str, str]]]:
    """Options of ``g`` wrapped into lines that fit ``width`` (points)."""
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0.0
    reserve = 90.0 if g.other_key else 0.0  # room for the "andere:" text
    for k, opt in enumerate(g.options):
        w = _opt_width(opt[1]) + (reserve if k == len(g.options) - 1 else 0.0)
        if lines[-1] and used + w > width:
            lines.append([])
            used = 0.0
        lines[-1].append(opt)
        used += _opt_width(opt[1])
    return lines


def _two_column(items: list[Item]) -> list[Item]:
    """Re-pack rows so that single-line cells sit two per row.

    Why: a different geometry for the same fields (the extractor must follow
    labels, not absolute positions). Cells keep their order.
    """
    out: list[Item] = []
    pending: list[Cell | Check] = []

    def flush():
        for i in range(0, len(pending), 2):
            pair = pending[i : i + 2]
            out.append([_reweight(c) for c in pair])
        pending.clear()

    for it in items:
        if isinstance(it, list):
            for cell in it:
                if isinstance(cell, Cell) and cell.lines > 1:
                    flush()
                    out.append([cell])
                else:
                    pending.append(cell)
        else:
            flush()
            out.append(it)
    flush()
    return out


def _reweight(c: Cell | Check) -> Cell | Check:
    import dataclasses

    return dataclasses.replace(c, width=1.0)


def render_form(spec: FormSpec, values: dict[str, Any], rng: random.Random, style: str,
                tick_style: str | None = None) -> bytes:
    """Render ``spec`` filled with ``values`` as PDF bytes (see module doc).

    ``tick_style`` (``bench.synth.ticks.TICK_STYLES`` other than ``"form"``)
    draws every tick in that applicant's style instead of the look's own; the
    look is still drawn from ``rng`` first, so everything else stays the same.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {STYLES}")
    look = Look.draw(rng, style)
    tick_rng = None
    if tick_style not in (None, "form"):
        if tick_style not in TICK_STYLES:
            raise ValueError(f"unknown tick style {tick_style!r}; known: {TICK_STYLES}")
        look.tick = tick_style
        # its own stream, seeded from the layout's state without drawing from
        # it: offsets, fonts and values come out as without a tick style
        tick_rng = random.Random(f"ticks:{tick_style}:{rng.getstate()[1][:8]}")
    r = _Renderer(spec, values, rng, look)
    r.tick_rng = tick_rng
    return r.run()
