"""The form catalogue: YAML definitions load, carry the FORMS.md contract, and a
new type is data only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forms import FormDefinition, load_catalogue
from forms.catalogue import FORMS_DIR

# FORMS.md: ids, field names and value types (a contract)
FORMS_MD = {
    "gewerbeanmeldung": {
        "registered_name": "text", "register_entry": "text", "family_name": "text", "given_names": "text",
        "sex": "choice", "birth_name": "text", "birth_date": "date", "birth_place": "text",
        "nationality": "choice", "home_address": "address", "phone": "phone", "email": "email",
        "business_address": "address", "activity": "text", "activity_start": "date",
        "employees_full_time": "int", "employees_part_time": "int", "sideline": "bool",
        "business_kind": "choice", "establishment_kind": "choice", "reason": "choice", "signature_date": "date",
    },
    "wohngeld_mietzuschuss": {
        "family_name": "text", "given_names": "text", "birth_date": "date", "phone": "phone", "email": "email",
        "home_address": "address", "bank_name": "text", "account_number": "text", "rent_total": "money",
        "move_in_date": "date",
    },
    "meldebehoerde_anmeldung": {
        "move_in_date": "date", "new_address": "address", "move_out_date": "date", "previous_address": "address",
        "family_name": "text", "given_names": "text", "birth_name": "text", "birth_date": "date",
        "birth_place": "text", "nationality": "text", "id_document_number": "text",
    },
    "kindergeld_kg1": {
        "tax_id": "tax_id", "family_name": "text", "given_names": "text", "birth_name": "text",
        "birth_date": "date", "birth_place": "text", "nationality": "text", "home_address": "address",
        "iban": "iban", "bic": "text", "bank_name": "text", "account_holder": "text", "children": "table",
    },
    "invoice": {"seller_name": "text", "invoice_number": "text", "invoice_date": "date",
                "total_amount": "money", "iban": "iban"},
}
CHOICES = {
    ("gewerbeanmeldung", "sex"): ["male", "female"],
    ("gewerbeanmeldung", "nationality"): ["german", "other"],
    ("gewerbeanmeldung", "business_kind"): ["industry", "craft", "trade", "other"],
    ("gewerbeanmeldung", "establishment_kind"): ["main_branch", "branch", "dependent_branch", "vending", "itinerant"],
    ("gewerbeanmeldung", "reason"): ["new_business", "change_legal_form", "partner_entry", "takeover",
                                     "relocation", "conversion"],
}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_forms_md_types_fields_and_value_types(catalogue):
    for form_id, fields in FORMS_MD.items():
        form = catalogue.get(form_id)
        types = {f.name: f.type for f in form.fields}
        for name, type_ in fields.items():
            assert types.get(name) == type_, (form_id, name, types.get(name))


def test_choice_options_are_the_forms_md_ids(catalogue):
    for (form_id, name), ids in CHOICES.items():
        assert catalogue.get(form_id).field(name).option_ids == ids


def test_gewerbeabmeldung_is_yaml_only(catalogue):
    form = catalogue.get("gewerbeabmeldung")
    assert "GewA 3" in form.identifiers
    assert {"family_name", "end_date", "business_address"} <= set(form.field_names)
    # no code mentions it: the type exists only because its YAML exists
    src = Path(__file__).resolve().parents[1]
    for py in list((src / "extractors").glob("*.py")) + [src / "forms" / "catalogue.py"]:
        assert "gewerbeabmeldung" not in py.read_text(encoding="utf-8"), py


def test_catalogue_api(catalogue):
    assert set(FORMS_MD) | {"gewerbeabmeldung"} <= set(catalogue.ids)
    assert catalogue.ids == sorted(catalogue.ids)
    form = catalogue.get("gewerbeanmeldung")
    assert isinstance(form, FormDefinition)
    assert form.title == "Gewerbe-Anmeldung" and form.version
    assert "GewA 1" in form.identifiers and "§ 14 GewO" in form.identifiers
    with pytest.raises(KeyError):
        catalogue.get("no_such_form")


def test_policy_required_fields_default_to_required_flags(catalogue):
    for form in catalogue:
        required = [f.name for f in form.fields if f.required]
        assert form.policy.required_fields == required
        assert 0 < form.policy.min_field_confidence <= 1
        assert isinstance(form.policy.four_eyes, bool)


def test_prototype_text_has_title_identifiers_and_labels(catalogue):
    text = catalogue.get("kindergeld_kg1").prototype_text()
    assert text.splitlines()[0] == "Antrag auf Kindergeld"
    assert "KG 1" in text and "IBAN" in text and "Steuerliche Identifikationsnummer" in text
    # prototypes of different forms differ
    assert text != catalogue.get("wohngeld_mietzuschuss").prototype_text()


def test_real_editions_map_every_acroform_name(catalogue):
    """Every AcroForm name a field uses has a widget box in the form's edition."""
    for form_id in ("gewerbeanmeldung", "wohngeld_mietzuschuss", "meldebehoerde_anmeldung", "kindergeld_kg1"):
        form = catalogue.get(form_id)
        assert form.editions, form_id
        widgets = set().union(*(e.widgets for e in form.editions))
        for f in form.fields:
            for name in f.acroform + f.compose + [a for o in f.options for a in o.acroform]:
                assert name in widgets, (form_id, f.name, name)
        for ed in form.editions:
            for page in ed.pages.values():
                assert len(page.anchors) >= 10


def test_new_type_is_data_only(tmp_path, catalogue):
    """A YAML dropped into a directory is a new document type; bad YAML names its file."""
    for p in FORMS_DIR.glob("*.yaml"):
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "hundesteuer.yaml").write_text(
        "id: hundesteuer\ntitle: Anmeldung zur Hundesteuer\nidentifiers: [Hundesteuer]\n"
        "fields:\n  - {name: dog_name, type: text, required: true, label: [Name des Hundes]}\n"
        "  - {name: since, type: date, label: [Gehalten seit], validators: [not_future]}\n",
        encoding="utf-8")
    cat = load_catalogue(tmp_path)
    assert "hundesteuer" in cat.ids and len(cat) == len(catalogue) + 1
    assert cat.get("hundesteuer").policy.required_fields == ["dog_name"]

    (tmp_path / "broken.yaml").write_text("id: broken\ntitle: X\nfields:\n  - {name: a, type: nonsense}\n")
    with pytest.raises(ValueError, match="broken.yaml"):
        load_catalogue(tmp_path)


def test_definitions_reject_inconsistencies():
    with pytest.raises(ValueError):
        FormDefinition.model_validate({"id": "x", "title": "X", "fields": [
            {"name": "a", "type": "choice"}]})  # choice without options
    with pytest.raises(ValueError):
        FormDefinition.model_validate({"id": "x", "title": "X", "fields": [
            {"name": "a", "type": "text"}, {"name": "a", "type": "date"}]})  # duplicate
    with pytest.raises(ValueError):
        FormDefinition.model_validate({"id": "x", "title": "X", "fields": [{"name": "a", "type": "text"}],
                                       "rules": [{"code": "r", "check": "date_after", "fields": ["a", "zz"],
                                                  "message": "m"}]})


def test_a_child_benefit_application_without_children_read_goes_to_a_clerk():
    from formwerk.models import Classification, ExtractedField, Extraction
    from formwerk.routing import route

    kg1 = load_catalogue().get("kindergeld_kg1")
    assert "children" in kg1.policy.required_fields
    extraction = Extraction(document_type="kindergeld_kg1",
                            fields={"children": ExtractedField(name="children", source="none")})
    decision = route(Classification(document_type="kindergeld_kg1", confidence=1.0), extraction, kg1.policy)
    assert "missing:children" in decision.reasons
