"""A worker polls at once; the classifier loads in the background (worker.ReloadingClassifier)."""

from __future__ import annotations

import threading
import time

import pytest

import worker
from formwerk.settings import Settings


class SlowModel:
    version = "v-test"

    def classify(self, content):
        return f"classified {content}"


def _reloading(tmp_path, monkeypatch, factory):
    """The real constructor, with the model factory replaced by one held at a gate."""
    import classifiers

    settings = Settings(data_dir=tmp_path, classifier_dir=str(tmp_path / "models"))
    gate = threading.Event()

    def slow(*args, **kwargs):
        gate.wait(10)
        return factory()

    monkeypatch.setattr(classifiers.DocumentClassifier, "from_catalogue", staticmethod(slow))
    t0 = time.monotonic()
    r = worker.ReloadingClassifier(None, settings)
    return r, gate, time.monotonic() - t0


def test_construction_does_not_wait_for_the_model_and_classify_does(tmp_path, monkeypatch):
    r, gate, built_s = _reloading(tmp_path, monkeypatch, SlowModel)
    assert built_s < 5  # the gate holds the load for up to 10 s: construction did not wait for it
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(r.classify("doc")))
    t.start()
    t.join(0.3)
    assert t.is_alive() and out == []  # classification waits for the model
    gate.set()
    t.join(10)
    assert out == ["classified doc"] and r.version == "v-test"


def test_a_model_that_cannot_load_fails_every_classification(tmp_path, monkeypatch):
    def broken():
        raise RuntimeError("artefact unreadable")

    r, gate, _ = _reloading(tmp_path, monkeypatch, broken)
    gate.set()
    with pytest.raises(RuntimeError, match="artefact unreadable"):
        r.classify("doc")
