"""Client side of the review phase: send a clerk's decision to its case workflow.

Used by the web app (and the REST API): the workflow is the source of truth,
its validator decides whether a decision is allowed and says why not in a
German sentence, which reaches the clerk as ``ReviewRefused.message``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from formwerk.db import CaseStore
from formwerk.models import CaseResult, CaseStatus, ReviewDecision
from workflows.names import REVIEW_UPDATE, STATE_QUERY

FINISHED = "Der Fall ist bereits abgeschlossen."
NOT_FOUND = "Der Fall wurde nicht gefunden."
UNREACHABLE = "Der Fall ist gerade nicht erreichbar. Bitte versuchen Sie es später noch einmal."
REFUSED = "Die Entscheidung wurde nicht angenommen."


class ReviewRefused(Exception):
    """A decision the case did not accept; ``message`` is a German sentence for the clerk."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _refusal_message(err: BaseException) -> str:
    """The innermost failure message of the update's cause chain (the validator's sentence)."""
    message = ""
    seen = set()
    current: BaseException | None = err.cause if isinstance(err, WorkflowUpdateFailedError) else err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FailureError) and current.message:
            message = current.message
        current = getattr(current, "cause", None) or current.__cause__
    return message or REFUSED


def _already_applied(stored: CaseResult | None, decision_id: str) -> bool:
    return bool(stored and decision_id and any(e.decision_id == decision_id for e in stored.events))


async def send_decision(client: Client, case_id: str, decision: ReviewDecision,
                        store: CaseStore | None = None) -> CaseResult:
    """Deliver ``decision`` to the case and return the case as it stands afterwards.

    The decision id is the Temporal update id, so a retried request is
    answered by the first one. Raises ``ReviewRefused`` (German message) when
    the workflow refuses, when the case is finished, or cannot be found.
    """
    handle = client.get_workflow_handle(case_id)
    try:
        return await handle.execute_update(REVIEW_UPDATE, decision, id=decision.decision_id or None,
                                           result_type=CaseResult)
    except WorkflowUpdateFailedError as exc:
        raise ReviewRefused(_refusal_message(exc)) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise ReviewRefused(UNREACHABLE) from exc
    except RPCError as exc:
        # the workflow has finished (or never existed): the store knows what happened
        stored = store.get(case_id) if store is not None else None
        if _already_applied(stored, decision.decision_id):
            return stored  # the same decision, retried after it closed the case
        if stored is not None and stored.status in (CaseStatus.COMPLETED, CaseStatus.REJECTED):
            raise ReviewRefused(FINISHED) from exc
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ReviewRefused(NOT_FOUND if stored is None else FINISHED) from exc
        raise ReviewRefused(UNREACHABLE) from exc


async def case_state(client: Client, case_id: str, store: CaseStore | None) -> CaseResult | None:
    """The case as the workflow sees it now; the stored copy once it has finished or is unreachable."""
    handle = client.get_workflow_handle(case_id)
    stored = None
    try:
        desc = await handle.describe(rpc_timeout=timedelta(seconds=5))
        if desc.status != WorkflowExecutionStatus.RUNNING and store is not None:
            # a closed case does not change any more: no need to replay it on a worker
            stored = store.get(case_id)
            if stored is not None:
                return stored
        result = await handle.query(STATE_QUERY, result_type=CaseResult,
                                    rpc_timeout=timedelta(seconds=10))
        if result is not None:
            return result
    except (RPCError, WorkflowQueryFailedError):
        pass
    if stored is None and store is not None:
        stored = store.get(case_id)
    return stored
