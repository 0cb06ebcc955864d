"""Small pure helpers shared by the field readers (text picking, options, rows)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from formwerk.models import ExtractedField, Word

from extractors.names import split_given_family
from extractors.reocr import WHITELISTS
from forms.catalogue import FieldDefinition

#: value types read from comb cells (one character per cell): their second
#: read is ``extractors.reocr.ocr_box``, cell by cell
COMB_TYPES = ("tax_id", "iban", "bic")
_DEBRIS_CONF = 0.6
_EDGE_DEBRIS = re.compile(r"^[|\[\]_]+|[|\[\]_]+$")


def same_value(a: Any, b: Any) -> bool:
    norm_ = lambda v: " ".join(str(v).casefold().split())  # noqa: E731
    return norm_(a) == norm_(b)


def worth_reocr(f: FieldDefinition, ef: ExtractedField) -> bool:
    """Empty box, unreadable value, or a failed check on a value OCR often garbles."""
    return ef.value is None or bool(ef.issues)


def whitelist_for(f: FieldDefinition) -> str | None:
    return WHITELISTS.get(f.type) or next((WHITELISTS[v] for v in f.validators if v in WHITELISTS), None)


def option_value(f: FieldDefinition, option_id: str) -> Any:
    if f.type == "bool":
        return option_id.lower() in ("true", "ja", "yes", "1")
    return option_id


def split_part(raw: str, how: str | None) -> str:
    if not how:
        return raw
    head, _, rest = raw.partition(",")
    return head.strip() if how == "first" else rest.strip()


_RULE_GLYPHS = re.compile(r"[—–\-_=~|]")


def _mostly_rule(text: str) -> bool:
    """A box's ruling line read as text ("—L—L—L————…" from an empty box's
    borders): line glyphs make up half of it or more; no value looks like that."""
    t = text.replace(" ", "")
    return len(t) >= 4 and len(_RULE_GLYPHS.findall(t)) >= 0.5 * len(t)


def pick_words(type_: str, words: list[Word]) -> list[Word]:
    """Keep the words that can belong to a value of this type (shared regions).

    OCR debris from squeezed labels and box frames (punctuation-only tokens,
    short low-confidence tokens) is dropped when real words remain.
    """
    # frame/line debris is never a value on its own, nor glued to one ("|82000")
    words = [w if not _EDGE_DEBRIS.search(w.text) else w.model_copy(update={"text": _EDGE_DEBRIS.sub("", w.text)})
             for w in words]
    words = [w for w in words if w.text and not re.fullmatch(r"[|\[\]_.,:;—–\-~'\"()‘’!]+", w.text)
             and not _mostly_rule(w.text)]
    real = [w for w in words if (re.search(r"[0-9A-Za-zÄÖÜäöüß@§&]", w.text) or w.confidence >= 0.9)
            and not (len(w.text) <= 2 and w.confidence < _DEBRIS_CONF and not w.text.isdigit())]
    if real:
        words = real
    if type_ == "email":
        # no "@" in the box: the region caught a neighbour (often the phone
        # number printed beside it), not an e-mail address
        at = [w for w in words if "@" in w.text or "(at)" in w.text.lower()]
        return _with_split_local_parts(at, words)
    if type_ == "phone":
        return [w for w in words if "@" not in w.text and re.search(r"[\d+()/\-]", w.text)]
    return words


_LOCAL_PART = re.compile(r"[\w.+\-äöüß]*[A-Za-zäöüß][\w.+\-äöüß]*")


def _with_split_local_parts(at_words: list[Word], words: list[Word]) -> list[Word]:
    """Add the pieces of an address's local part that OCR read as words of their own.

    Tesseract splits "friedericke.dussen.van@t-online.de" at a dot into
    "friedericke.dussen." and "van@t-online.de"; keeping only the word with
    the "@" gives a valid but wrong address. A word directly left on the same
    line joins when the split is visibly inside the address: the piece ends
    with, or the next one starts with, ".", "-" or "_".
    """
    kept = list(at_words)
    for w in at_words:
        cur = w
        while True:
            h = cur.bbox[3] - cur.bbox[1]
            left = [o for o in words if o not in kept and _LOCAL_PART.fullmatch(o.text)
                    and 0 <= cur.bbox[0] - o.bbox[2] <= 1.5 * h
                    and min(o.bbox[3], cur.bbox[3]) - max(o.bbox[1], cur.bbox[1]) >= 0.5 * h]
            if not left:
                break
            piece = max(left, key=lambda o: o.bbox[2])
            if not (piece.text[-1] in "._-" or cur.text[0] in "._-@"):
                break
            kept.append(piece)
            cur = piece
        if w.text.endswith("@"):
            # "@" read as a word of its own ("hans-rainer.voss", "@", "posteo.de"):
            # the domain is the next word right on the same line
            h = w.bbox[3] - w.bbox[1]
            right = [o for o in words if o not in kept and re.fullmatch(r"[\w\-äöü]+(?:\.[\w\-]+)+", o.text)
                     and 0 <= o.bbox[0] - w.bbox[2] <= 1.5 * h
                     and min(o.bbox[3], w.bbox[3]) - max(o.bbox[1], w.bbox[1]) >= 0.3 * h]
            if right:
                kept.append(min(right, key=lambda o: o.bbox[0]))
    return [o for o in words if o in kept]  # the region's reading order


def distance(a: list[float], b: list[float]) -> float:
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5


def row_defaults(f: FieldDefinition, rec: dict, done: dict) -> dict:
    if f.name_split and f.name_split_to and isinstance(rec.get(f.name_split), str) and not rec.get(f.name_split_to):
        given, family = split_given_family(rec[f.name_split])
        rec[f.name_split] = given
        if family:
            rec[f.name_split_to] = family
    for c in f.columns:
        if rec.get(c.name) in (None, "") and c.default_from and c.default_from in done:
            rec[c.name] = done[c.default_from].value
    return rec


def dots_restored(first, second) -> bool:
    """``second`` is ``first`` with diacritics the first read lost (umlaut dots,
    accents: "Jurgen" / "Jürgen", "Andre" / "André"), and nothing else changed."""
    return _only_restored(first, second, g_for_q=False)


def glyphs_restored(first, second) -> bool:
    """``second`` restores what the page read ``first`` typically garbles and
    changes nothing else: lost diacritics ("Jurgen" / "Jürgen") or a "g" read
    as "q" where German has no "q" (not before "u": "Flieqner" / "Fliegner")."""
    return _only_restored(first, second, g_for_q=True)


#: the marked letters of German: the page model (deu+eng) writes one of these for
#: a mark it does not have ("Horväth" for "Horváth", "Simäo" for "Simão")
_GERMAN_MARKED = set("äöüÄÖÜ")


def marks_added(first, second) -> str | None:
    """How ``second`` differs from the page read ``first`` if only by the marks
    ``first``'s model (deu+eng) cannot write; None: otherwise, or not at all.

    * ``"added"``: marks on letters ``first`` read bare ("Nunez" / "Nuñez",
      "Sorensen" / "Sørensen", "Jorn" / "Jörn");
    * ``"accented"``: also an acute, a double acute or a tilde in place of a
      German umlaut ``first`` wrote ("Gaitän" / "Gaitán", "Zübrik" / "Zúbrik"):
      the page model writes an umlaut for a mark it has not, and the script
      model never put one of these marks on a right umlaut (``bench.script_read``:
      0 of its reads of real Austrian, Swiss and German umlaut names, while
      every such replacement on foreign names was right); taken like ``"added"``;
    * ``"replaced"``: another mark in place of an umlaut ("Jürgen" read
      "Jūrgen": the script model puts a macron or a ring on right umlauts, it
      read "Ännchen" as "Ånnchen" on a generated scan of the full benchmark):
      the two models disagree on a mark both see, a clerk looks.

    Never a mark taken away."""
    if dots_restored(first, second):
        return "added"
    if not _only_restored(first, second, g_for_q=False, umlaut_for_mark=True):
        return None
    for_umlaut = {_mark(b) for a, b in zip(first, second) if a != b and a in _GERMAN_MARKED}
    return "accented" if for_umlaut <= MARKS_FOR_UMLAUT else "replaced"


#: the marks the script model's reading is taken with in place of an umlaut the page read wrote
#: (``marks_added``' "accented"): on ``bench.script_read``'s umlaut names it never wrote these
MARKS_FOR_UMLAUT = frozenset({"\u0301", "\u030b", "\u0303"})  # acute, double acute, tilde


def _mark(c: str) -> str | None:
    """The combining mark of a marked letter ("á" → U+0301), None for a bare or stroked one."""
    decomposed = unicodedata.normalize("NFD", c)
    return decomposed[1] if len(decomposed) == 2 else None


def _only_restored(first, second, g_for_q: bool, umlaut_for_mark: bool = False) -> bool:
    """Every letter ``second`` changes is one ``first`` read bare and ``second`` marked;
    ``g_for_q``: or a "q" German has not read for a "g"; ``umlaut_for_mark``: or a
    German umlaut ``first`` wrote for another mark on the same letter."""
    if not isinstance(first, str) or not isinstance(second, str) or len(first) != len(second):
        return False
    diffs = [i for i, (a, b) in enumerate(zip(first, second)) if a != b]

    def restored(i: int) -> bool:
        a, b = first[i], second[i]
        if _base_letter(b) == a:
            return True
        if umlaut_for_mark and a in _GERMAN_MARKED and b not in _GERMAN_MARKED \
                and _base_letter(a) == _base_letter(b) != b:
            return True
        return g_for_q and (a, b) in (("q", "g"), ("Q", "G")) and first[i + 1:i + 2].lower() != "u"

    return bool(diffs) and all(restored(i) for i in diffs)


def drop_umlaut_stutter(script: str) -> str:
    """``script`` without the second reading the Latin model writes beside an umlaut:
    "Grūünberger" → "Grünberger", "Hòödl" → "Hödl". On right umlaut names it wrote
    a vowel of the same base letter, marked or bare, next to the umlaut (2 of 213
    right names in ``bench.script_read``), which read as a letter German lacks."""
    if not isinstance(script, str):
        return script
    chars = list(unicodedata.normalize("NFC", script))
    out: list[str] = []
    i = 0
    while i < len(chars):
        pair = chars[i:i + 2]
        umlauts = [c for c in pair if c in _GERMAN_MARKED]
        if len(pair) == 2 and len(umlauts) == 1 and _same_vowel(*pair):
            out.append(umlauts[0])  # the umlaut stays, its twin goes
            i += 2
        else:
            out.append(chars[i])
            i += 1
    return "".join(out)


def _same_vowel(a: str, b: str) -> bool:
    return _base_letter(a).lower() == _base_letter(b).lower() and _base_letter(a).lower() in "aou"


#: the letters of German's alphabet: a name the script model reads with a letter outside
#: them saw a mark or a letter the page model (deu+eng) cannot write
GERMAN_LETTERS = set("abcdefghijklmnopqrstuvwxyzäöüßABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÜ")


def models_disagree(page, script) -> bool:
    """The script model read ``script`` where the page model read ``page``, and
    not only by marks the page model cannot write (:func:`marks_added`, taken)
    nor by case or spacing (:func:`same_value`)."""
    if not isinstance(page, str) or not isinstance(script, str) or not script.strip():
        return False
    return marks_added(page, script) is None and not same_value(page, script)


def script_has_foreign_letter(page, script) -> bool:
    """A disagreement of the two models (:func:`models_disagree`) in which the
    script read has a letter outside German's alphabet that the page read
    lacks: a letter the page model cannot write, so it read another ("Goñi"
    where it read "Gofi", "Opioła" for "Opiota", "Érica" for "Fi"). Other
    disagreements are mostly the Latin model's own confusions of letters both
    models have ("Tran" read "TFN", "Arie" read "Arje"): the page read stands."""
    if not models_disagree(page, script):
        return False
    return bool({c for c in script if c.isalpha() and c not in GERMAN_LETTERS} - set(page))


#: letters with a stroke or without a dot, which Unicode does not decompose
_STROKED = {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i", "ħ": "h", "Ħ": "H"}


def _base_letter(c: str) -> str:
    """"ü" → "u", "é" → "e" (Unicode decomposition, marks dropped), "ø" → "o"."""
    return _STROKED.get(c) or unicodedata.normalize("NFD", c)[0]
