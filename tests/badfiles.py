"""Bad inputs generated on the fly (nothing binary is committed)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image, ImageDraw


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_with_size(width: int, height: int, bit_depth: int = 1) -> bytes:
    """A real PNG of the given size; all-white 1-bit rows compress to almost nothing."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((width * bit_depth + 7) // 8)
    data = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def decompression_bomb_png() -> bytes:
    return png_with_size(30000, 30000)  # 900 megapixels in a ~100 KB file


def zero_size_png() -> bytes:
    header = struct.pack(">IIBBBBB", 0, 0, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")


def simple_pdf(text: str = "Gewerbe-Anmeldung nach § 14 GewO") -> bytes:
    """A one-page PDF with a text layer (reportlab)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont("Helvetica", 14)
    y = 800
    for line in [text, "Name: Müller", "Vorname: Jürgen", "Geburtsdatum: 14.02.1986"] * 3:
        c.drawString(72, y, line)
        y -= 24
    c.showPage()
    c.save()
    return buf.getvalue()


def truncated_pdf() -> bytes:
    data = simple_pdf()
    return data[: len(data) // 2]


def encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(simple_pdf())))
    writer.encrypt(user_password="geheim", owner_password="geheim", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def zip_named_pdf() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("antrag.pdf", simple_pdf())
    return buf.getvalue()


def text_image(lines: list[str], size=(1240, 1754)) -> bytes:
    """A PNG page (150 dpi A4) with dark text, for quick OCR checks."""
    from PIL import ImageFont

    img = Image.new("L", size, 255)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 28)
    for i, line in enumerate(lines):
        d.text((100, 120 + i * 60), line, font=font, fill=0)
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(150, 150))
    return buf.getvalue()


BAD_INPUTS = {
    "empty": (lambda: b"", "empty_file"),
    "truncated_pdf": (truncated_pdf, "corrupt_file"),
    "encrypted_pdf": (encrypted_pdf, "encrypted_pdf"),
    "zip_as_pdf": (zip_named_pdf, "unsupported_type"),
    "bomb_png": (decompression_bomb_png, "image_too_large"),
    "zero_png": (zero_size_png, "empty_image"),
}
