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

With ``--before-tree DIR`` (a checkout of older code, e.g. ``git worktree add
/tmp/base d619c0f``; its ``models/`` may be a link to this one's) the two runs
compare code instead of layouts: ``before`` runs workers of DIR's code,
``after`` workers of this checkout's (the tree this module is imported from),
each on its own stack (Temporal server, data directory), both with the light
steps as local activities; the rounds interleave as above. Run the bench from
a clean checkout (``cd /tmp/after && .venv/bin/python -m bench.digital``):
workers import the code of the tree they are told, not the editable install.

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
HERE = Path(__file__).resolve().parent.parent  # the checkout whose code "after" runs


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


def tree_stack(data_dir: Path, tree: Path, **overrides):
    """A ``ProcessStack`` whose workers import the code of ``tree`` (PYTHONPATH first)."""
    from bench.procstack import ProcessStack

    class TreeStack(ProcessStack):
        def env(self, **kw) -> dict[str, str]:
            env = super().env(**kw)
            env["PYTHONPATH"] = os.pathsep.join([str(tree)] + [p for p in [env.get("PYTHONPATH")] if p])
            return env

    return TreeStack(data_dir, **overrides)


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


async def burst(stack, send, docs: list[bytes], concurrency: int, run: Run) -> None:
    gate = asyncio.Semaphore(concurrency)
    pids = [p.pid for p in stack.workers]

    async def gated(data: bytes):
        async with gate:
            dt = await send(run.label, data, run)
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
    from formwerk.intake import policies_from_catalogue

    docs, source = documents(args.docs + args.alone + 4)
    warm, alone, load = docs[:4], docs[4:4 + args.alone], docs[4 + args.alone:]
    tmp = Path(tempfile.mkdtemp(prefix="bench-digital-"))
    cores = os.cpu_count() or 1
    ocr_workers = max(1, cores // args.workers)
    runs = {label: Run(label) for label in RUNS}
    # label -> (stack, steps as activities): one stack for both layouts, or one per code tree
    if args.before_tree:
        trees = {"before": Path(args.before_tree).resolve(), "after": HERE}
        stacks = {label: tree_stack(tmp / label, trees[label], ocr_workers=ocr_workers) for label in RUNS}
        modes = {label: False for label in RUNS}
    else:
        one_stack = tree_stack(tmp, HERE, ocr_workers=ocr_workers)
        stacks = {label: one_stack for label in RUNS}
        modes = dict(RUNS)
    distinct = list({id(ps): ps for ps in stacks.values()}.values())
    clients = {}
    try:
        for ps in distinct:
            ps.blobs()  # the keyring, before any process reads it
            ps.start_temporal()
            for _ in range(args.workers):
                ps.start_worker()
        for ps in distinct:
            for proc in ps.workers:
                ps.wait_ready(proc, 180)
            clients[id(ps)] = (await ps.client(), ps.blobs())
        policies = policies_from_catalogue()

        async def send(label: str, data: bytes, run: Run) -> float | None:
            ps = stacks[label]
            client, blobs = clients[id(ps)]
            return await one(client, blobs, ps.settings, policies, data, run, as_activities=modes[label])

        for label, run in runs.items():  # warm: the classifier loaded, connections open
            for data in warm:
                await send(label, data, Run(label))
        for label, run in runs.items():  # one alone, one after the other
            for data in alone:
                dt = await send(label, data, run)
                if dt is not None:
                    run.alone.append(dt)
        rounds = max(1, args.rounds)
        share = [load[i::rounds] for i in range(rounds)]
        for part in share:  # interleaved: before, after, before, after ...
            for label, run in runs.items():
                await burst(stacks[label], send, part, args.concurrency, run)
    finally:
        for ps in distinct:
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
        "compares": (f"code: before = {args.before_tree}, after = {HERE} (light steps local in both)"
                     if args.before_tree else "layouts: before = every step an activity, after = local activities"),
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
    lines.append(f"compares {r['compares']}")
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
    ap.add_argument("--before-tree", help="a checkout of older code: 'before' runs its workers, 'after' this "
                                          "checkout's (each on its own stack), instead of comparing layouts")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(measure(args))
    (args.out / "digital.json").write_text(json.dumps(result, indent=2))
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
