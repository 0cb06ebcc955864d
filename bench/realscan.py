"""Dev harness: scanned forms through the worker's own code paths.

    .venv/bin/python -m bench.realscan --seeds 1000-1019 --profile office_300 --out bench-out/realscan
    .venv/bin/python -m bench.realscan --generated --seeds 6-15 \
        --forms gewerbeanmeldung,meldebehoerde_anmeldung,wohngeld_mietzuschuss,kindergeld_kg1

For each seed the real form (default: the GewA 1, ``../shared/data/forms/gewa1.pdf``)
is filled with fake data (``bench.synth.fill_real_form``) — or, with
``--generated``, the project's own drawing of the form in a layout the seed
picks (``bench.synth.render_document``) — "scanned" with the profile
(``bench.synth.scan_document``: an image-only PDF, as a scanner delivers it)
and run through the very activity methods the worker runs
(``workflows.activities.CaseActivities``: ``prepare_document`` →
``ocr_page`` per page → ``extract_fields``, in a Temporal
``ActivityEnvironment``, with the worker's ``TesseractEngine`` and
``CatalogueExtractor``), then routed with the form's policy
(``formwerk.routing.route``). Scoring uses ``bench.metrics`` (the
benchmark's own comparison), so the figures mean the same as there.

Classification is fixed to the true type with confidence 1.0 unless
``--classify`` runs the trained classifier (slower: loads the encoder); the
harness measures extraction and field routing.

The OCR output (page content JSON and page images, content-addressed) is
cached per seed and profile under ``.formwerk/cache/realscan`` (gitignored):
re-runs while tuning extraction only repeat extraction (including its
second reads of boxes, ``extractors.reocr``). ``--no-cache`` re-OCRs.

Seeds: tune on one range (e.g. 1000-1019), check on a held-out range
(e.g. 5000-5011) that was never looked at while tuning. The benchmark's own
seeds are ``seed*100003+k`` for small k; keep away from those.

Writes ``<out>/realscan.json`` (summary, per-field accuracy, every wrong or
flagged field) and prints a short report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

FORM_ID = "gewerbeanmeldung"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = REPO / ".formwerk" / "cache" / "realscan"
#: bump when the cached OCR inputs change meaning (activity code, engine options)
CACHE_VERSION = 1


# --------------------------------------------------------------------------
# scoring (pure; tested without OCR)
# --------------------------------------------------------------------------


def result_of(extraction, decision) -> dict[str, Any]:
    """The parts of the CLI result contract ``bench.metrics`` reads."""
    return {
        "status": decision.status.value if hasattr(decision.status, "value") else str(decision.status),
        "document_type": extraction.document_type if extraction else None,
        "review_reasons": list(decision.reasons),
        "fields": {n: {"value": f.value, "confidence": f.confidence, "needs_review": f.needs_review,
                       "raw": f.raw, "source": f.source,
                       "issues": [i.code for i in f.issues]}
                   for n, f in (extraction.fields.items() if extraction else [])},
    }


def score(items: list[dict[str, Any]], results: dict[str, dict[str, Any]],
          fields: Iterable[str] | None = None) -> dict[str, Any]:
    """Summary figures of ``bench.metrics`` plus the list of wrong or flagged fields.

    ``items``: ``{"file", "doc_type", "truth"}``; ``results``: by file, see
    :func:`result_of`. Only truth fields in ``fields`` (default: all) count.
    """
    from bench.metrics import field_accuracy, field_observations, review_metrics, straight_through

    keep = set(fields) if fields is not None else None
    items = [{**it, "truth": {k: v for k, v in it["truth"].items() if keep is None or k in keep}}
             for it in items]
    obs = field_observations(items, results)
    acc = field_accuracy(obs)
    rev = review_metrics(obs)
    stp = straight_through(items, results, obs)
    problems = []
    for o in obs:
        if o.correct and o.accepted:
            continue
        f = (results.get(o.file) or {}).get("fields", {}).get(o.field, {})
        problems.append({
            "file": o.file, "field": o.field, "truth": o.truth, "value": o.value,
            "raw": f.get("raw"), "confidence": round(o.confidence, 4), "correct": o.correct,
            "accepted": o.accepted, "issues": f.get("issues", []),
            "kind": ("ACCEPTED_WRONG" if o.accepted else "wrong") if not o.correct else "flagged",
        })
    return {
        "documents": len(items),
        "field_accuracy": acc["accuracy"],
        "fields_n": acc["n"],
        "auto_accepted_share": rev["auto_accepted_share"],
        "auto_accepted_accuracy": rev["auto_accepted_accuracy"],
        "auto_accepted_n": rev["auto_accepted_n"],
        "straight_through_rate": stp["rate"],
        "straight_through_correct_rate": stp["correct_rate"],
        "statuses": stp["statuses"],
        # "<doc_type>.<field>" when several forms are scored together
        "per_field": {(k if len({it["doc_type"] for it in items}) > 1 else k.split(".", 1)[1]): v
                      for k, v in acc["per_field"].items()},
        "problems": problems,
    }


def parse_seeds(spec: str) -> list[int]:
    """``"1000-1019,1030"`` → [1000, …, 1019, 1030]."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


# --------------------------------------------------------------------------
# running the worker's activities
# --------------------------------------------------------------------------


class _TypeGiven:
    """Stands in for the classifier: without ``--classify`` the harness gives
    each document its true type itself (:func:`given_type`)."""

    version = "realscan-fixed"

    def classify(self, content):
        raise RuntimeError("realscan gives the type; run with --classify to classify")


def given_type(form_id: str):
    """The true type, certain (the harness measures extraction and routing)."""
    from formwerk.models import Classification

    return Classification(document_type=form_id, confidence=1.0, model_version=_TypeGiven.version,
                          reasons=["realscan: type given"])


def build_activities(blob_dir: Path, classify: bool = False):
    """``CaseActivities`` wired like ``worker.build_activities`` (no case store)."""
    from extractors import CatalogueExtractor
    from formwerk.ocr import TesseractEngine
    from formwerk.settings import Settings
    from formwerk.storage import BlobStore
    from forms.catalogue import load_catalogue
    from workflows.activities import ActivityOptions, CaseActivities

    settings = Settings()
    catalogue = load_catalogue()
    classifier = _TypeGiven()
    if classify:
        from classifiers import DocumentClassifier

        classifier = DocumentClassifier.from_catalogue(catalogue, model_dir=settings.classifier_dir,
                                                       encoder=settings.encoder)
    acts = CaseActivities(
        blobs=BlobStore(blob_dir), cases=None,  # type: ignore[arg-type]
        ocr=TesseractEngine(languages=settings.ocr_languages), classifier=classifier,
        extractor=CatalogueExtractor(catalogue), known_types=set(catalogue.ids),
        options=ActivityOptions.from_settings(settings),
    )
    return acts, catalogue


def read_pages(acts, data: bytes):
    """``prepare_document`` then ``ocr_page`` per page needing OCR (the workflow's ``_read_pages``)."""
    from temporalio.testing import ActivityEnvironment

    from workflows.messages import ContentRef, OcrPageInput, PrepareInput

    env = ActivityEnvironment()
    prepared = env.run(acts.prepare_document, PrepareInput(blob_key=acts.blobs.put(data)))
    keys = []
    for p in prepared.pages:
        if p.needs_ocr:
            job = OcrPageInput(page=p.page, image_key=p.image_key, source_key=p.source_key, dpi=p.dpi)
            out = ActivityEnvironment().run(acts.ocr_page, job)
            keys.append(out.content_key)
        else:
            keys.append(p.content_key)
    return ContentRef(content_keys=keys, acroform_key=prepared.acroform_key)


def cached_pages(acts, index: Path, scan, use_cache: bool = True):
    """(ContentRef, OCR seconds): the pages read before, from the cache file ``index``, or ``scan()``'s
    bytes read now through the activities (``read_pages``) and cached there."""
    from workflows.messages import ContentRef

    if use_cache and index.is_file():
        return ContentRef.model_validate_json(index.read_text()), 0.0
    t0 = time.perf_counter()
    ref = read_pages(acts, scan())
    ocr_s = time.perf_counter() - t0
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(ref.model_dump_json())
    return ref, ocr_s


def run_seed(acts, catalogue, seed: int, profile: str, cache_dir: Path, use_cache: bool = True,
             classify: bool = False, form_id: str = FORM_ID,
             generated: bool = False) -> tuple[dict[str, Any], dict[str, Any], float]:
    """One seed: (item, result, ocr seconds); OCR from the cache when present.

    ``generated``: the project's own drawing of the form (``bench.synth.render_document``,
    its layout chosen by the seed) instead of the real form filled in."""
    from temporalio.testing import ActivityEnvironment

    from bench.synth import fill_real_form, render_document, scan_document
    from formwerk.routing import route
    from workflows.messages import ClassifyInput, ExtractInput

    doc = render_document(form_id, seed) if generated else fill_real_form(form_id, seed)
    if doc is None:
        raise SystemExit(f"real form of {form_id} not found (../shared/data/forms; set FORMWERK_SHARED_DATA)")
    short = "gewa1" if form_id == FORM_ID and not generated else form_id
    file = f"{short}-{'gen-' if generated else ''}{profile}-{seed}"
    # the data's fingerprint in the key: a changed generator never meets stale OCR
    data_key = hashlib.sha256(json.dumps(doc.truth, sort_keys=True, default=str).encode()).hexdigest()[:12]
    index = cache_dir / "index" / f"{file}-v{CACHE_VERSION}-{data_key}.json"
    ref, ocr_s = cached_pages(acts, index, lambda: scan_document(doc, profile, seed), use_cache)
    if classify:
        cls = ActivityEnvironment().run(acts.classify_document, ClassifyInput(content=ref)).classification
    else:
        cls = given_type(form_id)
    extraction = ActivityEnvironment().run(
        acts.extract_fields, ExtractInput(document_type=cls.document_type, content=ref)).extraction
    policy = catalogue.get(form_id).policy
    decision = route(cls, extraction, policy)
    item = {"file": file, "doc_type": form_id, "truth": dict(doc.truth), "seed": seed}
    res = result_of(extraction, decision)
    res["document_type_confidence"] = cls.confidence
    return item, res, ocr_s


def form_fields(catalogue, form_ids: Iterable[str] = (FORM_ID,)) -> list[str]:
    """The FORMS.md fields of the forms (all fields of their definitions)."""
    return sorted({f.name for fid in form_ids for f in catalogue.get(fid).fields})


def report(summary: dict[str, Any]) -> str:
    pct = lambda v: "  n/a" if v is None else f"{100 * v:5.1f} %"  # noqa: E731
    lines = [
        f"documents            {summary['documents']}",
        f"field accuracy       {pct(summary['field_accuracy'])}  ({summary['fields_n']} fields)",
        f"auto-accepted share  {pct(summary['auto_accepted_share'])}  ({summary['auto_accepted_n']} fields)",
        f"auto-accepted acc.   {pct(summary['auto_accepted_accuracy'])}",
        f"straight through     {pct(summary['straight_through_rate'])}  {summary['statuses']}",
        "",
        "per field:",
    ]
    for name, v in summary["per_field"].items():
        lines.append(f"  {name:22s} {pct(v['accuracy'])}  ({v['correct']}/{v['n']})")
    lines.append("")
    lines.append("wrong or flagged:")
    for p in summary["problems"]:
        lines.append(f"  {p['kind']:14s} {p['file']:28s} {p['field']:20s} c={p['confidence']:.3f} "
                     f"value={p['value']!r} truth={p['truth']!r} raw={p['raw']!r} {p['issues'] or ''}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.realscan", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1000-1019", help="e.g. 1000-1019 (tuning) or 5000-5011 (held out)")
    ap.add_argument("--profile", default="office_300")
    ap.add_argument("--out", default="bench-out/realscan")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--no-cache", action="store_true", help="OCR again even when cached")
    ap.add_argument("--classify", action="store_true", help="run the trained classifier instead of a fixed type")
    ap.add_argument("--quiet", action="store_true", help="summary only")
    ap.add_argument("--forms", default=FORM_ID,
                    help="comma-separated form ids (default: the GewA 1); each seed runs every form")
    ap.add_argument("--generated", action="store_true",
                    help="the project's own drawings of the forms (any layout) instead of the real forms")
    args = ap.parse_args(argv)
    form_ids = [f.strip() for f in args.forms.split(",") if f.strip()]

    cache = Path(args.cache)
    acts, catalogue = build_activities(cache / "blobs", classify=args.classify)
    items, results = [], {}
    t0 = time.perf_counter()
    ocr_total = 0.0
    for form_id in form_ids:
        for seed in parse_seeds(args.seeds):
            item, res, ocr_s = run_seed(acts, catalogue, seed, args.profile, cache, not args.no_cache,
                                        args.classify, form_id=form_id, generated=args.generated)
            ocr_total += ocr_s
            items.append(item)
            results[item["file"]] = res
            print(f"{item['file']}: {res['status']:13s} {len(res['review_reasons'])} reasons"
                  f"{f'  (OCR {ocr_s:.1f} s)' if ocr_s else ''}", file=sys.stderr, flush=True)
    summary = score(items, results, form_fields(catalogue, form_ids))
    summary.update(seeds=args.seeds, profile=args.profile, forms=form_ids, generated=args.generated,
                   wall_s=round(time.perf_counter() - t0, 1), ocr_s=round(ocr_total, 1),
                   extractor=acts.extractor.version,
                   policy={fid: catalogue.get(fid).policy.model_dump() for fid in form_ids})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "realscan.json").write_text(json.dumps(
        {"summary": summary, "items": items, "results": results}, ensure_ascii=False, indent=1, default=str))
    text = report(summary)
    if args.quiet:
        text = text.split("\n\nper field:")[0]
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
