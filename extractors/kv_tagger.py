"""Layout tagger: a small transformer over all words of a page.

Why: the tree labeller sees a segment, its text-model probabilities and those
of its direct neighbours. Whether "Müller" is a filled value or a printed
label often depends on the page around it (a column of labels, a table
header far above). The tagger attends over every word of the page with

* the word's contextual e5 vector (``kv_encoder.word_vectors``),
* its layout (Fourier features of the normalised position, font size, gaps)
  and text shape, and
* a learned attention bias per head for the 2D offset between two words
  (log-bucketed dx, dy in word heights; LayoutLMv2-style relative positions),

and predicts each word's entity label (LABELS). Its word probabilities,
averaged over a segment (:func:`segment_tag_features`), are extra features
of the tree labeller. An auxiliary head learns whether two horizontal
neighbours belong to one entity (it shapes the representation; its output is
also exported per segment). With ``cfg["link"]``, a pointer head gives every
word a distribution over the words of its key (plus "no key"); summed over
two segments it is a pair feature of the segment linker
(:func:`segment_pair_tag_features`).

Weights are stored with safetensors plus a JSON config (no pickle). Boxes are
``[x0, y0, x1, y1]`` page pixels; ``h`` is the page's median word height.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .kv_data import LABELS
from .kv_labels import CHECKBOX_GLYPHS
from .kv_segment import horizontal_edges

N_FREQ = 6  # Fourier frequencies per coordinate: 1, 2, 4, ... 32 cycles per page
N_BUCKET = 8  # log2 buckets per side of an offset: |d| in h -> 0..7
TAG_FEATURES = [f"tag_p_{c}" for c in LABELS] + ["tag_join_in", "tag_join_out"]
TAG_PAIR_FEATURES = ["tag_ptr", "tag_ptr_null"]  # value points into key; value points nowhere


def _share(t: str, pred) -> float:
    t = re.sub(r"\s", "", t)
    return sum(pred(c) for c in t) / len(t) if t else 0.0


def word_layout_features(boxes: np.ndarray, texts: list[str], h: float) -> np.ndarray:
    """(n, n_layout) float32: position (raw and Fourier), font, gaps, text shape."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    n = len(b)
    h = max(float(h), 1.0)
    if n == 0:
        return np.zeros((0, 6 + 4 * 2 * N_FREQ + 15), dtype=np.float32)
    x_min, x_max = b[:, 0].min(), max(b[:, 2].max(), b[:, 0].min() + 1)
    y_min, y_max = b[:, 1].min(), max(b[:, 3].max(), b[:, 1].min() + 1)
    nx = lambda v: (v - x_min) / (x_max - x_min)  # noqa: E731
    ny = lambda v: (v - y_min) / (y_max - y_min)  # noqa: E731
    pos = np.stack([nx(b[:, 0]), ny(b[:, 1]), nx(b[:, 2]), ny(b[:, 3]), nx((b[:, 0] + b[:, 2]) / 2), ny((b[:, 1] + b[:, 3]) / 2)], 1)
    freqs = np.pi * 2.0 ** np.arange(N_FREQ)
    four = [f(pos[:, k : k + 1] * freqs) for k in (0, 1, 2, 5) for f in (np.sin, np.cos)]
    hh = np.maximum(b[:, 3] - b[:, 1], 1.0)
    ww = np.maximum(b[:, 2] - b[:, 0], 1.0)
    ov = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    same_row = ov / np.minimum(hh[:, None], hh[None, :]) > 0.5
    np.fill_diagonal(same_row, False)
    gl = np.where(same_row & (b[None, :, 0] < b[:, None, 0]), b[:, None, 0] - b[None, :, 2], np.inf).min(1)
    gr = np.where(same_row & (b[None, :, 0] > b[:, None, 0]), b[None, :, 0] - b[:, None, 2], np.inf).min(1)
    xov = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]) > 0
    ga = np.where(xov & (b[None, :, 3] <= b[:, None, 1] + 0.3 * h), b[:, None, 1] - b[None, :, 3], np.inf)
    np.fill_diagonal(ga, np.inf)
    ga = ga.min(1)
    gap = lambda g: np.log1p(np.clip(np.where(np.isfinite(g), g, 50 * h), 0, 50 * h) / h)  # noqa: E731
    shape = np.array(
        [
            [
                t.rstrip().endswith(":"),
                ":" in t.rstrip()[:-1],
                _share(t, str.isdigit),
                _share(t, str.isupper),
                _share(t, str.isalpha),
                bool(t) and t[0].isupper(),
                bool(t) and t[0].isdigit(),
                any(c in CHECKBOX_GLYPHS for c in t),
                np.log1p(len(t)),
            ]
            for t in texts
        ],
        dtype=float,
    ).reshape(n, 9)
    font = np.stack([np.log(hh / h), np.log(ww / h), np.log(ww / np.maximum([len(t) for t in texts], 1) / h)], 1)
    return np.concatenate([pos] + four + [font, gap(gl)[:, None], gap(gr)[:, None], gap(ga)[:, None], shape], 1).astype(np.float32)


def offset_buckets(boxes: np.ndarray, h: float) -> np.ndarray:
    """(n, n) int: bucket of the centre offset of word j seen from word i,
    ``by * (2 N_BUCKET - 1) + bx`` with signed log2 buckets of dx, dy in ``h``."""
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    c = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], 1) / max(float(h), 1.0)
    d = c[None, :, :] - c[:, None, :]
    q = np.minimum(np.ceil(np.log2(1 + np.abs(d))), N_BUCKET - 1) * np.sign(d) + N_BUCKET - 1
    return (q[..., 1] * (2 * N_BUCKET - 1) + q[..., 0]).astype(np.int64)


@dataclass
class PageInput:
    """Everything the tagger reads from one page (numpy; built once per page)."""

    vec: np.ndarray  # (n, dim) e5 word vectors
    layout: np.ndarray  # (n, n_layout)
    buckets: np.ndarray  # (n, n)
    edges: np.ndarray  # (m, 2) horizontal neighbour pairs (kv_segment.horizontal_edges)


def page_input(vec: np.ndarray, boxes: np.ndarray, texts: list[str], h: float) -> PageInput:
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    e = np.array(horizontal_edges(b, h), dtype=np.int64).reshape(-1, 2)
    return PageInput(vec.astype(np.float32), word_layout_features(b, texts, h), offset_buckets(b, h), e)


def _torch():
    import torch

    return torch


def build_module(cfg: dict):
    """The torch module for config ``cfg`` (keys: dim, n_layout, d, heads, layers, ff, dropout)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional
    nb = (2 * N_BUCKET - 1) ** 2

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d, self.heads = cfg["d"], cfg["heads"]
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.ff = nn.Sequential(nn.Linear(d, cfg["ff"]), nn.GELU(), nn.Linear(cfg["ff"], d))
            self.drop = nn.Dropout(cfg["dropout"])

        def forward(self, x, bias):  # x (B, L, d), bias (B, heads, L, L)
            B, L, d = x.shape
            q, k, v = self.qkv(self.n1(x)).view(B, L, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=cfg["dropout"] if self.training else 0.0)
            x = x + self.drop(self.proj(a.transpose(1, 2).reshape(B, L, d)))
            return x + self.drop(self.ff(self.n2(x)))

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            d = cfg["d"]
            self.text = nn.Sequential(nn.Dropout(cfg["dropout"]), nn.Linear(cfg["dim"], d))
            self.layout = nn.Linear(cfg["n_layout"], d)
            self.blocks = nn.ModuleList([Block() for _ in range(cfg["layers"])])
            self.rel = nn.Parameter(torch.zeros(cfg["layers"], cfg["heads"], nb))
            self.norm = nn.LayerNorm(d)
            self.label = nn.Linear(d, len(LABELS))
            self.join = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, 1))
            if cfg.get("link"):
                self.ptr_q, self.ptr_k, self.ptr_null = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, 1)
                self.ptr_rel = nn.Parameter(torch.zeros(nb))

        def forward(self, vec, layout, buckets, pad):
            """vec (B, L, dim), layout (B, L, n_layout), buckets (B, L, L) long,
            pad (B, L) bool (True = padding). Returns hidden states (B, L, d)."""
            x = self.text(vec) + self.layout(layout)
            key_mask = torch.zeros(pad.shape, dtype=x.dtype).masked_fill(pad, float("-inf"))[:, None, None, :]
            for i, blk in enumerate(self.blocks):
                bias = self.rel[i][:, buckets].permute(1, 0, 2, 3) + key_mask  # (B, heads, L, L)
                x = blk(x, bias)
            return self.norm(x)

        def join_logits(self, hs, edges):  # hs (L, d), edges (m, 2)
            return self.join(torch.cat([hs[edges[:, 0]], hs[edges[:, 1]]], -1)).squeeze(-1)

        def pointer_logits(self, hs, buckets, pad):
            """(B, L, L + 1): for word j, scores of every word i as part of its
            key, and (last column) of "no key"."""
            B, L, d = hs.shape
            s = self.ptr_q(hs) @ self.ptr_k(hs).transpose(1, 2) / d**0.5 + self.ptr_rel[buckets]
            bad = pad[:, None, :] | torch.eye(L, dtype=torch.bool)[None]
            s = s.masked_fill(bad, float("-inf"))
            return torch.cat([s, self.ptr_null(hs)], -1)

    return Tagger()


def collate(pages: list[PageInput]):
    """Pad a batch of pages to tensors (vec, layout, buckets, pad)."""
    torch = _torch()
    L = max(max(len(p.vec) for p in pages), 1)
    B = len(pages)
    vec = torch.zeros(B, L, pages[0].vec.shape[1])
    lay = torch.zeros(B, L, pages[0].layout.shape[1])
    buck = torch.zeros(B, L, L, dtype=torch.long)
    pad = torch.ones(B, L, dtype=torch.bool)
    for i, p in enumerate(pages):
        n = len(p.vec)
        vec[i, :n] = torch.from_numpy(p.vec)
        lay[i, :n] = torch.from_numpy(p.layout)
        buck[i, :n, :n] = torch.from_numpy(p.buckets)
        pad[i, :n] = False
    return vec, lay, buck, pad


@dataclass
class TagOutput:
    proba: np.ndarray  # (n, len(LABELS)) word label probabilities
    join: np.ndarray  # (m,) per PageInput.edges: both words in one entity
    pointer: np.ndarray | None  # (n, n + 1) key-word distribution per word, or None


class LayoutTagger:
    """A trained tagger: ``predict(page_input) -> TagOutput``."""

    def __init__(self, cfg: dict, module):
        self.cfg = cfg
        self.module = module.eval()

    def predict(self, p: PageInput) -> TagOutput:
        torch = _torch()
        n = len(p.vec)
        link = bool(self.cfg.get("link"))
        if n == 0:
            return TagOutput(np.zeros((0, len(LABELS))), np.zeros(0), np.zeros((0, 1)) if link else None)
        with torch.inference_mode():
            batch = collate([p])
            hs = self.module(*batch)
            proba = torch.softmax(self.module.label(hs[0]), -1).numpy().astype(float)
            join = torch.sigmoid(self.module.join_logits(hs[0], torch.from_numpy(p.edges))).numpy().astype(float) if len(p.edges) else np.zeros(0)
            ptr = torch.softmax(self.module.pointer_logits(hs, batch[2], batch[3])[0], -1).numpy().astype(float) if link else None
        return TagOutput(proba, join, ptr)

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.module.state_dict().items()}, str(directory / "tagger.safetensors"))
        (directory / "tagger.json").write_text(json.dumps(self.cfg), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "LayoutTagger":
        from safetensors.torch import load_file

        cfg = json.loads((directory / "tagger.json").read_text(encoding="utf-8"))
        module = build_module(cfg)
        module.load_state_dict(load_file(str(directory / "tagger.safetensors")))
        return cls(cfg, module)


def segment_tag_features(word_ids: list[list[int]], out: TagOutput, edges: np.ndarray) -> np.ndarray:
    """TAG_FEATURES per segment (given as word-index lists): mean word
    probabilities; the weakest join inside the segment (low: the tagger would
    split it) and the strongest join leaving it (high: it would extend it)."""
    word_proba, join = out.proba, out.join
    X = np.zeros((len(word_ids), len(TAG_FEATURES)), dtype=np.float32)
    owner: dict[int, int] = {w: s for s, ws in enumerate(word_ids) for w in ws}
    j_in = np.ones(len(word_ids))
    j_out = np.zeros(len(word_ids))
    for (a, b), p in zip(edges.tolist(), join.tolist()):
        sa, sb = owner.get(a, -1), owner.get(b, -1)
        if sa == sb and sa >= 0:
            j_in[sa] = min(j_in[sa], p)
        else:
            for s in (sa, sb):
                if s >= 0:
                    j_out[s] = max(j_out[s], p)
    for s, ws in enumerate(word_ids):
        if ws:
            X[s, : len(LABELS)] = word_proba[ws].mean(0)
    X[:, len(LABELS)] = j_in
    X[:, len(LABELS) + 1] = j_out
    return X


def segment_pair_tag_features(word_ids: list[list[int]], out: TagOutput, qi: list[int], ai: list[int]) -> np.ndarray:
    """TAG_PAIR_FEATURES (len(ai), len(qi), 2) for candidate values ``ai`` and
    keys ``qi`` (segment indices): the mean over the value's words of the
    pointer mass on the key's words, and the value's mean "no key" mass.
    Zeros without a pointer head."""
    F = np.zeros((len(ai), len(qi), len(TAG_PAIR_FEATURES)), dtype=np.float32)
    P = out.pointer
    if P is None or not qi or not ai:
        return F
    n = P.shape[0]
    M = np.zeros((len(word_ids), n))
    for s, ws in enumerate(word_ids):
        M[s, ws] = 1.0
    Mv = M / np.maximum(M.sum(1, keepdims=True), 1.0)
    S = Mv @ P[:, :n] @ M.T  # (value seg, key seg)
    F[..., 0] = S[np.ix_(ai, qi)]
    F[..., 1] = (Mv @ P[:, n])[ai][:, None]
    return F
