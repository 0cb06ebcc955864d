"""Deterministic fake German applicant data, as FORMS.md ground truth.

Every generator takes a ``random.Random`` (or a seed) and returns values in the
**normalised** types of ``/work/shared/FORMS.md``:

* dates: ISO ``YYYY-MM-DD`` strings
* money: decimal string with a dot and two places (``"642.50"``)
* address: one string ``"Straße Nr, PLZ Ort"``
* iban: upper case, no spaces (DE, 22 characters, valid MOD 97-10, at a
  registered bank code with an account its check-digit method accepts)
* tax_id: 11 digits, valid Steuer-ID (ISO 7064 MOD 11,10 check digit,
  first digit not 0, exactly one digit repeated two or three times in the
  first ten digits)
* choice: the option id of FORMS.md; bool: Python bool; int: Python int

The same seed always gives the same data (Faker is seeded per instance and all
other choices come from one ``random.Random``).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from faker import Faker

# --------------------------------------------------------------------------
# check-digit generators
# --------------------------------------------------------------------------


def iban_check_digits(country: str, bban: str) -> str:
    """The two MOD 97-10 check digits (ISO 13616) for ``country`` + ``bban``."""
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged.upper())
    return f"{98 - int(numeric) % 97:02d}"


def account_check_digit(method: str, digits: str) -> int:
    """The account check digit of the Bundesbank's method ``method`` ("00", "13"
    or "63": modulus 10, weights 2, 1, 2, 1 … from the right, the digit sums of
    the products added) over ``digits`` (the positions the method weights)."""
    if method not in ("00", "13", "63"):
        raise ValueError(f"account check method {method} is not implemented")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        p = int(ch) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return (10 - total % 10) % 10


def make_account(rng: random.Random, method: str) -> str:
    """A ten-digit account number whose check digit follows ``method``: "00"
    (Sparkassen) checks positions 1-9 in position 10; "13" (Commerzbank) and
    "63" (Deutsche Bank) a six-digit base number in positions 2-7, the check
    digit in 8 and a two-digit sub-account (00) behind it, behind a 0."""
    if method == "00":
        body = f"{rng.randint(10_000, 999_999_999):09d}"
        return body + str(account_check_digit(method, body))
    base = f"{rng.randint(100_000, 999_999)}"
    return "0" + base + str(account_check_digit(method, base)) + "00"


def make_iban(rng: random.Random, bank_code: str | None = None, method: str | None = None) -> str:
    """A German IBAN: ``DE`` + 2 check digits + 8-digit bank code + 10-digit
    account. Without ``bank_code`` a bank of :data:`BANKS`, with an account
    number its check-digit method accepts; with one, the account follows
    ``method`` (random digits when none is given)."""
    if bank_code is None:
        _name, _bic, bank_code, method = rng.choice(BANKS)
    account = make_account(rng, method) if method else f"{rng.randint(0, 9_999_999_999):010d}"
    bban = bank_code + account
    return "DE" + iban_check_digits("DE", bban) + bban


def steuer_id_check_digit(first10: str) -> int:
    """ISO 7064 MOD 11,10 check digit over the first ten digits of a Steuer-ID."""
    product = 10
    for ch in first10:
        total = (int(ch) + product) % 10
        if total == 0:
            total = 10
        product = (total * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def make_tax_id(rng: random.Random) -> str:
    """A valid Steuerliche Identifikationsnummer (11 digits).

    Digit rule of the real Steuer-ID (since 2016): in the first ten digits
    exactly one digit occurs two or three times (a triple may not be three
    adjacent equal digits), exactly ``10 - 1 - (n-1)`` other digits occur once,
    so 8 or 7 digits are missing; first digit is never 0.
    """
    while True:
        repeats = rng.choice((2, 3))
        distinct = rng.sample(range(10), 10 - repeats + 1)
        twin = distinct[0]
        digits = distinct + [twin] * (repeats - 1)
        rng.shuffle(digits)
        if digits[0] == 0:
            continue
        s = "".join(map(str, digits))
        if repeats == 3 and str(twin) * 3 in s:
            continue
        return s + str(steuer_id_check_digit(s))


# --------------------------------------------------------------------------
# formatting helpers (how values are *printed*, truth stays normalised)
# --------------------------------------------------------------------------


def de_date(iso: str) -> str:
    """``"1985-03-12"`` -> ``"12.03.1985"`` (how Germans write a date)."""
    y, m, d = iso.split("-")
    return f"{d}.{m}.{y}"


def de_money(amount: str, euro: bool = True) -> str:
    """``"1642.50"`` -> ``"1.642,50 €"``."""
    whole, cents = amount.split(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"{grouped},{cents}" + (" €" if euro else "")


def group4(s: str) -> str:
    """IBAN print form: groups of four separated by spaces."""
    return " ".join(s[i : i + 4] for i in range(0, len(s), 4))


# --------------------------------------------------------------------------
# people and places
# --------------------------------------------------------------------------

# surnames and given names with umlauts / ß, mixed into Faker's list so that
# every benchmark run has enough of them (Faker alone gives them rarely)
_UMLAUT_SURNAMES = [
    "Müller", "Schäfer", "Köhler", "Jäger", "Böhm", "Krüger", "Günther",
    "Weiß", "Groß", "Voß", "Schröder", "Möller", "Löffler", "Häußler",
    "Brüggemann", "Özdemir", "Fuß", "Strauß",
]
_UMLAUT_GIVEN = {
    "male": ["Jürgen", "Jörg", "Sönke", "Björn", "Günter", "Jörn", "Lüder"],
    "female": ["Jördis", "Björg", "Gönül", "Käthe", "Ännchen", "Sünje"],
}

ACTIVITIES = [
    "Herstellung von Möbeln",
    "Elektroinstallationen und Elektroeinzelhandel",
    "Großhandel mit Lebensmitteln",
    "Einzelhandel mit Bekleidung und Schuhen",
    "Hausmeisterservice und Gebäudereinigung",
    "IT-Dienstleistungen und Softwareentwicklung",
    "Friseursalon",
    "Imbiss mit Ausschank alkoholfreier Getränke",
    "Onlinehandel mit Haushaltswaren",
    "Garten- und Landschaftsbau",
    "Kurierdienst (ohne Güterkraftverkehr)",
    "Fotografie und Bildbearbeitung",
    "Malerarbeiten und Trockenbau",
    "Vermittlung von Versicherungen nach § 34d GewO",
    "Kosmetikstudio und Nagelpflege",
    "Reparatur von Fahrrädern",
    "Unternehmensberatung",
    "Handel mit Gebrauchtwagen",
]
# banks as the Bundesbank's bank-code register lists them: name, BIC, bank code
# (Bankleitzahl) and the method of its account check digit
BANKS = [
    ("Sparkasse KölnBonn", "COLSDE33XXX", "37050198", "00"),
    ("Stadtsparkasse Düsseldorf", "DUSSDEDDXXX", "30050110", "00"),
    ("Deutsche Bank", "DEUTDEDKXXX", "37070060", "63"),
    ("Commerzbank", "COBADEFFXXX", "37040044", "13"),
    ("Sparkasse Aachen", "AACSDE33XXX", "39050000", "00"),
]
COUNTRIES = ["Deutschland", "Türkei", "Polen", "Italien", "Österreich", "Syrien",
             "Rumänien", "Griechenland", "Ukraine", "Kroatien"]
NATIONALITY_ADJ = {"Deutschland": "deutsch", "Türkei": "türkisch", "Polen": "polnisch",
                   "Italien": "italienisch", "Österreich": "österreichisch",
                   "Syrien": "syrisch", "Rumänien": "rumänisch",
                   "Griechenland": "griechisch", "Ukraine": "ukrainisch",
                   "Kroatien": "kroatisch"}

# German exonyms / Latin-1 spellings: what applicants write on German forms, and
# printable with the PDF core fonts (WinAnsi) used for some fill-ins
FOREIGN_CITIES = {
    "Türkei": ["Istanbul", "Ankara", "Izmir", "Bursa"], "Polen": ["Krakau", "Danzig", "Posen"],
    "Italien": ["Neapel", "Palermo", "Mailand"], "Österreich": ["Wien", "Graz", "Linz"],
    "Syrien": ["Damaskus", "Aleppo", "Homs"], "Rumänien": ["Klausenburg", "Temeswar", "Bukarest"],
    "Griechenland": ["Thessaloniki", "Athen", "Patras"], "Ukraine": ["Kiew", "Lemberg", "Charkiw"],
    "Kroatien": ["Zagreb", "Split", "Rijeka"],
}


# Telephone numbers under the German numbering plan (Bundesnetzagentur):
# geographic area codes (Ortsnetzkennzahlen, with the trunk 0) and the lengths
# their subscriber numbers have there -- the area code and the subscriber
# number together are at most 11 digits without the 0, big cities' short codes
# have long local numbers, small towns' long codes short ones; subscriber
# numbers never start with 0 (the trunk prefix) or 1 (service numbers).
AREA_CODES: dict[str, tuple[int, int]] = {
    "030": (7, 8), "040": (7, 8), "069": (7, 8), "089": (7, 8),              # Berlin, Hamburg, Frankfurt, München
    "0221": (6, 8), "0211": (6, 8), "0251": (6, 7), "0241": (6, 7),           # Köln, Düsseldorf, Münster, Aachen
    "0228": (6, 7), "0385": (6, 7), "0711": (6, 8), "0351": (6, 8),           # Bonn, Schwerin, Stuttgart, Dresden
    "0341": (6, 8), "0511": (6, 8), "0911": (6, 8), "0421": (6, 8),           # Leipzig, Hannover, Nürnberg, Bremen
    "02241": (5, 7), "04131": (5, 6), "06421": (5, 6), "07071": (5, 6),      # Siegburg, Lüneburg, Marburg, Tübingen
    "08031": (5, 6), "09131": (5, 6), "02506": (4, 6), "05251": (5, 6),      # Rosenheim, Erlangen, Telgte, Paderborn
}
# mobile blocks (national destination codes with the 0) and their subscriber
# lengths: 015x codes have five digits and seven-digit subscriber numbers,
# 016x and 017x four digits and seven (0176: eight; 0160 has both)
MOBILE_BLOCKS: list[tuple[str, int]] = [
    ("01511", 7), ("01512", 7), ("01515", 7), ("01516", 7), ("01517", 7), ("01520", 7), ("01522", 7),
    ("01523", 7), ("01525", 7), ("01573", 7), ("01575", 7), ("01577", 7), ("01578", 7), ("01590", 7),
    ("0160", 7), ("0160", 8), ("0162", 7), ("0163", 7), ("0170", 7), ("0171", 7), ("0172", 7),
    ("0173", 7), ("0174", 7), ("0175", 7), ("0176", 8), ("0177", 7), ("0178", 7), ("0179", 7),
]
# postal regions (the first two digits of a Postleitzahl) in use
POSTAL_REGIONS = [r for r in range(1, 100) if r not in (5, 43, 62)]


# a Roman numeral glued to the next word of a street name ("Koch IIstraße",
# "Ortrud-Koch II-Straße")
_ROMAN_GLUED = re.compile(r"(?<=\w) I{2,3}(?=[a-zäöüß-])")


@dataclass
class Person:
    """One fake person. Dates are ISO strings."""

    family_name: str
    given_names: str
    sex: str  # "male" | "female"
    birth_date: str
    birth_name: str  # "" when equal to the family name
    birth_place: str  # city
    birth_country: str
    nationality: str  # adjective, German ("deutsch")
    street: str
    house_no: str
    postal_code: str
    city: str
    phone: str
    email: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def street_line(self) -> str:
        return f"{self.street} {self.house_no}"

    @property
    def city_line(self) -> str:
        return f"{self.postal_code} {self.city}"

    @property
    def address(self) -> str:
        """Normalised address ``"Straße Nr, PLZ Ort"``."""
        return f"{self.street_line}, {self.city_line}"


class FakeGermany:
    """Seeded source of fake German data (names, places, dates, numbers)."""

    def __init__(self, seed: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.faker = Faker("de_DE")
        self.faker.seed_instance(seed)
        # "today" is fixed so that dates do not drift with the wall clock
        self.today = date(2026, 6, 1) + timedelta(days=self.rng.randint(0, 150))

    # -- small pieces ----------------------------------------------------
    def family_name(self) -> str:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice(_UMLAUT_SURNAMES)
        if r < 0.35:  # double name
            return f"{self.faker.last_name()}-{self.rng.choice(_UMLAUT_SURNAMES)}"
        return self.faker.last_name()

    def given_names(self, sex: str) -> str:
        pick = self.faker.first_name_male if sex == "male" else self.faker.first_name_female
        r = self.rng.random()
        if r < 0.2:
            return self.rng.choice(_UMLAUT_GIVEN[sex])
        if r < 0.4:  # two given names ("Vorname(n)")
            return f"{pick()} {pick()}"
        return pick()

    def house_no(self) -> str:
        n = str(self.rng.choice([self.rng.randint(1, 30), self.rng.randint(1, 180)]))
        return n + (self.rng.choice("abc") if self.rng.random() < 0.12 else "")

    def postal_code(self) -> str:
        """Five digits in a postal region (Leitregion) Deutsche Post uses: 01-99
        without 00, 05, 43 and 62, which no town has."""
        region = self.rng.choice(POSTAL_REGIONS)
        return f"{region:02d}{self.rng.randint(1 if region == 1 else 0, 998 if region == 99 else 999):03d}"

    def date_between(self, start: date, end: date) -> str:
        days = (end - start).days
        return (start + timedelta(days=self.rng.randint(0, max(days, 0)))).isoformat()

    def birth_date(self, min_age: int = 18, max_age: int = 80) -> str:
        start = date(self.today.year - max_age, 1, 1)
        end = date(self.today.year - min_age, self.today.month, 1)
        return self.date_between(start, end)

    def phone(self) -> str:
        """A German number as applicants write it, valid under the numbering plan
        by construction (:data:`AREA_CODES`, :data:`MOBILE_BLOCKS`)."""
        style = self.rng.randrange(4)
        if style == 3:
            ndc, length = self.rng.choice(MOBILE_BLOCKS)
            sub = str(self.rng.randint(1, 9)) + "".join(str(self.rng.randint(0, 9)) for _ in range(length - 1))
            if len(ndc) == 5 and self.rng.random() < 0.5:  # "0151 23456789" as often as "01512 3456789"
                ndc, sub = ndc[:4], ndc[4:] + sub
            return f"{ndc} {sub}" if self.rng.random() < 0.8 else f"{ndc}/{sub}"
        area, (lo, hi) = self.rng.choice(sorted(AREA_CODES.items()))
        local = str(self.rng.randint(2, 9)) + "".join(str(self.rng.randint(0, 9))
                                                      for _ in range(self.rng.randint(lo, hi) - 1))
        if style == 0:
            return f"{area} {local}"
        if style == 1:
            return f"{area}/{local}"
        return f"+49 {area[1:]} {local}"

    def email(self, given: str, family: str) -> str:
        def ascii_(s: str) -> str:
            table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": ".",
                                   "Ä": "ae", "Ö": "oe", "Ü": "ue"})
            # accents dropped ("José" -> "jose": mail providers take ASCII local parts), and no
            # dot or hyphen next to another or at an end ("H.-Dieter" -> "h-dieter")
            s = unicodedata.normalize("NFKD", s.lower().translate(table)).encode("ascii", "ignore").decode()
            s = "".join(c for c in s if c.isalnum() or c in ".-")
            return re.sub(r"[.-]{2,}", lambda m: m[0][-1], s).strip(".-")
        domain = self.rng.choice(["web.de", "gmx.de", "t-online.de", "posteo.de", "mail.de"])
        return f"{ascii_(given.split()[0])}.{ascii_(family)}@{domain}"

    def money(self, low: float, high: float) -> str:
        cents = self.rng.randint(int(low * 100), int(high * 100))
        if self.rng.random() < 0.5:
            cents -= cents % 100  # round amounts are common in rents
        return f"{cents // 100}.{cents % 100:02d}"

    def bank(self) -> tuple[str, str]:
        """(name, BIC) of a bank; :meth:`iban` of the same name makes an IBAN there."""
        name, bic, _code, _method = self.rng.choice(BANKS)
        return name, bic

    def iban(self, bank: str | None = None) -> str:
        """An IBAN at the bank named ``bank`` (a name :meth:`bank` gave), else at any bank."""
        if bank is None:
            return make_iban(self.rng)
        _name, _bic, code, method = next(b for b in BANKS if b[0] == bank)
        return make_iban(self.rng, code, method)

    def tax_id(self) -> str:
        return make_tax_id(self.rng)

    # -- a whole person --------------------------------------------------
    def person(self, min_age: int = 18, max_age: int = 80) -> Person:
        sex = self.rng.choice(["male", "female"])
        family = self.family_name()
        given = self.given_names(sex)
        birth_name = ""
        if sex == "female" and self.rng.random() < 0.3:
            birth_name = self.faker.last_name()
        country = "Deutschland" if self.rng.random() < 0.75 else self.rng.choice(COUNTRIES[1:])
        return Person(
            family_name=family,
            given_names=given,
            sex=sex,
            birth_date=self.birth_date(min_age, max_age),
            birth_name=birth_name,
            birth_place=(self.faker.city() if country == "Deutschland"
                         else self.rng.choice(FOREIGN_CITIES[country])),
            birth_country=country,
            nationality=NATIONALITY_ADJ[country] if self.rng.random() < 0.9 else "deutsch",
            street=self.street_name(),
            house_no=self.house_no(),
            postal_code=self.postal_code(),
            city=self.faker.city(),
            phone=self.phone(),
            email=self.email(given, family),
        )

    def street_name(self) -> str:
        """A street name. Faker's de_DE surnames include "Koch II", which it glues
        into streets no town has ("Koch IIallee"): the numeral is dropped."""
        return _ROMAN_GLUED.sub("", self.faker.street_name())

    def address(self) -> tuple[str, str, str, str]:
        """(street, house_no, postal_code, city)."""
        return self.street_name(), self.house_no(), self.postal_code(), self.faker.city()
