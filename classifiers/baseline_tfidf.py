"""TF-IDF on character n-grams: the benchmark baseline and the no-encoder fallback.

Two uses:

* :class:`TfidfEncoder` — a fitted vectoriser with the same ``encode(texts)``
  contract as :class:`classifiers.encoder.E5Encoder` (rows L2-normalised), but
  returning a ``scipy.sparse`` matrix. The classifier uses it when the
  transformer encoder is missing, so intake keeps working (with a
  ``tfidf-fallback`` model version).
* :class:`TfidfBaseline` — vectoriser + multinomial logistic regression on the
  raw text, nothing else (no identifiers, no calibration beyond LR's own): the
  baseline the benchmark compares the real classifier with.

Character n-grams within word boundaries (``char_wb``, 2–5) are robust to OCR
errors that break whole-word features.
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from classifiers.text import clip, fold


def make_vectorizer(max_features: int = 60000) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
        min_df=1, max_features=max_features, preprocessor=fold, dtype=np.float32,
    )


class TfidfEncoder:
    """Fitted char-n-gram TF-IDF with the encoder contract (sparse rows, L2 norm)."""

    name = "tfidf-char2-5"

    def __init__(self, vectorizer: TfidfVectorizer | None = None):
        self.vectorizer = vectorizer or make_vectorizer()

    def fit(self, texts: list[str]) -> "TfidfEncoder":
        self.vectorizer.fit([clip(t) for t in texts])
        return self

    def encode(self, texts: list[str]):
        return self.vectorizer.transform([clip(t) for t in texts])


class TfidfBaseline:
    """TF-IDF (char n-grams) + logistic regression over the given labels."""

    def __init__(self, C: float = 10.0):
        self.encoder = TfidfEncoder()
        self.head = LogisticRegression(C=C, max_iter=2000)

    def fit(self, texts: list[str], labels: list[str]) -> "TfidfBaseline":
        X = self.encoder.fit(texts).encode(texts)
        self.head.fit(X, labels)
        return self

    @property
    def classes_(self) -> list[str]:
        return list(self.head.classes_)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.head.predict_proba(self.encoder.encode(texts))

    def predict(self, texts: list[str]) -> list[str]:
        return list(self.head.predict(self.encoder.encode(texts)))
