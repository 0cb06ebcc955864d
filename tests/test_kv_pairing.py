"""Key-value pairing: hand-made layouts (always) and XFUND-de val (when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from extractors.kv_data import Entity
from extractors.kv_model import TreeEnsemble
from extractors.kv_pairing import (
    KVModels,
    link_entities,
    link_heuristic,
    load_models,
    pair_key_values,
)
from extractors.kv_segment import segment_words
from formwerk.models import Word

XFUND_VAL = Path("/work/shared/data/xfund_de/de.val.json")
H = 40.0  # word height in pixels (~10 pt at 300 dpi)


def words_of(line: str, x0: float, y0: float, page: int = 1) -> list[Word]:
    """Words of a text line starting at (x0, y0), 22 px per character, 15 px gaps."""
    out, x = [], x0
    for t in line.split():
        w = 22.0 * len(t)
        out.append(Word(text=t, bbox=[x, y0, x + w, y0 + H], page=page))
        x += w + 15
    return out


def form_layout() -> list[Word]:
    """A small form: labels with values to the right and labels with values below."""
    ws: list[Word] = []
    ws += words_of("Antrag auf Wohngeld", 200, 100)
    ws += words_of("Familienname:", 200, 300) + words_of("Müller", 700, 300)
    ws += words_of("Vorname:", 200, 400) + words_of("Anna", 700, 400)
    ws += words_of("Geburtsdatum:", 200, 500) + words_of("12.03.1985", 700, 500)
    ws += words_of("Straße, Hausnummer:", 200, 650)
    ws += words_of("Hauptstraße 5", 200, 720)
    ws += words_of("PLZ, Ort:", 1300, 650)
    ws += words_of("12345 Berlin", 1300, 720)
    return ws


def ent(i: int, text: str, box: list[float], label: str) -> Entity:
    return Entity(id=i, text=text, box=box, label=label)


def gold_entities() -> list[Entity]:
    return [
        ent(0, "Name:", [100, 100, 300, 140], "question"),
        ent(1, "Müller", [400, 100, 600, 140], "answer"),
        ent(2, "Anschrift", [100, 300, 350, 340], "question"),
        ent(3, "Hauptstraße 5", [100, 370, 500, 410], "answer"),
        ent(4, "Telefon:", [1200, 100, 1400, 140], "question"),
        ent(5, "0301234567", [1500, 100, 1800, 140], "answer"),
    ]


EXPECTED = {(0, 1), (2, 3), (4, 5)}


def _models_under_test() -> list[tuple[str, KVModels]]:
    out = [("rules", KVModels())]
    learned = load_models()
    if learned.link is not None:
        out.append(("learned", learned))
    return out


@pytest.mark.parametrize("name,models", _models_under_test())
def test_links_value_right_and_below(name: str, models: KVModels) -> None:
    links = {(q, a) for q, a, _ in link_entities(gold_entities(), H, models)}
    assert links == EXPECTED, name


def test_heuristic_ignores_questions_below_or_right() -> None:
    qs = [ent(0, "Unten:", [100, 500, 300, 540], "question"), ent(1, "Rechts:", [900, 100, 1100, 140], "question")]
    ans = [ent(2, "Wert", [400, 100, 600, 140], "answer")]
    assert link_heuristic(qs, ans, H) == []


def test_tree_ensemble_matches_sklearn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(np.float32)  # features are float32
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    sk = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=7).fit(X, y)
    te = TreeEnsemble.from_json(TreeEnsemble.from_sklearn(sk, ["a", "b", "c"]).to_json())
    np.testing.assert_allclose(te.predict_proba(X)[:, 1], sk.predict_proba(X)[:, 1], atol=1e-4)


def test_segmentation_splits_label_from_value() -> None:
    ws = words_of("Familienname:", 200, 300) + words_of("Müller", 700, 300) + words_of("Straße, Hausnummer:", 200, 650)
    boxes = np.array([w.bbox for w in ws])
    segs = segment_words(boxes, [w.text for w in ws], load_models().h_merge, load_models().v_merge)
    assert sorted(s.text for s in segs) == ["Familienname:", "Müller", "Straße, Hausnummer:"]


@pytest.mark.parametrize("name,models", _models_under_test())
def test_pair_key_values_on_form(name: str, models: KVModels) -> None:
    pairs = pair_key_values(form_layout(), models)
    got = {(p.key, p.value) for p in pairs}
    # value right of its label, and value below its label
    assert ("Familienname:", "Müller") in got, (name, got)
    assert ("Geburtsdatum:", "12.03.1985") in got, (name, got)
    assert ("Straße, Hausnummer:", "Hauptstraße 5") in got, (name, got)
    assert ("PLZ, Ort:", "12345 Berlin") in got, (name, got)
    assert all(0.0 <= p.confidence <= 1.0 and p.page == 1 for p in pairs)
    # no value is given to two keys
    values = [p.value for p in pairs]
    assert len(values) == len(set(values))


def test_pairs_never_cross_pages() -> None:
    ws = words_of("Familienname:", 200, 300, page=1) + words_of("Müller", 700, 300, page=2)
    assert pair_key_values(ws) == []


def test_empty_input() -> None:
    assert pair_key_values([]) == []


@pytest.mark.skipif(not XFUND_VAL.exists(), reason="XFUND-de data not available")
def test_xfund_val_task_a_f1() -> None:
    from bench.xfund import eval_task_a
    from extractors.kv_data import load_xfund

    models = load_models()
    if models.link is None:
        pytest.skip("no trained kv_pairing model artefact")
    r = eval_task_a(load_xfund(XFUND_VAL), models)
    assert r["f1"] >= 0.9, r


def test_model_artefact_is_small_and_loads() -> None:
    from extractors.kv_pairing import MODEL_DIR, MODEL_FILE

    path = MODEL_DIR / MODEL_FILE
    if not path.exists():
        pytest.skip("no kv_pairing model artefact (rules are used)")
    assert path.stat().st_size < 1_000_000  # committed artefact must stay small
    m = load_models(str(path))
    assert m.link is not None and m.seg_link is not None and m.text is not None
    assert 0.0 < m.link_threshold < 1.0 and 0.0 < m.seg_link_threshold < 1.0
