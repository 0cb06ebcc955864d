"""Throughput of the whole pipeline vs. bare Tesseract on the same pages.

    .venv/bin/python -m bench.throughput --out bench-out/throughput [--docs 10]

Generates ``--docs`` scanned two-page Gewerbe-Anmeldungen (office scans,
300 dpi), then in one run measures:

* the limit: bare ``tesseract`` (deu+eng, OMP_THREAD_LIMIT=1), one process per
  core, all cores busy, over the same page images;
* the pipeline: ``formwerk process --json`` through Temporal with a warm worker
  (``formwerk worker`` already running, as in production);
* a cold ``formwerk process`` of one two-page scan, as a user would type it
  (embedded server already up; includes loading the models in the CLI).

Prints a table and writes ``throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_corpus(out: Path, docs: int, seed: int) -> tuple[list[Path], list[Path]]:
    from bench.synth import render_document, scan_document, scan_pages

    files, pages = [], []
    for i in range(docs):
        doc = render_document("gewerbeanmeldung", seed=seed + i)
        path = out / f"gewa-{i:02d}.pdf"
        path.write_bytes(scan_document(doc, "office_300", seed=seed + i))
        files.append(path)
        for n, img in enumerate(scan_pages(doc.pdf_bytes, "office_300", seed=seed + i), start=1):
            png = out / f"gewa-{i:02d}-p{n}.png"
            img.convert("L").save(png)
            pages.append(png)
    return files, pages


def bare_tesseract(pages: list[Path], workers: int) -> float:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")

    def one(p: Path) -> None:
        subprocess.run(["tesseract", str(p), "stdout", "-l", "deu+eng"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, pages))
    return time.perf_counter() - t0


def _process(env, files, extra=()) -> tuple[float, list[dict]]:
    t0 = time.perf_counter()
    proc = subprocess.run([str(BIN / "formwerk"), "process", "--json", *extra, *map(str, files)],
                          env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    return wall, [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench-out/throughput"))
    ap.add_argument("--docs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=100)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    files, pages = make_corpus(args.out, args.docs, args.seed)

    env = dict(os.environ, FORMWERK_DATA_DIR=str(args.out / "data"),
               FORMWERK_TEMPORAL_ADDRESS=f"127.0.0.1:{_free_port()}",
               FORMWERK_TEMPORAL_UI_PORT=str(_free_port()), OMP_THREAD_LIMIT="1")
    limit_s = bare_tesseract(pages, cores)
    # cold: one two-page scan, as typed by a user (starts the embedded server first)
    warmup = args.out / "warmup.pdf"
    from bench.synth import render_document

    warmup.write_bytes(render_document("gewerbeanmeldung", seed=1).pdf_bytes)
    _process(env, [warmup])  # starts the embedded Temporal server
    cold_s, cold_out = _process(env, [files[0]])
    worker = subprocess.Popen([str(BIN / "formwerk"), "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _process(env, [warmup], extra=("--no-worker",))  # the worker has loaded its models
        # fresh copies: the same bytes would attach to the cases processed above
        fresh = []
        for f in files:
            copy = args.out / f"run-{f.name}"
            copy.write_bytes(f.read_bytes() + b"\n%run\n")
            fresh.append(copy)
        warm_s, outs = _process(env, fresh, extra=("--no-worker",))
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        subprocess.run([str(BIN / "formwerk"), "down"], env=env, capture_output=True)

    n = len(pages)
    result = {
        "pages": n, "cores": cores,
        "bare_tesseract": {"seconds": round(limit_s, 1), "pages_per_minute": round(60 * n / limit_s, 1)},
        "pipeline_warm_worker": {"seconds": round(warm_s, 1), "pages_per_minute": round(60 * n / warm_s, 1),
                                 "statuses": [o["status"] for o in outs],
                                 "timings_ms": [o["timings_ms"] for o in outs]},
        "cold_cli_one_two_page_scan": {"seconds": round(cold_s, 1),
                                        "timings_ms": cold_out[0]["timings_ms"]},
    }
    result["pipeline_vs_limit"] = round(result["pipeline_warm_worker"]["pages_per_minute"]
                                        / result["bare_tesseract"]["pages_per_minute"], 3)
    (args.out / "throughput.json").write_text(json.dumps(result, indent=2))
    print(f"{'measure':44} {'seconds':>8} {'pages/min':>10}")
    print(f"{'bare tesseract, 1 thread x ' + str(cores) + ' processes':44} {limit_s:8.1f} {60 * n / limit_s:10.1f}")
    print(f"{'formwerk pipeline (warm worker, Temporal)':44} {warm_s:8.1f} {60 * n / warm_s:10.1f}")
    print(f"{'formwerk process, one 2-page scan (cold CLI)':44} {cold_s:8.1f}")
    print(f"pipeline / limit = {result['pipeline_vs_limit']:.2f}  ({n} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
