"""The benchmark run: corpus → pipeline (CLI contract) → metrics → baselines → report.

Output folder layout (all generated, gitignored)::

    <out>/corpus/           generated documents + manifest.jsonl
    <out>/pages/            300 dpi page images of the baseline sample
    <out>/formwerk-data/    the pipeline's own store (FORMWERK_DATA_DIR)
    <out>/pipeline.jsonl    raw contract output, one line per file
    <out>/results.json      every figure (schema: see :func:`evaluate`)
    <out>/report.md         the same as a readable report, with the plots
    <out>/reliability.png, threshold_curve.png, confusion.png
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from bench import metrics, negatives, plots, report
from bench.baselines import naive_baseline, render_pages, sample_items, tesseract_limit
from bench.corpus import build_corpus, read_manifest
from bench.pipeline import PipelineRun, default_command, run_pipeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaselineSizes:
    """Sample caps for the baselines (the naive one OCRs with default threading: slow)."""

    naive_docs: int
    naive_pages: int
    limit_pages: int


BASELINE_SIZES = {
    "tiny": BaselineSizes(2, 3, 3),
    "small": BaselineSizes(6, 10, 16),
    "full": BaselineSizes(16, 24, 48),
}


def evaluate(items: Sequence[dict[str, Any]], results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """All quality metrics of one result set (pure: used for pipeline and samples).

    Mixed batches are scored by how they were split (``batches``), everything
    else per document; the counts cover both.
    """
    batches = [it for it in items if it.get("category") == "batch"]
    all_items, items = items, [it for it in items if it.get("category") != "batch"]
    obs = metrics.field_observations(items, results)
    return {
        "documents": len(all_items),
        "pages": sum(int(it.get("pages") or 0) for it in all_items),
        "doc_type": metrics.doc_type_accuracy(items, results),
        "type_calibration": metrics.type_calibration(items, results),
        "batches": metrics.batch_split(batches, results) if batches else None,
        "confusion": metrics.confusion_matrix(items, results),
        "fields": metrics.field_accuracy(obs),
        "review": metrics.review_metrics(obs),
        "straight_through": metrics.straight_through(items, results, obs),
        "threshold_curve": metrics.threshold_curve(obs),
        "calibration": metrics.calibration(obs),
        "by_category": metrics.by_category(items, results, obs),
        "by_profile": metrics.by_category(items, results, obs, key="profile"),
        "by_source": metrics.by_category(items, results, obs, key=("category", "doc_type", "profile")),
    }


def summary(ev: dict[str, Any]) -> dict[str, Any]:
    """The handful of figures the comparison table needs."""
    return {
        "doc_type_accuracy": ev["doc_type"]["accuracy"],
        "field_accuracy": ev["fields"]["accuracy"],
        "straight_through_rate": ev["straight_through"]["rate"],
        "straight_through_correct_rate": ev["straight_through"]["correct_rate"],
        "auto_accepted_share": ev["review"]["auto_accepted_share"],
        "auto_accepted_accuracy": ev["review"]["auto_accepted_accuracy"],
    }


def speed(run: PipelineRun, pages: int) -> dict[str, Any]:
    return {
        "wall_s": run.wall_s,
        "warmup_s": run.warmup_s,
        "worker_warmup_s": run.worker_warmup_s,
        "mode": "warm `formwerk worker` + `process --no-worker`" if run.worker_pid else "CLI with in-process worker",
        "batches": run.batches,
        "pages_per_minute": metrics.pages_per_minute(pages, run.wall_s),
        "stages": metrics.stage_timings(run.results.values()),
        "peak_rss_mb": run.peak_rss_mb,
        "worker_peak_rss_mb": run.worker_peak_rss_mb,
    }


def run_baselines(out: Path, items: Sequence[dict[str, Any]], pipeline_results: dict[str, dict[str, Any]],
                  sizes: BaselineSizes) -> dict[str, Any]:
    corpus_dir = out / "corpus"
    limit_items = sample_items(items, max_docs=10_000, max_pages=sizes.limit_pages)
    naive_items = sample_items(items, max_docs=sizes.naive_docs, max_pages=sizes.naive_pages)
    page_dir = out / "pages"
    images = {it["file"]: render_pages(corpus_dir / it["file"], page_dir) for it in limit_items + naive_items}
    limit_imgs = [p for it in limit_items for p in images[it["file"]]]
    log.info("baseline 1: tesseract CLI over %d pages", len(limit_imgs))
    lim = tesseract_limit(limit_imgs)
    log.info("baseline 2: naive pytesseract + regex over %d documents", len(naive_items))
    nv = naive_baseline([(it["file"], images[it["file"]]) for it in naive_items])
    naive_ev = summary(evaluate(naive_items, nv.results))
    return {
        "sample_files": [it["file"] for it in naive_items],
        "sample_docs": len(naive_items),
        "sample_pages": sum(len(images[it["file"]]) for it in naive_items),
        "tesseract_cli": {"pages": lim.pages, "wall_s": lim.wall_s, "workers": lim.workers,
                          "errors": lim.errors, "pages_per_minute": lim.pages_per_minute,
                          "files": [it["file"] for it in limit_items]},
        "naive": {**naive_ev, "pages": nv.throughput.pages, "wall_s": nv.throughput.wall_s,
                  "pages_per_minute": nv.throughput.pages_per_minute, "results": nv.results},
        "pipeline_on_sample": summary(evaluate(naive_items, pipeline_results)),
    }


def write_outputs(out: Path, results: dict[str, Any]) -> None:
    """results.json, report.md and the three plots."""
    p = results["pipeline"]
    plots.reliability_diagram(p["calibration"], out / "reliability.png")
    plots.threshold_curve(p["threshold_curve"], out / "threshold_curve.png")
    plots.confusion(p["confusion"], out / "confusion.png")
    (out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    (out / "report.md").write_text(report.markdown(results))


def load_or_build_corpus(out: Path, size: str, seed: int, reuse: bool, synth: Any) -> tuple[list[dict[str, Any]], list]:
    """Generate the corpus, or reuse ``<out>/corpus`` if it was made with the same size and seed."""
    meta_path = out / "corpus" / "corpus.json"
    if reuse and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("size") == size and meta.get("seed") == seed:
            log.info("reusing corpus in %s", meta_path.parent)
            return read_manifest(meta_path.parent / "manifest.jsonl"), meta.get("skipped", [])
    log.info("generating %s corpus (seed %d) into %s", size, seed, out / "corpus")
    corpus_items, skipped = build_corpus(out, size, seed, synth=synth)
    meta_path.write_text(json.dumps({"size": size, "seed": seed, "skipped": skipped}, default=str))
    return [it.to_json() for it in corpus_items], skipped


def run(out: str | Path, size: str = "small", seed: int = 0, *, command: Sequence[str] | None = None,
        batch_size: int = 24, baselines: bool = True, synth: Any = ...,
        reuse_corpus: bool = False, warm_worker: bool = True) -> dict[str, Any]:
    """The whole benchmark; returns the ``results.json`` dict (also written)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()

    items, skipped = load_or_build_corpus(out, size, seed, reuse_corpus, synth)
    pages = {it["file"]: it["pages"] for it in items}

    warm = out / "warmup" / "warmup-letter.pdf"
    warm.parent.mkdir(exist_ok=True)
    # a letter scan loads every model (OCR, classifier) without being part of the corpus
    warm.write_bytes(negatives.rasterise(negatives.letter_pdf(seed + 7_777_777), seed))
    cmd = list(command or default_command())
    # a fresh store: cases are keyed by content hash, so a store kept from an
    # earlier run would answer from history and fake the speed
    shutil.rmtree(out / "formwerk-data", ignore_errors=True)
    log.info("running the pipeline over %d files (%d pages): %s", len(items), sum(pages.values()), " ".join(cmd))
    prun = run_pipeline([out / "corpus" / it["file"] for it in items], out / "formwerk-data", command=cmd,
                        batch_size=batch_size, warmup=warm, pages=pages, warm_worker=warm_worker)
    with open(out / "pipeline.jsonl", "w", encoding="utf-8") as fh:
        for it in items:
            if it["file"] in prun.results:
                fh.write(json.dumps(prun.results[it["file"]], ensure_ascii=False) + "\n")

    ev = evaluate(items, prun.results)
    ev["speed"] = speed(prun, ev["pages"])
    ev["errors"] = prun.errors
    results: dict[str, Any] = {
        "meta": {
            "size": size, "seed": seed, "started_at": started.isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(), "command": cmd,
            "corpus": {"documents": len(items), "pages": ev["pages"], "skipped": skipped,
                       "categories": {c: v["n"] for c, v in ev["by_category"].items()}},
        },
        "pipeline": ev,
        "baselines": run_baselines(out, items, prun.results, BASELINE_SIZES[size]) if baselines else {},
    }
    results["meta"]["duration_s"] = time.perf_counter() - t0
    write_outputs(out, results)
    return results


def rescore(out: str | Path) -> dict[str, Any]:
    """Recompute every metric of an earlier run from its stored outputs.

    Reads ``corpus/manifest.jsonl``, ``pipeline.jsonl`` and ``results.json``
    (speed, memory and baseline raw results are kept as measured); rewrites
    results.json, report.md and the plots. For changed metric code or truth,
    without re-running OCR.
    """
    out = Path(out).resolve()
    old = json.loads((out / "results.json").read_text())
    items = read_manifest(out / "corpus" / "manifest.jsonl")
    results: dict[str, dict[str, Any]] = {}
    with open(out / "pipeline.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                results[Path(str(obj.get("file", ""))).name] = obj
    ev = evaluate(items, results)
    ev["speed"] = old["pipeline"]["speed"]
    ev["errors"] = old["pipeline"].get("errors", [])
    old["pipeline"] = ev
    b = old.get("baselines") or {}
    if b.get("naive"):
        sample = [it for it in items if it["file"] in set(b["sample_files"])]
        b["naive"].update(summary(evaluate(sample, b["naive"]["results"])))
        b["pipeline_on_sample"] = summary(evaluate(sample, results))
    write_outputs(out, old)
    return old
