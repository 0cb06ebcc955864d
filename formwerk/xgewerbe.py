"""XGewerbeanzeige-shaped XML for a completed Gewerbe-Anmeldung.

The shape follows XGewerbeanzeige 2.2 as the KoSIT test-suite messages show
it (``abh.gewerbemeldung.0500``, namespace
``http://www.xgewerbeanzeige.de/spezifikation/2.2``, code values as
unqualified ``<code>`` children). Formwerk fills the part a GewA 1 form
carries; ``forms/xsd/xgewerbeanzeige-2.2-formwerk.xsd`` describes exactly that
subset and every export is validated against it before it leaves.

Values come from the delivered view (clerks' corrections merged). Mapping
notes: the birth date is written ``DDMMYYYY`` as in the test-suite messages;
"german" nationality is the Destatis key ``000`` (other nationalities are not
on the form as a key and are left out); business kind becomes the four
``betriebArt`` flags; ``itinerant`` sets ``istReisegewerbe``; vending machine
set-up has no element in the subset and is left out.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from formwerk.models import CaseResult, CaseStatus

NS = "http://www.xgewerbeanzeige.de/spezifikation/2.2"
XSD = Path(__file__).resolve().parent.parent / "forms" / "xsd" / "xgewerbeanzeige-2.2-formwerk.xsd"
ROOT = "abh.gewerbemeldung.0500"
MESSAGE_TYPE = "0500"
DOCUMENT_TYPE = "gewerbeanmeldung"

SEX = {"male": "1", "female": "2"}
NATIONALITY = {"german": "000"}
ESTABLISHMENT = {"main_branch": "1", "branch": "2", "dependent_branch": "3"}
REASON = {"new_business": "01", "relocation": "02", "conversion": "03", "change_legal_form": "04",
          "partner_entry": "05", "takeover": "06"}
BUSINESS_KIND = ("industry", "craft", "trade", "other")  # betriebArt: industrie, handwerk, handel, sonstiges
CHANNEL_EMAIL, CHANNEL_PHONE = "01", "02"
UUID_NAMESPACE = uuid.UUID("6b0f3c1e-7a0e-4d5e-9f57-5c3a8f1d2e40")  # message ids derive from the case


class ExportError(Exception):
    """The case cannot be exported; ``message`` says why (German)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


ET.register_namespace("xga", NS)


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _el(parent: ET.Element, name: str, text: Any = None) -> ET.Element:
    e = ET.SubElement(parent, _q(name))
    if text is not None:
        e.text = str(text)
    return e


def _code(parent: ET.Element, name: str, code: str, **attrs: str) -> ET.Element:
    e = _el(parent, name)
    for k, v in attrs.items():
        e.set(k, v)
    c = ET.SubElement(e, "code")  # unqualified, as in the standard
    c.text = code
    return e


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def split_address(value: Any) -> dict[str, str]:
    """'Straße Nr, PLZ Ort' (FORMS.md's address) into strasse, hausNrVon, plz, ort (what is there)."""
    s = _text(value)
    if not s:
        return {}
    street_part, _, place_part = s.rpartition(",") if "," in s else (s, "", "")
    out: dict[str, str] = {}
    m = re.match(r"^\s*(?P<plz>\d{5})\s+(?P<ort>.+?)\s*$", place_part)
    if m:
        out["plz"], out["ort"] = m.group("plz"), m.group("ort")
    elif place_part.strip():
        out["ort"] = place_part.strip()
    m = re.match(r"^\s*(?P<strasse>.*?\D)\s*(?P<nr>\d+\s*[a-zA-Z]?(?:\s*[-/]\s*\d+\s*[a-zA-Z]?)?)\s*$", street_part)
    if m and m.group("strasse").strip():
        out["strasse"], out["hausNrVon"] = m.group("strasse").strip(), m.group("nr").replace(" ", "")
    elif street_part.strip():
        out["strasse"] = street_part.strip()
    return out


def _anschrift(parent: ET.Element, value: Any) -> None:
    parts = split_address(value)
    if not parts:
        return
    a = _el(parent, "anschrift")
    for key in ("strasse", "hausNrVon", "ort", "plz"):
        if key in parts:
            _el(a, key, parts[key])


def _register(value: Any) -> tuple[str | None, str | None]:
    """'Amtsgericht Jena HRB 12345' -> (number, place); otherwise the whole text as the number."""
    s = _text(value)
    if not s:
        return None, None
    m = re.search(r"\b(HR\s?[AB]|GnR|PR|VR)\s*\d+\s*\w*", s)
    if m:
        place = (s[:m.start()] + s[m.end():]).strip(" ,;")
        place = re.sub(r"^(Amtsgericht|AG)\s+", "", place).strip() or None
        return m.group(0).strip(), place
    return s, None


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _iso(value: Any) -> str | None:
    s = _text(value)
    if not s:
        return None
    try:
        return date.fromisoformat(s).isoformat()
    except ValueError:
        return None


def build(case: CaseResult, *, authority: str = "", now: datetime | None = None) -> bytes:
    """The export of ``case`` (UTF-8 XML bytes), validated against the subset XSD.

    Raises ExportError when the case is no completed Gewerbe-Anmeldung or the
    export would not be valid.
    """
    if case.document_type != DOCUMENT_TYPE:
        raise ExportError("Der Fall ist keine Gewerbe-Anmeldung; ein XGewerbeanzeige-Export gibt es nur für diese.")
    if case.status != CaseStatus.COMPLETED:
        raise ExportError("Der Fall ist noch nicht abgeschlossen; exportiert wird erst das geprüfte Ergebnis.")
    now = now or datetime.now(timezone.utc)
    v = {name: f.value for name, f in case.delivered_fields().items()}
    case_uuid = str(uuid.uuid5(UUID_NAMESPACE, case.case_id))

    root = ET.Element(_q(ROOT), {"produkt": "Formwerk", "produkthersteller": "Formwerk",
                                 "produktversion": "0.1.0", "standard": "XGewerbeanzeige", "version": "2.2"})
    head = _el(root, "nachrichtenkopf")
    ident = _el(head, "identifikation.nachricht")
    _el(ident, "nachrichtenUUID", str(uuid.uuid5(UUID_NAMESPACE, f"{case.case_id}/{case.revision}")))
    _code(ident, "nachrichtentyp", MESSAGE_TYPE)
    _el(ident, "erstellungszeitpunkt", now.astimezone(timezone.utc).isoformat(timespec="seconds"))
    if authority:
        _el(_el(head, "autor"), "behoerdenname", authority)

    rec = _el(_el(root, "satz"), "anmeldung")
    _el(rec, "satzErstellung", now.astimezone(timezone.utc).isoformat(timespec="seconds"))
    if case.routed_at:
        _el(rec, "ereigniszeitpunkt", case.routed_at.astimezone(timezone.utc).isoformat(timespec="seconds"))
    _code(rec, "istKorrektur", "0")
    if case.reference and len(case.reference) <= 255 and not case.reference.startswith("sha256:"):
        _el(rec, "gemeindeMeldungNr", case.reference)
    _el(rec, "uuid", case_uuid.upper())

    gew = _el(rec, "gewerbe")
    name, (reg_nr, reg_place) = _text(v.get("registered_name")), _register(v.get("register_entry"))
    if name or reg_nr:
        betrieb = _el(gew, "betrieb")
        _el(betrieb, "ID", 1)
        for tag, value in (("eingetragenerName", name), ("eintragungNr", reg_nr), ("eintragungOrt", reg_place)):
            if value:
                _el(betrieb, tag, value)
    for tag, key in (("anzahlVollzeitBeschaeftigte", "employees_full_time"),
                     ("anzahlTeilzeitBeschaeftigte", "employees_part_time")):
        if isinstance(v.get(key), int) and v[key] >= 0:
            _el(gew, tag, v[key])
    kind = v.get("business_kind")
    if kind in BUSINESS_KIND:
        art = _el(gew, "betriebArt")
        for tag, option in zip(("industrie", "handwerk", "handel", "sonstiges"), BUSINESS_KIND):
            _code(art, tag, _flag(kind == option))
    est = v.get("establishment_kind")
    if est in ESTABLISHMENT:
        _code(gew, "niederlassungArt", ESTABLISHMENT[est])
    if est:
        _code(gew, "istReisegewerbe", _flag(est == "itinerant"))
    if isinstance(v.get("sideline"), bool):
        _code(gew, "istNebenerwerb", _flag(v["sideline"]))
    _anschrift(gew, v.get("business_address"))

    person = _el(gew, "beteiligtePerson")
    _code(person, "personFunktion", "1")
    family = _text(v.get("family_name"))
    if not family:
        raise ExportError("Der Familienname fehlt; ohne ihn gibt es keinen gültigen Export.")
    _el(person, "familienname", family)
    if _text(v.get("given_names")):
        _el(person, "vorname", _text(v["given_names"]))
    if v.get("sex") in SEX:
        _code(person, "geschlecht", SEX[v["sex"]], listVersionID="3")
    if _text(v.get("birth_name")):
        _el(person, "geburtsname", _text(v["birth_name"]))
    birth = _iso(v.get("birth_date"))
    if birth:
        y, m, d = birth.split("-")
        _el(person, "geburtsdatum", f"{d}{m}{y}")
    place = _text(v.get("birth_place"))
    if place:
        town, _, country = place.rpartition(",") if "," in place else (place, "", "")
        _el(person, "geburtsort", town.strip() or place)
        if country.strip():
            _el(person, "geburtsland", country.strip())
    if v.get("nationality") in NATIONALITY:
        _code(_el(person, "staatangehoerigkeiten"), "staatsangehoerigkeitSchluessel",
              NATIONALITY[v["nationality"]])
    _anschrift(person, v.get("home_address"))
    for channel, key in ((CHANNEL_PHONE, "phone"), (CHANNEL_EMAIL, "email")):
        if _text(v.get(key)):
            e = _el(person, "erreichbarkeit")
            _code(e, "kanal", channel)
            _el(e, "kennung", _text(v[key]))

    for tag, key in (("gueltigAb", "activity_start"), ("datumMeldung", "signature_date")):
        if _iso(v.get(key)):
            _el(rec, tag, _iso(v[key]))
    if _text(v.get("activity")):
        _el(_el(_el(rec, "taetigkeitenGesamt"), "schwerpunkt"), "taetigkeitSchwerpunkt", _text(v["activity"]))
    if v.get("reason") in REASON:
        _code(rec, "grundAnmeldungSchluessel", REASON[v["reason"]])

    ET.indent(root, space="  ")
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
    errors = validate(data)
    if errors:
        raise ExportError("Der Export entspricht nicht dem Schema: " + "; ".join(errors[:3]))
    return data


@lru_cache(maxsize=1)
def schema():
    import xmlschema

    return xmlschema.XMLSchema(str(XSD))


def validate(data: bytes) -> list[str]:
    """Schema errors of an export (empty: valid)."""
    import xmlschema

    try:
        return [f"{e.path}: {e.reason}" for e in schema().iter_errors(data.decode("utf-8"))]
    except (xmlschema.XMLResourceError, UnicodeDecodeError, ET.ParseError) as exc:
        return [f"not well-formed: {exc}"]


def element_paths(data: bytes) -> list[tuple[str, ...]]:
    """Every element as its path of local names, in document order (for structure checks)."""
    root = ET.fromstring(data)
    out: list[tuple[str, ...]] = []

    def walk(e: ET.Element, prefix: tuple[str, ...]) -> None:
        if not isinstance(e.tag, str):
            return
        path = (*prefix, e.tag.rpartition("}")[2])
        out.append(path)
        for child in e:
            walk(child, path)

    walk(root, ())
    return out
