"""Prometheus metrics: counted where cases change, scraped from a worker and the API.

Real here: the Temporal dev server, the workers with the activities' page
layer, the case store, prometheus_client's HTTP endpoint and the Temporal
SDK's own Prometheus exporter; the engines are fakes (tests/fakes.py).
Every scrape is parsed with ``prometheus_client.parser``; counters are
compared as differences around the cases this test runs (the registry is
the process's).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import datetime, timezone

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from formwerk import metrics
from formwerk.commands import wait_routed
from formwerk.db import CaseStore
from formwerk.intake import submit
from formwerk.models import CaseEvent, CaseResult, CaseStatus, ExtractedField, ReviewAction, ReviewDecision, RoutingPolicy
from formwerk.review import send_decision
from formwerk.storage import BlobStore
from tests import badfiles
from tests.fakes import FakeClassifier, FakeExtractor, FakeOcr
from workflows.activities import CaseActivities
from worker import connect, make_workers, metrics_runtime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _scrape_registry() -> dict:
    from prometheus_client import REGISTRY, generate_latest

    return _samples(generate_latest(REGISTRY).decode())


def _delta(before, after, name: str, **labels) -> float:
    return _value(after, name, **labels) - _value(before, name, **labels)


def test_a_transition_is_counted_once_and_a_retried_save_counts_nothing():
    before = _scrape_registry()
    r = CaseResult(case_id="c", document_type="wohngeld_mietzuschuss", status=CaseStatus.PROCESSING)
    metrics.case_saved(None, r)
    metrics.case_saved("processing", r)  # a retried first save finds it stored: nothing new
    r.status = CaseStatus.NEEDS_REVIEW
    r.events = [CaseEvent(at=datetime.now(timezone.utc), kind="routed", detail={"status": "needs_review"})]
    r.fields = {"a": ExtractedField(name="a", needs_review=True), "b": ExtractedField(name="b")}
    r.timings_ms = {"total": 2500}
    metrics.case_saved("processing", r)
    metrics.case_saved("needs_review", r)  # retried: already stored
    after = _scrape_registry()
    t = "wohngeld_mietzuschuss"
    assert _delta(before, after, "formwerk_cases_started_total") == 1
    assert _delta(before, after, "formwerk_cases_routed_total", document_type=t, route="review") == 1
    assert _delta(before, after, "formwerk_fields_total", document_type=t, outcome="flagged") == 1
    assert _delta(before, after, "formwerk_fields_total", document_type=t, outcome="accepted") == 1
    assert _delta(before, after, "formwerk_case_duration_seconds_sum") == pytest.approx(2.5)
    assert _delta(before, after, "formwerk_cases_completed_total", document_type=t, route="review") == 0
    metrics.webhook_delivery("delivered", 0.2)
    metrics.webhook_delivery("failed")
    later = _scrape_registry()
    assert _delta(after, later, "formwerk_webhook_deliveries_total", outcome="delivered") == 1
    assert _delta(after, later, "formwerk_webhook_deliveries_total", outcome="failed") == 1
    assert _delta(after, later, "formwerk_webhook_delivery_duration_seconds_count") == 1


async def test_worker_and_api_metrics_match_the_cases_run(temporal_env, queues, tmp_path):
    from api.app import create_app
    from formwerk.settings import Settings

    blobs, cases = BlobStore(tmp_path / "blobs"), CaseStore.from_url(f"sqlite:///{tmp_path / 'c.sqlite'}")
    acts = CaseActivities(blobs=blobs, cases=cases, ocr=FakeOcr(), classifier=FakeClassifier(),
                          extractor=FakeExtractor(confidences={"family_name": 0.97, "birth_date": 0.5}),
                          known_types={"gewerbeanmeldung"})
    worker_port, sdk_port = _free_port(), _free_port()
    server, _thread = metrics.start_worker_server(worker_port)
    runtime = metrics_runtime("127.0.0.1", sdk_port)
    target = temporal_env.client.service_client.config.target_host
    client = await connect(Settings(temporal_address=target, embedded_temporal=False), runtime=runtime)
    app = create_app(Settings(data_dir=tmp_path, secret_key="t"), client=client, cases=cases)
    api = TestClient(app)
    scrape = lambda: _samples(httpx.get(f"http://127.0.0.1:{worker_port}/metrics").text)  # noqa: E731
    before = scrape()

    def policy(threshold):
        return {"gewerbeanmeldung": RoutingPolicy(min_field_confidence=threshold, review_sla_hours=48)}

    try:
        async with make_workers(client, acts, *queues, ocr_slots=2):
            async def run(data, threshold, name):
                return await submit(client, blobs, data, filename=name, reference=f"M-{uuid.uuid4().hex[:8]}",
                                    task_queue=queues[0], ocr_task_queue=queues[1], policies=policy(threshold))

            straight = await run(badfiles.text_image(["Gewerbe-Anmeldung"]), 0.4, "a.png")
            review = await run(badfiles.text_image(["Gewerbe-Anmeldung", "B"]), 0.9, "b.png")
            bad = await run(b"", 0.9, "leer.pdf")
            assert (await wait_routed(straight.handle, 60)).status == CaseStatus.COMPLETED
            assert (await wait_routed(review.handle, 60)).status == CaseStatus.NEEDS_REVIEW
            assert (await wait_routed(bad.handle, 60)).status == CaseStatus.REJECTED

            # the API's gauges come from the store: one case waiting
            body = api.get("/metrics")
            assert body.status_code == 200 and body.headers["content-type"].startswith("text/plain")
            gauges = _samples(body.text)
            assert _value(gauges, "formwerk_review_queue_depth", queue="open") == 1
            assert _value(gauges, "formwerk_review_queue_depth", queue="escalated") == 0
            assert _value(gauges, "formwerk_cases", status="needs_review") == 1
            assert _value(gauges, "formwerk_cases", status="completed") == 1
            assert _value(gauges, "formwerk_review_queue_oldest_age_seconds", queue="open") >= 0

            await send_decision(client, review.case_id, ReviewDecision(
                action=ReviewAction.CLAIM, clerk="anna", decision_id="m-claim"), store=cases)
            await send_decision(client, review.case_id, ReviewDecision(
                action=ReviewAction.APPROVE, clerk="anna", decision_id="m-approve",
                corrections={"birth_date": "1986-02-15"}), store=cases)
            for h in (straight.handle, review.handle, bad.handle):
                await asyncio.wait_for(h.result(), 60)
            sdk_text = httpx.get(f"http://127.0.0.1:{sdk_port}/metrics").text
            scraped_after = scrape()
    finally:
        server.shutdown()  # type: ignore[union-attr]
    after = scraped_after
    g = "gewerbeanmeldung"
    assert _delta(before, after, "formwerk_cases_started_total") == 3
    assert _delta(before, after, "formwerk_cases_routed_total", document_type=g, route="straight_through") == 1
    assert _delta(before, after, "formwerk_cases_routed_total", document_type=g, route="review") == 1
    assert _delta(before, after, "formwerk_cases_routed_total", document_type="unknown", route="rejected") == 1
    assert _delta(before, after, "formwerk_cases_completed_total", document_type=g, route="straight_through") == 1
    assert _delta(before, after, "formwerk_cases_completed_total", document_type=g, route="review") == 1
    assert _delta(before, after, "formwerk_cases_rejected_total", document_type="unknown", route="rejected",
                  reason_code="empty_file") == 1
    assert _delta(before, after, "formwerk_fields_total", document_type=g, outcome="accepted") == 3
    assert _delta(before, after, "formwerk_fields_total", document_type=g, outcome="flagged") == 1
    assert _delta(before, after, "formwerk_fields_corrected_total", document_type=g) == 1
    assert _delta(before, after, "formwerk_ocr_page_duration_seconds_count") == 2
    assert _delta(before, after, "formwerk_classify_duration_seconds_count") == 2
    assert _delta(before, after, "formwerk_extract_duration_seconds_count") == 2
    assert _delta(before, after, "formwerk_case_duration_seconds_count") == 3
    assert _delta(before, after, "formwerk_review_duration_seconds_count") == 1
    # the API reports the queue empty again
    assert _value(_samples(api.get("/metrics").text), "formwerk_review_queue_depth", queue="open") == 0
    # the Temporal SDK's own metrics, from this worker's runtime only
    sdk = {f.name for f in text_string_to_metric_families(sdk_text)}
    assert any(n.startswith("temporal_") for n in sdk), sorted(sdk)[:20]
    completed = sum(s.value for f in text_string_to_metric_families(sdk_text)
                    if f.name.startswith("temporal_workflow_completed") for s in f.samples)
    assert completed == 3, sorted(sdk)


def test_the_api_metrics_can_require_a_token(tmp_path):
    from api.app import create_app
    from formwerk.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, secret_key="t", metrics_token="geheim"))
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer falsch"}).status_code == 401
        ok = c.get("/metrics", headers={"Authorization": "Bearer geheim"})
        assert ok.status_code == 200 and "formwerk_review_queue_depth" in ok.text


async def test_a_worker_process_serves_both_endpoints(temporal_env, tmp_path):
    """run_worker as `formwerk worker` runs it: an OCR-only worker with both metrics ports."""
    from formwerk.settings import Settings
    from worker import run_worker

    worker_port, sdk_port = _free_port(), _free_port()
    settings = Settings(data_dir=tmp_path, temporal_address=temporal_env.client.service_client.config.target_host,
                        embedded_temporal=False, worker_queues="ocr", ocr_task_queue=f"ocr-{uuid.uuid4().hex[:6]}",
                        worker_metrics_port=worker_port, temporal_metrics_port=sdk_port, ocr_workers=1)
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop))
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                try:
                    own = await http.get(f"http://127.0.0.1:{worker_port}/metrics")
                    sdk = await http.get(f"http://127.0.0.1:{sdk_port}/metrics")
                    if own.status_code == sdk.status_code == 200 and "temporal_" in sdk.text:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        assert "formwerk_ocr_page_duration_seconds" in {f.name for f in text_string_to_metric_families(own.text)}
        assert any(f.name.startswith("temporal_") for f in text_string_to_metric_families(sdk.text))
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
