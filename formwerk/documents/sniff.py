"""Detect a file's real type from its magic bytes (never from its name)."""

from __future__ import annotations

import io
import re
import zipfile
from enum import Enum

from formwerk.errors import BadInputError, EmptyFileError, OfficeDocumentError, UnsupportedTypeError


class FileKind(str, Enum):
    PDF = "pdf"
    TIFF = "tiff"
    PNG = "png"
    JPEG = "jpeg"


_ACCEPTED = "(PDF, TIFF, PNG oder JPEG)"

# What common non-documents look like, so the clerk is told what the file was.
_KNOWN_NON_DOCUMENTS: list[tuple[bytes, str]] = [
    (b"PK\x05\x06", "ein leeres ZIP-Archiv"),
    (b"Rar!", "ein RAR-Archiv"),
    (b"7z\xbc\xaf\x27\x1c", "ein 7-Zip-Archiv"),
    (b"\x1f\x8b", "ein gzip-Archiv"),
    (b"MZ", "ein Windows-Programm"),
    (b"\x7fELF", "ein Programm"),
    (b"<!DOCTYPE html", "eine Webseite (HTML)"),
    (b"<html", "eine Webseite (HTML)"),
]

# Office formats: OOXML and OpenDocument are ZIPs told apart by their members,
# the old binary formats share one OLE signature.
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML_PARTS = {"word/": "ein Word-Dokument (DOCX)", "xl/": "eine Excel-Tabelle (XLSX)",
                "ppt/": "eine PowerPoint-Präsentation (PPTX)"}
_ODF_TYPES = {"text": "ein OpenDocument-Text (ODT)", "spreadsheet": "eine OpenDocument-Tabelle (ODS)",
              "presentation": "eine OpenDocument-Präsentation (ODP)"}
_SVG = re.compile(rb"<svg[\s>]", re.IGNORECASE)


def _office(what: str) -> OfficeDocumentError:
    return OfficeDocumentError(
        f"Die Datei ist {what}. Bitte senden Sie das Dokument als PDF "
        "(in Word oder LibreOffice: „Exportieren als PDF“).",
        detail=f"office document: {what}",
    )


def _zip_kind(data: bytes) -> BadInputError:
    """The error for a ZIP: an office document by its members, else an archive.

    Only the central directory is read (``namelist``); nothing is decompressed,
    so a ZIP bomb costs nothing here.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()[:10_000]
            if "mimetype" in names and data[30:38] == b"mimetype":
                # ODF stores its media type uncompressed as the first member
                mime = data[38:38 + 80].split(b"PK", 1)[0].decode("ascii", "replace")
                for part, what in _ODF_TYPES.items():
                    if f"opendocument.{part}" in mime:
                        return _office(what)
                return _office("ein OpenDocument-Dokument")
            if "[Content_Types].xml" in names:
                for prefix, what in _OOXML_PARTS.items():
                    if any(n.startswith(prefix) for n in names):
                        return _office(what)
                return _office("ein Office-Dokument")
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError):
        pass
    return UnsupportedTypeError(f"Die Datei ist ein ZIP-Archiv, kein Dokument {_ACCEPTED}.",
                                detail="magic b'PK\\x03\\x04'")


def sniff(data: bytes) -> FileKind:
    """Return the document kind, or raise a BadInputError saying what it is."""
    if not data:
        raise EmptyFileError()
    head = data[:1024]
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind.PNG
    if data.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if data.startswith(b"II*\x00") or data.startswith(b"MM\x00*"):
        return FileKind.TIFF
    # Known non-documents first: a ZIP holding a PDF shows "%PDF-" early too.
    if data.startswith(b"PK\x03\x04"):
        raise _zip_kind(data)
    if data.startswith(_OLE):
        raise _office("ein Dokument im alten Microsoft-Office-Format (DOC, XLS oder PPT)")
    if data.startswith(b"{\\rtf"):
        raise _office("ein RTF-Textdokument")
    if data.startswith(b"GIF8"):
        raise UnsupportedTypeError(
            "Die Datei ist ein GIF-Bild. GIF wird für Anträge nicht angenommen; bitte senden "
            "Sie das Dokument als PDF oder scannen Sie es als TIFF, PNG oder JPEG.",
            detail="magic b'GIF8'",
        )
    for magic, what in _KNOWN_NON_DOCUMENTS:
        if data.startswith(magic):
            raise UnsupportedTypeError(
                f"Die Datei ist {what}, kein Dokument {_ACCEPTED}.",
                detail=f"magic {magic!r}",
            )
    # PDF readers accept the header anywhere in the first KiB (junk before it).
    if b"%PDF-" in head:
        return FileKind.PDF
    if _SVG.search(head.lstrip(b"\xef\xbb\xbf")):
        raise UnsupportedTypeError(
            "Die Datei ist eine Vektorgrafik (SVG), kein Dokument. Bitte senden Sie das "
            "Dokument als PDF.",
            detail="svg",
        )
    if data.strip() == b"":
        raise EmptyFileError("Die Datei enthält nur Leerzeichen und kein Dokument.")
    # not the first bytes themselves: a text file starts with what the applicant wrote
    looks = "text" if all(32 <= c < 127 or c in (9, 10, 13) or c >= 0x80 for c in data[:64]) else "binary"
    raise UnsupportedTypeError(detail=f"unknown signature ({looks}, {len(data)} bytes)")
