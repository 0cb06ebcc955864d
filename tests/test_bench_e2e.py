"""The real benchmark through the real `formwerk` CLI (real Temporal, real Tesseract).

``tiny`` (3 documents) runs in the default suite as a smoke test of the whole
harness; ``small`` (~40 documents) is marked slow:
``.venv/bin/pytest -m slow tests/test_bench_e2e.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import metrics as m
from bench.corpus import read_manifest
from bench.pipeline import default_command

REPO = Path(__file__).resolve().parents[1]

needs_cli = pytest.mark.skipif(
    not Path(default_command()[0]).exists() or shutil.which("tesseract") is None,
    reason="formwerk CLI or tesseract not installed")


def _run_bench(out: Path, size: str, seed: int) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench", "--out", str(out), "--size", size, "--seed", str(seed)],
                          capture_output=True, text=True, timeout=1800, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pages / minute" in proc.stdout
    return json.loads((out / "results.json").read_text())


@needs_cli
@pytest.mark.timeout(900)
def test_tiny_benchmark_end_to_end_counts_what_the_pipeline_said(tmp_path):
    out = tmp_path / "bench-out"
    res = _run_bench(out, "tiny", 1)
    p = res["pipeline"]
    items = read_manifest(out / "corpus" / "manifest.jsonl")
    lines = [json.loads(x) for x in (out / "pipeline.jsonl").read_text().splitlines() if x.strip()]
    said = {Path(o["file"]).name: o for o in lines}
    assert p["errors"] == [] and p["documents"] == len(items) == len(said) == 3
    # an independent recount from the stored contract lines must give the harness's figures
    right_type = sum(said[it["file"]]["document_type"] == it["doc_type"] for it in items)
    assert p["doc_type"]["accuracy"] == pytest.approx(right_type / len(items))
    scored = right = 0
    for it in items:
        fields = said[it["file"]].get("fields") or {}
        for name, truth in it["truth"].items():
            got = (fields.get(name) or {}).get("value")
            if m.has_truth(truth) or m.has_truth(got):  # a blank read as blank is not scored
                scored += 1
                right += m.has_truth(truth) and m.has_truth(got) and m.values_equal(got, truth)
    assert scored > 10  # the scanned form carries a full set of truth fields
    assert p["fields"]["n"] == scored
    assert p["fields"]["accuracy"] == pytest.approx(right / scored)
    through = [o for o in said.values() if o["status"] == "completed"]
    assert p["straight_through"]["rate"] == pytest.approx(len(through) / len(said))
    # the blank page and the letter are no form: never extracted, never straight through
    for it in items:
        if it["category"] in ("blank", "letter"):
            assert said[it["file"]]["document_type"] == "unknown", it["file"]
            assert said[it["file"]]["status"] != "completed"
    assert res["baselines"]["tesseract_cli"]["pages_per_minute"] > 0
    for name in ("report.md", "reliability.png", "threshold_curve.png", "confusion.png"):
        assert (out / name).stat().st_size > 0


@pytest.mark.slow
@needs_cli
@pytest.mark.timeout(3600)
def test_small_benchmark_end_to_end(tmp_path):
    out = tmp_path / "bench-out"
    res = _run_bench(out, "small", 1)
    p = res["pipeline"]
    assert 30 <= p["documents"] <= 44
    assert p["errors"] == [], p["errors"]  # every file got a contract line
    assert p["speed"]["pages_per_minute"] > 0
    assert res["baselines"]["tesseract_cli"]["pages_per_minute"] > 0
    assert res["baselines"]["naive"]["pages_per_minute"] > 0
    # classification must be far better than chance on generated forms
    assert p["doc_type"]["accuracy"] > 0.5
    for name in ("report.md", "reliability.png", "threshold_curve.png", "confusion.png"):
        assert (out / name).stat().st_size > 0
