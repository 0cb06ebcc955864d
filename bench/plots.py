"""PNG plots of the benchmark (matplotlib, headless Agg backend).

Each function takes the plain dicts of :mod:`bench.metrics` and a path, and
writes one PNG; nothing is shown on screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402


def reliability_diagram(cal: dict[str, Any], path: Path, title: str = "Field confidence calibration") -> Path:
    """Accuracy per confidence bin against the diagonal, bin counts below."""
    bins = [b for b in cal["bins"] if b["n"]]
    fig, (ax, axn) = plt.subplots(2, 1, figsize=(6, 6.5), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    if bins:
        width = bins[0]["hi"] - bins[0]["lo"]
        ax.bar([b["lo"] for b in bins], [b["accuracy"] for b in bins], width=width, align="edge",
               edgecolor="black", alpha=0.7, label="accuracy in bin")
        ax.plot([b["mean_confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="C3",
                label="mean confidence → accuracy")
        axn.bar([b["lo"] for b in bins], [b["n"] for b in bins], width=width, align="edge", color="C2")
    ece = cal.get("ece")
    ax.set_title(f"{title} (ECE {ece:.3f}, n={cal['n']})" if ece is not None else f"{title} (no data)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left", fontsize=8)
    axn.set_xlabel("field confidence")
    axn.set_ylabel("fields")
    axn.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def threshold_curve(curve: dict[str, Any], path: Path) -> Path:
    """Accepted accuracy, accepted share and straight-through rate vs threshold."""
    pts = curve["points"]
    t = [p["threshold"] for p in pts]

    def series(key: str) -> list[float]:
        return [float("nan") if p[key] is None else p[key] for p in pts]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(t, series("accepted_accuracy"), label="accuracy of auto-accepted fields")
    ax.plot(t, series("accepted_share"), label="share of fields auto-accepted")
    ax.plot(t, series("straight_through_rate"), label="documents straight through (simulated)")
    ax.axhline(curve["target"], color="grey", ls=":", label=f"target {curve['target']:.1%}")
    best = curve.get("threshold_for_target")
    if best is not None:
        ax.axvline(best, color="C3", ls="--", label=f"lowest threshold reaching target: {best:.2f}")
    ax.set_xlabel("field confidence threshold")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Routing threshold: what goes through, and how right it is")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion(cm: dict[str, Any], path: Path) -> Path:
    """Confusion matrix of document types (rows: truth, columns: predicted)."""
    labels, m = cm["labels"], cm["matrix"]
    cols = cm.get("predicted_labels", labels)
    fig, ax = plt.subplots(figsize=(1.1 * max(1, len(cols)) + 3, 0.9 * max(1, len(labels)) + 2.5))
    ax.imshow(m or [[0]], cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    top = max((max(r) for r in m), default=0)
    for i, row in enumerate(m):
        for j, v in enumerate(row):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth")
    ax.set_title("Document type confusion")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
