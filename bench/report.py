"""Text output of the benchmark: the stdout comparison table and report.md.

Both are rendered from the ``results.json`` dict alone, so a report can be
re-made from a stored result without re-running anything.
"""

from __future__ import annotations

from typing import Any


def aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Text table lines: the first column left-aligned, the others right-aligned."""
    w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(row)) for row in rows]


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _num(v: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if v is None else fmt.format(v)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else a / b


def comparison_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(metric, Formwerk all, Formwerk on sample, naive on sample, Tesseract CLI on sample)."""
    p, b = r["pipeline"], r["baselines"]
    ps, nv, lim = b.get("pipeline_on_sample", {}), b.get("naive", {}), b.get("tesseract_cli", {})
    ct = p["threshold_curve"]
    return [
        ("documents", str(p["documents"]), str(b.get("sample_docs", "–")), str(b.get("sample_docs", "–")), "–"),
        ("pages", str(p["pages"]), str(b.get("sample_pages", "–")), str(nv.get("pages", "–")), str(lim.get("pages", "–"))),
        ("document type accuracy", _pct(p["doc_type"]["accuracy"]), _pct(ps.get("doc_type_accuracy")),
         _pct(nv.get("doc_type_accuracy")), "–"),
        ("field accuracy (all truth fields)", _pct(p["fields"]["accuracy"]), _pct(ps.get("field_accuracy")),
         _pct(nv.get("field_accuracy")), "–"),
        ("straight-through rate", _pct(p["straight_through"]["rate"]), _pct(ps.get("straight_through_rate")),
         _pct(nv.get("straight_through_rate")), "–"),
        ("straight through and fully right", _pct(p["straight_through"]["correct_rate"]),
         _pct(ps.get("straight_through_correct_rate")), _pct(nv.get("straight_through_correct_rate")), "–"),
        ("fields accepted without review", _pct(p["review"]["auto_accepted_share"]),
         _pct(ps.get("auto_accepted_share")), _pct(nv.get("auto_accepted_share")), "–"),
        ("accuracy of auto-accepted fields", _pct(p["review"]["auto_accepted_accuracy"]),
         _pct(ps.get("auto_accepted_accuracy")), _pct(nv.get("auto_accepted_accuracy")), "–"),
        (f"threshold for {ct['target']:.1%} accepted accuracy", _num(ct["threshold_for_target"], "{:.2f}"),
         "–", "–", "–"),
        ("  share auto-accepted at that threshold",
         _pct((ct.get("at_target") or {}).get("accepted_share")), "–", "–", "–"),
        ("expected calibration error (fields)", _num(p["calibration"]["ece"], "{:.3f}"), "–", "–", "–"),
        ("expected calibration error (document type)",
         _num((p.get("type_calibration") or {}).get("ece"), "{:.3f}"), "–", "–", "–"),
        ("mixed batches split exactly right", _pct((p.get("batches") or {}).get("exact_rate")), "–", "–", "–"),
        ("pages / minute", _num(p["speed"]["pages_per_minute"]), "–", _num(nv.get("pages_per_minute")),
         _num(lim.get("pages_per_minute"))),
        ("peak RSS of worker (MiB)", _num(p["speed"]["worker_peak_rss_mb"], "{:.0f}"), "–", "–", "–"),
    ]


HEADERS = ("metric", "Formwerk (all)", "Formwerk (sample)", "naive: pytesseract+regex", "limit: tesseract CLI")


def stdout_table(r: dict[str, Any]) -> str:
    rows = [HEADERS, *comparison_rows(r)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_table(headers: tuple[str, ...] | list[str], rows: list[tuple[Any, ...]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _breakdown(group: str, groups: dict[str, dict[str, Any]]) -> str:
    """One row per group of ``metrics.by_category`` output."""
    return _md_table([group, "documents", "type accuracy", "field accuracy", "fields", "straight through",
                      "auto-accepted accuracy"],
                     [(c, v["n"], _pct(v["doc_type_accuracy"]), _pct(v["field_accuracy"]), v["fields_n"],
                       _pct(v["straight_through_rate"]), _pct(v["auto_accepted_accuracy"]))
                      for c, v in groups.items()])


def _batch_section(b: dict[str, Any] | None) -> list[str]:
    if not b:
        return []
    rows = [(x["composition"], "; ".join(f"{s}-{e} {t}" for s, e, t in x["truth"]),
             "; ".join(f"{s}-{e} {t}" for s, e, t in x["predicted"]), "yes" if x["exact"] else "**no**")
            for x in b["batches"]]
    return [
        "## Mixed batches",
        "",
        f"{b['n']} scans holding several documents each. Split exactly right: **{_pct(b['exact_rate'])}**; "
        f"documents found with the right pages and type: {_pct(b['documents']['recall'])} "
        f"(precision {_pct(b['documents']['precision'])}); cuts between documents: precision "
        f"{_pct(b['boundaries']['precision'])}, recall {_pct(b['boundaries']['recall'])}; pages in a document "
        f"of their true type: {_pct(b['page_type_accuracy'])}.",
        "",
        _md_table(["composition", "truth (pages type)", "Formwerk", "exact"], rows),
        "",
    ]


def markdown(r: dict[str, Any]) -> str:
    m, p, b = r["meta"], r["pipeline"], r["baselines"]
    parts = [
        "# Formwerk benchmark",
        "",
        f"Size `{m['size']}`, seed {m['seed']}, {m['cpu_count']} cores, run {m['started_at']} "
        f"({m['duration_s']:.0f} s). Pipeline command: `{' '.join(m['command'])}`.",
        "",
        "The headline is the **straight-through rate** (cases that need no clerk) together with the "
        "**accuracy of auto-accepted fields** (the data that goes through without a look must be right).",
        "",
        "## Comparison with baselines from the same run",
        "",
        "Baselines run over a deterministic sample of the corpus (see `baselines.sample_files`); "
        "\"Formwerk (sample)\" is the pipeline on the same documents.",
        "",
        _md_table(list(HEADERS), comparison_rows(r)),
        "",
        "## Corpus",
        "",
        _breakdown("category", p["by_category"]),
        "",
        "By scan profile (`-`: digital PDFs and AcroForms, read without OCR):",
        "",
        _breakdown("profile", p.get("by_profile", {})),
        "",
        "By source (category / true type / profile):",
        "",
        _breakdown("source", p.get("by_source", {})),
        "",
    ]
    if m["corpus"].get("skipped"):
        parts += [f"Skipped while generating ({len(m['corpus']['skipped'])}): "
                  + "; ".join(sorted({s['category'] + ': ' + s['reason'] for s in m['corpus']['skipped']})), ""]
    parts += [
        "## Document types",
        "",
        _md_table(["true type", "n", "type accuracy", "straight through", "straight through and right"],
                  [(t, v["n"], _pct(v["accuracy"]), _pct(p["straight_through"]["per_type"][t]["rate"]),
                    _pct(p["straight_through"]["per_type"][t]["correct_rate"]))
                   for t, v in p["doc_type"]["per_type"].items()]),
        "",
        f"Statuses: {p['straight_through']['statuses']}. Confusion matrix: `confusion.png`.",
        "",
        "![confusion](confusion.png)",
        "",
        f"Expected calibration error of the document type probability: "
        f"**{_num((p.get('type_calibration') or {}).get('ece'), '{:.3f}')}** over "
        f"{(p.get('type_calibration') or {}).get('n', 0)} documents.",
        "",
        *_batch_section(p.get("batches")),
        "## Fields",
        "",
        _md_table(["field", "n", "accuracy"],
                  [(k, v["n"], _pct(v["accuracy"])) for k, v in p["fields"]["per_field"].items()]),
        "",
        "## Routing threshold and calibration",
        "",
        f"Lowest field-confidence threshold whose auto-accepted accuracy reaches "
        f"{p['threshold_curve']['target']:.1%}: **{_num(p['threshold_curve']['threshold_for_target'], '{:.2f}')}**. "
        f"Expected calibration error: **{_num(p['calibration']['ece'], '{:.3f}')}** over {p['calibration']['n']} "
        "extracted fields.",
        "",
        "![threshold curve](threshold_curve.png)",
        "",
        "![reliability diagram](reliability.png)",
        "",
        "## Speed",
        "",
        f"Mode: {p['speed'].get('mode', '?')}. "
        f"{p['pages']} pages in {p['speed']['wall_s']:.0f} s of pipeline wall time "
        f"(warm-up excluded: {_num(p['speed']['warmup_s'], '{:.0f}')} s) = "
        f"**{_num(p['speed']['pages_per_minute'])} pages/minute**; bare Tesseract over all cores: "
        f"{_num(b.get('tesseract_cli', {}).get('pages_per_minute'))} pages/minute "
        f"(pipeline / limit = {_num(_ratio(p['speed']['pages_per_minute'], b.get('tesseract_cli', {}).get('pages_per_minute')), '{:.2f}')}). "
        "The pipeline's pages include digital PDFs read without OCR; the limit OCRs every page.",
        "",
        _md_table(["stage", "documents", "mean ms", "p95 ms", "total s"],
                  [(k, v["n"], f"{v['mean_ms']:.0f}", f"{v['p95_ms']:.0f}", f"{v['sum_ms'] / 1000:.1f}")
                   for k, v in p["speed"]["stages"].items()]),
        "",
        f"Peak resident memory by process: {p['speed']['peak_rss_mb'] or 'not measured'}.",
        "",
    ]
    if p.get("errors"):
        parts += ["## Problems during the run", ""] + [f"- {e}" for e in p["errors"][:30]] + [""]
    return "\n".join(parts)
