"""Document classification: identifiers, fusion/calibration, splitting, training, API.

Fast and self-contained: a stub catalogue, the TF-IDF backend (no encoder,
no ../shared/data). The transformer encoder is tested in
``test_classifier_encoder.py`` (skips when ``models/e5-small`` is absent).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from classifiers import DocumentClassifier, PageRange
from classifiers.classes import INVOICE, UNKNOWN, class_defs
from classifiers.fusion import Features, FusionParams, fit, predict_proba
from classifiers.identifiers import IdentifierMatcher
from classifiers.metrics import ece
from classifiers.splitting import segment_pages
from classifiers.training import PAGE_SEP, latest_version_dir, train
from formwerk.models import DocumentContent, PageContent, Word


@dataclass
class StubForm:
    id: str
    title: str
    identifiers: list[str]
    body: str
    fields: list = field(default_factory=list)

    def prototype_text(self) -> str:
        return "\n".join([self.title, *self.identifiers, self.body])


@dataclass
class StubCatalogue:
    forms: dict


GEWA = StubForm("gewerbeanmeldung", "Gewerbe-Anmeldung", ["GewA 1", "§ 14 GewO"],
                "Name mit Rechtsform Ort und Nummer des Registereintrags Angemeldete Tätigkeit "
                "Beginn der Tätigkeit Zahl der Vollzeitbeschäftigten Betriebsstätte")
KG1 = StubForm("kindergeld_kg1", "Antrag auf Kindergeld", ["KG 1", "Familienkasse"],
               "Steuerliche Identifikationsnummer der antragstellenden Person Angaben zu Kindern "
               "Kontoverbindung IBAN BIC Anlage Kind")
WOHN = StubForm("wohngeld_mietzuschuss", "Antrag auf Wohngeld – Mietzuschuss", ["Wohngeldstelle"],
                "Antragstellende Person Familienname Vorname monatliche Miete Einzugsdatum Kreditinstitut")
ABM = StubForm("gewerbeabmeldung", "Gewerbe-Abmeldung", ["GewA 3", "§ 14 GewO"],
               "Aufgabe des Betriebes Datum der Betriebsaufgabe Abgemeldete Tätigkeit")


def catalogue(*forms: StubForm) -> StubCatalogue:
    return StubCatalogue({f.id: f for f in forms})


def _form_text(form: StubForm, rng: random.Random) -> str:
    words = (form.title + " " + " ".join(form.identifiers) + " " + form.body).split()
    rng.shuffle(words)
    vals = ["Müller", "12.03.1985", "Hauptstraße 5", "44135 Dortmund", "DE02120300000000202051"]
    return " ".join(words + rng.sample(vals, 3))


def _letter(rng: random.Random) -> str:
    subject = rng.choice(["Kündigung meines Vertrags", "Einladung zum Sommerfest", "Terminanfrage",
                          "Widerspruch gegen den Bescheid", "Bewerbung als Sachbearbeiterin"])
    return (f"Sehr geehrte Damen und Herren, betreffend {subject} schreibe ich Ihnen heute. "
            f"Bitte melden Sie sich bis zum {rng.randint(1, 28)}.05.2025. Mit freundlichen Grüßen Erika Muster")


def _invoice(rng: random.Random) -> str:
    return (f"Rechnung Rechnungsnummer R-{rng.randint(1000, 9999)} Rechnungsdatum 01.02.2025 "
            f"Pos Menge Artikel Einzelpreis Nettobetrag {rng.randint(10, 900)},00 EUR Umsatzsteuer 19 % "
            "Gesamtbetrag zahlbar innerhalb 14 Tagen IBAN USt-IdNr. DE123456789")


def corpus(forms: list[StubForm], n: int = 14, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for f in forms:
        pairs += [(_form_text(f, rng), f.id) for _ in range(n)]
    pairs += [(_invoice(rng), INVOICE) for _ in range(n)]
    pairs += [(_letter(rng), UNKNOWN) for _ in range(n)]
    return pairs


# ---------------------------------------------------------------- identifiers


def test_identifiers_survive_ocr_errors_and_give_german_reasons():
    m = IdentifierMatcher(class_defs(catalogue(GEWA, KG1)))
    scores, reasons = m.match(["Name der Gemeinde  GEWERBE-ANMELDUNQ  Gew A1", "Seite 2"])
    assert scores["gewerbeanmeldung"] > 0.9
    assert scores["kindergeld_kg1"] == 0.0
    text = " ".join(reasons["gewerbeanmeldung"])
    assert "Titel 'Gewerbe-Anmeldung' erkannt" in text and "Seite 1" in text
    assert "Formularkennung 'GewA 1'" in text


def test_short_codes_do_not_match_fuzzily_and_lookalike_titles_are_rejected():
    m = IdentifierMatcher(class_defs(catalogue(GEWA, ABM)))
    scores, _ = m.match(["Formular GewA 12 und KG 10"])  # different codes
    assert scores["gewerbeanmeldung"] == 0.0
    scores, _ = m.match(["Gewerbe-Abmeldung nach GewO"])  # one letter away from Anmeldung
    assert scores["gewerbeabmeldung"] > 0.9
    assert scores["gewerbeanmeldung"] == 0.0


def test_shared_identifiers_are_weak():
    defs = {c.id: c for c in class_defs(catalogue(GEWA, ABM))}
    assert "§ 14 GewO" in defs["gewerbeanmeldung"].weak_identifiers
    assert "GewA 1" in defs["gewerbeanmeldung"].identifiers
    assert INVOICE in defs  # built in even when the catalogue has no invoice


# ---------------------------------------------------------------- fusion / calibration


def _synthetic_features(n: int, rng: np.random.Generator):
    k = 3
    y = rng.integers(0, k + 1, n)
    ident = (rng.random((n, k)) < 0.1).astype(float)
    sim = rng.normal(0.5, 0.05, (n, k))
    lp = np.log(np.full((n, k), 0.1))
    lp_unk = np.log(np.full(n, 0.7))
    for i, c in enumerate(y):
        noisy = rng.random() < 0.8  # the signals agree with the label 80 % of the time
        if c < k and noisy:
            ident[i, c] = 1.0
            sim[i, c] += 0.1
            lp[i, c], lp_unk[i] = np.log(0.8), np.log(0.1)
    return Features(lp, lp_unk, ident, sim, np.ones(k, bool)), y


def test_fusion_fit_is_calibrated_on_held_out_data():
    rng = np.random.default_rng(0)
    f_tr, y_tr = _synthetic_features(3000, rng)
    f_te, y_te = _synthetic_features(3000, rng)
    p = fit(f_tr, y_tr)
    probs = predict_proba(f_te, p)
    assert np.allclose(probs.sum(1), 1)
    assert ece(probs, y_te) < 0.04
    # an uncalibrated, overconfident setting is clearly worse
    hot = FusionParams(w_h=10, w_i=30, w_s=50)
    assert ece(predict_proba(f_te, hot), y_te) > ece(probs, y_te) + 0.05


def test_ece_of_perfect_and_overconfident():
    y = np.array([0, 1, 0, 1])
    assert ece(np.eye(2)[y], y) == 0.0
    wrong = np.eye(2)[1 - y] * 0.98 + 0.01
    assert ece(wrong, y) > 0.9


# ---------------------------------------------------------------- splitting


def test_segment_pages_by_label_change_first_page_and_blanks():
    labels = ["a", "b", UNKNOWN]
    P = lambda a, b, u: [a, b, u]  # noqa: E731
    probs = np.array([P(.9, .05, .05), P(.8, .1, .1), P(.1, .1, .8), P(.1, .85, .05),
                      P(.9, .05, .05), P(.9, .05, .05), P(.1, .1, .8)])
    texts = ["Seite 1 von 2", "Seite 2 von 2", "", "b", "a", "a", "letter"]
    blank = [False, False, True, False, False, False, False]
    first = [None, None, None, None, 0.2, -0.1, None]
    assert segment_pages(texts, probs, labels, blank, first) == [(1, 3), (4, 4), (5, 6), (7, 7)]


def test_segment_keeps_a_weak_disagreement_inside_its_form():
    labels = ["a", "b", UNKNOWN]
    probs = np.array([[.9, .05, .05], [.3, .1, .6], [.9, .05, .05]])
    assert segment_pages(["x", "Hinweise", "y"], probs, labels, [False] * 3, [0.3, None, -0.2]) == [(1, 3)]


def test_a_page_that_says_it_continues_stays_with_its_document():
    labels = ["invoice", "b", UNKNOWN]
    probs = np.array([[.95, .03, .02], [.9, .05, .05], [.05, .05, .9], [.05, .9, .05]])
    texts = ["Rechnung Seite 1 von 3", "Seite 2 von 3", "Zahlungsart IBAN Seite 3 von 3", "b form"]
    assert segment_pages(texts, probs, labels, [False] * 4, [None] * 4) == [(1, 3), (4, 4)]


# ---------------------------------------------------------------- trained classifier


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("clf")
    cat = catalogue(GEWA, KG1, WOHN)
    vdir = train(corpus([GEWA, KG1, WOHN], seed=1), cat, root, encoder=None)
    return cat, root, vdir


def test_training_writes_a_versioned_artefact_and_loader_picks_newest(trained, tmp_path):
    cat, root, vdir = trained
    for name in ("VERSION", "meta.json", "fusion.json", "metrics.json", "tfidf.pkl"):
        assert (vdir / name).exists(), name
    assert latest_version_dir(root) == vdir
    time.sleep(1.1)  # versions carry a second-resolution UTC timestamp
    newer = train(corpus([GEWA, KG1, WOHN], n=6, seed=2), cat, root, encoder=None)
    assert latest_version_dir(root) == newer and newer.name > vdir.name
    clf = DocumentClassifier.from_catalogue(cat, root, encoder="none")
    assert clf.version.startswith(newer.name) and clf.version.endswith("+tfidf-fallback")


def test_classify_known_types_unknown_and_blank(trained):
    cat, _, vdir = trained
    clf = DocumentClassifier.from_catalogue(cat, vdir, encoder="none")
    rng = random.Random(99)
    c = clf.classify_text(_form_text(KG1, rng))
    assert c.document_type == "kindergeld_kg1" and c.confidence > 0.8
    assert c.model_version == clf.version
    assert abs(sum(c.scores.values()) - 1) < 1e-3
    assert any("Antrag auf Kindergeld" in r for r in c.reasons)
    assert clf.classify_text(_letter(rng)).document_type == UNKNOWN
    assert clf.classify_text(_invoice(rng)).document_type == INVOICE
    blank = clf.classify(DocumentContent(pages=[PageContent(page=1, width=2480, height=3508, source="empty")]))
    assert blank.document_type == UNKNOWN and "keinen lesbaren Text" in blank.reasons[0]


def test_classify_document_content_uses_page_words(trained):
    cat, _, vdir = trained
    clf = DocumentClassifier.from_catalogue(cat, vdir, encoder="none")
    words = [Word(text=w, bbox=[0, 0, 10, 10]) for w in _form_text(WOHN, random.Random(3)).split()]
    c = clf.classify(DocumentContent(pages=[PageContent(page=1, width=100, height=100, words=words)]))
    assert c.document_type == "wohngeld_mietzuschuss"


def test_new_form_type_from_catalogue_before_any_example(trained):
    """GewA 3 is only in the catalogue (never trained) and still recognised."""
    cat, _, vdir = trained
    clf = DocumentClassifier.from_catalogue(catalogue(GEWA, KG1, WOHN, ABM), vdir, encoder="none")
    c = clf.classify_text("Gewerbe-Abmeldung GewA 3 " + ABM.body + " Müller 12.03.1985")
    assert c.document_type == "gewerbeabmeldung", c
    assert any("Gewerbe-Abmeldung" in r for r in c.reasons)
    # the trained types still work with the extra class present
    assert clf.classify_text(_form_text(GEWA, random.Random(5))).document_type == "gewerbeanmeldung"


def test_split_batch_returns_documents_with_types(trained):
    cat, _, vdir = trained
    clf = DocumentClassifier.from_catalogue(cat, vdir, encoder="none")
    rng = random.Random(7)
    pages = [_form_text(GEWA, rng), _form_text(KG1, rng), _invoice(rng), _letter(rng)]
    ranges = clf.split_batch(pages)
    assert all(isinstance(r, PageRange) for r in ranges)
    assert [(r.start, r.end, r.document_type) for r in ranges] == [
        (1, 1, "gewerbeanmeldung"), (2, 2, "kindergeld_kg1"), (3, 3, INVOICE), (4, 4, UNKNOWN)]


def test_zero_shot_without_artefact_or_encoder(tmp_path):
    clf = DocumentClassifier.from_catalogue(catalogue(GEWA, KG1), tmp_path / "nothing", encoder="none")
    assert clf.version == "zeroshot+tfidf-fallback"
    c = clf.classify_text("Antrag auf Kindergeld KG 1 Familienkasse Steuerliche Identifikationsnummer")
    assert c.document_type == "kindergeld_kg1"
    assert c.model_version == "zeroshot+tfidf-fallback"


def test_pages_in_training_text_are_form_feed_separated(trained):
    cat, _, vdir = trained
    clf = DocumentClassifier.from_catalogue(cat, vdir, encoder="none")
    two = clf.classify_text(_form_text(GEWA, random.Random(1)) + PAGE_SEP + "   ")
    assert two.document_type == "gewerbeanmeldung"


def test_identifiers_seen_in_other_types_documents_are_demoted():
    from classifiers.training import demote, find_unreliable_identifiers

    classes = class_defs(catalogue(GEWA, KG1))
    rng = random.Random(4)
    units = [[_form_text(KG1, rng) + " Hinweis: für ein Gewerbe die Gewerbe-Anmeldung nutzen"] for _ in range(12)]
    units += [[_form_text(GEWA, rng)] for _ in range(12)]
    labels = ["kindergeld_kg1"] * 12 + ["gewerbeanmeldung"] * 12
    demoted = find_unreliable_identifiers(classes, units, labels)
    assert demoted == {"gewerbeanmeldung": ["Gewerbe-Anmeldung"]}
    gewa = {c.id: c for c in demote(classes, demoted)}["gewerbeanmeldung"]
    assert "Gewerbe-Anmeldung" in gewa.weak_identifiers and "GewA 1" in gewa.identifiers


def test_a_filled_acroform_with_the_forms_own_field_names_is_that_form():
    from classifiers import DocumentClassifier
    from classifiers.classes import class_defs
    from forms import load_catalogue
    from formwerk.models import AcroFormValue, DocumentContent, PageContent

    cat = load_catalogue()
    clf = DocumentClassifier.zero_shot(class_defs(cat), None)
    names = sorted(next(c for c in class_defs(cat) if c.id == "wohngeld_mietzuschuss").acroform_names)
    page = PageContent(page=1, width=100, height=100, words=[])
    filled = DocumentContent(pages=[page], acroform=[AcroFormValue(name=n, value="x") for n in names])
    c = clf.classify(filled)
    assert c.document_type == "wohngeld_mietzuschuss" and c.confidence > 0.99
    assert "PDF-Formularfelder" in c.reasons[0] and c.model_version == clf.version
    # too few of its fields (another PDF that happens to share two names): the text decides
    few = DocumentContent(pages=[page], acroform=[AcroFormValue(name=n, value="x") for n in names[:2]])
    assert clf.classify(few).document_type == "unknown"
