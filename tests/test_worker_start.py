"""A worker polls at once; the classifier loads in the background (worker.ReloadingClassifier)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

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


def test_the_build_id_names_formwerks_code_without_hashing_every_loaded_module(tmp_path, monkeypatch):
    """The SDK's default build id hashes every loaded module's code (seconds of CPU per start with
    no bytecode cache); ours hashes Formwerk's packages and changes when one of their files does."""
    import shutil

    built = []
    monkeypatch.setattr(worker, "Worker", lambda client, **kw: built.append(kw))
    worker.make_workers(object(), SimpleNamespace(all=lambda: [], classify_document=None, extract_fields=None,
                                                  ocr_page=None), "q", "q-ocr", 1)
    first = worker.code_build_id()
    assert len(built) == 3 and all(kw["build_id"] == first for kw in built)
    assert first.startswith("formwerk-") and first == worker.code_build_id()

    # a copy of the tree with one workflow file changed has another id
    root = tmp_path / "tree"
    for package in worker.CODE_PACKAGES:
        shutil.copytree(worker.Path(worker.__file__).parent / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(worker.__file__, root / "worker.py")
    monkeypatch.setattr(worker, "__file__", str(root / "worker.py"))
    worker.code_build_id.cache_clear()
    try:
        assert worker.code_build_id() == first
        (root / "workflows" / "case_workflow.py").write_text(
            (root / "workflows" / "case_workflow.py").read_text() + "\n# changed\n")
        worker.code_build_id.cache_clear()
        assert worker.code_build_id() != first
    finally:
        worker.code_build_id.cache_clear()
