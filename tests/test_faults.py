"""Fault tolerance: a blocking activity stays alive by background heartbeats.

The heartbeat timeout of OCR and prepare is seconds (so a killed worker's
attempt is retried at once); these tests prove a sync activity that blocks
far longer than that timeout is not declared dead, and that the background
heartbeats keep the details the activity itself sent (retries resume from them).
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from workflows.heartbeat import keep_alive


def test_background_heartbeats_resend_the_latest_details():
    seen: list[tuple] = []

    @activity.defn(name="blocking")
    @keep_alive(interval=0.05)
    def blocking() -> str:
        activity.heartbeat(["page-1"])
        time.sleep(0.5)
        return "done"

    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: seen.append(details)
    assert env.run(blocking) == "done"
    assert len(seen) >= 3  # the activity's own heartbeat plus background ones
    assert all(d == (["page-1"],) for d in seen)


def test_called_outside_an_activity_just_runs():
    assert keep_alive(interval=0.01)(lambda x: x + 1)(1) == 2


@activity.defn(name="fault_slow_sync")
@keep_alive(interval=0.5)
def slow_sync() -> int:
    time.sleep(5)  # blocks far longer than the 2 s heartbeat timeout
    return activity.info().attempt


@workflow.defn(name="FaultHeartbeatWorkflow")
class HeartbeatWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            "fault_slow_sync", start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(maximum_attempts=2), result_type=int)


@pytest.mark.asyncio
async def test_blocking_activity_survives_a_short_heartbeat_timeout(temporal_env):
    queue = f"faults-{uuid.uuid4().hex}"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        async with Worker(temporal_env.client, task_queue=queue, workflows=[HeartbeatWorkflow],
                          activities=[slow_sync], activity_executor=pool):
            attempt = await temporal_env.client.execute_workflow(
                HeartbeatWorkflow.run, id=f"faults-{uuid.uuid4().hex}", task_queue=queue)
    assert attempt == 1  # no heartbeat timeout, no retry
