"""Real forms filled in by hand (and typed), from sources the extractor never sees.

An independent evaluation set for ``bench.handfilled``: the real GewA 1 is
filled as applicants fill it,

* ``hand`` — every value written with a pen: handwriting fonts the project
  uses nowhere else (Fontsource packages from npm: Caveat, Indie Flower,
  Patrick Hand, Nanum Pen Script as print script; Homemade Apple and Reenie
  Beanie as joined script), block capitals for some writers, each character
  with its own jitter, rotation, slant and a wobbling baseline, in blue or
  black ink; the form's widgets are dropped (a printed blank form);
* ``typed`` — the values typed into the AcroForm (the form's own font),
  printed, and ticked with a pen;

with names drawn from Faker locales of many countries (never ``de_DE``, never
``extractors.names``' lists) and ticks in one of ``bench.synth.ticks``'
styles per applicant. The fonts are fetched once into a cache directory
(``FORMWERK_FONT_CACHE``, default ``.formwerk/cache/fonts``, gitignored) with
``npm pack`` and converted from WOFF to TrueType with fontTools; nothing of
them is committed. :func:`ensure_fonts` returns ``{}`` when npm cannot
reach its registry and nothing is cached: callers skip.

Coordinates: PDF points, bottom-left origin, boxes ``(x0, y0, x1, y1)``.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import tarfile
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

#: font name -> (npm package, joined script?, size factor: the font's letters at
#: one em are small (Nanum Pen Script) or large (Homemade Apple))
FONTS: dict[str, tuple[str, bool, float]] = {
    "caveat": ("@fontsource/caveat", False, 1.15),
    "indie_flower": ("@fontsource/indie-flower", False, 0.95),
    "patrick_hand": ("@fontsource/patrick-hand", False, 1.05),
    "nanum_pen_script": ("@fontsource/nanum-pen-script", False, 1.35),
    "homemade_apple": ("@fontsource/homemade-apple", True, 0.8),
    "reenie_beanie": ("@fontsource/reenie-beanie", True, 1.3),
}
#: the Latin-1 subset only: the latin-ext files' accented letters are composite
#: glyphs that render blank after reportlab's subsetting (seen with Caveat and
#: Patrick Hand), so letters beyond Latin-1 ("ł", "ş", "ě") are written as their
#: base letter and the truth says so too (:func:`writable`)
SUBSETS = ("latin",)

#: Faker locales the applicants' names come from: many countries, Latin
#: script as written on a German form, never de_DE
NAME_LOCALES = ("tr_TR", "pl_PL", "it_IT", "vi_VN", "en_GB", "fr_FR", "es_ES", "pt_PT", "nl_NL", "hr_HR",
                "cs_CZ", "ro_RO", "sv_SE", "hu_HU", "sq_AL", "en_PK", "en_NG", "fr_DZ", "fil_PH", "id_ID",
                "bs_BA", "az_AZ", "en_IN", "lt_LT", "fi_FI", "da_DK", "sk_SK", "en_IE", "es_MX", "pt_BR")

SOURCES = ("typed", "hand", "fax")


def font_cache() -> Path:
    return Path(os.environ.get("FORMWERK_FONT_CACHE", REPO / ".formwerk" / "cache" / "fonts"))


def _fetch(package: str, dest: Path) -> Path | None:
    """``npm pack`` the package into ``dest`` (once); the tarball's path or None."""
    stem = package.lstrip("@").replace("/", "-")
    have = sorted(dest.glob(f"{stem}-*.tgz"))
    if have:
        return have[-1]
    if shutil.which("npm") is None:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["npm", "pack", package, "--silent"], cwd=dest, check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (subprocess.SubprocessError, OSError):
        return None
    have = sorted(dest.glob(f"{stem}-*.tgz"))
    return have[-1] if have else None


def ensure_fonts() -> dict[str, list[Path]]:
    """Font name -> TrueType files (one per subset present), fetched and converted once."""
    from fontTools.ttLib import TTFont

    base = font_cache()
    out: dict[str, list[Path]] = {}
    for name, (package, _, _) in FONTS.items():
        ttfs = []
        for subset in SUBSETS:
            ttf = base / "ttf" / f"{name}-{subset}.ttf"
            if not ttf.is_file():
                tgz = _fetch(package, base / "npm")
                if tgz is None:
                    continue
                member = f"package/files/{package.split('/')[1]}-{subset}-400-normal.woff"
                with tarfile.open(tgz) as tf:
                    try:
                        data = tf.extractfile(member).read()  # type: ignore[union-attr]
                    except KeyError:
                        continue
                font = TTFont(io.BytesIO(data))
                font.flavor = None
                ttf.parent.mkdir(parents=True, exist_ok=True)
                font.save(str(ttf))
            ttfs.append(ttf)
        if ttfs:
            out[name] = ttfs
    return out


@lru_cache(maxsize=1)
def _registered() -> dict[str, list[tuple[str, frozenset[int]]]]:
    """Font name -> [(reportlab font name, code points it draws)], registered with reportlab."""
    from fontTools.ttLib import TTFont
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont as RLFont

    out: dict[str, list[tuple[str, frozenset[int]]]] = {}
    for name, paths in ensure_fonts().items():
        for p in paths:
            rl = f"fwhand-{p.stem}"
            pdfmetrics.registerFont(RLFont(rl, str(p)))
            cps = frozenset(TTFont(str(p)).getBestCmap())
            out.setdefault(name, []).append((rl, cps))
    return out


def available() -> bool:
    return bool(_registered())


def _drawable(ch: str) -> bool:
    return ch == " " or any(ord(ch) in cps for subs in _registered().values() for _, cps in subs)


def writable(text: str) -> str:
    """``text`` with letters no handwriting font has reduced to their base letter."""
    out = []
    for ch in text:
        if _drawable(ch):
            out.append(ch)
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            out.append(base if base and all(_drawable(c) for c in base) else "")
    return unicodedata.normalize("NFC", "".join(out))


# --------------------------------------------------------------------------
# names from many countries
# --------------------------------------------------------------------------


#: letters the real forms' typed fill-ins cannot show: the GewA 1's text
#: fields use Helvetica with WinAnsi encoding, and the renderer of a filled form
#: (pdfium) draws most other letters from a fallback font ("ł", "ś", "č", "ş")
#: but drops these, and with "ğ", "ı" or "İ" in a line it draws that line's
#: "a" as "ª" ("Isaxanlı" showed as "Isªxªnl"). Measured by rendering each
#: letter of the name locales' Faker names in the form's name field.
UNDRAWN_TYPED = frozenset("ėĞğİıũūƏơưȘșțəạảầặếễọồ")


def foreign_person(seed: int, sex: str, typed: bool = False) -> dict[str, Any]:
    """Given and family names (and sometimes a birth name) from a Faker locale other than de_DE.

    ``typed``: names a typed fill-in shows as written (none of :data:`UNDRAWN_TYPED`)."""
    from faker import Faker

    rng = random.Random(f"names:{seed}")
    for attempt in range(10):
        loc = rng.choice(NAME_LOCALES)
        fk = Faker(loc)
        fk.seed_instance(rng.randrange(1 << 30))
        first = fk.first_name_male() if sex == "male" else fk.first_name_female()
        if rng.random() < 0.2:
            second = fk.first_name_male() if sex == "male" else fk.first_name_female()
            if second != first:
                first = f"{first} {second}"
        last = fk.last_name()
        birth = fk.last_name() if rng.random() < 0.2 else None
        vals = [writable(v) if v else v for v in (first, last, birth)]
        if typed and any(c in UNDRAWN_TYPED for v in vals if v for c in v):
            continue
        if all(v is None or (v.strip() and len(v) == len(o or "")) for v, o in zip(vals, (first, last, birth))):
            return {"given_names": vals[0], "family_name": vals[1], "birth_name": vals[2], "locale": loc}
    return {"given_names": vals[0], "family_name": vals[1], "birth_name": vals[2], "locale": loc}


# --------------------------------------------------------------------------
# a writer's hand
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Hand:
    """One applicant's handwriting, fixed per document."""

    font: str
    capitals: bool  # block capitals
    size: float  # share of the box height the letters take
    slant: float  # shear (tan of the slant angle)
    spacing: float  # advance factor
    jitter: float  # per-character offset, share of the font size
    rotation: float  # per-character rotation, degrees (sd)
    wobble: float  # baseline bend, share of the font size
    ink: tuple[float, float, float]
    width: float  # stroke added around glyphs (pressure), points


def pick_hand(rng: random.Random) -> Hand:
    fonts = sorted(_registered())
    font = rng.choice(fonts)
    joined = FONTS[font][1]
    capitals = not joined and rng.random() < 0.3
    ink = (0.05, 0.08, rng.uniform(0.35, 0.6)) if rng.random() < 0.6 else (rng.uniform(0.05, 0.2),) * 3
    return Hand(font=font, capitals=capitals, size=rng.uniform(0.6, 0.85), slant=rng.uniform(-0.1, 0.3),
                spacing=rng.uniform(0.95, 1.12) if not joined else rng.uniform(0.95, 1.02),
                jitter=rng.uniform(0.02, 0.06), rotation=rng.uniform(1.0, 5.0), wobble=rng.uniform(0.03, 0.12),
                ink=ink, width=rng.uniform(0.0, 0.35))


def _face(hand: Hand, ch: str) -> str:
    """The reportlab font drawing ``ch``: the hand's own, else another handwriting font that has it."""
    reg = _registered()
    for rl, cps in reg[hand.font]:
        if ord(ch) in cps:
            return rl
    for name in sorted(reg):
        for rl, cps in reg[name]:
            if ord(ch) in cps:
                return rl
    return reg[hand.font][0][0]


def _advance(hand: Hand, ch: str, size: float) -> float:
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.stringWidth(ch, _face(hand, ch), size) * hand.spacing


def write_in_box(c, text: str, box, hand: Hand, rng: random.Random, multiline: bool = False) -> None:
    """Write ``text`` by ``hand`` into ``box`` on reportlab canvas ``c`` (shrinks or wraps to fit)."""
    import math

    if hand.capitals:
        text = text.upper()
    x0, y0, x1, y1 = box
    h = y1 - y0
    line_h = min(h, 16.0) if multiline else h
    size = line_h * hand.size * FONTS[hand.font][2]
    avail = (x1 - x0) - 6
    lines = [text]
    width = sum(_advance(hand, ch, size) for ch in text)
    if width > avail:
        if multiline and h >= 2 * line_h:
            words, lines, cur = text.split(), [], ""
            for w in words:
                trial = f"{cur} {w}".strip()
                if cur and sum(_advance(hand, ch, size) for ch in trial) > avail:
                    lines.append(cur)
                    cur = w
                else:
                    cur = trial
            lines.append(cur)
            lines = lines[: max(1, int(h // line_h))]
        longest = max(sum(_advance(hand, ch, size) for ch in ln) for ln in lines)
        if longest > avail:  # people write smaller when the box is short
            size *= avail / longest
    c.saveState()
    c.setFillColorRGB(*hand.ink)
    c.setStrokeColorRGB(*hand.ink)
    if hand.width > 0.05:
        c.setLineWidth(hand.width)
    mode = 2 if hand.width > 0.05 else 0  # fill + stroke: a heavier pen
    for li, line in enumerate(lines):
        x = x0 + rng.uniform(2.0, 5.0)
        top = y1 - li * line_h if multiline else y1
        base = top - line_h + line_h * rng.uniform(0.18, 0.32)
        phase, period = rng.uniform(0, 2 * math.pi), rng.uniform(40, 120)
        drift = rng.uniform(-0.02, 0.02)  # a line written uphill or downhill
        start = x
        for ch in line:
            adv = _advance(hand, ch, size)
            if ch != " ":
                y = base + size * hand.wobble * math.sin(phase + (x - start) / period * 2 * math.pi) \
                    + (x - start) * drift + rng.gauss(0, size * hand.jitter)
                c.saveState()
                c.translate(x + rng.gauss(0, size * hand.jitter * 0.5), y)
                c.rotate(rng.gauss(0, hand.rotation))
                c.transform(1, 0, hand.slant, 1, 0, 0)
                t = c.beginText(0, 0)
                t.setTextRenderMode(mode)
                t.setFont(_face(hand, ch), size * rng.uniform(0.94, 1.06))
                t.textOut(ch)
                c.drawText(t)
                c.restoreState()
            x += adv * rng.uniform(0.96, 1.04)
    c.restoreState()


# --------------------------------------------------------------------------
# the filled real form
# --------------------------------------------------------------------------


def _drop_text_widgets(writer) -> None:
    """Remove the text widgets (a blank printed form carries no fields)."""
    from pypdf.generic import ArrayObject, NameObject

    for page in writer.pages:
        annots = page.get("/Annots")
        if not annots:
            continue
        keep = ArrayObject()
        for ref in annots:
            a = ref.get_object()
            parent = a.get("/Parent")
            ft = a.get("/FT") or (parent.get_object().get("/FT") if parent is not None else None)
            if ft != "/Tx":
                keep.append(ref)
        page[NameObject("/Annots")] = keep


def overlay_handwriting(pdf_bytes: bytes, text: dict[str, str], seed: int, hand: Hand) -> bytes:
    """``pdf_bytes`` (text fields left empty) with each value of ``text`` written by ``hand``."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen import canvas as rl_canvas

    from .ticks import widget_rects

    reader = PdfReader(io.BytesIO(pdf_bytes))
    fields = reader.get_fields() or {}
    rects = widget_rects(reader, {k for k, v in text.items() if v})
    rng = random.Random(f"hand:{seed}")
    writer = PdfWriter(clone_from=reader)
    _drop_text_widgets(writer)
    for i, page in enumerate(writer.pages):
        mine = [(n, r) for n, (pi, r) in sorted(rects.items()) if pi == i]
        if not mine:
            continue
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        buf = io.BytesIO()
        c = rl_canvas.Canvas(buf, pagesize=(w, h), invariant=1)
        for name, r in mine:
            multiline = bool(int(fields.get(name, {}).get("/Ff", 0)) & 4096)
            write_in_box(c, text[name], r, hand, rng, multiline=multiline)
        c.showPage()
        c.save()
        page.merge_page(PdfReader(io.BytesIO(buf.getvalue())).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def source_of(seed: int) -> str:
    """Which source a seed of ``bench.handfilled`` makes: typed, hand, fax in turn."""
    return SOURCES[seed % 3]


def handfilled_form(doc_type: str, seed: int, source: str | None = None, tick_style: str | None = None):
    """The real form of ``doc_type`` filled by an applicant (``SyntheticDocument`` or None).

    ``source``: ``typed`` (AcroForm values, pen ticks), ``hand`` (all handwritten),
    ``fax`` (either, as it arrives by fax; the caller scans it with the fax
    profile). Names come from :func:`foreign_person`; ``meta`` tells the source,
    how it was written, the tick style and the names' locale.
    """
    from .document import SyntheticDocument, _sub_seed
    from .fake_data import FakeGermany
    from .forms import FORM_MODULES
    from .realforms import FIELD_MAPS, _fill, real_form_path
    from .ticks import TICK_STYLES, overlay_ticks

    path = real_form_path(doc_type)
    if path is None or not available():
        return None
    source = source or source_of(seed)
    rng = random.Random(f"handfilled:{doc_type}:{seed}")
    writing = source if source != "fax" else rng.choice(["typed", "hand"])
    style = tick_style or rng.choice([s for s in TICK_STYLES if s != "form" or writing == "typed"])
    fake = FakeGermany(_sub_seed(doc_type, seed) ^ 0x5EED)
    truth, values = FORM_MODULES[doc_type].make(fake)
    names = foreign_person(seed, truth.get("sex", "female"), typed=writing == "typed")
    old_family = truth.get("family_name")
    for k in ("given_names", "family_name", "birth_name"):
        if k in truth:
            truth[k] = names[k]
            values[k] = names[k] or ""
    if old_family and truth.get("registered_name"):
        truth["registered_name"] = values["registered_name"] = \
            truth["registered_name"].replace(old_family, names["family_name"])
    text, boxes = FIELD_MAPS[doc_type](truth, values)
    meta: dict[str, Any] = {"source": source, "writing": writing, "tick_style": style,
                            "locale": names["locale"], "ticked": sorted(boxes)}
    if writing == "typed":
        if style == "form":
            pdf = _fill(path, text, boxes)
        else:
            pdf = overlay_ticks(_fill(path, text, {n: "/Off" for n in boxes}), boxes, style, seed)
    else:
        hand = pick_hand(rng)
        meta["hand"] = {"font": hand.font, "capitals": hand.capitals}
        pdf = overlay_ticks(_fill(path, {}, {n: "/Off" for n in boxes}), boxes, style, seed)
        pdf = overlay_handwriting(pdf, text, seed, hand)
    return SyntheticDocument(doc_type, truth, pdf, "real", seed, meta=meta)
