"""Named validators and check-digit algorithms."""

from __future__ import annotations

from datetime import date

import pytest

from extractors.validators import (
    VALIDATORS,
    iban_is_valid,
    run_validators,
    steuer_id_check_digit,
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
    assert steuer_id_check_digit("8609574271") == 9
    assert tax_id_is_valid("86095742719")
    assert tax_id_is_valid("47036892816")
    assert tax_id_is_valid("65929970489")  # a digit three times, not adjacent


@pytest.mark.parametrize("tax_id", [
    "86095742718",  # wrong check digit
    "06095742719",  # leading zero
    "12345678903",  # no repeated digit
    "11223345678",  # two digits repeated
    "8609574271",  # ten digits
    "1112345678" + str(steuer_id_check_digit("1112345678")),  # three in a row
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
