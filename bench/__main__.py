"""``python -m bench --out bench-out [--size small|full] [--seed N]``.

Generates the corpus, runs ``formwerk process --json`` over it, runs the
baselines, prints the comparison table and writes results.json, report.md
and the plots into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from bench.corpus import SIZES


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description="Formwerk benchmark: generate a corpus, run "
                                 "`formwerk process --json` over it, compare with Tesseract baselines.")
    ap.add_argument("--out", default="bench-out", help="output folder (generated, gitignored)")
    ap.add_argument("--size", choices=SIZES, default="small", help="small ≈ 40 documents, full ≥ 200")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=24, help="files per `formwerk process` call")
    ap.add_argument("--pipeline-cmd", default=None,
                    help="command instead of `formwerk process --json` (files are appended)")
    ap.add_argument("--reuse-corpus", action="store_true",
                    help="keep <out>/corpus if it was generated with the same size and seed")
    ap.add_argument("--cli-worker", action="store_true",
                    help="no long-lived `formwerk worker`: each `process` call runs its own worker")
    ap.add_argument("--rescore", action="store_true",
                    help="recompute metrics and report of an earlier run in --out (no OCR)")
    ap.add_argument("--no-baselines", action="store_true", help="skip the two Tesseract baselines")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from bench.report import stdout_table
    from bench.run import rescore, run

    if args.rescore:
        results = rescore(args.out)
        print(stdout_table(results))
        return 0
    results = run(args.out, args.size, args.seed, batch_size=args.batch_size, baselines=not args.no_baselines,
                  reuse_corpus=args.reuse_corpus, warm_worker=not args.cli_worker,
                  command=shlex.split(args.pipeline_cmd) if args.pipeline_cmd else None)
    print(stdout_table(results))
    errors = results["pipeline"].get("errors") or []
    if errors:
        print(f"\n{len(errors)} problem(s) during the pipeline run, see {args.out}/report.md", file=sys.stderr)
    print(f"\nwritten: {args.out}/results.json, report.md, reliability.png, threshold_curve.png, confusion.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
