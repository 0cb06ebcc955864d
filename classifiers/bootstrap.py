"""Train a first classifier artefact from the project's own generated documents.

    .venv/bin/python -m classifiers.bootstrap [--per-type 30] [--force]

A fresh clone has no ``models/classifier`` (gitignored) and no
``../shared/data``; without an artefact the classifier runs zero-shot
(identifiers + prototypes, clearly weaker). This command renders documents
with ``bench.synth`` (text layer only: no OCR, seconds per type), trains the
heads and the calibrated fusion on them and writes a versioned artefact.
It does nothing when an artefact exists (unless ``--force``), so the set-up
script can call it every time. Seeds start at 20000, away from the
benchmark's test seeds.
"""

from __future__ import annotations

import argparse
import logging
import time

from classifiers import corpus
from classifiers.encoder import load_encoder
from classifiers.training import DEFAULT_MODEL_ROOT, PAGE_SEP, latest_version_dir, train

SEED0 = 20000


def generated_pairs(per_type: int) -> list[tuple[str, str]]:
    """(text, label) pairs from bench.synth plus generated letters and noise."""
    import random

    from faker import Faker

    docs = corpus.synth_corpus(range(SEED0, SEED0 + per_type))
    # the reject class needs variety beyond the generator's letters
    fake = Faker("de_DE")
    fake.seed_instance(SEED0)
    rng = random.Random(SEED0)
    docs += [corpus.LabelledDoc([corpus.make_letter(rng, fake)], "unknown", f"letter:{i}") for i in range(per_type)]
    docs += [corpus.LabelledDoc([corpus.make_noise(rng)], "unknown", f"noise:{i}") for i in range(per_type // 2)]
    # Real scans read worse than the generator's text layer: OCR-noised copies
    # keep the head from trusting clean generated text alone.
    variants = []
    for d in docs:
        if d.label == "unknown" or not any(p.strip() for p in d.pages):
            continue
        variants.append(corpus.LabelledDoc([corpus.ocr_noise(p, rng, rng.uniform(0.03, 0.12)) for p in d.pages],
                                           d.label, d.group + ":noisy"))
    return [(PAGE_SEP.join(d.pages), d.label) for d in docs + variants]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # 30, not 15: trained on 15 documents a type, the artefact's reading of the real
    # XRechnung invoice page in a mixed batch moved from "invoice" (0.75) to "unknown"
    # (0.41) when the generator's phone, IBAN and e-mail values were corrected
    # (2026-12-07): every generated document changed, and 15 a type was too few for
    # the fusion to stay put; at 30 it reads 0.82 (146 s of set-up instead of about 80)
    ap.add_argument("--per-type", type=int, default=30)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--out", default=str(DEFAULT_MODEL_ROOT))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if latest_version_dir(args.out) is not None and not args.force:
        print(f"classifier artefact present: {latest_version_dir(args.out)}")
        return 0
    if not corpus.synth_available():
        print("bench.synth is not importable: the classifier stays zero-shot")
        return 0
    from forms.catalogue import load_catalogue

    t0 = time.perf_counter()
    pairs = generated_pairs(args.per_type)
    vdir = train(pairs, load_catalogue(), args.out, encoder=load_encoder())
    print(f"classifier trained on {len(pairs)} generated documents in {time.perf_counter() - t0:.0f} s: {vdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
