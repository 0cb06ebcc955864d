"""Dev harness: does a change to ``extractors`` change any extracted field?

    .venv/bin/python -m bench.extract_diff snapshot --corpus /tmp/xcorpus
    .venv/bin/python -m bench.extract_diff dump --corpus /tmp/xcorpus --out before.json
    ... change the extractor ...
    .venv/bin/python -m bench.extract_diff dump --corpus /tmp/xcorpus --out after.json
    .venv/bin/python -m bench.extract_diff compare before.json after.json

``snapshot`` makes a fixed set of documents once and stores what the
extractor gets: each document's ``DocumentContent`` (JSON) and upright page
images (PNG), read by the worker's own activities (``prepare_document`` →
``ocr_page``, as ``bench.realscan`` runs them). The corpus covers every
reader: real GewA 1 scans and the three other real forms scanned (label and
edition readers, second reads), the project's generated layouts scanned,
filled real AcroForms (no OCR), digital generated forms (text layer) and
invoices (digital and scanned). Later changes to the generators or the OCR
activities do not change a snapshot.

``dump`` runs ``CatalogueExtractor`` (reference day fixed) over the snapshot
and writes every field — value, raw, confidence, page, box, source, issues —
sorted, so two dumps of the same behaviour are byte-identical. ``compare``
lists what differs, field by field.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

#: the reference day of the plausibility checks: a dump must not depend on the clock
TODAY = date(2026, 12, 7)
SCANNED_REAL = {"gewerbeanmeldung": range(1000, 1020), "kindergeld_kg1": range(8000, 8006),
                "meldebehoerde_anmeldung": range(8000, 8006), "wohngeld_mietzuschuss": range(8000, 8006)}
SCANNED_GENERATED = {"gewerbeanmeldung": range(6, 16), "kindergeld_kg1": range(6, 16)}
DIGITAL_REAL = {f: range(2000, 2003) for f in SCANNED_REAL}  # filled AcroForms
DIGITAL_GENERATED = {f: range(300, 303) for f in ("gewerbeanmeldung", "gewerbeabmeldung", "kindergeld_kg1",
                                                  "meldebehoerde_anmeldung", "wohngeld_mietzuschuss")}
INVOICES_DIGITAL = range(500, 510)
INVOICES_SCANNED = range(520, 524)
PROFILE = "office_300"


def _documents() -> Iterator[tuple[str, str, Any, bool]]:
    """(name, form id, document or PDF bytes, scan it)."""
    from bench.synth import fill_real_form, render_document

    for form, seeds in SCANNED_REAL.items():
        for s in seeds:
            yield f"{form}-real-scan-{s}", form, fill_real_form(form, s), True
    for form, seeds in SCANNED_GENERATED.items():
        for s in seeds:
            yield f"{form}-gen-scan-{s}", form, render_document(form, s), True
    for form, seeds in DIGITAL_REAL.items():
        for s in seeds:
            yield f"{form}-real-acroform-{s}", form, fill_real_form(form, s), False
    for form, seeds in DIGITAL_GENERATED.items():
        for s in seeds:
            yield f"{form}-gen-digital-{s}", form, render_document(form, s), False
    for s in INVOICES_DIGITAL:
        yield f"invoice-gen-digital-{s}", "invoice", render_document("invoice", s), False
    for s in INVOICES_SCANNED:
        yield f"invoice-gen-scan-{s}", "invoice", render_document("invoice", s), True


def snapshot(corpus: Path, only: str | None = None) -> None:
    from bench.realscan import build_activities, read_pages
    from bench.synth import scan_document
    from formwerk.pagerender import page_pixels

    acts, _ = build_activities(corpus / "blobs")
    manifest_path = corpus / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    for name, form, doc, scan in _documents():
        if name in manifest or (only and only not in name):
            continue
        if doc is None:
            print(f"{name}: no document (real form missing?)", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        data = scan_document(doc, PROFILE, int(name.rsplit("-", 1)[1])) if scan else doc.pdf_bytes
        ref = read_pages(acts, data)
        content = acts._load_content(ref)
        d = corpus / "docs" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "content.json").write_text(content.model_dump_json())
        for p in content.pages:
            img = page_pixels(acts.blobs, p.image_key, p.source_key, p.page, p.dpi, p.skew_corrected,
                              acts.options.max_image_pixels)
            if img is not None:
                img.save(d / f"page-{p.page}.png")
        manifest[name] = form
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        print(f"{name}: {len(content.pages)} pages, {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def dump(corpus: Path, out: Path, only: str | None = None) -> dict[str, Any]:
    from PIL import Image

    from extractors import CatalogueExtractor
    from forms.catalogue import load_catalogue
    from formwerk.models import DocumentContent

    ext = CatalogueExtractor(load_catalogue(), today=TODAY)
    manifest = json.loads((corpus / "manifest.json").read_text())
    result: dict[str, Any] = {}
    t_all = time.perf_counter()
    for name, form in sorted(manifest.items()):
        if only and only not in name:
            continue
        d = corpus / "docs" / name
        content = DocumentContent.model_validate_json((d / "content.json").read_text())

        def page_image(n: int, d: Path = d):
            p = d / f"page-{n}.png"
            if not p.is_file():
                return None
            img = Image.open(p)
            img.load()
            return img

        t0 = time.perf_counter()
        x = ext.extract(form, content, page_image)
        result[name] = x.model_dump(mode="json")
        print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1, sort_keys=True))
    print(f"{len(result)} documents, {sum(len(x['fields']) for x in result.values())} fields, "
          f"{time.perf_counter() - t_all:.0f} s -> {out}", file=sys.stderr)
    return result


def compare(a_path: Path, b_path: Path) -> int:
    """Print every difference; the number of differing fields (extractor version excluded)."""
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    n_fields = diffs = 0
    for name in sorted(set(a) | set(b)):
        xa, xb = a.get(name), b.get(name)
        if xa is None or xb is None:
            print(f"{name}: only in {'after' if xa is None else 'before'}")
            diffs += 1
            continue
        if xa["issues"] != xb["issues"]:
            print(f"{name}: document issues {xa['issues']} -> {xb['issues']}")
            diffs += 1
        for field in sorted(set(xa["fields"]) | set(xb["fields"])):
            n_fields += 1
            fa, fb = xa["fields"].get(field, {}), xb["fields"].get(field, {})
            for key in sorted(set(fa) | set(fb)):
                if key == "extractor" and str(fa.get(key)).split(" ")[1:] == str(fb.get(key)).split(" ")[1:]:
                    continue  # the version string alone
                if fa.get(key) != fb.get(key):
                    print(f"{name} {field}.{key}: {fa.get(key)!r} -> {fb.get(key)!r}")
                    diffs += 1
    print(f"{len(set(a) | set(b))} documents, {n_fields} fields compared, {diffs} differences")
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.extract_diff", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot", help="make the documents and read them once (OCR)")
    s.add_argument("--corpus", required=True)
    s.add_argument("--only", help="only documents whose name contains this")
    d = sub.add_parser("dump", help="extract every snapshot document, write all fields as JSON")
    d.add_argument("--corpus", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--only", help="only documents whose name contains this")
    c = sub.add_parser("compare", help="list the differences of two dumps")
    c.add_argument("before")
    c.add_argument("after")
    args = ap.parse_args(argv)
    if args.cmd == "snapshot":
        snapshot(Path(args.corpus), args.only)
        return 0
    if args.cmd == "dump":
        dump(Path(args.corpus), Path(args.out), args.only)
        return 0
    return 1 if compare(Path(args.before), Path(args.after)) else 0


if __name__ == "__main__":
    raise SystemExit(main())
