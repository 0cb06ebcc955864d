"""Intake: store the original, then start (or attach to) its case workflow.

The original is written to the content-addressed store *before* anything else
happens; the workflow id derives from the caller's reference, so submitting
the same reference twice attaches to the existing case instead of creating a
second one (also after it has finished).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from formwerk.models import CaseInput, CaseResult, RoutingPolicy
from formwerk.storage import BlobStore
from workflows.names import CASE_WORKFLOW, case_workflow_id


@dataclass
class Submission:
    case_id: str
    handle: WorkflowHandle
    created: bool  # False when it attached to an existing case


def policies_from_catalogue() -> dict[str, RoutingPolicy]:
    from forms.catalogue import load_catalogue

    return {f.id: f.policy for f in load_catalogue().forms.values()}


async def submit(
    client: Client,
    blobs: BlobStore,
    data: bytes,
    *,
    filename: str,
    reference: str | None,
    task_queue: str,
    ocr_task_queue: str,
    policies: dict[str, RoutingPolicy],
    callback_url: str | None = None,
    claim_idle_minutes: float = 15.0,
) -> Submission:
    blob_key = blobs.put(data)  # first: nothing is lost whatever happens next
    reference = reference or blob_key  # same file, same case
    case_id = case_workflow_id(reference)
    inp = CaseInput(
        reference=reference, blob_key=blob_key, filename=filename, policies=policies,
        submitted_at=datetime.now(timezone.utc), callback_url=callback_url,
        ocr_task_queue=ocr_task_queue, claim_idle_minutes=claim_idle_minutes,
    )
    existed = await _exists(client, case_id)
    try:
        handle = await client.start_workflow(
            CASE_WORKFLOW, inp, id=case_id, task_queue=task_queue, result_type=CaseResult,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return Submission(case_id, handle, created=not existed)
    except WorkflowAlreadyStartedError:
        return Submission(case_id, client.get_workflow_handle(case_id, result_type=CaseResult), False)


async def _exists(client: Client, case_id: str) -> bool:
    from temporalio.service import RPCError, RPCStatusCode

    try:
        await client.get_workflow_handle(case_id).describe()
        return True
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
