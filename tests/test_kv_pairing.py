"""Key-value pairing: hand-made layouts (always) and XFUND-de val (when present)."""

from __future__ import annotations

import numpy as np
import pytest

from extractors.kv_data import Entity, xfund_dir
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

XFUND_VAL = xfund_dir() / "de.val.json"
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
    m = load_models()
    segs = segment_words(boxes, [w.text for w in ws], m.h_merge, m.v_merge, text_model=m.text)
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
    from extractors.kv_pairing import default_model_path

    path = default_model_path()
    if not path.exists():
        pytest.skip("no kv_pairing model artefact (rules are used)")
    assert path.stat().st_size < 1_000_000  # one small JSON, cheap to load in every worker
    m = load_models(str(path))
    assert m.link is not None and m.seg_link is not None and m.text is not None
    assert 0.0 < m.link_threshold < 1.0 and 0.0 < m.seg_link_threshold < 1.0


# ---------------------------------------------------------------- new pieces


def _line_boxes(ws: list[Word]) -> tuple[np.ndarray, list[str]]:
    return np.array([w.bbox for w in ws], dtype=float), [w.text for w in ws]


@pytest.mark.parametrize("n_lines", [0, 1, 3])
def test_label_features_shape_and_relational_fallback(n_lines: int) -> None:
    from extractors.kv_labels import LABEL_FEATURES, REL_FEATURES, label_features

    ws: list[Word] = []
    for k in range(n_lines):
        ws += words_of(f"Feld{k}: Wert{k}", 200, 100 + 80 * k)
    boxes, texts = _line_boxes(ws)
    tp = np.full((len(texts), 4), 0.25)
    X = label_features(boxes.reshape(-1, 4), texts, tp, H)
    assert X.shape == (len(texts), len(LABEL_FEATURES))
    assert np.isfinite(X).all()
    # without a link model the relational block is zero
    assert not X[:, -len(REL_FEATURES):].any()
    learned = load_models()
    if learned.link is not None and len(texts) >= 2:
        Xr = label_features(boxes, texts, tp, H, learned.link)
        assert Xr[:, -len(REL_FEATURES):].any()
        np.testing.assert_array_equal(Xr[:, : -len(REL_FEATURES)], X[:, : -len(REL_FEATURES)])


def test_h_edge_text_features_and_older_models() -> None:
    from extractors.kv_segment import H_EDGE_FEATURES, H_EDGE_TEXT_FEATURES, h_edge_features, horizontal_edges

    ws = words_of("Land Angola", 200, 100)
    boxes, texts = _line_boxes(ws)
    edges = horizontal_edges(boxes, H)
    assert edges == [(0, 1)]
    wp = np.array([[0.9, 0.05, 0.0, 0.05], [0.1, 0.8, 0.0, 0.1]])
    X = h_edge_features(boxes, texts, edges, H, wp)
    assert X.shape == (1, len(H_EDGE_FEATURES))
    np.testing.assert_allclose(X[0, -len(H_EDGE_TEXT_FEATURES):], np.concatenate([wp[0], wp[1]]), atol=1e-6)
    assert not h_edge_features(boxes, texts, edges, H)[0, -len(H_EDGE_TEXT_FEATURES):].any()

    class OldModel:  # trained before the text features existed: reads the first columns only
        features = H_EDGE_FEATURES[: -len(H_EDGE_TEXT_FEATURES)]

        def predict_proba(self, X):
            assert X.shape[1] == len(self.features)
            return np.tile([0.0, 1.0], (len(X), 1))

    segs = segment_words(boxes, texts, OldModel(), None)
    assert [s.text for s in segs] == ["Land Angola"]


def test_segment_links_give_each_segment_one_role() -> None:
    from extractors.kv_pairing import entities_from_words, link_segments

    models = load_models()
    if models.seg_link is None:
        pytest.skip("no trained kv_pairing model artefact")
    boxes, texts = _line_boxes(form_layout())
    ents, proba, h = entities_from_words(boxes, texts, models)
    links = link_segments(ents, proba, h, models)
    keys = {q for q, _, _ in links}
    values = [a for _, a, _ in links]
    assert len(values) == len(set(values))
    assert not keys & set(values)
    assert all(0.0 <= c <= 1.0 for _, _, c in links)


def test_segment_pair_features_without_candidates() -> None:
    from extractors.kv_pairing import SEG_PAIR_FEATURES, segment_pair_features

    ents = [ent(0, "Titel", [100, 100, 300, 140], "other")]
    proba = np.array([[0.0, 0.0, 0.0, 1.0]])
    qi, ai, F = segment_pair_features(ents, proba, H, np.array([[0.1, 0.1, 0.1, 0.7]]))
    assert qi == [] and ai == [] and F.shape == (0, 0, len(SEG_PAIR_FEATURES))


def _page_from_layout() -> "FormPage":
    """``form_layout`` as an annotated page: each label and each value is one entity."""
    from extractors.kv_data import FormPage, Token, union_box

    groups = [
        ("Antrag auf Wohngeld", "header"),
        ("Familienname:", "question"), ("Müller", "answer"),
        ("Vorname:", "question"), ("Anna", "answer"),
        ("Geburtsdatum:", "question"), ("12.03.1985", "answer"),
        ("Straße, Hausnummer:", "question"), ("Hauptstraße 5", "answer"),
        ("PLZ, Ort:", "question"), ("12345 Berlin", "answer"),
    ]
    ws = form_layout()
    words, ents, k = [], [], 0
    for i, (text, label) in enumerate(groups):
        n = len(text.split())
        ids = list(range(k, k + n))
        words += [Token(w.text, list(w.bbox)) for w in ws[k : k + n]]
        ents.append(Entity(id=i, text=text, box=union_box([words[j].box for j in ids]), label=label, word_ids=ids))
        k += n
    links = {(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)}
    return FormPage(uid="layout", width=2480, height=3508, words=words, entities=ents, links=links)


@pytest.mark.parametrize("name,models", _models_under_test())
def test_task_b_with_gold_segments_and_labels_is_task_a(name: str, models: KVModels) -> None:
    """The oracle rows of the XFUND benchmark: with both steps replaced by the
    gold annotation, task (b) must score exactly what task (a) scores; label
    accuracy is measured on the model's labels, before the gold ones replace them."""
    from bench.xfund import eval_task_a, eval_task_b

    pages = [_page_from_layout()]
    a = eval_task_a(pages, models)
    both = eval_task_b(pages, models, oracle_segments=True, oracle_labels=True)
    assert (both["tp"], both["pred"], both["gold"]) == (a["tp"], a["pred"], a["gold"])
    assert both["entity_recall"] == 1.0
    model = eval_task_b(pages, models)
    gold_labels = eval_task_b(pages, models, oracle_labels=True)
    assert gold_labels["label_accuracy_matched"] == model["label_accuracy_matched"]
    assert a["tp"] == 5, a
