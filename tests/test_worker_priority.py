"""OCR threads yield the cores to short work: their nice value is raised, the rest stay."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from worker import lower_thread_priority

pytestmark = pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no per-thread priority here")


def _nice_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_only_the_ocr_pool_threads_are_lowered():
    base = _nice_of_this_thread()
    with ThreadPoolExecutor(1, initializer=lower_thread_priority, initargs=(7,)) as ocr_pool:
        lowered = ocr_pool.submit(_nice_of_this_thread).result()
    with ThreadPoolExecutor(1) as case_pool:
        untouched = case_pool.submit(_nice_of_this_thread).result()
    assert lowered == max(base, 7)
    assert untouched == base and _nice_of_this_thread() == base


def test_a_tesseract_process_started_from_an_ocr_thread_inherits_it():
    def child_nice() -> int:
        out = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"],
                             capture_output=True, text=True, check=True)
        return int(out.stdout)

    base = _nice_of_this_thread()
    with ThreadPoolExecutor(1, initializer=lower_thread_priority, initargs=(5,)) as ocr_pool:
        assert ocr_pool.submit(child_nice).result() == max(base, 5)
