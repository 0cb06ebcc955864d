"""The benchmark corpus: planned from a seed, generated into the output folder.

Two steps, so the plan can be tested without rendering anything:

1. :func:`plan_corpus` — a pure, deterministic list of :class:`CorpusSpec`
   (what to make: type, category, scan profile, seed).
2. :func:`build_corpus` — renders every spec through ``bench.synth`` (or the
   negatives/invoice sources here), writes the files to ``<out>/corpus/`` and a
   manifest ``<out>/corpus/manifest.jsonl`` (one JSON object per line:
   ``file, doc_type, category, profile, truth, pages, seed, also_ok``).

Categories:

* ``scan`` — generated forms, printed and scanned with a ``bench.synth``
  profile (300/200 dpi, blur/noise/JPEG, fax, skew, 90°, upside down)
* ``digital`` — generated forms as PDFs with a text layer (no OCR needed)
* ``acroform`` — the real forms of ``../shared/data/forms`` filled as AcroForms
* ``real_scan`` — those filled real forms, scanned with a profile
* ``invoice`` — real ZUGFeRD invoices, rasterised; truth from their CII XML
* ``batch`` — one scan holding several generated documents (an application
  and its attachments); truth: the page range and type of each document
* ``letter``, ``blank``, ``other_form`` (a municipal form of another purpose,
  e.g. Gewerbe-Abmeldung, Hundesteuer) — negatives: the right type is
  ``unknown``

Without ``../shared/data`` the real-form slots are filled with generated forms
(so ``full`` keeps >= 200 documents) and generated invoices (``bench.synth``)
replace the real ones.
The corpus is never committed: it lives in the (gitignored) output folder.
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

from bench import negatives
from bench.cii import invoice_truth

log = logging.getLogger(__name__)

FORM_TYPES = ["gewerbeanmeldung", "wohngeld_mietzuschuss", "meldebehoerde_anmeldung", "kindergeld_kg1"]
PROFILES = ["office_300", "office_200", "fax", "skewed", "rotated_90", "upside_down"]
SIZES = ("tiny", "small", "full")


def shared_data_dir() -> Path:
    """``../shared/data`` relative to the repo (override: ``FORMWERK_SHARED_DATA``)."""
    env = os.environ.get("FORMWERK_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class CorpusSpec:
    """What to generate. ``source`` names the real invoice for ``invoice``."""

    doc_type: str
    category: str
    seed: int
    profile: str | None = None
    source: str | None = None

    @property
    def stem(self) -> str:
        parts = [self.category, self.doc_type, self.profile or "plain", str(self.seed)]
        return "-".join(parts)


@dataclass
class CorpusItem:
    """One generated file and its truth (a manifest line)."""

    file: str  # path relative to the corpus folder
    doc_type: str
    category: str
    profile: str | None
    truth: dict[str, Any]
    pages: int
    seed: int
    variant: str | None = None
    also_ok: list[str] = field(default_factory=list)  # further acceptable predicted types

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------
# Plan (pure)
# --------------------------------------------------------------------------

# per size: scans per (type, profile), digital per type, acroform per type,
# real scans per type (profiles cycled), invoices, letters, blank pages
_COUNTS = {
    "tiny": dict(scan_profiles=["office_300"], scans=1, digital=0, acroform=0, real_scan=0,
                 invoice=0, letter=1, blank=1, other_form=0, batch=0, gewa1_office=0,
                 types=FORM_TYPES[:1]),
    "small": dict(scan_profiles=None, scans=1, digital=1, acroform=1, real_scan=2,
                  invoice=3, letter=2, blank=1, other_form=2, batch=2, gewa1_office=0,
                  types=FORM_TYPES),
    "full": dict(scan_profiles=PROFILES, scans=5, digital=4, acroform=3, real_scan=6,
                 invoice=16, letter=10, blank=6, other_form=8, batch=10, gewa1_office=12,
                 types=FORM_TYPES),
}

#: What a mixed scan holds, in page order (cycled by the plan): applications
#: with attachments, two applications in one scan, attachment first, and an
#: application with a cover letter (the letter is a document of its own, type
#: ``unknown``). Parts are bench.synth documents.
BATCHES = [
    ("gewerbeanmeldung", "invoice"),
    ("kindergeld_kg1", "meldebehoerde_anmeldung"),
    ("wohngeld_mietzuschuss", "invoice"),
    ("invoice", "gewerbeanmeldung"),
    ("meldebehoerde_anmeldung", "gewerbeanmeldung", "invoice"),
    ("letter", "wohngeld_mietzuschuss"),
    ("gewerbeanmeldung", "kindergeld_kg1"),
    ("invoice", "invoice"),
    ("wohngeld_mietzuschuss", "meldebehoerde_anmeldung"),
    ("gewerbeanmeldung", "letter"),
]


# bench.synth generators whose answer is "unknown" (GewA 3 is a catalogue type now, not a negative)
OTHER_FORMS = ["unknown_form", "unknown_form"]


def plan_corpus(size: str = "small", seed: int = 0, *, real_forms: bool = True,
                invoices: Iterable[str] = (), synthetic_invoices: bool = True) -> list[CorpusSpec]:
    """The deterministic list of documents for ``size`` and ``seed``.

    ``small`` ≈ 40 documents, ``full`` >= 200, ``tiny`` (tests) 3.
    ``real_forms``: whether real AcroForms can be filled (shared data present);
    ``invoices``: names of available real invoices (sorted, chosen by seed);
    without them, ``synthetic_invoices`` says generated ones can take their
    place (else letters do).
    """
    if size not in _COUNTS:
        raise ValueError(f"unknown size {size!r}; one of {', '.join(SIZES)}")
    c = _COUNTS[size]
    specs: list[CorpusSpec] = []
    counter = [0]

    def nxt() -> int:
        counter[0] += 1
        return seed * 100_003 + counter[0]

    for ti, t in enumerate(c["types"]):
        if c["scan_profiles"] is None:
            # small: the two office qualities, fax, and one geometric profile per type
            profiles = ["office_300", "office_200", "fax", PROFILES[3 + ti % 3]]
        else:
            profiles = c["scan_profiles"]
        for p in profiles:
            for _ in range(c["scans"]):
                specs.append(CorpusSpec(t, "scan", nxt(), p))
        for _ in range(c["digital"]):
            specs.append(CorpusSpec(t, "digital", nxt()))
        for _ in range(c["acroform"]):
            specs.append(CorpusSpec(t, "acroform", nxt()) if real_forms else CorpusSpec(t, "digital", nxt()))
        for k in range(c["real_scan"]):
            p = PROFILES[(k + ti) % len(PROFILES)]
            specs.append(CorpusSpec(t, "real_scan" if real_forms else "scan", nxt(), p))
        if t == "gewerbeanmeldung" and real_forms:
            # the extraction target is stated for real GewA 1 office scans: enough of them to measure
            for _ in range(c["gewa1_office"]):
                specs.append(CorpusSpec(t, "real_scan", nxt(), "office_300"))
    inv = sorted(invoices)
    if inv:
        import random

        rng = random.Random(seed)
        chosen = rng.sample(inv, min(len(inv), c["invoice"]))
        for k, name in enumerate(sorted(chosen)):
            specs.append(CorpusSpec("invoice", "invoice", nxt(), ["office_300", "office_200", "fax"][k % 3], name))
    elif synthetic_invoices:
        for k in range(c["invoice"]):
            specs.append(CorpusSpec("invoice", "invoice", nxt(), ["office_300", "office_200", "fax"][k % 3]))
    # without any invoices, letters take their slots (full keeps >= 200 documents)
    n_letters = c["letter"] + (0 if inv or synthetic_invoices else c["invoice"])
    for _ in range(n_letters):
        specs.append(CorpusSpec("unknown", "letter", nxt(), "office_200"))
    for k in range(c["other_form"]):
        specs.append(CorpusSpec("unknown", "other_form", nxt(), PROFILES[k % 2], OTHER_FORMS[k % 2]))
    for _ in range(c["blank"]):
        specs.append(CorpusSpec("unknown", "blank", nxt(), "office_200"))
    for k in range(c["batch"]):
        specs.append(CorpusSpec("batch", "batch", nxt(), "office_300", "+".join(BATCHES[k % len(BATCHES)])))
    return specs


def available_invoices(data_dir: Path | None = None) -> list[str]:
    """Names (stems) of real invoices with both the PDF and its CII truth.

    The sample that does not validate (``not_validating_*``) is left out.
    """
    base = (data_dir or shared_data_dir()) / "invoices" / "XML-Rechnung"
    if not (base / "FX").is_dir():
        return []
    return sorted(p.stem for p in (base / "FX").glob("*.pdf")
                  if (base / "CII" / f"{p.stem}.cii.xml").is_file() and not p.stem.startswith("not_"))


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def load_synth() -> Any | None:
    """``bench.synth`` if it is importable (it is another module's job)."""
    try:
        import bench.synth as synth  # noqa: PLC0415 - optional collaborator
    except Exception as exc:  # pragma: no cover - depends on the tree
        log.warning("bench.synth not importable (%s): generated forms are skipped", exc)
        return None
    return synth


def sniff_extension(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return ".pdf"
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    return ".bin"


def count_pages(data: bytes) -> int:
    """Pages of a PDF/TIFF (1 for single images)."""
    ext = sniff_extension(data)
    if ext == ".pdf":
        import pypdf

        return len(pypdf.PdfReader(io.BytesIO(data)).pages)
    if ext == ".tif":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return getattr(im, "n_frames", 1)
    return 1


def _scan(synth: Any, doc: Any, profile: str, seed: int) -> bytes:
    """Scan with ``bench.synth`` when it can; else the plain rasteriser.

    Fax-profile scans come as multi-page TIFF (what fax servers deliver), so
    the corpus also exercises the TIFF intake path; the rest as image-only PDF.
    """
    if synth is not None and hasattr(synth, "scan_document"):
        if profile == "fax":
            try:
                return synth.scan_document(doc, profile, seed, fmt="tiff")
            except TypeError:  # an older synth without fmt: PDF then
                pass
            except Exception as exc:
                log.warning("synth TIFF scan failed (%s); PDF used", exc)
        try:
            return synth.scan_document(doc, profile, seed)
        except Exception as exc:
            log.warning("synth.scan_document failed on %s (%s); plain rasteriser used", profile, exc)
    dpi = 200 if profile in ("office_200", "fax") else 300
    return negatives.rasterise(doc.pdf_bytes, seed, dpi=dpi)


def _synth_has(synth: Any | None, doc_type: str) -> bool:
    try:
        return doc_type in synth.available_types()
    except Exception:
        return False


def _render(synth: Any | None, doc_type: str, seed: int) -> Any:
    if not _synth_has(synth, doc_type):
        raise LookupError(f"bench.synth cannot render {doc_type!r}")
    return synth.render_document(doc_type, seed)


@dataclass
class Generated:
    data: bytes
    truth: dict[str, Any]
    category: str  # may differ from the spec's when a real form fell back to a generated one
    variant: str | None = None
    also_ok: list[str] = field(default_factory=list)


def generate(spec: CorpusSpec, synth: Any | None, data_dir: Path | None = None) -> Generated:
    """Make one document.

    Raises ``LookupError`` when the source is unavailable (no synth, no data).
    A real form that ``fill_real_form`` cannot fill (returns ``None``) falls
    back to a generated form of the same type (category ``scan``/``digital``).
    """
    cat = spec.category
    if cat in ("acroform", "real_scan"):
        if synth is None or not hasattr(synth, "fill_real_form"):
            raise LookupError("bench.synth.fill_real_form unavailable")
        doc = synth.fill_real_form(spec.doc_type, spec.seed)
        if doc is not None:
            data = doc.pdf_bytes if cat == "acroform" else _scan(synth, doc, spec.profile or "office_300", spec.seed)
            return Generated(data, dict(doc.truth), cat, getattr(doc, "variant", None))
        cat = "digital" if cat == "acroform" else "scan"
        log.info("no real %s form: generated one instead", spec.doc_type)
    if cat in ("scan", "digital"):
        if synth is None or not hasattr(synth, "render_document"):
            raise LookupError("bench.synth.render_document unavailable")
        doc = synth.render_document(spec.doc_type, spec.seed)
        data = doc.pdf_bytes if cat == "digital" else _scan(synth, doc, spec.profile or "office_300", spec.seed)
        return Generated(data, dict(doc.truth), cat, getattr(doc, "variant", None))
    if cat == "invoice" and spec.source is None:  # generated invoice (no shared data)
        doc = _render(synth, "invoice", spec.seed)
        return Generated(_scan(synth, doc, spec.profile or "office_300", spec.seed), dict(doc.truth), cat,
                         getattr(doc, "variant", None))
    if cat == "other_form":
        doc = _render(synth, spec.source or "unknown_form", spec.seed)
        return Generated(_scan(synth, doc, spec.profile or "office_300", spec.seed), {}, cat,
                         f"{spec.source}:{getattr(doc, 'variant', '')}")
    if cat == "invoice":
        base = (data_dir or shared_data_dir()) / "invoices" / "XML-Rechnung"
        pdf = (base / "FX" / f"{spec.source}.pdf").read_bytes()
        truth = invoice_truth(base / "CII" / f"{spec.source}.cii.xml")
        doc = SimpleNamespace(doc_type="invoice", truth=truth, pdf_bytes=pdf, variant=spec.source)
        return Generated(_scan(synth, doc, spec.profile or "office_300", spec.seed), truth, cat, spec.source)
    if cat == "letter" and _synth_has(synth, "letter"):
        # bench.synth's letters mention a form by name: the harder negative
        doc = synth.render_document("letter", spec.seed)
        return Generated(_scan(synth, doc, spec.profile or "office_200", spec.seed), {}, cat, "synth-letter")
    if cat == "letter":
        doc = SimpleNamespace(doc_type="unknown", truth={}, pdf_bytes=negatives.letter_pdf(spec.seed), variant="letter")
        return Generated(_scan(synth, doc, spec.profile or "office_200", spec.seed), {}, cat, "letter")
    if cat == "blank":
        return Generated(negatives.blank_scan(spec.seed), {}, cat, "blank", ["rejected"])
    if cat == "batch":
        return _batch(synth, spec)
    raise ValueError(f"unknown category {cat!r}")


def _batch(synth: Any | None, spec: CorpusSpec) -> Generated:
    """Several generated documents merged into one PDF, then scanned as one."""
    import pypdf

    if synth is None or not hasattr(synth, "render_document"):
        raise LookupError("bench.synth.render_document unavailable")
    parts = (spec.source or "").split("+")
    writer = pypdf.PdfWriter()
    segments, page = [], 1
    for k, part in enumerate(parts):
        doc = synth.render_document(part, spec.seed * 10 + k)
        n = 0
        for p in pypdf.PdfReader(io.BytesIO(doc.pdf_bytes)).pages:
            writer.add_page(p)
            n += 1
        label = "unknown" if part == "letter" else part
        segments.append({"start": page, "end": page + n - 1, "document_type": label})
        page += n
    buf = io.BytesIO()
    writer.write(buf)
    merged = SimpleNamespace(doc_type="batch", truth={}, pdf_bytes=buf.getvalue(), variant=spec.source)
    data = _scan(synth, merged, spec.profile or "office_300", spec.seed)
    return Generated(data, {"segments": segments}, "batch", spec.source)


def build_corpus(out_dir: str | Path, size: str = "small", seed: int = 0, *, synth: Any | None = ...,
                 data_dir: Path | None = None, workers: int | None = None,
                 ) -> tuple[list[CorpusItem], list[dict[str, Any]]]:
    """Generate the corpus into ``<out_dir>/corpus``; returns ``(items, skipped)``.

    ``synth`` defaults to the real ``bench.synth`` (then documents are made in
    ``workers`` processes, default: all cores — every spec is independent and
    seeded, so the result does not depend on the order); tests pass a fake,
    made in this process. Specs whose source is unavailable are *skipped and
    reported* (``skipped``: spec + reason), never silently dropped. The
    manifest lists the generated items in plan order.
    """
    real_synth = synth is ...
    if real_synth:
        synth = load_synth()
    data_dir = data_dir or shared_data_dir()
    real_forms = data_dir.joinpath("forms").is_dir() and synth is not None and hasattr(synth, "fill_real_form")
    specs = plan_corpus(size, seed, real_forms=real_forms, invoices=available_invoices(data_dir),
                        synthetic_invoices=_synth_has(synth, "invoice"))
    corpus_dir = Path(out_dir) / "corpus"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(i, spec, corpus_dir, data_dir) for i, spec in enumerate(specs)]
    workers = workers or os.cpu_count() or 1
    if real_synth and synth is not None and workers > 1 and len(jobs) > 4:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(_make_one, jobs, chunksize=2))
    else:
        outcomes = [_make_one(job, synth) for job in jobs]
    items = [o for o in outcomes if isinstance(o, CorpusItem)]
    skipped = [o for o in outcomes if isinstance(o, dict)]
    write_manifest(corpus_dir / "manifest.jsonl", items)
    return items, skipped


def _make_one(job: tuple[int, CorpusSpec, Path, Path], synth: Any = ...) -> CorpusItem | dict[str, Any]:
    """Generate and write one spec: its manifest item, or a skip record with the reason."""
    i, spec, corpus_dir, data_dir = job
    if synth is ...:  # in a pool process: import the real generator there
        synth = load_synth()
    try:
        g = generate(spec, synth, data_dir)
    except LookupError as exc:
        return {**asdict(spec), "reason": str(exc)}
    except Exception as exc:  # a generator bug must not cost the whole run
        log.exception("generating %s failed", spec.stem)
        return {**asdict(spec), "reason": f"{type(exc).__name__}: {exc}"}
    profile = None if g.category in ("digital", "acroform") else spec.profile
    stem = "-".join([g.category, spec.doc_type, profile or "plain", str(spec.seed)])
    name = f"{i:04d}-{stem}{sniff_extension(g.data)}"
    (corpus_dir / name).write_bytes(g.data)
    return CorpusItem(file=name, doc_type=spec.doc_type, category=g.category, profile=profile,
                      truth=_jsonable(g.truth), pages=count_pages(g.data), seed=spec.seed,
                      variant=g.variant, also_ok=g.also_ok)


def _jsonable(truth: dict[str, Any]) -> dict[str, Any]:
    # truth values may be dates or dataclasses from the generator: JSON-safe copy
    return json.loads(json.dumps(truth, default=str))


def write_manifest(path: Path, items: Iterable[CorpusItem]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for it in items:
            fh.write(json.dumps(it.to_json(), ensure_ascii=False, sort_keys=True) + "\n")


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
