"""The right values of ``bench.rule_fp``: real-world spellings of the fields its rules apply to.

Sources neither the extractor nor the benchmark's generator (Faker ``de_DE``)
uses: the hand-written lists below (names, activities, addresses, register
entries, places of birth, phone numbers in the writing styles of forms), Faker
locales other than ``de_DE`` (names and towns), and, when ``../shared/data`` is
there, the names and addresses of the KoSIT XGewerbeanzeige test messages and
of the e-invoice samples and the phone numbers written on the real forms of
XFUND-de.
"""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: real given names from many countries, spelled as their bearers write them
REAL_GIVEN = [
    "Iqbal", "Tariq", "Qasim", "Rafiq", "Farooq", "Siddiq", "Ishaq", "Aqil", "Saqib", "Waqar", "Qiu", "Zhiqiang",
    "Mehmet", "Ayşe", "Çağla", "Gülşen", "Şükrü", "Oğuz", "Muharrem", "Yusuf", "Fatma", "Emine", "Hüseyin",
    "Wei", "Xiaoming", "Jian", "Thi Lan", "Minh Anh", "Nguyen Van", "Hoa", "Sung-min", "Ji-woo", "Haruto",
    "Agnieszka", "Małgorzata", "Wojciech", "Grzegorz", "Przemysław", "Zdeněk", "Jiří", "Tomáš", "Ľubomír",
    "Siobhán", "Niamh", "Seán", "Aoife", "Pádraig", "Eóin", "Mairéad",
    "Søren", "Bjørn", "Åsa", "Ingrid", "Sigurður", "Þórunn", "Ólafur", "Jüri", "Päivi", "Aino",
    "José", "María José", "João", "Conceição", "Inês", "Françoise", "Anaïs", "Noël", "Gaëlle", "Loïc",
    "Giuseppe", "Giovanni", "Maria Grazia", "Dragan", "Željko", "Snežana", "Đorđe", "Ioana", "Ștefan",
    "Kay-Uwe", "Hans-Jürgen", "Ännchen", "Jörg", "Günther", "Wolfgang", "Helga", "Ingeborg", "Brigitte",
    "Chiamaka", "Oluwaseun", "Ngozi", "Kwame", "Abebe", "Amina", "Fatou", "Mamadou", "Aliyu",
    "Dmitrij", "Oleksandr", "Yevgeniy", "Anastasija", "Svetlana", "Olga", "Nikolaos", "Eleni", "Giorgos",
    "Priya", "Aarav", "Rajesh", "Lakshmi", "Sanjay", "Mohammed", "Abdul Rahman", "Nour", "Layla", "Hadi",
    "Ilse", "Ilka", "Ildikó", "Igor", "Iris",
]
#: real family names from many countries
REAL_FAMILY = [
    "Iqbal", "Tariq", "Qureshi", "Siddiqui", "Farooqi", "Haq", "Baqri", "Al-Qasimi", "Sadiq", "Ashfaq",
    "DeLuca", "LeBlanc", "McLean", "MacDonald", "FitzGerald", "DiMaggio", "DuBois", "LaFontaine", "DeAngelis",
    "O'Brien", "O'Sullivan", "D'Amico", "d'Alembert", "dell'Acqua", "van der Berg", "van 't Hof", "ter Horst",
    "von Bülow", "zu Guttenberg", "de la Cruz", "dos Santos", "da Silva", "af Klint", "bin Laden", "al-Hassan",
    "Nguyen", "Nguyễn", "Tran", "Pham", "Le", "Wang", "Zhang", "Li", "Kim", "Park", "Yamamoto", "Sato",
    "Müller-Lüdenscheidt", "Schmidt", "Meier", "Weiß", "Groß", "Jäger", "Fuß", "Çelik", "Yılmaz", "Öztürk",
    "Şahin", "Doğan", "Ødegaard", "Søndergaard", "Kjærgaard", "Åberg", "Ström", "Jónsdóttir", "Þórsson",
    "Kowalski", "Wiśniewska", "Wójcik", "Grzegorczyk", "Dvořák", "Novák", "Horváth", "Szőke", "Kovačević",
    "Petrović", "Đukić", "Popescu", "Țurcanu", "Papadopoulos", "Okonkwo", "Adeyemi", "Mensah", "Diallo",
    "Ivanova", "Shevchenko", "Kuznetsov", "Patel", "Singh", "Gupta", "Fernández", "Rodríguez", "Gonçalves",
    "Lefèvre", "Côté", "Bjørnstad", "Hämäläinen", "Väätäinen", "Brüggemann", "Quast", "Quandt", "Qualen",
    "Iglesias", "Illner", "Igel", "Jääskeläinen",
]
#: real descriptions of activities and register entries as applicants write them
REAL_TEXTS = [
    "Vermittlung von Darlehen nach § 34c GewO", "Bewachungsgewerbe nach § 34a GewO",
    "Versicherungsvermittlung nach § 34d Abs. 1 GewO", "Finanzanlagenvermittlung nach § 34f GewO",
    "Immobilienmakler nach §§ 34c, 34i GewO", "Gaststätte mit Ausschank alkoholischer Getränke",
    "Friseursalon", "Kiosk mit Zeitschriften und Tabakwaren", "Handel mit Kfz-Teilen und Zubehör",
    "Änderungsschneiderei", "Imbiss (türkische Spezialitäten)", "Online-Handel mit Bekleidung",
    "Amtsgericht Münster HRB 12345", "Amtsgericht Köln HRA 1234", "Amtsgericht Charlottenburg HRB 98765 B",
    "Reinigung von Gebäuden, Straßen und Verkehrsmitteln", "Gartenpflege und Hausmeisterdienste",
    "IT-Dienstleistungen, Softwareentwicklung", "Quartiersmanagement", "Qualitätsprüfung von Lebensmitteln",
]
#: real German addresses, spelled as the street signs and the post write them
REAL_ADDRESSES = [
    "Straße des 17. Juni 135, 10623 Berlin", "Unter den Linden 77, 10117 Berlin", "Am Kupfergraben 6, 10117 Berlin",
    "Karl-Marx-Allee 3, 10178 Berlin", "Quedlinburger Str. 5, 10589 Berlin", "Qualitätsweg 2, 91074 Herzogenaurach",
    "Königsallee 60, 40212 Düsseldorf", "Jungfernstieg 7, 20354 Hamburg", "Große Bleichen 12, 20354 Hamburg",
    "Marienplatz 8, 80331 München", "Sendlinger-Tor-Platz 1, 80336 München", "Theresienhöhe 7, 80339 München",
    "Domkloster 4, 50667 Köln", "Hohe Str. 111, 50667 Köln", "Ölmühlenweg 3, 48143 Münster",
    "Prinzipalmarkt 10, 48143 Münster", "Äußere Sulzbacher Str. 118, 90491 Nürnberg", "Über der Aue 2, 34121 Kassel",
    "Am Ölberg 3a, 53639 Königswinter", "Schloßstraße 4, 12163 Berlin", "Quellenstraße 21, 33154 Salzkotten",
    "Im Quellengrund 5, 65719 Hofheim am Taunus", "Auf dem Quirl 2, 51645 Gummersbach", "Bahnhofstr. 1, 19053 Schwerin",
    "Puschkinstraße 19, 19055 Schwerin", "Sielower Chaussee 12, 03044 Cottbus", "Spremberger Str. 8, 03046 Cottbus",
    "Ewald-Hase-Str. 4, 03046 Cottbus", "Am Wall 175, 28195 Bremen", "An der Ilm 3, 99423 Weimar",
    "Gänsemarkt 50, 20354 Hamburg", "Türkenstraße 24, 80333 München", "Wöhrder Hauptstr. 15, 90489 Nürnberg",
    "Frankfurter Tor 1, 10243 Berlin", "Mittlerer Pfad 15, 70499 Stuttgart", "Hauptstraße 12a, 69117 Heidelberg",
    "Allee der Kosmonauten 28, 12681 Berlin", "Platz der Republik 1, 11011 Berlin", "Ring 4, 66119 Saarbrücken",
    "Hinter der Mauer 9, 38100 Braunschweig", "Gasse 2, 97070 Würzburg", "Lange Str. 31, 26122 Oldenburg",
]
#: real German addresses with what the address rules look at: streets named after people
#: (hyphens, "ß" in a name: "Groß-Berliner Damm"), towns whose names end with a shortened
#: word and a dot ("Frankfurt a. M.", "Freiburg i. Br.", "Halle (Westf.)"), "St." and "ß"
REAL_ADDRESSES_NAMED = [
    "Friedrich-Ebert-Anlage 49, 60327 Frankfurt a. M.", "Kaiser-Joseph-Str. 179, 79098 Freiburg i. Br.",
    "Rathausplatz 1, 66386 St. Ingbert", "Schloßplatz 1, 66606 St. Wendel", "Dr.-Eckener-Str. 4, 88045 Friedrichshafen",
    "Konrad-Adenauer-Str. 1, 53113 Bonn", "Willy-Brandt-Allee 14, 53113 Bonn", "Rosa-Luxemburg-Platz 2, 10178 Berlin",
    "Geschwister-Scholl-Platz 1, 80539 München", "Theodor-Heuss-Ring 1, 50668 Köln",
    "Ernst-Reuter-Platz 7, 10587 Berlin", "Otto-von-Guericke-Str. 1, 39104 Magdeburg",
    "Gustav-Heinemann-Ufer 74, 50968 Köln", "Bürgermeister-Smidt-Str. 1, 28195 Bremen",
    "Heinrich-Heine-Allee 1, 40213 Düsseldorf", "St.-Anna-Platz 1, 80538 München", "Alt-Moabit 101, 10559 Berlin",
    "Groß-Berliner Damm 73, 12487 Berlin", "Weißer Weg 5, 07743 Jena", "Am Gießhaus 1, 34125 Kassel",
    "Rudolf-Breitscheid-Str. 19, 14482 Potsdam", "Hans-Böckler-Str. 39, 40476 Düsseldorf",
    "Clara-Zetkin-Str. 1, 99099 Erfurt", "Käthe-Kollwitz-Ufer 82, 01309 Dresden", "Jakob-Kaiser-Platz 2, 13627 Berlin",
    "Bischof-von-Ketteler-Str. 3, 55116 Mainz", "Ludwig-Erhard-Str. 4, 91052 Erlangen",
    "Adalbert-Stifter-Weg 2, 94032 Passau", "Johann-Sebastian-Bach-Str. 6, 04109 Leipzig",
    "Max-Planck-Str. 2, 37077 Göttingen", "Robert-Koch-Platz 7, 10115 Berlin", "Hinterm Schloß 3, 31134 Hildesheim",
    "Hauptstr. 4, 92637 Weiden i. d. OPf.", "Marktplatz 2, 31535 Neustadt a. Rbge.", "Bahnhofstr. 12, 33602 Bielefeld",
    "Am Markt 5, 19288 Ludwigslust", "Große Str. 8, 26721 Emden", "Straße der Einheit 1, 14612 Falkensee",
]

#: register entries as firms write them on the GewA 1 (court, kind of register, number, the
#: court's letters some courts add: Charlottenburg "B", Kiel "KI", Lübeck "HL")
REAL_REGISTER_ENTRIES = [
    "Amtsgericht Köln HRB 12345", "AG Köln, HRB 12345", "HRB 12345, Amtsgericht Köln", "Amtsgericht Münster HRA 1234",
    "Amtsgericht Charlottenburg HRB 98765 B", "Amtsgericht Charlottenburg (Berlin) HRB 123456 B",
    "Amtsgericht Kiel HRB 12345 KI", "Amtsgericht Lübeck HRB 1234 HL", "Amtsgericht Jena GnR 123",
    "Amtsgericht München VR 20123", "Amtsgericht Essen PR 1234", "Registergericht: Amtsgericht Hamburg, HRA 98765",
    "Amtsgericht Frankfurt am Main HRB 11111", "Amtsgericht Freiburg i. Br. HRB 700123", "AG Düsseldorf HRB 87654",
    "Amtsgericht Schwerin HRB 3456", "Amtsgericht Rostock HRA 2345", "Amtsgericht Neuruppin GnR 45",
    "Amtsgericht Stuttgart HRB 723456", "Amtsgericht Mannheim HRB 712345", "Amtsgericht Bonn VR 9876",
    "Amtsgericht Hannover HRB 201234", "Amtsgericht Dresden HRB 34567", "Amtsgericht Leipzig HRA 17654",
    "Amtsgericht Bad Homburg v. d. Höhe HRB 14123", "Amtsgericht Offenbach am Main HRA 41234",
    "Amtsgericht Wuppertal HRB 25678", "Amtsgericht Aachen HRB 4567", "AG Nürnberg HRB 31234",
    "Amtsgericht Montabaur HRB 23456", "Amtsgericht Potsdam HRB 31234 P", "Amtsgericht Cottbus HRB 9876 CB",
]
#: places of birth as applicants write them (town, and the country when not Germany)
REAL_PLACES = [
    "Istanbul, Türkei", "Izmir, Türkei", "Iași, Rumänien", "Ivano-Frankivsk, Ukraine", "Ioannina, Griechenland",
    "Irbid, Jordanien", "Isfahan, Iran", "Ibadan, Nigeria", "Innsbruck, Österreich", "Ingolstadt", "Iserlohn",
    "Idar-Oberstein", "Itzehoe", "Ilmenau", "Leipzig", "Lyon, Frankreich", "La Paz, Bolivien",
    "Los Angeles, USA", "Las Palmas de Gran Canaria, Spanien", "L'Aquila, Italien", "Villeneuve-lès-Avignon, Frankreich",
    "Santa Cruz de la Sierra, Bolivien", "Châlons-en-Champagne, Frankreich", "Łódź, Polen", "Lviv, Ukraine",
    "Halle (Saale)", "Frankfurt (Oder)", "Rothenburg ob der Tauber", "Mülheim an der Ruhr", "Weil am Rhein",
    "Ho-Chi-Minh-Stadt, Vietnam", "Kraków, Polen", "São Paulo, Brasilien", "Reykjavík, Island", "Brčko, Bosnien",
    # German towns with a shortened word and its dot at the end, and with "St." or "ß"
    "Frankfurt a. M.", "Freiburg i. Br.", "Weiden i. d. OPf.", "Neumarkt i. d. OPf.", "Neustadt a. Rbge.",
    "Halle (Westf.)", "Oldenburg (Oldb.)", "Burg (Dithm.)", "St. Ingbert", "St. Wendel", "St. Goar",
    "Landsberg a. Lech", "Dillingen a. d. Donau", "Rothenburg o. d. T.", "Mühldorf a. Inn", "Hann. Münden",
    "Brandenburg a. d. Havel", "Kempten (Allgäu)", "Lindau (Bodensee)", "Gießen", "Haßfurt", "Weißenfels",
    "Großenhain", "Roßlau", "Bad Neustadt a. d. Saale", "Wörth a. Rhein", "Neustadt b. Coburg", "Pfaffenhofen a. d. Ilm",
]
#: German phone numbers as applicants write them: the area codes of real places (and mobile
#: and service ranges) in the writing styles of forms ("0221 123456", "(0511) 430-19 70",
#: "+49 (0)30 ...", "0049 ..."); the subscriber digits are made up
REAL_PHONES = [
    "030 12345678", "040/4711230", "089 2345678", "(0221) 12 34 56", "069-98765432", "0211/582248",
    "+49 711 2345678", "+49 (0)351 4567890", "0049 341 2345678", "0511 430-1970", "0421 361-0",
    "0231 50-12345", "0201 88-0", "0911/2313456", "0385 5450", "0381 3812345", "0331/2891234",
    "0361 6550", "(0391) 540-0", "0681 905-0", "0611/312345", "06131 123456", "0431 901-0", "0251 4920",
    "0228 770", "0241 432-0", "0355 612-0", "03834 8536-0", "038203 12345", "07071 204-0", "09131 86-0",
    "04621 87-0", "05251 88-0", "0761 201-0", "+49 6221 58-0", "0621 293-0", "02131 90-0", "0209 169-0",
    "0151 12345678", "0171/1234567", "+49 160 1234567", "01522 3456789", "0176 98765432", "0800 1234567",
]

#: Faker locales with Latin-script names (never de_DE: the generator's own)
OTHER_LOCALES = ["de_AT", "de_CH", "tr_TR", "pl_PL", "it_IT", "fr_FR", "en_GB", "en_IE", "nl_NL", "es_ES",
                 "pt_PT", "pt_BR", "cs_CZ", "hu_HU", "ro_RO", "hr_HR", "sv_SE", "no_NO", "da_DK", "fi_FI",
                 "vi_VN", "en_IN", "en_US", "sk_SK", "sl_SI", "lt_LT", "lv_LV", "et_EE"]
#: address locales: German-language street names of other countries
ADDRESS_LOCALES = ["de_AT", "de_CH"]
MAIL_DOMAINS = ["web.de", "gmx.de", "t-online.de", "posteo.de", "gmail.com", "outlook.de", "mailbox.org"]


@dataclass(frozen=True)
class Person:
    given: str
    family: str
    source: str


def _xml_roots(folder: Path):
    """The parsed root of every well-formed ``*.xml`` in ``folder`` (none if it is absent)."""
    for path in sorted(folder.glob("*.xml")) if folder.is_dir() else []:
        try:
            yield ET.parse(path).getroot()
        except ET.ParseError:
            continue


def _shared_persons() -> tuple[list[Person], list[str]]:
    """Names and addresses of the KoSIT XGewerbeanzeige messages and the e-invoice samples."""
    persons, addresses = [], []
    for root in _xml_roots(SHARED_DATA / "xgewerbeanzeige" / "beispiele"):
        for el in root.iter():
            kids = {c.tag.rsplit("}", 1)[-1]: (c.text or "").strip() for c in el}
            if kids.get("vorname") and kids.get("familienname"):
                persons.append(Person(kids["vorname"], kids["familienname"], "xgewerbeanzeige"))
            if kids.get("strasse") and kids.get("hausnummer") and re.fullmatch(r"\d{5}", kids.get("postleitzahl", "")):
                addresses.append(f"{kids['strasse']} {kids['hausnummer']}, {kids['postleitzahl']} {kids.get('ort', '')}")
    for root in _xml_roots(SHARED_DATA / "invoices" / "XML-Rechnung" / "CII"):
        for el in root.iter():
            if el.tag.endswith("PostalTradeAddress"):
                kids = {c.tag.rsplit("}", 1)[-1]: (c.text or "").strip() for c in el}
                if kids.get("LineOne") and re.search(r"\d", kids["LineOne"]) and \
                        re.fullmatch(r"\d{5}", kids.get("PostcodeCode", "")) and kids.get("CityName"):
                    addresses.append(f"{kids['LineOne']}, {kids['PostcodeCode']} {kids['CityName']}")
    placeholders = {"Musterstr. 42, 99999 Musterstadt"}
    return persons, sorted({a for a in addresses if a not in placeholders})


def _shared_texts() -> list[str]:
    """The activity keywords ("stichwort") of the KoSIT XGewerbeanzeige messages."""
    out = set()
    for root in _xml_roots(SHARED_DATA / "xgewerbeanzeige" / "beispiele"):
        out |= {(el.text or "").strip() for el in root.iter() if el.tag.endswith("stichwort") and el.text}
    return sorted(out - {""})


#: a phone number in running text ("Telefon: (0511) 430-19 70,", "T 033234 74-118")
_PHONE_IN_TEXT = re.compile(r"(?:\+49\s*(?:\(0\)\s*)?|\(0\d{2,5}\)\s*|(?<![\d.,/])0\d{2,5}\s*[/ \-]\s*)\d[\d \-/]{2,}\d")


def _shared_phones() -> list[str]:
    """Phone numbers written on the real German forms of XFUND-de (labels and values
    alike, as their writers set them), the KoSIT messages and the e-invoices."""
    out: set[str] = set()
    for name in ("de.train.json", "de.val.json"):
        path = SHARED_DATA / "xfund_de" / name
        if not path.is_file():
            continue
        for doc in json.loads(path.read_text(encoding="utf-8"))["documents"]:
            for ent in doc["document"]:
                if not re.search(r"IBAN|\b[A-Z]{2}\d{2} \d{4}", ent["text"]):  # not an IBAN's groups
                    out |= {m.group(0).strip(" -/") for m in _PHONE_IN_TEXT.finditer(ent["text"])}
    for path in sorted((SHARED_DATA / "xgewerbeanzeige" / "beispiele").glob("*.xml")) \
            if (SHARED_DATA / "xgewerbeanzeige" / "beispiele").is_dir() else []:
        text = path.read_text(encoding="utf-8", errors="replace")
        out |= set(re.findall(r"<(?:\w+:)?telefon>([^<]+)<", text))
        m = re.search(r"<(?:\w+:)?telefonVorwahl>([^<]+)<.*?<(?:\w+:)?telefonNummer>([^<]+)<", text, re.S)
        if m:
            out.add(f"{m[1]} {m[2]}")
    cii = SHARED_DATA / "invoices" / "XML-Rechnung" / "CII"
    for path in sorted(cii.glob("*.xml")) if cii.is_dir() else []:
        out |= {p.strip() for p in re.findall(r"<ram:CompleteNumber>([^<]+)<", path.read_text(encoding="utf-8"))}
    return sorted(v for v in out if sum(c.isdigit() for c in v) >= 6)


def _faker_places(per_locale: int, seed: int) -> list[str]:
    from faker import Faker

    out = []
    for loc in OTHER_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(seed)
        out += [fk.city() for _ in range(max(1, per_locale // 4))]
    return out


def _faker_persons(per_locale: int, seed: int) -> tuple[list[Person], list[str]]:
    from faker import Faker

    persons, addresses = [], []
    for loc in OTHER_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(seed)
        for _ in range(per_locale):
            persons.append(Person(fk.first_name(), fk.last_name(), f"faker {loc}"))
    rng = random.Random(seed)
    for loc in ADDRESS_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(seed)
        for _ in range(per_locale):
            street = fk.street_address().replace("\n", " ")
            addresses.append(f"{street}, {rng.randint(1067, 99998):05d} {fk.city()}")
    return persons, addresses


def _ascii(s: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": ".", "'": ""})
    return "".join(c for c in s.lower().translate(table) if c.isascii() and (c.isalnum() or c in ".-"))


def right_values(per_locale: int = 40, seed: int = 17) -> list[dict]:
    """Records ``{field, type, value, others, required, source}`` of right values."""
    rng = random.Random(seed)
    persons = [Person(g, f, "hand-written") for g, f in zip(REAL_GIVEN, rng.sample(REAL_FAMILY, len(REAL_FAMILY)))]
    persons += [Person(rng.choice(REAL_GIVEN), f, "hand-written") for f in REAL_FAMILY[len(REAL_GIVEN):]]
    addresses = [(a, "hand-written") for a in REAL_ADDRESSES + REAL_ADDRESSES_NAMED]
    shared_p, shared_a = _shared_persons()
    faker_p, faker_a = _faker_persons(per_locale, seed)
    persons += shared_p + faker_p
    addresses += [(a, "shared/data") for a in shared_a] + [(a, "faker de_AT/de_CH") for a in faker_a]
    out = []
    for p in persons:
        pair = {"given_names": p.given, "family_name": p.family}
        out.append({"field": "given_names", "type": "text", "value": p.given, "others": pair, "required": True,
                    "source": p.source})
        out.append({"field": "family_name", "type": "text", "value": p.family, "others": pair, "required": True,
                    "source": p.source})
        local = _ascii(p.given.split()[0]) + "." + _ascii(p.family)
        if local.strip(".") and "." in local.strip("."):
            out.append({"field": "email", "type": "email", "value": f"{local}@{rng.choice(MAIL_DOMAINS)}",
                        "others": {}, "required": False, "source": p.source})
    for t, src in [(t, "hand-written") for t in REAL_TEXTS] + [(t, "shared/data") for t in _shared_texts()]:
        out.append({"field": "activity", "type": "text", "value": t, "others": {}, "required": True,
                    "source": src})
    for a, src in addresses:
        out.append({"field": "home_address", "type": "address", "value": a, "others": {}, "required": True,
                    "source": src})
    for t in REAL_REGISTER_ENTRIES:
        out.append({"field": "register_entry", "type": "text", "value": t, "others": {}, "required": False,
                    "source": "hand-written"})
    for t, src in [(t, "hand-written") for t in REAL_PLACES] + [(t, "faker") for t in _faker_places(per_locale, seed)]:
        out.append({"field": "birth_place", "type": "text", "value": t, "others": {}, "required": False,
                    "source": src})
    for t, src in [(t, "hand-written") for t in REAL_PHONES] + [(t, "shared/data") for t in _shared_phones()]:
        out.append({"field": "phone", "type": "phone", "value": t, "others": {}, "required": False, "source": src})
    return out


#: the XGewerbeanzeige elements that hold what an applicant writes on a GewA 1 (names,
#: places, addresses, activity), not codes or identifiers
_KOSIT_WRITTEN = {"vorname", "familienname", "geburtsname", "geburtsort", "strasse", "ort", "stichwort",
                  "eingetragenerName", "eintragungOrt", "taetigkeitSchwerpunkt", "taetigkeitEinzeln",
                  "behoerdenname", "ausgestelltVonOrt"}


def written_documents() -> list[tuple[str, list[str]]]:
    """(source, the written values of one document) for every real document of
    ``../shared/data``: each XFUND-de form's answers, each KoSIT message's names,
    places and addresses, each e-invoice's party names and addresses. For
    document-level verdicts (``extractors.evidence.capitals_verdict``); empty
    when the folder is absent."""
    docs: list[tuple[str, list[str]]] = []
    for name in ("de.train.json", "de.val.json"):
        path = SHARED_DATA / "xfund_de" / name
        if path.is_file():
            for doc in json.loads(path.read_text(encoding="utf-8"))["documents"]:
                docs.append(("xfund_de", [e["text"] for e in doc["document"] if e["label"] == "answer"]))
    for root in _xml_roots(SHARED_DATA / "xgewerbeanzeige" / "beispiele"):
        docs.append(("xgewerbeanzeige", [(el.text or "").strip() for el in root.iter()
                                         if el.tag.rsplit("}", 1)[-1] in _KOSIT_WRITTEN]))
    for root in _xml_roots(SHARED_DATA / "invoices" / "XML-Rechnung" / "CII"):
        docs.append(("invoices", [(el.text or "").strip() for el in root.iter()
                                  if el.tag.rsplit("}", 1)[-1] in ("Name", "LineOne", "LineTwo", "CityName")]))
    return docs
