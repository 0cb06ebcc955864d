"""Documents of unknown type: question -> answer pairs for the clerk and the API.

The activity runs ``extractors.kv_pairing.detect_pairs`` on the page words
when there is no form template; the workflow stores the pairs on the case; the
case screen and ``GET /api/v1/cases/{id}`` show them. A pairing error never
fails the case. Each test runs with the rules (always) and, where it matters,
with the trained artefact when it is on this machine (it is never committed).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

import extractors.kv_pairing as kv
from formwerk.db import CaseStore
from formwerk.models import CaseResult, CaseStatus, DetectedPair, Extraction, PageContent, Word
from formwerk.settings import Settings
from formwerk.storage import BlobStore
from tests import badfiles
from tests.fakes import FakeClassifier, FakeExtractor
from workflows.activities import CaseActivities
from workflows.messages import ContentRef, ExtractInput
from tests.webapp import NoTemporal as _NoTemporal, login as _login

H = 40.0  # word height in pixels at 300 dpi (~10 pt)
ROWS = [("Name:", "Erika Muster"), ("Geburtsdatum:", "01.02.1980"), ("Anschrift:", "Hauptstraße 5, 12345 Berlin"),
        ("Telefon:", "030 1234567")]
EXPECTED = set(ROWS)
APPLICANT = ("Erika", "Muster", "01.02.1980", "Hauptstraße", "1234567")


def words_of(line: str, x0: float, y0: float, scale: float = 1.0) -> list[Word]:
    """A text line at (x0, y0) in 300-dpi pixels, 22 px per character, 15 px gaps; times ``scale``."""
    out, x = [], x0
    for t in line.split():
        w = 22.0 * len(t)
        out.append(Word(text=t, bbox=[x * scale, y0 * scale, (x + w) * scale, (y0 + H) * scale]))
        x += w + 15
    return out


def form_words(rows=ROWS, scale: float = 1.0) -> list[Word]:
    """A letter-like page with labels left and the values filled in beside them."""
    ws = words_of("Antrag auf Erstattung", 200, 150, scale)
    y = 400
    for label, value in rows:
        ws += words_of(label, 200, y, scale) + words_of(value, 560, y + 2, scale)
        y += 110
    return ws


def page(words: list[Word], number: int = 1, dpi: int = 300) -> PageContent:
    s = dpi / 300
    return PageContent(page=number, width=int(2480 * s), height=int(3508 * s), dpi=dpi, source="ocr",
                       words=[w.model_copy(update={"page": number}) for w in words])


def _models(kind: str) -> kv.KVModels:
    if kind == "rules":
        return kv.KVModels()
    if not kv.default_model_path().exists():
        pytest.skip("no trained pairing artefact on this machine (set-up trains it when XFUND-de is present)")
    return kv.load_models()


@pytest.fixture(params=["rules", "trained"])
def models(request, monkeypatch) -> kv.KVModels:
    """The product path's models: the rules, or the trained artefact."""
    m = _models(request.param)
    monkeypatch.setattr(kv, "load_models", lambda path=None: m)
    return m


@pytest.fixture
def acts(tmp_path):
    return CaseActivities(blobs=BlobStore(tmp_path / "b"), cases=CaseStore.from_url(f"sqlite:///{tmp_path / 'c.db'}"),
                          ocr=None, classifier=FakeClassifier(document_type="unknown"), extractor=FakeExtractor(),
                          known_types={"gewerbeanmeldung"})


def _extract(acts: CaseActivities, pages: list[PageContent], document_type: str = "unknown"):
    keys = [acts.blobs.put(p.model_dump_json().encode("utf-8")) for p in pages]
    return ActivityEnvironment().run(acts.extract_fields,
                                     ExtractInput(document_type=document_type, content=ContentRef(content_keys=keys)))


# -- the activity ----------------------------------------------------------------------------------


def test_an_unknown_page_of_labels_and_values_gives_its_pairs(acts, models):
    out = _extract(acts, [page(form_words())])
    assert out.extraction is None
    got = {(p.question, p.answer) for p in out.pairs}
    assert EXPECTED <= got
    if models.seg_link is not None:  # the trained models find exactly these
        assert got == EXPECTED and min(p.score for p in out.pairs) > 0.5
    name = next(p for p in out.pairs if p.question == "Name:")
    assert name.page == 1 and 0 < name.score <= 1
    assert name.question_bbox == [200.0, 400.0, 310.0, 440.0]  # "Name:" as laid out, page pixels
    assert name.answer_bbox[0] == 560.0 and name.answer_bbox[1] == 402.0
    ordered = [p for p in out.pairs if (p.question, p.answer) in EXPECTED]
    assert [p.question for p in ordered] == [q for q, _ in ROWS]  # reading order


def test_labels_without_colon_are_paired_by_the_trained_models():
    m = _models("trained")
    rows = [("Name:", "Erika Muster"), ("Geburtsdatum", "01.02.1980"), ("Wohnort", "12345 Berlin")]
    pairs = kv.detect_pairs([page(form_words(rows))], m)
    assert {(p.question, p.answer) for p in pairs} == set(rows)


def test_pages_of_another_dpi_are_scaled_to_the_models_and_boxes_come_back_in_page_pixels(acts, models):
    at300 = kv.detect_pairs([page(form_words())], models)
    at200 = kv.detect_pairs([page(form_words(scale=2 / 3), number=2, dpi=200)], models)
    assert [(p.question, p.answer) for p in at200] == [(p.question, p.answer) for p in at300]
    assert {p.page for p in at200} == {2}
    for a, b in zip(at300, at200):
        assert b.answer_bbox == pytest.approx([v * 2 / 3 for v in a.answer_bbox], abs=0.2)
        assert b.score == pytest.approx(a.score, abs=0.02)


def test_pairs_are_bounded_best_kept_in_reading_order(models):
    pages = [page(form_words(), number=n) for n in (1, 2, 3)]
    every = kv.detect_pairs(pages, models)
    some = kv.detect_pairs(pages, models, limit=5)
    assert len(every) > 5 and len(some) == 5
    assert min(p.score for p in some) >= sorted((p.score for p in every), reverse=True)[4]
    assert [(p.page, p.answer_bbox[1]) for p in some] == sorted((p.page, p.answer_bbox[1]) for p in some)
    assert kv.MAX_PAIRS == 100
    # a page of running text beyond the word limit, and the time budget, bound the work
    assert kv.detect_pairs(pages, models, max_words=5) == []
    assert {p.page for p in kv.detect_pairs(pages, models, budget_s=0.0)} == {1}


class _FieldsExtractor:
    version = "fields-1"

    def extract(self, form_id, content, page_image) -> Extraction:
        return Extraction(document_type=form_id)


def test_a_known_type_gets_no_pairs_and_the_pairing_is_not_run(acts, monkeypatch):
    monkeypatch.setattr(kv, "detect_pairs", lambda *a, **k: pytest.fail("paired a known type"))
    acts.extractor = _FieldsExtractor()
    out = _extract(acts, [page(form_words())], document_type="gewerbeanmeldung")
    assert out.extraction is not None and out.pairs == []


def test_a_pairing_error_leaves_no_pairs_and_does_not_fail(acts, monkeypatch, caplog):
    def broken(pages, *a, **k):
        raise ValueError(f"cannot pair {pages[0].words[1].text}")  # an error quoting applicant data

    monkeypatch.setattr(kv, "detect_pairs", broken)
    caplog.set_level(logging.DEBUG)
    out = _extract(acts, [page(form_words())])
    assert out.extraction is None and out.pairs == []
    assert any("no pairs (ValueError)" in r.getMessage() for r in caplog.records)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert not any(v in logged for v in APPLICANT)
    # page contents that cannot be read: no pairs either, the case goes on
    missing = ActivityEnvironment().run(acts.extract_fields, ExtractInput(
        document_type="unknown", content=ContentRef(content_keys=["sha256:" + "0" * 64])))
    assert missing.pairs == []


def test_the_success_log_line_holds_counts_only(acts, models, caplog):
    caplog.set_level(logging.DEBUG)
    out = _extract(acts, [page(form_words())])
    assert out.pairs
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"{len(out.pairs)} pairs on 1 page(s)" in logged
    assert not any(v in logged for v in APPLICANT)


# -- the workflow stores them -----------------------------------------------------------------------


class _FormOcr:
    """Reads the label/value page (laid out at 300 dpi) off any image, at the image's scale."""

    name = "fake-form-ocr"

    def recognise(self, image, page_no: int) -> list[Word]:
        s = image.width / 2480
        return [w.model_copy(update={"page": page_no, "confidence": 0.95}) for w in form_words(scale=s)]

    def detect_rotation(self, image) -> int:
        return 0


async def test_an_unknown_case_keeps_its_pairs_in_the_stored_result(temporal_env, queues, tmp_path):
    from formwerk.commands import wait_routed
    from formwerk.intake import submit
    from workflows.case_workflow import CaseWorkflow
    from worker import make_workers

    blobs, cases = BlobStore(tmp_path / "blobs"), CaseStore.from_url(f"sqlite:///{tmp_path / 'c.sqlite'}")
    acts = CaseActivities(blobs=blobs, cases=cases, ocr=_FormOcr(),
                          classifier=FakeClassifier(document_type="unknown", confidence=0.4),
                          extractor=FakeExtractor(), known_types={"gewerbeanmeldung"})
    client = temporal_env.client
    async with make_workers(client, acts, *queues, ocr_slots=1):
        sub = await submit(client, blobs, badfiles.text_image(["Antrag"]), filename="brief.png", reference=None,
                           task_queue=queues[0], ocr_task_queue=queues[1], policies={})
        routed = await wait_routed(sub.handle, 60)
        history = await sub.handle.fetch_history()
    assert routed.status == CaseStatus.NEEDS_REVIEW and routed.document_type == "unknown"
    assert routed.fields == {} and EXPECTED <= {(p.question, p.answer) for p in routed.pairs}
    stored = cases.get(sub.case_id)
    assert [p.model_dump() for p in stored.pairs] == [p.model_dump() for p in routed.pairs]
    assert all(p.page == 1 for p in stored.pairs)
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


# -- the case store, the clerk's screen, the API, retention -----------------------------------------


def _unknown_case() -> CaseResult:
    return CaseResult(
        case_id="case-UNB-1", reference="UNB-1", file="brief.pdf", status=CaseStatus.NEEDS_REVIEW,
        document_type="unknown", document_type_confidence=0.41, review_reasons=["unknown_document_type"],
        routed_at=datetime.now(timezone.utc),
        pairs=[DetectedPair(question="Name:", answer="Erika Muster", page=1, question_bbox=[200, 400, 310, 440],
                            answer_bbox=[560, 402, 824, 442], score=0.97),
               DetectedPair(question="Geburtsdatum", answer="01.02.1980", page=2, question_bbox=[200, 510, 464, 550],
                            answer_bbox=[560, 512, 780, 552], score=0.88)])


def test_a_result_stored_before_pairs_existed_still_loads(tmp_path):
    old = _unknown_case().model_dump(mode="json")
    del old["pairs"]
    assert CaseResult.model_validate(old).pairs == []




def test_the_case_screen_and_the_api_show_the_pairs(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from formwerk.retention import strip_values
    from formwerk.tokens import TokenStore

    app = create_app(Settings(data_dir=tmp_path, secret_key="t"), client=_NoTemporal())
    st = app.state.formwerk
    st.users.add("anna", "ein-langes-passwort", role="clerk")
    st.users.add("ann", "ein-langes-passwort", role="clerk", language="en")
    _, token = TokenStore(st.cases.engine).create("fachverfahren", ["cases:read"])
    auth = {"Authorization": f"Bearer {token}"}
    st.cases.save_result(_unknown_case())
    st.cases.save_result(CaseResult(case_id="case-FORM-1", reference="FORM-1", status=CaseStatus.NEEDS_REVIEW,
                                    document_type="gewerbeanmeldung"))
    with TestClient(app) as c:
        got = c.get("/api/v1/cases/case-UNB-1", headers=auth).json()
        assert got["fields"] == {}
        assert got["pairs"] == [
            {"question": "Name:", "answer": "Erika Muster", "page": 1, "question_bbox": [200.0, 400.0, 310.0, 440.0],
             "answer_bbox": [560.0, 402.0, 824.0, 442.0], "score": 0.97},
            {"question": "Geburtsdatum", "answer": "01.02.1980", "page": 2,
             "question_bbox": [200.0, 510.0, 464.0, 550.0], "answer_bbox": [560.0, 512.0, 780.0, 552.0],
             "score": 0.88}]
        assert c.get("/api/v1/cases/case-FORM-1", headers=auth).json()["pairs"] == []
        # described in the OpenAPI, with an example of an unknown document
        spec = c.get("/openapi.json").json()
        op = spec["paths"]["/api/v1/cases/{case_id}"]["get"]
        assert "`pairs`" in op["description"]
        examples = op["responses"]["200"]["content"]["application/json"]["examples"]
        assert examples["unknown"]["value"]["pairs"] and examples["form"]["value"]["pairs"] == []
        assert "question" in spec["components"]["schemas"]["PairOut"]["properties"]

        _login(c, "anna")
        screen = c.get("/cases/case-UNB-1")
        assert screen.status_code == 200
        text = re.sub(r"\s+", " ", screen.text)
        section = re.search(r'<section aria-labelledby="pairs-heading" data-testid="pairs">(.*?)</section>', text).group(1)
        assert "Erkannte Angaben (ohne Formularvorlage)" in section
        assert re.search(r'data-page="1"><dt[^>]*>Name:</dt> <dd[^>]*>Erika Muster <span[^>]*>S\. 1 · Sicherheit 97 %',
                         section)
        assert re.search(r'data-page="2"><dt[^>]*>Geburtsdatum</dt> <dd[^>]*>01\.02\.1980 <span[^>]*>S\. 2', section)
        assert "<input" not in section and "<textarea" not in section  # read-only
        assert 'data-testid="pairs"' not in c.get("/cases/case-FORM-1").text
        c.cookies.clear()
        _login(c, "ann")
        text = re.sub(r"\s+", " ", c.get("/cases/case-UNB-1").text)
        assert "Detected entries (no form template)" in text and "p. 2 · confidence 88%" in text

    # retention clears them with the other values
    assert strip_values(_unknown_case()).pairs == []
