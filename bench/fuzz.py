"""Fuzzing the document-reading path: mutated PDFs and TIFFs for a fixed time.

    .venv/bin/python -m bench.fuzz --seconds 60 --out bench-out/fuzz [--seed N] [--memory-mb 3072]

Valid seed files are generated (digital and scanned forms from ``bench.synth``,
TIFFs from PIL; the real GewA 1 and Meldeschein from ``../shared/data/forms``
when present), then mutated by a seeded byte mutator (bit flips,
overwritten, deleted, duplicated and spliced runs, truncation, numbers in
PDF dictionaries replaced by extreme ones, TIFF directory entries and chains
rewritten). Each file goes through what the worker does with an upload
(``read_document``: the size limit, ``sniff``, ``read_pdf`` or
``load_image_pages``, then ``formwerk.pagerender.render_page`` for every
scanned PDF page, as the OCR activity does), with the limits of
``formwerk.settings.Settings``, in a child process under a memory limit
(``RLIMIT_AS``) and a per-file timeout. The child is restarted after a crash
or timeout, as a worker would be.

Outcomes per file: ``processed``, ``rejected:<code>`` (a BadInputError, what
the clerk is told), ``error:<type>`` (any other exception: in the worker an
internal error that is retried and fails instead of a clear rejection),
``crashed`` (the process died) and ``timed_out``. Inputs that errored,
crashed or timed out are kept in ``<out>/findings/`` to reproduce them.

Prints a table (fuzzed files beside the unmutated seeds of the same run as
the baseline: time and peak memory per file) and writes ``fuzz.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import select
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

# -- the reading path (runs in the child) ---------------------------------------------


def read_document(data: bytes, settings) -> dict[str, Any]:
    """What prepare_document and ocr_page do with a file's bytes, without the stores."""
    from formwerk.documents.images import load_image_pages
    from formwerk.documents.pdf import read_pdf
    from formwerk.documents.sniff import FileKind, sniff
    from formwerk.errors import UnsupportedTypeError
    from formwerk.pagerender import render_page

    if len(data) > settings.max_file_bytes:
        raise UnsupportedTypeError(detail="file too large")
    kind = sniff(data)
    if kind == FileKind.PDF:
        info = read_pdf(data, settings.render_dpi, settings.max_pages, max_pixels=settings.max_image_pixels,
                        min_dpi=settings.min_render_dpi, max_seconds=settings.max_read_seconds,
                        max_stream_bytes=settings.max_stream_bytes)
        rendered = 0
        for page in info.pages:
            if not page.has_text_layer:  # a scanned page: the OCR activity renders it
                render_page(data, page.index + 1, settings.render_dpi, settings.max_image_pixels)
                rendered += 1
        return {"kind": "pdf", "pages": len(info.pages), "rendered": rendered, "active": info.active_content}
    pages = load_image_pages(data, kind, settings.max_image_pixels, settings.max_pages,
                             max_total_pixels=settings.max_total_pixels)
    return {"kind": kind.value, "pages": len(pages), "rendered": 0, "active": []}


def _reset_peak() -> None:
    try:  # Linux: writing 5 resets the peak resident set size (VmHWM) of this process
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main() -> int:
    """Read length-prefixed files from stdin, answer one JSON line each on stdout."""
    import logging

    logging.disable(logging.CRITICAL)  # the readers' warnings about broken files are expected
    from formwerk.errors import BadInputError
    from formwerk.settings import Settings

    settings = Settings()
    # imported before the first file, so its time is the reading, not the imports
    import pdfplumber  # noqa: F401
    import pypdf  # noqa: F401

    import formwerk.documents.images  # noqa: F401
    import formwerk.documents.pdf  # noqa: F401
    import formwerk.pagerender  # noqa: F401
    inp, out = sys.stdin.buffer, sys.stdout
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return 0
        (size,) = struct.unpack(">I", head)
        data = inp.read(size)
        _reset_peak()
        start = time.perf_counter()
        try:
            detail = read_document(data, settings)
            outcome = "processed"
        except BadInputError as exc:
            outcome, detail = f"rejected:{exc.code}", {"detail": exc.detail[:200]}
        except BaseException as exc:  # noqa: BLE001 - everything else is a finding
            outcome, detail = f"error:{type(exc).__name__}", {"detail": str(exc)[:200]}
        ms = (time.perf_counter() - start) * 1000
        out.write(json.dumps({"outcome": outcome, "ms": ms, "peak_mb": _peak_mb(), **detail}) + "\n")
        out.flush()


# -- seeds and mutations (the parent) -------------------------------------------------------


def make_seeds() -> dict[str, bytes]:
    """Valid files of the kinds applicants send: digital and scanned PDFs, TIFFs."""
    from PIL import Image, ImageDraw

    from bench.synth import render_document, scan_document

    seeds: dict[str, bytes] = {}
    # real forms when the shared data is there: AcroForms, object streams, one with JavaScript
    real = Path(__file__).resolve().parents[2] / "shared" / "data" / "forms"
    for name in ("gewa1.pdf", "anmeldung_meldebehoerde.pdf"):
        if (real / name).is_file():
            seeds[f"real_{name}"] = (real / name).read_bytes()
    form = render_document("gewerbeanmeldung", seed=7)
    seeds["digital_form.pdf"] = form.pdf_bytes
    seeds["invoice.pdf"] = render_document("invoice", seed=8).pdf_bytes
    seeds["fax_scan.pdf"] = scan_document(form, "fax", seed=7)
    seeds["fax_scan.tiff"] = scan_document(form, "fax", seed=7, fmt="tiff")
    page = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(page)
    for i in range(20):
        draw.text((100, 100 + 60 * i), f"Zeile {i}: Gewerbe-Anmeldung nach § 14 GewO", fill=0)
    for name, extra in (("lzw.tiff", {"compression": "tiff_lzw"}), ("jpeg.tiff", {"compression": "jpeg"})):
        buf = io.BytesIO()
        page.save(buf, format="TIFF", save_all=True, append_images=[page.rotate(90, expand=True)],
                  dpi=(150, 150), **extra)
        seeds[name] = buf.getvalue()
    return seeds


_INTERESTING = [0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]
_NUMBERS = [b"0", b"-1", b"1", b"14400", b"99999999", b"2147483647", b"4294967296", b"1e308", b"-0.0",
            b"3.4e38", b"65535"]
_PDF_NUMBER = re.compile(rb"(?<=[\s\[/(])-?\d+(?:\.\d+)?(?=[\s\]/>)])")


def _run(rng: random.Random, n: int) -> tuple[int, int]:
    start = rng.randrange(max(1, n))
    return start, min(n, start + rng.choice([1, 2, 4, 8, 64, 512, 4096]))


def _tiff_entries(data: bytes) -> list[int]:
    """Byte offsets of the IFD entries of a TIFF's directory chain (at most 8 directories)."""
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return []
    end = "<" if data[:2] == b"II" else ">"
    out, seen = [], set()
    try:
        (ifd,) = struct.unpack(end + "I", data[4:8])
        while ifd and ifd not in seen and len(seen) < 8 and ifd + 2 <= len(data):
            seen.add(ifd)
            (count,) = struct.unpack(end + "H", data[ifd:ifd + 2])
            out.extend(ifd + 2 + 12 * i for i in range(min(count, 64)))
            (ifd,) = struct.unpack(end + "I", data[ifd + 2 + 12 * count:ifd + 6 + 12 * count])
    except struct.error:
        pass
    return out


def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> tuple[bytes, list[str]]:
    """One to three mutations of ``data``; returns the file and their names."""
    buf = bytearray(data)
    names = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        n = len(buf)
        kind = rng.choice(["flip", "overwrite", "delete", "duplicate", "insert", "truncate", "splice",
                           "number", "number", "number", "tiff_entry", "tiff_entry"])
        if kind == "flip" and n:
            for _ in range(rng.choice([1, 2, 8, 32])):
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
        elif kind == "overwrite" and n:
            a, b = _run(rng, n)
            value = rng.choice(_INTERESTING) & 0xFF
            buf[a:b] = bytes([value]) * (b - a) if rng.random() < 0.5 else rng.randbytes(b - a)
        elif kind == "delete" and n:
            a, b = _run(rng, n)
            del buf[a:b]
        elif kind == "duplicate" and n:
            a, b = _run(rng, n)
            buf[b:b] = buf[a:b] * rng.choice([1, 2, 16])
        elif kind == "insert":
            i = rng.randrange(n + 1)
            buf[i:i] = rng.randbytes(rng.choice([1, 16, 1024]))
        elif kind == "truncate" and n > 16:
            del buf[rng.randrange(16, n):]
            if rng.random() < 0.5:
                buf += b"\n%%EOF\n"  # cut, but looking complete
        elif kind == "splice" and others:
            other = rng.choice(others)
            a, b = _run(rng, len(other))
            i = rng.randrange(n + 1)
            buf[i:i] = other[a:b]
        elif kind == "number":
            # numbers in the PDF's dictionaries (sizes, counts, lengths, offsets), not in image data
            base = 0 if rng.random() < 0.5 else max(0, n - 65536)  # header objects or xref/trailer
            hits = list(_PDF_NUMBER.finditer(bytes(buf[base:base + 65536])))
            if hits:
                m = rng.choice(hits)
                buf[base + m.start():base + m.end()] = rng.choice(_NUMBERS)
        elif kind == "tiff_entry":
            entries = _tiff_entries(bytes(buf))
            if entries:
                at = rng.choice(entries)
                end = "<" if buf[:2] == b"II" else ">"
                field = rng.choice([2, 4, 8])  # type, count or value
                size = 2 if field == 2 else 4
                value = rng.choice(_INTERESTING + [at - 2, 8, 100_000, n]) & (0xFFFF if size == 2 else 0xFFFFFFFF)
                buf[at + field:at + field + size] = struct.pack(end + ("H" if size == 2 else "I"), value)
        else:
            continue
        names.append(kind)
    return bytes(buf), names


# -- running files in a bounded child --------------------------------------------------------


class Child:
    """The reading path in a subprocess under RLIMIT_AS; restarted after a crash or timeout."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def _start(self) -> None:
        limit = self.memory_mb * 1024 * 1024

        def bound() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        env = dict(os.environ, OMP_THREAD_LIMIT="1", MALLOC_ARENA_MAX="2")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.fuzz", "--child"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=bound,
                                     env=env, cwd=Path(__file__).resolve().parent.parent)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, data: bytes, timeout_s: float) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.restarts += 1
            self._start()
        proc = self.proc
        start = time.perf_counter()
        try:
            proc.stdin.write(struct.pack(">I", len(data)) + data)
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        line = proc.stdout.readline() if ready else b""
        ms = (time.perf_counter() - start) * 1000
        if line:
            return json.loads(line)
        if not ready:
            self.stop()
            self.restarts += 1
            return {"outcome": "timed_out", "ms": ms, "peak_mb": None}
        code = proc.wait()
        self.proc = None
        self.restarts += 1
        return {"outcome": "crashed", "ms": ms, "peak_mb": None, "detail": f"exit {code}"}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    times = [r["ms"] for r in rows]
    measured = [r for r in rows if r.get("peak_mb") is not None]
    peaks = [r["peak_mb"] for r in measured]
    hungriest = max(measured, key=lambda r: r["peak_mb"]) if measured else None
    worst = max(rows, key=lambda r: r["ms"]) if rows else None
    return {
        "files": len(rows),
        "outcomes": dict(Counter(r["outcome"] for r in rows).most_common()),
        "median_ms": sorted(times)[len(times) // 2] if times else None,
        "worst_ms": worst["ms"] if worst else None,
        "worst_file": worst.get("name") if worst else None,
        "peak_mb": max(peaks) if peaks else None,
        "peak_file": hungriest.get("name") if hungriest else None,
    }


def _table(fuzzed: dict[str, Any], baseline: dict[str, Any], extra: dict[str, Any]) -> str:
    def num(v, fmt="{:.0f}"):
        return "–" if v is None else fmt.format(v)

    lines = [f"{'':34s} {'fuzzed':>12s} {'baseline (seeds)':>18s}",
             f"{'files tried':34s} {fuzzed['files']:>12d} {baseline['files']:>18d}",
             f"{'median time per file (ms)':34s} {num(fuzzed['median_ms']):>12s} {num(baseline['median_ms']):>18s}",
             f"{'worst time per file (ms)':34s} {num(fuzzed['worst_ms']):>12s} {num(baseline['worst_ms']):>18s}",
             f"{'peak memory of the reader (MB)':34s} {num(fuzzed['peak_mb']):>12s} {num(baseline['peak_mb']):>18s}",
             "", "outcomes (fuzzed):"]
    for outcome, count in sorted(fuzzed["outcomes"].items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {outcome:32s} {count:>12d} {100 * count / max(1, fuzzed['files']):>17.1f}%")
    lines += ["", f"slowest file: {fuzzed['worst_file']}", f"most memory: {fuzzed['peak_file']}",
              f"child restarts: {extra['restarts']}, memory limit {extra['memory_mb']} MB, "
              f"timeout {extra['timeout_s']:g} s, seed {extra['seed']}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="fuzzing time (seeds not counted)")
    ap.add_argument("--out", default="bench-out/fuzz")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory-mb", type=int, default=3072, help="address-space limit of the reading process")
    ap.add_argument("--timeout-s", type=float, default=30.0, help="per file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main()

    out = Path(args.out)
    findings = out / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    seeds = make_seeds()
    child = Child(args.memory_mb)
    try:
        baseline_rows = []
        for name, data in seeds.items():
            row = child.run(data, args.timeout_s)
            baseline_rows.append({"name": name, **row})
        if any(not r["outcome"] == "processed" for r in baseline_rows):
            print("seed files not processed:", [(r["name"], r["outcome"]) for r in baseline_rows], file=sys.stderr)
        rng = random.Random(args.seed)
        names = sorted(seeds)
        blobs = [seeds[n] for n in names]
        rows: list[dict[str, Any]] = []
        kept = 0
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            seed_name = rng.choice(names)
            data, how = mutate(seeds[seed_name], rng, blobs)
            label = f"#{len(rows)} {seed_name} {'+'.join(how) or 'unchanged'}"
            row = {"name": label, **child.run(data, args.timeout_s)}
            rows.append(row)
            if row["outcome"].split(":")[0] in ("error", "crashed", "timed_out") and kept < 50:
                (findings / f"{len(rows) - 1:05d}-{row['outcome'].replace(':', '-')}-{seed_name}").write_bytes(data)
                kept += 1
    finally:
        child.stop()

    fuzzed, baseline = _summary(rows), _summary(baseline_rows)
    rejected = Counter(r["outcome"].split(":", 1)[1] for r in rows if r["outcome"].startswith("rejected:"))
    extra = {"restarts": child.restarts, "memory_mb": args.memory_mb, "timeout_s": args.timeout_s,
             "seed": args.seed, "seconds": args.seconds}
    print(_table(fuzzed, baseline, extra))
    result = {
        **extra,
        "fuzzed": fuzzed,
        "baseline": baseline,
        "rejected_by_reason": dict(rejected.most_common()),
        "findings": [r for r in rows if r["outcome"].split(":")[0] in ("error", "crashed", "timed_out")][:200],
        "seed_files": baseline_rows,
    }
    (out / "fuzz.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"\nwrote {out / 'fuzz.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
