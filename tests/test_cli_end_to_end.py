"""End to end through the public contract: `formwerk process --json`.

Everything is real: the embedded Temporal dev server started on demand by the
CLI, the worker in the CLI process, Tesseract, the classifier and extractor,
on a scanned two-page Gewerbe-Anmeldung the test generates itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.synth import render_document, scan_document
from tests import badfiles

pytestmark = pytest.mark.integration
FORMWERK = str(Path(sys.executable).parent / "formwerk")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    data = tmp_path_factory.mktemp("formwerk-data")
    env = dict(os.environ,
               FORMWERK_DATA_DIR=str(data),
               FORMWERK_TEMPORAL_ADDRESS=f"127.0.0.1:{_free_port()}",
               FORMWERK_TEMPORAL_UI_PORT=str(_free_port()),
               OMP_THREAD_LIMIT="1")
    yield env
    subprocess.run([FORMWERK, "down"], env=env, capture_output=True, timeout=30)


def _process(env, *files: Path) -> list[dict]:
    proc = subprocess.run([FORMWERK, "process", "--json", *map(str, files)], env=env,
                          capture_output=True, text=True, timeout=900)
    # the exit code and both streams, so a rare failure (a signal, a crash after the output) explains itself
    assert proc.returncode == 0, (proc.returncode, proc.stdout[-1000:], proc.stderr[-3000:])
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_process_scanned_form_and_bad_file(cli_env, tmp_path):
    doc = render_document("gewerbeanmeldung", seed=11)
    scan = tmp_path / "gewa1_scan.pdf"
    scan.write_bytes(scan_document(doc, "office_300", seed=11))
    broken = tmp_path / "antrag.pdf"
    broken.write_bytes(badfiles.zip_named_pdf())

    out = _process(cli_env, scan, broken)
    assert [o["file"] for o in out] == [str(scan), str(broken)]
    form, bad = out

    assert form["status"] in ("completed", "needs_review")
    assert form["document_type"] == "gewerbeanmeldung"
    assert form["document_type_confidence"] >= 0.9
    assert set(form["timings_ms"]) >= {"ocr", "classify", "extract", "total"}
    assert form["timings_ms"]["ocr"] > 0  # it really was OCR'd, not read from a text layer
    right = [n for n in ("family_name", "given_names", "birth_date", "email")
             if form["fields"][n]["value"] == doc.truth[n]]
    assert len(right) >= 3, form["fields"]
    name = form["fields"]["family_name"]
    assert name["page"] == 1 and len(name["bbox"]) == 4 and 0 <= name["confidence"] <= 1
    flagged = {r.split(":", 1)[1] for r in form["review_reasons"] if ":" in r}
    assert flagged == {n for n, f in form["fields"].items() if f["needs_review"]}

    assert bad["status"] == "rejected"
    assert bad["reason_code"] == "unsupported_type"
    assert "ZIP" in bad["reason"]

    # same file again: attaches to the same case, no second one
    again = _process(cli_env, scan)
    assert again[0]["case_id"] == form["case_id"]
    assert again[0]["status"] == form["status"]


def test_submit_status_and_watch_folder(cli_env, tmp_path):
    pdf = tmp_path / "digital.pdf"
    pdf.write_bytes(render_document("gewerbeanmeldung", seed=12).pdf_bytes)
    sub = subprocess.run([FORMWERK, "submit", str(pdf), "--reference", "FV-test-12"], env=cli_env,
                         capture_output=True, text=True, timeout=120)
    assert sub.returncode == 0, sub.stderr
    assert json.loads(sub.stdout) == {"case_id": "case-FV-test-12", "created": True}

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = subprocess.Popen([FORMWERK, "watch", str(inbox), "--interval", "0.5"], env=cli_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        (inbox / "scan.pdf").write_bytes(pdf.read_bytes())
        result = inbox / "results" / "scan.pdf.json"
        deadline = time.monotonic() + 300
        while not result.exists() and time.monotonic() < deadline and watcher.poll() is None:
            time.sleep(0.5)
        assert result.exists(), watcher.stderr.read() if watcher.poll() is not None else "timeout"
        assert (inbox / "processed" / "scan.pdf").exists()
        assert json.loads(result.read_text())["document_type"] == "gewerbeanmeldung"

        # the submitted case progresses thanks to the watcher's worker (the worker serves
        # both cases in any order: the watched file's may be routed first)
        deadline = time.monotonic() + 120
        while True:
            st = subprocess.run([FORMWERK, "status", "case-FV-test-12"], env=cli_env,
                                capture_output=True, text=True, timeout=120)
            assert st.returncode == 0, st.stderr
            status = json.loads(st.stdout)["status"]
            if status != "processing" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status in ("completed", "needs_review")
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)


def test_a_cold_worker_reading_a_digital_form_writes_only_json_to_stdout(tmp_path):
    """A fresh data directory, a digital form first: the worker's first workflow task waits for
    the classifier to load (several seconds), and the Temporal SDK core warns about long workflow
    tasks. Those warnings go to stderr through Python's logging, never into the JSON on stdout."""
    env = dict(os.environ, FORMWERK_DATA_DIR=str(tmp_path / "data"),
               FORMWERK_TEMPORAL_ADDRESS=f"127.0.0.1:{_free_port()}",
               FORMWERK_TEMPORAL_UI_PORT=str(_free_port()), OMP_THREAD_LIMIT="1")
    form = tmp_path / "antrag.pdf"
    form.write_bytes(render_document("gewerbeanmeldung", seed=12).pdf_bytes)
    try:
        [out] = _process(env, form)  # every stdout line must parse as JSON
    finally:
        subprocess.run([FORMWERK, "down"], env=env, capture_output=True, timeout=30)
    assert out["document_type"] == "gewerbeanmeldung" and out["timings_ms"]["ocr"] == 0
