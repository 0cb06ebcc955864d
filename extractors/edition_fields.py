"""Reading fields from the widget boxes of a registered known edition.

See ``extractors.editions`` for the registration. An uncertain value gets a
second, independent read of its box (``extractors.reocr``): the value line
located by the page read's words, enlarged twice (``reocr.ocr_line``); comb
fields are rebuilt cell by cell instead (``reocr.ocr_box``). The two reads
agree (sure), differ only by umlaut dots the page read lost (the enlarged
read is taken: at 300 dpi Tesseract drops dots far more often than it
invents them), or disagree (the more confident read, lowered: a clerk looks).
An empty box whose own read finds only noise stays empty but unreadable.
"""

from __future__ import annotations

import re
from typing import Any

from formwerk.models import ExtractedField, ValidationIssue

from extractors import checkbox as cb
from extractors import confidence as conf
from extractors.fieldtext import COMB_TYPES, drop_umlaut_stutter, glyphs_restored, marks_added, option_value, pick_words, row_defaults, same_value, script_has_foreign_letter, split_part, whitelist_for, worth_reocr
from extractors.layout import group_lines, union
from extractors.normalise import clean_text, find_date_text, join_split_day, normalise
from extractors.reader import DocumentReader
from extractors.regions import drop_ignored
from extractors.readers import Finisher
from extractors.reocr import THIRD_SCALE, WHITELISTS, ink_share, is_comb
from forms.catalogue import FieldDefinition


class EditionReader:
    """Known editions: the widget boxes of a page registered onto an edition.

    ``None`` when no page registered or the field has no box there. Its
    :meth:`second_look` (reads of the boxes alone) also serves the label reader.
    """

    name = "edition"

    def __init__(self, finish: Finisher):
        self._finish = finish

    def read(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField | None:
        if not r.registered:
            return None
        return self._from_edition(f, r, done)

    def _from_edition(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField | None:
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

    def _read_with_second_look(self, f: FieldDefinition, r: DocumentReader, boxes) -> ExtractedField:
        return self.second_look(f, r, boxes, self._read_boxes(f, r, boxes, reocr=None))

    def second_look(self, f: FieldDefinition, r: DocumentReader, boxes, ef: ExtractedField,
                     located: bool = True) -> ExtractedField:
        """``ef`` (the page read of ``boxes``) checked by reads of the boxes alone.

        ``located``: the boxes are the edition's own widget boxes. A box found
        from a printed label (``located=False``) may hold a neighbour's value,
        which every read confirms alike: agreement there is worth only
        ``conf.FOUND_AGREEMENT``, and a third read may confirm the page read
        but not overturn it."""
        page = boxes[0][0]
        if r.sources[page] != "ocr" or r.image(page) is None:
            return ef
        return self.restore_script(f, r, boxes, self._checked(f, r, boxes, ef, located))

    def restore_script(self, f: FieldDefinition, r: DocumentReader, boxes, ef: ExtractedField) -> ExtractedField:
        """The value line read with the field's script model (``f.script_lang``):
        its reading is taken where it only adds marks to letters the page read
        saw bare ("Nunez" / "Nuñez") or puts an acute, a double acute or a tilde
        in place of an umlaut ("Gaitän" / "Gaitán"), and, for a clerk to check,
        where it puts another mark there (a ring, a macron: "Ännchen" /
        "Ånnchen"; ``fieldtext.marks_added``). The page model (deu+eng) cannot write
        "ñ", "ç", "ø" or "ł" and reads them as their base letters, confidently,
        so the reads of the same model agree on the bare name; the script model
        has the marks and keeps the rest. Where it reads the name otherwise
        and with a letter outside German's alphabet the page read lacks
        (``fieldtext.script_has_foreign_letter``), the page read stands but a
        clerk looks: the page model reads letters it cannot write as others
        ("Gofi" for "Goñi", "Fi" for "Érica") as confidently as right ones.
        Its other disagreements change nothing: they are mostly the Latin
        model's own misreadings of names the page read got right ("Tran" read
        "TFN", "Daniel" read "Danie!"; ``bench.script_read``). On the
        extractor's reads of bench.handfilled dev, dev2 and heldout7 (values
        accepted before), right / wrong ones each variant sends to a clerk: any
        disagreement 4 / 5, a foreign letter or another letter count 2 / 5, a
        foreign letter 0 / 3 (on dev and dev2 alone: 3 / 0, 1 / 0, 0 / 0)."""
        if not f.script_lang or not isinstance(ef.value, str) or ef.source != "ocr":
            return ef
        again = self._read_boxes(f, r, boxes, reocr="script")
        if again.value is not None:
            again.value = drop_umlaut_stutter(again.value)
        kind = marks_added(ef.value, again.value) if again.value is not None else None
        if kind is None:
            if script_has_foreign_letter(ef.value, again.value):
                # a letter the page model cannot write: its reading of it is a guess (a clerk looks)
                ef.confidence *= conf.DISAGREEMENT
            return ef
        again.issues = ef.issues
        # marks the page model has not: its reading stands otherwise; a ring or a macron in
        # place of an umlaut it wrote is a disagreement of the two models: a clerk looks
        again.confidence = ef.confidence if kind in ("added", "accented") else ef.confidence * conf.DISAGREEMENT
        return again

    def _checked(self, f: FieldDefinition, r: DocumentReader, boxes, ef: ExtractedField,
                 located: bool) -> ExtractedField:
        """The second, third and rescue reads of :meth:`second_look`."""
        agreement = conf.AGREEMENT if located else conf.FOUND_AGREEMENT
        page = boxes[0][0]
        if worth_reocr(f, ef):
            # page OCR missed or garbled the value: recognise the boxes alone
            again = self._read_boxes(f, r, boxes, reocr="rescue")  # type: ignore[arg-type]
            if ef.value is None and again.value is not None and again.confidence < conf.RESCUE_MIN:
                # ink in a box the page read saw as empty, read as noise ("ae ae an"):
                # not a value, but not a sure blank either (routing: unreadable)
                return ExtractedField(name=f.name, source=again.source, page=again.page, bbox=again.bbox,
                                      confidence=conf.UNREADABLE)
            if again.value is not None and (ef.value is None or len(again.issues) < len(ef.issues)):
                return self._confirm_rescue(f, r, boxes, again, agreement)
            if ef.value is None and again.value is None and located and _written_in(r, boxes):
                # the applicant wrote something no read makes a value of (an e-mail
                # in 5 pt print read as "semerenscrosserapsien.de"): not a blank
                return ExtractedField(name=f.name, source="ocr", page=page, confidence=conf.UNREADABLE)
            return ef
        if ef.confidence < conf.SECOND_READ_BELOW and r.confirm_left > 0:
            # not sure: a second, independent read of the box decides
            r.confirm_left -= 1
            again = self._read_boxes(f, r, boxes, reocr="confirm")  # type: ignore[arg-type]
            if again.value is not None and same_value(ef.value, again.value):
                ef.confidence = max(ef.confidence, agreement)
            elif again.value is not None and not again.issues and glyphs_restored(ef.value, again.value):
                # the page read dropped umlaut dots the enlarged read sees ("Jurgen" / "Jürgen"),
                # or read a "g" as a "q" German has not ("Flieqner" / "Fliegner")
                again.confidence = max(again.confidence, conf.DOTS_RESTORED if located else agreement)
                return again
            elif again.value is not None and not again.issues and \
                    again.confidence >= conf.WEAK_SECOND_READ * ef.confidence:
                voted = self._third_read(f, r, boxes, ef, again, located)
                if voted is not None:
                    return voted
                # the reads disagree: keep the more confident one, lowered (a clerk looks)
                return _disputed(ef, again)
        return ef

    def _confirm_rescue(self, f: FieldDefinition, r: DocumentReader, boxes, rescued: ExtractedField,
                        agreement: float = conf.AGREEMENT) -> ExtractedField:
        """The page read garbled a value ("1171052026") that the box's own read
        recovered ("17.10.2026"): a read at the third size that agrees confirms it."""
        if rescued.confidence >= conf.SECOND_READ_BELOW or f.type in COMB_TYPES or r.reocr_left <= 0 \
                or any(_comb_box(r, pg, box) for pg, box in boxes):
            return rescued
        third = self._read_boxes(f, r, boxes, reocr="third")
        if third.value is not None and not third.issues and same_value(third.value, rescued.value):
            rescued.confidence = max(rescued.confidence, agreement)
        return rescued

    def _third_read(self, f: FieldDefinition, r: DocumentReader, boxes, first: ExtractedField,
                    second: ExtractedField, located: bool = True) -> ExtractedField | None:
        """Two reads disagree: a third read at another size (``reocr.THIRD_SCALE``) sides with one.

        For types whose characters the enlarged reads confuse alike (e-mail:
        j/i, y/v), and for boxes found from labels (not ``located``; on
        generated scans two enlarged reads made "0" a "6" together), the vote
        can only confirm the page read, never overturn it.
        Not when the outvoted read has a rare glyph (§, &, ß, umlauts) the
        winners lack: enlarged reads turn "§" into "8" together.
        None: no majority, a clerk decides.
        """
        if f.type in COMB_TYPES or r.reocr_left <= 0:
            return None
        if any(_comb_box(r, pg, box) for pg, box in boxes):
            return None  # comb cells are read one way only (``reocr.ocr_box``): no independent third read
        third = self._read_boxes(f, r, boxes, reocr="third")
        if third.value is None or third.issues:
            return None
        confirm_only = not located or f.type in _CONFIRM_ONLY_TYPES
        orders = ((first, second),) if confirm_only else ((second, first), (first, second))
        for winner, loser in orders:
            if same_value(third.value, winner.value) and not _lost_glyph(loser.value, winner.value):
                winner.confidence = max(winner.confidence, conf.MAJORITY if located else conf.FOUND_AGREEMENT)
                return winner
        return None

    def _read_boxes(self, f: FieldDefinition, r: DocumentReader, boxes: list[tuple[int, list[float]]],
                    reocr: str | None) -> ExtractedField:
        """Text of the boxes: page words, or (``reocr`` = "rescue"/"confirm"/"third"/"script") a new OCR of each box."""
        parts, words, page = [], [], None
        for pg, box in boxes:
            page = page or pg
            if reocr and (f.type in COMB_TYPES or _comb_box(r, pg, box)):
                k = r.pages[pg].dpi / 72
                ws = r.reocr(pg, box, multiline=(box[3] - box[1]) > 26 * k,
                             whitelist=whitelist_for(f))
            elif reocr:
                region, multiline = _line_region(r, pg, box, f, whole_width=reocr == "rescue")
                scale = THIRD_SCALE if reocr == "third" else None
                lang = f.script_lang if reocr == "script" else None
                ws = r.reread(pg, region, counted=lang is None, multiline=multiline, scale=scale, lang=lang) \
                    if region is not None else []
            else:
                ws = r.words_in(pg, box)
            ws = pick_words(f.type, drop_ignored(ws, f.ignore))
            if ws:
                sep = ", " if f.type == "address" else " "
                parts.append(sep.join(" ".join(w.text for w in ln.words) for ln in group_lines(ws)))
                words.extend(ws)
        sep = f.compose_sep if f.compose else " "
        raw = split_part(clean_text(sep.join(parts)), f.split)
        if f.type == "date":
            raw = join_split_day(raw)
            raw = find_date_text(raw) or raw
        if f.type in ("tax_id", "bic", "iban"):
            raw = re.sub(r"[\s|\[\]()]", "", raw)
        if not words:
            return ExtractedField(name=f.name, source="none", page=page)
        return self._finish(f, raw, r.sources[page], page=page, bbox=union([w.bbox for w in words]), words=words)

    def _edition_choice(self, f: FieldDefinition, r: DocumentReader) -> ExtractedField | None:
        readings = []
        for o in f.options:
            for key in o.acroform:
                wb = r.widget_box(key)
                if wb is None:
                    continue
                gray = r.gray(wb[0])
                if gray is None:
                    return None
                readings.append((o, wb, cb.read_known_box(gray, wb[1])))
                break
        if not readings:
            return None
        # how clearly one box stands out from the group's others (extractors.checkbox)
        d = cb.decide_group([rd for _, _, rd in readings])
        if d.index is None:
            return ExtractedField(name=f.name, source="checkbox", page=readings[0][1][0],
                                  confidence=d.empty_confidence)
        o, (page, box), _ = readings[d.index]
        issues = []
        if d.multiple:
            issues.append(ValidationIssue(code="multiple_options", message="Mehrere Kästchen sind angekreuzt.", fields=[f.name]))
        return ExtractedField(name=f.name, value=option_value(f, o.id), raw=o.label[0] if o.label else o.id,
                              confidence=conf.combine("checkbox", extra=d.extra), page=page,
                              bbox=[float(v) for v in box], source="checkbox", issues=issues)

    def _edition_table(self, f: FieldDefinition, r: DocumentReader, done: dict) -> ExtractedField | None:
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
                    ws = r.reocr(page, wb[1], whitelist=WHITELISTS.get(c.type))
                    if not ws:  # ink but no text: the row is incomplete
                        min_c = min(min_c, conf.FORMAT_FAILURE)
                raw = clean_text(" ".join(w.text for w in ws))
                if c.type == "date":
                    raw = find_date_text(raw) or raw
                rec[c.name] = normalise(c.type, raw) if raw else None
                if ws:
                    all_words.extend(ws)
                    min_c = min(min_c, conf.combine(r.sources[page], words=ws, format_failed=rec[c.name] is None))
            if any(v not in (None, "") for v in rec.values()):
                rows.append(row_defaults(f, rec, done))
        if not any_box:
            return None
        if not rows:
            return ExtractedField(name=f.name, source="none", page=page)
        return ExtractedField(name=f.name, value=rows, raw=f"{len(rows)} Zeilen", confidence=min_c, page=page,
                              bbox=union([w.bbox for w in all_words]), source=r.sources[page])


def _written_in(r: DocumentReader, boxes) -> bool:
    """Whether the page read saw a written word in a widget box: four or more
    letters or digits in one word (frame debris is shorter)."""
    return any(len(re.sub(r"[^0-9A-Za-zÄÖÜäöüß]", "", w.text)) >= 4
               for pg, box in boxes for w in r.words_in(pg, box))


def _comb_box(r: DocumentReader, page: int, box: list[float]) -> bool:
    img = r.image(page)
    return img is not None and is_comb(img, box)


#: a word box lower than this (points) is not text: no font on a form is that small
MIN_TEXT_HEIGHT_PT = 3.0


def _line_region(r: DocumentReader, page: int, box: list[float],
                 f: FieldDefinition | None = None, whole_width: bool = False) -> tuple[list[float] | None, bool]:
    """Where to read a box's value again, and whether it spans several lines.

    The page read's words locate the value well even when they misread it
    (and the value often overflows its widget box downwards): their union,
    widened by part of a line height. Without words: the box itself, no
    margin (printed labels end right beside many boxes).
    """
    k = r.pages[page].dpi / 72
    ws = r.words_in(page, box)
    if f is not None:
        ws = pick_words(f.type, drop_ignored(ws, f.ignore))
    # frame debris (":" or "|" read where the value was missed, or a sliver of
    # ruling line read as "ae", 1 pt tall) does not locate a value: the region
    # would be that sliver, and every read of it agrees on a piece of the value
    ws = [w for w in ws if re.search(r"[0-9A-Za-zÄÖÜäöüß@]", w.text)
          and w.bbox[3] - w.bbox[1] >= MIN_TEXT_HEIGHT_PT * k]
    if not ws:
        return list(box), (box[3] - box[1]) > 26 * k
    lines = group_lines(ws)
    u = union([w.bbox for w in ws])
    h = max(w.bbox[3] - w.bbox[1] for w in ws)
    # values overflow their box downwards and the next box's label follows
    # closely: little room below the words
    region = [u[0] - 0.35 * h, u[1] - 0.15 * h, u[2] + 0.35 * h, max(u[3], box[3]) + 0.05 * h]
    if whole_width:
        # a rescue: the page read garbled or lost part of the value, often its
        # start ("DE44" merged into debris left of "4618 7045 …"), so the words
        # say which line to read but not where it begins or ends
        region[0], region[2] = box[0], box[2]
    # inside the box's fill: its edge against the paper reads as "(" or "|"
    region[0], region[2] = max(region[0], box[0] + 0.5 * k), min(region[2], box[2] - 0.5 * k)
    return region, len(lines) > 1


#: value types whose third read may only confirm the page read (the enlarged
#: reads share their confusions: "ioern" for "joern", "bever" for "beyer")
_CONFIRM_ONLY_TYPES = ("email",)


def _rare(c: str) -> bool:
    return ord(c) > 127 or c in "§&"


def _lost_glyph(loser, winner) -> bool:
    """The outvoted read has a rare glyph (§, &, ß, umlauts, accents) the winning
    reads lack, or it has fewer spaces in the same characters: enlarged reads
    turn "§" into "8" and split "31297" into "31 297" together."""
    lo, wi = str(loser), str(winner)
    if any(_rare(c) and c not in wi for c in lo):
        return True
    return lo.replace(" ", "") == wi.replace(" ", "") and lo.count(" ") < wi.count(" ")




def _disputed(a: ExtractedField, b: ExtractedField) -> ExtractedField:
    best = b if b.confidence > a.confidence else a
    best.confidence *= conf.DISAGREEMENT
    return best
