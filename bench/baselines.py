"""Baselines measured in the same run, over the same page images.

1. **The limit** — bare ``tesseract`` CLI, ``OMP_THREAD_LIMIT=1``, one process
   per core, all cores busy: the most pages/minute Tesseract itself gives on
   this machine. The pipeline can only approach it.
2. **The naive approach** — ``pytesseract.image_to_string`` with Tesseract's
   default threading, one page after the other, then keywords + regexes
   (:mod:`bench.naive`): what a user would script. Its field accuracy and
   pages/minute.

Both run over a deterministic sample of the corpus (OCR of every page three
times would blow the time budget); the report compares the pipeline on the
same sample. Page images are rendered at 300 dpi, as the pipeline does.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from bench.naive import naive_result

LANG = "deu+eng"
CATEGORY_PRIORITY = ["scan", "real_scan", "invoice", "digital", "acroform", "letter", "blank"]


@dataclass
class Throughput:
    pages: int
    wall_s: float
    workers: int
    errors: int = 0

    @property
    def pages_per_minute(self) -> float | None:
        return None if self.wall_s <= 0 or self.pages == 0 else self.pages * 60.0 / self.wall_s


@dataclass
class NaiveRun:
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    throughput: Throughput | None = None


def sample_items(items: Sequence[dict[str, Any]], max_docs: int, max_pages: int) -> list[dict[str, Any]]:
    """A deterministic spread over the corpus: every k-th item, within a page cap.

    Items are interleaved by category (scans first: they are what the
    baselines are about), so the sample covers scans, real forms, invoices,
    digital PDFs and negatives alike.
    """
    by_cat: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        by_cat.setdefault(it.get("category", ""), []).append(it)
    order: list[dict[str, Any]] = []
    rank = {c: i for i, c in enumerate(CATEGORY_PRIORITY)}
    queues = [list(v) for _, v in sorted(by_cat.items(), key=lambda kv: (rank.get(kv[0], 99), kv[0]))]
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    out, pages = [], 0
    for it in order:
        if len(out) >= max_docs:
            break
        p = int(it.get("pages") or 1)
        if pages + p > max_pages:
            continue
        out.append(it)
        pages += p
    return out


def render_pages(pdf_or_image: Path, out_dir: Path, dpi: int = 300) -> list[Path]:
    """Page images (PNG) of a corpus file, as the pipeline would OCR them.

    PDFs are rendered with form fields drawn (a filled AcroForm otherwise
    renders blank); images/TIFFs are split into frames.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = pdf_or_image.stem
    paths: list[Path] = []
    if pdf_or_image.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(str(pdf_or_image))
        try:
            doc.init_forms()
        except Exception:  # pragma: no cover
            pass
        for i in range(len(doc)):
            p = out_dir / f"{stem}-p{i + 1}.png"
            if not p.exists():
                doc[i].render(scale=dpi / 72, may_draw_forms=True).to_pil().convert("L").save(p)
            paths.append(p)
        doc.close()
    else:
        from PIL import Image, ImageSequence

        with Image.open(pdf_or_image) as im:
            for i, frame in enumerate(ImageSequence.Iterator(im)):
                p = out_dir / f"{stem}-p{i + 1}.png"
                if not p.exists():
                    frame.convert("L").save(p)
                paths.append(p)
    return paths


def tesseract_limit(images: Sequence[Path], workers: int | None = None, lang: str = LANG,
                    tesseract: str = "tesseract") -> Throughput:
    """Bare Tesseract CLI over ``images``: ``workers`` processes (default: all
    cores), each single-threaded (``OMP_THREAD_LIMIT=1``), all kept busy."""
    workers = workers or os.cpu_count() or 1
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(img: Path) -> int:
        r = subprocess.run([tesseract, str(img), "stdout", "-l", lang], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:  # threads only wait on processes
        codes = list(pool.map(one, images))
    return Throughput(pages=len(images), wall_s=time.perf_counter() - t0, workers=workers,
                      errors=sum(c != 0 for c in codes))


@contextmanager
def _default_threading() -> Iterator[None]:
    # the naive user does not know about OMP_THREAD_LIMIT: drop it for this call only
    saved = os.environ.pop("OMP_THREAD_LIMIT", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["OMP_THREAD_LIMIT"] = saved


def naive_baseline(docs: Sequence[tuple[str, Sequence[Path]]], lang: str = LANG) -> NaiveRun:
    """``pytesseract.image_to_string`` per page (default threading), one page
    after the other, then :func:`bench.naive.naive_result` per document.

    ``docs``: ``(corpus file name, its page images)``.
    """
    import pytesseract
    from PIL import Image

    run = NaiveRun()
    pages = 0
    t0 = time.perf_counter()
    with _default_threading():
        for name, images in docs:
            texts = []
            for img in images:
                with Image.open(img) as im:
                    texts.append(pytesseract.image_to_string(im, lang=lang))
                pages += 1
            run.results[name] = naive_result(name, "\n".join(texts))
    run.throughput = Throughput(pages=pages, wall_s=time.perf_counter() - t0, workers=1)
    return run
