"""Facts about a case derived from its result and history, for figures and metrics.

Pure functions of a ``CaseResult`` (no I/O): the case store mirrors them into
columns on every save, so the dashboard can compute its figures in SQL, and
the worker's metrics use the same definitions, so both always agree.

Conventions: times are aware UTC datetimes, durations seconds.
"""

from __future__ import annotations

from datetime import datetime

from formwerk.models import CaseEvent, CaseResult, CaseStatus

#: the machine's routing decision, as metrics label and column value
STRAIGHT_THROUGH = "straight_through"
REVIEW = "review"
REJECTED = "rejected"

#: events that finish a review: the clerk's (or four-eyes confirmer's) decision
_DECIDING = ("approved", "confirmed", "rejected")
#: events that give a clerk the case: the start of a review time
_CLAIMING = ("claimed", "reassigned")


def route(result: CaseResult) -> str | None:
    """What the machine decided: straight through, review, or rejected (None before routing)."""
    for e in result.events:
        if e.kind == "routed":
            status = e.detail.get("status")
            if status == CaseStatus.COMPLETED.value:
                return STRAIGHT_THROUGH
            if status == CaseStatus.NEEDS_REVIEW.value:
                return REVIEW
            if status == CaseStatus.REJECTED.value:
                return REJECTED
    return None


def _decision(result: CaseResult) -> CaseEvent | None:
    """The event that decided the case (a four-eyes first approval does not)."""
    if result.status not in (CaseStatus.COMPLETED, CaseStatus.REJECTED):
        return None
    for e in reversed(result.events):
        if e.kind in _DECIDING and not e.detail.get("awaiting_confirmation"):
            return e
    return None


def finished_at(result: CaseResult) -> datetime | None:
    """When the case became completed or rejected (the decision, or the machine's routing)."""
    if result.status not in (CaseStatus.COMPLETED, CaseStatus.REJECTED):
        return None
    decision = _decision(result)
    if decision is not None:
        return decision.at
    return result.routed_at


def review_interval(result: CaseResult) -> tuple[datetime, datetime] | None:
    """(claim, decision) of the clerk who decided the case; None without a clerk's decision.

    The claim is the deciding clerk's last claim (or reassignment to them)
    before the decision; a decision sent without opening the case first
    (an implicit claim) counts from the decision itself, i.e. zero.
    """
    decision = _decision(result)
    if decision is None or not decision.actor:
        return None
    start = decision.at
    for e in result.events:
        if e.at > decision.at:
            break
        if e.kind == "claimed" and e.actor == decision.actor:
            start = e.at
        elif e.kind == "reassigned" and e.detail.get("to") == decision.actor:
            start = e.at
    return start, decision.at


def review_seconds(result: CaseResult) -> float | None:
    interval = review_interval(result)
    if interval is None:
        return None
    return max(0.0, (interval[1] - interval[0]).total_seconds())


def escalated_at(result: CaseResult) -> datetime | None:
    for e in result.events:
        if e.kind == "escalated":
            return e.at
    return None
