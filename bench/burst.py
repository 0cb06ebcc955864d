"""Burst load: N cases submitted at once to the embedded stack (a benchmark, not a test).

    .venv/bin/python -m bench.burst --out bench-out/burst [--cases 500] [--scans 20]

The stack as ``formwerk up`` runs it, in small: the embedded Temporal dev
server (``temporal server start-dev`` on a SQLite file), the case store on
SQLite, the encrypted blob store, and ONE ``formwerk worker`` process with the
real engines (Tesseract, the trained classifier, the catalogue extractor) in a
process of its own, so its memory is measurable (``/proc/<pid>/status``:
VmRSS sampled every second, VmHWM = peak). This process only submits (the
same ``formwerk.intake.submit`` the API and the CLI use) and watches.

Documents: mostly filled digital forms (the real GewA 1 AcroForm filled with
fake data when ../shared/data/forms is there, some other real AcroForms
(KG 1, Wohngeld, Meldeschein), some generated digital PDFs of other kinds),
every one different, plus ``--scans`` one-page scanned Gewerbe-Anmeldungen
(image only: real OCR). Submission order shuffled (fixed seed).

Baseline, same run, same worker: its idle RSS once it polls, then single
cases one after the other (submit → routed), digital and scanned, before the burst.

Burst: every case submitted as fast as the submitter can (``--concurrency``
submits in flight). Every second: submitted, routed (the store says
completed / needs_review / rejected / failed), throughput, queue lag
(submitted − routed) and the age of the oldest case not routed yet, worker
RSS. At the end: none lost (every reference routed, with one workflow and
one store row), none duplicated (no reference with two workflows or two
rows). Prints a table, writes ``burst.json`` and ``burst.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

ROUTED = ("completed", "needs_review", "rejected", "failed")
OTHER_REAL = ("kindergeld_kg1", "wohngeld_mietzuschuss", "meldebehoerde_anmeldung")
GENERATED = ("gewerbeanmeldung", "gewerbeabmeldung", "kindergeld_kg1", "invoice", "letter")

from bench.api_load import pct  # one percentile for both load benchmarks


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_s": pct(values, 0.5), "p95_s": pct(values, 0.95),
            "max_s": max(values) if values else None,
            "mean_s": statistics.fmean(values) if values else None}


# -- documents ------------------------------------------------------------------


def corpus(n_cases: int, n_scans: int, seed: int) -> tuple[list[tuple[str, str, bytes]], dict]:
    """(kind, label, pdf bytes) for the burst, every file different, and what went in."""
    from bench.synth import render_document
    from bench.synth.realforms import fill_real_form
    from bench.ui_stack import scan_bytes

    n_digital = n_cases - n_scans
    docs: list[tuple[str, str, bytes]] = []
    kinds: Counter = Counter()
    for i in range(n_digital):
        s = seed + i
        doc, label = None, ""
        if i % 5 < 3:  # three in five: the real GewA 1
            doc, label = fill_real_form("gewerbeanmeldung", s), "real GewA 1 AcroForm"
        elif i % 5 == 3:
            t = OTHER_REAL[(i // 5) % len(OTHER_REAL)]
            doc, label = fill_real_form(t, s), f"real {t} AcroForm"
        if doc is None:  # one in five, or the real forms absent
            t = GENERATED[(i // 5) % len(GENERATED)] if i % 5 == 4 else "gewerbeanmeldung"
            doc, label = render_document(t, s), f"generated digital {t}"
        docs.append(("digital", label, doc.pdf_bytes))
        kinds[label] += 1
    distinct = [scan_bytes(seed=seed + 50_000 + k) for k in range(min(n_scans, 6))]
    for i in range(n_scans):
        # a few distinct scans, each made unique (a comment after %%EOF): fresh blobs, fresh OCR
        data = distinct[i % len(distinct)] + f"\n% burst scan {i}\n".encode()
        docs.append(("scan", "scanned GewA (image only, 1 page)", data))
        kinds["scanned GewA (image only, 1 page)"] += 1
    random.Random(seed).shuffle(docs)
    return docs, dict(kinds)


# -- process memory ---------------------------------------------------------------


def _status_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                out += [int(k) for k in kids]
                todo += [int(k) for k in kids]
        except OSError:
            pass
    return out


def tree_rss_mib(pid: int) -> float | None:
    """VmRSS of a process and its children (Tesseract runs in-process; counted if it ever forks)."""
    own = _status_kib(pid, "VmRSS")
    if own is None:
        return None
    return (own + sum(_status_kib(c, "VmRSS") or 0 for c in _descendants(pid))) / 1024


def mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


# -- the run ------------------------------------------------------------------------


async def run(args) -> dict:
    from sqlalchemy import func, select

    from bench.procstack import ProcessStack
    from formwerk.commands import wait_routed
    from formwerk.db import cases as cases_table
    from formwerk.intake import policies_from_catalogue, submit
    from workflows.names import case_workflow_id

    t_gen = time.perf_counter()
    docs, kinds = corpus(args.cases, args.scans, args.seed)
    # the warm-up and the baseline: digital forms, then one scan (not among the burst's files)
    baseline_docs = corpus(args.baseline + 1, 0, args.seed + 900_000)[0] + corpus(1, 1, args.seed + 950_000)[0]
    gen_s = time.perf_counter() - t_gen
    print(f"corpus: {len(docs)} files in {gen_s:.0f} s: {kinds}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="burst-"))
    stack = ProcessStack(tmp / "data", retention_interval_hours=0)
    tag = uuid.uuid4().hex[:6]
    errors: list[str] = []
    samples: list[dict] = []
    try:
        t0 = time.perf_counter()
        stack.start_temporal()
        blobs = stack.blobs()  # creates the keyring before the worker reads it
        cases = stack.cases()
        client = await stack.client()
        worker = stack.start_worker(wait_ready=600)
        startup_s = time.perf_counter() - t0
        temporal_pid = stack.temporal.pid if stack.temporal is not None else None
        await asyncio.sleep(3)
        idle = {"rss_mib": mib(_status_kib(worker.pid, "VmRSS")), "hwm_mib": mib(_status_kib(worker.pid, "VmHWM")),
                "temporal_rss_mib": mib(_status_kib(temporal_pid, "VmRSS")) if temporal_pid else None}
        print(f"worker pid {worker.pid} polling after {startup_s:.0f} s; idle RSS {idle['rss_mib']} MiB", flush=True)
        policies = policies_from_catalogue()
        queues = (stack.settings.task_queue, stack.settings.ocr_task_queue)

        async def one(data: bytes, ref: str):
            return await submit(client, blobs, data, filename=f"{ref}.pdf", reference=ref, task_queue=queues[0],
                                ocr_task_queue=queues[1], policies=policies)

        # -- baseline: one case at a time on the idle worker -----------------------------
        base: dict[str, list[float]] = {"digital": [], "scan": []}
        base_status: Counter = Counter()
        warm = await one(baseline_docs[0][2], f"WARM-{tag}")  # first classifier call, first connections
        await wait_routed(warm.handle, 300)
        for i, (kind, _, data) in enumerate(baseline_docs[1:]):
            t = time.perf_counter()
            s = await one(data, f"BASE-{tag}-{i}")
            r = await wait_routed(s.handle, 300)
            base[kind].append(time.perf_counter() - t)
            base_status[r.status.value] += 1
        after_baseline = {"rss_mib": mib(_status_kib(worker.pid, "VmRSS")),
                          "hwm_mib": mib(_status_kib(worker.pid, "VmHWM"))}
        print(f"baseline: digital {[round(x, 2) for x in base['digital']]} s, "
              f"scan {[round(x, 2) for x in base['scan']]} s", flush=True)

        # -- the burst ----------------------------------------------------------------
        prefix = f"BURST-{tag}-"
        refs = [f"{prefix}{i:05d}" for i in range(len(docs))]
        kind_of = {ref: kind for ref, (kind, _, _) in zip(refs, docs)}
        submitted_at: dict[str, float] = {}
        submitted_wall: dict[str, datetime] = {}
        created: Counter = Counter()
        sem = asyncio.Semaphore(args.concurrency)
        t_burst = time.perf_counter()

        async def post(ref: str, data: bytes):
            async with sem:
                try:
                    s = await one(data, ref)
                except Exception as exc:  # noqa: BLE001 - counted, never hidden
                    errors.append(f"submit {ref}: {type(exc).__name__}: {exc}"[:300])
                    return
                submitted_at[ref] = time.perf_counter()
                submitted_wall[ref] = datetime.now(timezone.utc)
                created[s.created] += 1

        def routed_rows() -> dict[str, str]:
            with cases.engine.connect() as conn:
                rows = conn.execute(select(cases_table.c.reference, cases_table.c.status)
                                    .where(cases_table.c.reference.like(prefix + "%")))
                return {ref: status for ref, status in rows}

        routed_first: dict[str, float] = {}
        done = asyncio.Event()

        async def sampler():
            last_routed = 0
            while True:
                now = time.perf_counter()
                try:
                    rows = await asyncio.to_thread(routed_rows)
                except Exception as exc:  # noqa: BLE001 - a busy SQLite: skip this second
                    errors.append(f"sample: {type(exc).__name__}")
                    rows = None
                if rows is not None:
                    for ref, status in rows.items():
                        if status in ROUTED and ref not in routed_first:
                            routed_first[ref] = now
                    waiting = [submitted_at[r] for r in submitted_at if r not in routed_first]
                    routed = len(routed_first)
                    samples.append({
                        "t_s": round(now - t_burst, 2), "submitted": len(submitted_at), "routed": routed,
                        "routed_per_s": routed - last_routed, "lag": len(submitted_at) - routed,
                        "oldest_unrouted_age_s": round(now - min(waiting), 2) if waiting else 0.0,
                        "worker_rss_mib": round(tree_rss_mib(worker.pid) or 0, 1),
                        "temporal_rss_mib": mib(_status_kib(temporal_pid, "VmRSS")) if temporal_pid else None,
                    })
                    last_routed = routed
                    if routed >= len(refs) or (done.is_set() and routed >= len(submitted_at)):
                        return
                if worker.poll() is not None:
                    errors.append(f"worker exited with {worker.returncode}")
                    return
                if now - t_burst > args.timeout:
                    errors.append(f"timeout: {len(refs) - len(routed_first)} cases not routed "
                                  f"after {args.timeout:.0f} s")
                    return
                await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - now)))

        watcher = asyncio.create_task(sampler())
        await asyncio.gather(*(post(ref, data) for ref, (_, _, data) in zip(refs, docs)))
        submit_s = time.perf_counter() - t_burst
        done.set()
        print(f"submitted {len(submitted_at)} in {submit_s:.1f} s; waiting for routing", flush=True)
        await watcher
        burst_s = max(routed_first.values(), default=t_burst) - t_burst

        # -- lost? duplicated? -------------------------------------------------------------
        with cases.engine.connect() as conn:
            per_ref = dict(conn.execute(select(cases_table.c.reference, func.count())
                                        .where(cases_table.c.reference.like(prefix + "%"))
                                        .group_by(cases_table.c.reference)).all())
            rows = conn.execute(select(cases_table.c.reference, cases_table.c.status, cases_table.c.routed_at)
                                .where(cases_table.c.reference.like(prefix + "%"))).all()
        runs: Counter = Counter()
        async for wf in client.list_workflows(f"TaskQueue = '{queues[0]}'"):
            runs[wf.id] += 1
        status_of = {r.reference: r.status for r in rows}
        lost = [r for r in refs if status_of.get(r) not in ROUTED]
        dup_rows = [r for r, n in per_ref.items() if n > 1]
        dup_workflows = [r for r in refs if runs.get(case_workflow_id(r), 0) > 1]
        no_workflow = [r for r in refs if runs.get(case_workflow_id(r), 0) == 0]
        strays = [r for r in per_ref if r not in set(refs)]
        # latency: submit returned → routed (the workflow's own clock, stored as routed_at)
        latency = {"digital": [], "scan": []}
        for r in rows:
            if r.routed_at is not None and r.reference in submitted_wall:
                at = r.routed_at if r.routed_at.tzinfo else r.routed_at.replace(tzinfo=timezone.utc)
                latency[kind_of[r.reference]].append((at - submitted_wall[r.reference]).total_seconds())
        peak = {"worker_hwm_mib": mib(_status_kib(worker.pid, "VmHWM")),
                "worker_rss_max_sampled_mib": max((s["worker_rss_mib"] for s in samples), default=None),
                "temporal_rss_max_sampled_mib": max((s["temporal_rss_mib"] or 0 for s in samples), default=None),
                "bench_process_hwm_mib": mib(_status_kib(os.getpid(), "VmHWM"))}
        worker_log_errors = sum(1 for line in worker.log_path.read_text(errors="replace").splitlines()
                                if " ERROR " in line or "Traceback" in line)
    finally:
        stack.close()
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)  # ~1 MB of blobs per case

    per_s = [s["routed_per_s"] for s in samples]
    window = 10
    rolling = [sum(per_s[max(0, i - window + 1):i + 1]) / min(window, i + 1) for i in range(len(per_s))]
    return {
        "cases": len(docs), "scans": args.scans, "documents": kinds, "cores": os.cpu_count(),
        "concurrency": args.concurrency, "corpus_seconds": round(gen_s, 1),
        "stack": {"temporal": "embedded dev server (SQLite file)", "store": "SQLite",
                  "worker": "1 process (formwerk worker), ocr_workers=%d, case_slots=%d"
                            % (stack.settings.ocr_workers, stack.settings.case_slots),
                  "worker_startup_s": round(startup_s, 1)},
        "baseline": {"idle": idle, "after_baseline": after_baseline,
                     "single_case_digital": summary(base["digital"]), "single_case_scan": summary(base["scan"]),
                     "statuses": dict(base_status)},
        "burst": {
            "submitted": len(submitted_at), "submit_phase_s": round(submit_s, 1),
            "submits_created": created.get(True, 0), "submits_attached": created.get(False, 0),
            "until_last_routed_s": round(burst_s, 1),
            "throughput_cases_per_min": round(len(routed_first) / burst_s * 60, 1) if burst_s else None,
            "throughput_peak_10s_cases_per_s": round(max(rolling, default=0), 2),
            "lag_max": max((s["lag"] for s in samples), default=None),
            "oldest_unrouted_age_max_s": max((s["oldest_unrouted_age_s"] for s in samples), default=None),
            "latency_digital": summary(latency["digital"]), "latency_scan": summary(latency["scan"]),
            "statuses": dict(Counter(status_of.get(r, "missing") for r in refs)),
        },
        "checks": {"lost": len(lost), "duplicated_rows": len(dup_rows), "duplicated_workflows": len(dup_workflows),
                   "without_workflow": len(no_workflow), "stray_rows": len(strays),
                   "examples": (lost + dup_rows + dup_workflows + no_workflow)[:10],
                   "worker_log_error_lines": worker_log_errors},
        "memory": peak,
        "samples": [{**s, "routed_per_s_10s": round(r, 2)} for s, r in zip(samples, rolling)],
        "errors": errors[:20], "n_errors": len(errors),
        "data_dir": str(tmp) if args.keep else None,
    }


# -- output --------------------------------------------------------------------------


def plot(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["samples"]
    t = [x["t_s"] for x in s]
    fig, (a1, a2, a3) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    a1.bar(t, [x["routed_per_s"] for x in s], width=1.0, color="C0", alpha=0.35, label="routed per second")
    a1.plot(t, [x["routed_per_s_10s"] for x in s], color="C0", label="10 s mean")
    a1.set_ylabel("cases / s")
    ax = a1.twinx()
    ax.plot(t, [x["submitted"] for x in s], "--", color="C2", label="submitted (cumulative)")
    ax.plot(t, [x["routed"] for x in s], "-", color="C3", label="routed (cumulative)")
    ax.set_ylabel("cases")
    h1, l1 = a1.get_legend_handles_labels()
    h2, l2 = ax.get_legend_handles_labels()
    a1.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8)
    b = result["burst"]
    a1.set_title(f"Burst of {result['cases']} cases ({result['scans']} scans), one worker, {result['cores']} cores: "
                 f"{b['throughput_cases_per_min']} cases/min, last routed after {b['until_last_routed_s']} s",
                 fontsize=9)
    a2.plot(t, [x["lag"] for x in s], color="C1", label="queue lag: submitted − routed")
    a2.set_ylabel("cases waiting")
    ay = a2.twinx()
    ay.plot(t, [x["oldest_unrouted_age_s"] for x in s], color="C4", label="age of oldest un-routed case")
    ay.set_ylabel("seconds")
    h1, l1 = a2.get_legend_handles_labels()
    h2, l2 = ay.get_legend_handles_labels()
    a2.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)
    a3.plot(t, [x["worker_rss_mib"] for x in s], color="C5", label="worker RSS")
    idle = result["baseline"]["idle"]["rss_mib"]
    if idle:
        a3.axhline(idle, color="grey", ls=":", label=f"worker idle RSS ({idle} MiB)")
    if s and s[0].get("temporal_rss_mib"):
        a3.plot(t, [x["temporal_rss_mib"] for x in s], color="C6", alpha=0.6, label="Temporal dev server RSS")
    a3.set_ylabel("MiB")
    a3.set_xlabel("seconds since the burst began")
    a3.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def table(r: dict) -> str:
    def s(v, unit=" s"):
        return "-" if v is None else f"{v:.2f}{unit}"

    b, base, m, c = r["burst"], r["baseline"], r["memory"], r["checks"]
    rows = [
        ("baseline: worker idle RSS", f"{base['idle']['rss_mib']} MiB (VmHWM {base['idle']['hwm_mib']} MiB)"),
        ("baseline: worker RSS after the single cases", f"{base['after_baseline']['rss_mib']} MiB "
                                                        f"(VmHWM {base['after_baseline']['hwm_mib']} MiB)"),
        ("baseline: single case, digital (p50 / max)",
         f"{s(base['single_case_digital']['p50_s'])} / {s(base['single_case_digital']['max_s'])} "
         f"(n={base['single_case_digital']['n']})"),
        ("baseline: single case, scan", f"{s(base['single_case_scan']['p50_s'])} (n={base['single_case_scan']['n']})"),
        ("burst: cases (scans)", f"{r['cases']} ({r['scans']})"),
        ("burst: submit phase", f"{b['submit_phase_s']} s for {b['submitted']} submits "
                                f"({r['concurrency']} in flight)"),
        ("burst: until the last case routed", f"{b['until_last_routed_s']} s"),
        ("burst: throughput (mean / best 10 s)",
         f"{b['throughput_cases_per_min']} cases/min / {b['throughput_peak_10s_cases_per_s'] * 60:.0f} cases/min"),
        ("burst: queue lag max", f"{b['lag_max']} cases"),
        ("burst: oldest un-routed case, max age", f"{b['oldest_unrouted_age_max_s']} s"),
        ("burst: submit→routed digital (p50 / p95 / max)",
         " / ".join(s(b["latency_digital"][k]) for k in ("p50_s", "p95_s", "max_s"))),
        ("burst: submit→routed scan (p50 / p95 / max)",
         " / ".join(s(b["latency_scan"][k]) for k in ("p50_s", "p95_s", "max_s"))),
        ("burst: statuses", ", ".join(f"{k} {v}" for k, v in sorted(b["statuses"].items()))),
        ("worker peak RSS (VmHWM)", f"{m['worker_hwm_mib']} MiB (sampled max {m['worker_rss_max_sampled_mib']} MiB)"),
        ("Temporal dev server RSS, sampled max", f"{m['temporal_rss_max_sampled_mib']} MiB"),
        ("lost / duplicated rows / duplicated workflows",
         f"{c['lost']} / {c['duplicated_rows']} / {c['duplicated_workflows']} "
         f"(without workflow {c['without_workflow']}, stray rows {c['stray_rows']})"),
        ("errors (bench) / ERROR lines in worker log", f"{r['n_errors']} / {c['worker_log_error_lines']}"),
    ]
    w = max(len(a) for a, _ in rows)
    return "\n".join(f"{a.ljust(w)}  {v}" for a, v in rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench-out/burst"))
    ap.add_argument("--cases", type=int, default=500, help="cases in the burst (scans included)")
    ap.add_argument("--scans", type=int, default=20, help="one-page scans among them")
    ap.add_argument("--baseline", type=int, default=3, help="digital cases run alone before the burst (plus one scan)")
    ap.add_argument("--concurrency", type=int, default=32, help="submits in flight during the burst")
    ap.add_argument("--timeout", type=float, default=1500.0, help="seconds to wait for the last case")
    ap.add_argument("--seed", type=int, default=7000)
    ap.add_argument("--keep", action="store_true", help="keep the data directory (blobs, store, worker log)")
    args = ap.parse_args(argv)
    if not 0 <= args.scans <= args.cases:
        ap.error("--scans must be between 0 and --cases")
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "burst.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    png = plot(result, args.out / "burst.png")
    print(table(result))
    print(f"written: {args.out / 'burst.json'}, {png}")
    c = result["checks"]
    ok = result["n_errors"] == 0 and not (c["lost"] or c["duplicated_rows"] or c["duplicated_workflows"]
                                          or c["without_workflow"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
