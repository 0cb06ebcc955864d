"""Page OCR engines: in-process Tesseract (tesserocr) vs the ``tesseract`` CLI, real Tesseract."""

from __future__ import annotations

import logging
import threading

import pytest
from PIL import Image, ImageDraw

from formwerk import tess_inproc
from formwerk.errors import OcrEngineError
from formwerk.ocr import InProcessTesseractEngine, TesseractEngine, make_engine
from tests.drawing import truetype_font

FORM_LINES = [
    "Gewerbe-Anmeldung nach § 14 GewO",
    "Name: Müller-Lüdenscheidt, Jürgen",
    "Straße: Mühlenweg 12, 47239 Duisburg",
    "Tätigkeit: Einzelhandel mit Backwaren",
    "Beginn der Tätigkeit: 01.03.2026",
]
LETTER_LINES = [
    "Sehr geehrte Damen und Herren,",
    "anbei übersende ich Ihnen die Unterlagen",
    "für den Antrag auf Wohngeld (Mietzuschuss).",
    "Mit freundlichen Grüßen",
    "Käthe Schöttler, Bahnhofstraße 3, 10115 Berlin",
]


def _page(lines: list[str], mode: str = "L") -> Image.Image:
    """A part of a 200 dpi page with German text (small enough to read in ~0.2 s)."""
    img = Image.new("L", (1700, 760), 255)
    draw, font = ImageDraw.Draw(img), truetype_font(40)
    for i, text in enumerate(lines):
        draw.text((100, 80 + i * 120), text, fill=0, font=font)
    return img.convert(mode)


@pytest.fixture(scope="module")
def inproc() -> InProcessTesseractEngine:
    return InProcessTesseractEngine(languages="deu")


@pytest.fixture(scope="module")
def cli() -> TesseractEngine:
    return TesseractEngine(languages="deu")


def _texts(words) -> list[str]:
    return [w.text for w in words]


@pytest.mark.parametrize("mode", ["L", "RGB", "1"])
def test_in_process_engine_reads_the_same_words_as_the_cli(inproc, cli, mode):
    page = _page(FORM_LINES, mode)
    a, b = inproc.recognise(page, 2), cli.recognise(page, 2)
    assert _texts(a) == _texts(b)
    assert " ".join(_texts(a)).startswith("Gewerbe-Anmeldung nach")
    assert "Müller-Lüdenscheidt," in _texts(a) and "47239" in _texts(a)
    for wa, wb in zip(a, b):
        assert max(abs(x - y) for x, y in zip(wa.bbox, wb.bbox)) <= 3, (wa, wb)
        assert wa.page == 2 and 0.0 <= wa.confidence <= 1.0
        assert (wa.block, wa.line) == (wb.block, wb.line)
    # boxes in the page's pixels: the street's number sits in the third line
    twelve = next(w for w in a if w.text == "12,")
    assert 300 <= twelve.bbox[1] <= 340


def test_a_timeout_is_an_ocr_engine_error_and_the_slot_reads_on(inproc, cli):
    page = _page(FORM_LINES)
    for engine in (inproc, cli):
        before = engine.timeout_s
        engine.timeout_s = 0.001
        try:
            with pytest.raises(OcrEngineError, match="timeout"):
                engine.recognise(page, 1)
        finally:
            engine.timeout_s = before
    # the thread's API was cleared, not left half-way: the next page reads normally
    assert "Backwaren" in _texts(inproc.recognise(page, 1))


def test_make_engine_falls_back_to_the_cli_when_tesserocr_cannot_load_the_language(
        tmp_path, monkeypatch, caplog):
    empty = tmp_path / "tessdata"
    empty.mkdir()
    monkeypatch.setattr(tess_inproc, "tessdata_dir", lambda: str(empty))
    with caplog.at_level(logging.WARNING, logger="formwerk.ocr"):
        engine = make_engine("tesserocr", "deu")
    assert isinstance(engine, TesseractEngine)
    assert "tesserocr cannot load" in caplog.text and "CLI" in caplog.text
    assert "Backwaren" in _texts(engine.recognise(_page(FORM_LINES), 1))


def test_make_engine_by_name():
    assert isinstance(make_engine("tesserocr", "deu"), InProcessTesseractEngine)
    assert isinstance(make_engine("cli", "deu"), TesseractEngine)
    with pytest.raises(ValueError, match="unknown OCR engine"):
        make_engine("ocrad", "deu")


def test_two_threads_read_two_pages_with_their_own_apis(inproc):
    pages = {"form": _page(FORM_LINES), "letter": _page(LETTER_LINES)}
    alone = {k: _texts(inproc.recognise(p, 1)) for k, p in pages.items()}
    assert alone["form"] != alone["letter"] and "Grüßen" in alone["letter"]
    got: dict[str, list[list[str]]] = {k: [] for k in pages}
    apis: dict[str, set[int]] = {k: set() for k in pages}
    errors: list[BaseException] = []
    start = threading.Barrier(len(pages))

    def read(key: str) -> None:
        try:
            start.wait()
            for _ in range(3):
                got[key].append(_texts(inproc.recognise(pages[key], 1)))
                apis[key].add(id(inproc._api()))
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(k,)) for k in pages]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for key in pages:
        assert got[key] == [alone[key]] * 3
    assert apis["form"].isdisjoint(apis["letter"])  # one API per thread


@pytest.mark.parametrize("kind, engine_type", [("tesserocr", InProcessTesseractEngine), ("cli", TesseractEngine)])
def test_the_worker_reads_pages_with_the_configured_engine(tmp_path, monkeypatch, kind, engine_type):
    import worker
    from formwerk.settings import Settings

    monkeypatch.setenv("FORMWERK_DATA_DIR", str(tmp_path))
    # a page worker classifies scans too; its model is not what this test is about
    monkeypatch.setattr(worker, "ReloadingClassifier", lambda catalogue, settings: "classifier")
    settings = Settings(ocr_engine=kind, ocr_timeout_s=42)
    activities = worker.build_activities(settings, queues="ocr")
    assert type(activities.ocr) is engine_type and activities.ocr.timeout_s == 42
    assert activities.classifier == "classifier"
