"""Normalisation of raw field text to the value types of FORMS.md (pure functions).

Every ``normalise_<type>(raw) -> value | None`` returns the normalised value
or ``None`` when the text cannot be read as that type (the caller records a
format issue). Conventions of the result:

* date: ISO ``YYYY-MM-DD``; money: decimal string with a dot and two places
  (``"642.50"``); address: ``"Straße Nr, PLZ Ort"``; postal_code: 5 digits;
  iban: upper case, no spaces; tax_id: 11 digits; int: Python int;
  bool: Python bool; phone: as written, only digits, spaces and ``+ ( ) / -``.

OCR confusions (``O``→``0``, ``l``→``1``, ...) are repaired only where the type
says the character must be a digit, never in free text.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from extractors.ocr_repairs import g_echo, mail_provider, repair_text

# characters Tesseract confuses with digits, in places where only digits may be
_DIGIT_FIX = str.maketrans({
    "O": "0", "o": "0", "Q": "0", "D": "0", "U": "0",
    "I": "1", "l": "1", "|": "1", "i": "1", "!": "1", "L": "1", "J": "1",
    "Z": "2", "z": "2",
    "S": "5", "s": "5", "$": "5",
    "G": "6", "b": "6",
    "T": "7",
    "B": "8",
    "g": "9", "q": "9",
})

MONTHS = {
    "januar": 1, "jan": 1, "jänner": 1, "jaenner": 1,
    "februar": 2, "feb": 2, "febr": 2,
    "märz": 3, "maerz": 3, "marz": 3, "mär": 3, "mrz": 3, "mar": 3,
    "april": 4, "apr": 4,
    "mai": 5,
    "juni": 6, "jun": 6,
    "juli": 7, "jul": 7,
    "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "oct": 10,
    "november": 11, "nov": 11,
    "dezember": 12, "dez": 12, "dec": 12,
}


def clean_text(raw: str | None) -> str:
    """NFC, whitespace collapsed, no space before ``, ; :`` (an OCR habit)."""
    if not raw:
        return ""
    s = unicodedata.normalize("NFC", str(raw)).replace("\u00a0", " ")
    s = " ".join(s.split())
    s = re.sub(r"\s+([,;:])", r"\1", s)
    return s.strip()


def fix_digits(s: str) -> str:
    """Map letters that OCR confuses with digits to digits (for digit-only slots)."""
    return s.translate(_DIGIT_FIX)


def normalise_text(raw: str | None) -> str | None:
    """Cleaned text; OCR's loose hyphens in double names ("Kay -Uwe" → "Kay-Uwe")
    and a stray full stop after a lower-case word ("Jörg." → "Jörg") are undone."""
    s = clean_text(raw).strip(" ,;:_‘’‚'\"„“`|").lstrip(".")
    s = re.sub(r"(?<=[A-Za-zÄÖÜäöüß])(?:\s+-\s*|\s*-\s+)(?=[A-ZÄÖÜ])", "-", s)
    s = repair_text(s)  # misreadings no German text has ("IIdiko", "nach 8 34d GewO")
    if "." not in s[:-1]:
        s = re.sub(r"(?<=[a-zäöüß]{3})\.$", "", s)
    return s or None


# --------------------------------------------------------------------------
# dates
# --------------------------------------------------------------------------

_NUM_DATE = re.compile(r"(?<![\w])([0-9OoIl|SZB]{1,2})\s*[.,/\-]\s*([0-9OoIl|SZB]{1,2})\s*[.,/\-]\s*([0-9OoIl|SZB]{4}|[0-9OoIl|SZB]{2})(?![\w])")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NAME_DATE = re.compile(r"(?<!\d)(\d{1,2})\s*\.?\s*([A-Za-zÄÖÜäöü]{3,9})\.?\s*(\d{4})(?!\d)")
_COMPACT_DATE = re.compile(r"(?<!\d)(\d{2})\s?(\d{2})\s?(\d{4})(?!\d)")


def _mkdate(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def _year(y: str, pivot: int | None = None) -> int:
    """Four-digit year; two digits are read with a pivot (default: this year + 10)."""
    v = int(y)
    if len(y) == 2:
        pivot = (date.today().year % 100 + 10) if pivot is None else pivot
        v += 2000 if v <= pivot else 1900
    return v


def normalise_date(raw: str | None) -> str | None:
    """German dates (``14.02.1986``, ``14.2.86``, ``14. Februar 1986``), ISO, ``14021986``."""
    s = clean_text(raw)
    if not s:
        return None
    m = _ISO_DATE.search(s)
    if m:
        return _mkdate(int(m[1]), int(m[2]), int(m[3]))
    m = _NAME_DATE.search(s)
    if m:
        month = MONTHS.get(m[2].lower().rstrip("."))
        if month:
            return _mkdate(int(m[3]), month, int(m[1]))
    m = _NUM_DATE.search(s)
    if m:
        d, mo, y = (fix_digits(g) for g in m.groups())
        return _mkdate(_year(y), int(mo), int(d))
    m = _COMPACT_DATE.search(s.replace(" ", ""))
    if m:
        return _mkdate(int(m[3]), int(m[2]), int(m[1]))
    # OCR spaces inside the numbers ("30.1 1 .2026"): the date without them
    m = _NUM_DATE.fullmatch(s.replace(" ", ""))
    if m:
        d, mo, y = (fix_digits(g) for g in m.groups())
        return _mkdate(_year(y), int(mo), int(d))
    return None


_SPLIT_DAY = re.compile(r"^(\d)\s+(\d\s*[.,/]\s*\d{1,2}\s*[.,/]\s*\d{2,4})(?!\d)")


def join_split_day(s: str) -> str:
    """``"1 5.08.2026"`` → ``"15.08.2026"``: page OCR splits a two-digit day after
    a narrow "1" into two words. Only for text that is nothing but the value
    (a known box): the lone digit must start it and a full date follow."""
    return _SPLIT_DAY.sub(r"\1\2", s.strip())


def find_date_text(s: str) -> str | None:
    """The substring of ``s`` that looks like a date (to strip neighbouring noise)."""
    for rx in (_ISO_DATE, _NAME_DATE, _NUM_DATE):
        m = rx.search(s)
        if m:
            return m.group(0)
    return None


# --------------------------------------------------------------------------
# numbers, money
# --------------------------------------------------------------------------


def normalise_int(raw: str | None) -> int | None:
    s = clean_text(raw).lower()
    if not s:
        return None
    if s in ("keine", "kein", "-", "–", "—", "null"):
        return 0
    digits = fix_digits(s.replace(" ", "").replace(".", "").rstrip(","))
    if re.fullmatch(r"\d{1,7}", digits):
        return int(digits)
    m = re.search(r"(?<!\d)\d{1,7}(?!\d)", s)
    return int(m.group(0)) if m else None


_MONEY = re.compile(r"(\d{1,3}(?:[.\s']\d{3})+|\d+)(?:([.,])(\d{1,2}))?(?!\d)")


def normalise_money(raw: str | None) -> str | None:
    """``"1.642,50 €"`` → ``"1642.50"``; ``"642,5"`` → ``"642.50"``; ``"750"`` → ``"750.00"``."""
    s = clean_text(raw)
    if not s:
        return None
    s = re.sub(r"(EUR|Euro|€)", " ", s, flags=re.I)
    s = re.sub(r"(?<=\d)[Oo](?=[\d,.]|$)", "0", s)
    s = s.replace(",-", ",00").replace(".-", ",00")
    # a single dot followed by exactly two digits at the end is a decimal point
    m = re.search(r"(?<![\d.,])(\d+)\.(\d{2})(?!\d)", s)
    if m and not re.search(r"\d,\d", s):
        return f"{int(m[1])}.{m[2]}"
    m = _MONEY.search(s)
    if not m:
        return None
    whole = re.sub(r"[.\s']", "", m[1])
    cents = (m[3] or "00").ljust(2, "0")
    if m[2] == "." and len(m[3] or "") == 2 or m[2] == ",":
        return f"{int(whole)}.{cents}"
    if m[2] is None:
        return f"{int(whole)}.00"
    return f"{int(whole)}.{cents}"


# --------------------------------------------------------------------------
# identifiers
# --------------------------------------------------------------------------


def normalise_postal_code(raw: str | None) -> str | None:
    s = clean_text(raw).replace(" ", "")
    m = re.search(r"(?<![0-9A-Za-z])([0-9OoIlSB]{5})(?![0-9A-Za-z])", s)
    if not m:
        return None
    d = fix_digits(m[1])
    return d if d.isdigit() else None


def normalise_iban(raw: str | None) -> str | None:
    """Upper case without spaces; for ``DE`` the 20 characters after the country are digits."""
    s = re.sub(r"[^0-9A-Za-z|!$]", "", clean_text(raw))
    if s.upper().startswith("IBAN"):
        s = s[4:]
    if len(s) < 15:
        return None
    if re.fullmatch(r"[A-Za-z]?\d{20}", s):  # "DE" (partly) lost in comb cells: German account
        s = "DE" + s[-20:]
    elif len(s) == 22 and re.fullmatch(r"\d{22}", fix_digits(s)):  # "DE" misread as digits
        s = "DE" + s[2:]
    cc = s[:2].upper().replace("0", "O").replace("1", "I")
    rest = s[2:]
    if cc == "DE":  # exactly 20 digits follow; anything after is not the IBAN
        rest = fix_digits(rest[:20])
    else:
        rest = fix_digits(rest[:2]) + rest[2:].upper()
    iban = (cc + rest).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return None
    if cc == "DE":
        iban = iban[:22]
    return iban


def normalise_tax_id(raw: str | None) -> str | None:
    s = fix_digits(re.sub(r"[\s/.\-]", "", clean_text(raw)))
    m = re.search(r"(?<!\d)\d{11}(?!\d)", s)
    return m.group(0) if m else None


def normalise_bic(raw: str | None) -> str | None:
    s = re.sub(r"[^0-9A-Za-z]", "", clean_text(raw)).upper()
    if s.startswith("BIC"):
        s = s[3:]
    if len(s) not in (8, 11):
        return None
    # the first six characters (bank + country) are letters
    head = s[:6].replace("0", "O").replace("1", "I").replace("5", "S").replace("8", "B")
    return head + s[6:]


def normalise_email(raw: str | None) -> str | None:
    s = clean_text(raw).replace(" ", "")
    s = s.replace("(at)", "@").replace("[at]", "@")
    # no address holds two dots in a row: a doubled dot is OCR seeing one twice
    s = re.sub(r"\.{2,}", ".", s)
    m = re.search(r"[\w.+\-äöüß]+@[\w\-äöü]+(?:\.[\w\-]+)+", s)
    return mail_provider(g_echo(m.group(0).strip("."))) if m else None


def normalise_phone(raw: str | None) -> str | None:
    """As written: digits, spaces and ``+ ( ) / -`` kept, everything else dropped."""
    s = clean_text(raw)
    s = re.sub(r"^(tel(efon)?\.?|fon)[:.]?", "", s, flags=re.I)
    s = re.sub(r"[^0-9+()/\- ]", "", s)
    s = " ".join(s.split()).strip(" -/")
    return s if sum(c.isdigit() for c in s) >= 4 else None


# --------------------------------------------------------------------------
# addresses
# --------------------------------------------------------------------------

_PLZ_CITY = re.compile(r"(?<![\dA-Za-z])(?:D-)?([0-9OoIlSB]{5})\s+([^\d,;][^,;]*)")


def normalise_address(raw: str | None) -> str | None:
    """One string ``"Straße Nr, PLZ Ort"`` from either order (street first or PLZ first)."""
    s = repair_text(clean_text(raw))
    if not s:
        return None
    m = _PLZ_CITY.search(s)
    if not m or not fix_digits(m[1]).isdigit():
        return None
    plz = fix_digits(m[1])
    city = m[2].strip(" ,;")
    street = (s[: m.start()] + " , " + s[m.end():]).strip()
    street = ", ".join(p.strip() for p in re.split(r"[,;]", street) if re.search(r"\w", p))
    # "12a." before the PLZ is an OCR-misread comma ("Str." keeps its dot)
    street = re.sub(r"(\d[a-zA-Z]?)\.$", r"\1", street)
    if not street:
        return None
    return f"{street}, {plz} {city}"


# --------------------------------------------------------------------------
# bool / choice
# --------------------------------------------------------------------------

_TRUE = {"ja", "j", "yes", "y", "x", "true", "1", "wahr"}
_FALSE = {"nein", "n", "no", "false", "0", "falsch"}


def normalise_bool(raw: str | bool | None) -> bool | None:
    if isinstance(raw, bool):
        return raw
    s = clean_text(raw).lower().strip(".:")
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    return None


def normalise_id_document(raw: str | None) -> str | None:
    """Serial number of a German ID card or passport: upper case, no spaces.

    The serial alphabet has no vowels (``CFGHJKLMNPRTVWXYZ`` and digits), so an
    ``O`` is a zero and an ``I`` a one.
    """
    s = re.sub(r"[^0-9A-Za-z]", "", clean_text(raw)).upper()
    if not s:
        return None
    return s.replace("O", "0").replace("I", "1")


NORMALISERS = {
    "text": normalise_text,
    "date": normalise_date,
    "int": normalise_int,
    "money": normalise_money,
    "address": normalise_address,
    "postal_code": normalise_postal_code,
    "iban": normalise_iban,
    "tax_id": normalise_tax_id,
    "bic": normalise_bic,
    "email": normalise_email,
    "phone": normalise_phone,
    "bool": normalise_bool,
    "id_document": normalise_id_document,
}


def normalise(type_: str, raw: str | None):
    """Normalise ``raw`` as ``type_`` (see module doc); unknown types → cleaned text."""
    fn = NORMALISERS.get(type_, normalise_text)
    return fn(raw)
