"""Train the layout tagger and the tree models stacked on it; save the artefact.

    .venv/bin/python -m extractors.kv_tagger_train --out models/kv_tagger

Steps (training split only):

1. e5 word vectors of every page (``kv_encoder``), read in reading order;
2. the tagger in ``N_FOLDS`` page-grouped folds: out-of-fold word
   probabilities for every training page (so the tree labeller stacked on top
   learns from tagger outputs as good as on unseen pages), then one tagger on
   all pages (the one saved);
3. ``kv_train.train_all`` with the tagger's segment features appended to the
   label features: the resulting label and segment-link models are saved as
   the tagged heads (``heads.json``). The other models it trains are the same
   as in ``models/kv_pairing.json`` (same data, same seeds) and are not saved
   again.

The artefact directory holds ``tagger.safetensors``, ``tagger.json`` and
``heads.json``; like ``kv_pairing.json`` it is derived from XFUND (research
licence) and stays on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from .kv_data import LABELS, FormPage, load_xfund
from .kv_encoder import load_word_encoder, reading_order, word_vectors
from .kv_segment import median_height
from .kv_tagger import TAG_FEATURES, LayoutTagger, PageInput, build_module, collate, page_input, segment_tag_features

N_FOLDS = 3
SEED = 0
# chosen by page-grouped cross-validation on the training split
CONFIG = dict(d=128, heads=4, layers=3, ff=256, dropout=0.1)
EPOCHS = 40
BATCH = 4
LR = 1e-3
JOIN_WEIGHT = 0.5
LINK_WEIGHT = 1.0


def default_tagger_dir() -> Path:
    from .kv_pairing import default_model_path

    return default_model_path().with_name("kv_tagger")


def page_inputs(pages: list[FormPage], encoder) -> list[PageInput]:
    out = []
    for p in pages:
        boxes = np.array([w.box for w in p.words], dtype=float).reshape(-1, 4)
        texts = [w.text for w in p.words]
        h = median_height(boxes)
        out.append(page_input(word_vectors(encoder, texts, reading_order(boxes, h)), boxes, texts, h))
    return out


def page_targets(p: FormPage, inp: PageInput) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word labels (index into LABELS; words outside entities are 'other'),
    0/1 join targets of the horizontal edges (both words in one entity) and
    the key matrix (n, n): ``[j, i]`` when word ``i`` is in a key linked to
    the value containing word ``j``."""
    owner = np.full(len(p.words), -1)
    label = np.full(len(p.words), LABELS.index("other"))
    for e in p.entities:
        owner[e.word_ids] = e.id
        label[e.word_ids] = LABELS.index(e.label)
    join = np.array([owner[a] == owner[b] and owner[a] >= 0 for a, b in inp.edges], dtype=np.float32)
    keys = np.zeros((len(p.words), len(p.words)), dtype=bool)
    words_of = {e.id: e.word_ids for e in p.entities}
    for q, a in p.links:
        keys[np.ix_(words_of[a], words_of[q])] = True
    return label, join, keys


def _pointer_loss(logits, pad, targets):
    """Cross-entropy of each word's key pointer: -log of the mass on its gold
    key's words, or on "no key" for words that are not in a linked value."""
    import torch

    B, L, _ = logits.shape
    logp = torch.log_softmax(logits, -1)
    gold = torch.zeros(B, L, L + 1, dtype=torch.bool)
    for r, t in enumerate(targets):
        n = len(t[0])
        gold[r, :n, :n] = torch.from_numpy(t[2])
        gold[r, :n, L] = ~gold[r, :n, :n].any(-1)
    ll = torch.logsumexp(logp.masked_fill(~gold, float("-inf")), -1)
    return -ll[~pad].mean()


def fit(inputs: list[PageInput], targets, cfg: dict, epochs: int = EPOCHS, seed: int = SEED, log_every: int = 0, evaluate=None):
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    module = build_module(cfg)
    opt = torch.optim.AdamW(module.parameters(), lr=LR, weight_decay=0.01)
    steps = epochs * -(-len(inputs) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=max(steps, 1), pct_start=0.1)
    for ep in range(epochs):
        module.train()
        # batches of pages of similar length (little padding: attention is L^2)
        lengths = np.array([len(x.vec) for x in inputs]) * rng.uniform(0.8, 1.25, len(inputs))
        order = np.argsort(lengths)
        batches = [order[s : s + BATCH] for s in range(0, len(order), BATCH)]
        tot = 0.0
        for bi in rng.permutation(len(batches)):
            idx = batches[bi]
            vec, lay, buck, pad = collate([inputs[i] for i in idx])
            hs = module(vec, lay, buck, pad)
            logits = module.label(hs)
            y = torch.full(pad.shape, -100, dtype=torch.long)
            for r, i in enumerate(idx):
                y[r, : len(targets[i][0])] = torch.from_numpy(targets[i][0])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, len(LABELS)), y.reshape(-1), ignore_index=-100)
            jl = []
            for r, i in enumerate(idx):
                if len(inputs[i].edges):
                    z = module.join_logits(hs[r], torch.from_numpy(inputs[i].edges))
                    jl.append(torch.nn.functional.binary_cross_entropy_with_logits(z, torch.from_numpy(targets[i][1])))
            if jl:
                loss = loss + JOIN_WEIGHT * torch.stack(jl).mean()
            if cfg.get("link"):
                loss = loss + LINK_WEIGHT * _pointer_loss(module.pointer_logits(hs, buck, pad), pad, [targets[i] for i in idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            opt.step()
            sched.step()
            tot += float(loss.detach())
        if log_every and (ep + 1) % log_every == 0:
            msg = f"  epoch {ep + 1}: loss {tot / max(1, -(-len(order) // BATCH)):.4f}"
            if evaluate is not None:
                msg += " " + evaluate(LayoutTagger(cfg, module))
                module.train()
            print(msg, flush=True)
    return LayoutTagger(cfg, module.eval())


def cross_val(inputs, targets, cfg: dict, epochs: int = EPOCHS, log_every: int = 0):
    """Out-of-fold ``TagOutput`` per page."""
    fold = np.random.default_rng(SEED).permutation(len(inputs)) % N_FOLDS
    oof: list = [None] * len(inputs)
    for k in range(N_FOLDS):
        tr = [i for i in range(len(inputs)) if fold[i] != k]
        te = [i for i in range(len(inputs)) if fold[i] == k]

        def evaluate(tagger, te=te):
            ok = n = 0
            for i in te:
                ok += int((tagger.predict(inputs[i]).proba.argmax(1) == targets[i][0]).sum())
                n += len(targets[i][0])
            return f"fold word acc {ok / max(n, 1):.4f}"

        t0 = time.time()
        tagger = fit([inputs[i] for i in tr], [targets[i] for i in tr], cfg, epochs, log_every=log_every, evaluate=evaluate if log_every else None)
        for i in te:
            oof[i] = tagger.predict(inputs[i])
        print(f"tagger fold {k}: {evaluate(tagger)} ({time.time() - t0:.0f} s)", flush=True)
    ok = sum(int((oof[i].proba.argmax(1) == targets[i][0]).sum()) for i in range(len(inputs)))
    n = sum(len(t[0]) for t in targets)
    print(f"tagger: cv word accuracy {ok / max(n, 1):.4f}")
    return oof


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default=str(Path(os.environ.get("FORMWERK_XFUND_DIR", "/work/shared/data/xfund_de")) / "de.train.json"))
    ap.add_argument("--out", default=None, help="artefact directory (default: kv_tagger next to the kv_pairing model)")
    ap.add_argument("--if-missing", action="store_true", help="set-up mode: no-op when the artefact exists; exit 0 without data or encoder")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else default_tagger_dir()
    if args.if_missing and (out / "heads.json").exists():
        return 0
    if not Path(args.train).exists():
        print(f"kv_tagger: training data not found at {args.train}; the tagger is not used")
        return 0 if args.if_missing else 1
    import torch

    torch.set_num_threads(args.threads)
    encoder = load_word_encoder()
    if encoder is None:
        print("kv_tagger: no e5 encoder (scripts/build_encoder.py); the tagger is not used")
        return 0 if args.if_missing else 1
    t0 = time.time()
    pages = load_xfund(args.train)
    inputs = page_inputs(pages, encoder)
    print(f"word vectors: {sum(len(i.vec) for i in inputs)} words in {time.time() - t0:.0f} s", flush=True)
    targets = [page_targets(p, i) for p, i in zip(pages, inputs)]
    cfg = dict(CONFIG, dim=int(inputs[0].vec.shape[1]), n_layout=int(inputs[0].layout.shape[1]))
    oof = cross_val(inputs, targets, cfg)
    tagger = fit(inputs, targets, cfg)
    print(f"tagger trained in {time.time() - t0:.0f} s", flush=True)

    from .kv_train import train_all

    def seg_extra(i, segs):
        return segment_tag_features([s.word_ids for s in segs], oof[i], inputs[i].edges)

    stacked = train_all(pages, seg_extra, TAG_FEATURES)
    tagger.save(out)
    heads = {
        "base_version": stacked.version,
        "label": stacked.label.to_json(),
        "seg_link": stacked.seg_link.to_json(),
        "seg_link_threshold": stacked.seg_link_threshold,
    }
    (out / "heads.json").write_text(json.dumps(heads, separators=(",", ":")), encoding="utf-8")
    print(f"wrote {out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
