"""In-process Tesseract (tesserocr) for second reads, and its CLI fallback: real Tesseract."""

from __future__ import annotations

import threading

import pytest
from PIL import Image, ImageDraw

from formwerk import tess_inproc
from tests.drawing import truetype_font


def _line(text: str) -> Image.Image:
    img = Image.new("L", (900, 120), 255)
    ImageDraw.Draw(img).text((30, 30), text, fill=0, font=truetype_font(44))
    return img


@pytest.fixture
def cli_only(monkeypatch):
    monkeypatch.setattr(tess_inproc, "available", lambda: False)


def _texts(words):
    return " ".join(w["text"] for w in words)


def test_in_process_read_matches_the_cli(cli_only, monkeypatch):
    img = _line("Brüggemann 47239 Duisburg")
    cli = tess_inproc.read_words(img, "deu", 7)
    monkeypatch.undo()
    tess_inproc.available.cache_clear()
    assert tess_inproc.available(), "tesserocr is a dependency: it must load the CLI's language models"
    inproc = tess_inproc.read_words(img, "deu", 7)
    assert _texts(inproc) == _texts(cli) == "Brüggemann 47239 Duisburg"
    for a, b in zip(inproc, cli):  # boxes in the image's pixels, as the CLI gives them
        assert abs(a["left"] - b["left"]) <= 3 and abs(a["width"] - b["width"]) <= 6
        assert 0 <= a["conf"] <= 100


def test_whitelist_applies_to_one_call_only():
    img = _line("DE12 AB34")
    digits = tess_inproc.read_words(img, "deu", 7, whitelist="0123456789")
    assert all(c.isdigit() for c in _texts(digits).replace(" ", ""))
    # the next read on the same (reused) API sees letters again
    assert "AB" in _texts(tess_inproc.read_words(img, "deu", 7))


def test_each_thread_reads_with_its_own_api():
    img = _line("Mühlenstraße 12")
    out: dict[int, str] = {}

    def read(i):
        out[i] = _texts(tess_inproc.read_words(img, "deu", 7))

    threads = [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(out.values()) == {"Mühlenstraße 12"}


def test_a_failing_in_process_read_falls_back_to_the_cli_for_that_read(monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("odd crop")

    monkeypatch.setattr(tess_inproc, "_words_inproc", broken)
    monkeypatch.setattr(tess_inproc, "_failed", threading.Event())
    assert _texts(tess_inproc.read_words(_line("Kindergeld 2026"), "deu", 7)) == "Kindergeld 2026"
    assert not tess_inproc._failed.is_set()  # the next read tries in process again


def test_a_model_that_cannot_load_sends_every_read_to_the_cli(monkeypatch):
    def unloadable(lang):
        raise RuntimeError("Failed to init API, possibly an invalid tessdata path")

    monkeypatch.setattr(tess_inproc, "_api", unloadable)
    monkeypatch.setattr(tess_inproc, "_failed", threading.Event())
    assert _texts(tess_inproc.read_words(_line("Kindergeld 2026"), "deu", 7)) == "Kindergeld 2026"
    assert tess_inproc._failed.is_set()


@pytest.mark.parametrize("fill", [255, 0])
def test_a_blank_box_reads_as_no_words_and_keeps_the_in_process_path(monkeypatch, fill):
    """Tesseract's iterator raises "No text returned" where it recognised
    nothing (an empty value box, a black patch); that is an empty read, not a
    broken install: it once switched a whole worker to the slow CLI."""
    cli_calls = []
    cli = tess_inproc._words_cli
    monkeypatch.setattr(tess_inproc, "_words_cli", lambda *a: cli_calls.append(a) or cli(*a))
    monkeypatch.setattr(tess_inproc, "_failed", threading.Event())
    tess_inproc.available.cache_clear()
    blank = Image.new("L", (400, 60), fill)
    words = tess_inproc.read_words(blank, "deu", 6)
    assert [w for w in words if w["text"].strip()] == []
    assert cli_calls == [] and not tess_inproc._failed.is_set()
    assert _texts(tess_inproc.read_words(_line("Wohngeld 2026"), "deu", 7)) == "Wohngeld 2026"
    assert cli_calls == []


def test_in_process_off_reads_through_the_cli(monkeypatch):
    """``in_process=False`` (``FORMWERK_OCR_IN_PROCESS=false``, passed in by the
    worker: no settings read here) sends every read to the CLI."""
    def no_inproc(*a, **k):
        raise AssertionError("the in-process path was used")

    monkeypatch.setattr(tess_inproc, "_words_inproc", no_inproc)
    assert _texts(tess_inproc.read_words(_line("Kindergeld 2026"), "deu", 7, in_process=False)) == "Kindergeld 2026"
