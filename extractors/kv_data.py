"""Plain data structures for key-value pairing, and a reader for XFUND files.

Conventions (same as ``formwerk.models``): boxes are ``[x0, y0, x1, y1]`` in
page pixels, top-left origin, y growing downwards.

An :class:`Entity` is a group of words with one label
(``question`` = a key / label printed on the form, ``answer`` = a filled-in
value, ``header`` or ``other``). A link is a ``(question_id, answer_id)`` pair.
These structures carry no behaviour; the pairing and segmentation logic lives
in ``kv_features``, ``kv_segment`` and ``kv_pairing``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

LABELS = ("question", "answer", "header", "other")

#: where XFUND-de lives: ``../shared/data/xfund_de`` beside the checkout (as the
#: README says); the entry points (``extractors.kv_train``, ``bench.xfund``)
#: take ``FORMWERK_XFUND_DIR`` instead when it is set
DEFAULT_XFUND_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xfund_de"
#: the variable the entry points read (here only named: nothing below them reads it)
XFUND_DIR_ENV = "FORMWERK_XFUND_DIR"


def xfund_dir(given: str | Path | None = None) -> Path:
    """The XFUND-de directory (``de.train.json``, ``de.val.json``): ``given``, else :data:`DEFAULT_XFUND_DIR`."""
    return Path(given) if given else DEFAULT_XFUND_DIR


@dataclass
class Token:
    """One word: text and box in page pixels."""

    text: str
    box: list[float]


@dataclass
class Entity:
    """A labelled group of words. ``word_ids`` index into ``FormPage.words``."""

    id: int
    text: str
    box: list[float]
    label: str = "other"
    word_ids: list[int] = field(default_factory=list)


@dataclass
class FormPage:
    """One annotated page: all words, the gold entities and question→answer links."""

    uid: str
    width: int
    height: int
    words: list[Token]
    entities: list[Entity]
    links: set[tuple[int, int]]  # (question entity id, answer entity id)


def union_box(boxes: list[list[float]]) -> list[float]:
    """Smallest box enclosing all ``boxes`` (pixels)."""
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def load_xfund(path: str | Path) -> list[FormPage]:
    """Read an XFUND ``*.json`` split.

    Links are normalised to ``(question, answer)``: XFUND stores each link on
    both entities and sometimes in answer→question order; only links between a
    question and an answer are kept, as in the published relation-extraction
    evaluation. Entities without words are dropped (they cannot be found from
    words). Word order is the annotation order; callers that must not profit
    from it (segmentation) shuffle or sort by geometry themselves.
    """
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    pages: list[FormPage] = []
    for doc in raw["documents"]:
        words: list[Token] = []
        entities: list[Entity] = []
        by_id: dict[int, Entity] = {}
        raw_links: set[tuple[int, int]] = set()
        for e in doc["document"]:
            ws = [w for w in e.get("words", []) if w.get("text", "").strip()]
            for a, b in e.get("linking", []):
                raw_links.add((a, b))
            if not ws:
                continue
            ids = list(range(len(words), len(words) + len(ws)))
            words.extend(Token(w["text"], [float(v) for v in w["box"]]) for w in ws)
            ent = Entity(
                id=int(e["id"]),
                text=" ".join(w["text"] for w in ws),
                box=union_box([[float(v) for v in w["box"]] for w in ws]),
                label=e["label"],
                word_ids=ids,
            )
            entities.append(ent)
            by_id[ent.id] = ent
        links: set[tuple[int, int]] = set()
        for a, b in raw_links:
            ea, eb = by_id.get(a), by_id.get(b)
            if ea is None or eb is None:
                continue
            if ea.label == "question" and eb.label == "answer":
                links.add((a, b))
            elif ea.label == "answer" and eb.label == "question":
                links.add((b, a))
        img = doc.get("img", {})
        pages.append(
            FormPage(
                uid=str(doc.get("id", doc.get("uid", ""))),
                width=int(img.get("width", 0)),
                height=int(img.get("height", 0)),
                words=words,
                entities=entities,
                links=links,
            )
        )
    return pages


def match_entities(pred_words: list[list[int]], gold_words: list[list[int]], min_iou: float = 0.5) -> list[int]:
    """For each predicted entity the index of the matching gold entity, or -1.

    Entities are word-index lists. A predicted entity matches the gold entity
    with which its word set has the highest IoU, if that IoU is >= ``min_iou``.
    """
    owner: dict[int, int] = {}
    for gi, ws in enumerate(gold_words):
        for w in ws:
            owner[w] = gi
    out = []
    for ws in pred_words:
        best, best_iou = -1, 0.0
        for gi in {owner[w] for w in ws if w in owner}:
            g = set(gold_words[gi])
            inter = len(g & set(ws))
            iou = inter / len(g | set(ws))
            if iou > best_iou:
                best, best_iou = gi, iou
        out.append(best if best_iou >= min_iou else -1)
    return out
