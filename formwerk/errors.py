"""One error hierarchy for Formwerk.

Every class knows its machine ``code``, whether retrying can help, and a
sentence a clerk understands (German, since clerks read it). Activities convert
these to ``temporalio.exceptions.ApplicationError`` at their boundary (see
``workflows.activities``); nothing below the activity layer imports temporalio.
"""

from __future__ import annotations


class FormwerkError(Exception):
    code: str = "internal_error"
    retryable: bool = True
    default_message: str = "Bei der Verarbeitung ist ein interner Fehler aufgetreten."

    def __init__(self, message: str | None = None, *, detail: str = "") -> None:
        self.message = message or self.default_message
        self.detail = detail  # technical detail for logs, English
        super().__init__(self.message if not detail else f"{self.message} ({detail})")


class BadInputError(FormwerkError):
    """The file itself is unusable: retrying never helps, the case is rejected."""

    code = "bad_input"
    retryable = False
    default_message = "Die Datei kann nicht verarbeitet werden."


class EmptyFileError(BadInputError):
    code = "empty_file"
    default_message = "Die Datei ist leer (0 Byte)."


class UnsupportedTypeError(BadInputError):
    code = "unsupported_type"
    default_message = (
        "Die Datei ist kein Dokument im Format PDF, TIFF, PNG oder JPEG und wird "
        "daher nicht verarbeitet."
    )


class CorruptFileError(BadInputError):
    code = "corrupt_file"
    default_message = (
        "Die Datei ist beschädigt oder unvollständig und kann nicht gelesen werden. "
        "Bitte fordern Sie eine neue Kopie an."
    )


class EncryptedPdfError(BadInputError):
    code = "encrypted_pdf"
    default_message = (
        "Die PDF-Datei ist verschlüsselt und kann nicht gelesen werden. Bitte "
        "fordern Sie eine Fassung ohne Passwortschutz an."
    )


class ImageTooLargeError(BadInputError):
    code = "image_too_large"
    default_message = (
        "Das Bild ist zu groß, um sicher verarbeitet zu werden (mögliche "
        "Dekompressionsbombe). Bitte scannen Sie das Dokument mit 300 dpi erneut."
    )


class EmptyImageError(BadInputError):
    code = "empty_image"
    default_message = "Das Bild hat keine Bildpunkte (0×0) und enthält kein Dokument."


class TooManyPagesError(BadInputError):
    code = "too_many_pages"
    default_message = (
        "Das Dokument hat zu viele Seiten für einen Antrag. Bitte teilen Sie es auf."
    )


class NoPagesError(BadInputError):
    code = "no_pages"
    default_message = "Das Dokument enthält keine Seiten."


class OcrEngineError(FormwerkError):
    """The OCR engine failed for a reason unrelated to the input (retryable)."""

    code = "ocr_failed"
    retryable = True
    default_message = "Die Texterkennung ist fehlgeschlagen; es wird erneut versucht."


class StorageError(FormwerkError):
    code = "storage_error"
    retryable = True
    default_message = "Der Dokumentenspeicher ist nicht erreichbar."
