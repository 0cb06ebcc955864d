"""Repairs of OCR misreadings that correct German text never contains.

Each repair is a named, pure function on one string. They run inside the
normalisers (``extractors.normalise``), so every read of a value — page
read, second and third read, text layer — is repaired alike and the reads
can be compared afterwards. Only patterns that a writer does not produce are
repaired; anything merely unusual is left to the plausibility checks
(``extractors.plausibility``), which send the value to a clerk.

:data:`REPAIRS` lists them by name with the value types they run on;
``bench.rule_fp`` counts, per repair, the right values it would change
beside the misreadings it undoes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

# capital I and small l are one glyph in sans-serif print: no word starts
# "II" followed by a small letter ("IIdiko" is "Ildiko", "an der IIm" is
# "an der Ilm"; "II." and "Teil II" stay)
_CAPITAL_I_PAIR = re.compile(r"(?<![\w])II(?=[a-zäöüß])")

# German statute abbreviations a paragraph reference ends with: "§ 34d GewO"
_STATUTES = r"(?:GewO|HwO|GastG|BGB|HGB|StGB|SGB|EStG|UStG|AO|BauGB|BauO|GmbHG|AktG|KWG|VAG|WpHG|PAngV|BewachV)"
# enlarged reads turn the section sign into "8", "S" or "$" ("nach 8 34d GewO")
_SECTION_SIGN = re.compile(rf"(?<![\w§])[8S$](?:\s?[8S$])?\s+(?=\d{{1,3}}[a-z]?\s+(?:Abs\.\s*\d+\s+)?{_STATUTES}\b)")

# the descender of a "g" read a second time as "q": at the end of a word
# ("Wegq") or inside a double g ("Brüggemann" read "Brügqgemann")
_G_ECHO = re.compile(r"(?<=g)q(?![\wäöüß])|(?<=g)q(?=g)")

# a colon or semicolon between two words with no space after it: a speck
# on the space ("Amtsgericht:Münster"); German text puts a space after both
_GLUED_COLON = re.compile(r"(?<=[a-zäöüß]{2})[:;](?=[A-ZÄÖÜ][a-zäöüß])")

# mail providers whose names OCR bends in one glyph ("qmx.de", "qmail.com"):
# a domain one g/q swap away from one of them is that provider
MAIL_PROVIDERS = (
    "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmail.com", "googlemail.com", "web.de", "t-online.de",
    "posteo.de", "mail.de", "freenet.de", "outlook.de", "outlook.com", "hotmail.de", "hotmail.com",
    "yahoo.de", "yahoo.com", "icloud.com", "aol.com", "online.de", "arcor.de", "mailbox.org", "live.de",
)


def capital_i_pair(s: str) -> str:
    """"IIm" → "Ilm": a word starting with two capital I and a small letter."""
    return _CAPITAL_I_PAIR.sub("Il", s)


def section_sign(s: str) -> str:
    """"nach 8 34d GewO" → "nach § 34d GewO" (two signs: "§§")."""
    return _SECTION_SIGN.sub(lambda m: "§§ " if len(re.sub(r"\s", "", m.group(0))) == 2 else "§ ", s)


def g_echo(s: str) -> str:
    """"Wegq" → "Weg", "Brügqgemann" → "Brüggemann": a "q" after a "g" that ends
    the word or comes before another "g"."""
    return _G_ECHO.sub("", s)


def glued_colon(s: str) -> str:
    """"Amtsgericht:Münster" → "Amtsgericht Münster"."""
    return _GLUED_COLON.sub(" ", s)


def mail_provider(address: str) -> str:
    """"lena@qmx.de" → "lena@gmx.de" when swapping g and q in the domain gives a
    known provider, "lena@qgmx.de" → "lena@gmx.de" when dropping a "q" before a "g"
    does (enlarged reads see the tail of the "@" as a "q": bench.handfilled dev3, the
    second and third reads of three right gmx.de addresses); any other domain is kept as read."""
    local, at, domain = address.rpartition("@")
    if not at or domain.lower() in MAIL_PROVIDERS or "q" not in domain.lower():
        return address
    for candidate in (domain.lower().replace("q", "g"), domain.lower().replace("qg", "g", 1)):
        if candidate in MAIL_PROVIDERS:
            return f"{local}@{candidate}"
    return address


@dataclass(frozen=True)
class Repair:
    """One named repair: the value types it runs on and what it undoes."""

    name: str
    repairs: str
    fn: Callable[[str], str]
    types: tuple[str, ...]


#: the repairs, in the order they run
REPAIRS: list[Repair] = [
    Repair("capital_i_pair", '"IIm" → "Ilm"', capital_i_pair, ("text", "address")),
    Repair("section_sign", '"nach 8 34d GewO" → "nach § 34d GewO"', section_sign, ("text", "address")),
    Repair("g_echo", '"Wegq" → "Weg", "Brügqgemann" → "Brüggemann"', g_echo, ("text", "address", "email")),
    Repair("glued_colon", '"Amtsgericht:Münster" → "Amtsgericht Münster"', glued_colon, ("text", "address")),
    Repair("mail_provider", '"lena@qmx.de", "lena@qgmx.de" → "lena@gmx.de"', mail_provider, ("email",)),
]

_TEXT_REPAIRS = [r.fn for r in REPAIRS if "text" in r.types]


def repair_text(s: str) -> str:
    """The repairs for free text and addresses, in order."""
    for fn in _TEXT_REPAIRS:
        s = fn(s)
    return s
