"""Plausibility of a read value: a list of named rules (no OCR involved).

A value region that slid onto printed text ("(ggf. bei", "Angaben zur
Eheschließung") reads as well as a real value, so OCR confidence alone cannot
catch it; nor can it catch a character sequence OCR produces and writers do
not ("Sontaqweg", "Gret!l"). Each such check is a :class:`PlausibilityRule`
in :data:`RULES`: a name, the fields it applies to (field names or value
types, and the sources of the reading), the check, and the confidence factor
of ``extractors.confidence`` it applies when the check flags the value.
:func:`apply_rules` runs them after extraction; ``bench.rule_fp`` counts, per
rule, the right values it flags on real-world spellings beside the wrong
values it catches.

Names come from every country: a rule about name shapes must hold for
"Iqbal", "DeLuca", "O'Brien", "Ødegaard" or "Çelik" as much as for "Müller".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field as dc_field
from typing import Callable

import phonenumbers

from formwerk.models import ExtractedField

from extractors import confidence as conf
from forms.catalogue import FormDefinition

#: ignore texts longer than this (instructions quoting example values such as
#: "z.B. Herstellung von Möbeln") do not count as label vocabulary
_MAX_IGNORE_WORDS = 6
_TOKEN = re.compile(r"[0-9A-Za-zÄÖÜäöüß]+")
#: words too common in values to be evidence of label text
_NEUTRAL = {"und", "von", "der", "die", "das", "des", "in", "im", "am", "an", "zu", "zur", "zum", "mit", "für"}


def _tokens(s: str) -> list[str]:
    return [t.casefold() for t in _TOKEN.findall(s)]


def label_vocabulary(form: FormDefinition) -> set[str]:
    """Lower-case words (3+ letters) of every printed text the definition names."""
    texts: list[str] = [form.title]
    for f in form.fields:
        texts += f.label + f.stop_labels + f.after
        texts += [t for t in f.ignore if len(t.split()) <= _MAX_IGNORE_WORDS]
        for c in f.columns:
            texts += c.label
    return {t for s in texts for t in _tokens(s) if len(t) >= 3 and not t.isdigit()} - _NEUTRAL


def label_likeness(value: str, vocab: set[str] | frozenset[str]) -> float:
    """Share (0..1) of the value's words that are words of the form's labels."""
    toks = [t for t in _tokens(value) if t not in _NEUTRAL and not t.isdigit()]
    if not toks:
        return 0.0
    return sum(t in vocab for t in toks) / len(toks)


def contains_words(outer: str, inner: str) -> bool:
    """Whether ``inner``'s words occur in ``outer`` as a run of whole words (case-folded)."""
    a, b = _tokens(outer), _tokens(inner)
    if not b or len(b) > len(a) or a == b:
        return False
    return any(a[i:i + len(b)] == b for i in range(len(a) - len(b) + 1))


#: name parts: one must not swallow the other ("Fuß, Jörg" read as given names)
NAME_PARTS = ("given_names", "family_name")


def borrowed(name: str, value: str, required: bool, others: dict[str, str]) -> bool:
    """A value that is (part of) another field's reading, not a value of its own.

    * given names containing the family name (or vice versa): the region took
      the neighbouring box too;
    * an optional field (often left blank) whose value is a run of words of
      another field's value: its region slid onto the neighbour's text
      ("Deutschland" from "Siegen, Deutschland" as the blank birth name).
    """
    for other, ov in others.items():
        if other == name or not ov:
            continue
        if name in NAME_PARTS and other in NAME_PARTS and contains_words(value, ov):
            return True
        if not required and contains_words(ov, value):
            return True
    return False


# German spells q only as "qu" + vowel ("Quelle", "Quast"); "qud" is a misread "gud"
_Q_WITHOUT_U = re.compile(r"q(?!u[aeiouäöü])", re.I)
# in a name, a "q" after a consonant and not before "u" ("Helqa", "Wolfqang",
# "Jürqen"): names of other languages write q after a vowel, at the start or
# as "qu" ("Iqbal", "Tariq", "Qasim", "Marques", "dell'Acqua")
_Q_AFTER_CONSONANT = re.compile(r"(?<=[b-df-hj-np-tv-zß])q(?!u)", re.I)


def letter_and_umlaut(value: str) -> bool:
    """A base letter directly beside its umlaut ("OÖsterburg", "Muüller"): an OCR
    artefact that a second read tends to repeat, so the value needs a look."""
    return bool(_UMLAUT_TWIN.search(value))


def glyph_inside_word(value: str) -> bool:
    """A glyph no word has between two letters ("Gret!l", "Ber|in"): a stroke
    of a letter read as punctuation, which a second read tends to repeat."""
    return bool(_ODD_GLYPH.search(value))


_LETTER = "A-Za-zÄÖÜäöüß"
_ODD_GLYPH = re.compile(rf"[{_LETTER}][!|¦\\{{}}<>~^°*#%$€£§][{_LETTER}]")


# no German word has a letter next to its own umlaut; OCR writes it when it
# sees both readings of one glyph
_UMLAUT_TWIN = re.compile(r"[aA][äÄ]|[oO][öÖ]|[uU][üÜ]|[äÄ][aA]|[öÖ][oO]|[üÜ][uU]")


def unlikely_q(value: str) -> bool:
    """A "q" not followed by "u" and a vowel: rare in German words, but the
    usual OCR misreading of "g" in print at 300 dpi ("Sontaqweg", "qmx.de",
    "qudula.schleich@…"), which a second read of the same pixels repeats.
    Not for person names: "Iqbal", "Tariq", "Qiu" are spelled so."""
    return bool(_Q_WITHOUT_U.search(value))


def q_after_consonant(value: str) -> bool:
    """A "q" right after a consonant in a name ("Helqa", "Wolfqang"): a misread "g"."""
    return bool(_Q_AFTER_CONSONANT.search(value))


#: fields that hold one part of a person's name
PERSON_NAME_FIELDS = ("family_name", "given_names", "birth_name")
#: fields that hold the name of a place (GewA 1 "Geburtsort und -land")
PLACE_FIELDS = ("birth_place",)
#: fields that hold a register entry (GewA 1 "Ort und Nummer des Registereintrags")
REGISTER_FIELDS = ("register_entry",)
#: fields that describe the business activity (GewA 1 "Angemeldete Tätigkeit")
ACTIVITY_FIELDS = ("activity",)

# a capital right after a small letter inside a word ("Reichmann-VoR")
_CAPITAL_INSIDE = re.compile(r"[a-zäöüßà-ÿ][A-ZÄÖÜÀ-Þ]")
# name prefixes written with the next capital glued on: Scottish and Irish
# ("McLean", "MacDonald", "FitzGerald"), Romance and Dutch ("DeLuca", "LeBlanc",
# "DiMaggio", "DuBois", "LaFontaine", "VanDyke", "DelVecchio", "DeLaCruz"), Arabic ("AbdelRahman")
_GLUED_PREFIXES = {"mc", "mac", "fitz", "de", "del", "della", "di", "da", "du", "dos", "le", "la", "van", "von",
                   "ver", "ten", "ter", "al", "el", "abd", "abdel", "abdul", "bin", "ben", "ibn", "st", "san", "santa"}


def capital_inside_word(value: str) -> bool:
    """A capital letter after a small one within a name ("Reichmann-VoR"):
    OCR reads a small letter of a handwritten or faint name as a capital;
    typed names do not look like that, except after a prefix that names glue
    on ("McLean", "DeLuca", "LeBlanc", "DeLaCruz")."""
    for word in re.split(r"[\s\-'’]+", value):
        rest = word
        while True:
            m = _CAPITAL_INSIDE.search(rest)
            if m is None:
                break
            if rest[: m.start() + 1].casefold() not in _GLUED_PREFIXES:
                return True
            rest = rest[m.start() + 1:]
    return False


def capitals_then_small(value: str) -> bool:
    """A name word of two capitals and then small letters ("BUi" for "Bùi",
    "MÜller"): a small letter with a mark read as a capital (a fax merges the
    mark into the letter). Names are written capitalised or in block capitals,
    not so; the Dutch "IJ" ("IJzerman") is one letter."""
    return any(len(w) >= 3 and w[0].isupper() and w[1].isupper() and w[2].islower() and not w.startswith("IJ")
               for w in re.split(r"[\s\-'’]+", value))


def separator_in_name(value: str) -> bool:
    """A ";" or "," inside one name part ("Jäger, Margita", "Hecker; Edit"):
    the value region also took the neighbouring name box, since a single name
    part never contains a list separator."""
    return any(c in value for c in ",;")


def semicolon_in_value(value: str) -> bool:
    """A ";" in a read name or address ("Rust; Stefania"): form values use
    commas, and OCR reads a comma with a speck above it as a semicolon."""
    return ";" in value


# a full street-type word with a dot before the house number ("Mentzelweg. 21"):
# "Str." is an abbreviation, "weg." is a stray mark read as a dot
_DOT_AFTER_STREET = re.compile(
    r"(?:straße|strasse|weg|platz|allee|ring|gasse|damm|ufer|chaussee|steig|pfad)\.\s*\d", re.I
)


def double_dot(value: str) -> bool:
    """Two dots in a row in an address ("Trübstr..132"): a space or a speck read
    as a second dot; no street, number or town is written so."""
    return ".." in value


# a dot between a word of small letters and a capitalised one, no space ("Harri.Hendriks-Platz"):
# the hyphen of a street named after a person read as a dot; "Hauptstr.Ecke", "Prof.Dr." excepted
_DOT_FOR_HYPHEN = re.compile(r"(?<![A-Za-zÄÖÜäöüß])([A-ZÄÖÜ]?[a-zäöüß]{2,})\.(?=[A-ZÄÖÜ][a-zäöüß])")


def dot_for_hyphen(value: str) -> bool:
    """A dot glued between two words of an address ("Harri.Hendriks-Platz 3")."""
    return any(not m.group(1).casefold().endswith(("str", "prof")) for m in _DOT_FOR_HYPHEN.finditer(value))


def dot_after_street_word(value: str) -> bool:
    """A dot glued to a spelled-out street name before the number ("Mentzelweg. 21")."""
    return bool(_DOT_AFTER_STREET.search(value))


# surname particles that are written small at the start of a name ("von Bülow",
# "de la Cruz", "af Klint", "dos Santos", "ter Horst", "d'Alembert"); a given name never starts small
_NAME_PARTICLES = {"von", "vom", "van", "de", "der", "den", "del", "della", "dello", "dei", "degli", "di", "da", "das",
                   "do", "dos", "du", "zu", "zum", "zur", "ten", "ter", "te", "het", "le", "la", "les", "lo", "los",
                   "las", "al", "el", "bin", "bint", "ibn", "ben", "abu", "op", "af", "av", "y", "e", "auf", "aus"}
# elided particles glued to the name: "d'Alembert", "dell'Acqua", "l'Hôpital", "'t Hooft"
_ELIDED_PARTICLE = re.compile(r"^(?:d|l|dell|dall|sull|'t)['’]\S", re.I)


def small_name_start(name: str, value: str) -> bool:
    """A name part that starts with a small letter ("isti" for "Christian"):
    a read of a piece of the name, not the name. Family and birth names may
    start with a particle ("von Bülow", "d'Alembert"); given names may not."""
    first = next(iter(value.split()), "")
    if not first[:1].islower():
        return False
    if name == "given_names":
        return True
    # a particle may be joined by a hyphen ("al-Hassan", "el-Amin")
    return first.casefold().split("-")[0] not in _NAME_PARTICLES and not _ELIDED_PARTICLE.match(first)


def small_later_word(value: str) -> bool:
    """A later word of a name that starts with a small letter and is no particle
    ("Emilian lustinian": a capital "I" read as "l"; "María de los Ángeles" and
    "van der Berg" are particles)."""
    return any(w[:1].islower() and w.casefold().split("-")[0] not in _NAME_PARTICLES
               and not _ELIDED_PARTICLE.match(w) for w in value.split()[1:])


# words of German (and of the foreign names in German addresses) that are written small
# and start with "l": "Villers-lès-Nancy", "Santa Cruz de la Sierra", "Am Kanal links"
_SMALL_L_WORDS = {"la", "le", "les", "lès", "lo", "los", "las", "links", "längs"}
# the other small words of German place names and addresses ("Straße des 17. Juni",
# "Frankfurt a. M.", "Rothenburg ob der Tauber", "Halle (Saale)", "Saint-Jean-de-Luz")
_SMALL_PLACE_WORDS = {"an", "am", "auf", "aus", "bei", "beim", "dem", "den", "der", "des", "die", "hinter", "im", "in",
                      "ob", "über", "und", "unter", "vom", "von", "vor", "zu", "zum", "zur",
                      "a", "b", "d", "i", "v",  # "Frankfurt a. M.", "Freiburg i. Br.", "Bad Homburg v. d. Höhe"
                      "da", "de", "del", "di", "do", "dos", "du", "e", "en", "et", "o", "sur", "y"}
_WORD_SPLIT = re.compile(r"[\s\-/,.()]+")


def small_l_word(value: str) -> bool:
    """A word of a place or address that starts with a small "l" and a letter
    ("loannis-Metaxa-Str.", "lm Winkel 3", "lstanbul"): the capital "I" of
    sans-serif print read as an "l". Street, town and place names start with
    a capital; the few small words among them ("an der", "la", "links") are no
    "l" + letter pattern the rule flags ("l'Église" is elided). Only where the
    value's other words are written so: a value with other small words
    ("Buyer address line 1") is not written as German addresses are."""
    words = [w for w in _WORD_SPLIT.split(value) if w[:1].isalpha()]
    small_l = [w for w in words if len(w) > 1 and w[0] == "l" and w[1].isalpha()
               and w.casefold() not in _SMALL_L_WORDS]
    others_small = [w for w in words if w[0].islower() and w not in small_l
                    and w.casefold() not in _SMALL_L_WORDS | _SMALL_PLACE_WORDS]
    return bool(small_l) and not others_small


#: the kinds of German register (Handels-, Genossenschafts-, Partnerschafts-,
#: Vereins-, Gesellschaftsregister) and the number after them: digits, an optional
#: court letter ("HRB 98765 B")
_REGISTER_NUMBER = re.compile(r"\b(?:HRA|HRB|GnR|GsR|PR|VR)\s*(?=[\dOoIlS|])(\S+)")
#: characters a register entry has ("Amtsgericht Charlottenburg (Berlin), HRB 98765 B")
_REGISTER_CHARS = re.compile(r"[^\w\s.,:;()\-/&'’]")


def odd_register_entry(value: str) -> bool:
    """A register entry with something no register number has: a glyph outside
    the letters, digits and punctuation of a court's name and number
    ("… HRB 1051?"), a number with letters in it ("HRB 1O51"), or a dot right
    after the number ("HRB 12345." — the number is the entry's end)."""
    if _REGISTER_CHARS.search(value):
        return True
    for m in _REGISTER_NUMBER.finditer(value):
        number = m.group(1).rstrip(",;")
        if not re.fullmatch(r"\d{1,6}", number):
            return True
    return False


#: a description of an activity has at least this many letters ("Bar", "EDV"):
#: fewer is a piece of a word the value region cut ("De", "Be")
MIN_ACTIVITY_LETTERS = 3


def activity_fragment(value: str) -> bool:
    """An activity of fewer than ``MIN_ACTIVITY_LETTERS`` letters ("De"): a piece
    of the description, not the description."""
    return sum(c.isalpha() for c in value) < MIN_ACTIVITY_LETTERS


# the area code as the writer set it apart: "0385/522952", "(0211) 58 22 48", "+49 385 522952"
_WRITTEN_AREA = re.compile(r"^(?:\((0[1-9]\d{1,4})\)|(0[1-9]\d{1,4})(?=\s*[/\-\s]))"
                           r"|^(?:\+|00)49\s*(?:\(0\)\s*)?([1-9]\d{1,4})(?=\s*[/\-\s])")


def unknown_area_code(value: str) -> bool:
    """A landline number whose area code, as written apart from the number
    ("03835/522952"), is not the area code of the numbering plan for these
    digits (``phonenumbers``' national format splits off "038355", the
    Ortsnetzkennzahl of Züssow): a digit the read put in or dropped, which the
    number's length alone does not show (the plan allows local numbers of many
    lengths). Mobile and service numbers (01…, 032, 0700, 0800, 0900) and numbers
    written without a gap are not checked."""
    m = _WRITTEN_AREA.match(value.strip())
    if m is None:
        return False
    code = m.group(1) or m.group(2) or "0" + m.group(3)
    if code[1] == "1" or code.startswith(("032", "0700", "0800", "0900")):
        return False
    try:
        number = phonenumbers.parse(value, "DE")
    except phonenumbers.NumberParseException:
        return False
    plan_code, gap, _ = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).partition(" ")
    return bool(gap) and plan_code != code


_I_FOR_J_MAIL = re.compile(r"(?:^|[._\-])[bcdfghklmnprstvwz]?ioe", re.IGNORECASE)


def i_for_j_mail(address: str) -> bool:
    """An e-mail address whose local part has a word starting with "ioe" or a consonant
    and "ioe" ("bioern", "bioerg" for "bjoern", "bjoerg"; "ioerg" for "joerg"): the
    enlarged reads that confirm e-mails read a "j" before a written-out umlaut as an
    "i" (accepted wrong on an earlier held-out set and on heldout11, typed and fax).
    No German name starts so; among Faker's 128,289 names of all locales one word
    does, the Italian "Gioele"."""
    return bool(_I_FOR_J_MAIL.search(address.rpartition("@")[0]))


_ELISION_THEN_SPACE = re.compile(r"(?<![^\W\d_])[^\W\d_]['’] +[A-ZÄÖÜ]")


def elision_then_space(value: str) -> bool:
    """A one-letter elided article, its apostrophe, then a space and a capital
    ("D’ Alia" for "D’Alia", "O' Brien"): names write the article joined
    ("D’Angelo", "O'Neill", "Dell’Acqua"); a space there is the print's gap read
    as one (heldout11, a typed name accepted wrong). A possessive after a longer
    word ("Andreas’ Backstube") is not an article: left alone."""
    return bool(_ELISION_THEN_SPACE.search(value))


def letterless_name(value: str) -> bool:
    """A name part without a single letter ("/", "1", "—"): a pen stroke, a
    box edge or a dash written for "none" read as the name; no name is so."""
    return not any(c.isalpha() for c in value)


# a capital "R" right after a small letter in an address ("Heinz-Otto-GieR-Platz",
# "GroRe Str."): the "ß" of a street or town read as an "R" (fax, soft print).
# German street and town names have no capital after a small letter; counted
# (bench.rule_fp) beside the narrower "at a word's end or before a hyphen" only,
# which flags no more right addresses and catches a ninth of the misreads
_R_FOR_SZ = re.compile(r"[a-zäöü]R")


def r_for_sz(value: str) -> bool:
    """A capital "R" after a small letter in an address ("GieR-Platz", "StraRe"): a misread "ß"."""
    return bool(_R_FOR_SZ.search(value))


# a word of letters, a hyphen, then a space and a capitalised word ("Ricarda- Sorgatz-Platz"):
# the hyphen of a name joined to its next part, with a gap the read took for a space.
# A hyphen before "und"/"oder" ("Ein- und Ausfahrt") is German's own suspended hyphen
_HYPHEN_THEN_SPACE = re.compile(r"[A-Za-zÄÖÜäöüß]- +(?!(?:und|oder|bis|u\.|bzw\.)(?:\s|$))[A-ZÄÖÜ]")


def hyphen_then_space(value: str) -> bool:
    """A hyphen followed by a space and a capital inside an address ("Ricarda- Sorgatz-Platz")."""
    return bool(_HYPHEN_THEN_SPACE.search(value))


#: the shortened words that end German place names with a dot: "Frankfurt a. M.",
#: "Freiburg i. Br.", "Weiden i. d. OPf.", "Neustadt a. Rbge.", "Halle (Westf.)",
#: "Oldenburg (Oldb.)", "Burg (Dithm.)"; words of three letters or fewer count
#: as shortened too ("St.", "Br.", "Ofr.")
PLACE_ABBREVIATIONS = {"westf", "rbge", "oldb", "holst", "württ", "wttbg", "schwarzw", "ostfr", "vogtl",
                       "erzgeb", "thür", "sachs", "mecklb", "dithm", "oberpf", "opf", "ndb", "obb",
                       "mfr", "ofr", "ufr", "wstf", "rhld", "anh"}
_LAST_WORD = re.compile(r"([A-Za-zÄÖÜäöüßà-ÿ]+)\.\)?$")


def trailing_dot(value: str) -> bool:
    """A place or address that ends with a dot after a whole word ("… 04103 Leipzig."):
    a speck after the town read as a full stop; German places end with a dot only
    after a shortened word ("a. M.", "i. Br.", "Westf.", ``PLACE_ABBREVIATIONS``)."""
    m = _LAST_WORD.search(value.strip())
    if m is None:
        return False
    word = m.group(1)
    return len(word) > 3 and word.casefold() not in PLACE_ABBREVIATIONS


# --------------------------------------------------------------------------
# the rules
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a rule may look at besides the value."""

    field: str  # field name ("family_name")
    type: str  # value type ("text", "address", "email")
    required: bool = False
    others: dict[str, str] = dc_field(default_factory=dict)  # every read text value of the document
    vocab: frozenset[str] | set[str] = frozenset()  # the form's label words


@dataclass(frozen=True)
class PlausibilityRule:
    """One named check: where it applies, what it flags and how much that costs.

    ``factor`` names a confidence factor of ``extractors.confidence``
    (``LABEL_LIKE``, ``BORROWED``, ``UNLIKELY_READING``); rules of one
    ``group`` lower a value once however many of them flag it.
    """

    name: str
    flags: str  # what the rule flags, for the documentation and the FP table
    check: Callable[[str, Context], bool]
    factor: str
    types: tuple[str, ...] = ()  # value types it applies to (empty: any)
    fields: tuple[str, ...] = ()  # field names it applies to (empty: any of ``types``)
    not_fields: tuple[str, ...] = ()  # field names it never applies to
    sources: tuple[str, ...] = ("ocr", "text_layer")
    group: str = ""

    def applies(self, field_name: str, type_: str, source: str = "ocr") -> bool:
        return (source in self.sources and (not self.types or type_ in self.types)
                and (not self.fields or field_name in self.fields) and field_name not in self.not_fields)


RULES: list[PlausibilityRule] = [
    PlausibilityRule("label_like", "a value whose words are mostly the form's label words",
                     lambda v, c: label_likeness(v, c.vocab) >= conf.LABEL_LIKE_SHARE, "LABEL_LIKE"),
    PlausibilityRule("borrowed", "a value that is (part of) another field's reading",
                     lambda v, c: borrowed(c.field, v, c.required, c.others), "BORROWED", types=("text",)),
    PlausibilityRule("q_without_u", 'a "q" not followed by "u" and a vowel (a misread "g")',
                     lambda v, c: unlikely_q(v), "UNLIKELY_READING", types=("text", "address", "email"),
                     not_fields=PERSON_NAME_FIELDS, sources=("ocr",)),
    PlausibilityRule("q_after_consonant", 'a "q" after a consonant in a name (a misread "g")',
                     lambda v, c: q_after_consonant(v), "UNLIKELY_READING", fields=PERSON_NAME_FIELDS,
                     sources=("ocr",)),
    PlausibilityRule("umlaut_twin", "a letter beside its own umlaut (\"OÖsterburg\")",
                     lambda v, c: letter_and_umlaut(v), "UNLIKELY_READING", types=("text", "address"),
                     sources=("ocr",), group="odd_glyph"),
    PlausibilityRule("glyph_inside_word", "a glyph no word has between two letters (\"Gret!l\")",
                     lambda v, c: glyph_inside_word(v), "UNLIKELY_READING", types=("text", "address"),
                     sources=("ocr",), group="odd_glyph"),
    PlausibilityRule("separator_in_name", 'a "," or ";" inside one name part (the neighbouring box taken too)',
                     lambda v, c: separator_in_name(v), "BORROWED", fields=PERSON_NAME_FIELDS),
    PlausibilityRule("semicolon", 'a ";" in a read text or address (a comma with a speck)',
                     lambda v, c: semicolon_in_value(v), "UNLIKELY_READING", types=("text", "address"),
                     not_fields=PERSON_NAME_FIELDS, sources=("ocr",)),
    PlausibilityRule("capital_inside_name", "a capital after a small letter in a name (\"Reichmann-VoR\")",
                     lambda v, c: capital_inside_word(v), "UNLIKELY_READING", fields=PERSON_NAME_FIELDS,
                     sources=("ocr",), group="name_shape"),
    PlausibilityRule("capitals_then_small", 'a name word of two capitals, then small letters ("BUi" for "Bùi")',
                     lambda v, c: capitals_then_small(v), "UNLIKELY_READING", fields=PERSON_NAME_FIELDS,
                     sources=("ocr",), group="name_shape"),
    PlausibilityRule("small_name_start", "a name part starting with a small letter (a piece of the name)",
                     lambda v, c: small_name_start(c.field, v), "UNLIKELY_READING", fields=PERSON_NAME_FIELDS,
                     sources=("ocr",), group="name_shape"),
    PlausibilityRule("small_later_word", "a later name word starting with a small letter, no particle (\"Emilian lustinian\")",
                     lambda v, c: small_later_word(v), "UNLIKELY_READING", fields=PERSON_NAME_FIELDS,
                     sources=("ocr",), group="name_shape"),
    PlausibilityRule("i_for_j_mail", 'an e-mail name word starting "bioe", "ioe" ("bioern": a "j" read as "i")',
                     lambda v, c: i_for_j_mail(v), "UNLIKELY_READING", types=("email",), sources=("ocr",)),
    PlausibilityRule("elision_then_space", 'an elided article, its apostrophe, then a space in a name ("D’ Alia")',
                     lambda v, c: elision_then_space(v), "UNLIKELY_READING", fields=PERSON_NAME_FIELDS,
                     sources=("ocr",), group="name_shape"),
    PlausibilityRule("letterless_name", 'a name part without a letter ("/" read as the family name)',
                     lambda v, c: letterless_name(v), "UNLIKELY_READING", fields=PERSON_NAME_FIELDS,
                     sources=("ocr",), group="name_shape"),
    PlausibilityRule("dot_after_street_word", 'a dot after a spelled-out street word ("Mentzelweg. 21")',
                     lambda v, c: dot_after_street_word(v), "UNLIKELY_READING", types=("address",),
                     sources=("ocr",)),
    PlausibilityRule("double_dot", 'two dots in a row in an address ("Trübstr..132")',
                     lambda v, c: double_dot(v), "UNLIKELY_READING", types=("address",), sources=("ocr",),
                     group="odd_glyph"),
    PlausibilityRule("dot_for_hyphen", 'a dot glued between two words of an address ("Harri.Hendriks-Platz")',
                     lambda v, c: dot_for_hyphen(v), "UNLIKELY_READING", types=("address",), sources=("ocr",),
                     group="odd_glyph"),
    PlausibilityRule("r_for_sz", 'a capital "R" after a small letter in an address ("GieR-Platz": a "ß")',
                     lambda v, c: r_for_sz(v), "UNLIKELY_READING", types=("address",), sources=("ocr",),
                     group="odd_glyph"),
    PlausibilityRule("hyphen_then_space", 'a hyphen, a space, then a capital in an address ("Ricarda- Sorgatz-Platz")',
                     lambda v, c: hyphen_then_space(v), "UNLIKELY_READING", types=("address",),
                     sources=("ocr",), group="odd_glyph"),
    PlausibilityRule("trailing_dot_address", 'an address ending with a dot after a whole word ("04103 Leipzig.")',
                     lambda v, c: trailing_dot(v), "UNLIKELY_READING", types=("address",), sources=("ocr",),
                     group="odd_glyph"),
    PlausibilityRule("trailing_dot_place", 'a place ending with a dot after a whole word ("Leipzig.")',
                     lambda v, c: trailing_dot(v), "UNLIKELY_READING", fields=PLACE_FIELDS, sources=("ocr",)),
    PlausibilityRule("small_l_address", 'an address word starting with a small "l" (a capital "I": "loannis-Str.")',
                     lambda v, c: small_l_word(v), "UNLIKELY_READING", types=("address",), sources=("ocr",)),
    PlausibilityRule("small_l_place", 'a place name word starting with a small "l" ("lstanbul")',
                     lambda v, c: small_l_word(v), "UNLIKELY_READING", fields=PLACE_FIELDS, sources=("ocr",)),
    PlausibilityRule("odd_register_entry", 'a register entry with a glyph or number no register has ("HRB 1051?")',
                     lambda v, c: odd_register_entry(v), "UNLIKELY_READING", fields=REGISTER_FIELDS,
                     sources=("ocr",)),
    PlausibilityRule("activity_fragment", 'an activity of fewer than three letters (a cut piece: "De")',
                     lambda v, c: activity_fragment(v), "UNLIKELY_READING", fields=ACTIVITY_FIELDS,
                     sources=("ocr",)),
    PlausibilityRule("unknown_area_code", 'a landline number whose written area code is not the plan\'s ("03835/522952")',
                     lambda v, c: unknown_area_code(v), "UNLIKELY_READING", types=("phone",), sources=("ocr",)),
]


def flagging_rules(value: str, ctx: Context, source: str = "ocr",
                   rules: list[PlausibilityRule] | None = None) -> list[PlausibilityRule]:
    """The rules that apply to the field and flag ``value``."""
    return [r for r in (RULES if rules is None else rules)
            if r.applies(ctx.field, ctx.type, source) and r.check(value, ctx)]


def apply_rules(form: FormDefinition, fields: dict[str, ExtractedField], vocab: set[str]) -> None:
    """Lower the confidence of every read text value that a rule flags: once
    per rule group, by the group's confidence factor."""
    texts = {n: ef.value for n, ef in fields.items() if isinstance(ef.value, str)}
    for f in form.fields:
        ef = fields.get(f.name)
        if ef is None or ef.source not in ("ocr", "text_layer") or not isinstance(ef.value, str):
            continue
        ctx = Context(field=f.name, type=f.type, required=f.required, others=texts, vocab=vocab)
        applied: set[str] = set()
        for rule in flagging_rules(ef.value, ctx, ef.source):
            if (rule.group or rule.name) not in applied:
                applied.add(rule.group or rule.name)
                ef.confidence *= getattr(conf, rule.factor)
