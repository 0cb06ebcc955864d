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


class UnreadablePdfError(BadInputError):
    """Starts like a PDF but holds no PDF structure (random bytes, another format renamed)."""

    code = "unreadable_pdf"
    default_message = (
        "Die Datei gibt sich als PDF aus, enthält aber kein lesbares PDF-Dokument. "
        "Bitte fordern Sie die Datei erneut an."
    )


class OfficeDocumentError(BadInputError):
    code = "office_document"
    default_message = (
        "Die Datei ist ein Office-Dokument. Bitte senden Sie es als PDF "
        "(in Word oder LibreOffice: „Exportieren als PDF“)."
    )


class PageTooLargeError(BadInputError):
    """A PDF page so large in points that even at the lowest resolution it would not fit the pixel limit."""

    code = "page_too_large"
    default_message = (
        "Eine Seite des Dokuments ist zu groß, um sicher gelesen zu werden. "
        "Bitte senden Sie das Dokument in einem üblichen Papierformat (z. B. DIN A4)."
    )


class DocumentTooComplexError(BadInputError):
    """Reading the file took longer than its time budget (pathological structure)."""

    code = "too_complex"
    default_message = (
        "Die Datei ist so aufwendig aufgebaut, dass sie nicht in der vorgesehenen Zeit "
        "gelesen werden konnte. Bitte senden Sie sie als einfaches PDF oder als Scan erneut."
    )


class ContentTooLargeError(BadInputError):
    """A PDF's compressed streams unpack to more than the limit (a decompression bomb)."""

    code = "content_too_large"
    default_message = (
        "Die PDF-Datei enthält Inhalte, die entpackt zu groß wären, um sicher gelesen zu werden "
        "(mögliche Dekompressionsbombe). Bitte fordern Sie die Datei als einfaches PDF oder als Scan an."
    )


class InvalidReferenceError(BadInputError):
    """The caller's reference (Aktenzeichen) cannot name a case; refused at intake."""

    code = "invalid_reference"
    default_message = (
        "Das Aktenzeichen ist unzulässig. Bitte verwenden Sie Buchstaben, Ziffern, "
        "Bindestriche, Punkte und Schrägstriche."
    )


class OcrEngineError(FormwerkError):
    """The OCR engine failed for a reason unrelated to the input (retryable)."""

    code = "ocr_failed"
    retryable = True
    default_message = "Die Texterkennung ist fehlgeschlagen; es wird erneut versucht."


class OcrModelMissing(OcrEngineError):
    """A Tesseract language model asked for is not installed (an extra read's model:
    the read is skipped, the engine is not at fault)."""

    code = "ocr_model_missing"
    retryable = False


class StorageError(FormwerkError):
    code = "storage_error"
    retryable = True
    default_message = "Der Dokumentenspeicher ist nicht erreichbar."


def is_interruption(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is the worker interrupting the read, not the file.

    Temporal delivers an activity's cancellation (heartbeat timeout, worker
    shutdown, a cancel request) by raising ``temporalio.exceptions.CancelledError``
    inside the activity's thread, wherever it is: in the middle of pdfium or
    PIL. The broad ``except Exception`` around those libraries must not turn
    it into a verdict on the file ("corrupt"), or a valid scan is rejected
    for good instead of being retried.
    """
    try:
        from temporalio.exceptions import CancelledError as TemporalCancelled
    except ImportError:  # pragma: no cover - the worker always has the SDK
        TemporalCancelled = ()  # type: ignore[assignment]
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, TemporalCancelled) or type(exc).__name__ == "CancelledError":
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
