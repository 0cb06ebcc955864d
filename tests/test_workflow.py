"""The case workflow on a real Temporal dev server, engines faked.

What is real here: the Temporal server, the workers, the activities' page
layer (sniffing, rendering, bad input), the blob and case stores.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from formwerk.db import CaseStore
from formwerk.intake import submit
from formwerk.models import CaseResult, CaseStatus, ReviewAction, ReviewDecision, RoutingPolicy
from formwerk.storage import BlobStore
from tests import badfiles
from tests.fakes import FakeClassifier, FakeExtractor, FakeOcr
from workflows.activities import CaseActivities
from workflows.case_workflow import CaseWorkflow
from workflows.names import REVIEW_UPDATE, STATE_QUERY
from worker import make_workers

from formwerk.commands import wait_routed

POLICIES = {"gewerbeanmeldung": RoutingPolicy(min_field_confidence=0.9, required_fields=["family_name"],
                                              review_sla_hours=48)}


@pytest.fixture
def stores(tmp_path):
    return BlobStore(tmp_path / "blobs"), CaseStore.from_url(f"sqlite:///{tmp_path / 'c.sqlite'}")


def _activities(stores, extractor=None, classifier=None):
    blobs, cases = stores
    return CaseActivities(blobs=blobs, cases=cases, ocr=FakeOcr(),
                          classifier=classifier or FakeClassifier(),
                          extractor=extractor or FakeExtractor(),
                          known_types={"gewerbeanmeldung"})


async def _submit(client, blobs, data, queues, name="scan.png", reference=None):
    return await submit(client, blobs, data, filename=name, reference=reference,
                        task_queue=queues[0], ocr_task_queue=queues[1], policies=POLICIES)


async def test_confident_case_goes_straight_through(temporal_env, queues, stores):
    client = temporal_env.client
    async with make_workers(client, _activities(stores), *queues, ocr_slots=2):
        sub = await _submit(client, stores[0], badfiles.text_image(["Gewerbe-Anmeldung"]), queues)
        routed = await wait_routed(sub.handle, 60)
        final = await sub.handle.result()
    assert routed.status == CaseStatus.COMPLETED == final.status
    assert final.document_type == "gewerbeanmeldung" and final.page_count == 1
    assert final.fields["family_name"].value == "Müller"
    assert final.timings_ms["total"] >= final.timings_ms["ocr"] >= 0
    assert stores[1].get(sub.case_id).status == CaseStatus.COMPLETED
    # the recorded history replays on the current code: the workflow is deterministic
    history = await sub.handle.fetch_history()
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


async def test_review_case_is_corrected_through_the_update(temporal_env, queues, stores):
    client = temporal_env.client
    extractor = FakeExtractor(confidences={"family_name": 0.97, "birth_date": 0.5})
    async with make_workers(client, _activities(stores, extractor), *queues, ocr_slots=2):
        sub = await _submit(client, stores[0], badfiles.text_image(["Antrag", "B"]), queues)
        routed = await wait_routed(sub.handle, 60)
        assert routed.status == CaseStatus.NEEDS_REVIEW
        assert routed.review_reasons == ["low_confidence:birth_date"]
        assert routed.fields["birth_date"].needs_review and not routed.fields["family_name"].needs_review
        assert stores[1].get(sub.case_id).status == CaseStatus.NEEDS_REVIEW

        # the validator rejects bad decisions before they reach the history
        with pytest.raises(WorkflowUpdateFailedError):
            await sub.handle.execute_update(REVIEW_UPDATE, ReviewDecision(
                action=ReviewAction.APPROVE, clerk="anna", corrections={"no_such_field": 1}))
        await sub.handle.execute_update(REVIEW_UPDATE, ReviewDecision(action=ReviewAction.CLAIM, clerk="anna"),
                                        result_type=CaseResult)
        with pytest.raises(WorkflowUpdateFailedError):  # never two clerks on one case
            await sub.handle.execute_update(REVIEW_UPDATE, ReviewDecision(
                action=ReviewAction.APPROVE, clerk="ben"))
        after = await sub.handle.execute_update(REVIEW_UPDATE, ReviewDecision(
            action=ReviewAction.APPROVE, clerk="anna", corrections={"birth_date": "1986-02-15"}),
            result_type=CaseResult)
        final = await sub.handle.result()
        # once decided, the case no longer accepts decisions
        with pytest.raises(Exception):
            await sub.handle.execute_update(REVIEW_UPDATE, ReviewDecision(
                action=ReviewAction.APPROVE, clerk="anna"))
    assert after.status == final.status == CaseStatus.COMPLETED
    assert final.fields["birth_date"].value == "1986-02-14"  # machine output kept
    assert final.contract_json()["fields"]["birth_date"]["value"] == "1986-02-15"  # delivered merged
    stored = stores[1].corrections_for(sub.case_id)
    assert [(c.field, c.corrected_value, c.clerk) for c in stored] == [("birth_date", "1986-02-15", "anna")]
    history = await sub.handle.fetch_history()  # updates and waits replay too
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


async def test_reclassify_reextracts_for_the_new_type(temporal_env, queues, stores):
    client = temporal_env.client
    extractor = FakeExtractor()
    acts = _activities(stores, extractor, FakeClassifier(document_type="unknown", confidence=0.4))
    acts.known_types = {"gewerbeanmeldung", "unknown"}
    async with make_workers(client, acts, *queues, ocr_slots=2):
        sub = await _submit(client, stores[0], badfiles.text_image(["Brief"]), queues)
        routed = await wait_routed(sub.handle, 60)
        assert routed.review_reasons == ["unknown_document_type"]
        after = await sub.handle.execute_update(REVIEW_UPDATE, ReviewDecision(
            action=ReviewAction.RECLASSIFY, clerk="anna", document_type="gewerbeanmeldung"),
            result_type=CaseResult)
        assert after.document_type == "gewerbeanmeldung" and after.status == CaseStatus.NEEDS_REVIEW
        await sub.handle.execute_update(REVIEW_UPDATE, ReviewDecision(action=ReviewAction.APPROVE, clerk="anna"))
        final = await sub.handle.result()
    assert final.status == CaseStatus.COMPLETED and extractor.calls[-1] == "gewerbeanmeldung"
    # the reclassification is kept as training data, apart from the machine output
    [corr] = stores[1].corrections_for(sub.case_id)
    assert (corr.field, corr.machine_value, corr.corrected_value) == ("document_type", "unknown",
                                                                     "gewerbeanmeldung")
    assert "document_type" not in final.contract_json()["fields"]


async def test_duplicate_submit_yields_one_case(temporal_env, queues, stores):
    client = temporal_env.client
    data = badfiles.text_image(["Doppelt eingereicht"])
    async with make_workers(client, _activities(stores), *queues, ocr_slots=2):
        first = await _submit(client, stores[0], data, queues, reference="FV-2026-0001")
        second = await _submit(client, stores[0], data, queues, reference="FV-2026-0001")
        assert first.case_id == second.case_id and first.created and not second.created
        await first.handle.result()
        third = await _submit(client, stores[0], data, queues, reference="FV-2026-0001")  # after finishing
        assert third.case_id == first.case_id and not third.created
        assert (await wait_routed(third.handle, 30)).status == CaseStatus.COMPLETED
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{first.case_id}'")]
    assert len(runs) == 1


async def test_bad_inputs_are_rejected_and_the_worker_keeps_going(temporal_env, queues, stores):
    client = temporal_env.client
    blobs = stores[0]
    async with make_workers(client, _activities(stores), *queues, ocr_slots=2):
        subs = {}
        for name, (make, code) in badfiles.BAD_INPUTS.items():
            data = make()
            subs[name] = (await _submit(client, blobs, data, queues, name=f"{name}.pdf"), code, data)
        for name, (sub, code, data) in subs.items():
            result = await wait_routed(sub.handle, 60)
            assert result.status == CaseStatus.REJECTED, name
            assert result.reason_code == code, name
            assert result.reason and result.reason.endswith("."), name
            assert blobs.get("sha256:" + result.sha256) == data  # the original is kept
        good = await _submit(client, blobs, badfiles.text_image(["Nach den Fehlern"]), queues)
        assert (await wait_routed(good.handle, 60)).status == CaseStatus.COMPLETED


async def test_sla_breach_escalates_a_waiting_case(time_skipping_env, queues, stores):
    client = time_skipping_env.client
    extractor = FakeExtractor(confidences={"family_name": 0.3, "birth_date": 0.99})
    async with make_workers(client, _activities(stores, extractor), *queues, ocr_slots=2):
        sub = await _submit(client, stores[0], badfiles.text_image(["SLA"]), queues)
        with time_skipping_env.auto_time_skipping_disabled():
            routed = await wait_routed(sub.handle, 60)
        assert routed.status == CaseStatus.NEEDS_REVIEW and not routed.escalated
        await time_skipping_env.sleep(timedelta(hours=47))
        assert not (await sub.handle.query(STATE_QUERY, result_type=CaseResult)).escalated
        await time_skipping_env.sleep(timedelta(hours=2))
        state = await sub.handle.query(STATE_QUERY, result_type=CaseResult)
        assert state.escalated and state.status == CaseStatus.NEEDS_REVIEW
        assert stores[1].get(sub.case_id).escalated
        await sub.handle.execute_update(REVIEW_UPDATE, ReviewDecision(action=ReviewAction.REJECT, clerk="s",
                                                                      comment="Unvollständig."))
        final = await sub.handle.result()
    assert final.status == CaseStatus.REJECTED and final.reason == "Unvollständig."


async def test_mixed_batch_becomes_one_case_per_document(temporal_env, queues, stores):
    import io

    from PIL import Image

    from tests.fakes import FakeBatchClassifier

    client = temporal_env.client
    acts = _activities(stores, classifier=FakeBatchClassifier())
    acts.known_types = {"gewerbeanmeldung", "invoice"}
    frames = [Image.open(io.BytesIO(badfiles.text_image([f"Seite {i}"]))) for i in (1, 2, 3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    async with make_workers(client, acts, *queues, ocr_slots=2):
        sub = await _submit(client, stores[0], buf.getvalue(), queues, name="stapel.tiff")
        batch = await wait_routed(sub.handle, 60)
        assert batch.document_type == "batch" and batch.status == CaseStatus.COMPLETED
        docs = batch.documents
        assert [(d.document_type, d.page_count, d.parent_case_id) for d in docs] == [
            ("gewerbeanmeldung", 2, sub.case_id), ("invoice", 1, sub.case_id)]
        assert [d.case_id for d in docs] == [f"{sub.case_id}-doc1", f"{sub.case_id}-doc2"]
        assert [d.contract_json()["pages"] for d in docs] == [[1, 2], [3, 3]]
        # each document is a case of its own, with its own pages of the original
        second = await client.get_workflow_handle(docs[1].case_id, result_type=CaseResult).result()
        assert second.page_count == 1 and second.document_type == "invoice"
        assert stores[1].get(docs[0].case_id).status == CaseStatus.COMPLETED


# -- light steps as local activities ---------------------------------------------


def _activity_queues(history) -> dict[str, str]:
    """Activity type -> the task queue it was scheduled on (activities only, not local ones)."""
    return {e.activity_task_scheduled_event_attributes.activity_type.name:
            e.activity_task_scheduled_event_attributes.task_queue.name
            for e in history.events if e.HasField("activity_task_scheduled_event_attributes")}


def _local_steps(history) -> list[str]:
    import json

    return [json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)["activity_type"]
            for e in history.events if e.HasField("marker_recorded_event_attributes")
            and e.marker_recorded_event_attributes.marker_name == "core_local_activity"]


async def test_a_digital_document_runs_its_steps_in_the_workflow_worker(temporal_env, queues, stores):
    """A PDF with a text layer needs no OCR: registered, read, classified and extracted in one local
    activity, then saved once when routed (no task queue round trip); nothing is scheduled on a queue."""
    client = temporal_env.client
    async with make_workers(client, _activities(stores), *queues, ocr_slots=2):
        sub = await _submit(client, stores[0], badfiles.simple_pdf("Gewerbe-Anmeldung, leichte Schritte"), queues,
                            name="antrag.pdf")
        final = await sub.handle.result()
    assert final.status == CaseStatus.COMPLETED and final.page_count == 1
    history = await sub.handle.fetch_history()
    assert _activity_queues(history) == {}
    assert _local_steps(history) == ["read_document", "save_result"]
    assert final.sha256 and final.document_type and final.timings_ms["ocr"] == 0
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


async def test_a_scans_heavy_steps_run_on_the_per_core_queues(temporal_env, queues, stores):
    """OCR on the OCR queue; the scan's classification and extraction on the analysis queue,
    so they never take the case queue's slots a digital form's steps need."""
    from workflows.names import analysis_task_queue

    client = temporal_env.client
    async with make_workers(client, _activities(stores), *queues, ocr_slots=2):
        sub = await _submit(client, stores[0], badfiles.text_image(["Gewerbe-Anmeldung", "Schwere Schritte"]),
                            queues)
        await sub.handle.result()
    history = await sub.handle.fetch_history()
    assert _activity_queues(history) == {
        "prepare_document": queues[0],  # an image file: decoded page by page, resumable from heartbeats
        "ocr_page": queues[1],
        "classify_document": analysis_task_queue(queues[0]),
        "extract_fields": analysis_task_queue(queues[0]),
    }
    assert set(_local_steps(history)) == {"register_original", "save_result"}


async def test_a_run_started_before_the_light_steps_were_local_still_replays():
    """Cases running when a worker is upgraded continue on the new code: the history of a run
    recorded before (all steps activities, a clerk's approval) replays without a determinism error."""
    from pathlib import Path

    from temporalio.client import WorkflowHistory

    recorded = Path(__file__).parent / "histories" / "case_before_local_steps.json"
    history = WorkflowHistory.from_json("case-OLD-1", recorded.read_text())
    assert "save_result" in _activity_queues(history)  # it is an old run indeed
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


@pytest.mark.parametrize("kind", ["digital", "scanned"])
async def test_a_run_started_before_a_pdf_was_read_in_one_step_still_replays(kind):
    """Runs recorded when register, prepare, classify and extract were separate local activities
    (a digital PDF, and a scanned PDF whose pages went to OCR) replay on the code that reads a PDF
    in one step: the patch marker keeps them on their old path."""
    from pathlib import Path

    from temporalio.client import WorkflowHistory

    recorded = Path(__file__).parent / "histories" / f"case_{kind}_pdf_separate_light_steps.json"
    history = WorkflowHistory.from_json(f"case-REC-{kind}", recorded.read_text())
    assert _local_steps(history)[:3] == ["register_original", "save_result", "prepare_document"]  # old indeed
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


async def test_a_run_whose_webhook_was_delivered_as_an_activity_still_replays():
    """A run recorded when every webhook attempt was an activity on the queue (the first one
    answered 503, the second delivered) replays on the code that makes the first attempt locally."""
    from pathlib import Path

    from temporalio.client import WorkflowHistory

    recorded = Path(__file__).parent / "histories" / "case_webhook_retried_as_activity.json"
    history = WorkflowHistory.from_json("case-REC-webhook", recorded.read_text())
    assert _activity_queues(history).keys() == {"deliver_webhook"}  # an old run indeed
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


async def test_a_scanned_pdf_is_saved_as_processing_before_its_pages_are_read(temporal_env, queues, stores):
    """A PDF without a text layer: read_document registers it and finds pages to OCR; the case is
    stored (processing) before the OCR, whose pages, classification and extraction go to their queues."""
    from workflows.names import analysis_task_queue

    client = temporal_env.client
    async with make_workers(client, _activities(stores), *queues, ocr_slots=2):
        sub = await _submit(client, stores[0], _scanned_pdf(), queues, name="scan.pdf")
        final = await sub.handle.result()
    history = await sub.handle.fetch_history()
    assert _local_steps(history) == ["read_document", "save_result", "save_result"]
    assert _activity_queues(history) == {"ocr_page": queues[1],
                                         "classify_document": analysis_task_queue(queues[0]),
                                         "extract_fields": analysis_task_queue(queues[0])}
    assert final.status == CaseStatus.COMPLETED and final.sha256 and final.timings_ms["ocr"] > 0
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


def _scanned_pdf() -> bytes:
    import io

    from PIL import Image

    page = Image.open(io.BytesIO(badfiles.text_image(["Gewerbe-Anmeldung", "Gescannt"]))).convert("L")
    out = io.BytesIO()
    page.save(out, format="PDF", resolution=150)
    return out.getvalue()
