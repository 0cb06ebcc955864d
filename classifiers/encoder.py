"""Text encoders: transformer sentence embeddings, loaded once per process.

:class:`E5Encoder` wraps any ``transformers`` encoder in the E5 recipe:
``"passage: "`` prefix, at most 512 tokens, attention-mask mean pooling, L2
normalisation. The model comes from a local directory or a hub id taken from
``FORMWERK_ENCODER`` (default ``models/e5-small`` under the repository root,
built offline by ``scripts/build_encoder.py``). :func:`load_encoder` caches the
instance per process, so a worker pays the 2–5 s load once, not per document.

When no encoder can be loaded, :func:`load_encoder` returns ``None`` and the
classifier falls back to its TF-IDF head (see ``classifiers.baseline_tfidf``);
the classification's ``model_version`` then says ``tfidf-fallback``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENCODER = "models/e5-small"
MAX_TOKENS = 512
PREFIX = "passage: "

_lock = threading.Lock()
_cache: dict[str, "E5Encoder | None"] = {}


def encoder_spec(encoder: str | None = None) -> str:
    """The configured encoder: argument, else ``FORMWERK_ENCODER``, else the default."""
    return encoder or os.environ.get("FORMWERK_ENCODER") or DEFAULT_ENCODER


def resolve(spec: str) -> str | None:
    """A local directory (absolute, or relative to the repo root / cwd), a hub id, or None.

    A spec that looks like a path (``models/...``, ``./``, ``/``) but does not
    exist resolves to ``None``: we never try the network for it.
    """
    p = Path(spec).expanduser()
    for cand in ([p] if p.is_absolute() else [REPO_ROOT / p, Path.cwd() / p]):
        if (cand / "config.json").exists():
            return str(cand.resolve())
    looks_like_path = p.is_absolute() or spec.startswith((".", "models/", "~")) or len(p.parts) > 2
    if looks_like_path:
        return None
    # hub id: only usable if it is already in the local cache (offline mode)
    return spec


def encoder_id(path: str) -> str:
    """Short id of an encoder for model versions, e.g. ``e5-small@3f2a1b``.

    A classifier head is only used with the encoder it was trained on, so the
    id must follow the weights, not the install: it covers ``config.json``,
    the weight file's size and the build record without its source-file
    mtimes (a re-installed package gave the same weights a new id, and every
    trained artefact silently fell back to TF-IDF).
    """
    p = Path(path)
    if not p.exists():
        return path.replace("/", "_")
    h = hashlib.sha256()
    if (p / "config.json").exists():
        h.update((p / "config.json").read_bytes())
    if (p / "build-info.json").exists():
        try:
            info = json.loads((p / "build-info.json").read_text())
            info["sources"] = [list(src[:2]) for src in info.get("sources", [])]  # name, size
            h.update(json.dumps(info, sort_keys=True).encode())
        except (ValueError, TypeError, AttributeError):
            h.update((p / "build-info.json").read_bytes())
    st = p / "model.safetensors"
    if st.exists():
        h.update(str(st.stat().st_size).encode())
    return f"{p.name}@{h.hexdigest()[:6]}"


class E5Encoder:
    """Mean-pooled, L2-normalised sentence embeddings from a transformers encoder."""

    def __init__(self, path: str, *, threads: int | None = None, batch_size: int = 8):
        import torch
        from transformers import AutoModel, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.path = path
        self.batch_size = batch_size
        local = Path(path).exists()
        kw = {"local_files_only": True} if local or os.environ.get("HF_HUB_OFFLINE") else {}
        self.tokenizer = AutoTokenizer.from_pretrained(path, **kw)
        # FORMWERK_ENCODER_MAPPED=0: the plain float32 load (comparisons, bench.throughput's "before")
        mapped = os.environ.get("FORMWERK_ENCODER_MAPPED", "1").strip().lower() not in ("0", "false", "no", "off")
        self.model = lean_model(path) if local and mapped else None
        if self.model is None:
            # fp32 compute on CPU: fp16 matmuls are slow there; the file may be fp16
            try:  # BERT-like models: skip the unused pooler (and its "newly initialized" warning)
                self.model = AutoModel.from_pretrained(path, dtype=torch.float32, add_pooling_layer=False, **kw).eval()
            except TypeError:
                self.model = AutoModel.from_pretrained(path, dtype=torch.float32, **kw).eval()
        self.dim = int(self.model.config.hidden_size)
        self.name = encoder_id(path)
        self._torch = torch

    def encode(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised. Empty input gives (0, dim)."""
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # sort by length so batches carry little padding
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for s in range(0, len(order), self.batch_size):
            idx = order[s : s + self.batch_size]
            batch = self.tokenizer(
                [PREFIX + texts[i] for i in idx], padding=True, truncation=True,
                max_length=MAX_TOKENS, return_tensors="pt",
            )
            with torch.inference_mode():
                hs = self.model(**batch).last_hidden_state
            m = batch["attention_mask"].unsqueeze(-1).to(hs.dtype)
            pooled = (hs * m).sum(1) / m.sum(1).clamp(min=1)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.numpy()
        return out


WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def _safetensors_entry(path: Path, key: str) -> tuple[int, str, list[int]]:
    """(absolute byte offset, dtype, shape) of one tensor in a safetensors file."""
    with path.open("rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    entry = header[key]
    return 8 + n + entry["data_offsets"][0], entry["dtype"], entry["shape"]


class MappedRows:
    """An embedding table read from the model file on demand (a ``torch.nn.Module``).

    The multilingual vocabulary (250,000 tokens) is 80 % of the model's
    weights: 384 MB as float32, of which a German office reads a small part.
    Mapped from the file (float16, as stored) only the pages of rows actually
    looked up become resident, and they are shared with every process that
    maps the same file; each row is widened to float32 after the lookup,
    which gives exactly the values of a float32 copy of the table.
    """

    def __new__(cls, file: Path, key: str = WORD_EMBEDDINGS):
        import torch

        offset, dtype, shape = _safetensors_entry(file, key)
        np_dtype = {"F16": np.float16, "F32": np.float32, "BF16": None}[dtype]
        if np_dtype is None:
            raise ValueError("bfloat16 embeddings cannot be mapped")
        # copy-on-write: writable for torch (no warning), never written, pages stay shared
        table = torch.from_numpy(np.memmap(file, dtype=np_dtype, mode="c", offset=offset, shape=tuple(shape)))

        class _Rows(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.num_embeddings, self.embedding_dim = table.shape
                self.table = table  # a plain attribute: not a parameter, not in state_dict()

            def forward(self, input_ids):
                return torch.nn.functional.embedding(input_ids, self.table).to(torch.float32)

        return _Rows()


def lean_model(path: str):
    """The encoder in float32 with its vocabulary mapped from the file, or None.

    ``from_pretrained`` builds a float32 copy of every weight beside the
    file's float16 ones (1.0 GB at the peak for e5-small, 0.8 GB resident
    after). Here the transformer layers (22 M parameters) are loaded into a
    model built with a two-token vocabulary, and the vocabulary is a
    :class:`MappedRows`: the same outputs for about a fifth of the memory.
    Anything unexpected (another layout, missing weights) gives None and
    the caller loads the usual way.
    """
    import torch
    from safetensors import safe_open
    from transformers import AutoConfig, AutoModel

    file = Path(path) / "model.safetensors"
    if not file.exists():
        return None
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        if config.model_type not in ("bert", "xlm-roberta"):
            return None
        rows = MappedRows(file)
        config.vocab_size = int(config.pad_token_id or 0) + 1  # the real table is mapped in below
        try:
            model = AutoModel.from_config(config, add_pooling_layer=False, dtype=torch.float32)
        except TypeError:
            return None
        # weight by weight into the model's own tensors: no second copy of the state
        own = {k: v for k, v in model.state_dict().items() if k != WORD_EMBEDDINGS}
        with safe_open(str(file), "pt") as f:
            if set(f.keys()) - {WORD_EMBEDDINGS} != set(own):
                return None
            with torch.no_grad():
                for key, target in own.items():
                    stored = f.get_tensor(key)
                    if stored.shape != target.shape:
                        return None
                    target.copy_(stored)
        model.embeddings.word_embeddings = rows
        return model.eval()
    except Exception as exc:  # never worse than the usual load
        log.info("encoder %s: mapped load not possible (%s); loading the usual way", path, exc)
        return None


def load_encoder(encoder: str | None = None) -> E5Encoder | None:
    """The process-wide encoder for ``encoder`` (see :func:`encoder_spec`), or None.

    ``FORMWERK_ENCODER=none`` disables the encoder (TF-IDF fallback). Torch
    threads come from ``FORMWERK_TORCH_THREADS`` (default 1: the worker runs
    pages in parallel processes, more threads only oversubscribe the cores).
    """
    spec = encoder_spec(encoder)
    with _lock:
        if spec in _cache:
            return _cache[spec]
        enc: E5Encoder | None = None
        if spec.lower() not in ("none", "off", ""):
            path = resolve(spec)
            if path is None:
                log.warning("encoder %s not found; classifier uses the TF-IDF fallback "
                            "(build it with scripts/build_encoder.py)", spec)
            else:
                try:
                    threads = int(os.environ.get("FORMWERK_TORCH_THREADS", "1"))
                    enc = E5Encoder(path, threads=threads)
                except Exception as exc:  # a broken/missing model must not stop intake
                    log.warning("encoder %s could not be loaded (%s); using the TF-IDF fallback", spec, exc)
        _cache[spec] = enc
        return enc
