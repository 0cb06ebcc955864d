"""Per-extraction state: words per page, printed (label) words, registered editions.

Units: page pixels at the page's dpi, top-left origin (formwerk.models).
"""

from __future__ import annotations

import logging
import re
import statistics
from datetime import date
from typing import Any, Callable

from PIL import Image

from formwerk.errors import OcrEngineError, OcrModelMissing
from formwerk.models import AcroFormValue, DocumentContent, Word

from extractors import checkbox as cb
from extractors.editions import Registration, register
from extractors.layout import Match, find_label, group_lines, reading_key
from extractors.regions import PageWords
from extractors.reocr import TESSERACT_CROPS, CropOcr, ocr_block, ocr_box, ocr_line
from forms.catalogue import Edition, FieldDefinition, FormDefinition

PageImage = Callable[[int], "Image.Image | None"]

log = logging.getLogger(__name__)

#: boxes one document may send to second-chance OCR (extractors.reocr) when a
#: value is missing or unreadable, and fields that may get a confirming read
REOCR_BUDGET = 24
CONFIRM_BUDGET = 16
_OFF = {"", "off", "false", "0", "no", "nein", "none"}
#: a single word becomes a stopping "printed" word only if at least this long
_MIN_PRINTED_SINGLE = 5
#: share of a printed text's characters its match must cover to mark words printed
_MIN_COVERAGE = 0.5
#: how far (pixels at 300 dpi) an option label may be from its group label
_OPTION_RADIUS = 2600
#: a checkbox read as text before its label: frame strokes and the tick
_BOX_DEBRIS = re.compile(r"[\[\]|_(){}LJIilMNXxUuOo0%&@®©]+")
_MAX_BOX_DEBRIS = 3
#: label evidence of an option label found glued to its box's debris
GLUED_LABEL_SCORE = 0.8
_WIDGET_MARGIN_PT = 1.0
#: page-read words a block re-read never replaces (``reread_region``)
_SURE_WORD = 0.6
_SMALL_PRINT = 0.6
_DEBRIS_CONF = 0.6
_EDGE_DEBRIS = re.compile(r"^[|\[\]_]+|[|\[\]_]+$")


def _acro_checked(v: AcroFormValue | None) -> bool:
    return v is not None and v.value.strip().lstrip("/").lower() not in _OFF


class DocumentReader:
    """State for one extraction: words per page, printed words, page images.

    ``ocr``: the engine of second reads of boxes and regions (``extractors.reocr``),
    injected by the extractor; they run within the document's budgets below.
    A second read the engine gives up on (its timeout: ``OcrEngineError``)
    reads nothing, never fails the extraction, and ends the document's second
    reads (:meth:`_engine_failed`); ``second_read_failures`` records them.
    """

    def __init__(self, form: FormDefinition, content: DocumentContent, page_image: PageImage, today: date,
                 ocr: CropOcr = TESSERACT_CROPS):
        self.form = form
        self.today = today
        self.page_image = page_image
        self.ocr = ocr
        # one entry per widget: radio groups repeat the name, one kid per
        # option; keep the ticked kid (any state other than Off)
        self.acro: dict[str, AcroFormValue] = {}
        for a in content.acroform:
            if a.name not in self.acro or not _acro_checked(self.acro[a.name]) and a.value.strip():
                self.acro[a.name] = a
        if not any(a.value.strip() and a.value.strip().lstrip("/").lower() not in _OFF for a in self.acro.values()):
            self.acro = {}  # an unfilled form: the values (if any) are in the words
        self._pages: dict[int, PageWords] = {}
        self.sources: dict[int, str] = {}
        for p in content.pages:
            self._pages[p.page] = PageWords(p.page, p.words, p.dpi, p.width, p.height)
            self.sources[p.page] = "text_layer" if p.source == "text_layer" else "ocr"
        self._gray: dict[int, Any] = {}
        self._img: dict[int, Any] = {}
        self._full_lines: list | None = None
        self.reocr_left = REOCR_BUDGET
        self.confirm_left = CONFIRM_BUDGET
        #: (page, kind) of each second read the engine gave up on (``_engine_failed``)
        self.second_read_failures: list[tuple[int, str]] = []
        self._reread: list[tuple[int, list[float]]] = []  # regions read again (``reread_region``)
        # lines, printed words and edition registration are built on first use: a filled
        # AcroForm read wholly from its widgets never needs them (two thirds of its extraction)
        self._prepared = False
        self._lines: dict[int, list] = {}
        self._registered: dict[int, tuple[Edition, Registration]] = {}

    def _prepare(self) -> None:
        if self._prepared:
            return
        self._prepared = True  # before the steps below: they read pages and lines themselves
        self._lines = {n: group_lines(pw.words) for n, pw in self._pages.items()}
        self._mark_printed()
        self._registered = self._register()

    @property
    def pages(self) -> dict[int, PageWords]:
        """Words per page, the form's printed words marked (prepared on first use)."""
        self._prepare()
        return self._pages

    @property
    def lines(self) -> dict[int, list]:
        """The pages' words grouped into lines (prepared on first use)."""
        self._prepare()
        return self._lines

    @property
    def registered(self) -> dict[int, tuple[Edition, Registration]]:
        """edition page → (edition, registration of the document page that shows it)."""
        self._prepare()
        return self._registered

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
            # (compared as font sizes: "von" has no ascender, "Vermittlung" has both)
            # The reference is the median of the larger words, not the largest:
            # one box Tesseract drew too tall ("09.08." spanning a box line)
            # would otherwise make the rest of the value ("1", "966") small print.
            sizes = [font_size(w) for w in ws]
            ref = statistics.median([h for h in sizes if h >= 0.5 * max(sizes)])
            # a lone "@" is no small print: its box height varies by font, and
            # dropping it split "hans-rainer.voss @ posteo.de" into two non-addresses
            ws = [w for w, h in zip(ws, sizes) if h >= _SMALL_PRINT * ref or w.text == "@"]
        return ws

    # -- printed words ---------------------------------------------------
    def _mark_printed(self, only_page: int | None = None) -> None:
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
            if only_page is not None and n != only_page:
                continue
            pw = self.pages[n]
            for texts, stop in ((stop_texts, True), (skip_texts, False)):
                for t in texts:
                    for m in find_label(t, lines):
                        # a long printed text aligned onto a short line is a value that
                        # happens to share words with it ("Herstellung von Möbeln"
                        # quoted as an example in the instructions): not printed
                        if sum(len(w.text) + 1 for w in m.words) < _MIN_COVERAGE * len(t):
                            continue
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

    def glued_matches(self, texts: list[str], page: int | None = None) -> list[Match]:
        """One-word labels OCR glued to the checkbox before them ("[Jnein", "Mija"):
        a word that ends with the label after at most three characters of box
        debris. The match covers the label's share of the word, so the box is
        looked for where the debris was."""
        out: list[Match] = []
        for t in texts:
            label = t.casefold()
            if " " in label:
                continue
            for n, lines in self.lines.items():
                if page is not None and n != page:
                    continue
                for ln in lines:
                    for w in ln.words:
                        s = w.text.casefold()
                        cut = len(s) - len(label)
                        if not (1 <= cut <= _MAX_BOX_DEBRIS and s.endswith(label) and _BOX_DEBRIS.fullmatch(w.text[:cut])):
                            continue
                        x0, y0, x1, y1 = w.bbox
                        x_cut = x0 + (x1 - x0) * cut / len(s)
                        part = w.model_copy(update={"text": w.text[cut:], "bbox": [x_cut, y0, x1, y1]})
                        out.append(Match(label=t, page=n, words=[part], score=GLUED_LABEL_SCORE))
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
        if "occurrence" in f.model_fields_set or self._label_shared(f, texts):
            # an explicit occurrence means the n-th printed copy of the label
            # (new and previous address, Person 1 and 2): the order on the page decides,
            # not the score — one OCR slip ("StraRe") must not swap the blocks
            return _page_order(cands)
        best = max(m.score for m in cands)
        pool = [m for m in cands if m.score >= best - 0.06]
        # variants are listed in order of preference (the one nearest the value first)
        rank = {t: i for i, t in enumerate(texts)}
        top = min(rank.get(m.label, 99) for m in pool)
        preferred = sorted([m for m in pool if rank.get(m.label, 99) == top], key=reading_key)
        others = sorted([m for m in pool if rank.get(m.label, 99) != top], key=reading_key)
        return preferred + others

    @property
    def full_lines(self) -> list:
        """Whole visual lines of all pages (no column split), for free-layout readers."""
        if self._full_lines is None:
            from extractors.invoice_fields import full_lines  # noqa: PLC0415 - only invoices need it

            self._full_lines = full_lines(self.pages)
        return self._full_lines

    def _label_shared(self, f: FieldDefinition, texts: list[str]) -> bool:
        return any(o is not f and o.occurrence > 1 and set(o.label) & set(texts) for o in self.form.fields)

    def reocr(self, page: int, box: list[float], **kw) -> list[Word]:
        """Second-chance OCR of one box, within the document's budget of boxes.

        Why a budget: each box costs a Tesseract start (~0.3–0.6 s on one
        core); a document must not take much longer to check than to OCR. A
        count, not a time: the same input must give the same result.
        """
        img = self.image(page)
        if img is None or self.reocr_left <= 0:
            return []
        self.reocr_left -= 1
        try:
            return ocr_box(img, box, page, ocr=self.ocr, **kw)
        except OcrEngineError as exc:
            self._engine_failed(page, "box", exc)
            return []

    def reread_region(self, page: int, region: list[float]) -> bool:
        """Read ``region`` again as a block and merge its words into the page's.

        Tesseract's page layout analysis sometimes skips the inside of a ruled
        table (header and values gone, or read as one garbled word per cell);
        erasing the ruling lines and reading the region as one block recovers
        it. The page read's confident words stay; a block word joins where it
        overlaps none of them and replaces the unsure words it overlaps.
        Within the document's re-OCR budget, and once per region (fields of one
        section share their band); True when words were added.
        """
        img = self.image(page)
        if img is None or self.sources.get(page) != "ocr" or self.reocr_left <= 0:
            return False
        if any(p == page and _contains(done, region) for p, done in self._reread):
            return False
        self._reread.append((page, list(region)))
        self.reocr_left -= 1
        pw = self.pages[page]
        try:
            block = ocr_block(img, region, page, pw.dpi / 72, ocr=self.ocr)
        except OcrEngineError as exc:
            self._engine_failed(page, "block", exc)
            return False
        sure = [w for w in pw.words if w.confidence >= _SURE_WORD]
        added = [w for w in block if not any(_overlap(w.bbox, s.bbox) for s in sure)]
        if not added:
            return False
        kept = [w for w in pw.words if w.confidence >= _SURE_WORD or not any(_overlap(w.bbox, a.bbox) for a in added)]
        self.pages[page] = PageWords(page, kept + added, pw.dpi, pw.width, pw.height)
        self.lines[page] = group_lines(self.pages[page].words)
        self._mark_printed(only_page=page)
        return True

    def reread(self, page: int, region: list[float], counted: bool = True, **kw) -> list[Word]:
        """A second read of one value line (``extractors.reocr.ocr_line``), same budget as
        :meth:`reocr` (``counted``; a form's few name lines read with the script
        model are not: one short line each, ``FieldDefinition.script_lang``)."""
        img = self.image(page)
        if img is None or (self.reocr_left <= 0 if counted else bool(self.second_read_failures)):
            return []
        if counted:
            self.reocr_left -= 1
        try:
            return ocr_line(img, region, page, ocr=self.ocr, **kw)
        except OcrModelMissing as exc:
            # an extra read's model (``script_lang``) is not installed: the field keeps
            # its reading, the other reads go on
            log.warning("extra read skipped: form %s page %d: %s", self.form.id, page, exc.detail or exc.message)
            return []
        except OcrEngineError as exc:
            self._engine_failed(page, "line", exc)
            return []

    def _engine_failed(self, page: int, kind: str, exc: OcrEngineError) -> None:
        """A second read timed out (or its engine failed): it read nothing.

        The field keeps what the page read gave it: a value the page read
        missed or garbled stays missing/invalid or unreadable (routing sends
        it to a clerk), an unsure one stays unconfirmed. No further second
        reads for this document: an engine that hung once (a stuck process,
        an overloaded host) hangs again, and the extraction must end within
        its activity's timeout. Logged with the form, page and kind of read
        only: no value, no crop.
        """
        self.second_read_failures.append((page, kind))
        self.reocr_left = 0
        self.confirm_left = 0
        log.warning("second read skipped: form %s page %d %s read: %s; no more second reads for this document",
                    self.form.id, page, kind, exc.detail or exc.message)

    def image(self, page: int) -> Image.Image | None:
        if page not in self._img:
            self._img[page] = self.page_image(page) if self.page_image else None
        return self._img[page]

    def gray(self, page: int):
        if page not in self._gray:
            img = self.image(page)
            self._gray[page] = cb.to_gray(img) if img is not None else None
        return self._gray[page]



def _contains(outer: list[float], inner: list[float]) -> bool:
    return outer[0] <= inner[0] + 1 and outer[1] <= inner[1] + 1 and outer[2] >= inner[2] - 1 and outer[3] >= inner[3] - 1


def _overlap(a: list[float], b: list[float]) -> bool:
    """The boxes share at least a third of the smaller one's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return False
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h >= small / 3


def _page_order(ms: list[Match]) -> list[Match]:
    """Reading order robust to a pixel of skew: matches whose vertical centres
    are within half a label height form one row, rows left to right."""
    out: list[Match] = []
    rest = sorted(ms, key=lambda m: (m.page, (m.bbox[1] + m.bbox[3]) / 2))
    while rest:
        first = rest[0]
        cy = (first.bbox[1] + first.bbox[3]) / 2
        row = [m for m in rest if m.page == first.page and abs((m.bbox[1] + m.bbox[3]) / 2 - cy) <= 0.5 * first.height]
        out.extend(sorted(row, key=lambda m: m.bbox[0]))
        rest = [m for m in rest if not any(m is x for x in row)]
    return out


_ASCENDING = re.compile(r"[A-ZÄÖÜ0-9bdfhkltäöüß&§/()\[\]{}|!?%@#$€]")
_DESCENDING = re.compile(r"[gjpqy,;()\[\]{}|@§]")


def font_size(w: Word) -> float:
    """A word's box height scaled to the font's full height (ascender to descender).

    A box spans only the parts of the font its letters use: an x-height word
    ("von", "nur") is about half as tall as "Vermittlung" in the same font.
    Shares of the em for a Helvetica-like face.
    """
    h = w.bbox[3] - w.bbox[1]
    up, down = bool(_ASCENDING.search(w.text)), bool(_DESCENDING.search(w.text))
    share = 0.93 if up and down else 0.72 if up else 0.72 if down else 0.53
    return h / share


def _overlap_x(a: list[float], b: list[float]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
