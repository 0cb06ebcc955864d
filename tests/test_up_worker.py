"""`formwerk up` runs its worker as a child process and starts it again when it dies."""

from __future__ import annotations

import asyncio
import sys

from formwerk.commands import supervise_worker


async def test_a_dying_worker_is_started_again_and_stopped_with_the_stack(tmp_path):
    starts = tmp_path / "starts"
    # a "worker" that notes its start, then dies at once the first two times and runs after that
    child = ("import pathlib, sys, time\n"
             f"p = pathlib.Path({str(starts)!r})\n"
             "n = len(p.read_text().splitlines()) if p.exists() else 0\n"
             "p.write_text(p.read_text() + 'x\\n' if p.exists() else 'x\\n')\n"
             "sys.exit(3) if n < 2 else time.sleep(600)\n")
    stop = asyncio.Event()
    task = asyncio.create_task(supervise_worker([sys.executable, "-c", child], stop, max_backoff_s=0.2))
    for _ in range(200):
        if starts.exists() and len(starts.read_text().splitlines()) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(starts.read_text().splitlines()) == 3  # died twice, started again each time
    await asyncio.sleep(0.5)
    assert not task.done()  # the third one keeps running
    stop.set()
    await asyncio.wait_for(task, 40)  # stopped (terminated), not left behind
    assert len(starts.read_text().splitlines()) == 3


def test_up_runs_a_page_worker_and_case_workers_or_one_worker_for_everything():
    from formwerk.commands import _worker_envs
    from formwerk.settings import Settings

    assert _worker_envs(Settings(case_worker_processes=1)) == [None]  # one process serves every queue
    envs = _worker_envs(Settings(case_worker_processes=2, worker_metrics_port=9100, temporal_metrics_port=0))
    assert [e["FORMWERK_WORKER_QUEUES"] for e in envs] == ["ocr", "cases", "cases"]
    # each process's metrics on a port of its own; an unset port stays unset
    assert [e["FORMWERK_WORKER_METRICS_PORT"] for e in envs] == ["9100", "9101", "9102"]
    assert not any("FORMWERK_TEMPORAL_METRICS_PORT" in e for e in envs)
