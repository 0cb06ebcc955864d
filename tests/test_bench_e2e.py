"""The real benchmark, small size, through the real `formwerk` CLI (slow: OCR of ~40 docs).

Run with ``.venv/bin/pytest -m slow tests/test_bench_e2e.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.pipeline import default_command

pytestmark = pytest.mark.slow


@pytest.mark.timeout(3600)
@pytest.mark.skipif(not Path(default_command()[0]).exists() or shutil.which("tesseract") is None,
                    reason="formwerk CLI or tesseract not installed")
def test_small_benchmark_end_to_end(tmp_path):
    out = tmp_path / "bench-out"
    proc = subprocess.run([sys.executable, "-m", "bench", "--out", str(out), "--size", "small", "--seed", "1"],
                          capture_output=True, text=True, timeout=1800, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pages / minute" in proc.stdout
    res = json.loads((out / "results.json").read_text())
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
