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


# -- hostile and odd files (issue 14, "Bad input") ---------------------------------


def random_bytes_pdf(size: int = 20_000, seed: int = 14, eof: bool = False) -> bytes:
    """A PDF header followed by random bytes: no PDF at all (not a cut-off one)."""
    import random

    body = random.Random(seed).randbytes(size)
    return b"%PDF-1.7\n" + body + (b"\n%%EOF\n" if eof else b"")


def broken_xref_pdf() -> bytes:
    """A valid PDF whose xref offsets and startxref point to the wrong places (repairable)."""
    data = simple_pdf()
    start = data.rindex(b"startxref")
    xref = data.rindex(b"xref", 0, start)
    table = data[xref:start]
    # every offset shifted: "0000000015 00000 n" -> "0000000099 00000 n"
    import re

    broken = re.sub(rb"(\d{10}) (\d{5}) n", lambda m: b"%010d %s n" % (int(m.group(1)) + 7, m.group(2)), table)
    return data[:xref] + broken + b"startxref\n123\n%%EOF\n"


def _pypdf_copy(data: bytes, edit) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    edit(writer)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def javascript_pdf(where: str = "names") -> bytes:
    """JavaScript in the document's name tree (run on opening) or as the /OpenAction."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    def add(w) -> None:
        action = w._add_object(DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                                  NameObject("/JS"): TextStringObject("app.alert('Hallo');")}))
        if where == "open_action":
            w._root_object[NameObject("/OpenAction")] = action
            return
        tree = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("hallo"), action])})
        w._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): w._add_object(tree)})

    return _pypdf_copy(simple_pdf(), add)


def embedded_file_pdf() -> bytes:
    return _pypdf_copy(simple_pdf(), lambda w: w.add_attachment("anlage.txt", b"Anlage zum Antrag"))


def many_pages_pdf(pages: int = 2000) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def square_page_pdf(side_pt: float, text: bool = True) -> bytes:
    """One page of ``side_pt`` × ``side_pt`` points (14,400 pt is the largest PDF allows)."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(side_pt, side_pt))
    if text:
        c.setFont("Helvetica", 14)
        for i, line in enumerate(["Gewerbe-Anmeldung nach § 14 GewO", "Name: Müller", "Vorname: Jürgen"]):
            c.drawString(72, side_pt - 100 - 24 * i, line)
    c.showPage()
    c.save()
    return buf.getvalue()


def _pdf_of_objects(objects: list[bytes]) -> bytes:
    """A PDF of the given object bodies (1 0 obj is the catalog) with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def content_bomb_pdf(megabytes: int = 300) -> bytes:
    """One page whose content stream unpacks to ``megabytes`` MB of spaces (the file: ~1 KB a MB)."""
    comp = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    stream = b"".join(comp.compress(chunk) for _ in range(megabytes)) + comp.flush()
    return _pdf_of_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ])


def content_bomb_disguised_pdf(megabytes: int = 300) -> bytes:
    """The content bomb as a stream that calls itself a 10 × 10 image, after a real image's dictionary."""
    bomb = content_bomb_pdf(megabytes)
    stream_at = bomb.index(b"4 0 obj")
    body = bomb[stream_at + len(b"4 0 obj\n"):bomb.index(b"\nendobj", stream_at)]
    disguised = body.replace(b"<< /Length", b"<< /Subtype /Image /Width 10 /Height 10 /Length", 1)
    return _pdf_of_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width 20000 /Height 20000 >>",
        disguised,
    ])


def escaped_javascript_pdf() -> bytes:
    """JavaScript whose names are written with #-escapes (/J#61vaScript), as evasive files do."""
    return javascript_pdf().replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS ", b"/J#53 ")


def owner_encrypted_javascript_pdf() -> bytes:
    """Opens without a password (owner password only), strings and streams encrypted."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(javascript_pdf())))
    writer.encrypt(user_password="", owner_password="amt", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def multipage_tiff(frames: int = 500) -> bytes:
    page = Image.new("1", (200, 280), 1)
    buf = io.BytesIO()
    page.save(buf, format="TIFF", save_all=True, append_images=[page] * (frames - 1), compression="group4")
    return buf.getvalue()


def tiff_of_large_white_pages(frames: int = 8, side: int = 10_000) -> bytes:
    """Group-4 white pages of ``side``² pixels: a few KB on disk, 4 bytes a pixel decoded."""
    page = Image.new("1", (side, side), 1)
    buf = io.BytesIO()
    page.save(buf, format="TIFF", save_all=True, append_images=[page] * (frames - 1), compression="group4")
    return buf.getvalue()


def png_header_claiming(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose IHDR claims ``width`` × ``height`` (the pixel data is a few bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def tiff_header_claiming(width: int = 100_000, height: int = 100_000) -> bytes:
    """A little-endian TIFF whose one directory claims ``width`` × ``height`` 1-bit pixels."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 1), (259, 3, 1), (262, 3, 0),
               (273, 4, 8 + 2 + 12 * 8 + 4), (278, 4, height), (279, 4, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, 1, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, 1, value, 0)
        for tag, kind, value in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 16


def jpeg_header_claiming(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG whose frame header (SOF0) is patched to claim ``width`` × ``height``."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 255).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_image() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (400, 300), 255).save(buf, format="GIF")
    return buf.getvalue()


def svg_image() -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="210mm" '
            b'height="297mm"><text x="10" y="20">Gewerbe-Anmeldung</text></svg>\n')


def _zip(members: list[tuple[str, bytes]], stored_first: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, payload) in enumerate(members):
            zf.writestr(name, payload, compress_type=zipfile.ZIP_STORED if stored_first and i == 0 else None)
    return buf.getvalue()


def docx_document() -> bytes:
    return _zip([("[Content_Types].xml", b"<Types/>"), ("_rels/.rels", b"<Relationships/>"),
                 ("word/document.xml", b"<w:document/>")])


def xlsx_document() -> bytes:
    return _zip([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")])


def odt_document() -> bytes:
    return _zip([("mimetype", b"application/vnd.oasis.opendocument.text"),
                 ("content.xml", b"<office:document-content/>")], stored_first=True)


def legacy_doc() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


#: name -> (maker, reason code of the rejection, file name it is submitted under)
HOSTILE_INPUTS = {
    "random_after_pdf_header": (random_bytes_pdf, "unreadable_pdf", "antrag.pdf"),
    "random_after_pdf_header_with_eof": (lambda: random_bytes_pdf(eof=True), "unreadable_pdf", "antrag.pdf"),
    "pdf_2000_pages": (many_pages_pdf, "too_many_pages", "stapel.pdf"),
    "pdf_page_14400pt": (lambda: square_page_pdf(14_400), "page_too_large", "plan.pdf"),
    "pdf_content_bomb_300mb": (content_bomb_pdf, "content_too_large", "antrag.pdf"),
    "pdf_content_bomb_as_image": (content_bomb_disguised_pdf, "content_too_large", "antrag.pdf"),
    "tiff_500_frames": (multipage_tiff, "too_many_pages", "scan.tiff"),
    "tiff_800_megapixels_in_8_pages": (tiff_of_large_white_pages, "image_too_large", "scan.tiff"),
    "png_claims_100000px": (png_header_claiming, "image_too_large", "scan.png"),
    "tiff_claims_100000px": (tiff_header_claiming, "image_too_large", "scan.tif"),
    "jpeg_claims_65000px": (jpeg_header_claiming, "image_too_large", "foto.jpg"),
    "gif": (gif_image, "unsupported_type", "scan.gif"),
    "svg": (svg_image, "unsupported_type", "formular.svg"),
    "docx": (docx_document, "office_document", "Antrag.docx"),
    "xlsx": (xlsx_document, "office_document", "Tabelle.xlsx"),
    "odt": (odt_document, "office_document", "Antrag.odt"),
    "doc": (legacy_doc, "office_document", "Antrag.doc"),
}

#: odd but valid files: processed; name -> (maker, active content expected on the case)
ODD_VALID_INPUTS = {
    "broken_xref": (broken_xref_pdf, []),
    "javascript": (javascript_pdf, ["javascript"]),
    "javascript_open_action": (lambda: javascript_pdf("open_action"), ["javascript"]),
    "javascript_escaped_names": (escaped_javascript_pdf, ["javascript"]),
    "javascript_owner_encrypted": (owner_encrypted_javascript_pdf, ["javascript"]),
    "embedded_file": (embedded_file_pdf, ["embedded_file"]),
    "pdf_page_5000pt": (lambda: square_page_pdf(5_000), []),
}

#: file names that must be stored safely and shown as given
ODD_FILENAMES = [
    "Antrag Müller Jürgen.pdf",
    "../../etc/passwd.pdf",
    "C:\\Users\\amt\\Gewerbe\\antrag.pdf",
    "Заявление №5 (копия).pdf",
    "a" * 236 + ".pdf",
    "rechnung\u202efdp.exe",
    "zeile\neins\r\nzwei\x00.pdf",
]

#: references refused at intake
BAD_REFERENCES = [
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "/var/lib/formwerk",
    "FV-2026/../../0042",
    "FV-2026-\x00-0042",
    "FV-2026\n0042",
    "FV-2026\u202e2400",
]
