"""A labelled text corpus for training and measuring the classifier.

Built from the evaluation data in ``../shared/data`` (never copied into the
repo; everything derived goes to ``.formwerk/cache``) plus generated text:

* the four real forms — their text layer **and** a Tesseract OCR of each
  rendered page (cached), as templates; each variant inserts fake applicant
  values, OCR-like character noise, dropped words, sometimes only the first
  pages or a handwritten-style stamp line;
* the 26 real invoices (text layer, plus OCR of the first pages);
* ``unknown``: the XFUND German forms (199 real forms of other kinds — hard
  negatives), generated letters (some mention a form by name: a cover letter
  is not the form), blank/noise pages.

A document is a list of page texts. ``group`` ties variants of the same
source together so a held-out split never sees its own template/file.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from classifiers.classes import INVOICE, UNKNOWN

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FORMWERK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CACHE = REPO_ROOT / ".formwerk" / "cache" / "classifier-corpus"

FORM_FILES = {
    "gewa1.pdf": "gewerbeanmeldung",
    "wohngeldantrag.pdf": "wohngeld_mietzuschuss",
    "anmeldung_meldebehoerde.pdf": "meldebehoerde_anmeldung",
    "kg1.pdf": "kindergeld_kg1",
}


@dataclass
class LabelledDoc:
    pages: list[str]
    label: str
    group: str  # variants of one source share a group (split unit)
    kind: str = ""  # e.g. "form-text", "form-ocr", "invoice", "xfund", "letter", "noise"


def data_available() -> bool:
    return (DATA / "forms").is_dir()


# ---------------------------------------------------------------- sources


def _pdf_pages(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return [re.sub(r"\(cid:\d+\)", " ", p.extract_text() or "") for p in pdf.pages]


def _ocr_pages(path: Path, max_pages: int = 5, dpi: int = 300) -> list[str]:
    """Tesseract text of each rendered page, cached (one OCR thread: shared cores)."""
    out_dir = CACHE / "ocr"
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = out_dir / f"{path.stem}-{dpi}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(path))
    texts = []
    for i in range(min(len(doc), max_pages)):
        img = doc[i].render(scale=dpi / 72).to_pil().convert("L")
        png = out_dir / "page.png"
        img.save(png)
        r = subprocess.run(["tesseract", str(png), "-", "-l", "deu+eng", "--psm", "3"],
                           capture_output=True, text=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        texts.append(r.stdout)
    cache.write_text(json.dumps(texts, ensure_ascii=False))
    return texts


def _xfund_docs() -> list[tuple[str, str]]:
    docs = []
    for split in ("train", "val"):
        f = DATA / "xfund_de" / f"de.{split}.json"
        if not f.exists():
            continue
        data = json.loads(f.read_text())
        for d in data.get("documents", []):
            ents = sorted(d.get("document", []), key=lambda e: (e["box"][1] // 20, e["box"][0]))
            docs.append((d.get("id", str(len(docs))), "\n".join(e["text"] for e in ents)))
    return docs


# ---------------------------------------------------------------- noise

_OCR_CONFUSIONS = {
    "e": "c", "c": "e", "l": "1", "1": "l", "i": "l", "o": "0", "0": "O", "rn": "m", "m": "rn",
    "u": "ü", "ü": "u", "ä": "a", "ö": "o", "ß": "B", "S": "5", "g": "q", "h": "b", "n": "u",
}


def ocr_noise(text: str, rng: random.Random, rate: float) -> str:
    """Character confusions, dropped/merged words at roughly ``rate`` per character."""
    out = []
    for word in text.split(" "):
        r = rng.random()
        if r < rate * 2:
            continue  # dropped word (faint print, stamp over it)
        chars = list(word)
        for i, ch in enumerate(chars):
            if rng.random() < rate:
                chars[i] = _OCR_CONFUSIONS.get(ch, rng.choice("., '|") if rng.random() < 0.3 else ch)
        out.append("".join(chars))
        if r > 1 - rate:
            out.append("")  # merged with the next word (missing space)
    return " ".join(out).replace("  ", "")


def _values(rng: random.Random, fake) -> list[str]:
    return [
        fake.last_name(), fake.first_name(), fake.date_of_birth().strftime("%d.%m.%Y"),
        fake.street_address(), f"{fake.postcode()} {fake.city()}", fake.phone_number(),
        fake.email(), fake.iban(), fake.company(), fake.date_this_decade().strftime("%d.%m.%Y"),
        f"{rng.randint(200, 1400)},{rng.randint(0, 99):02d}",
    ]


def fill_and_degrade(pages: list[str], rng: random.Random, fake, noise: float) -> list[str]:
    """Insert fake applicant values into lines, then add OCR noise."""
    out = []
    for text in pages:
        lines = text.splitlines()
        vals = _values(rng, fake)
        for _ in range(rng.randint(3, 10)):
            if lines:
                i = rng.randrange(len(lines))
                lines[i] = lines[i] + " " + rng.choice(vals)
        if rng.random() < 0.2 and lines:
            lines.insert(rng.randrange(len(lines)), f"Eingegangen am {fake.date_this_year().strftime('%d.%m.%Y')}")
        out.append(ocr_noise("\n".join(lines), rng, noise))
    return out


# ---------------------------------------------------------------- letters / noise

_LETTER_BODIES = [
    "hiermit kündige ich meinen Vertrag mit der Kundennummer {n} fristgerecht zum {d}.",
    "gegen Ihren Bescheid vom {d} (Aktenzeichen {n}) lege ich hiermit Widerspruch ein. Eine Begründung reiche ich nach.",
    "anbei übersende ich Ihnen die angeforderten Unterlagen zu meinem {form}. Bitte bestätigen Sie den Eingang.",
    "ich bitte um einen Termin zur Beratung über {form}. Ich bin telefonisch unter {p} erreichbar.",
    "leider konnte ich den Termin am {d} nicht wahrnehmen. Bitte teilen Sie mir einen neuen Termin mit.",
    "wir laden Sie herzlich zu unserem Sommerfest am {d} ein. Für Speisen und Getränke ist gesorgt.",
    "mit diesem Schreiben bewerbe ich mich um die ausgeschriebene Stelle als Sachbearbeiter/in (Kennziffer {n}).",
    "Ihre Zahlung zu der Rechnung vom {d} ist bei uns noch nicht eingegangen. Wir bitten um Ausgleich bis zum {d2}.",
    "ich beantrage Akteneinsicht nach dem Informationsfreiheitsgesetz in die Vorgänge zu {n}.",
    "bitte senden Sie mir das Formular {form} zu, ich habe keinen Drucker.",
]
_FORMS_MENTIONED = ["Antrag auf Wohngeld", "Gewerbeanmeldung", "Antrag auf Kindergeld", "Anmeldung meiner neuen Wohnung",
                    "Bauantrag", "Führungszeugnis", "Hundesteuer"]


def make_letter(rng: random.Random, fake) -> str:
    body = rng.choice(_LETTER_BODIES).format(
        n=rng.randint(10000, 999999), d=fake.date_this_decade().strftime("%d.%m.%Y"),
        d2=fake.date_this_year().strftime("%d.%m.%Y"), form=rng.choice(_FORMS_MENTIONED), p=fake.phone_number())
    extra = " ".join(fake.sentence(nb_words=rng.randint(6, 14)) for _ in range(rng.randint(0, 4)))
    return (f"{fake.name()}\n{fake.street_address()}\n{fake.postcode()} {fake.city()}\n\n"
            f"Stadtverwaltung {fake.city()}\n{fake.street_address()}\n\n{fake.city()}, den "
            f"{fake.date_this_year().strftime('%d.%m.%Y')}\n\nBetreff: {rng.choice(['Ihr Schreiben', 'Anfrage', 'Widerspruch', 'Kündigung', 'Unterlagen'])}\n\n"
            f"Sehr geehrte Damen und Herren,\n\n{body} {extra}\n\nMit freundlichen Grüßen\n{fake.name()}")


def make_noise(rng: random.Random) -> str:
    """What OCR reads on a photo or a smudged page: short junk tokens."""
    alphabet = "abcdefghijklmnopqrstuvwxyzäöü|!/\\-_.,:;'~ 0123456789"
    toks = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(5, 80))]
    return " ".join(toks)


# ---------------------------------------------------------------- corpus


def build_corpus(n_per_form: int = 40, n_invoice_variants: int = 3, n_letters: int = 80,
                 n_noise: int = 30, seed: int = 0, ocr: bool = True) -> list[LabelledDoc]:
    """The labelled documents (needs ``../shared/data``; see :func:`data_available`)."""
    from faker import Faker

    fake = Faker("de_DE")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    docs: list[LabelledDoc] = []
    for fname, label in FORM_FILES.items():
        path = DATA / "forms" / fname
        templates = [("form-text", _pdf_pages(path))]
        if ocr:
            templates.append(("form-ocr", _ocr_pages(path)))
        for i in range(n_per_form):
            kind, pages = templates[i % len(templates)]
            pages = list(pages)
            if len(pages) > 1 and rng.random() < 0.25:
                pages = pages[: rng.randint(1, len(pages) - 1)]  # only the first pages were sent
            noise = rng.choice([0.0, 0.01, 0.03, 0.06])
            docs.append(LabelledDoc(fill_and_degrade(pages, rng, fake, noise), label, f"{label}#{i}", kind))
    for j, pdf in enumerate(sorted((DATA / "invoices" / "XML-Rechnung" / "FX").glob("*.pdf"))):
        base = _pdf_pages(pdf)
        ocr_pages = _ocr_pages(pdf, max_pages=1) if ocr and j % 3 == 0 else None
        for v in range(n_invoice_variants):
            pages = list(base)
            kind = "invoice-text"
            if ocr_pages and v == 0:
                pages, kind = ocr_pages + pages[1:], "invoice-ocr"
            noise = rng.choice([0.0, 0.01, 0.03])
            docs.append(LabelledDoc([ocr_noise(p, rng, noise) for p in pages], INVOICE, f"invoice:{pdf.stem}", kind))
    for did, text in _xfund_docs():
        docs.append(LabelledDoc([ocr_noise(text, rng, rng.choice([0.0, 0.02]))], UNKNOWN, f"xfund:{did}", "xfund"))
    for i in range(n_letters):
        pages = [make_letter(rng, fake) for _ in range(1 if rng.random() < 0.8 else 2)]
        docs.append(LabelledDoc([ocr_noise(p, rng, rng.choice([0.0, 0.02])) for p in pages], UNKNOWN, f"letter:{i}", "letter"))
    for i in range(n_noise):
        docs.append(LabelledDoc([make_noise(rng)], UNKNOWN, f"noise:{i}", "noise"))
    return docs


def split(docs: list[LabelledDoc], test_fraction: float = 0.3, seed: int = 0) -> tuple[list[LabelledDoc], list[LabelledDoc]]:
    """Split by group (stratified by label), so no source is in both halves."""
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for d in docs:
        by_label.setdefault(d.label, [])
        if d.group not in by_label[d.label]:
            by_label[d.label].append(d.group)
    test_groups: set[str] = set()
    for groups in by_label.values():
        g = sorted(groups)
        rng.shuffle(g)
        test_groups.update(g[: max(1, round(len(g) * test_fraction))])
    return [d for d in docs if d.group not in test_groups], [d for d in docs if d.group in test_groups]


# ---------------------------------------------------------------- bench.synth documents


def synth_available() -> bool:
    try:
        from bench.synth.document import render_document  # noqa: F401
    except Exception:
        return False
    return True


def _synth_text(doc_type: str, seed: int, scan_profile: str | None) -> tuple[list[str], str, str]:
    """(pages, label, variant) of one bench.synth document, cached as JSON.

    The label is the generator's doc type when it is a form type (a catalogue
    class such as ``gewerbeabmeldung`` is a class here), else its expected class.
    """
    out_dir = CACHE / "synth"
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = out_dir / f"{doc_type}-{seed}-{scan_profile or 'text'}.json"
    if cache.exists():
        d = json.loads(cache.read_text())
        return d["pages"], d["label"], d["variant"]
    import io

    import pdfplumber

    from bench.synth.document import render_document
    from bench.synth.forms import FORM_MODULES

    doc = render_document(doc_type, seed)
    label = doc.doc_type if doc.doc_type in FORM_MODULES else doc.expected_class
    if scan_profile:
        import pytesseract

        from bench.synth.scan import scan_pages

        os.environ["OMP_THREAD_LIMIT"] = "1"
        imgs = scan_pages(doc.pdf_bytes, scan_profile, seed, None)
        pages = [pytesseract.image_to_string(im, lang="deu+eng") for im in imgs]
    else:
        with pdfplumber.open(io.BytesIO(doc.pdf_bytes)) as pdf:
            pages = [p.extract_text() or "" for p in pdf.pages]
    cache.write_text(json.dumps({"pages": pages, "label": label, "variant": doc.variant}, ensure_ascii=False))
    return pages, label, doc.variant


SYNTH_TYPES = ("gewerbeanmeldung", "wohngeld_mietzuschuss", "meldebehoerde_anmeldung", "kindergeld_kg1",
               "gewerbeabmeldung", "invoice", "letter", "unknown_form", "blank", "noise")


def synth_corpus(seeds: range, types: tuple[str, ...] = SYNTH_TYPES, scan_every: int = 0,
                 scan_profile: str = "office_200") -> list[LabelledDoc]:
    """bench.synth documents (text layer; every ``scan_every``-th one scanned + OCR'd)."""
    docs = []
    for t in types:
        for s in seeds:
            scanned = bool(scan_every) and s % scan_every == 0 and t not in ("blank", "noise")
            pages, label, variant = _synth_text(t, s, scan_profile if scanned else None)
            kind = f"synth-{'scan' if scanned else 'text'}"
            docs.append(LabelledDoc(pages, label, f"synth:{t}:{s}", kind))
    return docs
