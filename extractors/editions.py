"""Known printed editions: registration of a scanned page onto an edition page.

A filled official form (e.g. the Schwerin GewA 1) is printed and scanned: its
words are shifted, scaled and slightly rotated, and labels squeezed against
large filled-in values are often misread by OCR. When the edition is known,
a few dozen long printed lines ("anchors", stored in the form YAML with their
PDF-point boxes) are fuzzy-found on the page; an affine transform from PDF
points to page pixels is fitted by least squares with outlier trimming; the
edition's widget boxes are mapped through it and values read from inside them.

Units: edition data in PDF points (1/72 inch), top-left origin; pages in
pixels at the page's dpi, top-left origin.

``measure_edition(pdf, form)`` builds an edition block from the blank PDF.
"""

from __future__ import annotations

from formwerk.documents.pdf import qualified_name

from dataclasses import dataclass

import numpy as np

from extractors.layout import Line, find_label, norm

#: anchors must match at least this well to be used for registration
ANCHOR_MIN_SCORE = 0.86
MIN_ANCHORS = 5
#: mean residual (pixels at 300 dpi) above which a registration is rejected
MAX_RESIDUAL = 12.0


@dataclass
class Registration:
    """Affine map PDF points → page pixels for one page, with its quality."""

    page: int  # document page number
    edition_page: int
    matrix: np.ndarray  # 2x3
    inliers: int
    residual: float  # mean pixel residual of inliers

    @property
    def angle(self) -> float:
        """Rotation of the page against the edition, degrees (deskew leaves ~0)."""
        return float(np.degrees(np.arctan2(self.matrix[1, 0], self.matrix[0, 0])))

    def map_box(self, box: list[float]) -> list[float]:
        x0, y0, x1, y1 = box
        pts = np.array([[x0, y0, 1.0], [x1, y0, 1.0], [x0, y1, 1.0], [x1, y1, 1.0]])
        out = pts @ self.matrix.T
        return [float(out[:, 0].min()), float(out[:, 1].min()), float(out[:, 0].max()), float(out[:, 1].max())]


def _fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    a = np.hstack([src, np.ones((len(src), 1))])
    m, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return m.T  # 2x3


def register(lines: list[Line], anchors: list[list], dpi: float) -> tuple[np.ndarray, int, float] | None:
    """Fit PDF points → pixels from anchor matches; None when too few agree."""
    src, dst = [], []
    for text, x0, y0, x1, y1 in anchors:
        ms = find_label(text, lines, ANCHOR_MIN_SCORE)
        if len(ms) != 1 and not (ms and ms[0].score - (ms[1].score if len(ms) > 1 else 0) > 0.05):
            continue
        m = ms[0]
        b = m.bbox
        # left edge and vertical centre are stable; the right edge depends on OCR word splits
        src.append([x0, (y0 + y1) / 2])
        dst.append([b[0], (b[1] + b[3]) / 2])
        if len(m.words) >= 3 and abs((b[2] - b[0]) - (x1 - x0) * dpi / 72) < 0.15 * (x1 - x0) * dpi / 72:
            src.append([x1, (y0 + y1) / 2])
            dst.append([b[2], (b[1] + b[3]) / 2])
    if len(src) < MIN_ANCHORS:
        return None
    s, d = np.array(src, float), np.array(dst, float)
    keep = np.ones(len(s), bool)
    k = dpi / 300.0
    for _ in range(4):
        if keep.sum() < MIN_ANCHORS:
            return None
        m = _fit(s[keep], d[keep])
        res = np.linalg.norm(np.hstack([s, np.ones((len(s), 1))]) @ m.T - d, axis=1)
        thr = max(6 * k, 2.5 * np.median(res[keep]))
        new = res <= thr
        if (new == keep).all():
            break
        keep = new
    if keep.sum() < MIN_ANCHORS:
        return None
    m = _fit(s[keep], d[keep])
    res = np.linalg.norm(np.hstack([s[keep], np.ones((keep.sum(), 1))]) @ m.T - d[keep], axis=1)
    mean = float(res.mean())
    if mean > MAX_RESIDUAL * k:
        return None
    # scale must be plausible: dpi/72 within ±25 %
    sx = float(np.hypot(m[0, 0], m[1, 0]))
    if not 0.75 * dpi / 72 <= sx <= 1.25 * dpi / 72:
        return None
    return m, int(keep.sum()), mean


# --------------------------------------------------------------------------
# building an edition from its blank PDF (tooling, not used at run time)
# --------------------------------------------------------------------------


def measure_edition(pdf_path: str, edition_id: str, widget_names: set[str] | None = None,
                    max_anchors: int = 40) -> dict:
    """Anchors (unique long text lines) and widget boxes of a blank PDF form.

    Returns a dict shaped like ``forms.catalogue.Edition``. Widget keys are the
    fully qualified field names; checkboxes with several export values get
    ``name=export`` keys. Only ``widget_names`` are kept when given.
    """
    import pdfplumber
    from pypdf import PdfReader

    pages: dict[int, dict] = {}
    with pdfplumber.open(pdf_path) as pdf:
        for i, p in enumerate(pdf.pages, start=1):
            lines = _phrases(p.extract_words(use_text_flow=False))
            counts: dict[str, int] = {}
            for ln in lines:
                counts[norm(ln["text"])] = counts.get(norm(ln["text"]), 0) + 1
            cands = [ln for ln in lines if counts[norm(ln["text"])] == 1 and len(ln["text"]) >= 10
                     and ln["x1"] - ln["x0"] > ln["bottom"] - ln["top"]
                     and "(cid:" not in ln["text"]]
            # spread anchors over the page: take every k-th line top to bottom
            cands.sort(key=lambda ln: (ln["top"], ln["x0"]))
            step = max(1, len(cands) // max_anchors)
            chosen = cands[::step][:max_anchors]
            pages[i] = {
                "width": round(float(p.width), 2),
                "height": round(float(p.height), 2),
                "anchors": [[ln["text"][:120], round(ln["x0"], 1), round(ln["top"], 1), round(ln["x1"], 1),
                             round(ln["bottom"], 1)] for ln in chosen],
            }
    widgets: dict[str, list[float]] = {}
    reader = PdfReader(pdf_path)
    for pi, page in enumerate(reader.pages, start=1):
        h = float(page.mediabox.height)
        for a in page.get("/Annots") or []:
            a = a.get_object()
            if a.get("/Subtype") != "/Widget":
                continue
            name = qualified_name(a)
            if not name:
                continue
            x0, y0, x1, y1 = (float(v) for v in a["/Rect"])
            box = [pi, round(min(x0, x1), 1), round(h - max(y0, y1), 1), round(max(x0, x1), 1), round(h - min(y0, y1), 1)]
            ap = a.get("/AP", {}).get("/N")
            states = [k.lstrip("/") for k in ap.keys()] if hasattr(ap, "keys") else []
            exports = [s for s in states if s != "Off"]
            key = name
            if len(exports) == 1 and _siblings(a) > 1:
                key = f"{name}={exports[0]}"
            if widget_names is None or key in widget_names or name in widget_names:
                widgets.setdefault(key, box)
    used = {int(b[0]) for b in widgets.values()}
    return {"id": edition_id, "pages": {k: v for k, v in pages.items() if k in used}, "widgets": widgets}


def _phrases(words: list[dict]) -> list[dict]:
    """Words → phrases: same line, gaps under 1.5 × the font height.

    Printed lines of a form often hold several labels far apart; OCR splits
    them the same way, so phrases match OCR lines better than whole lines.
    """
    rows: list[list[dict]] = []
    for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if rows and abs(rows[-1][-1]["top"] - w["top"]) < 2 and \
                w["x0"] - rows[-1][-1]["x1"] < 1.5 * (w["bottom"] - w["top"]):
            rows[-1].append(w)
        else:
            rows.append([w])
    return [{"text": " ".join(w["text"] for w in r), "x0": r[0]["x0"], "top": min(w["top"] for w in r),
             "x1": r[-1]["x1"], "bottom": max(w["bottom"] for w in r)} for r in rows]


def _siblings(a) -> int:
    par = a.get("/Parent")
    if par is None or a.get("/T") is not None:
        return 1
    return len(par.get_object().get("/Kids") or [])


def referenced_widgets(form) -> set[str]:
    """AcroForm names a form definition refers to (rows of tables expanded)."""
    names: set[str] = set()
    for f in form.fields:
        names.update(f.acroform)
        names.update(f.compose)
        for o in f.options:
            names.update(o.acroform)
        for c in f.columns:
            for a in c.acroform:
                names.update(a.replace("{n}", str(n)) for n in range(1, (f.max_rows or 10) + 1))
    return names


def main(argv: list[str] | None = None) -> None:
    """``python -m extractors.editions FORM_YAML PDF EDITION_ID``: append an edition block."""
    import sys

    import yaml

    from forms.catalogue import load_form

    args = argv if argv is not None else sys.argv[1:]
    yaml_path, pdf_path, edition_id = args
    from pathlib import Path

    form = load_form(Path(yaml_path))
    if any(e.id == edition_id for e in form.editions):
        raise SystemExit(f"edition {edition_id} already in {yaml_path}")
    ed = measure_edition(pdf_path, edition_id, referenced_widgets(form))
    block = yaml.safe_dump({"editions": [ed]}, allow_unicode=True, sort_keys=False, width=200,
                           default_flow_style=None)
    with open(yaml_path, "a", encoding="utf-8") as fh:
        fh.write("\n# Generated by `python -m extractors.editions` from the edition's blank PDF:\n")
        fh.write("# anchors and widget boxes in PDF points, top-left origin.\n")
        fh.write(block)


if __name__ == "__main__":
    main()
