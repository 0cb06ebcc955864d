"""Extraction driven by the form catalogue: AcroForm values first, words otherwise.

Contract (see ``extractors.CatalogueExtractor``): ``extract`` returns an
:class:`~formwerk.models.Extraction` with an :class:`ExtractedField` for
*every* field of the form definition — ``value=None, confidence=0`` when
nothing was found — so routing can flag missing required fields.

Order of evidence per field:

1. filled AcroForm fields named in the definition (no OCR involved);
2. words (text layer or OCR, one geometric model) located relative to the
   fuzzy-matched printed label; checkbox groups from the page pixels.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable

from PIL import Image

from formwerk.models import AcroFormValue, DocumentContent, ExtractedField, Extraction, ValidationIssue, Word

from extractors import checkbox as cb
from extractors import confidence as conf
from extractors.editions import Registration, register
from extractors.layout import Match, find_label, group_lines, norm, reading_key, union
from extractors.names import split_given_family
from extractors.normalise import clean_text, find_date_text, normalise
from extractors.regions import PageWords, drop_ignored, read_below, read_right, read_top
from extractors.reocr import WHITELISTS, ink_share, ocr_box
from extractors.rules import apply_rules
from extractors.validators import CHECKSUM_VALIDATORS, FORMAT_MESSAGES, run_validators, validators_for
from forms.catalogue import Catalogue, Edition, FieldDefinition, FormDefinition

PageImage = Callable[[int], "Image.Image | None"]

_OFF = {"", "off", "false", "0", "no", "nein", "none"}
#: a single word becomes a stopping "printed" word only if at least this long
_MIN_PRINTED_SINGLE = 5
#: how far (pixels at 300 dpi) an option label may be from its group label
_OPTION_RADIUS = 2600
_WIDGET_MARGIN_PT = 1.0
_SMALL_PRINT = 0.6
_DEBRIS_CONF = 0.6
_EDGE_DEBRIS = re.compile(r"^[|\[\]_]+|[|\[\]_]+$")


def _acro_checked(v: AcroFormValue | None) -> bool:
    return v is not None and v.value.strip().lstrip("/").lower() not in _OFF


class _Reader:
    """State for one extraction: words per page, printed words, page images."""

    def __init__(self, form: FormDefinition, content: DocumentContent, page_image: PageImage, today: date):
        self.form = form
        self.today = today
        self.page_image = page_image
        # one entry per widget: radio groups repeat the name, one kid per
        # option; keep the ticked kid (any state other than Off)
        self.acro: dict[str, AcroFormValue] = {}
        for a in content.acroform:
            if a.name not in self.acro or not _acro_checked(self.acro[a.name]) and a.value.strip():
                self.acro[a.name] = a
        if not any(a.value.strip() and a.value.strip().lstrip("/").lower() not in _OFF for a in self.acro.values()):
            self.acro = {}  # an unfilled form: the values (if any) are in the words
        self.pages: dict[int, PageWords] = {}
        self.sources: dict[int, str] = {}
        for p in content.pages:
            self.pages[p.page] = PageWords(p.page, p.words, p.dpi, p.width, p.height)
            self.sources[p.page] = "text_layer" if p.source == "text_layer" else "ocr"
        self.lines = {n: group_lines(pw.words) for n, pw in self.pages.items()}
        self._gray: dict[int, Any] = {}
        self._img: dict[int, Any] = {}
        self._mark_printed()
        self.registered = self._register()

    # -- known editions --------------------------------------------------
    def _register(self) -> dict[int, tuple[Edition, Registration]]:
        """edition page → (edition, registration of the document page that shows it)."""
        best: dict[int, tuple[Edition, Registration]] = {}
        for ed in self.form.editions:
            for n, pw in self.pages.items():
                for ep_no, ep in ed.pages.items():
                    fit = register(self.lines[n], ep.anchors, pw.dpi)
                    if fit is None:
                        continue
                    reg = Registration(n, ep_no, fit[0], fit[1], fit[2])
                    cur = best.get(ep_no)
                    if cur is None or reg.inliers > cur[1].inliers:
                        best[ep_no] = (ed, reg)
        # the edition's printed lines are never values
        for ep_no, (ed, reg) in best.items():
            pw = self.pages[reg.page]
            for a in ed.pages[ep_no].anchors:
                for m in find_label(a[0], self.lines[reg.page], 0.8):
                    pw.mark_printed(m, stop=False)
        return best

    def widget_box(self, key: str) -> tuple[int, list[float]] | None:
        """Document page and pixel box of an edition widget, when its page registered."""
        for ep_no, (ed, reg) in self.registered.items():
            w = ed.widgets.get(key)
            if w is not None and int(w[0]) == ep_no:
                return reg.page, reg.map_box(w[1:])
        return None

    def registration_of(self, page: int) -> Registration | None:
        return next((reg for _, reg in self.registered.values() if reg.page == page), None)

    def words_in(self, page: int, box: list[float]) -> list[Word]:
        """Non-label words whose centre lies in ``box`` (slightly widened)."""
        pw = self.pages[page]
        # widgets are exact; a small margin (2 pt) absorbs registration error
        m = _WIDGET_MARGIN_PT * pw.dpi / 72
        y0, y1 = box[1] - m, box[3] + m
        # most of a word's width must lie in the box: printed text ends right
        # beside many boxes ("Geburtsort und –land|value")
        ws = [w for w in pw.words if y0 <= (w.bbox[1] + w.bbox[3]) / 2 <= y1 and not pw.is_skipped(w)
              and _overlap_x(w.bbox, box) >= 0.5 * max(w.bbox[2] - w.bbox[0], 1)]
        if len(ws) > 1:
            # printed small print (6–7 pt) reaching into a box is much smaller
            # than filled-in values: drop words far below the tallest one
            hmax = max(w.bbox[3] - w.bbox[1] for w in ws)
            ws = [w for w in ws if (w.bbox[3] - w.bbox[1]) >= _SMALL_PRINT * hmax]
        return ws

    # -- printed words ---------------------------------------------------
    def _mark_printed(self) -> None:
        stop_texts: set[str] = {self.form.title}
        skip_texts: set[str] = set()
        for f in self.form.fields:
            stop_texts.update(f.label)
            stop_texts.update(f.stop_labels)
            stop_texts.update(f.after)
            skip_texts.update(f.ignore)
            for c in f.columns:
                stop_texts.update(c.label)
        for n, lines in self.lines.items():
            pw = self.pages[n]
            for texts, stop in ((stop_texts, True), (skip_texts, False)):
                for t in texts:
                    for m in find_label(t, lines):
                        if len(m.words) >= 2 or len(m.words[0].text) >= _MIN_PRINTED_SINGLE or not stop:
                            pw.mark_printed(m, stop=stop)

    # -- label location --------------------------------------------------
    def matches(self, texts: list[str], page: int | None = None) -> list[Match]:
        out: list[Match] = []
        seen: set[int] = set()
        for t in texts:
            for n, lines in self.lines.items():
                if page is not None and n != page:
                    continue
                for m in find_label(t, lines):
                    key = id(m.words[0])
                    if key in seen:
                        # keep the better-scoring variant for the same words
                        for i, o in enumerate(out):
                            if id(o.words[0]) == key and m.score > o.score:
                                out[i] = m
                        continue
                    seen.add(key)
                    out.append(m)
        return out

    def anchor(self, texts: list[str], page: int | None = None) -> Match | None:
        ms = self.matches(texts, page)
        if not ms:
            return None
        best = max(m.score for m in ms)
        return sorted([m for m in ms if m.score >= best - 0.05], key=reading_key)[0]

    def locate(self, f: FieldDefinition, labels: list[str] | None = None) -> Match | None:
        pool = self.candidates(f, labels)
        i = f.occurrence - 1
        return pool[i] if i < len(pool) else None

    def candidates(self, f: FieldDefinition, labels: list[str] | None = None) -> list[Match]:
        """Label matches in preference order: best score group, preferred variant, reading order."""
        texts = labels or f.label
        cands = self.matches(texts, f.page)
        if f.after:
            a = self.anchor(f.after, f.page)
            if a is not None:
                ab = a.bbox
                cands = [m for m in cands if (m.page, m.bbox[1]) >= (a.page, ab[1] - 0.5 * a.height)]
        if not cands:
            return []
        best = max(m.score for m in cands)
        pool = [m for m in cands if m.score >= best - 0.06]
        # variants are listed in order of preference (the one nearest the value first)
        rank = {t: i for i, t in enumerate(texts)}
        top = min(rank.get(m.label, 99) for m in pool)
        preferred = sorted([m for m in pool if rank.get(m.label, 99) == top], key=reading_key)
        others = sorted([m for m in pool if rank.get(m.label, 99) != top], key=reading_key)
        return preferred + others

    def image(self, page: int) -> Image.Image | None:
        if page not in self._img:
            self._img[page] = self.page_image(page) if self.page_image else None
        return self._img[page]

    def gray(self, page: int):
        if page not in self._gray:
            img = self.image(page)
            self._gray[page] = cb.to_gray(img) if img is not None else None
        return self._gray[page]


class CatalogueExtractor:
    """See ``extractors.CatalogueExtractor`` (the public name)."""

    version = f"catalogue-1.0+{conf.CONFIDENCE_VERSION}"

    def __init__(self, catalogue: Catalogue, today: date | None = None):
        self.catalogue = catalogue
        self.today = today

    # ------------------------------------------------------------------
    def extract(self, form_id: str, content: DocumentContent, page_image: PageImage) -> Extraction:
        form = self.catalogue.get(form_id)
        today = self.today or date.today()
        reader = _Reader(form, content, page_image, today)
        fields: dict[str, ExtractedField] = {}
        for f in form.fields:
            ef = self._from_acroform(f, reader, fields) if reader.acro else None
            if ef is None:
                try:
                    ef = self._from_words(f, reader, fields)
                except Exception as exc:  # one bad field must not lose the others
                    ef = ExtractedField(name=f.name, issues=[ValidationIssue(
                        code="extraction_error", message="Das Feld konnte nicht gelesen werden.", fields=[f.name])])
                    ef.raw = ""
                    ef.extractor = f"{self.version} error: {type(exc).__name__}"
            ef.extractor = ef.extractor or self.version
            fields[f.name] = ef
        issues = apply_rules(form.rules, fields)
        for ef in fields.values():
            ef.confidence = round(min(1.0, max(0.0, ef.confidence)), 4)
        return Extraction(document_type=form.id, fields=fields, issues=issues, extractor_version=self.version)

    # -- AcroForm ----------------------------------------------------------
    def _from_acroform(self, f: FieldDefinition, r: _Reader, done: dict) -> ExtractedField | None:
        names = f.acroform + f.compose + [a.split("=")[0] for o in f.options for a in o.acroform]
        names += [a.replace("{n}", "1") for c in f.columns for a in c.acroform]
        if not names or not any(n in r.acro for n in names):
            return None  # this edition's fields are not in the file: read the words
        if f.options:
            return self._acro_choice(f, r)
        if f.type == "table":
            return self._acro_table(f, r, done)
        if f.compose:
            parts = [r.acro[n] for n in f.compose if n in r.acro and r.acro[n].value.strip()]
            raw = f.compose_sep.join(clean_text(p.value) for p in parts)
            src = parts[0] if parts else None
        else:
            src = next((r.acro[n] for n in f.acroform if n in r.acro and r.acro[n].value.strip()), None)
            raw = clean_text(src.value) if src else ""
        raw = _split(raw, f.split)
        return self._finish(f, raw, "acroform", page=src.page if src else None, bbox=src.bbox if src else None)

    def _acro_choice(self, f: FieldDefinition, r: _Reader) -> ExtractedField:
        ticked = []
        for o in f.options:
            for a in o.acroform:
                name, _, export = a.partition("=")
                v = r.acro.get(name)
                if export:
                    hit = v is not None and v.value.strip().lstrip("/") == export
                else:
                    hit = _acro_checked(v)
                if hit:
                    ticked.append((o, v))
                    break
        if not ticked:
            return ExtractedField(name=f.name, source="acroform", confidence=0.0)
        o, v = ticked[0]
        c = conf.combine("acroform")
        issues = []
        if len(ticked) > 1:
            c *= conf.FAILED_CHECK
            issues.append(ValidationIssue(code="multiple_options", message="Mehrere Kästchen sind angekreuzt.", fields=[f.name]))
        return ExtractedField(name=f.name, value=_option_value(f, o.id), raw=o.label[0] if o.label else o.id,
                              confidence=c, page=v.page, bbox=v.bbox, source="acroform", issues=issues)

    def _acro_table(self, f: FieldDefinition, r: _Reader, done: dict) -> ExtractedField:
        rows = []
        for n in range(1, (f.max_rows or 10) + 1):
            rec: dict[str, Any] = {}
            for c in f.columns:
                raw = next((clean_text(r.acro[a.replace("{n}", str(n))].value) for a in c.acroform
                            if a.replace("{n}", str(n)) in r.acro), "")
                rec[c.name] = normalise(c.type, raw) if raw else None
            if any(v not in (None, "") for v in rec.values()):
                rows.append(_row_defaults(f, rec, done))
        return ExtractedField(name=f.name, value=rows or None, raw=f"{len(rows)} Zeilen",
                              confidence=conf.combine("acroform") if rows else 0.0, source="acroform")

    # -- words -------------------------------------------------------------
    def _from_words(self, f: FieldDefinition, r: _Reader, done: dict) -> ExtractedField:
        if r.registered:
            ef = self._from_edition(f, r, done)
            if ef is not None:
                return ef
        if f.options:
            return self._checkbox_group(f, r)
        if f.type == "table":
            return self._table(f, r, done)
        if f.position == "top":
            return self._read_top(f, r)
        pool = r.candidates(f)
        if f.occurrence > 1:
            pool = pool[f.occurrence - 1 : f.occurrence]
        if not pool:
            return ExtractedField(name=f.name, source="none")
        result = None
        for m in pool[:3]:
            result = self._read_near(f, r, m)
            if result.value is not None:
                return result
        return result  # type: ignore[return-value]

    def _read_near(self, f: FieldDefinition, r: _Reader, m: Match) -> ExtractedField:
        pw = r.pages[m.page]
        declared = "below" if f.position == "inside" else f.position
        first: ExtractedField | None = None
        for pos in (declared, "below" if declared == "right" else "right"):
            fallback = pos != declared
            # the declared limits belong to the declared layout; a fallback gets defaults
            reg = (read_right if pos == "right" else read_below)(
                pw, m, None if fallback else f.max_dx, None if fallback else f.max_dy)
            words = _pick_words(f.type, drop_ignored(reg.words, f.ignore))
            if not words:
                continue
            sep = ", " if f.type == "address" else " "
            raw = sep.join(" ".join(w.text for w in ln.words) for ln in group_lines(words))
            raw = _split(clean_text(raw), f.split)
            if f.type == "date":
                raw = find_date_text(raw) or raw
            if f.type in ("tax_id", "iban", "bic"):
                raw = re.sub(r"[\s|\[\]()]", "", raw)
            for extra in f.also:  # further boxes of the same value (PLZ/Ort beside the street)
                am = r.anchor([extra], m.page)
                if am is not None:
                    ws = _pick_words(f.type, read_below(r.pages[am.page], am, None, f.max_dy).words)
                    if ws:
                        raw = f"{raw}, " + clean_text(" ".join(w.text for w in ws))
                        words = words + ws
            ef = self._finish(f, raw, r.sources[m.page], page=m.page, bbox=union([w.bbox for w in words]),
                              words=words, label_score=m.score, fallback=fallback)
            if not any(i.code.startswith("format_") for i in ef.issues):
                return ef
            first = first or ef  # unreadable as its type: maybe the other layout reads
        return first or ExtractedField(name=f.name, source="none", page=m.page)

    def _read_top(self, f: FieldDefinition, r: _Reader) -> ExtractedField:
        # a labelled variant wins ("Verkäufer: ..."); else the letterhead line
        if f.label:
            m = r.locate(f)
            if m is not None:
                ef = self._read_near(f, r, m)
                if ef.value is not None:
                    return ef
        if not r.pages:
            return ExtractedField(name=f.name, source="none")
        first = min(r.pages)
        reg = read_top(r.pages[first])
        words = _pick_words(f.type, reg.words)
        if not words:
            return ExtractedField(name=f.name, source="none")
        raw = clean_text(" ".join(w.text for w in words))
        # no label evidence: the position alone is weaker
        return self._finish(f, raw, r.sources[first], page=first, bbox=union([w.bbox for w in words]),
                            words=words, label_score=0.6)

    def _checkbox_group(self, f: FieldDefinition, r: _Reader) -> ExtractedField:
        anchor = r.locate(f) if f.label else None
        readings = []  # (p_ticked, option, label match, box reading)
        for o in f.options:
            cands = r.matches(o.label, f.page if anchor is None else anchor.page)
            if anchor is not None:
                ab = anchor.bbox
                k = r.pages[anchor.page].k
                cands = [m for m in cands if m.page == anchor.page and m.bbox[3] >= ab[1] - anchor.height
                         and _dist(m.bbox, ab) <= _OPTION_RADIUS * k]
                cands.sort(key=lambda m: _dist(m.bbox, ab))
            else:
                cands.sort(key=reading_key)
            if not cands:
                continue
            m = cands[0]
            gray = r.gray(m.page)
            if gray is None:
                continue
            box = cb.read_box(gray, m.bbox, f.box)
            if box is None:
                continue
            readings.append((cb.tick_probability(box.ink), o, m, box))
        if not readings:
            return ExtractedField(name=f.name, source="none")
        readings.sort(key=lambda t: -t[0])
        p1, o, m, box = readings[0]
        p2 = readings[1][0] if len(readings) > 1 else 0.0
        if p1 < 0.5:
            return ExtractedField(name=f.name, source="checkbox", page=m.page, raw="")
        c = conf.combine("checkbox", label_score=m.score, extra=p1 * (1 - p2))
        issues = []
        if p2 >= 0.5:
            issues.append(ValidationIssue(code="multiple_options", message="Mehrere Kästchen sind angekreuzt.", fields=[f.name]))
        return ExtractedField(name=f.name, value=_option_value(f, o.id), raw=" ".join(w.text for w in m.words),
                              confidence=c, page=m.page, bbox=[float(v) for v in box.bbox], source="checkbox",
                              issues=issues)

    def _table(self, f: FieldDefinition, r: _Reader, done: dict) -> ExtractedField:
        anchor = r.locate(f)
        if anchor is None:
            return ExtractedField(name=f.name, source="none")
        pw = r.pages[anchor.page]
        ab, h = anchor.bbox, anchor.height
        cols = []  # (x0, column, header match)
        for c in f.columns:
            ms = [m for m in r.matches(c.label, anchor.page) if abs(m.bbox[1] - ab[1]) < 3 * h]
            if ms:
                ms.sort(key=lambda m: (-m.score, abs(m.bbox[0] - ab[0])))
                cols.append((ms[0].bbox[0], c, ms[0]))
        if not cols:
            return ExtractedField(name=f.name, source="none")
        cols.sort(key=lambda t: t[0])
        header_bottom = max(m.bbox[3] for _, _, m in cols)
        y1 = header_bottom + (f.max_dy or 500) * pw.k
        stop = r.anchor(f.stop_labels, anchor.page) if f.stop_labels else None
        if stop is not None and stop.bbox[1] > header_bottom:
            y1 = min(y1, stop.bbox[1])
        words = [w for w in pw.words if header_bottom - 0.2 * h < (w.bbox[1] + w.bbox[3]) / 2 < y1
                 and not pw.is_skipped(w) and w.bbox[2] > cols[0][0] - 2 * h]
        rows, all_words, min_c = [], [], 1.0
        for ln in group_lines(words, split_gaps=False):
            rec: dict[str, Any] = {}
            cells: dict[str, list[Word]] = {}
            for w in ln.words:
                cx = (w.bbox[0] + w.bbox[2]) / 2
                col = None
                for x0, c, _ in cols:
                    if cx >= x0 - 1.5 * h:
                        col = c
                cells.setdefault(col.name if col else cols[0][1].name, []).append(w)
            for _, c, _ in cols:
                ws = cells.get(c.name, [])
                raw = clean_text(" ".join(w.text for w in ws))
                if c.type == "date":
                    raw = find_date_text(raw) or raw
                rec[c.name] = normalise(c.type, raw) if raw else None
                if ws:
                    ok = rec[c.name] is not None
                    min_c = min(min_c, conf.combine(r.sources[anchor.page], words=ws, label_score=anchor.score,
                                                     format_failed=not ok))
            if any(v not in (None, "") for v in rec.values()):
                rows.append(_row_defaults(f, rec, done))
                all_words.extend(ln.words)
            if f.max_rows and len(rows) >= f.max_rows:
                break
        if not rows:
            return ExtractedField(name=f.name, source="none", page=anchor.page)
        return ExtractedField(name=f.name, value=rows, raw=f"{len(rows)} Zeilen", confidence=min_c,
                              page=anchor.page, bbox=union([w.bbox for w in all_words]),
                              source=r.sources[anchor.page])

    # -- known edition: widget boxes -----------------------------------------
    def _from_edition(self, f: FieldDefinition, r: _Reader, done: dict) -> ExtractedField | None:
        """Read from the registered edition's widget boxes; None if the field has none."""
        if f.options:
            return self._edition_choice(f, r)
        if f.type == "table":
            return self._edition_table(f, r, done)
        keys = f.compose or f.acroform[:1]
        boxes = [r.widget_box(k) for k in keys]
        if not keys or any(b is None for b in boxes):
            return None
        ef = self._read_with_second_look(f, r, boxes)  # type: ignore[arg-type]
        reg = r.registration_of(boxes[0][0])  # type: ignore[index]
        if reg is not None and abs(reg.angle) > conf.MAX_SAFE_SKEW_DEG:
            # mapped boxes of a page that is still skewed catch neighbours
            ef.confidence *= conf.SKEWED_PAGE
        return ef

    def _read_with_second_look(self, f: FieldDefinition, r: _Reader, boxes) -> ExtractedField:
        ef = self._read_boxes(f, r, boxes, reocr=False)
        page = boxes[0][0]
        if r.sources[page] != "ocr" or r.image(page) is None:
            return ef
        if _worth_reocr(f, ef):
            # page OCR missed or garbled the value: recognise the boxes alone
            again = self._read_boxes(f, r, boxes, reocr=True)  # type: ignore[arg-type]
            if again.value is not None and (ef.value is None or len(again.issues) < len(ef.issues)):
                return again
            return ef
        if ef.confidence < conf.SECOND_READ_BELOW:
            # not sure: a second, independent read of the box decides
            again = self._read_boxes(f, r, boxes, reocr=True)  # type: ignore[arg-type]
            if again.value is not None and _same(ef.value, again.value):
                ef.confidence = max(ef.confidence, conf.AGREEMENT)
            elif again.value is not None and not again.issues:
                best = again if again.confidence > ef.confidence else ef
                best.confidence *= conf.DISAGREEMENT
                return best
        return ef

    def _read_boxes(self, f: FieldDefinition, r: _Reader, boxes: list[tuple[int, list[float]]],
                    reocr: bool) -> ExtractedField:
        parts, words, page = [], [], None
        for pg, box in boxes:
            page = page or pg
            if reocr:
                k = r.pages[pg].dpi / 72
                ws = ocr_box(r.image(pg), box, pg, multiline=(box[3] - box[1]) > 26 * k,
                             whitelist=_whitelist(f))
            else:
                ws = r.words_in(pg, box)
            ws = _pick_words(f.type, drop_ignored(ws, f.ignore))
            if ws:
                sep = ", " if f.type == "address" else " "
                parts.append(sep.join(" ".join(w.text for w in ln.words) for ln in group_lines(ws)))
                words.extend(ws)
        sep = f.compose_sep if f.compose else " "
        raw = _split(clean_text(sep.join(parts)), f.split)
        if f.type == "date":
            raw = find_date_text(raw) or raw
        if f.type in ("tax_id", "bic", "iban"):
            raw = re.sub(r"[\s|\[\]()]", "", raw)
        if not words:
            return ExtractedField(name=f.name, source="none", page=page)
        return self._finish(f, raw, r.sources[page], page=page, bbox=union([w.bbox for w in words]), words=words)

    def _edition_choice(self, f: FieldDefinition, r: _Reader) -> ExtractedField | None:
        readings = []
        for o in f.options:
            for key in o.acroform:
                wb = r.widget_box(key)
                if wb is None:
                    continue
                gray = r.gray(wb[0])
                if gray is None:
                    return None
                readings.append((cb.tick_probability(cb.ink_near_box(gray, wb[1])), o, wb))
                break
        if not readings:
            return None
        readings.sort(key=lambda t: -t[0])
        p1, o, (page, box) = readings[0]
        p2 = readings[1][0] if len(readings) > 1 else 0.0
        if p1 < 0.5:
            return ExtractedField(name=f.name, source="checkbox", page=page)
        issues = []
        if p2 >= 0.5:
            issues.append(ValidationIssue(code="multiple_options", message="Mehrere Kästchen sind angekreuzt.", fields=[f.name]))
        return ExtractedField(name=f.name, value=_option_value(f, o.id), raw=o.label[0] if o.label else o.id,
                              confidence=conf.combine("checkbox", extra=p1 * (1 - p2)), page=page,
                              bbox=[float(v) for v in box], source="checkbox", issues=issues)

    def _edition_table(self, f: FieldDefinition, r: _Reader, done: dict) -> ExtractedField | None:
        rows, all_words, min_c, page, any_box = [], [], 1.0, None, False
        for n in range(1, (f.max_rows or 10) + 1):
            rec: dict[str, Any] = {}
            for c in f.columns:
                wb = next((r.widget_box(a.replace("{n}", str(n))) for a in c.acroform[:1]), None)
                if wb is None:
                    rec[c.name] = None
                    continue
                any_box = True
                page = wb[0]
                ws = r.words_in(*wb)
                img = r.image(page) if r.sources[page] == "ocr" else None
                if not ws and img is not None and ink_share(img, wb[1]) >= 0.01:
                    # page OCR skipped a filled cell: recognise the cell alone
                    ws = ocr_box(img, wb[1], page, whitelist=WHITELISTS.get(c.type))
                raw = clean_text(" ".join(w.text for w in ws))
                if c.type == "date":
                    raw = find_date_text(raw) or raw
                rec[c.name] = normalise(c.type, raw) if raw else None
                if ws:
                    all_words.extend(ws)
                    min_c = min(min_c, conf.combine(r.sources[page], words=ws, format_failed=rec[c.name] is None))
            if any(v not in (None, "") for v in rec.values()):
                rows.append(_row_defaults(f, rec, done))
        if not any_box:
            return None
        if not rows:
            return ExtractedField(name=f.name, source="none", page=page)
        return ExtractedField(name=f.name, value=rows, raw=f"{len(rows)} Zeilen", confidence=min_c, page=page,
                              bbox=union([w.bbox for w in all_words]), source=r.sources[page])

    # -- common ------------------------------------------------------------
    def _finish(self, f: FieldDefinition, raw: str, source: str, *, page=None, bbox=None,
                words: list[Word] | None = None, label_score: float = 1.0, fallback: bool = False) -> ExtractedField:
        if not raw:
            return ExtractedField(name=f.name, source=source if source == "acroform" else "none", page=page)
        value = normalise(f.normaliser or f.type, raw)
        issues: list[ValidationIssue] = []
        format_failed = value is None
        if format_failed:
            issues.append(ValidationIssue(code=f"format_{f.type}", message=FORMAT_MESSAGES.get(
                f.type, "Die Angabe ist nicht lesbar."), fields=[f.name]))
            # keep the text as read: a clerk sees it and fixes it
            value = clean_text(raw) if f.type not in ("int", "bool") else None
            failed = []
        else:
            failed = run_validators(f.type, f.validators, value, self.today or date.today())
            for i in failed:
                i.fields = [f.name]
            issues.extend(failed)
        checksum = any(v in CHECKSUM_VALIDATORS for v in validators_for(f.type, f.validators))
        c = conf.combine(source, words=words, label_score=label_score, fallback=fallback,
                         failed_checks=len(failed), format_failed=format_failed,
                         checksum_passed=checksum and not failed and not format_failed)
        return ExtractedField(name=f.name, value=value, raw=raw, confidence=c, page=page,
                              bbox=[float(v) for v in bbox] if bbox else None, source=source, issues=issues)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _overlap_x(a: list[float], b: list[float]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0]))


def _same(a: Any, b: Any) -> bool:
    norm_ = lambda v: " ".join(str(v).casefold().split())  # noqa: E731
    return norm_(a) == norm_(b)


def _worth_reocr(f: FieldDefinition, ef: ExtractedField) -> bool:
    """Empty box, unreadable value, or a failed check on a value OCR often garbles."""
    return ef.value is None or bool(ef.issues)


def _whitelist(f: FieldDefinition) -> str | None:
    return WHITELISTS.get(f.type) or next((WHITELISTS[v] for v in f.validators if v in WHITELISTS), None)


def _option_value(f: FieldDefinition, option_id: str) -> Any:
    if f.type == "bool":
        return option_id.lower() in ("true", "ja", "yes", "1")
    return option_id


def _split(raw: str, how: str | None) -> str:
    if not how:
        return raw
    head, _, rest = raw.partition(",")
    return head.strip() if how == "first" else rest.strip()


def _pick_words(type_: str, words: list[Word]) -> list[Word]:
    """Keep the words that can belong to a value of this type (shared regions).

    OCR debris from squeezed labels and box frames (punctuation-only tokens,
    short low-confidence tokens) is dropped when real words remain.
    """
    # frame/line debris is never a value on its own, nor glued to one ("|82000")
    words = [w if not _EDGE_DEBRIS.search(w.text) else w.model_copy(update={"text": _EDGE_DEBRIS.sub("", w.text)})
             for w in words]
    words = [w for w in words if w.text and not re.fullmatch(r"[|\[\]_.,:;—–\-~'\"()‘’!]+", w.text)]
    real = [w for w in words if (re.search(r"[0-9A-Za-zÄÖÜäöüß@§&]", w.text) or w.confidence >= 0.9)
            and not (len(w.text) <= 2 and w.confidence < _DEBRIS_CONF and not w.text.isdigit())]
    if real:
        words = real
    if type_ == "email":
        at = [w for w in words if "@" in w.text]
        return at or words
    if type_ == "phone":
        return [w for w in words if "@" not in w.text and re.search(r"[\d+()/\-]", w.text)]
    return words


def _dist(a: list[float], b: list[float]) -> float:
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5


def _row_defaults(f: FieldDefinition, rec: dict, done: dict) -> dict:
    if f.name_split and isinstance(rec.get(f.name_split), str) and not rec.get("family_name"):
        given, family = split_given_family(rec[f.name_split])
        rec[f.name_split] = given
        if family:
            rec["family_name"] = family
    for c in f.columns:
        if rec.get(c.name) in (None, "") and c.default_from and c.default_from in done:
            rec[c.name] = done[c.default_from].value
    return rec
