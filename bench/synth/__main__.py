"""Write synthetic documents to a folder, for looking at them or a quick corpus.

    python -m bench.synth --out bench-out/synth --seeds 3 [--types gewerbeanmeldung,invoice]
        [--profiles office_300,fax] [--real]

Per document: ``<name>.pdf`` (digital), ``<name>.<profile>.pdf`` (scans) and
``<name>.json`` (doc_type, variant, seed, truth). Output folders are
gitignored (``bench-out/``); nothing here is meant to be committed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import PROFILES, available_types, fill_real_form, render_document, scan_document


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench-out/synth"))
    ap.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 per type")
    ap.add_argument("--types", default="all", help="comma-separated, or 'all'")
    ap.add_argument("--profiles", default="", help=f"scan profiles: {','.join(PROFILES)}")
    ap.add_argument("--real", action="store_true", help="also fill the real AcroForms")
    args = ap.parse_args(argv)

    types = available_types() if args.types == "all" else args.types.split(",")
    profiles = [p for p in args.profiles.split(",") if p]
    args.out.mkdir(parents=True, exist_ok=True)
    count = 0
    for t in types:
        for seed in range(args.seeds):
            docs = [render_document(t, seed)]
            if args.real and (real := fill_real_form(t, seed)) is not None:
                docs.append(real)
            for doc in docs:
                stem = args.out / doc.name
                stem.with_suffix(".pdf").write_bytes(doc.pdf_bytes)
                meta = {"doc_type": doc.doc_type, "variant": doc.variant, "seed": doc.seed,
                        "truth": doc.truth}
                stem.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
                for prof in profiles:
                    (args.out / f"{doc.name}.{prof}.pdf").write_bytes(
                        scan_document(doc, prof, seed))
                count += 1
    print(f"wrote {count} documents to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
