"""Implementations of the CLI commands (async; see formwerk.cli for the parser)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from formwerk.embedded import ensure_temporal, stop_temporal
from formwerk.intake import ReferenceConflict
from formwerk.models import CaseResult
from formwerk.settings import Settings
from formwerk.storage import BlobStore

log = logging.getLogger("formwerk.commands")


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _audit(settings: Settings, action: str, case_id: str | None, **detail) -> None:
    """An audit entry for a CLI read or change (actor: the operating-system user)."""
    import getpass

    from formwerk.audit import AuditLog

    if not settings.database_url:
        settings.ensure_dirs()
    AuditLog.from_url(settings.sqlalchemy_url).record(f"cli:{getpass.getuser()}", action, case_id,
                                                      via="cli", **detail)


async def _client(settings: Settings):
    from worker import connect

    ensure_temporal(settings)
    return await connect(settings)


@contextlib.asynccontextmanager
async def _local_workers(settings: Settings, client, enabled: bool = True):
    """Run a worker in this process so work progresses even without `formwerk up`."""
    if not enabled:
        yield
        return
    from worker import build_activities, keep_workflow_bytecode, make_workers

    keep_workflow_bytecode(settings)
    activities = build_activities(settings)
    async with make_workers(client, activities, settings.task_queue, settings.ocr_task_queue,
                            settings.ocr_workers, case_slots=settings.case_slots, ocr_nice=settings.ocr_nice):
        yield


async def wait_routed(handle, timeout: float) -> CaseResult:
    """Wait until the case is completed, rejected or waiting for a clerk."""
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    from workflows.names import ROUTED_UPDATE

    async def _wait() -> CaseResult:
        try:
            return await handle.execute_update(ROUTED_UPDATE, result_type=CaseResult)
        except (WorkflowUpdateFailedError, RPCError):
            # the case has already finished: its result is final
            return await handle.result()

    return await asyncio.wait_for(_wait(), timeout)


def _error_line(path: Path, code: str, reason: str, case_id: str | None = None) -> dict[str, Any]:
    return {"file": str(path), "case_id": case_id, "status": "rejected", "document_type": None,
            "document_type_confidence": None, "review_reasons": [], "fields": {},
            "timings_ms": {}, "reason": reason, "reason_code": code}


def _human_line(out: dict[str, Any]) -> str:
    line = f"{out['file']}: {out['status']}"
    if out.get("document_type"):
        line += f" – {out['document_type']} ({out['document_type_confidence']:.2f})"
    if out["status"] in ("rejected", "failed"):
        line += f" – {out.get('reason')}"
    elif out.get("review_reasons"):
        line += " – zu prüfen: " + ", ".join(out["review_reasons"][:6])
    return line


async def process(settings: Settings, args) -> int:
    from formwerk.intake import policies_from_catalogue, submit

    if args.reference and len(args.files) > 1:
        _err("--reference only works with one file")
        return 2
    client = await _client(settings)
    blobs = BlobStore.from_settings(settings)
    policies = policies_from_catalogue(settings.sqlalchemy_url)
    total = len(args.files)
    done = 0
    started = time.perf_counter()
    # a few cases in flight keep every OCR slot busy without flooding memory
    gate = asyncio.Semaphore(max(4, 2 * settings.ocr_workers))

    async def one(path: Path) -> dict[str, Any]:
        nonlocal done
        async with gate:
            t0 = time.perf_counter()
            try:
                data = path.read_bytes()
            except OSError as exc:
                out = _error_line(path, "file_not_readable",
                                  f"Die Datei kann nicht geöffnet werden ({exc.strerror}).")
            else:
                try:
                    sub = await submit(client, blobs, data, filename=path.name, reference=args.reference,
                                       task_queue=settings.task_queue,
                                       ocr_task_queue=settings.ocr_task_queue, policies=policies,
                                       claim_idle_minutes=settings.claim_idle_minutes)
                except ReferenceConflict as exc:
                    out = _error_line(path, "reference_conflict", _conflict_sentence(exc), exc.case_id)
                    done += 1
                    _err(f"[{done}/{total}] {path.name} → rejected (reference_conflict)")
                    return out
                try:
                    result = await wait_routed(sub.handle, args.timeout)
                    out = result.contract_json()
                    out["file"] = str(path)
                except asyncio.TimeoutError:
                    out = _error_line(path, "timeout", "Die Verarbeitung dauert länger als erwartet; "
                                      "der Fall läuft weiter.", sub.case_id)
                    out["status"] = "processing"
                except Exception as exc:  # a workflow that failed: report, don't hide
                    stored = _stored_failure(settings, sub.case_id)
                    if stored is not None:  # the workflow stored why (status `failed`)
                        out = stored.contract_json()
                        out["file"] = str(path)
                    else:
                        out = _error_line(path, "internal_error",
                                          f"Interner Fehler bei der Verarbeitung: {exc}", sub.case_id)
            done += 1
            _err(f"[{done}/{total}] {path.name} → {out['status']} "
                 f"({time.perf_counter() - t0:.1f} s)")
            return out

    async with _local_workers(settings, client, enabled=not args.no_worker):
        tasks = [asyncio.create_task(one(p)) for p in args.files]
        for task in tasks:  # print in input order, each as soon as it is ready
            out = await task
            print(json.dumps(out, ensure_ascii=False) if args.json else _human_line(out), flush=True)
    _err(f"{total} file(s) in {time.perf_counter() - started:.1f} s")
    return 0


def _conflict_sentence(exc) -> str:
    return (f"Unter dem Aktenzeichen {exc.reference} läuft bereits der Fall {exc.case_id} mit einer "
            "anderen Datei; die neue Datei wurde keinem Fall zugeordnet. Bitte ein neues Aktenzeichen verwenden.")


async def submit_cmd(settings: Settings, args) -> int:
    from formwerk.intake import policies_from_catalogue, submit

    client = await _client(settings)
    try:
        sub = await submit(client, BlobStore.from_settings(settings), args.file.read_bytes(),
                           filename=args.file.name, reference=args.reference,
                           task_queue=settings.task_queue, ocr_task_queue=settings.ocr_task_queue,
                           policies=policies_from_catalogue(settings.sqlalchemy_url),
                           claim_idle_minutes=settings.claim_idle_minutes)
    except ReferenceConflict as exc:
        print(json.dumps({"case_id": exc.case_id, "created": False, "conflict": True,
                          "reason_code": "reference_conflict"}))
        _err(_conflict_sentence(exc))
        return 3
    print(json.dumps({"case_id": sub.case_id, "created": sub.created}))
    if not sub.created:
        _err(f"Fall {sub.case_id} bestand schon (gleiches Aktenzeichen, gleiche Datei): "
             "es wurde kein neuer Fall angelegt.")
    return 0


def _stored_failure(settings: Settings, case_id: str) -> CaseResult | None:
    """The stored case if it is `failed` (its workflow failed, or was terminated and reconciled)."""
    from formwerk.db import CaseStore
    from formwerk.models import CaseStatus

    stored = CaseStore.from_url(settings.sqlalchemy_url).get(case_id)
    return stored if stored is not None and stored.status == CaseStatus.FAILED else None


async def status(settings: Settings, args) -> int:
    from temporalio.service import RPCError

    from workflows.names import STATE_QUERY

    client = await _client(settings)
    # a failed case: the store says why; a query of a terminated workflow would still say `processing`
    result = _stored_failure(settings, args.case_id)
    if result is None:
        try:
            result = await client.get_workflow_handle(args.case_id).query(
                STATE_QUERY, result_type=CaseResult)
        except RPCError:
            from formwerk.db import CaseStore

            result = CaseStore.from_url(settings.sqlalchemy_url).get(args.case_id)
    if result is None:
        _err(f"Fall {args.case_id} nicht gefunden.")
        return 1
    _audit(settings, "case.status", args.case_id)
    print(json.dumps(result.contract_json(), ensure_ascii=False, indent=2))
    return 0


async def retry_cmd(settings: Settings, args) -> int:
    """`formwerk retry CASE`: a failed case runs again from its original; exit 1 if it cannot."""
    from formwerk.db import CaseStore
    from formwerk.intake import NotRetryable, retry_failed

    client = await _client(settings)
    cases = CaseStore.from_url(settings.sqlalchemy_url)
    try:
        handle = await retry_failed(client, cases, args.case_id, settings.task_queue)
    except NotRetryable as exc:
        _err(str(exc))
        return 1
    _audit(settings, "case.retry", args.case_id)
    _err(f"Fall {args.case_id} wird erneut verarbeitet.")
    if args.wait:
        result = await wait_routed(handle, 600)
        print(json.dumps(result.contract_json(), ensure_ascii=False, indent=2))
        return 0 if result.status.value != "failed" else 1
    print(json.dumps({"case_id": args.case_id, "retried": True}))
    return 0


async def reconcile_cmd(settings: Settings, args) -> int:
    """`formwerk reconcile`: one reconciler round, a line per case marked `failed`."""
    from formwerk.db import CaseStore
    from formwerk.reconcile import reconcile

    client = await _client(settings)
    out = await reconcile(client, CaseStore.from_url(settings.sqlalchemy_url))
    for case_id, close_status in out.marked.items():
        print(json.dumps({"case_id": case_id, "status": "failed", "workflow": close_status.lower()}))
    _err(f"{out.checked} offene Fälle geprüft, {len(out.marked)} als fehlgeschlagen markiert.")
    return 0


async def watch(settings: Settings, args) -> int:
    """Scanner drop folder: each new file becomes a case; results land in results/."""
    from formwerk.intake import policies_from_catalogue, submit

    inbox: Path = args.directory
    processed, results = inbox / "processed", inbox / "results"
    for d in (inbox, processed, results):
        d.mkdir(parents=True, exist_ok=True)
    client = await _client(settings)
    blobs = BlobStore.from_settings(settings)
    policies = policies_from_catalogue(settings.sqlalchemy_url)
    sizes: dict[Path, int] = {}
    pending: set[asyncio.Task] = set()

    async def finish(path: Path, handle) -> None:
        result = await wait_routed(handle, timeout=24 * 3600)
        out = result.contract_json()
        (results / f"{path.name}.json").write_text(json.dumps(out, ensure_ascii=False, indent=2))
        _err(f"{path.name} → {out['status']}")

    _err(f"Posteingang: {inbox.resolve()} (Ergebnisse in {results})")
    async with _local_workers(settings, client):
        while True:
            for path in sorted(inbox.iterdir()):
                if not path.is_file() or path.name.startswith("."):
                    continue
                size = path.stat().st_size
                if sizes.get(path) != size:  # still being written by the scanner
                    sizes[path] = size
                    continue
                sizes.pop(path, None)
                sub = await submit(client, blobs, path.read_bytes(), filename=path.name,
                                   reference=None, task_queue=settings.task_queue,
                                   ocr_task_queue=settings.ocr_task_queue, policies=policies,
                                   claim_idle_minutes=settings.claim_idle_minutes)
                target = processed / path.name
                shutil.move(str(path), str(target))
                task = asyncio.create_task(finish(target, sub.handle))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.sleep(args.interval)


async def worker(settings: Settings, args) -> int:
    from worker import run_worker

    await run_worker(settings)
    return 0


async def up(settings: Settings, args) -> int:
    client = await _client(settings)
    _err("Formwerk is running:")
    _err(f"  Temporal        {settings.temporal_address} (namespace {settings.temporal_namespace})")
    _err(f"  Temporal UI     http://127.0.0.1:{settings.temporal_ui_port}")
    _err(f"  data directory  {settings.data_dir}")
    _err(f"  database        {settings.sqlalchemy_url}")
    server = serving = None
    if not args.no_api:
        server, serving = await _start_api(settings, client)
    _err("  Ctrl-C stops the worker and API (the Temporal server keeps running: `formwerk down`).")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, or a service manager stopping the stack
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        if args.worker_in_process:
            async with _local_workers(settings, client):
                await stop.wait()
        else:
            command = [sys.executable, "-m", "formwerk.cli", *(["-v"] if getattr(args, "verbose", False) else []),
                       "worker"]
            await asyncio.gather(*(supervise_worker(command, stop, env=env) for env in _worker_envs(settings)))
    finally:
        if server is not None:
            server.should_exit = True  # open requests are answered first
            await asyncio.wait_for(serving, 30)
    return 0


def _worker_envs(settings: Settings) -> list[dict[str, str] | None]:
    """The environments (beyond its own) of `formwerk up`'s worker processes.

    One process (``case_worker_processes`` = 1) serves every queue. With more, that many serve
    the case queue (workflows and the light steps of digital documents) and one more reads pages
    (OCR and a scan's analysis): a scan's extraction is Python too, and in a process that also
    runs digital cases it holds the interpreter lock they wait for. Metrics ports, if set, go one
    further per process.
    """
    count = max(1, settings.case_worker_processes)
    if count == 1:
        return [None]
    envs: list[dict[str, str] | None] = []
    for number, queues in enumerate(["ocr"] + ["cases"] * count):
        env = {"FORMWERK_WORKER_QUEUES": queues}
        for name in ("worker_metrics_port", "temporal_metrics_port"):
            if getattr(settings, name):
                env[f"FORMWERK_{name.upper()}"] = str(getattr(settings, name) + number)
        envs.append(env)
    return envs


def _end_with_parent() -> None:
    """In the child, before it runs: SIGTERM when the parent dies, however it dies (Linux), so a
    killed `formwerk up` leaves no worker behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the parent's own shutdown still stops it


async def supervise_worker(command: list[str], stop: asyncio.Event | None = None,
                           max_backoff_s: float = 30.0, env: dict[str, str] | None = None) -> None:
    """Run the worker as a child process, started again if it dies, until ``stop`` (or cancellation).

    Apart from the web app, the worker's Python (workflow tasks, the light steps
    of digital documents, a scan's extraction) and the API's (uploads, pages,
    the clerks' screens) do not take turns on one interpreter lock: under load
    in one process a digital case waited seconds for it. A child that exits is
    restarted after a pause that doubles up to ``max_backoff_s`` (a worker that
    cannot start must not spin); Temporal retries whatever it was doing.
    """
    stop = stop or asyncio.Event()
    backoff = 1.0
    while not stop.is_set():
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.DEVNULL,
                                                    preexec_fn=_end_with_parent,
                                                    env={**os.environ, **env} if env else None)
        waiter = asyncio.ensure_future(proc.wait())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if proc.returncode is None:  # stopped or cancelled: the worker finishes what it can
                proc.terminate()
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), 30)
                except asyncio.TimeoutError:
                    proc.kill()
                    await waiter
        if stop.is_set():
            return
        if time.monotonic() - started > 60:
            backoff = 1.0  # it ran a while: a fresh failure, not a crash loop
        log.warning("worker process exited with code %s; starting it again in %.0f s", proc.returncode, backoff)
        _err(f"  worker process exited with code {proc.returncode}; starting it again in {backoff:.0f} s")
        try:
            await asyncio.wait_for(stop.wait(), backoff)
        except asyncio.TimeoutError:
            pass
        backoff = min(max_backoff_s, backoff * 2)


def _api_server(settings: Settings, client=None):
    import uvicorn

    from api.app import create_app

    config = uvicorn.Config(create_app(settings, client=client), host=settings.api_host,
                            port=settings.api_port, log_level="warning")
    return uvicorn.Server(config)


def _no_user_hint(settings: Settings) -> None:
    from formwerk.user_commands import no_users_hint
    from formwerk.users import UserStore

    if UserStore.from_url(settings.sqlalchemy_url).count() == 0:
        _err("  " + no_users_hint())


async def _start_api(settings: Settings, client=None):
    server = _api_server(settings, client)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if not server.started:  # e.g. the port is taken: say so instead of running without a UI
        raise SystemExit(f"The web app could not start on {settings.api_host}:{settings.api_port} "
                         "(port in use? set FORMWERK_API_PORT).")
    _err(f"  API + UI        http://{settings.api_host}:{settings.api_port}")
    _no_user_hint(settings)
    return server, task


async def api(settings: Settings, args) -> int:
    """The web app alone (production: behind a reverse proxy, beside the workers)."""
    if getattr(args, "host", None):
        settings.api_host = args.host
    if getattr(args, "port", None):
        settings.api_port = args.port
    _err(f"Formwerk API + UI on http://{settings.api_host}:{settings.api_port}")
    _no_user_hint(settings)
    await _api_server(settings).serve()
    return 0


async def down(settings: Settings, args) -> int:
    _err("stopped" if stop_temporal(settings) else "no embedded Temporal server recorded")
    return 0


async def train(settings: Settings, args) -> int:
    """Retrain the classifier: generated documents plus clerks' reclassifications.

    Writes a new versioned artefact; running workers pick it up within a minute.
    """
    from classifiers.bootstrap import generated_pairs
    from classifiers.encoder import load_encoder
    from classifiers.training import PAGE_SEP
    from classifiers.training import train as train_classifier
    from forms.catalogue import load_catalogue
    from formwerk.db import CaseStore
    from formwerk.pagecontent import load_pages

    t0 = time.perf_counter()
    pairs = generated_pairs(args.per_type)
    blobs = BlobStore.from_settings(settings)
    corrected = 0
    for case, label in CaseStore.from_url(settings.sqlalchemy_url).reclassifications():
        try:
            pages = [p.text for p in load_pages(blobs, case.content_keys)]
        except Exception as exc:  # the scan may be gone after retention: skip, say so
            _err(f"skipping {case.case_id}: {exc}")
            continue
        if pages:
            pairs.append((PAGE_SEP.join(pages), label))
            corrected += 1
    vdir = train_classifier(pairs, load_catalogue(), Path(settings.classifier_dir), encoder=load_encoder(settings.encoder))
    metrics_file = Path(vdir) / "metrics.json"
    print(json.dumps({
        "version": Path(vdir).name, "artefact": str(vdir), "examples": len(pairs),
        "from_reclassifications": corrected, "seconds": round(time.perf_counter() - t0, 1),
        "metrics": json.loads(metrics_file.read_text()) if metrics_file.exists() else None,
    }, ensure_ascii=False, indent=2))
    return 0
