"""Letters citing a case: spaCy rule matchers (extractors.letters) and the link to the cited case.

A document of unknown type (a cover letter, a Widerspruch) that cites an
existing case's reference ("Az.: FV-2026-0042", "Ihr Zeichen: 32-1/2026") is
linked to that case when exactly one other case in the store has that
reference or case id; the case goes to review with ``linked_to_case``. Ordinary
numbers (postcodes, house numbers, phone numbers, dates, amounts) are never
taken for references: the generated letters of ``bench.synth`` cite no case
and must give no candidate and no link.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from extractors.letters import link_candidates, read_letter, read_text
from formwerk.db import CaseStore
from formwerk.models import CaseResult, CaseStatus, PageContent, Word
from formwerk.settings import Settings
from formwerk.storage import BlobStore
from tests.fakes import FakeClassifier, FakeExtractor
from workflows.activities import CaseActivities
from workflows.messages import ContentRef, ExtractInput

LETTER = """Jürgen Müller-Lüdenscheidt
Hauptstraße 12 b
04109 Leipzig
Tel. 0341/1234567 · Mobil 0171 2345678
Stadt Leipzig
Ordnungsamt – Gewerbeangelegenheiten
Ihr Zeichen: 32-1/2026
Leipzig, 17. Juni 2026
Widerspruch gegen den Bescheid vom 03.06.2026, Az.: FV-2026-0042
Sehr geehrte Damen und Herren,
bezugnehmend auf Ihr Schreiben (Aktenzeichen
123.45:7) übersende ich die Unterlagen. Die Gebühr von 1.234,56 € habe ich mit
dem Kassenzeichen 5.0123.456789.0 überwiesen (IBAN DE89 3704 0044 0532 0130 00).
Mit freundlichen Grüßen
Jürgen Müller-Lüdenscheidt
"""

# a letter full of numbers and no reference at all
PLAIN = """Erika Mustermann-Öztürk
Lindenstraße 69/92
10115 Berlin
Telefon: 030 / 12 34 56-7, Fax 030/2026-11
E-Mail: erika@example.org
Bezirksamt Mitte
Bürgeramt 2
Karl-Marx-Allee 31
10178 Berlin
Berlin, den 17.06.2026
Anmeldung zum 01.07.2026 – Wohnung im 3. OG, Whg. 12/4
Sehr geehrte Damen und Herren,
ich ziehe am 1. Juli 2026 um. Die Miete beträgt 812,40 EUR (Stand 06/2026),
Steuer-ID 12 345 678 901, Geburtsdatum 14.02.1986, PLZ 10115, Postfach 12 04 33.
Rufen Sie mich gern unter +49 (0)30 1234-5678 an.
Mit freundlichen Grüßen
Erika Mustermann-Öztürk
"""


def words_of(text: str, page: int = 1) -> list[Word]:
    """The text laid out as a 300-dpi page: 22 px per character, one line per 60 px."""
    out = []
    for row, line in enumerate(text.splitlines()):
        x = 200.0
        for t in line.split():
            w = 22.0 * len(t)
            out.append(Word(text=t, bbox=[x, 200.0 + 60 * row, x + w, 240.0 + 60 * row], page=page))
            x += w + 15
    return out


def letter_page(text: str, number: int = 1) -> PageContent:
    return PageContent(page=number, width=2480, height=3508, dpi=300, source="ocr", words=words_of(text, number))


# -- the matcher --------------------------------------------------------------------------------


def test_references_dates_and_sender_of_a_realistic_letter():
    reading = read_letter([letter_page(LETTER)])
    got = [(c.value, c.kind, c.cue) for c in reading.references]
    assert got == [("32-1/2026", "cue", "Ihr Zeichen"), ("FV-2026-0042", "cue", "Az."),
                   ("123.45:7", "cue", "Aktenzeichen"), ("5.0123.456789.0", "cue", "Kassenzeichen")]
    fv = reading.references[1]
    assert fv.text == "Az.: FV-2026-0042" and fv.page == 1
    assert reading.texts[1][fv.start:fv.end] == "FV-2026-0042"
    assert fv.bbox[1::2] == [680.0, 720.0]  # its line, page pixels
    assert fv.bbox[2] - fv.bbox[0] == 22.0 * len("FV-2026-0042")
    assert reading.references[2].text == "Aktenzeichen 123.45:7"  # across the line break
    assert "Az. FV-2026-0042" in fv.lookups() and "FV-2026-0042" in fv.lookups()
    assert [(d.text, d.iso) for d in reading.dates] == [("17. Juni 2026", "2026-06-17"),
                                                        ("03.06.2026", "2026-06-03")]
    assert reading.sender == "Jürgen Müller-Lüdenscheidt"


@pytest.mark.parametrize("text, value", [
    ("Betreff: Ihr Az. 123.45:7 vom 2. Mai", "123.45:7"),
    ("Vorgangsnummer: 2026/000123", "2026/000123"),
    ("Vorgangs-Nr. VG-88-17", "VG-88-17"),
    ("Geschäftszeichen: III-4/2026 (bitte stets angeben)", "III-4/2026"),
    ("AKTENZEICHEN FV-2026-0042.", "FV-2026-0042"),
    ("ihr zeichen:\n32-1/2026", "32-1/2026"),
    ("in der Sache FV-2026-0042 reiche ich nach", "FV-2026-0042"),  # a reference's shape alone
    ("zum Vorgang 32-1/2026, Bürgerbüro Köln", "32-1/2026"),
])
def test_cues_and_shapes(text, value):
    assert [c.value for c in read_text(text).references] == [value]


def test_ordinary_numbers_dates_postcodes_and_phone_numbers_are_no_references():
    reading = read_letter([letter_page(PLAIN)])
    assert reading.references == []
    assert {d.iso for d in reading.dates} == {"2026-06-17", "2026-07-01", "1986-02-14"}
    assert reading.sender == "Erika Mustermann-Öztürk"
    # a cue followed by a date or a word is no reference either
    assert read_text("Aktenzeichen vom 17.06.2026; Ihr Zeichen: bitte angeben; Az.: 17.06.2026").references == []


def test_empty_or_huge_pages_read_nothing():
    assert read_letter([]).references == []
    assert read_letter([PageContent(page=1, width=10, height=10)]).references == []
    assert read_text("Az. FV-2026-0042 " * 2000).references == []  # beyond MAX_PAGE_CHARS


# -- the false-positive figure on generated letters that cite no case --------------------------


def _synth_pages(seed: int) -> list[PageContent]:
    from bench.synth.document import render_document
    from formwerk.documents.pdf import read_pdf

    info = read_pdf(render_document("letter", seed).pdf_bytes, 300, 5)
    return [PageContent(page=p.index + 1, width=p.width_px, height=p.height_px, source="text_layer", words=p.words)
            for p in info.pages]


SEEDS = range(300000, 300100)


def test_generated_letters_give_no_candidates_and_no_wrong_links(tmp_path, capsys):
    """100 letters of bench.synth (they cite no case) against a hostile store: every number-bearing
    word of every letter (postcodes, house numbers such as "69/92", dates) is some case's reference."""
    letters = {seed: _synth_pages(seed) for seed in SEEDS}
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    numbers = sorted({w.text.strip(",.") for pages in letters.values() for p in pages for w in p.words
                      if re.search(r"\d", w.text)})
    for i, ref in enumerate(numbers + [f"FV-2026-{n:04d}" for n in range(1, 50)] + ["32-1/2026"]):
        store.save_result(CaseResult(case_id=f"case-h{i}", reference=ref, status=CaseStatus.COMPLETED))
    candidates = wrong = 0
    for seed, pages in letters.items():
        found = read_letter(pages).references
        candidates += len(found)
        wrong += link_candidates(found, store.cases_citing, exclude=[f"case-letter-{seed}"]) is not None
    with capsys.disabled():
        print(f"\n[letters] {len(letters)} generated letters (seeds {SEEDS.start}-{SEEDS.stop - 1}): "
              f"{candidates} candidate references, {wrong} wrong links "
              f"(store of {len(numbers)} number-bearing words of the letters as references)")
    assert len(numbers) > 300  # the store does hold the letters' numbers
    assert candidates == 0 and wrong == 0


# -- linking against the case store (SQLite and PostgreSQL) ------------------------------------


def _case(case_id: str, reference: str, status=CaseStatus.COMPLETED) -> CaseResult:
    return CaseResult(case_id=case_id, reference=reference, status=status, document_type="gewerbeanmeldung")


def test_the_store_finds_cases_by_exact_reference_or_case_id(store_url):
    store = CaseStore.from_url(store_url)
    store.save_result(_case("case-FV-2026-0042", "FV-2026-0042"))
    store.save_result(_case("case-" + "a" * 40, "32-1/2026"))  # a reference with "/": a hashed case id
    store.save_result(_case("case-Az. 123.45:7", "Az. 123.45:7"))
    assert store.cases_citing(["FV-2026-0042"]) == [("case-FV-2026-0042", "FV-2026-0042")]
    assert store.cases_citing(["case-FV-2026-0042"]) == [("case-FV-2026-0042", "FV-2026-0042")]
    assert store.cases_citing(["32-1/2026", "nothing"]) == [("case-" + "a" * 40, "32-1/2026")]
    assert store.cases_citing(["fv-2026-0042", "FV-2026-004", "FV-2026-0042 ", "%", ""]) == []  # exact only
    assert store.cases_citing([]) == []

    reading = read_letter([letter_page(LETTER)])
    link = link_candidates(reading.references, store.cases_citing, exclude=["case-new"])
    assert link is None  # the letter cites two stored cases (FV-2026-0042, 32-1/2026): ambiguous, no link
    only_fv = [c for c in reading.references if c.value == "FV-2026-0042"]
    link = link_candidates(only_fv, store.cases_citing, exclude=["case-new"])
    assert (link.case_id, link.reference, link.candidate.text) == (
        "case-FV-2026-0042", "FV-2026-0042", "Az.: FV-2026-0042")
    # never to itself (a letter submitted with the reference it cites), nor to its batch
    assert link_candidates(only_fv, store.cases_citing, exclude=["case-FV-2026-0042"]) is None
    # a reference stored with its cue ("Az. 123.45:7") is found when the letter writes it so
    az = read_text("Ihr Schreiben, Az. 123.45:7").references
    assert link_candidates(az, store.cases_citing).case_id == "case-Az. 123.45:7"


# -- the activity and the workflow -------------------------------------------------------------


@pytest.fixture
def acts(tmp_path):
    return CaseActivities(blobs=BlobStore(tmp_path / "b"), cases=CaseStore.from_url(f"sqlite:///{tmp_path / 'c.db'}"),
                          ocr=None, classifier=FakeClassifier(document_type="unknown"), extractor=FakeExtractor(),
                          known_types={"gewerbeanmeldung"})


def _extract(acts, text: str, document_type: str = "unknown", case_id: str = "case-NEU-1", parent=None):
    key = acts.blobs.put(letter_page(text).model_dump_json().encode("utf-8"))
    return ActivityEnvironment().run(acts.extract_fields, ExtractInput(
        document_type=document_type, content=ContentRef(content_keys=[key]), case_id=case_id, parent_case_id=parent))


CITING = "Stadt Leipzig\nWiderspruch, Az.: FV-2026-0042\nMit freundlichen Grüßen\nJürgen Müller\n"


def test_the_activity_links_an_unknown_document_to_the_one_case_it_cites(acts):
    acts.cases.save_result(_case("case-FV-2026-0042", "FV-2026-0042"))
    out = _extract(acts, CITING)
    assert out.extraction is None
    assert (out.linked_case_id, out.linked_reference) == ("case-FV-2026-0042", "FV-2026-0042")
    assert _extract(acts, CITING, case_id="case-FV-2026-0042").linked_case_id is None  # itself
    assert _extract(acts, CITING, parent="case-FV-2026-0042").linked_case_id is None  # its batch
    assert _extract(acts, PLAIN).linked_case_id is None
    acts.extractor = type("X", (), {"extract": lambda self, *a: None})()
    assert _extract(acts, CITING, document_type="gewerbeanmeldung").linked_case_id is None  # a form: no linking


def test_a_lookup_error_links_nothing_and_does_not_fail(acts, monkeypatch, caplog):
    def broken(values, limit=10):
        raise RuntimeError(f"database down while looking for {values[0]}")

    monkeypatch.setattr(acts.cases, "cases_citing", broken)
    caplog.set_level(logging.DEBUG)
    out = _extract(acts, CITING)
    assert out.linked_case_id is None and out.extraction is None
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "no case link (RuntimeError)" in logged and "FV-2026-0042" not in logged


class _LetterOcr:
    """Reads the citing letter (laid out at 300 dpi) off any image, at the image's scale."""

    name = "fake-letter-ocr"

    def recognise(self, image, page_no: int) -> list[Word]:
        s = image.width / 2480
        return [w.model_copy(update={"page": page_no, "confidence": 0.95,
                                     "bbox": [v * s for v in w.bbox]}) for w in words_of(CITING)]

    def detect_rotation(self, image) -> int:
        return 0


async def test_a_letter_citing_a_case_is_linked_and_goes_to_review(temporal_env, queues, tmp_path):
    from formwerk.commands import wait_routed
    from formwerk.intake import submit
    from tests import badfiles
    from workflows.case_workflow import CaseWorkflow
    from worker import make_workers

    blobs, cases = BlobStore(tmp_path / "blobs"), CaseStore.from_url(f"sqlite:///{tmp_path / 'c.sqlite'}")
    cases.save_result(_case("case-FV-2026-0042", "FV-2026-0042"))
    acts = CaseActivities(blobs=blobs, cases=cases, ocr=_LetterOcr(),
                          classifier=FakeClassifier(document_type="unknown", confidence=0.4),
                          extractor=FakeExtractor(), known_types={"gewerbeanmeldung"})
    client = temporal_env.client
    async with make_workers(client, acts, *queues, ocr_slots=1):
        sub = await submit(client, blobs, badfiles.text_image(["Widerspruch"]), filename="brief.png",
                           reference=None, task_queue=queues[0], ocr_task_queue=queues[1], policies={})
        routed = await wait_routed(sub.handle, 60)
        history = await sub.handle.fetch_history()
    assert routed.status == CaseStatus.NEEDS_REVIEW
    assert routed.linked_case_id == "case-FV-2026-0042" and routed.linked_reference == "FV-2026-0042"
    assert routed.review_reasons == ["unknown_document_type", "linked_to_case"]
    stored = cases.get(sub.case_id)
    assert stored.linked_case_id == "case-FV-2026-0042" and "linked_to_case" in stored.review_reasons
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


def test_a_result_stored_before_links_existed_still_loads():
    old = _case("case-X", "X").model_dump(mode="json")
    del old["linked_case_id"], old["linked_reference"]
    r = CaseResult.model_validate(old)
    assert r.linked_case_id is None and r.linked_reference is None


# -- the clerk's screen and the API -------------------------------------------------------------


def test_the_case_screen_and_the_api_show_the_linked_case(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.i18n import Translator
    from formwerk.tokens import TokenStore
    from tests.webapp import NoTemporal as _NoTemporal, login as _login

    app = create_app(Settings(data_dir=tmp_path, secret_key="t"), client=_NoTemporal())
    st = app.state.formwerk
    st.users.add("anna", "ein-langes-passwort", role="clerk")
    _, token = TokenStore(st.cases.engine).create("fachverfahren", ["cases:read"])
    auth = {"Authorization": f"Bearer {token}"}
    st.cases.save_result(_case("case-FV-2026-0042", "FV-2026-0042", CaseStatus.NEEDS_REVIEW))
    st.cases.save_result(CaseResult(
        case_id="case-BRIEF-7", reference="BRIEF-7", file="brief.pdf", status=CaseStatus.NEEDS_REVIEW,
        document_type="unknown", document_type_confidence=0.4, routed_at=datetime.now(timezone.utc),
        review_reasons=["unknown_document_type", "linked_to_case"],
        linked_case_id="case-FV-2026-0042", linked_reference="FV-2026-0042"))
    with TestClient(app) as c:
        got = c.get("/api/v1/cases/case-BRIEF-7", headers=auth).json()
        assert (got["linked_case_id"], got["linked_reference"]) == ("case-FV-2026-0042", "FV-2026-0042")
        assert "linked_to_case" in got["review_reasons"]
        other = c.get("/api/v1/cases/case-FV-2026-0042", headers=auth).json()
        assert other["linked_case_id"] is None and other["linked_reference"] is None
        spec = c.get("/openapi.json").json()
        op = spec["paths"]["/api/v1/cases/{case_id}"]["get"]
        assert "`linked_case_id`" in op["description"]
        assert "linked_case_id" in spec["components"]["schemas"]["CaseOut"]["properties"]
        examples = op["responses"]["200"]["content"]["application/json"]["examples"]
        assert examples["unknown"]["value"]["linked_case_id"] == "case-FV-2026-0042"

        _login(c, "anna")
        text = re.sub(r"\s+", " ", c.get("/cases/case-BRIEF-7").text)
        line = re.search(r'<p class="kern-body" data-testid="linked-case">(.*?)</p>', text).group(1)
        assert line.startswith("Schreiben bezieht sich auf Fall ")
        # the link reads as the letter cites the case (the reference the clerk knows), not as its id
        assert line.endswith('<a class="kern-link" href="/cases/case-FV-2026-0042">FV-2026-0042</a>')
        assert Translator("de").reason("linked_to_case", str) in text  # the reason as a sentence
        assert 'data-testid="linked-case"' not in c.get("/cases/case-FV-2026-0042").text
        assert c.get("/cases/case-FV-2026-0042").status_code == 200  # the link leads somewhere
        queue = c.get("/queue?reason=linked_to_case").text
        assert "BRIEF-7" in queue and "case-FV-2026-0042\"" not in queue
