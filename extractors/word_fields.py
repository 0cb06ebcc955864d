"""Reading fields relative to their printed labels (any layout): text, checkboxes, tables."""

from __future__ import annotations

import re
from typing import Any

from formwerk.models import ExtractedField, ValidationIssue, Word

from extractors import checkbox as cb
from extractors import confidence as conf
from extractors.fieldtext import COMB_TYPES, distance, option_value, pick_words, row_defaults, split_part
from extractors.layout import Match, group_lines, reading_key, union
from extractors.normalise import clean_text, find_date_text, normalise
from extractors.edition_fields import EditionReader
from extractors.reader import _OPTION_RADIUS, DocumentReader
from extractors.readers import Finisher
from extractors.regions import drop_ignored, read_below, read_right, read_top
from forms.catalogue import FieldDefinition


#: label evidence of a value found by its pattern alone (no label seen)
PATTERN_LABEL_SCORE = 0.5
#: confidence cap of a table with a row whose read column stayed empty
TABLE_GAP_CONFIDENCE = 0.3
#: a region read again as a block (``_reread_band``), in pixels at 300 dpi
#: like all catalogue distances: page margin left out, and the depth of the
#: band below the heading of the section (``after``) when the label itself
#: was lost (A4 at 300 dpi is 3508 px high)
REREAD_MARGIN = 80.0
SECTION_BAND = 1200.0
#: margin (pixels at 300 dpi) around a label-relative value's words for its second read
SECOND_LOOK_PAD = 4.0


class LabelReader:
    """Words (text layer or OCR) relative to the fuzzy-matched printed label,
    checkbox groups from the page pixels: any layout. The last reader of every
    chain: it always answers (value ``None`` when nothing was found).

    ``second_look``: the edition reader, whose reads of a box alone check an
    uncertain OCR value found here (``_look_again``).
    """

    name = "labels"

    def __init__(self, finish: Finisher, second_look: EditionReader):
        self._finish = finish
        self._edition = second_look

    def read(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField:
        if f.options:
            return self._checkbox_group(f, r)
        if f.type == "table":
            return self._table(f, r, done)
        if f.position == "top":
            return self._read_top(f, r)
        pool = r.candidates(f)
        if f.occurrence > 1 or "occurrence" in f.model_fields_set:
            # the n-th copy of a shared label only: another copy belongs to another block
            pool = pool[f.occurrence - 1 : f.occurrence]
        if not pool and f.after and self._reread_band(f, r):
            # the label's section is there but not the label: a skipped ruled table
            pool = r.candidates(f)
        if not pool:
            return self._by_pattern(f, r)
        result = None
        for i, m in enumerate(pool[:3]):
            result = self._read_near(f, r, m)
            if result.value is not None:
                result = self._look_again(f, r, result)
                if i > 0 and result.confidence > conf.LATER_LABEL:
                    result = result.model_copy(update={"confidence": conf.LATER_LABEL})
                return result
        return result  # type: ignore[return-value]

    def _look_again(self, f: FieldDefinition, r: DocumentReader, ef: ExtractedField) -> ExtractedField:
        """An uncertain OCR value found by its label gets the second look of the
        edition path (``EditionReader.second_look``: the value line read again
        enlarged; agreement confirms, restored umlaut dots win, a third read
        settles a dispute). Its "box" is the value's own words, widened a little.
        Not for values gathered from several boxes (``also``) or read from comb
        cells (those are read cell by cell on known editions only)."""
        if ef.source != "ocr" or ef.bbox is None or ef.page is None or f.also or f.type in COMB_TYPES:
            return ef
        k = r.pages[ef.page].k
        x0, y0, x1, y1 = ef.bbox
        box = [x0 - SECOND_LOOK_PAD * k, y0 - SECOND_LOOK_PAD / 2 * k, x1 + SECOND_LOOK_PAD * k,
               y1 + SECOND_LOOK_PAD / 2 * k]
        if ef.confidence >= conf.SECOND_READ_BELOW and not ef.issues:
            # sure of its reading, but a name's marks the page model cannot write
            return self._edition.restore_script(f, r, [(ef.page, box)], ef)
        return self._edition.second_look(f, r, [(ef.page, box)], ef, located=False)

    def _by_pattern(self, f: FieldDefinition, r: DocumentReader) -> ExtractedField:
        """Label not found (garbled header): the first word matching ``f.pattern``
        (after ``f.after`` when that anchor is found), with weak label evidence."""
        if not f.pattern:
            return ExtractedField(name=f.name, source="none")
        rx = re.compile(f.pattern)
        start = r.anchor(f.after, f.page) if f.after else None
        for n in sorted(r.pages):
            if f.page is not None and n != f.page:
                continue
            pw = r.pages[n]
            for ln in r.lines[n]:
                for w in ln.words:
                    if pw.is_skipped(w) or not rx.fullmatch(w.text):
                        continue
                    if start is not None and (n, w.bbox[1]) < (start.page, start.bbox[1]):
                        continue
                    return self._finish(f, w.text, r.sources[n], page=n, bbox=w.bbox, words=[w],
                                        label_score=PATTERN_LABEL_SCORE)
        return ExtractedField(name=f.name, source="none")

    def _read_near(self, f: FieldDefinition, r: DocumentReader, m: Match) -> ExtractedField:
        pw = r.pages[m.page]
        declared = "below" if f.position == "inside" else f.position
        first: ExtractedField | None = None
        # the form's next row of labels ends the value, whatever column it starts in
        # ("Mende" under "Geburtsname", then "Deutschland" of the birth-place line)
        below = [s.bbox[1] for s in r.matches(f.stop_labels, m.page) if s.bbox[1] > m.bbox[3]] if f.stop_labels else []
        stop_y = min(below) if below else None
        for pos in (declared, "below" if declared == "right" else "right"):
            fallback = pos != declared
            # the declared limits belong to the declared layout; a fallback gets defaults
            reg = (read_right if pos == "right" else read_below)(
                pw, m, None if fallback else f.max_dx, None if fallback else f.max_dy)
            region_words = [w for w in reg.words if stop_y is None or (w.bbox[1] + w.bbox[3]) / 2 < stop_y]
            words = pick_words(f.type, drop_ignored(region_words, f.ignore))
            if not words:
                continue
            sep = ", " if f.type == "address" else " "
            raw = sep.join(" ".join(w.text for w in ln.words) for ln in group_lines(words))
            raw = split_part(clean_text(raw), f.split)
            if f.type == "date":
                raw = find_date_text(raw) or raw
            if f.type in ("tax_id", "iban", "bic"):
                raw = re.sub(r"[\s|\[\]()]", "", raw)
            for extra in f.also:  # further boxes of the same value (PLZ/Ort beside the street)
                am = r.anchor([extra], m.page)
                if am is not None:
                    ws = pick_words(f.type, read_below(r.pages[am.page], am, None, f.max_dy).words)
                    if ws:
                        raw = f"{raw}, " + clean_text(" ".join(w.text for w in ws))
                        words = words + ws
            ef = self._finish(f, raw, r.sources[m.page], page=m.page, bbox=union([w.bbox for w in words]),
                              words=words, label_score=m.score, fallback=fallback)
            if not any(i.code.startswith("format_") for i in ef.issues):
                return ef
            first = first or ef  # unreadable as its type: maybe the other layout reads
        return first or ExtractedField(name=f.name, source="none", page=m.page)

    def _read_top(self, f: FieldDefinition, r: DocumentReader) -> ExtractedField:
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
        words = pick_words(f.type, reg.words)
        if not words:
            return ExtractedField(name=f.name, source="none")
        raw = clean_text(" ".join(w.text for w in words))
        # no label evidence: the position alone is weaker
        return self._finish(f, raw, r.sources[first], page=first, bbox=union([w.bbox for w in words]),
                            words=words, label_score=0.6)

    def _reread_band(self, f: FieldDefinition, r: DocumentReader) -> bool:
        """Read the field's band again as a block (``DocumentReader.reread_region``):
        from its label (a table's header) down, or — when the page read lost
        the label too — from the heading of its section (``f.after``) down."""
        header = r.locate(f)
        if header is not None:  # the header was read, (some of) the rows were not
            top, page, depth = header.bbox[1] - 0.5 * header.height, header.page, f.max_dy or 500
        else:
            a = r.anchor(f.after, f.page) if f.after else None
            if a is None:
                return False
            top, page, depth = a.bbox[3], a.page, SECTION_BAND + (f.max_dy or 500)
        pw = r.pages[page]
        if r.sources.get(page) != "ocr":
            return False
        k = pw.k
        band = [REREAD_MARGIN * k, top, pw.width - REREAD_MARGIN * k, min(pw.height, top + depth * k)]
        return r.reread_region(page, band)

    def _checkbox_group(self, f: FieldDefinition, r: DocumentReader) -> ExtractedField:
        anchor = r.locate(f) if f.label else None
        readings = []  # (p_ticked, option, label match, box reading)
        seen_option: Match | None = None  # an option label found on the page
        for o in f.options:
            on_page = f.page if anchor is None else anchor.page
            cands = r.matches(o.label, on_page) or r.glued_matches(o.label, on_page)
            if anchor is not None:
                ab = anchor.bbox
                k = r.pages[anchor.page].k
                cands = [m for m in cands if m.page == anchor.page and m.bbox[3] >= ab[1] - anchor.height
                         and distance(m.bbox, ab) <= _OPTION_RADIUS * k]
                cands.sort(key=lambda m: distance(m.bbox, ab))
            else:
                cands.sort(key=reading_key)
            if not cands:
                continue
            m = cands[0]
            seen_option = seen_option or m
            gray = r.gray(m.page)
            if gray is None:
                continue
            box = cb.read_box(gray, m.bbox, f.box)
            if box is None:
                continue
            readings.append((o, m, box))
        if not readings:
            if anchor is not None or seen_option:
                # the group is printed but no box could be read: "nothing ticked"
                # would be a guess (routing flags it as unreadable)
                return ExtractedField(name=f.name, source="checkbox", page=(anchor or seen_option).page,
                                      confidence=conf.UNREADABLE)
            return ExtractedField(name=f.name, source="none")
        # how clearly one box stands out from the group's others (extractors.checkbox)
        d = cb.decide_group([box for _, _, box in readings])
        if d.index is None:
            return ExtractedField(name=f.name, source="checkbox", page=readings[0][1].page, raw="",
                                  confidence=d.empty_confidence)
        o, m, box = readings[d.index]
        c = conf.combine("checkbox", label_score=m.score, extra=d.extra)
        issues = []
        if d.multiple:
            issues.append(ValidationIssue(code="multiple_options", message="Mehrere Kästchen sind angekreuzt.", fields=[f.name]))
        return ExtractedField(name=f.name, value=option_value(f, o.id), raw=" ".join(w.text for w in m.words),
                              confidence=c, page=m.page, bbox=[float(v) for v in box.bbox], source="checkbox",
                              issues=issues)

    def _table(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField:
        """The table's rows; when the page read skipped (part of) the ruled table,
        the table is read again as a block and the more complete reading kept."""
        first = self._table_rows(f, r, done)
        rows = first.value or []
        if rows and _complete_rows(first) == len(rows) and first.confidence > 0:
            return first
        if not self._reread_band(f, r):
            return first
        again = self._table_rows(f, r, done)
        return again if _complete_rows(again) > _complete_rows(first) else first

    def _table_rows(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField:
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
        header_bottom = max(m.bbox[3] for _, _, m in cols)
        # headers of columns that are not read: words under them belong to no column
        for lab in f.stop_columns:
            ms = [m for m in r.matches([lab], anchor.page) if abs(m.bbox[1] - ab[1]) < 3 * h]
            if ms:
                cols.append((max(ms, key=lambda m: m.score).bbox[0], None, ms[0]))
        cols.sort(key=lambda t: t[0])
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
                if col is None and cx < cols[0][0]:
                    col = cols[0][1]
                if col is not None:
                    cells.setdefault(col.name, []).append(w)
            lb = union([w.bbox for w in ln.words])
            for i, (x0, c, _) in enumerate(cols):
                if c is None:
                    continue
                ws = cells.get(c.name, [])
                if not ws and len(cells) >= 1:
                    # a row with other cells filled but this one empty: OCR often
                    # drops a short handwritten-looking name; read the cell alone
                    x1 = cols[i + 1][0] - 0.5 * h if i + 1 < len(cols) else lb[2]
                    box = [x0 - 1.5 * h, lb[1] - 0.3 * h, x1, lb[3] + 0.3 * h]
                    ws = [w for w in r.reocr(anchor.page, box) if w.text.strip()]
                raw = clean_text(" ".join(w.text for w in ws))
                if c.type == "date":
                    raw = find_date_text(raw) or raw
                rec[c.name] = normalise(c.type, raw) if raw else None
                if ws:
                    ok = rec[c.name] is not None
                    min_c = min(min_c, conf.combine(r.sources[anchor.page], words=ws, label_score=anchor.score,
                                                     format_failed=not ok))
            if any(v not in (None, "") for v in rec.values()):
                if any(rec.get(c.name) in (None, "") for _, c, _ in cols if c is not None):
                    min_c = min(min_c, TABLE_GAP_CONFIDENCE)  # an incomplete row is a guess
                rows.append(row_defaults(f, rec, done))
                all_words.extend(ln.words)
            if f.max_rows and len(rows) >= f.max_rows:
                break
        if not rows:
            return ExtractedField(name=f.name, source="none", page=anchor.page)
        return ExtractedField(name=f.name, value=rows, raw=f"{len(rows)} Zeilen", confidence=min_c,
                              page=anchor.page, bbox=union([w.bbox for w in all_words]),
                              source=r.sources[anchor.page])


def _complete_rows(ef: ExtractedField) -> int:
    """Rows of a table reading with every column read."""
    rows = ef.value if isinstance(ef.value, list) else []
    return sum(1 for row in rows if isinstance(row, dict) and all(v not in (None, "") for v in row.values()))
