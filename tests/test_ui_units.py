"""The web app's pure parts: the message catalogue, fields as clerks edit them, page rendering."""

from __future__ import annotations

import re
from pathlib import Path


from api.fieldview import check, corrections_from_form, display, field_views
from api.i18n import MESSAGES, Translator, placeholders
from forms.catalogue import load_catalogue
from formwerk.models import CaseResult, CaseStatus, ExtractedField

TEMPLATES = Path(__file__).resolve().parents[1] / "api" / "templates"


def test_both_languages_have_the_same_keys_and_placeholders():
    de, en = MESSAGES["de"], MESSAGES["en"]
    assert set(de) == set(en)
    for key in de:
        assert placeholders(de[key]) == placeholders(en[key]), key


def test_every_key_the_templates_use_is_in_the_catalogue():
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""(?<![\w.])t\(["']([a-z_]+(?:\.[a-z_]+)+)["']\s*[,)]""", path.read_text()))
    assert used, "the pattern found nothing"
    assert sorted(used - set(MESSAGES["de"])) == []


def test_templates_hold_no_visible_text_outside_the_catalogue():
    for path in TEMPLATES.glob("*.html"):
        src = path.read_text()
        src = re.sub(r"{#.*?#}|{%.*?%}|{{.*?}}", "", src, flags=re.S)
        src = re.sub(r"<script.*?</script>", "", src, flags=re.S)
        text_nodes = [s.strip() for s in re.findall(r">([^<>]+)<", src)]
        words = [s for s in text_nodes if re.search(r"[A-Za-zÄÖÜäöüß]{3,}", s)]
        assert words == [], (path.name, words)


def test_review_reasons_become_sentences():
    t = Translator("de")
    label = {"birth_date": "Geburtsdatum"}.get
    assert t.reason("low_confidence:birth_date", label) == "Geburtsdatum: unsicher gelesen"
    assert t.reason("unknown_document_type", label) == "Dokumenttyp nicht erkannt"
    assert t.reason("something_new:x", label) == "Zu prüfen: something_new:x"
    assert Translator("en").reason("missing:birth_date", label) == "Geburtsdatum: missing"
    assert Translator("xx").language == "de"


def test_values_are_shown_and_read_back_the_way_clerks_write_them():
    assert display("date", "1986-02-14") == "14.02.1986"
    assert check("date", [], "15.02.1986").value == "1986-02-15"
    bad = check("date", [], "31.02.1986")
    assert bad.unparseable and not bad.ok
    iban = check("iban", [], "DE89 3704 0044 0532 0130 01")  # one digit off: mod 97 fails
    assert iban.value and not iban.ok and iban.messages
    assert check("iban", [], "DE89 3704 0044 0532 0130 00").ok
    assert check("bool", [], "true").value is True


def _case() -> CaseResult:
    fields = {
        "family_name": ExtractedField(name="family_name", value="Kensy", raw="Kensy", confidence=0.6,
                                      needs_review=True, page=1, bbox=[1, 2, 3, 4]),
        "birth_date": ExtractedField(name="birth_date", value="2000-06-30", raw="30.06.2000", confidence=0.97),
        "sex": ExtractedField(name="sex", value="male", confidence=0.99),
    }
    return CaseResult(case_id="c1", status=CaseStatus.NEEDS_REVIEW, document_type="gewerbeanmeldung",
                      fields=fields, review_reasons=["low_confidence:family_name"])


def test_flagged_fields_come_first_and_only_changed_values_are_corrections():
    form = load_catalogue().get("gewerbeanmeldung")
    views = field_views(_case(), form)
    assert views[0].name == "family_name" and views[0].flagged and views[0].reasons
    assert [v.name for v in views[1:]] == [n for n in form.field_names if n in ("birth_date", "sex")]
    sex = next(v for v in views if v.name == "sex")
    assert sex.options and "male" in [o for o, _ in sex.options]
    corrections, errors = corrections_from_form(views, {
        "f.family_name": "Kensy-Maas", "f.birth_date": "30.06.2000", "f.sex": "male"})
    assert corrections == {"family_name": "Kensy-Maas"} and errors == {}
    corrections, errors = corrections_from_form(views, {"f.family_name": "Kensy", "f.birth_date": "1.13.2000"})
    assert corrections == {} and list(errors) == ["birth_date"]
    corrections, _ = corrections_from_form(views, {"f.sex": "female"})
    assert corrections == {"sex": "female"}
    _, errors = corrections_from_form(views, {"f.sex": "dragon"})
    assert list(errors) == ["sex"]


def test_table_rows_are_edited_as_rows():
    form = load_catalogue().get("kindergeld_kg1")
    case = CaseResult(case_id="c2", document_type="kindergeld_kg1", fields={
        "children": ExtractedField(name="children", value=[
            {"family_name": "Kensy", "given_names": "Lea", "birth_date": "2015-03-01"}], confidence=0.7,
            needs_review=True)})
    (view,) = field_views(case, form)
    assert view.rows == [{"family_name": "Kensy", "given_names": "Lea", "birth_date": "01.03.2015"}]
    unchanged = {"t.children.0.family_name": "Kensy", "t.children.0.given_names": "Lea",
                 "t.children.0.birth_date": "01.03.2015", "t.children.1.family_name": "",
                 "t.children.1.given_names": "", "t.children.1.birth_date": ""}
    assert corrections_from_form([view], unchanged) == ({}, {})
    added = {**unchanged, "t.children.1.given_names": "Tim", "t.children.1.birth_date": "02.04.2017"}
    corrections, errors = corrections_from_form([view], added)
    assert errors == {}
    assert corrections["children"][1] == {"family_name": None, "given_names": "Tim", "birth_date": "2017-04-02"}
