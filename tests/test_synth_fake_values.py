"""The generator's values are possible ones: checked here with the published
rules' libraries (the generator itself builds them from the plans, never
from these libraries or the product's validators)."""

from __future__ import annotations

import re

import phonenumbers
import pytest

from bench.synth.fake_data import AREA_CODES, MOBILE_BLOCKS, FakeGermany


def _valid_de(number: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(number, "DE"))


@pytest.mark.parametrize("seed", range(0, 400, 7))
def test_generated_phone_numbers_are_valid_in_the_german_plan(seed):
    fake = FakeGermany(seed)
    for _ in range(20):
        number = fake.phone()
        assert _valid_de(number), number


def test_every_area_code_and_mobile_block_at_every_length_is_valid():
    for area, (lo, hi) in AREA_CODES.items():
        for n in range(lo, hi + 1):
            for first in "29":
                assert _valid_de(f"{area} {first}{'0' * (n - 1)}"), (area, n)
    for ndc, n in MOBILE_BLOCKS:
        for first in "19":
            number = phonenumbers.parse(f"{ndc} {first}{'5' * (n - 1)}", "DE")
            assert phonenumbers.is_valid_number(number), (ndc, n)
            assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE, (ndc, n)


def test_postal_codes_lie_in_used_postal_regions():
    fake = FakeGermany(3)
    for _ in range(3000):
        plz = fake.postal_code()
        assert re.fullmatch(r"\d{5}", plz) and "01001" <= plz <= "99998"
        assert plz[:2] not in ("00", "05", "43", "62"), plz


def test_emails_are_well_formed():
    for seed in range(3000):  # a few de_DE names are "José" or "Hans-H."
        p = FakeGermany(seed).person()
        assert re.fullmatch(r"[a-z0-9]+([.-][a-z0-9]+)*\.[a-z0-9]+([.-][a-z0-9]+)*@[a-z0-9-]+\.de", p.email), p.email


def test_ibans_are_at_registered_banks_with_valid_account_check_digits():
    from schwifty import BIC, IBAN

    from bench.synth.fake_data import BANKS

    fake = FakeGermany(11)
    for _ in range(300):
        iban = IBAN(fake.iban(), validate_bban=True)  # raises on a wrong account check digit
        assert iban.bank_code in {b[2] for b in BANKS}
    for name, bic, code, _method in BANKS:
        for _ in range(50):
            iban = IBAN(fake.iban(name), validate_bban=True)
            assert iban.bank_code == code
        # the BIC written beside it is one the register lists for the bank code
        assert bic[:8] in {str(b)[:8] for b in BIC.candidates_from_bank_code("DE", code)}, (name, bic)


def test_tax_ids_pass_the_published_rule():
    from stdnum.de import idnr

    fake = FakeGermany(5)
    for _ in range(500):
        s = fake.tax_id()
        assert idnr.is_valid(s) and not re.search(r"(\d)\1\1", s[:10]), s
