"""The Formwerk worker: builds engines once and serves the task queues.

* ``formwerk-cases``: the case workflow and its light activities.
* ``formwerk-ocr``: one OCR activity per page; the slot count equals the
  number of Tesseract processes we let run at once (one thread each, one per
  core), so pages of all cases share the cores fairly.
* ``formwerk-cases-analysis``: classification and extraction of scanned
  documents (the encoder, second reads), one slot per core at the OCR
  threads' lower priority, served with the OCR queue. A filled digital
  form's steps run as local activities of its workflow, in the case
  worker, and never wait behind them (nor, in a process of their own,
  for the interpreter lock the page work holds).

Run it with ``formwerk worker`` (``formwerk up`` runs one serving every
queue as its child process). In production they scale apart:
``FORMWERK_WORKER_QUEUES=ocr`` runs a page worker (OCR, and a scan's
classification and extraction), ``cases`` the workflows and light steps. With
``FORMWERK_WORKER_METRICS_PORT`` the worker serves Formwerk's Prometheus
metrics, with ``FORMWERK_TEMPORAL_METRICS_PORT`` the Temporal SDK's own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from formwerk.codec import data_converter
from formwerk.db import CaseStore
from formwerk.settings import Settings
from formwerk.storage import BlobStore
from workflows.activities import ActivityOptions, CaseActivities
from workflows.case_workflow import CaseWorkflow
from workflows.names import analysis_task_queue

log = logging.getLogger("formwerk.worker")


class ReloadingClassifier:
    """Serves the newest trained classifier version without a worker restart.

    ``formwerk train`` writes a new versioned artefact; every ``check_s``
    seconds the worker looks for a newer one and swaps it in (loading happens
    in the activity thread; the old model serves until the new one is ready).
    """

    def __init__(self, catalogue, settings: Settings, check_s: float = 60.0) -> None:
        from classifiers import DocumentClassifier

        self._factory = lambda: DocumentClassifier.from_catalogue(
            catalogue, model_dir=settings.classifier_dir, encoder=settings.encoder)
        self._root = settings.classifier_dir
        self._check_s = check_s
        self._lock = threading.Lock()
        # The first load (torch, the encoder, the artefact: about 10 s) runs in the
        # background: the worker polls at once, so a restarted worker resumes the OCR
        # of a killed one while the model loads, and only classification waits for it.
        self._loaded = threading.Event()
        self._load_error: BaseException | None = None
        self._model: object | None = None
        # not a daemon: a process that ends early (a rejected file in `formwerk process`) waits
        # for the load instead of tearing torch down mid-import (SIGABRT); never later than before
        threading.Thread(target=self._load_first, name="classifier-load", daemon=False).start()

    def _load_first(self) -> None:
        try:
            self._model = self._factory()
            self._seen = self._latest()
            self._checked = time.monotonic()
            log.info("classifier %s", self._model.version)
        except BaseException as exc:  # noqa: BLE001 - surfaced to every caller instead
            self._load_error = exc
            log.error("classifier could not be loaded: %s", exc)
        finally:
            self._loaded.set()

    def wait_loaded(self) -> "ReloadingClassifier":
        """Block until the first model is loaded (raises its error); for measurements."""
        self._current  # noqa: B018
        return self

    @property
    def _current(self):
        if not self._loaded.is_set():
            self._loaded.wait()
        if self._load_error is not None:
            raise self._load_error
        return self._model

    @_current.setter
    def _current(self, value) -> None:
        self._model = value

    def _latest(self) -> str | None:
        from classifiers.training import latest_version_dir

        found = latest_version_dir(Path(self._root))
        return found.name if found else None

    @property
    def version(self) -> str:
        return self._current.version

    def _maybe_reload(self) -> None:
        if time.monotonic() - self._checked < self._check_s:
            return
        with self._lock:
            self._checked = time.monotonic()
            latest = self._latest()
            if latest != self._seen:
                log.info("classifier: new version %s, reloading", latest)
                self._current = self._factory()
                self._seen = latest

    def classify(self, content):
        self._current  # noqa: B018 - waits for the first load (and raises its error)
        self._maybe_reload()
        return self._current.classify(content)

    def split_batch(self, pages):
        return self._current.split_batch(pages)


def keep_workflow_bytecode(settings: Settings) -> None:
    """Let the workflow sandbox load compiled workflow modules instead of compiling them per case.

    The sandbox imports the workflow's modules afresh for every workflow it
    starts (and every replay). With ``PYTHONDONTWRITEBYTECODE`` set, as in
    many container images and on these machines, there is no ``.pyc`` to
    load, and compiling ``workflows/case_workflow.py`` was a tenth of a filled
    digital form's worker time. The bytecode then goes to a cache in the data
    directory, never beside the sources.
    """
    import sys

    if sys.dont_write_bytecode:
        sys.pycache_prefix = str(Path(settings.data_dir) / "pycache")
        sys.dont_write_bytecode = False


# what a worker runs: the packages whose code decides a case (workflows, their activities and engines)
CODE_PACKAGES = ("workflows", "formwerk", "extractors", "classifiers", "forms")


@functools.lru_cache(maxsize=1)
def code_build_id() -> str:
    """The workers' build id: Formwerk's version and a hash of the sources of its packages.

    Temporal records it on every workflow task a worker completes. Left to the SDK, it is a
    hash of the code of every module loaded, read through each module's loader: about 19 s of
    CPU at every worker start with a fresh bytecode cache (container images commonly set
    PYTHONDONTWRITEBYTECODE), as every module from torch to pydantic was compiled again.
    """
    import hashlib
    from importlib import metadata

    import temporalio

    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    try:
        version = metadata.version("formwerk")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"formwerk-{version}-{digest.hexdigest()[:16]}-temporalio-{temporalio.__version__}"


def build_activities(settings: Settings, queues: str = "all") -> CaseActivities:
    """Load the catalogue and build every engine once per worker process.

    Every kind needs the classifier: the case worker for documents that need no
    OCR, the page worker (``queues="ocr"``) for scans.
    """
    from extractors import CatalogueExtractor
    from extractors.reocr import CROP_TIMEOUT_S, TesseractCrops
    from forms.catalogue import load_catalogue
    from formwerk.ocr import make_engine

    settings.ensure_dirs()
    catalogue = load_catalogue()
    classifier = ReloadingClassifier(catalogue, settings)  # loads in the background
    return CaseActivities(
        blobs=BlobStore.from_settings(settings),
        cases=CaseStore.from_url(settings.sqlalchemy_url),
        ocr=make_engine(settings.ocr_engine, settings.ocr_languages, timeout_s=settings.ocr_timeout_s),
        classifier=classifier,
        # second reads of unsure boxes: bounded like page reads, never longer than a page may take
        extractor=CatalogueExtractor(catalogue, crop_ocr=TesseractCrops(
            in_process=settings.ocr_in_process, timeout_s=min(CROP_TIMEOUT_S, settings.ocr_timeout_s))),
        known_types=set(catalogue.ids),
        options=ActivityOptions.from_settings(settings),
    )


def retention_activities(settings: Settings, activities: CaseActivities):
    """The retention purge on the worker's stores (policies from the settings)."""
    from formwerk.audit import AuditLog
    from formwerk.retention import RetentionPolicies
    from workflows.retention_workflow import RetentionActivities

    return RetentionActivities(activities.cases, activities.blobs, AuditLog(activities.cases.engine),
                               RetentionPolicies.from_settings(settings))


async def connect(settings: Settings, runtime=None) -> Client:
    """A client for the configured Temporal (TLS/mTLS and API key from the settings)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=settings.temporal_tls_config(),
        api_key=settings.temporal_api_key or None,
        runtime=runtime or default_runtime(),
    )


def _core_logging():
    """The SDK core's own warnings through Python's logging (stderr, the CLI's format).

    By default the core prints them to stdout: a cold worker's first long workflow task
    ("Workflow task duration exceeded 5 seconds") landed in ``formwerk process --json``'s output.
    """
    from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryFilter

    return LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                         forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")))


@functools.cache
def default_runtime():
    """One Temporal runtime per process, its core logging forwarded (``_core_logging``)."""
    from temporalio.runtime import Runtime, TelemetryConfig

    return Runtime(telemetry=TelemetryConfig(logging=_core_logging()))


def metrics_runtime(host: str, port: int):
    """A Temporal runtime exporting the SDK's metrics (task slots, latencies, polls) for Prometheus."""
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    return Runtime(telemetry=TelemetryConfig(
        logging=_core_logging(),
        metrics=PrometheusConfig(bind_address=f"{host}:{port}", durations_as_seconds=True)))


#: Heartbeats reach the server as often as workflows.heartbeat beats (every 3 s). The SDK's
#: default throttle is 0.8 x the heartbeat timeout: with 15 s, one heartbeat in 12 s and only
#: 3 s of slack before a busy worker's attempt was timed out and retried; with this, a 10 s
#: timeout leaves 7 s, and a killed worker's page is retried 10 s after its last beat.
HEARTBEAT_THROTTLE = dict(max_heartbeat_throttle_interval=timedelta(seconds=3),
                          default_heartbeat_throttle_interval=timedelta(seconds=3))


def lower_thread_priority(nice: int) -> None:
    """Run this thread at nice value ``nice`` unless it is already lower in priority.

    Linux keeps nice values per thread; children such as a ``tesseract``
    process inherit it. Raising it needs no privilege; elsewhere a no-op.
    """
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(nice, os.getpriority(os.PRIO_PROCESS, tid)))
    except OSError as exc:
        log.debug("cannot lower OCR thread priority: %s", exc)


@dataclass
class WorkerSet:
    """The two workers of one process; run them with ``async with``."""

    workers: list[Worker]
    executors: list[ThreadPoolExecutor]

    async def __aenter__(self) -> "WorkerSet":
        self._tasks = [asyncio.create_task(w.run()) for w in self.workers]
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.gather(*(w.shutdown() for w in self.workers), return_exceptions=True)
        for ex in self.executors:
            ex.shutdown(wait=False, cancel_futures=True)


def make_workers(
    client: Client,
    activities: CaseActivities,
    task_queue: str,
    ocr_task_queue: str,
    ocr_slots: int,
    queues: str = "all",
    case_slots: int = 8,
    ocr_nice: int = 10,
    retention=None,
) -> WorkerSet:
    """The case worker, the page worker (OCR and a scan's analysis), or both (``queues``: all | cases | ocr).

    With ``retention`` (``workflows.retention_workflow.RetentionActivities``) the
    case worker also runs the retention purge.
    """
    if queues not in ("all", "cases", "ocr"):
        raise ValueError(f"unknown worker queues {queues!r} (all, cases, ocr)")
    workers, pools = [], []
    if queues in ("all", "cases"):
        case_pool = ThreadPoolExecutor(max_workers=case_slots, thread_name_prefix="case-act")
        from workflows.retention_workflow import RetentionWorkflow

        workers.append(Worker(
            client,
            task_queue=task_queue,
            workflows=[CaseWorkflow] + ([RetentionWorkflow] if retention is not None else []),
            activities=activities.all() + ([retention.purge_expired] if retention is not None else []),
            activity_executor=case_pool,
            max_concurrent_activities=case_slots,
            build_id=code_build_id(),
            **HEARTBEAT_THROTTLE,
        ))
        pools.append(case_pool)
    if queues in ("all", "ocr"):
        # scans' classification and extraction: page work like OCR, per-core slots at its priority,
        # in the processes that read pages, never in one that runs workflows for digital documents
        analysis_pool = ThreadPoolExecutor(max_workers=ocr_slots, thread_name_prefix="analysis-act",
                                           initializer=lower_thread_priority, initargs=(ocr_nice,))
        workers.append(Worker(
            client,
            task_queue=analysis_task_queue(task_queue),
            activities=[activities.classify_document, activities.extract_fields],
            activity_executor=analysis_pool,
            max_concurrent_activities=ocr_slots,
            build_id=code_build_id(),
            **HEARTBEAT_THROTTLE,
        ))
        pools.append(analysis_pool)
        ocr_pool = ThreadPoolExecutor(max_workers=ocr_slots, thread_name_prefix="ocr-act",
                                      initializer=lower_thread_priority, initargs=(ocr_nice,))
        workers.append(Worker(
            client,
            task_queue=ocr_task_queue,
            activities=[activities.ocr_page],
            activity_executor=ocr_pool,
            max_concurrent_activities=ocr_slots,
            build_id=code_build_id(),
            **HEARTBEAT_THROTTLE,
        ))
        pools.append(ocr_pool)
    return WorkerSet(workers, pools)


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    runtime = None
    if settings.temporal_metrics_port:
        runtime = metrics_runtime(settings.metrics_host, settings.temporal_metrics_port)
        log.info("Temporal SDK metrics on http://%s:%d/metrics", settings.metrics_host,
                 settings.temporal_metrics_port)
    if settings.worker_metrics_port:
        from formwerk.metrics import start_worker_server

        start_worker_server(settings.worker_metrics_port, settings.metrics_host)
        log.info("Formwerk metrics on http://%s:%d/metrics", settings.metrics_host, settings.worker_metrics_port)
    client = await connect(settings, runtime=runtime)
    keep_workflow_bytecode(settings)
    queues = settings.worker_queues
    activities = build_activities(settings, queues)
    retention = None
    if queues != "ocr":
        retention = retention_activities(settings, activities)
        if settings.retention_interval_hours > 0:
            from workflows.retention_workflow import ensure_schedule

            if await ensure_schedule(client, settings.task_queue,
                                     timedelta(hours=settings.retention_interval_hours)):
                log.info("retention purge scheduled every %g h", settings.retention_interval_hours)
    async with make_workers(client, activities, settings.task_queue, settings.ocr_task_queue,
                            settings.ocr_workers, queues=queues, case_slots=settings.case_slots,
                            ocr_nice=settings.ocr_nice, retention=retention):
        log.info("worker polling %s", {"all": f"{settings.task_queue} and {settings.ocr_task_queue}",
                                       "cases": settings.task_queue, "ocr": settings.ocr_task_queue}[queues])
        stop = stop or asyncio.Event()
        reconciler = None
        if queues != "ocr" and settings.reconcile_interval_seconds > 0:
            # cases whose workflow was terminated or timed out: `failed`, not `processing` forever
            from formwerk.reconcile import reconcile_forever

            reconciler = asyncio.create_task(reconcile_forever(
                client, activities.cases, settings.reconcile_interval_seconds, stop))
        await stop.wait()
        if reconciler is not None:
            await reconciler


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(run_worker(Settings()))
