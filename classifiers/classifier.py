"""``DocumentClassifier``: which document type is this, with a calibrated probability.

Built once per worker (:meth:`DocumentClassifier.from_catalogue` loads the
encoder and the newest trained artefact); ``classify`` is then cheap (one
encoder pass over at most ~512 tokens per page, plus fuzzy identifier search)
and thread-safe.

Modes, visible in ``Classification.model_version``:

* ``clf-<ts>-<hash>+<encoder>`` — trained artefact, transformer encoder;
* ``clf-<ts>-<hash>+tfidf-fallback`` — trained artefact, no encoder available;
* ``zeroshot+<encoder>`` / ``zeroshot+tfidf-fallback`` — no artefact yet:
  identifiers + similarity to the catalogue prototypes only.

A form added to the catalogue after training is still a class: it is scored
by its identifiers and prototype with the fusion's ``new class`` parameters,
which were calibrated on leave-one-class-out runs (see ``classifiers.fusion``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from classifiers.baseline_tfidf import TfidfEncoder
from classifiers.classes import UNKNOWN, ClassDef, class_defs
from classifiers.encoder import load_encoder
from classifiers.engine import CachedEncoder, Engine, LruEncoder, encode_units
from classifiers.fusion import FusionParams
from classifiers.settled import IDENTIFIER_CONFIDENCE, enabled as by_identifiers_enabled, settled_type
from classifiers.splitting import PageRange, segment_pages
from classifiers.text import is_blank
from classifiers.training import DEFAULT_MODEL_ROOT, PAGE_SEP, latest_version_dir, load_engine
from formwerk.models import Classification, DocumentContent, PageContent

log = logging.getLogger(__name__)

#: Fusion parameters without a trained artefact (only identifiers and
#: prototype similarity count). Fitted on the benchmark corpus with the heads
#: switched off (``python -m classifiers.evaluate``); per backend because the
#: similarity scales differ (e5 cosines sit in 0.7–0.9, TF-IDF in 0–0.5).
ZERO_SHOT = {
    "e5": FusionParams(w_h=0.0, v_i=7.4, v_s=4.3, b_n=-9.23, w_o=-3.74),
    "tfidf": FusionParams(w_h=0.0, v_i=5.42, v_s=13.67, b_n=-10.88, w_o=-4.4),
}
BLANK_CONFIDENCE = 0.99
#: A filled AcroForm carrying at least this share of a form's own PDF field
#: names (and no other form's) is that form's PDF: the type is then certain.
ACROFORM_MATCH = 0.8
ACROFORM_CONFIDENCE = 0.999


class DocumentClassifier:
    """Classifies documents (and splits batches) into catalogue types, invoice or unknown."""

    def __init__(self, engine: Engine, version: str):
        if engine.kind == "e5" and not isinstance(engine.encoder, (LruEncoder, CachedEncoder)):
            engine.encoder = LruEncoder(engine.encoder)
        self.engine = engine
        self.version = version
        # printed forms whose identifiers settle the type skip the encoder (classifiers.settled)
        self.by_identifiers = by_identifiers_enabled()

    # ------------------------------------------------------------ building

    @classmethod
    def from_catalogue(cls, catalogue, model_dir: Path | None = None, encoder: str | None = None) -> "DocumentClassifier":
        """Load the encoder (``encoder`` or ``FORMWERK_ENCODER``) and the newest artefact.

        ``model_dir`` is an artefact root or one version dir (default
        ``FORMWERK_CLASSIFIER_DIR`` or ``models/classifier``). Missing pieces
        degrade, never fail: no encoder → TF-IDF fallback; no artefact →
        zero-shot from the catalogue.
        """
        classes = class_defs(catalogue)
        enc = load_encoder(encoder)
        root = Path(model_dir or os.environ.get("FORMWERK_CLASSIFIER_DIR") or DEFAULT_MODEL_ROOT)
        vdir = latest_version_dir(root)
        if vdir is not None:
            try:
                engine, version = load_engine(vdir, classes, enc)
                return cls(engine, version)
            except Exception as exc:  # a broken artefact must not stop intake
                log.warning("classifier artefact %s unusable (%s); using zero-shot", vdir, exc)
        return cls.zero_shot(classes, enc)

    @classmethod
    def zero_shot(cls, classes: list[ClassDef], enc=None) -> "DocumentClassifier":
        """Identifiers + prototype similarity only (no training data at all)."""
        if enc is not None:
            return cls(Engine("e5", enc, classes, ZERO_SHOT["e5"]), f"zeroshot+{enc.name}")
        tf = TfidfEncoder().fit([c.prototype or c.title for c in classes])
        return cls(Engine("tfidf", tf, classes, ZERO_SHOT["tfidf"]), "zeroshot+tfidf-fallback")

    # ------------------------------------------------------------ classifying

    def classify(self, content: DocumentContent) -> Classification:
        by_fields = self._by_acroform(content)
        if by_fields is not None:
            return by_fields
        texts = [p.text for p in sorted(content.pages, key=lambda p: p.page)]
        return self._by_identifiers(texts) or self.classify_pages(texts)

    def _by_acroform(self, content: DocumentContent) -> Classification | None:
        """The form whose own PDF fields the document carries, if exactly one matches."""
        names = {a.name for a in content.acroform}
        if not names:
            return None
        hits = [(c, len(c.acroform_names & names)) for c in self.engine.classes
                if len(c.acroform_names) >= 5 and len(c.acroform_names & names) >= ACROFORM_MATCH * len(c.acroform_names)]
        if len(hits) != 1:
            return None
        cdef, found = hits[0]
        rest = (1 - ACROFORM_CONFIDENCE) / max(1, len(self.engine.labels) - 1)
        return Classification(
            document_type=cdef.id, confidence=ACROFORM_CONFIDENCE,
            scores={lab: (ACROFORM_CONFIDENCE if lab == cdef.id else rest) for lab in self.engine.labels},
            reasons=[f"PDF-Formularfelder von '{cdef.title}' erkannt ({found} von {len(cdef.acroform_names)})."],
            model_version=self.version, by_form_fields=True,
        )

    def _by_identifiers(self, pages: list[str]) -> Classification | None:
        """The form its printed identifiers prove, without the encoder (see classifiers.settled)."""
        found = settled_type(self.engine.matcher, pages) if self.by_identifiers else None
        if found is None:
            return None
        titles = {c.id: c.title for c in self.engine.classes}
        rest = (1 - IDENTIFIER_CONFIDENCE) / max(1, len(self.engine.labels) - 1)
        return Classification(
            document_type=found.class_id, confidence=IDENTIFIER_CONFIDENCE,
            scores={lab: (IDENTIFIER_CONFIDENCE if lab == found.class_id else rest) for lab in self.engine.labels},
            reasons=[*found.reasons,
                     f"Jede Seite trägt nur Kennungen von '{titles[found.class_id]}'; Textmodell nicht nötig."],
            model_version=self.version,
        )

    def classify_text(self, text: str) -> Classification:
        """Classify plain text; pages may be separated by form feeds (``\\f``)."""
        return self.classify_pages(text.split(PAGE_SEP))

    def classify_pages(self, pages: list[str]) -> Classification:
        return self.classify_many([pages])[0]

    def classify_many(self, docs: list[list[str]]) -> list[Classification]:
        """Batch version (one encoder pass for all pages of all documents)."""
        out: list[Classification | None] = [None] * len(docs)
        live = [i for i, d in enumerate(docs) if d and not all(is_blank(p) for p in d)]
        for i in set(range(len(docs))) - set(live):
            out[i] = self._blank()
        if live:
            units = [docs[i] for i in live]
            U, _, _, _ = encode_units(self.engine.encoder, units)
            probs, reasons = self.engine.proba(U, units)
            for j, i in enumerate(live):
                out[i] = self._result(probs[j], reasons[j])
        return out  # type: ignore[return-value]

    def _blank(self) -> Classification:
        labels = self.engine.labels
        rest = (1 - BLANK_CONFIDENCE) / max(1, len(labels) - 1)
        return Classification(
            document_type=UNKNOWN, confidence=BLANK_CONFIDENCE,
            scores={lab: (BLANK_CONFIDENCE if lab == UNKNOWN else rest) for lab in labels},
            reasons=["Das Dokument enthält keinen lesbaren Text (leere Seite oder Foto)."],
            model_version=self.version,
        )

    def _result(self, p: np.ndarray, why: dict[str, list[str]]) -> Classification:
        labels = self.engine.labels
        best = int(p.argmax())
        doc_type = labels[best]
        titles = {c.id: c.title for c in self.engine.classes}
        reasons: list[str] = []
        if doc_type == UNKNOWN:
            runner = int(np.argsort(p)[-2])
            reasons.append("Kein bekanntes Formular sicher erkannt"
                           f" (nächstliegend: '{titles.get(labels[runner], labels[runner])}', {p[runner]:.0%}).")
        else:
            reasons.extend(why.get(doc_type, []))
            reasons.append(f"Textinhalt passt zu '{titles[doc_type]}' (Modell, {p[best]:.0%}).")
            if not why.get(doc_type):
                reasons.append("Keine Formularkennung gefunden; Einordnung nur nach dem Textinhalt.")
        return Classification(
            document_type=doc_type, confidence=float(p[best]),
            scores={lab: round(float(v), 6) for lab, v in zip(labels, p)},
            reasons=reasons, model_version=self.version,
        )

    # ------------------------------------------------------------ batches

    def split_batch(self, pages: list[PageContent] | list[str]) -> list[PageRange]:
        """Split a scanned batch into documents by page-level classification.

        Returns consecutive, non-overlapping page ranges (1-based, inclusive)
        covering every page, each classified as a document.
        """
        texts = [p.text if isinstance(p, PageContent) else p for p in pages]
        if isinstance(pages[0] if pages else None, PageContent):
            texts = [p.text for p in sorted(pages, key=lambda p: p.page)]  # type: ignore[union-attr]
        if not texts:
            return []
        settled = self._by_identifiers(texts)
        if settled is not None:  # one form throughout, no page reads like a second copy's first
            return [PageRange(start=1, end=len(texts), document_type=settled.document_type,
                              confidence=settled.confidence, reasons=settled.reasons)]
        units = [[t] for t in texts]
        U, _, _, blank = encode_units(self.engine.encoder, units)
        probs, _ = self.engine.proba(U, units)
        first = [
            self.engine.first_page_score(U[i], self.engine.labels[int(probs[i].argmax())]) if not blank[i] else None
            for i in range(len(texts))
        ]
        ranges = segment_pages(texts, probs, self.engine.labels, blank, first)
        out = []
        for start, end in ranges:
            c = self.classify_pages(texts[start - 1 : end])
            out.append(PageRange(start=start, end=end, document_type=c.document_type,
                                 confidence=c.confidence, reasons=c.reasons))
        return out
