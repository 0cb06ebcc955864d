"""Filled digital forms through Temporal with a warm worker: rate and latency (not a test).

    .venv/bin/python -m bench.digital --out bench-out/digital [--docs 300] [--concurrency 8] [--workers 1]

The stack as an operator runs it (``bench.procstack``): the Temporal dev
server (SQLite file), ``--workers`` warm ``formwerk worker`` processes,
SQLite; the submitting client is this process. Each run submits ``--docs``
filled GewA 1 AcroForms (the real form from ../shared/data/forms when
present, else the generated digital form; every copy different) with at most
``--concurrency`` cases in flight, each waited for until it is routed (the
``routed`` update, as ``formwerk process`` and the API's ``?wait`` do).

Two runs on the same stack, interleaved in rounds so a busy moment of the
machine hits both alike:

* ``before``: every step a Temporal activity on a task queue (register,
  prepare, classify, extract, three saves), as runs did before the light
  steps became local activities (``CaseInput.steps_as_activities``);
* ``after``: as now: the light steps of a document that needs no OCR run as
  local activities in the worker that runs the workflow.

Measured: documents per second (first submit to last routed), p50/p95 of
submit → routed as the caller sees it, one document alone (p50 of
``--alone`` documents one after the other), and CPU seconds per document of
the worker(s) and of the Temporal server (from ``/proc``). Goal (#16): ≥ 20
documents/s on the machine's cores, p95 under 0.5 s. Prints a table, writes
``digital.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

RUNS = {"before": True, "after": False}  # label -> steps_as_activities


def documents(n: int) -> tuple[list[bytes], str]:
    from bench.synth import render_document
    from bench.synth.realforms import fill_real_form

    out, source = [], "generated digital form (../shared/data/forms absent)"
    for i in range(n):
        real = fill_real_form("gewerbeanmeldung", 9000 + i)
        if real is not None:
            source = "real GewA 1 AcroForm, filled"
        out.append(real.pdf_bytes if real is not None else render_document("gewerbeanmeldung", 9000 + i).pdf_bytes)
    return out, source


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its waited-for children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class Run:
    def __init__(self, label: str) -> None:
        self.label = label
        self.latencies: list[float] = []
        self.alone: list[float] = []
        self.seconds = 0.0
        self.docs = 0
        self.cpu_worker = 0.0
        self.cpu_temporal = 0.0
        self.statuses: dict[str, int] = {}
        self.errors: list[str] = []


async def one(client, blobs, settings, policies, data: bytes, run: Run, *, as_activities: bool) -> float | None:
    from formwerk.commands import wait_routed
    from formwerk.intake import submit

    t0 = time.perf_counter()
    try:
        sub = await submit(client, blobs, data + f"\n%{uuid.uuid4().hex}\n".encode(), filename="antrag.pdf",
                           reference=f"DIG-{uuid.uuid4().hex[:12]}", task_queue=settings.task_queue,
                           ocr_task_queue=settings.ocr_task_queue, policies=policies,
                           steps_as_activities=as_activities)
        result = await wait_routed(sub.handle, 300)
    except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
        run.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        return None
    run.statuses[result.status.value] = run.statuses.get(result.status.value, 0) + 1
    return time.perf_counter() - t0


async def burst(stack, client, blobs, policies, docs: list[bytes], concurrency: int, run: Run) -> None:
    gate = asyncio.Semaphore(concurrency)
    as_activities = RUNS[run.label]
    pids = [p.pid for p in stack.workers]

    async def gated(data: bytes):
        async with gate:
            dt = await one(client, blobs, stack.settings, policies, data, run, as_activities=as_activities)
            if dt is not None:
                run.latencies.append(dt)

    cpu_w0 = sum(cpu_seconds(p) for p in pids)
    cpu_t0 = cpu_seconds(stack.temporal.pid)
    t0 = time.perf_counter()
    await asyncio.gather(*(gated(d) for d in docs))
    run.seconds += time.perf_counter() - t0
    run.docs += len(docs)
    run.cpu_worker += sum(cpu_seconds(p) for p in pids) - cpu_w0
    run.cpu_temporal += cpu_seconds(stack.temporal.pid) - cpu_t0


async def measure(args) -> dict:
    from bench.api_load import pct
    from bench.procstack import ProcessStack
    from formwerk.intake import policies_from_catalogue

    docs, source = documents(args.docs + args.alone + 4)
    warm, alone, load = docs[:4], docs[4:4 + args.alone], docs[4 + args.alone:]
    tmp = Path(tempfile.mkdtemp(prefix="bench-digital-"))
    cores = os.cpu_count() or 1
    ps = ProcessStack(tmp, ocr_workers=max(1, cores // args.workers))
    runs = {label: Run(label) for label in RUNS}
    try:
        ps.blobs()  # the keyring, before any process reads it
        ps.start_temporal()
        for _ in range(args.workers):
            ps.start_worker()
        for proc in ps.workers:
            ps.wait_ready(proc, 180)
        client = await ps.client()
        blobs = ps.blobs()
        policies = policies_from_catalogue()
        for label, run in runs.items():  # warm: the classifier loaded, connections open
            for data in warm:
                await one(client, blobs, ps.settings, policies, data, Run(label), as_activities=RUNS[label])
        for label, run in runs.items():  # one alone, one after the other
            for data in alone:
                dt = await one(client, blobs, ps.settings, policies, data, run, as_activities=RUNS[label])
                if dt is not None:
                    run.alone.append(dt)
        rounds = max(1, args.rounds)
        share = [load[i::rounds] for i in range(rounds)]
        for part in share:  # interleaved: before, after, before, after ...
            for label, run in runs.items():
                await burst(ps, client, blobs, policies, part, args.concurrency, run)
    finally:
        ps.close()

    def row(run: Run) -> dict:
        n = len(run.latencies)
        return {
            "documents": run.docs, "routed": n, "seconds": round(run.seconds, 2),
            "documents_per_second": round(n / run.seconds, 2) if run.seconds else None,
            "p50_s": pct(run.latencies, 0.5), "p95_s": pct(run.latencies, 0.95),
            "max_s": max(run.latencies) if run.latencies else None,
            "alone_p50_s": statistics.median(run.alone) if run.alone else None,
            "worker_cpu_s_per_doc": round(run.cpu_worker / max(1, run.docs), 4),
            "temporal_cpu_s_per_doc": round(run.cpu_temporal / max(1, run.docs), 4),
            "statuses": run.statuses, "errors": run.errors[:10], "n_errors": len(run.errors),
        }

    result = {
        "documents": len(load), "concurrency": args.concurrency, "workers": args.workers, "cores": cores,
        "rounds": args.rounds, "source": source,
        "runs": {label: row(run) for label, run in runs.items()},
        "goal": {"documents_per_second": 20.0, "p95_s": 0.5},
        "load_average_at_end": os.getloadavg()[0],
    }
    after = result["runs"]["after"]
    result["goal"]["met"] = bool(after["documents_per_second"] and after["documents_per_second"] >= 20.0
                                 and after["p95_s"] is not None and after["p95_s"] < 0.5)
    return result


def table(r: dict) -> str:
    def ms(v):
        return "-" if v is None else f"{v * 1000:.0f}"

    head = ("run", "docs/s", "p50 ms", "p95 ms", "max ms", "alone ms", "worker CPU ms/doc", "Temporal CPU ms/doc",
            "errors")
    rows = [head]
    for label, x in r["runs"].items():
        rows.append((label, f"{x['documents_per_second']}", ms(x["p50_s"]), ms(x["p95_s"]), ms(x["max_s"]),
                     ms(x["alone_p50_s"]), f"{x['worker_cpu_s_per_doc'] * 1000:.0f}",
                     f"{x['temporal_cpu_s_per_doc'] * 1000:.0f}", str(x["n_errors"])))
    from bench.report import aligned

    lines = aligned(rows)
    goal = r["goal"]
    lines.append(f"{r['documents']} digital documents per run ({r['source']}), {r['concurrency']} in flight, "
                 f"{r['workers']} worker process(es), {r['cores']} cores, {r['rounds']} interleaved rounds; "
                 f"load average at the end {r['load_average_at_end']:.1f}")
    lines.append(f"goal ≥ {goal['documents_per_second']:.0f} docs/s and p95 < {goal['p95_s'] * 1000:.0f} ms: "
                 f"{'met' if goal['met'] else 'NOT met'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.digital", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench-out/digital"))
    ap.add_argument("--docs", type=int, default=300, help="documents per run (before / after)")
    ap.add_argument("--concurrency", type=int, default=8, help="cases in flight")
    ap.add_argument("--workers", type=int, default=1, help="formwerk worker processes")
    ap.add_argument("--alone", type=int, default=5, help="documents sent one after the other first")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved before/after rounds")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(measure(args))
    (args.out / "digital.json").write_text(json.dumps(result, indent=2))
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
