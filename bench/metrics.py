"""Benchmark metrics: pure functions over truth records and contract results.

Inputs everywhere:

* ``items`` — truth records, one per corpus file: mappings with at least
  ``file`` (str), ``doc_type`` (FORMS.md id, ``"invoice"`` or ``"unknown"``),
  ``truth`` (field name -> expected normalised value) and optionally
  ``category`` and ``pages``.
* ``results`` — ``file -> contract JSON object`` as printed by
  ``formwerk process --json`` (PRODUCT.md "Contract"). A file without a result
  counts as wrong everywhere (nothing is silently dropped).

Conventions: rates and accuracies are floats in [0, 1] or ``None`` when the
denominator is empty (never a misleading 0 or 1); confidences are in [0, 1];
times are milliseconds unless the name says otherwise.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Sequence

Result = Mapping[str, Any]
Item = Mapping[str, Any]

_DECIMAL_RE = re.compile(r"^-?\d+\.\d+$")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.;:])")


# --------------------------------------------------------------------------
# Normalisation and comparison
# --------------------------------------------------------------------------


def normalise(value: Any) -> Any:
    """Canonical form for exact comparison of field values.

    Strings: Unicode NFC, case-folded, whitespace collapsed, no space before
    ``, . ; :`` (OCR often inserts one). Decimal strings and floats become a
    canonical decimal string (``"642.50"`` == ``642.5``); ints become their
    digit string so ``3 == "3"`` (digit strings keep leading zeros: tax ids).
    Dates become ISO strings. Lists and dicts are normalised elementwise;
    ``None`` and empty strings are ``None``.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return _canonical_decimal(Decimal(repr(value)))
    if isinstance(value, (datetime, date)):
        return value.isoformat()[:10]
    if isinstance(value, Mapping):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    text = unicodedata.normalize("NFC", str(value)).casefold()
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)
    if not text:
        return None
    if _DECIMAL_RE.match(text):
        try:
            return _canonical_decimal(Decimal(text))
        except InvalidOperation:  # pragma: no cover - regex guards this
            return text
    return text


def _canonical_decimal(d: Decimal) -> str:
    # "642.50" and "642.5" and 642.5 must compare equal; integral -> "642"
    d = d.normalize()
    s = format(d, "f")
    return s


def values_equal(truth: Any, predicted: Any) -> bool:
    """Exact equality after :func:`normalise`.

    Lists are compared elementwise (same length, same order); for dicts (e.g.
    a KG 1 child record) every key of the truth must match — extra predicted
    keys are ignored.
    """
    return _eq(normalise(truth), normalise(predicted))


def _eq(t: Any, p: Any) -> bool:
    if isinstance(t, dict):
        return isinstance(p, dict) and all(_eq(v, p.get(k)) for k, v in t.items())
    if isinstance(t, list):
        return isinstance(p, list) and len(t) == len(p) and all(_eq(a, b) for a, b in zip(t, p))
    return t == p


def has_truth(value: Any) -> bool:
    """A truth value that counts (``None``/empty means "not filled in": not scored)."""
    n = normalise(value)
    return n is not None and n != [] and n != {}


# --------------------------------------------------------------------------
# Per-field observations
# --------------------------------------------------------------------------

ACCEPT_STATUSES = ("completed", "needs_review")


@dataclass(frozen=True)
class FieldObservation:
    """One truth field of one document and what the pipeline said about it.

    ``accepted`` means the value went on without a clerk looking at it: the
    field is present, not flagged ``needs_review``, and the case was not
    rejected (a clerk fixes only flagged fields, PRODUCT.md "Review").
    """

    file: str
    doc_type: str
    category: str
    field: str
    truth: Any
    value: Any
    present: bool
    confidence: float
    needs_review: bool
    accepted: bool
    correct: bool
    case_completed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def field_observations(items: Iterable[Item], results: Mapping[str, Result]) -> list[FieldObservation]:
    """One observation per scored truth field (see :func:`has_truth`).

    A field the applicant left blank (truth ``None``) is scored only when the
    pipeline nevertheless produced a value — a wrong value that may go through.
    """
    out: list[FieldObservation] = []
    for item in items:
        res = results.get(item["file"]) or {}
        status = res.get("status")
        fields = res.get("fields") or {}
        for name, truth in (item.get("truth") or {}).items():
            f = fields.get(name)
            present = isinstance(f, Mapping) and has_truth(f.get("value"))
            if not has_truth(truth) and not present:
                continue  # left blank and read as blank: nothing to score
            value = f.get("value") if present else None
            conf = float(f.get("confidence") or 0.0) if present else 0.0
            needs_review = bool(f.get("needs_review", True)) if present else True
            out.append(
                FieldObservation(
                    file=item["file"],
                    doc_type=item["doc_type"],
                    category=item.get("category", ""),
                    field=name,
                    truth=truth,
                    value=value,
                    present=present,
                    confidence=min(1.0, max(0.0, conf)),
                    needs_review=needs_review,
                    accepted=present and not needs_review and status in ACCEPT_STATUSES,
                    correct=present and has_truth(truth) and values_equal(truth, value),
                    case_completed=status == "completed",
                )
            )
    return out


def _rate(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def field_accuracy(obs: Sequence[FieldObservation]) -> dict[str, Any]:
    """Overall and per-field accuracy of extracted values over all truth fields.

    A missing value is wrong. Per-field keys are ``"<doc_type>.<field>"``.
    """
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in obs:
        c = per[f"{o.doc_type}.{o.field}"]
        c[0] += o.correct
        c[1] += 1
    return {
        "accuracy": _rate(sum(o.correct for o in obs), len(obs)),
        "n": len(obs),
        "per_field": {k: {"accuracy": _rate(c, n), "correct": c, "n": n} for k, (c, n) in sorted(per.items())},
    }


def review_metrics(obs: Sequence[FieldObservation]) -> dict[str, Any]:
    """Share of fields accepted without review and the accuracy of those.

    Also the accuracy of all fields of cases that went straight through
    (``completed``) — what the back-office system receives without a clerk.
    """
    accepted = [o for o in obs if o.accepted]
    stp_fields = [o for o in obs if o.case_completed]
    return {
        "auto_accepted_share": _rate(len(accepted), len(obs)),
        "auto_accepted_accuracy": _rate(sum(o.correct for o in accepted), len(accepted)),
        "auto_accepted_n": len(accepted),
        "straight_through_field_accuracy": _rate(sum(o.correct for o in stp_fields), len(stp_fields)),
        "straight_through_fields_n": len(stp_fields),
        "fields_n": len(obs),
    }


# --------------------------------------------------------------------------
# Document level
# --------------------------------------------------------------------------


def predicted_type(res: Result | None) -> str:
    """The predicted document type, ``"rejected"`` or ``"missing"``."""
    if not res:
        return "missing"
    if res.get("status") == "rejected" and not res.get("document_type"):
        return "rejected"
    return res.get("document_type") or "unknown"


def type_ok(item: Item, res: Result | None) -> bool:
    """Right type: the truth, or one of the item's ``also_ok`` (blank page: rejected)."""
    pred = predicted_type(res)
    return pred == item["doc_type"] or pred in (item.get("also_ok") or ())


def doc_type_accuracy(items: Sequence[Item], results: Mapping[str, Result]) -> dict[str, Any]:
    """Accuracy of the document type, overall and per true type."""
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for it in items:
        ok = type_ok(it, results.get(it["file"]))
        per[it["doc_type"]][0] += ok
        per[it["doc_type"]][1] += 1
    total_ok = sum(c for c, _ in per.values())
    return {
        "accuracy": _rate(total_ok, len(items)),
        "n": len(items),
        "per_type": {k: {"accuracy": _rate(c, n), "correct": c, "n": n} for k, (c, n) in sorted(per.items())},
    }


def confusion_matrix(items: Sequence[Item], results: Mapping[str, Result]) -> dict[str, Any]:
    """Counts ``matrix[i][j]`` = documents of true ``labels[i]`` predicted ``predicted_labels[j]``.

    Columns are the true labels in the same order, then predictions that are
    no true label (``rejected``, ``missing``, a type absent from the corpus).
    """
    pairs = [(it["doc_type"], predicted_type(results.get(it["file"]))) for it in items]
    labels = sorted({t for t, _ in pairs})
    cols = labels + sorted({p for _, p in pairs} - set(labels))
    ri = {lab: i for i, lab in enumerate(labels)}
    ci = {lab: j for j, lab in enumerate(cols)}
    m = [[0] * len(cols) for _ in labels]
    for t, p in pairs:
        m[ri[t]][ci[p]] += 1
    return {"labels": labels, "predicted_labels": cols, "matrix": m}


def straight_through(items: Sequence[Item], results: Mapping[str, Result],
                     obs: Sequence[FieldObservation] = ()) -> dict[str, Any]:
    """Share of cases ``completed`` (no clerk), overall and per true type.

    ``correct_rate`` counts only straight-through cases that are fully right:
    right type and every scored truth field right (negatives have no fields,
    so for them the type decides). Status counts are included for context.
    """
    wrong_files = {o.file for o in obs if not o.correct}
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    statuses: Counter[str] = Counter()
    for it in items:
        res = results.get(it["file"]) or {}
        status = res.get("status") or "missing"
        statuses[status] += 1
        done = status == "completed"
        right = done and type_ok(it, res) and it["file"] not in wrong_files
        c = per[it["doc_type"]]
        c[0] += done
        c[1] += right
        c[2] += 1
    n = len(items)
    return {
        "rate": _rate(sum(c[0] for c in per.values()), n),
        "correct_rate": _rate(sum(c[1] for c in per.values()), n),
        "n": n,
        "statuses": dict(sorted(statuses.items())),
        "per_type": {k: {"rate": _rate(a, t), "correct_rate": _rate(b, t), "n": t}
                     for k, (a, b, t) in sorted(per.items())},
    }


# --------------------------------------------------------------------------
# Threshold curve and calibration
# --------------------------------------------------------------------------


def threshold_curve(obs: Sequence[FieldObservation], thresholds: Sequence[float] | None = None,
                    target: float = 0.995) -> dict[str, Any]:
    """Re-route the measured fields as if the field threshold were ``t``.

    At threshold ``t`` a present field with ``confidence >= t`` is accepted
    (the pipeline's own ``needs_review`` flag is ignored: this is the "what if"
    curve a policy is chosen from). Per ``t``: share of truth fields accepted,
    accuracy of the accepted ones, and the simulated straight-through rate of
    the documents that have scored fields (every truth field accepted).
    ``threshold_for_target`` is the lowest ``t`` whose accepted accuracy is
    ``>= target`` (``None`` if no threshold gets there).
    """
    if thresholds is None:
        thresholds = [round(i / 100, 2) for i in range(0, 101)]
    by_doc: dict[str, list[FieldObservation]] = defaultdict(list)
    for o in obs:
        by_doc[o.file].append(o)
    points = []
    best: float | None = None
    for t in thresholds:
        acc = [o for o in obs if o.present and o.confidence >= t]
        ok = sum(o.correct for o in acc)
        stp = sum(all(o.present and o.confidence >= t for o in fs) for fs in by_doc.values())
        accuracy = _rate(ok, len(acc))
        points.append({
            "threshold": t,
            "accepted_share": _rate(len(acc), len(obs)),
            "accepted_accuracy": accuracy,
            "accepted_n": len(acc),
            "straight_through_rate": _rate(stp, len(by_doc)),
        })
        if best is None and accuracy is not None and accuracy >= target:
            best = t
    return {"target": target, "threshold_for_target": best, "points": points,
            "at_target": next((p for p in points if p["threshold"] == best), None)}


def calibration(obs: Sequence[FieldObservation], n_bins: int = 10) -> dict[str, Any]:
    """Reliability diagram data and expected calibration error (ECE) of field confidence.

    Over present fields only (a missing value has no confidence).
    """
    return reliability([(o.confidence, o.correct) for o in obs if o.present], n_bins)


def type_calibration(items: Sequence[Item], results: Mapping[str, Result], n_bins: int = 10) -> dict[str, Any]:
    """Reliability and ECE of the document type probability (``document_type_confidence``).

    Over documents the classifier saw (a rejected file has no type probability).
    """
    pairs = []
    for it in items:
        res = results.get(it["file"]) or {}
        conf = res.get("document_type_confidence")
        if isinstance(conf, (int, float)) and not isinstance(conf, bool):
            pairs.append((min(1.0, max(0.0, float(conf))), type_ok(it, res)))
    return reliability(pairs, n_bins)


def reliability(pairs: Sequence[tuple[float, bool]], n_bins: int = 10) -> dict[str, Any]:
    """Equal-width bins over [0, 1] of ``(confidence, correct)``; the last bin
    includes 1.0. ECE = sum over bins of ``n_bin / N * |accuracy_bin - mean_confidence_bin|``."""
    pres = list(pairs)
    bins = [{"lo": i / n_bins, "hi": (i + 1) / n_bins, "n": 0, "conf_sum": 0.0, "correct": 0}
            for i in range(n_bins)]
    for conf, correct in pres:
        b = bins[min(n_bins - 1, int(conf * n_bins))]
        b["n"] += 1
        b["conf_sum"] += conf
        b["correct"] += bool(correct)
    ece = 0.0
    out_bins = []
    for b in bins:
        mean_conf = b["conf_sum"] / b["n"] if b["n"] else None
        acc = b["correct"] / b["n"] if b["n"] else None
        if b["n"]:
            ece += b["n"] / len(pres) * abs(acc - mean_conf)
        out_bins.append({"lo": b["lo"], "hi": b["hi"], "n": b["n"],
                         "mean_confidence": mean_conf, "accuracy": acc})
    return {"ece": ece if pres else None, "n": len(pres), "bins": out_bins}


# --------------------------------------------------------------------------
# Mixed batches
# --------------------------------------------------------------------------


def predicted_segments(item: Item, res: Result | None) -> list[tuple[int, int, str]]:
    """``(start, end, type)`` of the documents the pipeline made of a scanned batch.

    A batch it did not split is one document over all its pages.
    """
    if res and res.get("document_type") == "batch" and res.get("documents"):
        out = []
        for d in res["documents"]:
            start, end = (d.get("pages") or [0, 0])[:2]
            out.append((int(start), int(end), predicted_type(d)))
        return sorted(out)
    return [(1, int(item.get("pages") or 1), predicted_type(res))]


def batch_split(items: Sequence[Item], results: Mapping[str, Result]) -> dict[str, Any]:
    """How well scanned batches are split into their documents.

    * ``exact_rate`` — batches whose every document has the right pages and type;
    * ``documents`` — true documents found with exactly the right pages and type
      (recall) and predicted documents that are exactly right (precision);
    * ``boundaries`` — precision/recall/F1 of the cuts between documents;
    * ``page_type_accuracy`` — pages that end up in a document of their true type.
    """
    exact = tp_docs = n_true = n_pred = 0
    tp_cut = n_true_cut = n_pred_cut = 0
    pages_ok = pages_n = 0
    per: list[dict[str, Any]] = []
    for it in items:
        truth = [(s["start"], s["end"], s["document_type"]) for s in (it.get("truth") or {}).get("segments", [])]
        pred = predicted_segments(it, results.get(it["file"]))
        exact += pred == truth
        tp_docs += len(set(pred) & set(truth))
        n_true, n_pred = n_true + len(truth), n_pred + len(pred)
        cuts_t = {s for s, _, _ in truth[1:]}
        cuts_p = {s for s, _, _ in pred[1:]}
        tp_cut += len(cuts_t & cuts_p)
        n_true_cut, n_pred_cut = n_true_cut + len(cuts_t), n_pred_cut + len(cuts_p)
        for s, e, t in truth:
            for page in range(s, e + 1):
                pages_n += 1
                pages_ok += any(ps <= page <= pe and pt == t for ps, pe, pt in pred)
        per.append({"file": it["file"], "composition": it.get("variant"), "truth": truth, "predicted": pred,
                    "exact": pred == truth})
    p_cut, r_cut = _rate(tp_cut, n_pred_cut), _rate(tp_cut, n_true_cut)
    f1 = 2 * p_cut * r_cut / (p_cut + r_cut) if p_cut and r_cut else (0.0 if n_true_cut else None)
    return {
        "n": len(items),
        "exact_rate": _rate(exact, len(items)),
        "documents": {"recall": _rate(tp_docs, n_true), "precision": _rate(tp_docs, n_pred), "n_true": n_true},
        "boundaries": {"precision": p_cut, "recall": r_cut, "f1": f1, "n_true": n_true_cut},
        "page_type_accuracy": _rate(pages_ok, pages_n),
        "batches": per,
    }


# --------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------


def pages_per_minute(pages: int, wall_s: float) -> float | None:
    return None if wall_s <= 0 or pages <= 0 else pages * 60.0 / wall_s


def stage_timings(results: Iterable[Result]) -> dict[str, dict[str, float]]:
    """Per stage of ``timings_ms``: documents seen, sum, mean and p95 (ms)."""
    per: dict[str, list[float]] = defaultdict(list)
    for r in results:
        for k, v in (r.get("timings_ms") or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                per[k].append(float(v))
    out = {}
    for k, vs in sorted(per.items()):
        vs_sorted = sorted(vs)
        p95 = vs_sorted[min(len(vs) - 1, math.ceil(0.95 * len(vs)) - 1)]
        out[k] = {"n": len(vs), "sum_ms": sum(vs), "mean_ms": sum(vs) / len(vs), "p95_ms": p95}
    return out


def by_category(items: Sequence[Item], results: Mapping[str, Result],
                obs: Sequence[FieldObservation], key: str | tuple[str, ...] = "category") -> dict[str, dict[str, Any]]:
    """Type accuracy, field accuracy and straight-through rate per value of
    ``item[key]`` (``category`` by default; ``profile`` gives the scan profiles;
    a tuple of keys groups by their combination, joined with ``/``)."""
    keys = (key,) if isinstance(key, str) else key

    def group(it: Item) -> str:
        return "/".join(str(it.get(k) or "-") for k in keys)

    groups = sorted({group(it) for it in items})
    by_file = {it["file"]: group(it) for it in items}
    out = {}
    for g in groups:
        its = [it for it in items if group(it) == g]
        os_ = [o for o in obs if by_file.get(o.file) == g]
        out[g] = {
            "n": len(its),
            "doc_type_accuracy": doc_type_accuracy(its, results)["accuracy"],
            "field_accuracy": field_accuracy(os_)["accuracy"],
            "fields_n": len(os_),
            "straight_through_rate": straight_through(its, results, os_)["rate"],
            "auto_accepted_accuracy": review_metrics(os_)["auto_accepted_accuracy"],
        }
    return out
