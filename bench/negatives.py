"""Negative documents for the corpus: letters and blank pages, plus a plain
rasteriser used when a PDF must become a "scan" without ``bench.synth``.

Negatives are not applications: the right answer for them is document type
``unknown`` (routed to review) — a blank page may also be ``rejected``. They
measure that the classifier does not force everything into a form type.
All output is deterministic from the seed.
"""

from __future__ import annotations

import io
import random
import time
from datetime import date, timedelta

import numpy as np
from PIL import Image, ImageFilter

LETTER_SUBJECTS = [
    "Widerspruch gegen den Bescheid vom {d}",
    "Nachreichung von Unterlagen zu Ihrem Schreiben vom {d}",
    "Anfrage zum Bearbeitungsstand",
    "Terminvereinbarung",
    "Änderung meiner Bankverbindung",
    "Beschwerde über die Straßenbeleuchtung",
]

LETTER_BODIES = [
    "hiermit möchte ich Sie bitten, mir den aktuellen Stand meines Anliegens mitzuteilen. "
    "Ich habe bereits vor einigen Wochen Unterlagen eingereicht und bisher keine Antwort erhalten.",
    "leider konnte ich den vorgeschlagenen Termin nicht wahrnehmen. Bitte teilen Sie mir einen "
    "neuen Termin mit, gerne auch telefonisch oder per E-Mail.",
    "anbei übersende ich Ihnen die angeforderten Nachweise. Sollten noch weitere Unterlagen "
    "fehlen, bitte ich um eine kurze Nachricht.",
    "gegen den oben genannten Bescheid lege ich hiermit fristgerecht Widerspruch ein. Eine "
    "Begründung reiche ich in den nächsten Tagen nach.",
    "in unserer Straße ist seit mehreren Wochen die Beleuchtung ausgefallen. Ich bitte Sie, "
    "den Schaden zu prüfen und zu beheben.",
]


def letter_pdf(seed: int) -> bytes:
    """A one-page German letter to a municipality (text layer, A4)."""
    from faker import Faker
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    fake = Faker("de_DE")
    fake.seed_instance(seed)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)  # no timestamps: same seed, same bytes
    w, h = A4
    y = h - 60
    c.setFont("Helvetica", 10)
    for line in [fake.name(), fake.street_address(), f"{fake.postcode()} {fake.city()}"]:
        c.drawString(60, y, line)
        y -= 14
    y -= 30
    for line in ["Stadtverwaltung", fake.street_address(), f"{fake.postcode()} {fake.city()}"]:
        c.drawString(60, y, line)
        y -= 14
    d = date(2025, 1, 1) + timedelta(days=rng.randint(0, 300))
    c.drawRightString(w - 60, y, f"{fake.city()}, {d:%d.%m.%Y}")
    y -= 40
    c.setFont("Helvetica-Bold", 11)
    c.drawString(60, y, rng.choice(LETTER_SUBJECTS).format(d=(d - timedelta(days=30)).strftime("%d.%m.%Y")))
    y -= 30
    c.setFont("Helvetica", 11)
    c.drawString(60, y, "Sehr geehrte Damen und Herren,")
    y -= 24
    text = " ".join(rng.sample(LETTER_BODIES, 2))
    line = ""
    for word in text.split():
        if c.stringWidth(line + " " + word, "Helvetica", 11) > w - 120:
            c.drawString(60, y, line)
            y -= 15
            line = word
        else:
            line = (line + " " + word).strip()
    c.drawString(60, y, line)
    y -= 30
    c.drawString(60, y, "Mit freundlichen Grüßen")
    y -= 40
    c.drawString(60, y, fake.name())
    c.showPage()
    c.save()
    return buf.getvalue()


def blank_scan(seed: int, dpi: int = 200) -> bytes:
    """A scanned blank A4 page (paper grey, sensor noise, a few specks) as PDF."""
    rng = np.random.default_rng(seed)
    w, h = int(8.27 * dpi), int(11.69 * dpi)
    arr = rng.normal(245, 4, size=(h, w))
    for _ in range(int(rng.integers(3, 15))):  # dust specks
        y, x = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4))
        arr[y:y + 3, x:x + 3] = rng.integers(40, 160)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    return _images_to_pdf([img], dpi)


def rasterise(pdf_bytes: bytes, seed: int, dpi: int = 200) -> bytes:
    """Plain scan of a PDF: render (with form fields), grey, slight blur/noise.

    Used for invoices/letters when ``bench.synth.scan_document`` is missing or
    refuses a non-synthetic document. The output has no text layer.
    """
    import pypdfium2 as pdfium

    rng = np.random.default_rng(seed)
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        doc.init_forms()
    except Exception:  # pragma: no cover - forms support is optional
        pass
    pages = []
    for i in range(len(doc)):
        img = doc[i].render(scale=dpi / 72, may_draw_forms=True).to_pil().convert("L")
        img = img.filter(ImageFilter.GaussianBlur(0.5))
        arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 6, size=(img.height, img.width))
        pages.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L"))
    doc.close()
    return _images_to_pdf(pages, dpi)


def _images_to_pdf(images: list[Image.Image], dpi: int) -> bytes:
    buf = io.BytesIO()
    # fixed dates: PIL stamps the current time otherwise, and same seed must mean same bytes
    fixed = time.gmtime(1735689600)  # 2025-01-01T00:00:00Z
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:], resolution=dpi,
                   creationDate=fixed, modDate=fixed)
    return buf.getvalue()
