"""Scale-out: 1, 2 and 4 OCR worker processes against one Temporal server and one PostgreSQL store.

    .venv/bin/python -m bench.scaleout --out bench-out/scaleout [--docs 8] [--workers 1,2,4]

The production layout in small: one Temporal dev server, one PostgreSQL case
store, one shared blob directory, one case-worker process
(``FORMWERK_WORKER_QUEUES=cases``: workflows and their light steps) and
N page worker processes (``FORMWERK_WORKER_QUEUES=ocr``, one slot each for
OCR and one for a scan's classification and extraction), started as ``formwerk worker`` would be. The same ``--docs`` scanned
two-page Gewerbe-Anmeldungen go through every configuration (fresh references,
so nothing is attached to an earlier case); the clock runs from the first
submit to the last case routed, with every worker already polling.

Baseline of the same run: bare ``tesseract`` (deu+eng, one thread) over the
same page images with 1 and 2 processes: what the cores can do at all.
Prints a table and writes ``scaleout.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.pgschema import private_schema

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


async def _pollers(client, queue: str, kind: str) -> int:
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    t = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY if kind == "activity" else TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
    resp = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=t))
    return len(resp.pollers)


def _spawn(env_base: dict, log: Path, **env) -> subprocess.Popen:
    with open(log, "ab") as out:  # a file, not a pipe: a full pipe would stall the worker
        return subprocess.Popen([sys.executable, str(REPO / "worker.py")], cwd=REPO,
                                env={**env_base, **{k: str(v) for k, v in env.items()}},
                                stdout=subprocess.DEVNULL, stderr=out)


async def run_config(client, address: str, db_url: str, data_dir: Path, files: list[Path], n_ocr: int,
                     pages: int) -> dict:
    from formwerk.commands import wait_routed
    from formwerk.intake import policies_from_catalogue, submit
    from formwerk.storage import BlobStore

    tag = uuid.uuid4().hex[:6]
    queues = (f"scale-cases-{tag}", f"scale-ocr-{tag}")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", "FORMWERK_TEMPORAL_ADDRESS": address,
           "FORMWERK_EMBEDDED_TEMPORAL": "false", "FORMWERK_DATABASE_URL": db_url,
           "FORMWERK_DATA_DIR": str(data_dir), "FORMWERK_TASK_QUEUE": queues[0],
           "FORMWERK_OCR_TASK_QUEUE": queues[1]}
    log = data_dir.parent / f"workers-{n_ocr}.log"
    procs = [_spawn(env, log, FORMWERK_WORKER_QUEUES="cases")]
    procs += [_spawn(env, log, FORMWERK_WORKER_QUEUES="ocr", FORMWERK_OCR_WORKERS=1) for _ in range(n_ocr)]
    try:
        t_start = time.perf_counter()
        while (await _pollers(client, queues[1], "activity") < n_ocr
               or await _pollers(client, queues[0], "workflow") < 1):
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker exited: " + log.read_text(errors="replace")[-2000:])
            if time.perf_counter() - t_start > 300:
                raise TimeoutError("workers did not start polling within 300 s")
            await asyncio.sleep(0.5)
        startup_s = time.perf_counter() - t_start
        blobs = BlobStore(data_dir / "blobs")
        policies = policies_from_catalogue()
        t0 = time.perf_counter()
        subs = [await submit(client, blobs, f.read_bytes(), filename=f.name, reference=f"S{n_ocr}-{tag}-{i}",
                             task_queue=queues[0], ocr_task_queue=queues[1], policies=policies)
                for i, f in enumerate(files)]
        routed = await asyncio.gather(*(wait_routed(s.handle, 1800) for s in subs))
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    statuses = [r.status.value for r in routed]
    return {"ocr_processes": n_ocr, "case_processes": 1, "docs": len(files), "pages": pages,
            "wall_s": round(wall, 1), "pages_per_minute": round(pages / wall * 60, 1),
            "worker_startup_s": round(startup_s, 1),
            "statuses": {s: statuses.count(s) for s in sorted(set(statuses))}}


async def main_async(args) -> dict:
    from temporalio.testing import WorkflowEnvironment

    from bench.throughput import bare_tesseract, make_corpus

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = tmp / "corpus"
        corpus.mkdir()
        files, page_images = make_corpus(corpus, args.docs, seed=args.seed)
        baseline = {w: bare_tesseract(page_images, w) for w in (1, 2)}
        from formwerk.codec import data_converter
        from formwerk.settings import Settings

        # the worker processes encrypt payloads with the data dir's keyring: so must this client
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(BIN / "temporal"),
                                                    data_converter=data_converter(Settings(data_dir=tmp / "data")),
                                                    ui=False, dev_server_log_level="error")
        try:
            with private_schema("scale") as db_url:
                address = env.client.service_client.config.target_host
                runs = []
                for n in args.workers:
                    run = await run_config(env.client, address, db_url, tmp / "data", files, n, len(page_images))
                    runs.append(run)
                    print(f"  {n} OCR process(es): {run['pages_per_minute']} pages/min ({run['wall_s']} s)",
                          flush=True)
        finally:
            await env.shutdown()
    first = runs[0]["pages_per_minute"]
    for r in runs:
        r["speedup"] = round(r["pages_per_minute"] / first, 2)
    n_pages = len(page_images)
    return {
        "cores": os.cpu_count(), "docs": args.docs, "pages": n_pages, "runs": runs,
        "baseline_bare_tesseract": {str(w): {"wall_s": round(s, 1), "pages_per_minute": round(n_pages / s * 60, 1)}
                                    for w, s in baseline.items()},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench-out/scaleout"))
    ap.add_argument("--docs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=300)
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(main_async(args))
    (args.out / "scaleout.json").write_text(json.dumps(result, indent=2))
    print(f"\nscale-out on {result['cores']} cores: {result['docs']} two-page scans ({result['pages']} pages), "
          "one Temporal dev server, one PostgreSQL store, 1 case-worker process")
    print(f"{'configuration':<34}{'wall s':>8}{'pages/min':>11}{'speed-up':>10}")
    for r in result["runs"]:
        label = f"{r['ocr_processes']} OCR process(es) x 1 slot"
        print(f"{label:<34}{r['wall_s']:>8}{r['pages_per_minute']:>11}{r['speedup']:>10}")
    for w, b in result["baseline_bare_tesseract"].items():
        print(f"{'baseline: bare tesseract x ' + w:<34}{b['wall_s']:>8}{b['pages_per_minute']:>11}{'':>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
