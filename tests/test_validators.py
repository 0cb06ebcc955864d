"""Named validators: the published number rules through schwifty, python-stdnum and phonenumbers."""

from __future__ import annotations

from datetime import date

import pytest

from stdnum.iso7064 import mod_11_10

from extractors.rules import bank_consistent
from extractors.validators import (
    VALIDATORS,
    iban_is_valid,
    iban_problem,
    run_validators,
    tax_id_is_valid,
)

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize("iban,ok", [
    ("DE89370400440532013000", True),
    ("DE89 3704 0044 0532 0130 00", True),
    ("GB82WEST12345698765432", True),
    ("DE89370400440532013001", False),  # one digit off
    ("DE98370400440532013000", False),  # swapped check digits
    ("DE8937040044053201300", False),  # too short for DE
    ("", False),
])
def test_iban_mod97(iban, ok):
    assert iban_is_valid(iban) is ok


def test_steuer_id_check_digit_known_values():
    # published example numbers of the Bundeszentralamt für Steuern
    assert tax_id_is_valid("86095742719")
    assert tax_id_is_valid("47036892816")
    assert tax_id_is_valid("65929970489")  # a digit three times, not adjacent


@pytest.mark.parametrize("tax_id", [
    "86095742718",  # wrong check digit
    "06095742719",  # leading zero
    "12345678903",  # no repeated digit
    "11223345678",  # two digits repeated
    "8609574271",  # ten digits
    "1112345678" + str(mod_11_10.calc_check_digit("1112345678")),  # three in a row (stdnum lacks this rule)
    "8609574271X",  # not a digit
])
def test_steuer_id_rejects(tax_id):
    assert not tax_id_is_valid(tax_id)


def test_birth_date_must_be_in_the_past_and_plausible():
    assert run_validators("date", ["birth_date"], "1986-02-14", TODAY) == []
    codes = [i.code for i in run_validators("date", ["birth_date"], "2027-01-01", TODAY)]
    assert codes == ["birth_date_future"]
    assert [i.code for i in run_validators("date", ["birth_date"], "1890-01-01", TODAY)] == ["birth_date_implausible"]


def test_activity_start_not_decades_away():
    assert run_validators("date", ["activity_start"], "2026-12-01", TODAY) == []
    assert run_validators("date", ["activity_start"], "1990-01-01", TODAY)[0].code == "date_too_old"
    assert run_validators("date", ["activity_start"], "2040-01-01", TODAY)[0].code == "date_too_far_ahead"


def test_type_validators_run_implicitly_with_german_messages():
    issues = run_validators("iban", [], "DE89370400440532013001", TODAY)
    assert [i.code for i in issues] == ["iban_checksum"]
    assert "IBAN" in issues[0].message and "ungültig" in issues[0].message
    assert run_validators("tax_id", [], "86095742718", TODAY)[0].code == "tax_id_checksum"
    assert run_validators("email", [], "kein-at-zeichen.de", TODAY)[0].code == "email_format"
    assert run_validators("phone", [], "12", TODAY)[0].code == "phone_format"
    assert run_validators("address", [], "Hauptstraße, 19053 Schwerin", TODAY)[0].code == "address_incomplete"
    assert run_validators("address", [], "Hauptstraße 12a, 19053 Schwerin", TODAY) == []
    # a street number without its street (a real Wohngeld scan lost "Beierplatz")
    assert run_validators("address", [], "27, 28421 Jena", TODAY)[0].code == "address_incomplete"
    assert run_validators("address", [], "Am Ring 3, 19053 Schwerin", TODAY) == []
    assert run_validators("address", [], "Str. des 17. Juni 4, 10623 Berlin", TODAY) == []
    assert run_validators("postal_code", [], "1905", TODAY)[0].code == "postal_code_format"


def test_other_named_validators():
    assert run_validators("money", ["rent_range"], "642.50", TODAY) == []
    assert run_validators("money", ["rent_range"], "64250.00", TODAY)[0].code == "rent_implausible"
    assert run_validators("int", ["employee_count"], 3, TODAY) == []
    assert run_validators("int", ["employee_count"], 99999, TODAY)
    assert run_validators("text", ["bic"], "COLSDE33XXX", TODAY) == []
    assert run_validators("text", ["bic"], "COLS DE", TODAY)
    assert run_validators("text", ["account_number"], "DE89370400440532013000", TODAY) == []
    assert run_validators("text", ["account_number"], "0532013000", TODAY) == []
    assert run_validators("text", ["account_number"], "DE89370400440532013009", TODAY)
    assert run_validators("date", ["not_future"], "2027-06-01", TODAY)[0].code == "date_in_future"


def test_every_validator_passes_none():
    for name, fn in VALIDATORS.items():
        assert fn(None, TODAY) is None, name


def test_id_document_serial_alphabet():
    assert run_validators("text", ["id_document_number"], "L01X00T47", TODAY) == []
    # vowels never occur in German ID serials: an "E" is an OCR error
    assert run_validators("text", ["id_document_number"], "JEXCNZCZX", TODAY)[0].code == "id_document_format"


# -- what the libraries catch that the hand-written checks did not -----------


def test_iban_account_check_digit_of_a_registered_bank():
    """Commerzbank Köln (BLZ 37040044) uses check-digit method 13: an account
    number read wrong can still give IBAN check digits that pass mod 97 (here
    recomputed), which the old check accepted; schwifty knows the bank's method."""
    assert iban_problem("DE14370400441234567890") == "account"
    assert [i.code for i in run_validators("iban", [], "DE14370400441234567890", TODAY)] == ["iban_account_checksum"]
    assert iban_problem("DE89370400440532013000") is None


@pytest.mark.parametrize("iban", ["GB82WEST1234569876543", "FR1420041010050500013M02606X", "XX82WEST12345698765432"])
def test_iban_length_and_structure_per_country(iban):
    # a British IBAN one digit short, a French one too long, an unknown country:
    # the old check only knew the German length
    assert iban_problem(iban) in ("format", "checksum")
    assert not iban_is_valid(iban)


def test_bic_must_name_a_registered_german_bank():
    assert run_validators("text", ["bic"], "COLSDE33", TODAY) == []
    assert run_validators("text", ["bic"], "BNPAFRPPXXX", TODAY) == []  # foreign: format and country only
    # "3" read as "E": the old format check passed it, no bank has it
    assert [i.code for i in run_validators("text", ["bic"], "COLSDE3EXXX", TODAY)] == ["bic_unknown"]
    assert [i.code for i in run_validators("text", ["bic"], "ZZZZZZ33XXX", TODAY)] == ["bic_format"]


@pytest.mark.parametrize("phone,ok", [
    ("0221 1234567", True), ("030/62311278", True), ("+49 89 878947", True), ("0176 12708986", True),
    ("0221 12", False),  # cut to six digits: the old 6..16-digit rule let it pass
    ("0151 451608", False),  # a Telekom mobile number has 8 digits after 0151
    ("0000 123456", False),  # no such area code
    ("12", False),
])
def test_phone_numbers_by_the_numbering_plan(phone, ok):
    assert (run_validators("phone", [], phone, TODAY) == []) is ok


def test_steuernummer_and_vat_id():
    assert run_validators("text", ["steuernummer"], "21/815/08150", TODAY) == []
    assert run_validators("text", ["steuernummer"], "2181508150", TODAY) == []
    assert run_validators("text", ["steuernummer"], "21/815/0815", TODAY)[0].code == "steuernummer_format"
    assert run_validators("text", ["vat_id"], "DE136695976", TODAY) == []
    assert run_validators("text", ["vat_id"], "DE136695978", TODAY)[0].code == "vat_id_checksum"
    assert run_validators("text", ["vat_id"], "DE13669597", TODAY)[0].code == "vat_id_format"


def test_iban_bic_and_bank_name_name_one_bank():
    commerzbank_koeln = "DE89370400440532013000"
    assert bank_consistent(commerzbank_koeln, "COBADEFFXXX", "Commerzbank")
    assert not bank_consistent(commerzbank_koeln, "COLSDE33XXX", None)  # BIC of another bank
    assert not bank_consistent(None, "COLSDE33XXX", "Commerzbank")  # name of another bank
    # short and branch names agree; what the register does not know holds
    assert bank_consistent(None, "COLSDE33XXX", "Spk KölnBonn")
    assert bank_consistent(None, "PBNKDEFFXXX", "Postbank")
    assert bank_consistent(None, "BYLADEM1001", "DKB")
    assert bank_consistent("DE12345678901234567890", "COLSDE33XXX", "Sparkasse KölnBonn")  # unknown bank code
    # no BIC written: the name is compared with the bank of the IBAN's bank code
    assert bank_consistent(commerzbank_koeln, None, "Commerzbank Köln")
    assert not bank_consistent(commerzbank_koeln, None, "Sparkasse KölnBonn")


def test_bank_mismatch_is_a_rule_of_the_kg1():
    from forms.catalogue import load_catalogue

    rule = next(r for r in load_catalogue().get("kindergeld_kg1").rules if r.code == "bank_mismatch")
    assert rule.check == "bank_consistent" and rule.fields == ["iban", "bic", "bank_name"]


@pytest.mark.parametrize("junk", ["", " ", "DE", "DE00" + "9" * 40, "€§\x00", "+" * 30, "COLSDE33" + "ß" * 3, "0" * 200])
def test_library_checks_turn_junk_into_issues_not_exceptions(junk):
    for fn in VALIDATORS.values():
        fn(junk, TODAY)  # returns an issue or None, never raises
    assert bank_consistent(junk, junk[:11], junk) in (True, False)
