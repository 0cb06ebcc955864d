"""The name splitter's lexicon: international, and not the generator's (Faker's)."""

from __future__ import annotations

import sys

import pytest

from extractors import names


@pytest.mark.parametrize("cell,split", [
    ("Anna Maria", ("Anna Maria", None)),
    ("Anna Müller", ("Anna", "Müller")),
    ("Jens-Uwe Schmidt", ("Jens-Uwe", "Schmidt")),
    ("Lena Nguyen", ("Lena", "Nguyen")),
    ("Mehmet Ali", ("Mehmet Ali", None)),
    ("Ayşe Kılıç", ("Ayşe", "Kılıç")),
    ("Ayse Fatma", ("Ayse Fatma", None)),  # written without the cedilla
    ("Siobhán Niamh", ("Siobhán Niamh", None)),
    ("Tariq", ("Tariq", None)),
])
def test_split_given_family(cell, split):
    assert names.split_given_family(cell) == split


def test_the_lexicon_is_not_fakers(monkeypatch):
    """With Faker unimportable the lexicon is the same: the splitter does not
    share its source with the benchmark's generator."""
    before = names.first_names()
    monkeypatch.setitem(sys.modules, "faker", None)
    monkeypatch.setitem(sys.modules, "faker.providers.person.de_DE", None)
    names.first_names.cache_clear()
    try:
        assert names.first_names() == before
        assert {"tariq", "siobhan", "aoife", "wojciech", "mehmet", "agnieszka"} <= names.first_names()
    finally:
        names.first_names.cache_clear()
