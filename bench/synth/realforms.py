"""Fill the real AcroForms of ``/work/shared/data/forms`` with fake data.

The real PDFs are evaluation data and never enter the repository: this module
reads them from ``FORMWERK_SHARED_DATA`` (default ``../shared/data`` next to
the repo, i.e. ``/work/shared/data``) and returns ``None`` when they are not
there, so callers and tests skip cleanly.

The applicant data comes from the same ``make(fake)`` as the own renderings,
so truth is in FORMS.md names; the printed values (German dates, grouped
IBAN, ...) are written into the real field names listed in ``FIELD_MAPS``
(read with pypdf ``get_fields()``). ``NeedAppearances`` is set so that
renderers draw the values; ``scan_document`` flattens to pixels with form
drawing switched on.
"""

from __future__ import annotations

from formwerk.documents.pdf import qualified_name

import io
import logging
import os
import re
from pathlib import Path
from typing import Any, Callable

from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject

from .document import SyntheticDocument, _sub_seed
from .fake_data import FakeGermany
from .forms import FORM_MODULES
from .ticks import overlay_ticks

REAL_FORM_FILES = {
    "gewerbeanmeldung": "gewa1.pdf",
    "wohngeld_mietzuschuss": "wohngeldantrag.pdf",
    "meldebehoerde_anmeldung": "anmeldung_meldebehoerde.pdf",
    "kindergeld_kg1": "kg1.pdf",
}


def shared_forms_dir() -> Path:
    """Where the real forms are (``$FORMWERK_SHARED_DATA/forms``)."""
    base = os.environ.get("FORMWERK_SHARED_DATA")
    if base:
        return Path(base) / "forms"
    repo = Path(__file__).resolve().parents[2]
    return repo.parent / "shared" / "data" / "forms"


def real_form_path(doc_type: str) -> Path | None:
    name = REAL_FORM_FILES.get(doc_type)
    if name is None:
        return None
    path = shared_forms_dir() / name
    return path if path.is_file() else None


# --------------------------------------------------------------------------
# FORMS.md values -> real AcroForm field names
# Text fields get strings; checkboxes/radio groups get their "on" state name.
# --------------------------------------------------------------------------

_COMB = 1 << 24  # field flag bit 25: comb

_GEWA1_KIND = {"industry": "ja - Industrie", "craft": "ja - Handwerk", "trade": "ja - Handel",
               "other": "ja - sonstiges"}
_GEWA1_EST = {"main_branch": "ja - Hauptniederlassung", "branch": "ja - Zweigniederlassung",
              "dependent_branch": "ja - unselbständige Zweigstelle",
              "vending": "ja - Automatenaufstellergewerbe", "itinerant": "ja - Reisegewerbe"}
_GEWA1_REASON = {"new_business": "ja - Neugründung", "relocation": "ja - Verlegung",
                 "change_legal_form": "ja - Wechsel Rechtsform",
                 "partner_entry": "ja - Gesellschaftereintritt",
                 "takeover": "ja - Erbfolge, Kauf, Pacht", "conversion": "ja - Umwandlungsgesetz"}


def _gewa1(t: dict[str, Any], v: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    text = {
        "Name mit Rechtsform": v.get("registered_name", ""),
        "Ort und Nummer des Registereintrags": v.get("register_entry", ""),
        "Name": v["family_name"], "Vorname(n)": v["given_names"],
        "Geburtsname": v.get("birth_name", ""), "Geburtsdatum": v["birth_date"],
        "Geburtsort und -land": v["birth_place"],
        "Staatsangehörigkeit(en)": v.get("nationality_other", ""),
        "Anschrift": v["home_address"], "Telefon": v["phone"], "E-Mail": v.get("email", ""),
        "Anschrift Betriebsstätte": v["business_address"],
        "Telefon - geschäftlich": v.get("business_phone", ""),
        "Angemeldete Tätigkeit": v["activity"], "Beginn der Tätigkeit": v["activity_start"],
        "Personenzahl Vollzeit": v["employees_full_time"],
        "Personenzahl - Teilzeit": v["employees_part_time"],
        "Name des früheren Gewerbetreibenden oder früherer Firmenname": v.get("previous_owner", ""),
        "heutiges Datum": v["signature_date"],
    }
    boxes = {
        "männlich" if t["sex"] == "male" else "weiblich": "/Ja",
        "deutsch" if t["nationality"] == "german" else "andere": "/Ja",
        "ja - Nebenerwerb" if t["sideline"] else "nein - Nebenerwerb": "/Ja",
        _GEWA1_KIND[t["business_kind"]]: "/Ja",
        _GEWA1_EST[t["establishment_kind"]]: "/Ja",
        _GEWA1_REASON[t["reason"]]: "/Ja",
    }
    return text, boxes


def _wohngeld(t: dict[str, Any], v: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    contact = v["contact"]
    text = {
        "antragsteller_familienname": v["family_name"], "antragsteller_vorname": v["given_names"],
        "antragsteller_geburtsdatum": v["birth_date"], "antragsteller_telefon": contact[0],
        "antragsteller_email": contact[1] if len(contact) > 1 else "",
        "wohnungsadresse": v["home_address"],
        "antragsteller_kreditinstitut_name": v["bank_name"],
        "antragsteller_bankleitzahl": v["blz"], "antragsteller_kontonummer": v["account_number"],
        "vermieter": v["landlord"], "warmmiete": v["rent_total"].replace(" €", ""),
        "datum_einzug": v["move_in_date"], "ort_datum": v["place_date"],
    }
    boxes = {"antragsart": "/Erstantrag", "antragsteller_kontoinhaber": "/1",
             "antragsteller_wohnverhaeltnisse": "/Hauptmieter(in)",
             "vermietung_nein": "/On", "zuschuesse_nein": "/On"}
    return text, boxes


def _melde(t: dict[str, Any], v: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    doc = v["documents"][0]
    text = {
        "Neue Wohnung Tag des Einzugs": v["move_in_date"],
        "Neue Wohnung des Einzugs Postleitzahl Gemeinde Ortsteil": v["new_city"],
        "Neue Wohnung Straße Hausnummer Zusätze": v["new_street"],
        "Bisherige Wohnung Tag des Auszugs": v["move_out_date"],
        "Bisherige Wohnung Postleitzahl Gemeinde Kreis Land": v["old_city"],
        "Bisherige Wohnung Straße Hausnummer Zusätze": v["old_street"],
        "Person 1 Familienname ggf Doktorgrad Passname": v["family_name"],
        "Person 1 Vornamen Rufnamen unterstreichen": v["given_names"],
        "Person 1 Geburtsname": v["birth_name"],
        "Person 1 Geschlecht": "männlich" if v["sex"] == "male" else "weiblich",
        "Person 1 Tag Ort Land der Geburt": v["birth"],
        "Person 1 Religionsgesellschaft": v["religion"],
        "Person 1 Staatsangehörigkeiten": v["nationality"],
        "Familienstand 1oder 1 und 2Row1": v["marital"],
        "Dokument 1 Name, Vorname": f"{t['family_name']}, {t['given_names']}",
        "Dokument 1 Art": doc["kind"], "Dokument 1 Ausstellungsbehörde": doc["authority"],
        "Dokument 1 Seriennummer": doc["serial"], "Dokument 1 Datum": doc["issued"],
        "Dokumente 1 gültig bis": doc["valid"],
    }
    boxes = {"Die neue Wohnung ist alleinige Wohnung": "/On",
             "Die (letzte) bisherige Wohnung (im Inland) war alleinige Wohnung": "/On",
             "Wird die bisherige Wohnung beibehalten? Nein": "/On"}
    return text, boxes


_KG = "topmostSubform[0].Seite1[0]."
_KG_P1 = _KG + "Punkt-1[0]."
_KG_MARITAL = {"married": "verheiratet", "single": "ledig", "divorced": "geschieden",
               "widowed": "verwitwet", "separated": "getrennt"}


def _kg1(t: dict[str, Any], v: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    tid = t["tax_id"]
    text = {
        _KG_P1 + "Steuer-ID[0].Steuer-ID-1[0]": tid[:2],
        _KG_P1 + "Steuer-ID[0].Steuer-ID-2[0]": tid[2:5],
        _KG_P1 + "Steuer-ID[0].Steuer-ID-3[0]": tid[5:8],
        _KG_P1 + "Steuer-ID[0].Steuer-ID-4[0]": tid[8:],
        _KG_P1 + "Pkt-1-Zeile-1[0].Name-Antragsteller[0]": v["family_name"],
        _KG_P1 + "Pkt-1-Zeile-2[0].Vorname-Antragsteller[0]": v["given_names"],
        _KG_P1 + "Pkt-1-Zeile-2[0].Geburtsname-Antragsteller[0]": v["birth_name"],
        _KG_P1 + "Pkt-1-Zeile-3[0].Geburtsdatum-Antragsteller[0]": v["birth_date"],
        _KG_P1 + "Pkt-1-Zeile-3[0].Geburtsort-Antragsteller[0]": v["birth_place"],
        _KG_P1 + "Pkt-1-Zeile-3[0].Geschlecht-Antragsteller[0]":
            "männlich" if v["sex"] == "male" else "weiblich",
        _KG_P1 + "Pkt-1-Zeile-3[0].Staatsangehörigkeit-Antragsteller[0]": v["nationality"],
        _KG_P1 + "Anschrift-Antragsteller[0]": v["home_address"],
        _KG + "Punkt-2[0].#area[15].Name-Partner[0]": v["partner_family"],
        _KG + "Punkt-2[0].#area[15].Vorname-Partner[0]": v["partner_given"],
        # a comb field (one box per character): spaces would shift the digits
        _KG + "Punkt-3[0].IBAN[0]": t["iban"], _KG + "Punkt-3[0].BIC[0]": v["bic"],
        _KG + "Punkt-3[0].Bank[0]": v["bank_name"],
        _KG + "Punkt-3[0].Name-Kontoinhaber[0]": v["account_holder"],
    }
    rows = "topmostSubform[0].Page2[0].Punkt-5[0].Tabelle1-Kinder[0].Zeile{n}[0].Zelle{c}[0]"
    for n, child in enumerate(v["children"][:5], 1):
        for c, key in enumerate(("name", "birth_date", "sex", "office"), 1):
            text[rows.format(n=n, c=c)] = child[key]
    boxes = {_KG + "Punkt-3[0].Antragsteller[0]": "/1",
             _KG_P1 + f"Familienstand[0].#area[12].{_KG_MARITAL[v['marital']]}[0]": "/1"}
    return text, boxes


FIELD_MAPS: dict[str, Callable[[dict, dict], tuple[dict[str, str], dict[str, str]]]] = {
    "gewerbeanmeldung": _gewa1,
    "wohngeld_mietzuschuss": _wohngeld,
    "meldebehoerde_anmeldung": _melde,
    "kindergeld_kg1": _kg1,
}


def _fill(path: Path, text: dict[str, str], boxes: dict[str, str]) -> bytes:
    # pypdf logs a warning per field about fonts it substitutes: noise here
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return _fill_quiet(path, text, boxes)
    finally:
        logger.setLevel(level)


def _fill_quiet(path: Path, text: dict[str, str], boxes: dict[str, str]) -> bytes:
    reader = PdfReader(str(path))
    known = set(reader.get_fields() or {})
    missing = (set(text) | set(boxes)) - known
    if missing:  # a mapping bug, not a data problem: fail loudly
        raise KeyError(f"{path.name}: no such AcroForm fields: {sorted(missing)}")
    fields = reader.get_fields() or {}
    # comb fields (one box per character, e.g. dates as TTMMJJJJ, IBAN):
    # separators would each take a box and shift everything after them
    text = {k: re.sub(r"[^0-9A-Za-z]", "", v) if int(fields[k].get("/Ff", 0)) & _COMB else v
            for k, v in text.items()}
    writer = PdfWriter(clone_from=reader)
    writer.set_need_appearances_writer(True)
    values = {k: v for k, v in text.items() if v}
    values.update(boxes)
    for page in writer.pages:
        writer.update_page_form_field_values(page, values, auto_regenerate=False)
    for page in writer.pages:
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            name = qualified_name(a)
            if name in boxes:
                # pypdf sets /V on a radio group's parent, but each kid's /AS
                # decides what is drawn
                states = list((a.get("/AP") or {}).get("/N", {}).keys())
                state = boxes[name]
                a[NameObject("/AS")] = NameObject(state if state in states else "/Off")
            elif name in text and "/AP" in a:
                # pypdf's generated text appearances encode non-ASCII per the
                # font's declared encoding, which some forms get wrong ("Groß"
                # drawn as "Groû"); without /AP the viewer builds them
                # (NeedAppearances is set)
                del a["/AP"]
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def fill_real_form(doc_type: str, seed: int, tick_style: str = "form") -> SyntheticDocument | None:
    """The real form of ``doc_type`` filled with fake data from ``seed``.

    Returns ``None`` when the shared data folder is absent (or the type has
    no real form). Truth keys/values are the same as ``render_document``'s
    for that type and seed. ``variant`` is ``"real"``.

    ``tick_style`` (``bench.synth.ticks.TICK_STYLES``): ``"form"`` lets the
    form draw its own ticks; any other style leaves the boxes unticked in the
    AcroForm and draws an applicant's tick of that style over the page
    (``meta["ticked"]`` names the boxes).
    """
    path = real_form_path(doc_type)
    if path is None:
        return None
    fake = FakeGermany(_sub_seed(doc_type, seed))
    truth, values = FORM_MODULES[doc_type].make(fake)
    text, boxes = FIELD_MAPS[doc_type](truth, values)
    ticked = sorted(boxes)
    if tick_style == "form":
        pdf = _fill(path, text, boxes)
        return SyntheticDocument(doc_type, truth, pdf, "real", seed,
                                 meta={"source": path.name, "acroform": {**text, **boxes}, "ticked": ticked})
    pdf = overlay_ticks(_fill(path, text, {n: "/Off" for n in boxes}), boxes, tick_style, seed)
    return SyntheticDocument(doc_type, truth, pdf, "real", seed,
                             meta={"source": path.name, "acroform": dict(text), "ticked": ticked,
                                   "tick_style": tick_style})
