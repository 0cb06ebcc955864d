"""Field thresholds re-fit from clerks' decisions.

Every case a clerk approved tells, for each value the machine read, whether
it was right (the clerk kept it) or wrong (the clerk corrected it). Those
decisions are evidence about the machine's confidence that no benchmark has:
real documents, real hands, this office's forms. :func:`fit` turns them into
per-field routing thresholds:

* **Lower a threshold** only where the field's own evidence shows that what
  would then be accepted is right often enough: the one-sided lower
  confidence bound (Clopper-Pearson, ``level``) of the accuracy of the
  field's values at or above the new threshold is at least ``target``
  (99.5 %), and the band newly let through (between the new and the old
  threshold) holds at least ``min_band`` decided values, none of them wrong
  beyond the target's share. With no error that takes about 600 decided
  values of one field at 95 % (about 1,500 at the family level below), so
  the straight-through rate grows with use, not with a lucky week.
* **Raise a threshold** where the evidence shows that what is accepted today
  is evidently below the target (the upper bound of its accuracy is below
  ``target``): to the lowest threshold whose accepted values are no longer
  evidently worse; to :data:`ALWAYS_REVIEW` if none is.
* Otherwise the form's own threshold stays.

Each field's decision is a test of its own, and a fit makes one per field
with evidence (about a hundred over the five forms): at 95 % each, several
would move by chance alone. The bounds are therefore taken at the family
level ``1 - (1 - level) / m`` for ``m`` fields (Bonferroni), so the chance
that *any* threshold of a fit moves on a fluke stays at 5 %. Seen on the
full benchmark's replay (``bench.feedback``): at 95 % per field, single
corrections among 6-14 decided values raised six thresholds and cost 10
points of straight-through while catching no accepted error later.

Evidence comes only from reviewed cases (straight-through cases have no
clerk's word). An approval vouches for every value on the case screen, the
flagged ones and the rest; values with a failed check, and empty values the
machine was sure of (confidence 0), are not routed by a threshold and are
left out. A fit is a versioned :class:`FieldCalibration`: stored
(``formwerk.fieldcal_store``), activated by an operator, travelling in each
case's routing policy and recorded on the case (``calibration_version``).

Pure: no I/O, no clock (``created_at`` is passed in).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, Field

from formwerk.models import RECLASSIFICATION, CaseResult, CaseStatus, RoutingPolicy

#: what must be right among accepted values
TARGET = 0.995
#: one-sided confidence of the bounds on that accuracy
LEVEL = 0.95
#: decided values needed in a band before it may go through unchecked
MIN_BAND = 30
#: never accept below this confidence, whatever the evidence: below it a value
#: is "unreadable" rather than "unsure" (formwerk.routing)
FLOOR = 0.5
#: a threshold no calibrated confidence reaches: the field always goes to a clerk
ALWAYS_REVIEW = 1.01
#: the fitting rule's own version, stored with every fit
FIT_VERSION = 1


@dataclass(frozen=True)
class Evidence:
    """One machine value a clerk decided on."""

    document_type: str
    field: str
    confidence: float
    right: bool
    flagged: bool  # the clerk was asked about it (below the threshold of its time)


def _same(a: Any, b: Any) -> bool:
    if a in (None, "", []) and b in (None, "", []):
        return True
    if isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    return json.dumps(a, sort_keys=True, ensure_ascii=False, default=str) == \
        json.dumps(b, sort_keys=True, ensure_ascii=False, default=str)


def evidence_from_case(result: CaseResult) -> list[Evidence]:
    """The decided values of one case; none unless a clerk approved it."""
    approved = result.reviewed_by or any(e.kind in ("approved", "confirmed") for e in result.events)
    if result.status != CaseStatus.COMPLETED or not approved or not result.document_type:
        return []
    if result.document_type == "batch":
        return []
    corrected = {c.field: c for c in result.corrections if c.field != RECLASSIFICATION}
    out: list[Evidence] = []
    for name, f in result.fields.items():
        if f.issues or f.confidence <= 0.0 or f.source == "human":
            continue  # not routed by a threshold
        c = corrected.get(name)
        right = c is None or _same(c.corrected_value, f.value)
        out.append(Evidence(result.document_type, name, float(f.confidence), right, bool(f.needs_review)))
    return out


# -- bounds -----------------------------------------------------------------------------


def lower_bound(right: int, n: int, level: float = LEVEL) -> float:
    """One-sided Clopper-Pearson lower bound of a share ``right / n``."""
    if n == 0:
        return 0.0
    if right == 0:
        return 0.0
    from scipy.stats import beta

    return float(beta.ppf(1.0 - level, right, n - right + 1))


def upper_bound(right: int, n: int, level: float = LEVEL) -> float:
    """One-sided Clopper-Pearson upper bound of a share ``right / n``."""
    if n == 0 or right == n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(level, right + 1, n - right))


# -- the fit ------------------------------------------------------------------------------


class FieldFit(BaseModel):
    """One field's threshold and the evidence behind it."""

    document_type: str
    field: str
    form_threshold: float  # the form definition's (forms/*.yaml)
    threshold: float  # the fitted one
    decision: str  # lowered | raised | kept | kept_little_evidence
    evidence: int = 0
    wrong: int = 0
    accepted: int = 0  # decided values at or above ``threshold``
    accepted_wrong: int = 0
    accepted_lower: float = 0.0  # lower bound of their accuracy
    accepted_upper: float = 1.0
    band: int = 0  # decided values between a lowered threshold and the form's
    # reliability: [confidence from, to, decided, right] per band of confidence
    reliability: list[tuple[float, float, int, int]] = Field(default_factory=list)


class FieldCalibration(BaseModel):
    """A versioned set of per-field thresholds fitted from clerks' decisions."""

    version: str
    created_at: datetime
    created_by: str = ""
    target: float = TARGET
    level: float = LEVEL
    min_band: int = MIN_BAND
    fit_version: int = FIT_VERSION
    cases: int = 0  # reviewed cases the evidence came from
    # on those cases, the values that went through unchecked (not flagged) and how many were
    # right: the accuracy of what is accepted, as the clerks' decisions measure it
    accepted_values: int = 0
    accepted_right: int = 0
    family_level: float = LEVEL  # the level each field's bounds were taken at (Bonferroni over the fields)
    fits: list[FieldFit] = Field(default_factory=list)

    def thresholds(self) -> dict[str, dict[str, float]]:
        """{document type: {field: threshold}} for the fields whose threshold changed."""
        out: dict[str, dict[str, float]] = defaultdict(dict)
        for f in self.fits:
            if f.threshold != f.form_threshold:
                out[f.document_type][f.field] = f.threshold
        return dict(out)

    def changed(self) -> list[FieldFit]:
        return [f for f in self.fits if f.threshold != f.form_threshold]


RELIABILITY_EDGES = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 1.0001)


def _reliability(points: list[Evidence]) -> list[tuple[float, float, int, int]]:
    out = []
    for lo, hi in zip(RELIABILITY_EDGES, RELIABILITY_EDGES[1:]):
        inside = [e for e in points if lo <= e.confidence < hi]
        if inside:
            out.append((lo, min(hi, 1.0), len(inside), sum(e.right for e in inside)))
    return out


def fit_field(document_type: str, field: str, points: list[Evidence], form_threshold: float, *,
              target: float = TARGET, level: float = LEVEL, min_band: int = MIN_BAND) -> FieldFit:
    """The threshold for one field from its decided values (see the module's rules)."""
    points = sorted(points, key=lambda e: e.confidence)
    wrong_total = sum(not e.right for e in points)

    def above(t: float) -> tuple[int, int]:
        sel = [e for e in points if e.confidence >= t]
        return len(sel), sum(not e.right for e in sel)

    def result(threshold: float, decision: str, band: int = 0) -> FieldFit:
        n, w = above(threshold)
        return FieldFit(document_type=document_type, field=field, form_threshold=form_threshold,
                        threshold=threshold, decision=decision, evidence=len(points), wrong=wrong_total,
                        accepted=n, accepted_wrong=w, accepted_lower=lower_bound(n - w, n, level),
                        accepted_upper=upper_bound(n - w, n, level), band=band,
                        reliability=_reliability(points))

    n0, w0 = above(form_threshold)
    if upper_bound(n0 - w0, n0, level) < target:
        # what goes through today is evidently wrong too often: raise
        for c in sorted({e.confidence for e in points if e.confidence > form_threshold}):
            n, w = above(c)
            if upper_bound(n - w, n, level) >= target:
                return result(c, "raised")
        return result(ALWAYS_REVIEW, "raised")

    best: tuple[float, int] | None = None
    # candidates: the decided confidences below the form's threshold, highest first; the
    # first candidate that fails ends the walk (a lower one lets through all it let through)
    for c in sorted({e.confidence for e in points if FLOOR <= e.confidence < form_threshold}, reverse=True):
        n, w = above(c)
        band = [e for e in points if c <= e.confidence < form_threshold]
        band_wrong = sum(not e.right for e in band)
        if lower_bound(n - w, n, level) < target or band_wrong > (1.0 - target) * len(band):
            break
        if len(band) >= min_band:
            best = (c, len(band))
    if best is not None:
        return result(best[0], "lowered", best[1])
    little = lower_bound(n0 - w0, n0, level) < target
    return result(form_threshold, "kept_little_evidence" if little else "kept")


def fit(evidence: Iterable[Evidence], policies: Mapping[str, RoutingPolicy], *, version: str,
        created_at: datetime, created_by: str = "", cases: int = 0, target: float = TARGET,
        level: float = LEVEL, min_band: int = MIN_BAND) -> FieldCalibration:
    """A calibration for every (type, field) with evidence, against the forms' thresholds."""
    evidence = list(evidence)
    accepted, right = accepted_accuracy(evidence)
    grouped: dict[tuple[str, str], list[Evidence]] = defaultdict(list)
    for e in evidence:
        if e.document_type in policies:
            grouped[(e.document_type, e.field)].append(e)
    family_level = 1.0 - (1.0 - level) / max(1, len(grouped))
    fits = []
    for (doc_type, name), points in sorted(grouped.items()):
        p = policies[doc_type]
        form_threshold = p.field_thresholds.get(name, p.min_field_confidence)
        fits.append(fit_field(doc_type, name, points, form_threshold, target=target, level=family_level,
                              min_band=min_band))
    return FieldCalibration(version=version, created_at=created_at, created_by=created_by, target=target,
                            level=level, family_level=family_level, min_band=min_band, cases=cases,
                            accepted_values=accepted, accepted_right=right, fits=fits)


def apply(policies: Mapping[str, RoutingPolicy], calibration: FieldCalibration | None) -> dict[str, RoutingPolicy]:
    """The forms' policies with a calibration's thresholds, each naming the calibration."""
    if calibration is None:
        return dict(policies)
    fitted = calibration.thresholds()
    return {
        doc_type: p.model_copy(update={
            "field_thresholds": {**p.field_thresholds, **fitted.get(doc_type, {})},
            "calibration_version": calibration.version,
        })
        for doc_type, p in policies.items()
    }


def accepted_accuracy(evidence: Iterable[Evidence]) -> tuple[int, int]:
    """(accepted, of them right) among decided values that were not flagged: the accuracy of
    what went through unchecked, as measured on the reviewed cases."""
    accepted = [e for e in evidence if not e.flagged]
    return len(accepted), sum(e.right for e in accepted)
