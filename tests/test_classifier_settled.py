"""Forms whose printed identifiers settle the type skip the encoder (classifiers.settled).

The real catalogue's identifiers and the TF-IDF backend with a tripwire
encoder: the test fails if the model runs where it should not, and checks
the model still decides every document the identifiers do not settle.
"""

from __future__ import annotations

import pytest

from classifiers import DocumentClassifier
from classifiers.classes import class_defs
from classifiers.settled import IDENTIFIER_CONFIDENCE, settled_type
from formwerk.models import DocumentContent, PageContent, Word
from forms.catalogue import load_catalogue

# OCR text of a scanned two-page GewA 1 (office_200, tesserocr), shortened
GEWA_P1 = ("Name der entgegennehmenden Gemeinde Gewerbe-An meld u n g GewA 1 Stadt Aachen nach § 14 GewO "
           "oder § 55c GewO Bitte vollständig und gut lesbar ausfüllen sowie die zutreffenden Kästchen "
           "ankreuzen. Angaben zur Person 3 Name 4 Vorname(n) Hörle-Özdemir Elfriede 6 Geburtsdatum 31.07.1978")
GEWA_P2 = ("Fortsetzung - Gewerbe-Anmeldung GewA 1 21-25 Grund Neuerrichtung/Neugründung Wiedereröffnung "
           "nach Verlegung aus einem anderen Meldebezirk 26 Name des früheren Gewerbetreibenden")
LETTER = ("Sehr geehrte Damen und Herren, anbei übersende ich Ihnen die angeforderten Nachweise. "
          "Mit freundlichen Grüßen Käthe Schöttler")
# a generated letter of the benchmark (seed 100005): the title holds two of the form's terms
LETTER_QUOTING_THE_TITLE = ("Adressänderung Sehr geehrte Damen und Herren, bitte beachten Sie, dass ich umgezogen "
                            "bin. Meine Anmeldung bei der Meldebehörde habe ich bereits erledigt.")
LETTER_NAMING_THE_FORM = ("Sehr geehrte Damen und Herren, meine Gewerbe-Anmeldung vom 3. März ist noch "
                          "nicht bearbeitet. Mit freundlichen Grüßen Käthe Schöttler")
INVOICE = ("Rechnung Rechnungsnummer 2026-0042 Rechnungsdatum 01.03.2026 Nettobetrag 100,00 EUR "
           "Umsatzsteuer 19 % Gesamtbetrag 119,00 EUR")
ABMELDUNG = "Gewerbe-Abmeldung GewA 3 nach § 14 GewO Datum der Betriebsaufgabe 31.03.2026 Name Vorname"


class Tripwire:
    name = "tripwire"

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def encode(self, texts):
        self.calls += 1
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def classes():
    return class_defs(load_catalogue())


@pytest.fixture
def clf(classes, monkeypatch):
    monkeypatch.delenv("FORMWERK_CLASSIFY_BY_IDENTIFIERS", raising=False)
    c = DocumentClassifier.zero_shot(classes)
    c.engine.encoder = Tripwire(c.engine.encoder)
    return c


def _content(*texts: str) -> DocumentContent:
    def words(text: str, page: int) -> list[Word]:
        return [Word(text=t, bbox=[10.0 * i, 10.0, 10.0 * i + 8, 18.0], confidence=0.9, page=page)
                for i, t in enumerate(text.split())]

    return DocumentContent(pages=[PageContent(page=i, width=1654, height=2339, words=words(t, i))
                                  for i, t in enumerate(texts, start=1)])


def test_a_scanned_form_is_classified_by_its_identifiers_without_the_encoder(clf):
    result = clf.classify(_content(GEWA_P1, GEWA_P2))
    assert result.document_type == "gewerbeanmeldung"
    assert result.confidence == IDENTIFIER_CONFIDENCE >= 0.9  # straight through as before
    assert abs(sum(result.scores.values()) - 1) < 1e-9
    assert any("GewA 1" in r for r in result.reasons) and "Textmodell nicht nötig" in result.reasons[-1]
    ranges = clf.split_batch(_content(GEWA_P1, GEWA_P2).pages)
    assert [(r.start, r.end, r.document_type) for r in ranges] == [(1, 2, "gewerbeanmeldung")]
    assert clf.engine.encoder.calls == 0


@pytest.mark.parametrize("pages", [
    [GEWA_P1, GEWA_P2, LETTER],             # an attachment without identifiers
    [GEWA_P1, GEWA_P2, INVOICE],            # another class's identifiers
    [GEWA_P1, GEWA_P2, GEWA_P1, GEWA_P2],   # a second copy: the first-page test must split
    [ABMELDUNG, GEWA_P2],                   # two forms' identifiers
    [LETTER_NAMING_THE_FORM],               # names the form once
    [LETTER_QUOTING_THE_TITLE],             # quotes the title, whose words are identifiers too
    [INVOICE],                              # invoices have no fixed wording
    ["Beiblatt zum Vordruck GewA 1 nach § 14 GewO: weitere Betriebsstätten"],  # one strong identifier
])
def test_whatever_the_identifiers_leave_open_goes_to_the_model(classes, clf, pages):
    from classifiers.identifiers import IdentifierMatcher

    assert settled_type(IdentifierMatcher(classes), pages) is None
    clf.classify(_content(*pages))
    assert clf.engine.encoder.calls >= 1


def test_blank_back_pages_do_not_count_and_the_switch_turns_it_off(classes, clf, monkeypatch):
    assert clf.classify(_content(GEWA_P1, "", GEWA_P2, " ")).document_type == "gewerbeanmeldung"
    assert clf.engine.encoder.calls == 0
    monkeypatch.setenv("FORMWERK_CLASSIFY_BY_IDENTIFIERS", "0")
    off = DocumentClassifier.zero_shot(classes)
    off.engine.encoder = Tripwire(off.engine.encoder)
    off.classify(_content(GEWA_P1, GEWA_P2))
    assert off.engine.encoder.calls == 1
