"""Plausibility of a read value against the form itself (no OCR involved).

A value region that slid onto printed text ("(ggf. bei", "Angaben zur
Eheschließung") reads as well as a real value, so OCR confidence alone cannot
catch it. Its words are the form's own vocabulary: the words of the labels,
stop labels and short ignore texts of the definition. :func:`label_likeness`
is the share of a value's words found there; ``extractors.confidence``
turns a high share into a low confidence (``LABEL_LIKE_*``).
"""

from __future__ import annotations

import re

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


def label_likeness(value: str, vocab: set[str]) -> float:
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
    """A "q" not followed by "u" and a vowel: rare in German words and names,
    but the usual OCR misreading of "g" in print at 300 dpi ("Sontaqweg",
    "qmx.de", "qudula.schleich@…"), which a second read of the same pixels
    repeats."""
    return bool(_Q_WITHOUT_U.search(value))


#: fields that hold one part of a person's name
PERSON_NAME_FIELDS = ("family_name", "given_names", "birth_name")

# a capital right after a small letter inside a word ("Reichmann-VoR"); the
# Scottish/Irish prefixes are the exception names really have ("McLean")
_CAPITAL_INSIDE = re.compile(r"[a-zäöüß](?<!\bMc)(?<!\bMac)[A-ZÄÖÜ]")


def capital_inside_word(value: str) -> bool:
    """A capital letter after a small one within a name ("Reichmann-VoR"):
    OCR reads a small letter of a handwritten or faint name as a capital;
    typed names do not look like that."""
    return bool(_CAPITAL_INSIDE.search(value))


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


def dot_after_street_word(value: str) -> bool:
    """A dot glued to a spelled-out street name before the number ("Mentzelweg. 21")."""
    return bool(_DOT_AFTER_STREET.search(value))


# surname particles that are written small at the start of a name ("von Bülow");
# a given name never starts small
_NAME_PARTICLES = {"von", "vom", "van", "de", "der", "den", "del", "della", "di", "da", "dos", "du", "zu", "zum",
                   "zur", "ten", "ter", "le", "la", "al", "el", "bin", "ibn", "op"}


def small_name_start(name: str, value: str) -> bool:
    """A name part that starts with a small letter ("isti" for "Christian"):
    a read of a piece of the name, not the name. Family and birth names may
    start with a particle ("von Bülow"); given names may not."""
    first = next(iter(value.split()), "")
    if not first[:1].islower():
        return False
    return name == "given_names" or first.casefold() not in _NAME_PARTICLES
