"""Cases whose workflow ended without saying so: marked `failed` from Temporal's close status.

A workflow that fails in its own code stores the case as `failed` itself
(``CaseWorkflow._fail``). One that is terminated, times out, or whose last
save could not reach the store runs no more code: its case would stand as
`processing` (or `needs_review`) forever. The reconciler lists those store
cases, asks Temporal (``describe``) whether their workflow is still running,
and marks the closed ones `failed` with the close status. It runs every
``reconcile_interval_seconds`` in each case worker and as ``formwerk reconcile``.

Running it twice, or in two workers at once, is harmless: the save is an
upsert of a higher revision, and a case already `failed` is not listed again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from formwerk import failures
from formwerk.db import CaseStore, cases
from formwerk.models import CaseEvent, CaseResult, CaseStatus

log = logging.getLogger("formwerk.reconcile")

#: the store statuses a running workflow owns
OPEN = (CaseStatus.PROCESSING.value, CaseStatus.NEEDS_REVIEW.value)
#: a case not found in Temporal is only marked when its row is this old (intake may still be starting it)
NOT_FOUND_GRACE = timedelta(minutes=5)


@dataclass
class Reconciled:
    checked: int = 0
    marked: dict[str, str] = field(default_factory=dict)  # case id -> close status


def _open_cases(store: CaseStore, limit: int) -> list[tuple[str, datetime]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(cases.c.case_id, cases.c.updated_at)
                            .where(cases.c.status.in_(OPEN)).order_by(cases.c.updated_at).limit(limit))
        return [(r[0], r[1] if r[1] is None or r[1].tzinfo else r[1].replace(tzinfo=timezone.utc))
                for r in rows]


async def _close_status(client, case_id: str) -> str | None:
    """Temporal's close status name; None while running; ``NOT_FOUND`` for an unknown workflow."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    try:
        desc = await client.get_workflow_handle(case_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return "NOT_FOUND"
        raise
    if desc.status in (None, WorkflowExecutionStatus.RUNNING):
        return None
    return desc.status.name


def mark_failed(store: CaseStore, case: CaseResult, close_status: str, now: datetime) -> bool:
    """Store ``case`` as `failed` because its workflow closed with ``close_status``."""
    code, reason = failures.closed_failure(close_status)
    case = case.model_copy(deep=True)
    case.status = CaseStatus.FAILED
    case.reason_code, case.reason = code, reason
    case.routed_at = case.routed_at or now
    case.claimed_by = case.claim_expires_at = None
    case.events = [*case.events, CaseEvent(at=now, kind="failed", actor="reconciler",
                                           detail={"reason_code": code, "close_status": close_status})]
    case.revision += 1  # newer than the workflow's last save
    return store.save_result(case)


async def reconcile(client, store: CaseStore, *, limit: int = 5000,
                    now: datetime | None = None) -> Reconciled:
    """Mark every open store case whose workflow is closed (or unknown) as `failed`."""
    now = now or datetime.now(timezone.utc)
    out = Reconciled()
    for case_id, updated_at in await asyncio.to_thread(_open_cases, store, limit):
        out.checked += 1
        status = await _close_status(client, case_id)
        if status is None or status == "COMPLETED":
            # running, or completed after its final save (a completed workflow saved its status)
            continue
        if status == "NOT_FOUND" and updated_at is not None and now - updated_at < NOT_FOUND_GRACE:
            continue
        case = await asyncio.to_thread(store.get, case_id)
        if case is None or case.status.value not in OPEN:
            continue  # changed meanwhile
        if await asyncio.to_thread(mark_failed, store, case, status, now):
            out.marked[case_id] = status
            log.warning("case %s marked failed: workflow %s", case_id, status.lower())
    return out


async def reconcile_forever(client, store: CaseStore, interval_s: float,
                            stop: asyncio.Event | None = None) -> None:
    """``reconcile`` every ``interval_s`` seconds until ``stop`` is set (errors logged, never raised)."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            result = await reconcile(client, store)
            if result.marked:
                log.info("reconciler: %d of %d open cases marked failed", len(result.marked), result.checked)
        except Exception as exc:  # noqa: BLE001 - Temporal or the store briefly away: try next round
            log.warning("reconciler round failed: %s", type(exc).__name__)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except asyncio.TimeoutError:
            pass
