"""Run the real pipeline through its public contract and watch its memory.

The benchmark never imports the pipeline: it runs ``formwerk process --json
FILE...`` (PRODUCT.md "Contract") as a subprocess over the corpus, in batches,
with ``FORMWERK_DATA_DIR`` pointing into the output folder so the benchmark has
its own store. Every output line is one JSON object per file.

Memory: a poller reads ``VmHWM`` (peak resident set, kB) from ``/proc`` for
every process that descends from the CLI *or* carries our
``FORMWERK_DATA_DIR`` in its environment (that catches a worker the CLI
started in the background and that outlives it).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

log = logging.getLogger(__name__)


def default_command() -> list[str]:
    """``formwerk process --json`` from the venv that runs the benchmark."""
    exe = Path(sys.executable).parent / "formwerk"
    if not exe.exists():
        found = shutil.which("formwerk")
        exe = Path(found) if found else exe
    return [str(exe), "process", "--json"]


@dataclass
class PipelineRun:
    """Results by corpus file name plus what was measured around them."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    wall_s: float = 0.0  # sum of batch wall times (warm-up excluded)
    warmup_s: float | None = None
    batches: int = 0
    errors: list[str] = field(default_factory=list)  # human-readable problems
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # process name -> VmHWM, MiB
    command: list[str] = field(default_factory=list)
    worker_pid: int | None = None  # the long-lived `formwerk worker`, if one was used
    worker_warmup_s: float | None = None

    @property
    def worker_peak_rss_mb(self) -> float | None:
        """Peak of the dedicated worker, else the largest Python process (CLI worker), MiB."""
        if "worker" in self.peak_rss_mb:
            return self.peak_rss_mb["worker"]
        py = [v for k, v in self.peak_rss_mb.items() if k.startswith(("python", "formwerk", "cli"))]
        return max(py) if py else (max(self.peak_rss_mb.values()) if self.peak_rss_mb else None)


class MemoryWatcher:
    """Polls ``/proc`` for the peak RSS of a process tree (Linux only)."""

    def __init__(self, data_dir: Path, interval_s: float = 0.5) -> None:
        self.marker = f"FORMWERK_DATA_DIR={data_dir}".encode()
        self.interval_s = interval_s
        self.root_pid: int | None = None
        self.peaks: dict[int, tuple[str, float]] = {}  # pid -> (name, MiB)
        self._env_match: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "MemoryWatcher":
        if Path("/proc").is_dir():
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.poll()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def poll(self) -> None:
        parents: dict[int, int] = {}
        names: dict[int, str] = {}
        hwm: dict[int, float] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("Name:"):
                    names[pid] = line[5:].strip()
                elif line.startswith("PPid:"):
                    parents[pid] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm[pid] = int(line.split()[1]) / 1024.0
        tracked = set()
        for pid in hwm:
            if self._descends(pid, parents) or self._has_marker(pid):
                tracked.add(pid)
        for pid in tracked:
            prev = self.peaks.get(pid, ("", 0.0))[1]
            self.peaks[pid] = (names.get(pid, "?"), max(prev, hwm[pid]))

    def _descends(self, pid: int, parents: dict[int, int]) -> bool:
        root = self.root_pid
        seen = 0
        while root is not None and pid and seen < 64:
            if pid == root:
                return True
            pid = parents.get(pid, 0)
            seen += 1
        return False

    def _has_marker(self, pid: int) -> bool:
        if pid not in self._env_match:
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes()
                self._env_match[pid] = self.marker in env.split(b"\0")
            except OSError:
                self._env_match[pid] = False
        return self._env_match[pid]

    def peak_by_name(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, mb in self.peaks.values():
            out[name] = max(out.get(name, 0.0), round(mb, 1))
        return out


def parse_output(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of the CLI's stdout (non-JSON lines are ignored)."""
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(data_dir: Path) -> dict[str, str]:
    """Settings for a private embedded stack: own store, own Temporal ports.

    Why: the default Temporal address (127.0.0.1:7233) is shared by everything
    on the machine; a benchmark must neither use nor disturb another stack.
    """
    return {
        "FORMWERK_DATA_DIR": str(data_dir),
        "FORMWERK_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "FORMWERK_TEMPORAL_UI_PORT": str(free_port()),
        "FORMWERK_EMBEDDED_TEMPORAL": "true",
    }


def run_pipeline(files: Sequence[Path], data_dir: Path, *, command: Sequence[str] | None = None,
                 batch_size: int = 24, warmup: Path | None = None, seconds_per_page: float = 60.0,
                 pages: dict[str, int] | None = None, extra_env: dict[str, str] | None = None,
                 isolated: bool = True, warm_worker: bool = True) -> PipelineRun:
    """Process ``files`` in batches; results keyed by the file's base name.

    A file with no output line is reported in ``errors`` (and scored as wrong
    by the metrics). ``warmup`` (a file that is not part of the corpus) is
    processed first and timed apart, so start-up of the embedded stack and
    model loading do not count against throughput.

    ``isolated``: run a private embedded stack on free ports, stopped at the
    end (``formwerk down``). ``warm_worker`` (real ``formwerk`` CLI only): one
    long-lived ``formwerk worker`` as in production, and ``process
    --no-worker`` for the batches — so models load once, and "peak memory of
    the worker" is that process. If the worker cannot be started, the CLI's
    own in-process worker is used and the problem is reported.
    """
    cmd = list(command or default_command())
    is_formwerk = Path(cmd[0]).name == "formwerk"
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = isolated_env(data_dir) if isolated else {"FORMWERK_DATA_DIR": str(data_dir)}
    env = {**os.environ, **stack, "OMP_THREAD_LIMIT": "1", **(extra_env or {})}
    run = PipelineRun(command=cmd)
    pages = pages or {}
    worker: subprocess.Popen | None = None
    with MemoryWatcher(data_dir) as mem:
        try:
            if warmup is not None:
                t0 = time.perf_counter()
                objs, err = _run_batch(cmd, [warmup], env, mem, timeout=900)
                run.warmup_s = time.perf_counter() - t0
                if err or not objs:
                    run.errors.append(f"warm-up: {err or 'no result'}")
            batch_cmd = cmd
            if warm_worker and is_formwerk:
                worker, batch_cmd = _start_worker(cmd, env, data_dir, warmup, mem, run)
            for i in range(0, len(files), batch_size):
                batch = list(files[i:i + batch_size])
                timeout = 120 + seconds_per_page * sum(pages.get(f.name, 2) for f in batch)
                t0 = time.perf_counter()
                objs, err = _run_batch(batch_cmd, batch, env, mem, timeout=timeout)
                run.wall_s += time.perf_counter() - t0
                run.batches += 1
                if err:
                    run.errors.append(f"batch {run.batches}: {err}")
                for obj in objs:
                    name = Path(str(obj.get("file", ""))).name
                    run.results[name] = obj
                missing = [f.name for f in batch if f.name not in run.results]
                if missing:
                    run.errors.append(f"batch {run.batches}: no result for {len(missing)} file(s): "
                                      f"{', '.join(missing[:5])}")
                log.info("pipeline batch %d: %d files, %d results", run.batches, len(batch), len(objs))
        finally:
            if worker is not None:
                run.worker_pid = worker.pid
                _stop_worker(worker)
            if isolated and is_formwerk:
                _stop_stack(cmd[0], env, run)
    run.peak_rss_mb = mem.peak_by_name()
    if run.worker_pid in mem.peaks:
        run.peak_rss_mb["worker"] = round(mem.peaks[run.worker_pid][1], 1)
    try:  # fallback for short-lived CLIs the poller missed: largest waited-for child
        import resource

        children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0  # kB on Linux
        if children_mb and not run.peak_rss_mb:
            run.peak_rss_mb = {"cli (rusage)": round(children_mb, 1)}
    except (ImportError, OSError):  # pragma: no cover - not Linux
        pass
    return run


def _start_worker(cmd: list[str], env: dict[str, str], data_dir: Path, warmup: Path | None,
                  mem: MemoryWatcher, run: PipelineRun) -> tuple[subprocess.Popen | None, list[str]]:
    """Start ``formwerk worker`` and warm it; returns (worker, command for batches)."""
    log_path = data_dir / "worker.log"
    try:
        worker = subprocess.Popen([cmd[0], "worker"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(log_path, "w"))
    except OSError as exc:
        run.errors.append(f"formwerk worker: cannot start ({exc}); CLI worker used")
        return None, cmd
    batch_cmd = [*cmd, "--no-worker"]
    if warmup is not None:
        # different bytes than the first warm-up, else the case would simply be found again
        warm2 = warmup.with_name(f"worker-{warmup.name}")
        warm2.write_bytes(warmup.read_bytes() + b"\n%worker warm-up\n")
        t0 = time.perf_counter()
        objs, err = _run_batch(batch_cmd, [warm2], env, mem, timeout=900)
        run.worker_warmup_s = time.perf_counter() - t0
        if not objs or worker.poll() is not None:
            state = "running" if worker.poll() is None else f"exited with {worker.returncode}"
            run.errors.append(f"formwerk worker: warm-up failed ({err or 'no result'}; worker {state}; "
                              f"see {log_path}); CLI worker used")
            _stop_worker(worker)
            return None, cmd
    return worker, batch_cmd


def _stop_worker(worker: subprocess.Popen) -> None:
    # SIGINT: the worker shuts down gracefully (finishes or hands back its tasks)
    if worker.poll() is None:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def _stop_stack(exe: str, env: dict[str, str], run: PipelineRun) -> None:
    # the private Temporal dev server was started by our CLI calls: stop it (pid file in data_dir)
    try:
        r = subprocess.run([exe, "down"], env=env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            run.errors.append(f"formwerk down: exit code {r.returncode}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        run.errors.append(f"formwerk down failed: {exc}")


def _run_batch(cmd: list[str], files: list[Path], env: dict[str, str], mem: MemoryWatcher,
               timeout: float) -> tuple[list[dict[str, Any]], str]:
    try:
        proc = subprocess.Popen([*cmd, *map(str, files)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
    except OSError as exc:
        return [], f"cannot start {cmd[0]}: {exc}"
    mem.root_pid = proc.pid
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        return parse_output(stdout), f"timed out after {timeout:.0f} s"
    err = ""
    if proc.returncode != 0:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        err = f"exit code {proc.returncode}: {tail}"
    return parse_output(stdout), err
