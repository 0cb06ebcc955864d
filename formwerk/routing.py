"""Routing: a pure function from machine results and a policy to a decision.

No I/O and no clock, so the workflow can call it directly and a decision is
reproducible from the workflow history (the policy travels in the input).
Reasons are machine codes of the form ``<kind>:<field>`` (``low_confidence:
birth_date``); the UI turns them into German sentences.
"""

from __future__ import annotations

from formwerk.models import (
    CaseStatus,
    Classification,
    Extraction,
    RoutingDecision,
    RoutingPolicy,
)

UNKNOWN = "unknown"


def route(
    classification: Classification,
    extraction: Extraction | None,
    policy: RoutingPolicy,
) -> RoutingDecision:
    """Decide straight-through (``completed``) or ``needs_review`` with reasons.

    Side effect on purpose: marks ``needs_review`` on each flagged field of
    ``extraction`` so the result tells the clerk exactly what to check.
    """
    reasons: list[str] = []
    flagged: list[str] = []

    if classification.document_type == UNKNOWN:
        reasons.append("unknown_document_type")
    elif classification.confidence < policy.min_type_confidence:
        reasons.append("low_type_confidence")
    if policy.four_eyes:
        reasons.append("four_eyes")

    if extraction is not None:
        required = set(policy.required_fields)
        for name, field in extraction.fields.items():
            threshold = policy.field_thresholds.get(name, policy.min_field_confidence)
            why: str | None = None
            if field.value is None or field.value == "" or field.value == []:
                if name in required:
                    why = f"missing:{name}"
                elif 0.0 < field.confidence < threshold:
                    # the extractor saw something where the field should be but
                    # could not read it: "empty" is then a guess, not a fact
                    why = f"unreadable:{name}"
            elif field.issues:
                why = f"invalid:{name}"
            elif field.confidence < threshold:
                why = f"low_confidence:{name}"
            field.needs_review = why is not None
            if why:
                reasons.append(why)
                flagged.append(name)
        for issue in extraction.issues:
            reasons.append(f"rule:{issue.code}")
            for name in issue.fields:
                if name in extraction.fields and name not in flagged:
                    extraction.fields[name].needs_review = True
                    flagged.append(name)
        for name in required - set(extraction.fields):
            reasons.append(f"missing:{name}")
            flagged.append(name)

    status = CaseStatus.NEEDS_REVIEW if reasons else CaseStatus.COMPLETED
    return RoutingDecision(status=status, reasons=reasons, fields_to_review=flagged)
