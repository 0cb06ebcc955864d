"""Throughput of the whole pipeline vs. bare Tesseract on the same pages.

    .venv/bin/python -m bench.throughput --out bench-out/throughput [--docs 10] [--digital 10]

Generates ``--docs`` scanned two-page Gewerbe-Anmeldungen, the scan profiles
taken in turn (``office_300``, ``office_200``, ``fax``: 300 and 200 dpi,
office and fax), and ``--digital`` digital ones, then in one run measures:

* the limit: bare ``tesseract -l deu`` (OMP_THREAD_LIMIT=1), one process per
  core, all cores busy, over the same page images;
* per page, one thread, outside Temporal (the first ``--stage-pages``
  pages): where an OCR page's time goes (rendering the scanned PDF page,
  deskew, recognition by the ``tesseract`` CLI and by the in-process engine,
  recognition at the scan's own resolution, orientation detection, PNG
  encoding of the upright page, the classification encoder vs the
  identifiers alone);
* what a worker's memory is spent on, step by step in a fresh process;
* the pipeline (``formwerk process --json`` through Temporal with a warm
  worker, as in production) before and after (``--engines``: ``cli`` runs
  it as before: a tesseract process per page, the encoder on every
  document, its vocabulary widened to float32; ``tesserocr`` as now, see
  ``RUN_ENV``), each with its per-document stage times and the worker's
  peak memory (VmHWM);
* the digital documents' rate and latency through the same warm worker;
* a cold ``formwerk process`` of one two-page scan, as a user would type it
  (embedded server already up; includes loading the models in the CLI).

Prints tables and writes ``throughput.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).parent
PROFILES = ("office_300", "office_200", "fax")
STAGES = ("pages", "ocr", "classify", "extract", "total")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_corpus(out: Path, docs: int, digital: int, seed: int
                ) -> tuple[list[Path], list[Path], list[tuple[Path, int]], list[Path]]:
    """Scanned PDFs, their pages as native-resolution PNGs, each PNG's (PDF, page), digital PDFs."""
    from bench.synth import render_document, scan_document, scan_pages

    files, pages, sources, digital_files = [], [], [], []
    for i in range(docs):
        profile = PROFILES[i % len(PROFILES)]
        doc = render_document("gewerbeanmeldung", seed=seed + i)
        path = out / f"gewa-{i:02d}-{profile}.pdf"
        path.write_bytes(scan_document(doc, profile, seed=seed + i))
        files.append(path)
        for n, img in enumerate(scan_pages(doc.pdf_bytes, profile, seed=seed + i), start=1):
            png = out / f"gewa-{i:02d}-{profile}-p{n}.png"
            img.convert("L").save(png)
            pages.append(png)
            sources.append((path, n))
    for i in range(digital):
        path = out / f"digital-{i:02d}.pdf"
        path.write_bytes(render_document("gewerbeanmeldung", seed=seed + 500 + i).pdf_bytes)
        digital_files.append(path)
    return files, pages, sources, digital_files


def bare_tesseract(pages: list[Path], workers: int, lang: str) -> float:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")

    def one(p: Path) -> None:
        subprocess.run(["tesseract", str(p), "stdout", "-l", lang], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, pages))
    return time.perf_counter() - t0


PAGE_STAGES = ("render", "deskew", "recognise_cli", "recognise_inproc", "recognise_inproc_native",
               "orientation", "png_encode", "classify_encoder", "classify_identifiers")


def page_stages(pages: list[Path], sources: list[tuple[Path, int]], languages: str, dpi: int) -> dict[str, float]:
    """Mean seconds per page of each step an OCR page goes through, one thread, outside Temporal.

    As the OCR activity does it: the scanned PDF's page rendered at the
    pipeline's ``dpi``, deskewed, recognised (by the CLI and the in-process
    engine), stored upright as PNG. Beside it: recognition of the page at the
    scan's own resolution (what bare ``tesseract`` reads: a 200 dpi scan
    rendered at 300 dpi has 2.25x the pixels), orientation detection (run
    only for pages that read badly), and what classification spends per page
    with the encoder and with the identifiers alone.
    """
    from PIL import Image

    from classifiers.classes import class_defs
    from classifiers.encoder import load_encoder
    from classifiers.identifiers import IdentifierMatcher
    from classifiers.settled import settled_type
    from classifiers.text import clip
    from formwerk.documents.upright import deskew
    from formwerk.ocr import InProcessTesseractEngine, TesseractEngine
    from formwerk.pagerender import png_bytes, render_page
    from forms.catalogue import load_catalogue

    cli, inproc = TesseractEngine(languages=languages), InProcessTesseractEngine(languages=languages)
    encoder = load_encoder()
    matcher = IdentifierMatcher(class_defs(load_catalogue()))
    spent = dict.fromkeys(PAGE_STAGES, 0.0)

    def timed(key, fn, *args):
        t0 = time.perf_counter()
        value = fn(*args)
        spent[key] += time.perf_counter() - t0
        return value

    for png, (pdf, number) in zip(pages, sources):
        img = timed("render", render_page, pdf.read_bytes(), number, dpi)
        upright, _ = timed("deskew", deskew, img)
        timed("recognise_cli", cli.recognise, upright, 1)
        words = timed("recognise_inproc", inproc.recognise, upright, 1)
        native, _ = deskew(Image.open(png).convert("L"))
        timed("recognise_inproc_native", inproc.recognise, native, 1)
        timed("orientation", cli.detect_rotation, upright)
        timed("png_encode", png_bytes, upright)
        text = " ".join(w.text for w in words)
        if encoder is not None:
            timed("classify_encoder", encoder.encode, [clip(text)])
        timed("classify_identifiers", settled_type, matcher, [text])
    return {k: v / len(pages) for k, v in spent.items()}


def parallel_inproc(pages: list[Path], workers: int, languages: str) -> float:
    """Wall seconds of the in-process engine over all pages on ``workers`` threads.

    Shows that Tesseract releases the GIL: with one thread per core the wall
    time drops as with separate processes.
    """
    from PIL import Image

    from formwerk.ocr import InProcessTesseractEngine

    engine = InProcessTesseractEngine(languages=languages)
    images = [Image.open(p).convert("L") for p in pages]
    with ThreadPoolExecutor(workers) as pool:  # load one API per thread first
        list(pool.map(lambda im: engine.recognise(im.crop((0, 0, 50, 50)), 1), images[:workers]))
        t0 = time.perf_counter()
        list(pool.map(lambda im: engine.recognise(im, 1), images))
        return time.perf_counter() - t0


_MEMORY_STEPS = r"""
import json, sys
from concurrent.futures import ThreadPoolExecutor

def mib(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return round(int(line.split()[1]) / 1024)

steps = []
def mark(name):
    steps.append({"step": name, "rss": mib("VmRSS:"), "peak": mib("VmHWM:")})

mark("python")
import worker
from formwerk.settings import Settings
mark("worker modules (temporalio, workflows, extractors)")
from extractors import CatalogueExtractor
from forms.catalogue import load_catalogue
catalogue = load_catalogue(); CatalogueExtractor(catalogue)
mark("catalogue + extractor")
import torch
mark("torch")
import transformers.models.bert.modeling_bert, transformers.models.auto
mark("transformers model code")
from classifiers.encoder import load_encoder
settings = Settings()
load_encoder(settings.encoder)
mark("encoder: tokenizer + weights")
worker.ReloadingClassifier(catalogue, settings).wait_loaded()
mark("classifier artefact")
from PIL import Image
from formwerk.ocr import make_engine
engine = make_engine(settings.ocr_engine, settings.ocr_languages)
blank = Image.new("L", (400, 400), 255)
with ThreadPoolExecutor(settings.ocr_workers) as pool:
    list(pool.map(lambda _: engine.recognise(blank, 1), range(settings.ocr_workers)))
mark(f"OCR engine {type(engine).__name__}, {settings.ocr_workers} slot APIs")
print(json.dumps(steps))
"""


def memory_breakdown(env: dict) -> dict[str, list[dict]]:
    """What a worker's memory is spent on: RSS and peak (MiB) after each import and load.

    Run in a fresh process per configuration of :data:`RUN_ENV` (the
    encoder's float32 load before, its mapped vocabulary after).
    """
    out = {}
    for engine, extra in RUN_ENV.items():
        proc = subprocess.run([sys.executable, "-c", _MEMORY_STEPS], env=dict(env, **extra),
                              capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
        out[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _process(env, files, extra=()) -> tuple[float, list[dict]]:
    t0 = time.perf_counter()
    proc = subprocess.run([str(BIN / "formwerk"), "process", "--json", *extra, *map(str, files)],
                          env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    return wall, [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _fresh(files: list[Path], tag: str) -> list[Path]:
    """Copies with a distinct tail: the same bytes would attach to earlier cases."""
    out = []
    for f in files:
        copy = f.with_name(f"{tag}-{f.name}")
        copy.write_bytes(f.read_bytes() + f"\n%{tag}\n".encode())
        out.append(copy)
    return out


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _stage_means(outs: list[dict]) -> dict[str, float]:
    return {k: statistics.mean(o["timings_ms"].get(k, 0) for o in outs) for k in STAGES}


#: How each page engine's pipeline run is configured: ``cli`` is the pipeline as it
#: was (a tesseract process per page, the encoder on every document, its
#: vocabulary widened to float32 in memory), ``tesserocr`` as it is now.
RUN_ENV = {
    "cli": {"FORMWERK_OCR_ENGINE": "cli", "FORMWERK_CLASSIFY_BY_IDENTIFIERS": "0", "FORMWERK_ENCODER_MAPPED": "0"},
    "tesserocr": {"FORMWERK_OCR_ENGINE": "tesserocr", "FORMWERK_CLASSIFY_BY_IDENTIFIERS": "1",
                  "FORMWERK_ENCODER_MAPPED": "1"},
}
RUN_LABEL = {"cli": "before", "tesserocr": "after"}


def run_pipeline(env: dict, engine: str, files: list[Path], digital: list[Path], warmup: Path) -> dict:
    """One warm worker configured as ``RUN_ENV[engine]``: the scans, then the digital documents."""
    wenv = dict(env, **RUN_ENV.get(engine, {"FORMWERK_OCR_ENGINE": engine}))
    worker = subprocess.Popen([str(BIN / "formwerk"), "worker"], env=wenv,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _process(env, _fresh([warmup], f"warm-{engine}"), extra=("--no-worker",))  # models loaded
        rss_ready = _peak_rss_mib(worker.pid)
        scan_s, outs = _process(env, _fresh(files, f"run-{engine}"), extra=("--no-worker",))
        digital_s, douts, one_s = 0.0, [], 0.0
        if digital:  # --digital 0: scans only
            digital_s, douts = _process(env, _fresh(digital, f"dig-{engine}"), extra=("--no-worker",))
            one_s, _ = _process(env, _fresh(digital[:1], f"one-{engine}"), extra=("--no-worker",))
        rss_peak = _peak_rss_mib(worker.pid)
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    totals = sorted(o["timings_ms"].get("total", 0) for o in douts)
    return {
        "engine": engine, "label": RUN_LABEL.get(engine, engine), "env": RUN_ENV.get(engine, {}),
        "seconds": round(scan_s, 1),
        "statuses": [o["status"] for o in outs],
        "stages_ms_mean_per_document": {k: round(v) for k, v in _stage_means(outs).items()},
        "digital": {"documents": len(digital), "seconds": round(digital_s, 1),
                    "documents_per_minute": round(60 * len(digital) / digital_s, 1) if digital_s else None,
                    "latency_ms_median": round(statistics.median(totals)) if totals else None,
                    "latency_ms_max": totals[-1] if totals else None, "one_document_alone_s": round(one_s, 2),
                    "statuses": [o["status"] for o in douts]},
        "worker_rss_mib": {"models_loaded": rss_ready and round(rss_ready),
                           "peak": rss_peak and round(rss_peak)},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench-out/throughput"))
    ap.add_argument("--docs", type=int, default=10, help="scanned two-page documents (default 10: 20 pages)")
    ap.add_argument("--digital", type=int, default=10, help="digital documents")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--bare-lang", default="deu", help="languages of the bare tesseract limit")
    ap.add_argument("--engines", default="cli,tesserocr", help="page engines to run the pipeline with")
    ap.add_argument("--stage-pages", type=int, default=6,
                    help="pages of the one-thread stage profile (the first documents: every profile, both pages)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    files, pages, sources, digital = make_corpus(args.out, args.docs, args.digital, args.seed)
    from formwerk.settings import get_settings

    languages, dpi = get_settings().ocr_languages, get_settings().render_dpi
    env = dict(os.environ, FORMWERK_DATA_DIR=str(args.out / "data"),
               FORMWERK_TEMPORAL_ADDRESS=f"127.0.0.1:{_free_port()}",
               FORMWERK_TEMPORAL_UI_PORT=str(_free_port()), OMP_THREAD_LIMIT="1")
    limit_s = bare_tesseract(pages, cores, args.bare_lang)
    stages = page_stages(pages[:args.stage_pages], sources[:args.stage_pages], languages, dpi)
    memory = memory_breakdown(env)
    threads_s = parallel_inproc(pages, cores, languages)
    warmup = args.out / "warmup.pdf"
    from bench.synth import render_document

    warmup.write_bytes(render_document("gewerbeanmeldung", seed=1).pdf_bytes)
    runs = []
    try:
        _process(env, [warmup])  # starts the embedded Temporal server
        cold_s, cold_out = _process(env, _fresh(files[:1], "cold"))
        for engine in args.engines.split(","):
            runs.append(run_pipeline(env, engine, files, digital, warmup))
    finally:
        subprocess.run([str(BIN / "formwerk"), "down"], env=env, capture_output=True)

    n = len(pages)
    limit_ppm = 60 * n / limit_s
    for r in runs:
        r["pages_per_minute"] = round(60 * n / r["seconds"], 1)
        r["vs_limit"] = round(r["pages_per_minute"] / limit_ppm, 3)
    result = {
        "pages": n, "profiles": list(PROFILES), "cores": cores, "ocr_languages": languages,
        "bare_tesseract": {"lang": args.bare_lang, "seconds": round(limit_s, 1),
                           "pages_per_minute": round(limit_ppm, 1)},
        "page_stages_s_one_thread": {"pages": min(n, args.stage_pages), **{k: round(v, 3) for k, v in stages.items()}},
        "inproc_threads": {"threads": cores, "seconds": round(threads_s, 1),
                           "pages_per_minute": round(60 * n / threads_s, 1),
                           # one-thread time estimated from the stage profile's pages
                           "speedup_vs_one_thread": round(stages["recognise_inproc"] * n / threads_s, 2)},
        "worker_memory_mib": memory,
        "pipeline": runs,
        "cold_cli_one_two_page_scan": {"seconds": round(cold_s, 1), "timings_ms": cold_out[0]["timings_ms"]},
    }
    if runs:
        result["pipeline_vs_limit"] = runs[-1]["vs_limit"]
    (args.out / "throughput.json").write_text(json.dumps(result, indent=2))

    print(f"{n} scanned pages ({', '.join(PROFILES)}), {cores} cores, pipeline languages {languages}, "
          f"rendered at {dpi} dpi")
    print(f"\n{'measure':58} {'seconds':>8} {'pages/min':>10} {'vs limit':>9}")
    print(f"{f'bare tesseract -l {args.bare_lang}, 1 thread x {cores} processes':58} "
          f"{limit_s:8.1f} {limit_ppm:10.1f} {1:9.2f}")
    for r in runs:
        label = f"pipeline ({r['label']}), warm worker, Temporal, engine {r['engine']}"
        print(f"{label:58} {r['seconds']:8.1f} {r['pages_per_minute']:10.1f} {r['vs_limit']:9.2f}")
    print(f"{f'in-process engine alone, {cores} threads':58} {threads_s:8.1f} {60 * n / threads_s:10.1f} "
          f"{60 * n / threads_s / limit_ppm:9.2f}")
    print(f"{'formwerk process, one 2-page scan (cold CLI)':58} {cold_s:8.1f}")
    print(f"\nper page, one thread, outside Temporal (s, mean of the first {min(n, args.stage_pages)} pages):")
    for k, v in stages.items():
        print(f"  {k:26} {v:7.3f}")
    print(f"\nper scanned document, mean ms        {'  '.join(f'{k:>8}' for k in STAGES)}")
    for r in runs:
        print(f"  {r['label'] + ' (' + r['engine'] + ')':34} "
              + "  ".join(f"{r['stages_ms_mean_per_document'][k]:8}" for k in STAGES))
    print(f"\n{'run':20} {'digital docs/min':>16} {'latency median ms':>18} {'max ms':>7} {'one alone s':>12} "
          f"{'RSS ready MiB':>14} {'RSS peak MiB':>13}")
    for r in runs:
        d, m = r["digital"], r["worker_rss_mib"]
        print(f"{r['label'] + ' (' + r['engine'] + ')':20} {d['documents_per_minute'] or 0:16.1f} "
              f"{d['latency_ms_median'] or '-':>18} {d['latency_ms_max'] or '-':>7} {d['one_document_alone_s']:12.2f} "
              f"{m['models_loaded'] or 0:14} {m['peak'] or 0:13}")
    print("\nworker memory by step, fresh process (RSS / peak MiB):")
    names = [st["step"] for st in next(iter(memory.values()))]
    print(f"  {'step':52} " + "  ".join(f"{RUN_LABEL.get(k, k) + ' (' + k + ')':>18}" for k in memory))
    for i, name in enumerate(names):
        print(f"  {name[:52]:52} " + "  ".join(f"{memory[k][i]['rss']:>8} / {memory[k][i]['peak']:<7}"
                                                for k in memory))
    if runs:
        print(f"\npipeline / limit = {result['pipeline_vs_limit']:.2f}  ({n} pages, engine {runs[-1]['engine']}; "
              + ", ".join(f"{r['label']} {r['vs_limit']:.2f}" for r in runs) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
