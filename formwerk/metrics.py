"""Prometheus metrics (``prometheus_client``): what the worker counts and times,
and what the API computes from the case store at scrape time.

Names and units follow the Prometheus conventions: counters end in
``_total``, durations are histograms in seconds (``_seconds``).

Where each figure comes from:

* **worker** (the activities): stage durations are observed by the activity
  that does the work (``ocr_page`` per page, ``classify_document``,
  ``extract_fields``); case outcomes by ``save_result``, which sees every
  state change of a case: it reads the stored status before writing and
  counts a *transition* (new case, routed, finished) only when the write
  changes the stored status. A retried ``save_result`` whose first attempt
  was written finds the new status already stored and does not count again;
  the one window left is a crash between the write and the count (the retry
  then counts nothing: an undercount by one), and two workers saving the same
  case at the same instant (not done by the workflow, which awaits each save).
  A retried OCR/classify/extract attempt is real work and is timed again.
* **API** (``StoreCollector``): review queue depth and the age of the oldest
  waiting case per queue, and cases by status, read from the case store when
  Prometheus scrapes, so every API instance reports the same numbers.
* **webhooks**: ``webhook_delivery(outcome, seconds)`` for the delivery code.

Label values are bounded: document types come from the catalogue (plus
``unknown``/``invoice``/``batch``), routes are three, reason codes a fixed set.
A batch scan counts as one case with ``document_type="batch"`` besides each of
its documents.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from formwerk import casefacts
from formwerk.models import CaseResult, CaseStatus

_NS = "formwerk"
#: seconds: a page's OCR takes 1–20 s, classification and extraction well under
#: a second to a few seconds, a case from seconds to minutes (review time apart)
_STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300)
_CASE_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
#: review time: a minute to a few days
_REVIEW_BUCKETS = (30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)


def _type(document_type: str | None) -> str:
    return document_type or "unknown"


CASES_STARTED = Counter(f"{_NS}_cases_started_total", "Case workflows that saved their first state.")
CASES_ROUTED = Counter(f"{_NS}_cases_routed_total", "Cases decided by the machine, by document type and route.",
                       ["document_type", "route"])
CASES_COMPLETED = Counter(f"{_NS}_cases_completed_total",
                          "Cases completed (straight through or after review), by document type and route.",
                          ["document_type", "route"])
CASES_REJECTED = Counter(f"{_NS}_cases_rejected_total",
                         "Cases rejected (bad input or by a clerk), by document type, route and reason code.",
                         ["document_type", "route", "reason_code"])
FIELDS = Counter(f"{_NS}_fields_total",
                 "Extracted fields at routing: accepted by the machine or flagged for review.",
                 ["document_type", "outcome"])
FIELDS_CORRECTED = Counter(f"{_NS}_fields_corrected_total", "Fields a clerk changed, by document type.",
                           ["document_type"])
OCR_PAGE_SECONDS = Histogram(f"{_NS}_ocr_page_duration_seconds", "OCR of one page (deskew, OCR, orientation).",
                             buckets=_STAGE_BUCKETS)
CLASSIFY_SECONDS = Histogram(f"{_NS}_classify_duration_seconds", "Classification of one document.",
                             buckets=_STAGE_BUCKETS)
EXTRACT_SECONDS = Histogram(f"{_NS}_extract_duration_seconds", "Field extraction of one document.",
                            buckets=_STAGE_BUCKETS)
CASE_SECONDS = Histogram(f"{_NS}_case_duration_seconds", "From the start of a case to the machine's decision.",
                         buckets=_CASE_BUCKETS)
REVIEW_SECONDS = Histogram(f"{_NS}_review_duration_seconds", "A clerk's claim to their decision.",
                           buckets=_REVIEW_BUCKETS)
WEBHOOK_DELIVERIES = Counter(f"{_NS}_webhook_deliveries_total", "Webhook delivery attempts by outcome.",
                             ["outcome"])
WEBHOOK_SECONDS = Histogram(f"{_NS}_webhook_delivery_duration_seconds", "One webhook delivery attempt.",
                            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))


# -- the worker's hooks ----------------------------------------------------


def case_saved(previous_status: str | None, result: CaseResult) -> None:
    """Count the transition a written ``save_result`` made (see the module docstring)."""
    status = result.status.value
    if previous_status == status:
        return  # nothing changed (or a retried save already counted)
    doc_type = _type(result.document_type)
    route = casefacts.route(result) or "none"
    if previous_status is None:
        CASES_STARTED.inc()
    routed_now = (previous_status in (None, CaseStatus.PROCESSING.value)
                  and status != CaseStatus.PROCESSING.value)
    if routed_now:
        CASES_ROUTED.labels(doc_type, route).inc()
        if result.timings_ms.get("total") is not None:
            CASE_SECONDS.observe(result.timings_ms["total"] / 1000)
        flagged = sum(1 for f in result.fields.values() if f.needs_review)
        if flagged:
            FIELDS.labels(doc_type, "flagged").inc(flagged)
        if len(result.fields) - flagged:
            FIELDS.labels(doc_type, "accepted").inc(len(result.fields) - flagged)
    if status == CaseStatus.COMPLETED.value:
        CASES_COMPLETED.labels(doc_type, route).inc()
    elif status == CaseStatus.REJECTED.value:
        CASES_REJECTED.labels(doc_type, route, result.reason_code or "unknown").inc()
    if status in (CaseStatus.COMPLETED.value, CaseStatus.REJECTED.value) and not routed_now:
        seconds = casefacts.review_seconds(result)
        if seconds is not None:
            REVIEW_SECONDS.observe(seconds)
        corrected = {c.field for c in result.corrections if c.field != "document_type"}
        if corrected:
            FIELDS_CORRECTED.labels(doc_type).inc(len(corrected))


def webhook_delivery(outcome: str, seconds: float | None = None) -> None:
    """One webhook delivery attempt: ``outcome`` e.g. ``delivered``, ``failed``, ``gave_up``."""
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    if seconds is not None:
        WEBHOOK_SECONDS.observe(seconds)


def start_worker_server(port: int, host: str = "127.0.0.1"):
    """Serve this process's metrics (``/metrics``) on ``host:port`` in a thread."""
    from prometheus_client import start_http_server

    return start_http_server(port, addr=host, registry=REGISTRY)


# -- the API's collector -----------------------------------------------------


class StoreCollector:
    """Gauges read from the case store at scrape time (queue depth, oldest waiting case)."""

    def __init__(self, engine, clock=lambda: datetime.now(timezone.utc)) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterable:
        from formwerk import stats

        now = self.clock()
        queues = stats.queue_figures(self.engine, now)
        depth = GaugeMetricFamily(f"{_NS}_review_queue_depth", "Cases waiting in each review queue.",
                                  labels=["queue"])
        oldest = GaugeMetricFamily(f"{_NS}_review_queue_oldest_age_seconds",
                                   "Age of the oldest case waiting in each review queue (0: empty).",
                                   labels=["queue"])
        for q in queues:
            depth.add_metric([q.queue], q.depth)
            oldest.add_metric([q.queue], q.oldest_age_s or 0.0)
        yield depth
        yield oldest
        by_status = GaugeMetricFamily(f"{_NS}_cases", "Cases in the store by status.", labels=["status"])
        counts = stats.status_counts(self.engine)
        for status in CaseStatus:
            by_status.add_metric([status.value], counts.get(status.value, 0))
        yield by_status


class _Combined:
    def __init__(self, *collectors) -> None:
        self._collectors = collectors

    def collect(self):
        for c in self._collectors:
            yield from c.collect()


def api_exposition(engine) -> bytes:
    """The API's ``/metrics`` body: this process's metrics plus the store's gauges."""
    from prometheus_client import generate_latest

    return generate_latest(_Combined(REGISTRY, StoreCollector(engine)))
