"""Scan simulation: rasterise a PDF and degrade it like a scanner or fax.

Pages are rendered with pypdfium2 with form support switched on
(``init_forms`` + ``may_draw_forms``), because a filled AcroForm otherwise
renders blank (see notes/pdf-facts.md). Degradations are applied with PIL and
numpy from a seeded generator, so the same ``(pdf, profile, seed)`` gives the
same pixels.

Profiles (name -> what a clerk's inbox really contains):

``office_300``  300 dpi colour office scanner, tiny skew, light noise, JPEG q≈85
``office_200``  200 dpi greyscale, a little blur, JPEG q≈70
``fax``         200 dpi, binarised (1 bit) with speckles, skew ≤ 1°
``skewed``      300 dpi greyscale, skew 1.5–3° either way
``rotated_90``  300 dpi, page fed sideways (90° or 270°)
``upside_down`` 300 dpi, page fed upside down (180°)
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageFilter

if TYPE_CHECKING:
    from .document import SyntheticDocument


@dataclass(frozen=True)
class ScanProfile:
    """Parameters of one simulated scanner (angles in degrees, noise in grey levels)."""

    name: str
    dpi: int
    mode: str  # "RGB", "L" or "1"
    skew: tuple[float, float]  # |angle| range; sign chosen at random
    blur: tuple[float, float]  # Gaussian radius range, pixels
    noise: float  # std dev of additive noise
    jpeg_quality: int | None  # None: no JPEG round trip
    turn: tuple[int, ...] = (0,)  # whole-page rotation(s) to choose from (counter-clockwise)
    paper: int = 246  # grey level of the paper


PROFILES: dict[str, ScanProfile] = {
    p.name: p
    for p in [
        ScanProfile("office_300", 300, "RGB", (0.0, 0.6), (0.2, 0.5), 3.0, 85),
        ScanProfile("office_200", 200, "L", (0.0, 0.8), (0.3, 0.7), 4.0, 70),
        ScanProfile("fax", 200, "1", (0.0, 1.0), (0.0, 0.4), 14.0, None, paper=255),
        ScanProfile("skewed", 300, "L", (1.5, 3.0), (0.0, 0.5), 5.0, 85),
        ScanProfile("rotated_90", 300, "L", (0.0, 0.5), (0.0, 0.5), 5.0, 85, turn=(90, 270)),
        ScanProfile("upside_down", 300, "L", (0.0, 0.5), (0.0, 0.5), 5.0, 85, turn=(180,)),
    ]
}


def rasterise(pdf_bytes: bytes, dpi: int) -> list[Image.Image]:
    """Render every page to an RGB image at ``dpi``, drawing form field values."""
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        doc.init_forms()  # must come before loading pages
        images = []
        for i in range(len(doc)):
            page = doc[i]
            bitmap = page.render(scale=dpi / 72.0, may_draw_forms=True)
            images.append(bitmap.to_pil().convert("RGB"))
            page.close()
        return images
    finally:
        doc.close()


def degrade(img: Image.Image, profile: ScanProfile, rng: np.random.Generator) -> Image.Image:
    """Apply one profile's degradations to one page image."""
    if profile.mode != "RGB":
        img = img.convert("L")
    # paper is never pure white on a scanner
    arr = np.asarray(img).astype(np.float32)
    arr = arr * (profile.paper / 255.0)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))

    lo, hi = profile.skew
    angle = float(rng.uniform(lo, hi)) * (1 if rng.random() < 0.5 else -1)
    if abs(angle) > 0.01:
        fill = (profile.paper,) * 3 if img.mode == "RGB" else profile.paper
        img = img.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=fill)
    radius = float(rng.uniform(*profile.blur))
    if radius > 0.05:
        img = img.filter(ImageFilter.GaussianBlur(radius))
    if profile.noise > 0:
        arr = np.asarray(img).astype(np.float32)
        # sensor noise is mostly luminance: one field for all channels
        noise = rng.normal(0.0, profile.noise, arr.shape[:2]).astype(np.float32)
        arr = arr + (noise[..., None] if arr.ndim == 3 else noise)
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    if profile.mode == "1":
        # fax: hard threshold plus sparse speckles (dust, line noise)
        arr = np.asarray(img)
        binary = arr > 150
        speckle = rng.random(binary.shape) < 0.0008
        binary = np.where(speckle, ~binary, binary)
        img = Image.fromarray((binary * 255).astype(np.uint8)).convert("1", dither=Image.NONE)
    if profile.jpeg_quality:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=profile.jpeg_quality)
        img = Image.open(io.BytesIO(buf.getvalue()))
        img.load()
    turn = int(rng.choice(profile.turn))
    if turn:
        img = img.rotate(turn, expand=True)
    return img


def get_profile(profile: str) -> ScanProfile:
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown scan profile {profile!r}; known: {sorted(PROFILES)}") from None


def scan_pages(pdf_bytes: bytes, profile: str, seed: int, dpi: int | None = None) -> list[Image.Image]:
    """Rasterise ``pdf_bytes`` and degrade each page per ``profile``.

    ``dpi`` overrides the profile's resolution (``office_200`` and ``fax`` scan at
    200 dpi, the others at 300). The image's ``info["dpi"]`` is set.
    """
    prof = get_profile(profile)
    res = dpi or prof.dpi
    rng = np.random.default_rng(seed)
    pages = [degrade(im, prof, rng) for im in rasterise(pdf_bytes, res)]
    for p in pages:
        p.info["dpi"] = (res, res)
    return pages


def pages_to_bytes(pages: list[Image.Image], fmt: str = "pdf", dpi: int = 300) -> bytes:
    """Write page images as one image-only PDF (``fmt="pdf"``) or multi-page TIFF."""
    buf = io.BytesIO()
    first, rest = pages[0], pages[1:]
    if fmt == "pdf":
        # fixed dates: Pillow would stamp the wall clock, breaking same-seed-same-bytes
        fixed = time.gmtime(1767225600)  # 2026-01-01T00:00:00Z
        first.save(buf, format="PDF", save_all=True, append_images=rest, resolution=float(dpi),
                   creationDate=fixed, modDate=fixed, producer="formwerk bench.synth")
    elif fmt in ("tif", "tiff"):
        # group4 for fax pages as real fax servers do; JPEG-in-TIFF otherwise
        # (noise makes lossless compression of scans balloon to ~20 MB/page)
        extra = {"compression": "group4"} if first.mode == "1" else \
            {"compression": "jpeg", "quality": 85}
        first.save(buf, format="TIFF", save_all=True, append_images=rest, dpi=(dpi, dpi), **extra)
    else:
        raise ValueError(f"unknown output format {fmt!r}; use 'pdf' or 'tiff'")
    return buf.getvalue()


def scan_document(doc: "SyntheticDocument | bytes", profile: str, seed: int,
                  fmt: str = "pdf", dpi: int | None = None) -> bytes:
    """A scanned copy of ``doc``: image-only PDF (default) or multi-page TIFF bytes."""
    pdf = doc if isinstance(doc, (bytes, bytearray)) else doc.pdf_bytes
    res = dpi or get_profile(profile).dpi
    pages = scan_pages(bytes(pdf), profile, seed, res)
    return pages_to_bytes(pages, fmt, res)


def describe(profile: str) -> dict[str, Any]:
    """The profile as a plain dict (for benchmark reports)."""
    return dict(get_profile(profile).__dict__)
