"""Generic key-value pairing for pages of unknown type.

Public API::

    pair_key_values(words: list[formwerk.models.Word]) -> list[KeyValuePair]
    detect_pairs(pages: list[formwerk.models.PageContent]) -> list[formwerk.models.DetectedPair]

``detect_pairs`` is the product path: the ``extract_fields`` activity runs it
on the pages of a document of unknown type (no form template), and the clerk's
case screen and the REST API show its pairs. It scales each page to the
300 dpi of the training pages, stays within a time budget and returns at most
``MAX_PAIRS`` pairs.

Pipeline per page: words → segments (``kv_segment``) → label each segment
question/answer/header/other (``kv_labels`` + a learned model) → link each
answer to at most one question (``kv_features`` + a learned pair model); a
question may own several answers (e.g. a table column header).

Models are one small JSON artefact, ``models/kv_pairing.json`` unless the
caller loads another (:func:`load_models`; the worker passes
``settings.kv_model``, ``FORMWERK_KV_MODEL``), trained by
``python -m extractors.kv_train`` — the set-up script does so when the XFUND-de
data is present. XFUND is licensed for non-commercial research, so the
artefact stays on the machine and is never committed. When it is missing,
every step falls back to a rule (gap rule, colon rule, nearest question left
or above), so the API always works, only less accurately.

Boxes are ``[x0, y0, x1, y1]`` page pixels, top-left origin; confidences in
[0, 1].
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from formwerk.models import BBox, DetectedPair, PageContent, Word

from .kv_data import LABELS, Entity
from .kv_features import PAIR_FEATURES, pair_features
from .kv_labels import CHECKBOX_GLYPHS, label_features
from .kv_model import HashedTextModel, TreeEnsemble
from .kv_segment import Segment, median_height, segment_words

log = logging.getLogger(__name__)

EXTRACTOR_NAME = "kv_pairing"


class KeyValuePair(BaseModel):
    """A printed label (key) and the value filled in for it."""

    key: str
    value: str
    key_bbox: BBox
    value_bbox: BBox
    page: int = 1
    confidence: float = 0.0  # probability that the link is right (times label certainty)


@dataclass
class KVModels:
    """Learned parts; any of them may be ``None`` (the rule is used instead)."""

    link: TreeEnsemble | None = None
    link_threshold: float = 0.2
    h_merge: TreeEnsemble | None = None
    v_merge: TreeEnsemble | None = None
    text: HashedTextModel | None = None
    label: TreeEnsemble | None = None
    # links between *predicted* segments, with label probabilities as features
    seg_link: TreeEnsemble | None = None
    seg_link_threshold: float = 0.2
    version: str = "rules"

    def to_json(self) -> dict:
        def j(m):
            return m.to_json() if m is not None else None

        return {
            "version": self.version,
            "link_threshold": self.link_threshold,
            "link": j(self.link),
            "h_merge": j(self.h_merge),
            "v_merge": j(self.v_merge),
            "text": j(self.text),
            "label": j(self.label),
            "seg_link": j(self.seg_link),
            "seg_link_threshold": self.seg_link_threshold,
        }

    @classmethod
    def from_json(cls, d: dict) -> "KVModels":
        def t(key):
            return TreeEnsemble.from_json(d[key]) if d.get(key) else None

        return cls(
            link=t("link"),
            link_threshold=float(d.get("link_threshold", 0.2)),
            h_merge=t("h_merge"),
            v_merge=t("v_merge"),
            text=HashedTextModel.from_json(d["text"]) if d.get("text") else None,
            label=t("label"),
            seg_link=t("seg_link"),
            seg_link_threshold=float(d.get("seg_link_threshold", 0.2)),
            version=str(d.get("version", "")),
        )


#: where set-up writes the artefact (``settings.kv_model``'s default); settings
#: are read at the edges only (worker, CLI), which pass their path in
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "kv_pairing.json"


def default_model_path() -> Path:
    return DEFAULT_MODEL_PATH


@lru_cache(maxsize=4)
def load_models(path: str | None = None) -> KVModels:
    """Load the artefact at ``path`` (cached; default :data:`DEFAULT_MODEL_PATH`);
    without one, return rules-only models."""
    p = Path(path) if path else default_model_path()
    if not p.exists():
        log.warning("kv_pairing: no model at %s, falling back to rules", p)
        return KVModels()
    return KVModels.from_json(json.loads(p.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------
# Linking (task a: entities and labels known)
# --------------------------------------------------------------------------


def _boxes(ents: list[Entity]) -> np.ndarray:
    return np.array([e.box for e in ents], dtype=float).reshape(-1, 4)


def link_heuristic(questions: list[Entity], answers: list[Entity], h: float) -> list[tuple[int, int, float]]:
    """Baseline: each answer goes to the nearest question left of it on the same
    row; if there is none, to the nearest question above it (box distance).
    Returns ``(q_index, a_index, confidence)``."""
    out = []
    for ai, a in enumerate(answers):
        left: list[tuple[float, int]] = []
        above: list[tuple[float, int]] = []
        for qi, q in enumerate(questions):
            y_ov = min(a.box[3], q.box[3]) - max(a.box[1], q.box[1])
            dx = max(0.0, q.box[0] - a.box[2], a.box[0] - q.box[2])
            dy = max(0.0, q.box[1] - a.box[3], a.box[1] - q.box[3])
            d = float(np.hypot(dx, dy))
            if y_ov > 0.3 * min(a.box[3] - a.box[1], q.box[3] - q.box[1]) and q.box[2] <= a.box[0] + 0.4 * h:
                left.append((d, qi))
            elif (q.box[1] + q.box[3]) / 2 < a.box[1]:
                above.append((d, qi))
        if left or above:
            best_d, best = min(left) if left else min(above)
            # a crude confidence: decays with distance in word heights
            out.append((best, ai, float(np.exp(-best_d / max(h, 1.0) / 10))))
    return out


def link_model(
    questions: list[Entity],
    answers: list[Entity],
    others: list[Entity],
    h: float,
    model: TreeEnsemble,
    threshold: float,
) -> list[tuple[int, int, float]]:
    """Learned linking: score every (question, answer) pair, give each answer
    its best question if that score reaches ``threshold``."""
    if not questions or not answers:
        return []
    F = pair_features(
        _boxes(questions), [e.text for e in questions], _boxes(answers), [e.text for e in answers], _boxes(others), h
    )
    P = model.predict_proba(F.reshape(-1, F.shape[-1]))[:, 1].reshape(len(answers), len(questions))
    best = P.argmax(axis=1)
    return [(int(best[i]), i, float(P[i, best[i]])) for i in range(len(answers)) if P[i, best[i]] >= threshold]


def link_entities(entities: list[Entity], h: float, models: KVModels | None = None) -> list[tuple[int, int, float]]:
    """Links between labelled entities as ``(question_id, answer_id, confidence)``."""
    m = models if models is not None else load_models()
    qs = [e for e in entities if e.label == "question"]
    ans = [e for e in entities if e.label == "answer"]
    oth = [e for e in entities if e.label not in ("question", "answer")]
    if m.link is None:
        links = link_heuristic(qs, ans, h)
    else:
        links = link_model(qs, ans, oth, h, m.link, m.link_threshold)
    return [(qs[qi].id, ans[ai].id, c) for qi, ai, c in links]


# --------------------------------------------------------------------------
# From words (task b / production)
# --------------------------------------------------------------------------


def _rule_labels(segs: list[Segment], h: float) -> np.ndarray:
    """Without a model: colon-terminated text is a question, text right of or
    below a question is an answer, the rest is other."""
    n = len(segs)
    # rows in LABELS order (question, answer, header, other); fixed, modest certainties
    q_row, a_row, o_row = [0.7, 0.1, 0.05, 0.15], [0.15, 0.6, 0.05, 0.2], [0.15, 0.2, 0.05, 0.6]
    proba = np.zeros((n, len(LABELS)))
    is_q = [s.text.rstrip().endswith(":") for s in segs]
    for i, s in enumerate(segs):
        if is_q[i]:
            proba[i] = q_row
        elif any(
            is_q[j] and (segs[j].box[0] < s.box[0] or segs[j].box[3] <= s.box[1] + 0.3 * h) and
            np.hypot(max(0, s.box[0] - segs[j].box[2]), max(0, s.box[1] - segs[j].box[3])) < 8 * h
            for j in range(n)
        ):
            proba[i] = a_row
        else:
            proba[i] = o_row
    return proba


def label_segments(segs: list[Segment], h: float, models: KVModels) -> np.ndarray:
    """Probabilities (n, 4) over LABELS for each segment."""
    if not segs:
        return np.zeros((0, len(LABELS)))
    if models.text is None or models.label is None:
        return _rule_labels(segs, h)
    texts = [s.text for s in segs]
    tp = models.text.predict_proba(texts)
    X = label_features(np.array([s.box for s in segs]), texts, tp, h, models.link)
    # features are only ever appended: an older label model reads the first columns
    return models.label.predict_proba(X[:, : len(models.label.features)])


def entities_from_words(
    boxes: np.ndarray, texts: list[str], models: KVModels | None = None
) -> tuple[list[Entity], np.ndarray, float]:
    """Segment and label the words of one page. Returns entities (ids = index),
    their label probabilities (n, 4) and the page's median word height."""
    m = models if models is not None else load_models()
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    h = median_height(boxes)
    segs = segment_words(boxes, texts, m.h_merge, m.v_merge, text_model=m.text)
    ents, proba = entities_from_segments(segs, h, m)
    return ents, proba, h


def entities_from_segments(segs: list[Segment], h: float, models: KVModels) -> tuple[list[Entity], np.ndarray]:
    """Label segments: entities (ids = index, label = most probable) and their
    label probabilities (n, 4)."""
    proba = label_segments(segs, h, models)
    ents = [
        Entity(id=i, text=s.text, box=s.box, label=LABELS[int(np.argmax(proba[i]))], word_ids=s.word_ids)
        for i, s in enumerate(segs)
    ]
    return ents, proba


SEG_PAIR_FEATURES = PAIR_FEATURES + ["q_p_question", "q_p_answer", "q_p_other", "a_p_question", "a_p_answer", "a_p_other"]
# appended later: text-model probabilities and font of both sides
SEG_PAIR_TEXT_FEATURES = [
    "q_t_question",
    "q_t_answer",
    "q_t_other",
    "a_t_question",
    "a_t_answer",
    "a_t_other",
    "log_char_w_ratio",  # log(char width of value / char width of key)
    "height_ratio",  # value height / key height
    "q_words",
    "a_words",
    "a_check",  # value contains a checkbox glyph
]
SEG_PAIR_FEATURES = SEG_PAIR_FEATURES + SEG_PAIR_TEXT_FEATURES
# a segment is a key (value) candidate when p(question) (p(answer)) >= SEG_TAU;
# chosen on a page-grouped hold-out of the training split (0.05, 0.12, 0.25,
# 0.4 tried: lower lets uncertain segments compete for values, higher makes
# gold links unreachable)
SEG_TAU = 0.12


def segment_pair_features(
    ents: list[Entity], proba: np.ndarray, h: float, text_proba: np.ndarray | None = None
) -> tuple[list[int], list[int], np.ndarray]:
    """Candidate keys ``qi``, candidate values ``ai`` (indices into ``ents``) and
    features (len(ai), len(qi), len(SEG_PAIR_FEATURES)): the geometric pair
    features, the label probabilities of both sides and (when ``text_proba``,
    the text-model probabilities (n, 4), is given) text and font cues."""
    qi = [i for i in range(len(ents)) if proba[i, 0] >= SEG_TAU]
    ai = [i for i in range(len(ents)) if proba[i, 1] >= SEG_TAU]
    oi = [i for i in range(len(ents)) if proba[i, 0] < SEG_TAU and proba[i, 1] < SEG_TAU]
    qs, ans = [ents[i] for i in qi], [ents[i] for i in ai]
    same = np.array(ai)[:, None] == np.array(qi)[None, :] if qi and ai else None
    F = pair_features(
        _boxes(qs), [e.text for e in qs], _boxes(ans), [e.text for e in ans], _boxes([ents[i] for i in oi]), h, same
    )
    pq = proba[qi][None, :, :]  # (1, nq, 4)
    pa = proba[ai][:, None, :]  # (na, 1, 4)
    shape = (len(ai), len(qi))
    extra = [
        np.broadcast_to(pq[..., 0], shape),
        np.broadcast_to(pq[..., 1], shape),
        np.broadcast_to(pq[..., 2] + pq[..., 3], shape),
        np.broadcast_to(pa[..., 0], shape),
        np.broadcast_to(pa[..., 1], shape),
        np.broadcast_to(pa[..., 2] + pa[..., 3], shape),
    ]
    tp = text_proba if text_proba is not None else np.zeros((len(ents), len(LABELS)))
    b = _boxes(ents)
    hh = np.maximum(b[:, 3] - b[:, 1], 1.0)
    cw = np.maximum(b[:, 2] - b[:, 0], 1.0) / np.maximum([len(e.text) for e in ents], 1)
    nw = np.array([len(e.text.split()) for e in ents], dtype=float)
    check = np.array([any(c in CHECKBOX_GLYPHS for c in e.text) for e in ents], dtype=float)
    qa, aa = np.array(qi, dtype=int), np.array(ai, dtype=int)
    extra += [
        np.broadcast_to(tp[qa, 0][None, :], shape),
        np.broadcast_to(tp[qa, 1][None, :], shape),
        np.broadcast_to(tp[qa, 3][None, :], shape),
        np.broadcast_to(tp[aa, 0][:, None], shape),
        np.broadcast_to(tp[aa, 1][:, None], shape),
        np.broadcast_to(tp[aa, 3][:, None], shape),
        np.log(cw[aa][:, None] / cw[qa][None, :]),
        hh[aa][:, None] / hh[qa][None, :],
        np.broadcast_to(nw[qa][None, :], shape),
        np.broadcast_to(nw[aa][:, None], shape),
        np.broadcast_to(check[aa][:, None], shape),
    ]
    F = np.concatenate([F, np.stack(extra, axis=-1).astype(np.float32)], axis=-1)
    return qi, ai, F


def link_segments(
    ents: list[Entity], proba: np.ndarray, h: float, models: KVModels
) -> list[tuple[int, int, float]]:
    """Links between predicted segments. With a ``seg_link`` model, every
    plausible (key, value) pair is scored with label uncertainty taken into
    account; each value gets its best key above the threshold, and a segment
    keeps one role: links are accepted by falling score and one that would make
    a segment both key and value is dropped. Without ``seg_link``, the hard
    labels are linked by :func:`link_entities`.

    (The score was once the larger of this model and the entity linker times
    both label probabilities; on a page-grouped hold-out of the training split
    the segment model alone is better once it sees text cues.)"""
    if models.seg_link is None:
        return link_entities(ents, h, models)
    tp = models.text.predict_proba([e.text for e in ents]) if models.text is not None and ents else None
    qi, ai, F = segment_pair_features(ents, proba, h, tp)
    if not qi or not ai:
        return []
    n_feat = len(models.seg_link.features)  # features are only ever appended
    P = models.seg_link.predict_proba(F[..., :n_feat].reshape(-1, n_feat))[:, 1].reshape(len(ai), len(qi))
    P[np.array(ai)[:, None] == np.array(qi)[None, :]] = 0.0  # a segment is not its own key
    cand = []
    for r, a in enumerate(ai):
        j = int(P[r].argmax())
        if P[r, j] >= models.seg_link_threshold:
            cand.append((float(P[r, j]), qi[j], a))
    cand.sort(key=lambda c: -c[0])
    role: dict[int, str] = {}
    out = []
    for p, q, a in cand:
        if role.get(q, "key") != "key" or role.get(a, "value") != "value":
            continue
        role[q], role[a] = "key", "value"
        out.append((ents[q].id, ents[a].id, p))
    return out


def pair_key_values(words: list[Word], models: KVModels | None = None) -> list[KeyValuePair]:
    """Find key-value pairs among the words of one or more pages.

    Words are grouped by ``Word.page``; pairs never cross pages. The
    confidence is the link probability times the label probabilities of key
    and value. Pairs are returned per page in reading order of the value.
    """
    m = models if models is not None else load_models()
    out: list[KeyValuePair] = []
    pages = sorted({w.page for w in words})
    for page in pages:
        ws = [w for w in words if w.page == page and w.text.strip()]
        if not ws:
            continue
        ents, proba, h = entities_from_words(np.array([w.bbox for w in ws]), [w.text for w in ws], m)
        pairs = []
        for qid, aid, c in link_segments(ents, proba, h, m):
            q, a = ents[qid], ents[aid]
            # the segment model already weighs label uncertainty; the rules do not
            conf = c if m.seg_link is not None else c * proba[qid, 0] * proba[aid, 1]
            pairs.append(
                KeyValuePair(
                    key=q.text,
                    value=a.text,
                    key_bbox=list(q.box),
                    value_bbox=list(a.box),
                    page=page,
                    confidence=float(min(max(conf, 0.0), 1.0)),
                )
            )
        pairs.sort(key=lambda p: (p.value_bbox[1], p.value_bbox[0]))
        out.extend(pairs)
    return out


# --------------------------------------------------------------------------
# Product path: pages of a document of unknown type
# --------------------------------------------------------------------------

#: the models are trained on XFUND-de, A4 scans with word boxes in pixels at 300 dpi
TRAIN_DPI = 300
#: at most this many pairs per document (the best by score, kept in page/reading order)
MAX_PAIRS = 100
#: a page with more words is running text, not a form: not paired (and the
#: pair matrices grow with the square of the segments)
MAX_WORDS_PER_PAGE = 1500
#: pages are paired one after another until this many seconds have passed
#: (XFUND-de: about 0.4 s per page on 2 cores; ``extract_fields`` has 2 minutes)
PAIRING_BUDGET_S = 20.0
#: longer texts are cut (a question or an answer is a few words, not a paragraph)
MAX_TEXT = 300


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def detect_pairs(
    pages: list[PageContent],
    models: KVModels | None = None,
    *,
    limit: int = MAX_PAIRS,
    budget_s: float = PAIRING_BUDGET_S,
    max_words: int = MAX_WORDS_PER_PAGE,
) -> list[DetectedPair]:
    """Question → answer pairs on the pages (text-layer or OCR words).

    Word boxes are in pixels at each page's ``dpi``; they are scaled to
    ``TRAIN_DPI`` for the models and the pairs' boxes scaled back, so a 200 dpi
    TIFF and a 300 dpi rendering give the same pairs. Pages are paired in order
    while the time budget lasts (the first always); with more than ``limit`` pairs the best-scored
    are kept, in page and reading order. Without a trained artefact the rules
    pair (see :func:`load_models`).
    """
    m = models if models is not None else load_models()
    start = time.perf_counter()
    found: list[DetectedPair] = []
    for i, pc in enumerate(pages):
        if i and time.perf_counter() - start > budget_s:  # the first page is always paired
            log.debug("kv_pairing: time budget used, %d page(s) not paired", len(pages) - i)
            break
        words = [w for w in pc.words if w.text.strip()]
        if len(words) < 2 or len(words) > max_words:
            continue
        scale = TRAIN_DPI / pc.dpi if pc.dpi and pc.dpi > 0 else 1.0
        scaled = [Word(text=w.text, bbox=[v * scale for v in w.bbox], confidence=w.confidence, page=pc.page)
                  for w in words]
        for p in pair_key_values(scaled, m):
            found.append(DetectedPair(
                question=_clip(p.key), answer=_clip(p.value), page=pc.page,
                question_bbox=[round(v / scale, 1) for v in p.key_bbox],
                answer_bbox=[round(v / scale, 1) for v in p.value_bbox],
                score=round(p.confidence, 4)))
    if len(found) > limit:
        best = sorted(range(len(found)), key=lambda i: -found[i].score)[:limit]
        found = [found[i] for i in sorted(best)]
    return found
