"""Load benchmark of the REST API on the embedded stack (not a test).

    .venv/bin/python -m bench.api_load --out bench-out/api-load [--clients 20]

A real Temporal dev server, a worker with the real engines (OCR, classifier,
extractor), the web app under uvicorn, SQLite, and a webhook receiver that
verifies every signature. First a *baseline*: one client posting filled
digital forms one after the other (nothing else running). Then the *load*:
``--clients`` concurrent clients, each posting ``--digital`` filled digital
AcroForms (the real GewA 1 from ../shared/data/forms when present, else the
generated digital form) and ``--scans`` scanned ones. Measured: the latency
of ``POST /api/v1/cases`` (p50/p95) and, for the digital forms, the time
from the POST to the arrival of its webhook (``notify_review``: the case's
routing is reported whether it completes or waits for a clerk). Goal: p95
POST→webhook under 2 s. Prints a table, writes ``api_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import threading
import time
import uuid
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class Receiver:
    """Accepts every correctly signed webhook and notes when it arrived, by case id."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrived: dict[str, float] = {}
        self.bad_signatures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                from standardwebhooks import Webhook

                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                now = time.perf_counter()
                try:
                    payload = Webhook(outer.secret).verify(body, {k.lower(): v for k, v in self.headers.items()})
                    outer.arrived.setdefault(payload["data"]["case_id"], now)
                    status = 204
                except Exception:
                    outer.bad_signatures += 1
                    status = 401
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def documents(n_digital: int, n_scans: int) -> tuple[list[bytes], list[bytes], str]:
    from bench.synth import render_document
    from bench.synth.realforms import fill_real_form
    from bench.ui_stack import scan_bytes

    digital, source = [], "generated digital form (../shared/data/forms absent)"
    for i in range(n_digital):
        real = fill_real_form("gewerbeanmeldung", 500 + i)
        if real is not None:
            source = "real GewA 1 AcroForm, filled"
        digital.append(real.pdf_bytes if real is not None else render_document("gewerbeanmeldung", 500 + i).pdf_bytes)
    scans = [scan_bytes(seed=700 + (i % 4)) for i in range(min(n_scans, 4))]
    return digital, [scans[i % len(scans)] for i in range(n_scans)] if scans else [], source


async def run(args) -> dict:
    import httpx
    from formwerk.tokens import TokenStore
    from formwerk.webhooks import SubscriberStore

    total_digital = args.clients * args.digital + args.baseline
    digital, scans, source = documents(total_digital, args.clients * args.scans)
    receiver = Receiver()
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="api-load-"))
    posts: dict[str, list[float]] = {"baseline": [], "digital": [], "scan": [], "warmup": []}
    to_hook: dict[str, list[float]] = {"baseline": [], "digital": []}
    errors: list[str] = []
    memory: dict[str, int] = {}
    open_stack = (up_stack(tmp) if args.up else process_stack(tmp, args.processes, args.split_roles)
                  if args.processes else in_process_stack(tmp))
    async with open_stack as stack:
        sub = SubscriberStore(stack.cases.engine).add("bench", receiver.url, ["case.completed", "case.rejected",
                                                                              "case.needs_review"])
        receiver.secret = sub.secret
        _, token = TokenStore(stack.cases.engine).create("bench", ["cases:submit", "cases:read"],
                                                         subscriber="bench")
        headers = {"Authorization": f"Bearer {token}"}
        pending: list[tuple[str, str, float]] = []  # (phase, case_id, t_post_start)

        async def post(c, data: bytes, kind: str, phase: str):
            t0 = time.perf_counter()
            r = await c.post("/api/v1/cases", headers=headers, files={"file": (f"{kind}.pdf", data)},
                             data={"reference": f"LOAD-{uuid.uuid4().hex[:12]}", "notify_review": "true"})
            dt = time.perf_counter() - t0
            if r.status_code != 202:
                errors.append(f"{r.status_code} {r.text[:200]}")
                return
            posts[phase if phase in ("baseline", "warmup") else kind].append(dt)
            if kind == "digital":
                pending.append((phase, r.json()["case_id"], t0))

        async with httpx.AsyncClient(base_url=stack.base_url, timeout=300) as c:
            # warm-up (the worker's classifier loads in the background; the first connection):
            # not measured, and waited for, so the baseline does not wait for the model
            await post(c, digital[0], "digital", "warmup")
            await _await_hooks(receiver, pending, 180)
            pending.clear()
            for data in digital[-args.baseline:] if args.baseline else []:
                await post(c, data, "digital", "baseline")
                await _await_hooks(receiver, pending, 120)
            base_pending = list(pending)
            pending.clear()

            async def client(i: int):
                async with httpx.AsyncClient(base_url=stack.base_url, timeout=300) as ci:
                    jobs = ([("digital", digital[i * args.digital + j]) for j in range(args.digital)]
                            + [("scan", scans[i * args.scans + j]) for j in range(args.scans)])
                    jobs.sort(key=lambda kj: (hash((i, kj[0])) % 2))  # mix the order per client
                    for kind, data in jobs:
                        await post(ci, data, kind, "load")

            cpu0 = stack.cpu_seconds()
            t_load = time.perf_counter()
            await asyncio.gather(*(client(i) for i in range(args.clients)))
            post_phase_s = time.perf_counter() - t_load
            await _await_hooks(receiver, pending, args.timeout)
            load_s = time.perf_counter() - t_load
            cpu1 = stack.cpu_seconds()
        for phase, items in (("baseline", base_pending), ("digital", pending)):
            for _, case_id, t0 in items:
                if case_id in receiver.arrived:
                    to_hook[phase].append(receiver.arrived[case_id] - t0)
                else:
                    errors.append(f"no webhook for {case_id}")
        statuses = stack.cases.count_by_status()
        waits = await history_breakdown(stack.client, [cid for _, cid, _ in pending])
        memory = stack.peak_rss_mib()

    def summary(values):
        return {"n": len(values), "p50_s": pct(values, 0.5), "p95_s": pct(values, 0.95),
                "max_s": max(values) if values else None,
                "mean_s": statistics.fmean(values) if values else None}

    return {
        "clients": args.clients, "digital_per_client": args.digital, "scans_per_client": args.scans,
        "stack": ("formwerk up (API process, its worker child process) + Temporal dev server" if args.up
                  else "a case worker, a page worker, an API process + Temporal dev server" if args.split_roles
                  else f"{args.processes} worker process(es) + API process + Temporal dev server"
                  if args.processes else "API and worker in one process (bench.ui_stack), Temporal dev server"),
        "peak_rss_mib": memory,
        "digital_source": source, "cores": os.cpu_count(),
        "baseline": {"post": summary(posts["baseline"]), "post_to_webhook": summary(to_hook["baseline"])},
        "load": {"post_digital": summary(posts["digital"]), "post_scan": summary(posts["scan"]),
                 "post_all": summary(posts["digital"] + posts["scan"]),
                 "post_to_webhook_digital": summary(to_hook["digital"]),
                 "post_phase_s": post_phase_s, "until_last_webhook_s": load_s},
        "goal": {"post_to_webhook_digital_p95_s": 2.0,
                 "met": (pct(to_hook["digital"], 0.95) or 1e9) < 2.0},
        "where_the_time_goes_digital_s": waits,
        # CPU seconds each process spent from the first load POST to the last webhook (/proc)
        "load_cpu_s": {k: round(cpu1[k] - cpu0.get(k, 0.0), 2) for k in cpu1},
        "case_statuses": statuses, "bad_signatures": receiver.bad_signatures, "errors": errors[:20],
        "n_errors": len(errors),
    }


def _cpu(pid: int) -> float:
    from bench.digital import cpu_seconds

    try:
        return cpu_seconds(pid)
    except OSError:  # the process has gone
        return 0.0


class _InProcess:
    def __init__(self, stack, temporal_pid: int | None = None) -> None:
        self.base_url, self.cases, self.client = stack.base_url, stack.cases, stack.client
        self.temporal_pid = temporal_pid

    def cpu_seconds(self) -> dict[str, float]:
        out = {"benchmark + API + worker (one process)": _cpu(os.getpid())}
        if self.temporal_pid:
            out["Temporal dev server"] = _cpu(self.temporal_pid)
        return out

    def peak_rss_mib(self) -> dict[str, int]:
        from bench.procstack import peak_rss_kib

        return {"benchmark + API + worker (one process)": (peak_rss_kib(os.getpid()) or 0) // 1024}


@asynccontextmanager
async def in_process_stack(tmp: Path):
    """API, worker and these load clients in one process (``bench.ui_stack``)."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from bench.ui_stack import running_stack

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter, ui=False, dev_server_log_level="error")
    try:
        async with running_stack(env.client, tmp) as stack:
            stack.settings.api_rate_limit_per_minute = 1e6
            stack.settings.api_rate_burst = 10_000
            yield _InProcess(stack)
    finally:
        await env.shutdown()


class _Processes:
    def __init__(self, ps, api, client, base_url) -> None:
        self.ps, self.api, self.client, self.base_url = ps, api, client, base_url
        self.cases = ps.cases()

    def cpu_seconds(self) -> dict[str, float]:
        out = {f"worker {i + 1}": _cpu(p.pid) for i, p in enumerate(self.ps.workers)}
        out["API process"] = _cpu(self.api.pid)
        out["Temporal dev server"] = _cpu(self.ps.temporal.pid)
        out["load clients (this process)"] = _cpu(os.getpid())
        return out

    def peak_rss_mib(self) -> dict[str, int]:
        from bench.procstack import peak_rss_kib

        out = {f"worker {i + 1}": (peak_rss_kib(p.pid) or 0) // 1024 for i, p in enumerate(self.ps.workers)}
        out["API process"] = (peak_rss_kib(self.api.pid) or 0) // 1024
        return out


@asynccontextmanager
async def process_stack(tmp: Path, workers: int, split_roles: bool = False):
    """As an operator runs it: the Temporal dev server, ``workers`` ``formwerk worker``
    processes (the cores' OCR slots shared between them) and a ``formwerk api`` process;
    the load clients stay in this process. ``split_roles``: two workers, one for the cases
    (workflows and their light steps, webhooks) and one for the pages (OCR and scans' analysis,
    all the cores' OCR slots)."""
    import subprocess

    import httpx

    from bench.procstack import FORMWERK, ProcessStack, free_port

    port = free_port()
    cores = os.cpu_count() or 1
    ps = ProcessStack(tmp, api_port=port, api_rate_limit_per_minute=1e6, api_rate_burst=10_000,
                      ocr_workers=max(1, cores // workers), secret_key="bench-" + uuid.uuid4().hex)
    api = None
    try:
        ps.blobs()  # the keyring, before any process reads it
        ps.start_temporal()
        if split_roles:
            ps.start_worker(worker_queues="cases")
            ps.start_worker(worker_queues="ocr", ocr_workers=cores)
        else:
            for _ in range(workers):
                ps.start_worker()
        for proc in ps.workers:
            ps.wait_ready(proc, 120)
        log = open(tmp / "api.log", "wb")
        api = subprocess.Popen([FORMWERK, "api"], env=ps.env(), stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as c:
            for _ in range(300):
                try:
                    if (await c.get(base_url + "/openapi.json")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("API process did not answer: " + (tmp / "api.log").read_text()[-2000:])
        yield _Processes(ps, api, await ps.client(), base_url)
    finally:
        if api is not None and api.poll() is None:
            api.terminate()
            try:
                api.wait(20)
            except subprocess.TimeoutExpired:
                api.kill()
        ps.close()


class _Up(_Processes):
    def _children(self) -> list[int]:
        children = Path(f"/proc/{self.api.pid}/task/{self.api.pid}/children")
        return [int(pid) for pid in (children.read_text().split() if children.exists() else [])]

    def cpu_seconds(self) -> dict[str, float]:
        out = {"formwerk up (API)": _cpu(self.api.pid)}
        out.update({f"worker child {i + 1}": _cpu(pid) for i, pid in enumerate(self._children())})
        out["Temporal dev server"] = _cpu(self.ps.temporal.pid)
        out["load clients (this process)"] = _cpu(os.getpid())
        return out

    def peak_rss_mib(self) -> dict[str, int]:
        from bench.procstack import peak_rss_kib

        out = {"formwerk up (API)": (peak_rss_kib(self.api.pid) or 0) // 1024}
        children = Path(f"/proc/{self.api.pid}/task/{self.api.pid}/children")
        for i, pid in enumerate(children.read_text().split() if children.exists() else []):
            out[f"worker child {i + 1}"] = (peak_rss_kib(int(pid)) or 0) // 1024
        return out


def _workers_warm(up_pid: int, log: str) -> bool:
    """Every worker child of ``formwerk up`` polls and has its classifier loaded: the load must not
    meet a worker still starting (importing and compiling the encoder takes seconds of CPU)."""
    from bench.procstack import READY_LINE

    children = Path(f"/proc/{up_pid}/task/{up_pid}/children")
    n = len(children.read_text().split()) if children.exists() else 0
    classifiers = len(re.findall(r"classifier clf-\S+$", log, flags=re.M))
    return n > 0 and log.count(READY_LINE) >= n and classifiers >= n


@asynccontextmanager
async def up_stack(tmp: Path):
    """``formwerk up`` itself (the API in its process, the worker as its child), on
    the Temporal dev server and SQLite of a fresh data directory; the load clients stay here."""
    import subprocess

    import httpx

    from bench.procstack import FORMWERK, ProcessStack, free_port

    port = free_port()
    ps = ProcessStack(tmp, api_port=port, api_rate_limit_per_minute=1e6, api_rate_burst=10_000,
                      secret_key="bench-" + uuid.uuid4().hex)
    up = None
    log_path = tmp / "up.log"
    try:
        ps.blobs()  # the keyring, before any process reads it
        ps.start_temporal()
        up = subprocess.Popen([FORMWERK, "-v", "up"], env=ps.env(), stdout=open(log_path, "wb"),
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as c:
            for _ in range(1800):
                ready = _workers_warm(up.pid, log_path.read_text(errors="replace"))
                try:
                    if ready and (await c.get(base_url + "/openapi.json")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if up.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("formwerk up not ready: " + log_path.read_text()[-2000:])
        if up.poll() is not None:
            raise RuntimeError("formwerk up exited: " + log_path.read_text()[-2000:])
        yield _Up(ps, up, await ps.client(), base_url)
    finally:
        if up is not None and up.poll() is None:
            up.terminate()
            try:
                up.wait(40)
            except subprocess.TimeoutExpired:
                up.kill()
        ps.close()


async def history_breakdown(client, case_ids: list[str]) -> dict[str, float]:
    """Mean seconds per digital case, from its Temporal history: waiting for a workflow
    task or an activity to be picked up (queue), running them, and each activity by type."""
    from temporalio.api.enums.v1 import EventType

    totals: dict[str, float] = {}
    for cid in case_ids:
        history = await client.get_workflow_handle(cid).fetch_history()
        at = {e.event_id: e.event_time.ToDatetime().timestamp() for e in history.events}
        names: dict[int, str] = {}
        for e in history.events:
            t = at[e.event_id]

            def add(key: str, seconds: float) -> None:
                totals[key] = totals.get(key, 0.0) + seconds

            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                add("workflow task queued", t - at[e.workflow_task_started_event_attributes.scheduled_event_id])
            elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                add("workflow task running", t - at[e.workflow_task_completed_event_attributes.started_event_id])
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                names[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                a = e.activity_task_started_event_attributes
                add("activity queued", t - at[a.scheduled_event_id])
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                a = e.activity_task_completed_event_attributes
                add(f"activity {names.get(a.scheduled_event_id, '?')}", t - at[a.started_event_id])
        first, last = history.events[0], history.events[-1]
        totals["workflow start to last event"] = totals.get("workflow start to last event", 0.0) + (
            at[last.event_id] - at[first.event_id])
    n = max(1, len(case_ids))
    return {k: round(v / n, 3) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


async def _await_hooks(receiver: Receiver, pending, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and not all(cid in receiver.arrived for _, cid, _ in pending):
        await asyncio.sleep(0.05)


def table(r: dict) -> str:
    def ms(v):
        return "-" if v is None else f"{v * 1000:.0f}"

    rows = [("measure", "n", "p50 ms", "p95 ms", "max ms")]
    for label, s in (("baseline POST (1 client)", r["baseline"]["post"]),
                     ("baseline POST→webhook", r["baseline"]["post_to_webhook"]),
                     (f"load POST digital ({r['clients']} clients)", r["load"]["post_digital"]),
                     ("load POST scan", r["load"]["post_scan"]),
                     ("load POST all", r["load"]["post_all"]),
                     ("load POST→webhook digital", r["load"]["post_to_webhook_digital"])):
        rows.append((label, str(s["n"]), ms(s["p50_s"]), ms(s["p95_s"]), ms(s["max_s"])))
    from bench.report import aligned

    lines = aligned(rows)
    goal = r["goal"]
    lines.append(f"stack: {r['stack']}; peak RSS MiB: {r['peak_rss_mib']}")
    lines.append(f"goal p95 POST→webhook (digital) < 2 s: {'met' if goal['met'] else 'NOT met'}; "
                 f"digital forms: {r['digital_source']}; errors: {r['n_errors']}; "
                 f"last webhook after {r['load']['until_last_webhook_s']:.1f} s")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.api_load", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench-out/api-load"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--digital", type=int, default=2, help="digital forms per client")
    ap.add_argument("--scans", type=int, default=1, help="scans per client")
    ap.add_argument("--baseline", type=int, default=5, help="digital forms posted alone first")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the last webhook")
    ap.add_argument("--up", action="store_true",
                    help="the embedded stack as `formwerk up` runs it (its own child processes)")
    ap.add_argument("--processes", type=int, default=0,
                    help="N worker processes + an API process (0: API and worker in this process)")
    ap.add_argument("--split-roles", action="store_true",
                    help="two worker processes, one for the cases and one for the pages (OCR, scans' analysis)")
    args = ap.parse_args(argv)
    if args.split_roles:
        args.processes = 2
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "api_load.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(table(result))
    print("where a digital case's time goes under load (mean s per case, from its Temporal history):")
    for k, v in result["where_the_time_goes_digital_s"].items():
        print(f"  {k:<40} {v:7.3f}")
    n = max(1, result["load"]["post_to_webhook_digital"]["n"] + result["load"]["post_scan"]["n"])
    print(f"CPU seconds from the first load POST to the last webhook ({n} documents):")
    for k, v in result["load_cpu_s"].items():
        print(f"  {k:<40} {v:7.2f}")
    print(f"written: {args.out / 'api_load.json'}")
    return 0 if result["n_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
