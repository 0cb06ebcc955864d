"""The daily retention purge as a Temporal schedule, a workflow and one activity.

The worker creates the schedule ``formwerk-retention`` once (idempotently:
every worker tries, the first one wins). Each run starts
``RetentionWorkflow``, whose single activity ``purge_expired`` does the work
(``formwerk.retention.purge_expired``) with the workflow's start time as
``now``. The schedule lets only one run go at a time; a run that fails is
retried by the activity's retry policy and in any case by the next day's run,
since the purge is idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from formwerk.retention import PurgeReport, RetentionPolicies

RETENTION_WORKFLOW = "RetentionWorkflow"
RETENTION_SCHEDULE_ID = "formwerk-retention"
PURGE_ACTIVITY = "purge_expired"


class RetentionRun(BaseModel):
    now: datetime | None = None  # None: the workflow's start time
    dry_run: bool = False


class RetentionActivities:
    """The purge activity with the stores it needs (built once per worker)."""

    def __init__(self, cases, blobs, audit, policies: RetentionPolicies) -> None:
        self.cases, self.blobs, self.audit, self.policies = cases, blobs, audit, policies

    @activity.defn(name=PURGE_ACTIVITY)
    def purge_expired(self, run: RetentionRun) -> PurgeReport:
        from formwerk.retention import purge_expired

        return purge_expired(self.cases, self.blobs, self.audit, self.policies, run.now,
                             dry_run=run.dry_run)


@workflow.defn(name=RETENTION_WORKFLOW)
class RetentionWorkflow:
    @workflow.run
    async def run(self, run: RetentionRun) -> PurgeReport:
        now = run.now or workflow.now()
        return await workflow.execute_activity(
            PURGE_ACTIVITY, RetentionRun(now=now, dry_run=run.dry_run), result_type=PurgeReport,
            start_to_close_timeout=timedelta(hours=2),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=10), maximum_attempts=5),
        )


async def ensure_schedule(client, task_queue: str, every: timedelta,
                          schedule_id: str = RETENTION_SCHEDULE_ID) -> bool:
    """Create the purge schedule unless it exists. Returns whether this call created it.

    An existing schedule is left as it is (an operator may have paused it).
    """
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
    )

    schedule = Schedule(
        action=ScheduleActionStartWorkflow(RETENTION_WORKFLOW, RetentionRun(), id=f"{schedule_id}-run",
                                           task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        return False
    return True
