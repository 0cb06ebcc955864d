"""Proof for issue 14: after real cases, neither the Temporal server's database
nor the logs hold an applicant's name, birth date, e-mail or IBAN in plain text.

Everything is real: a Temporal dev server of its own (so its SQLite file can
be read), the worker with the real engines (Tesseract, classifier,
extractor), the product's encrypting data converter on client and worker
(``formwerk.codec.data_converter``), the encrypted blob store. A control
workflow started *without* the codec shows that a plain value would be found.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import date

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.synth import render_document
from bench.ui_stack import scan_bytes
from formwerk.codec import data_converter
from formwerk.commands import wait_routed
from formwerk.db import CaseStore
from formwerk.intake import policies_from_catalogue, submit
from formwerk.models import CaseStatus
from formwerk.settings import Settings
from formwerk.storage import BlobStore
from tests.conftest import _binary
from worker import build_activities, make_workers
from workflows.names import STATE_QUERY

pytestmark = [pytest.mark.integration]

PERSONAL = ("family_name", "given_names", "birth_date", "email", "iban")


def _forms(value: str) -> set[bytes]:
    """The ways a value can stand in a file: raw, JSON-escaped, as a German date, IBAN in groups."""
    out = {value, json.dumps(value)[1:-1], value.lower()}
    try:
        d = date.fromisoformat(value)
        out |= {d.strftime("%d.%m.%Y"), d.isoformat()}
    except ValueError:
        pass
    if value[:2].isalpha() and value[2:4].isdigit() and len(value) > 15:  # an IBAN
        out.add(" ".join(value[i:i + 4] for i in range(0, len(value), 4)))
    return {s.encode("utf-8") for s in out if len(s) >= 4}


def _needles(truths: list[dict]) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for truth in truths:
        for name in PERSONAL:
            if truth.get(name):
                for form in _forms(str(truth[name])):
                    found[form] = f"{name}={truth[name]!r}"
    return found


async def test_temporal_database_and_logs_hold_no_applicant_value(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    db_file = tmp_path / "temporal.sqlite"
    settings = Settings(data_dir=tmp_path / "data", secret_key="t")
    settings.ensure_dirs()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"), data_converter=pydantic_data_converter, ui=False,
        dev_server_log_level="error", dev_server_extra_args=["--db-filename", str(db_file)])
    try:
        client = await Client.connect(env.client.service_client.config.target_host,
                                      data_converter=data_converter(settings))
        docs = [render_document("gewerbeanmeldung", seed=41), render_document("kindergeld_kg1", seed=42)]
        scanned = render_document("gewerbeanmeldung", seed=43)
        files = [(d.pdf_bytes, f"{d.doc_type}.pdf") for d in docs]
        files.append((scan_bytes(seed=43), "scan.pdf"))
        truths = [d.truth for d in docs] + [scanned.truth]
        assert truths[1].get("iban"), "the KG 1 should carry an IBAN"

        blobs = BlobStore.from_settings(settings)
        activities = build_activities(settings)
        tag = uuid.uuid4().hex[:8]
        queues = (f"enc-cases-{tag}", f"enc-ocr-{tag}")
        async with make_workers(client, activities, *queues, ocr_slots=2):
            subs = [await submit(client, blobs, data, filename=name, reference=f"ENC-{tag}-{i}",
                                 task_queue=queues[0], ocr_task_queue=queues[1],
                                 policies=policies_from_catalogue())
                    for i, (data, name) in enumerate(files)]
            routed = await asyncio.gather(*(wait_routed(s.handle, 120) for s in subs))
            # the encrypting client reads the state back
            state = await subs[2].handle.query(STATE_QUERY, result_type=type(routed[2]))
            assert state.case_id == subs[2].case_id
        # the cases really ran and read the applicant: otherwise finding nothing proves nothing
        assert [r.document_type for r in routed] == ["gewerbeanmeldung", "kindergeld_kg1", "gewerbeanmeldung"]
        assert all(r.status in (CaseStatus.COMPLETED, CaseStatus.NEEDS_REVIEW) for r in routed)
        assert routed[0].fields["family_name"].value == truths[0]["family_name"]
        assert routed[1].fields["iban"].value == truths[1]["iban"]

        # control: a payload sent without the codec stands in the database in plain text
        marker = f"Klartext-Probe-{tag}-Müller"
        await env.client.start_workflow("NoSuchWorkflow", marker, id=f"control-{tag}",
                                        task_queue=f"nobody-{tag}")
    finally:
        await env.shutdown()

    stored = b"".join(p.read_bytes() for p in tmp_path.glob("temporal.sqlite*"))
    assert marker.encode() in stored and f"control-{tag}".encode() in stored  # the search works
    needles = _needles(truths)
    assert len(needles) >= 12
    leaks = sorted({what for needle, what in needles.items() if needle in stored})
    assert not leaks, f"plain applicant values in the Temporal database: {leaks}"

    # at rest: no blob holds them either (originals, page images, OCR contents)
    blob_bytes = b"".join(p.read_bytes() for p in settings.blob_dir.rglob("*") if p.is_file())
    assert blob_bytes and not sorted({w for n, w in needles.items() if n in blob_bytes})
    # (the case store does, by design: it is the clerks' working copy)
    assert CaseStore.from_url(settings.sqlalchemy_url).get(subs[0].case_id) is not None

    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert any(r.name == "formwerk.worker" and r.levelno == logging.INFO for r in caplog.records)  # INFO captured
    leaks = sorted({what for needle, what in needles.items() if needle in logged.encode("utf-8")})
    assert not leaks, f"plain applicant values in the log: {leaks}"
