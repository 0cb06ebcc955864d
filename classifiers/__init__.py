"""Document classification: which form (or attachment) is this, with a calibrated probability.

Public API::

    from classifiers import DocumentClassifier
    clf = DocumentClassifier.from_catalogue(load_catalogue())   # once per worker
    c = clf.classify(document_content)     # formwerk.models.Classification
    clf.classify_text("Gewerbe-Anmeldung GewA 1 ...")
    clf.split_batch(pages)                 # list[PageRange] for mixed scans

Training: ``classifiers.training.train(pairs, catalogue)``; measurement:
``python -m classifiers.evaluate``. No temporalio imports in this package.
"""

from classifiers.classes import INVOICE, UNKNOWN
from classifiers.classifier import DocumentClassifier
from classifiers.splitting import PageRange

__all__ = ["DocumentClassifier", "PageRange", "INVOICE", "UNKNOWN"]
