"""Detect a file's real type from its magic bytes (never from its name)."""

from __future__ import annotations

from enum import Enum

from formwerk.errors import EmptyFileError, UnsupportedTypeError


class FileKind(str, Enum):
    PDF = "pdf"
    TIFF = "tiff"
    PNG = "png"
    JPEG = "jpeg"


# What common non-documents look like, so the clerk is told what the file was.
_KNOWN_NON_DOCUMENTS: list[tuple[bytes, str]] = [
    (b"PK\x03\x04", "ein ZIP-Archiv (oder eine Office-Datei)"),
    (b"PK\x05\x06", "ein leeres ZIP-Archiv"),
    (b"Rar!", "ein RAR-Archiv"),
    (b"7z\xbc\xaf\x27\x1c", "ein 7-Zip-Archiv"),
    (b"\x1f\x8b", "ein gzip-Archiv"),
    (b"GIF8", "ein GIF-Bild"),
    (b"\xd0\xcf\x11\xe0", "ein altes Microsoft-Office-Dokument"),
    (b"MZ", "ein Windows-Programm"),
    (b"\x7fELF", "ein Programm"),
    (b"<!DOCTYPE html", "eine Webseite (HTML)"),
    (b"<html", "eine Webseite (HTML)"),
]


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
    for magic, what in _KNOWN_NON_DOCUMENTS:
        if data.startswith(magic):
            raise UnsupportedTypeError(
                f"Die Datei ist {what}, kein Dokument (PDF, TIFF, PNG oder JPEG).",
                detail=f"magic {magic!r}",
            )
    # PDF readers accept the header anywhere in the first KiB (junk before it).
    if b"%PDF-" in head:
        return FileKind.PDF
    if data.strip() == b"":
        raise EmptyFileError("Die Datei enthält nur Leerzeichen und kein Dokument.")
    # not the first bytes themselves: a text file starts with what the applicant wrote
    looks = "text" if all(32 <= c < 127 or c in (9, 10, 13) or c >= 0x80 for c in data[:64]) else "binary"
    raise UnsupportedTypeError(detail=f"unknown signature ({looks}, {len(data)} bytes)")
