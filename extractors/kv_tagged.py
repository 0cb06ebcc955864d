"""Optional run-time use of the layout tagger in the key-value pipeline.

The tagger artefact (``models/kv_tagger/``, built by
``python -m extractors.kv_tagger_train``) holds the tagger and the two tree
models stacked on its output (label model and segment-link model). They are
used together or not at all: the plain models in ``kv_pairing.json`` never see
tagger features, so without the artefact, the e5 encoder or torch, the
pipeline runs exactly as before.

``FORMWERK_KV_TAGGER`` names another artefact directory, or ``none`` to
switch the tagger off.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .kv_model import TreeEnsemble

log = logging.getLogger(__name__)


@dataclass
class TaggedHeads:
    """Tagger, encoder and the tree models trained on tagger features."""

    tagger: object  # kv_tagger.LayoutTagger
    encoder: object  # classifiers.encoder.E5Encoder
    label: TreeEnsemble
    seg_link: TreeEnsemble
    seg_link_threshold: float
    base_version: str

    def segment_features(self, boxes: np.ndarray, texts: list[str], h: float, word_ids: list[list[int]]) -> np.ndarray:
        """``kv_tagger.TAG_FEATURES`` of each segment (word-index lists) of one page."""
        from .kv_encoder import reading_order, word_vectors
        from .kv_tagger import page_input, segment_tag_features

        vec = word_vectors(self.encoder, texts, reading_order(boxes, h))
        inp = page_input(vec, boxes, texts, h)
        return segment_tag_features(word_ids, self.tagger.predict(inp), inp.edges)


def tagger_dir(model_path: Path) -> Path | None:
    spec = os.environ.get("FORMWERK_KV_TAGGER", "")
    if spec.lower() in ("none", "off"):
        return None
    return Path(spec) if spec else model_path.with_name("kv_tagger")


def load_tagged(directory: Path | None, base_version: str) -> TaggedHeads | None:
    """The tagged heads in ``directory``, or ``None`` when anything is missing
    or they were stacked on other base models than ``base_version``."""
    if directory is None or not (directory / "heads.json").exists():
        return None
    heads = json.loads((directory / "heads.json").read_text(encoding="utf-8"))
    if heads.get("base_version") != base_version:
        log.warning("kv_pairing: tagger at %s was trained with %s, not %s; not used", directory, heads.get("base_version"), base_version)
        return None
    try:
        from .kv_encoder import load_word_encoder
        from .kv_tagger import LayoutTagger

        encoder = load_word_encoder()
        if encoder is None:
            return None
        tagger = LayoutTagger.load(directory)
    except Exception as exc:  # no torch, a broken file: the plain pipeline still works
        log.warning("kv_pairing: tagger at %s not loaded (%s)", directory, exc)
        return None
    return TaggedHeads(
        tagger=tagger,
        encoder=encoder,
        label=TreeEnsemble.from_json(heads["label"]),
        seg_link=TreeEnsemble.from_json(heads["seg_link"]),
        seg_link_threshold=float(heads["seg_link_threshold"]),
        base_version=base_version,
    )
