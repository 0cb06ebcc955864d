"""Cover letters: case references, dates and the sender, by spaCy rule matchers.

A letter to the town hall often cites the case it is about ("Az.: FV-2026-0042",
"Ihr Zeichen: 32-1/2026"). This module reads the page words of a document with
no form template into German text (one line per printed line), tokenises it
with ``spacy.blank("de")`` and finds:

* **references** — a token after a cue ("Aktenzeichen", "Az.", "Ihr Zeichen",
  "Geschäftszeichen", "Vorgangsnummer", "Kassenzeichen", …: kind ``cue``), and
  tokens shaped like the references Fachverfahren submit even without a cue
  (``FV-2026-0042``: letters-year-number; ``32-1/2026``: numbers/year; kind
  ``shape``). Dates are never references; bare numbers (postcodes, house
  numbers, phone numbers, amounts) are not taken without a cue;
* **dates** — ``17.06.2026``, ``17. Juni 2026`` (ISO in ``iso``);
* **sender** — the name under "Mit freundlichen Grüßen", when there is one.

Candidates are only candidates: ``link_candidates`` looks them up in the case
store by exact match, and links only when exactly one other case answers.

The pipeline is built once, lazily, and used under a lock (activities run in
threads; a letter takes a few milliseconds).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from formwerk.models import PageContent, Word

#: a letter longer than this (characters per page) is not read for references
MAX_PAGE_CHARS = 20_000
#: candidates looked up at most (the first in reading order)
MAX_CANDIDATES = 20

# one whitespace-free token that may be a reference: alphanumerics joined by - / . : _
# (the tokenizer keeps these whole instead of splitting "FV-2026-0042" at its hyphens)
_REF_TOKEN = re.compile(r"[0-9A-Za-zÄÖÜäöüß]+(?:[-/.:_][0-9A-Za-zÄÖÜäöüß]+)+")
_HAS_DIGIT = re.compile(r"\d")
_NUM_DATE = r"^(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])\.((19|20)?\d{2})$"
_MONTHS = ["januar", "jänner", "februar", "märz", "maerz", "april", "mai", "juni", "juli", "august",
           "september", "oktober", "november", "dezember", "jan", "feb", "mär", "apr", "jun", "jul",
           "aug", "sep", "sept", "okt", "nov", "dez"]
# references as Fachverfahren submit them, recognised without a cue
_SHAPES = [
    r"^[A-ZÄÖÜ]{1,6}-(19|20)\d{2}-\d{1,8}$",  # FV-2026-0042
    r"^[1-9]\d{0,3}(?:[-.]\d{1,4})+/(19|20)\d{2}$",  # 32-1/2026, 12.3/2025 (not 69/92, not 06/2026)
]
# the value after a cue: a token with a digit (not a date), 2..60 characters
_VALUE = r"^(?=.*\d)[0-9A-Za-zÄÖÜäöüß][0-9A-Za-zÄÖÜäöüß./:_-]{1,59}$"
# cue phrases (lower case, as tokenised), the optional "Nr." after them
_CUES = [
    ["aktenzeichen"], ["az"], ["gz"], ["geschäftszeichen"], ["geschaeftszeichen"],
    ["ihr", "zeichen"], ["ihr", "aktenzeichen"], ["ihre", "zeichen"], ["unser", "zeichen"],
    ["unser", "aktenzeichen"], ["mein", "zeichen"], ["ihr", "az"], ["unser", "az"],
    ["vorgangsnummer"], ["vorgangsnr"], ["vorgangs-nr"], ["vorgang"], ["kassenzeichen"],
    ["fallnummer"], ["antragsnummer"], ["bearbeitungsnummer"],
]
# the signature's name: "Jürgen Müller-Lüdenscheidt", "Anna von Berg"
_NAME_WORD = r"[A-ZÄÖÜ][a-zäöüßéèáàç'’]+(?:-[A-ZÄÖÜ][a-zäöüßéèáàç'’]+)*"
_NAME_START = rf"^{_NAME_WORD}$"
_NAME_PART = rf"^(?:{_NAME_WORD}|-|von|van|de|zu|der|den)$"
_CLOSINGS = [["mit", "freundlichen", "grüßen"], ["mit", "freundlichen", "grüssen"],
             ["freundliche", "grüße"], ["mit", "besten", "grüßen"], ["hochachtungsvoll"]]


@dataclass
class ReferenceCandidate:
    """A text on a page that may cite a case: ``value`` is what is looked up."""

    value: str  # the reference as written, e.g. "FV-2026-0042"
    text: str  # the whole phrase, e.g. "Az.: FV-2026-0042"
    kind: str  # "cue" (after Aktenzeichen, Az., Ihr Zeichen, ...) or "shape" (a reference's form alone)
    page: int
    start: int  # character offsets of ``value`` in the page's text (``LetterReading.texts``)
    end: int
    cue: str = ""  # the cue as written, e.g. "Az." or "Ihr Zeichen"
    bbox: list[float] = field(default_factory=list)  # page pixels

    def lookups(self) -> list[str]:
        """The strings a stored ``reference`` (or ``case_id``) is compared with, exactly."""
        out = [self.value]
        if self.cue:
            out.append(f"{self.cue} {self.value}")  # a Fachverfahren that stores "Az. 123.45:7"
        return out


@dataclass
class FoundDate:
    text: str
    iso: str | None
    page: int
    start: int
    end: int


@dataclass
class LetterReading:
    references: list[ReferenceCandidate] = field(default_factory=list)
    dates: list[FoundDate] = field(default_factory=list)
    sender: str | None = None
    texts: dict[int, str] = field(default_factory=dict)  # page -> the text the offsets point into


# -- the pipeline (once, lazily) ------------------------------------------------------------

_lock = threading.Lock()
_nlp = None
_cue_matcher = None
_closing_matcher = None


def _build():
    import spacy
    from spacy.matcher import Matcher

    nlp = spacy.blank("de")
    default_match = nlp.tokenizer.token_match

    def token_match(text: str):
        # "FV-2026-0042", "32-1/2026", "123.45:7" stay one token (the German rules split them)
        return bool(_REF_TOKEN.fullmatch(text) and _HAS_DIGIT.search(text)) or (
            default_match is not None and default_match(text))

    nlp.tokenizer.token_match = token_match
    # a sentence's full stop after a reference or date ("… FV-2026-0042.", "… vom 17.06.2026.") is split
    # off; "17." of "17. Juni" is kept (German ordinals). Python's look-behind is of fixed width.
    ends = [rf"(?<=[-/:][0-9A-Za-z]{{{k}}})\.$" for k in range(1, 9)]
    ends += [rf"(?<=\d\.\d{{{k}}})\.$" for k in (2, 4)]
    nlp.tokenizer.suffix_search = spacy.util.compile_suffix_regex(list(nlp.Defaults.suffixes) + ends).search
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(
        [{"label": "DATE", "pattern": [{"TEXT": {"REGEX": _NUM_DATE}}]},
         {"label": "DATE", "pattern": [{"TEXT": {"REGEX": r"^(0?[1-9]|[12]\d|3[01])\.$"}},
                                       {"LOWER": {"IN": _MONTHS}}, {"ORTH": ".", "OP": "?"},
                                       {"TEXT": {"REGEX": r"^(19|20)\d{2}$"}}]}]
        + [{"label": "CASE_REF", "pattern": [{"TEXT": {"REGEX": s}}]} for s in _SHAPES])
    sep = [{"ORTH": {"IN": [".", ":", "-", "Nr", "Nr.", "nr", "nr.", "Nummer", "#"]}, "OP": "*"},
           {"IS_SPACE": True, "OP": "*"}]
    cues = Matcher(nlp.vocab)
    for words in _CUES:
        cue = [{"LOWER": w} for w in words]
        cues.add("CUE", [cue + sep + [{"TEXT": {"REGEX": _VALUE}}]])
    closings = Matcher(nlp.vocab)
    for words in _CLOSINGS:
        closings.add("CLOSING", [[{"LOWER": w} for w in words] + [
            {"ORTH": {"IN": [",", "!", "."]}, "OP": "?"}, {"IS_SPACE": True, "OP": "+"},
            {"TEXT": {"REGEX": _NAME_START}}, {"TEXT": {"REGEX": _NAME_PART}, "OP": "+"}]])
    return nlp, cues, closings


def pipeline():
    """(nlp, cue matcher, closing matcher), built on first use."""
    global _nlp, _cue_matcher, _closing_matcher
    if _nlp is None:
        with _lock:
            if _nlp is None:
                built = _build()
                _cue_matcher, _closing_matcher = built[1], built[2]
                _nlp = built[0]
    return _nlp, _cue_matcher, _closing_matcher


# -- pages to text ----------------------------------------------------------------------------


def page_text(page: PageContent) -> tuple[str, list[tuple[int, int, Word]]]:
    """The page's words as lines of text, and (start, end, word) of every word in it."""
    from extractors.layout import group_lines

    parts: list[str] = []
    spans: list[tuple[int, int, Word]] = []
    pos = 0
    for line in group_lines([w for w in page.words if w.text.strip()], split_gaps=False):
        for i, w in enumerate(line.words):
            text = w.text.strip()
            if i:
                parts.append(" ")
                pos += 1
            spans.append((pos, pos + len(text), w))
            parts.append(text)
            pos += len(text)
        parts.append("\n")
        pos += 1
    return "".join(parts), spans


def _bbox(spans: list[tuple[int, int, Word]], start: int, end: int) -> list[float]:
    boxes = [w.bbox for s, e, w in spans if s < end and e > start and w.bbox]
    if not boxes:
        return []
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def _is_date(text: str) -> bool:
    return re.match(_NUM_DATE, text) is not None


# -- reading ------------------------------------------------------------------------------------


def read_text(text: str, page: int = 1, spans: list[tuple[int, int, Word]] | None = None) -> LetterReading:
    """References, dates and sender in one page's text."""
    from extractors.normalise import normalise_date

    out = LetterReading(texts={page: text})
    if not text.strip() or len(text) > MAX_PAGE_CHARS:
        return out
    nlp, cues, closings = pipeline()
    with _lock:  # the tokenizer's cache and the matchers are not made for threads
        doc = nlp(text)
        cue_hits = cues(doc)
        closing_hits = closings(doc)
    taken: set[int] = set()  # token index of every value already a candidate
    found: list[ReferenceCandidate] = []
    for _, s, e in sorted(cue_hits, key=lambda h: (h[1], -(h[2] - h[1]))):
        value = doc[e - 1]
        if value.i in taken or _is_date(value.text):
            continue
        cue_end = s
        while cue_end < e - 1 and not (doc[cue_end].is_punct or doc[cue_end].is_space
                                       or doc[cue_end].lower_ in ("nr", "nr.", "nummer")):
            cue_end += 1
        cue = doc[s:cue_end].text
        if cue_end < e - 1 and doc[cue_end].text == ".":  # "Az." keeps its point
            cue += "."
        taken.add(value.i)
        found.append(ReferenceCandidate(
            value=value.text, text=doc[s:e].text.replace("\n", " "), kind="cue", page=page,
            start=value.idx, end=value.idx + len(value.text), cue=cue,
            bbox=_bbox(spans, value.idx, value.idx + len(value.text)) if spans else []))
    for ent in doc.ents:
        if ent.label_ == "CASE_REF" and ent.start not in taken:
            taken.add(ent.start)
            found.append(ReferenceCandidate(
                value=ent.text, text=ent.text, kind="shape", page=page, start=ent.start_char,
                end=ent.end_char, bbox=_bbox(spans, ent.start_char, ent.end_char) if spans else []))
        elif ent.label_ == "DATE":
            out.dates.append(FoundDate(text=ent.text, iso=normalise_date(ent.text), page=page,
                                       start=ent.start_char, end=ent.end_char))
    out.references = sorted(found, key=lambda c: c.start)
    if closing_hits:
        _, s, e = max(closing_hits, key=lambda h: (h[2] - h[1], h[1]))  # the longest: the whole name
        span = doc[s:e]
        first_space = next(i for i, t in enumerate(span) if t.is_space)
        name = span[first_space:].text.strip()  # the line under the closing
        out.sender = name if len(name.split()) <= 5 else None
    return out


def read_letter(pages: Iterable[PageContent]) -> LetterReading:
    """All pages of a document: references and dates in reading order, the last closing's sender."""
    out = LetterReading()
    for p in pages:
        text, spans = page_text(p)
        one = read_text(text, p.page, spans)
        out.texts[p.page] = text
        out.references += one.references
        out.dates += one.dates
        out.sender = one.sender or out.sender
    return out


# -- linking ------------------------------------------------------------------------------------


@dataclass
class CaseLink:
    case_id: str  # the existing case the letter cites
    reference: str  # that case's stored reference
    candidate: ReferenceCandidate  # where the letter cites it


def link_candidates(candidates: list[ReferenceCandidate],
                    lookup: Callable[[list[str]], list[tuple[str, str]]],
                    *, exclude: Iterable[str] = ()) -> CaseLink | None:
    """The one existing case the candidates name, or None (none, or several: ambiguous).

    ``lookup(values)`` answers (case_id, reference) of every stored case whose
    ``reference`` or ``case_id`` is exactly one of ``values``. Cases in
    ``exclude`` (the case itself, its batch) are never linked.
    """
    from workflows.names import case_workflow_id

    excluded = {c for c in exclude if c}
    candidates = candidates[:MAX_CANDIDATES]
    values: dict[str, ReferenceCandidate] = {}
    for c in candidates:
        for v in c.lookups():
            values.setdefault(v, c)
            values.setdefault(case_workflow_id(v), c)  # the case id a reference gives
    if not values:
        return None
    rows = {case_id: ref for case_id, ref in lookup(list(values)) if case_id not in excluded}
    if len(rows) != 1:
        return None
    [(case_id, ref)] = rows.items()
    cand = values.get(ref) or values.get(case_id)
    if cand is None:  # cannot happen with an exact lookup; no guessing
        return None
    return CaseLink(case_id=case_id, reference=ref, candidate=cand)
