"""Activities: everything that does I/O or heavy work for a case.

Engines (OCR, classifier, extractor) and stores are built once in
``worker.py`` and injected here; activities are synchronous and run on the
worker's thread pool (they block on Tesseract, pdfium and the database).
Every write is content-addressed or an upsert, so retries are safe.
``FormwerkError``s are converted to ``ApplicationError`` here, at the boundary:
bad input is non-retryable and ends the case as ``rejected``.
"""

from __future__ import annotations

import functools
import io
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol

from PIL import Image
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from classifiers.splitting import batch_documents
from formwerk import metrics
from formwerk.db import CaseStore
from formwerk.documents.images import load_image_pages
from formwerk.documents.pdf import read_pdf
from formwerk.documents.sniff import FileKind, sniff
from formwerk.documents.upright import deskew, rotate_upright
from formwerk.errors import BadInputError, FormwerkError, UnsupportedTypeError, is_interruption
from formwerk.models import (
    AcroFormValue,
    Classification,
    DetectedPair,
    DocumentContent,
    DocumentSegment,
    Extraction,
    PageContent,
)
from formwerk.ocr import OcrEngine
from formwerk.pagecontent import load_pages
from formwerk.pagerender import page_pixels, png_bytes, render_page
from formwerk.storage import BlobStore, sha256_hex
from workflows.heartbeat import keep_alive
from workflows.messages import (
    ClassifyInput,
    ClassifyOutput,
    ContentRef,
    ExtractInput,
    ExtractOutput,
    OcrPageInput,
    OcrPageOutput,
    PageJob,
    PrepareInput,
    PrepareOutput,
    ReadDocumentInput,
    ReadDocumentOutput,
    RegisterInput,
    RegisterOutput,
    STEP_DETAIL,
    DeliverWebhookInput,
    DeliverWebhookOutput,
    SaveCorrectionsInput,
    SaveResultInput,
)


class Classifier(Protocol):
    version: str

    def classify(self, content: DocumentContent) -> Classification: ...


class Extractor(Protocol):
    version: str

    def extract(
        self,
        form_id: str,
        content: DocumentContent,
        page_image: Callable[[int], Image.Image | None],
    ) -> Extraction: ...


@dataclass
class ActivityOptions:
    dpi: int = 300
    max_pages: int = 50
    max_image_pixels: int = 200_000_000
    max_file_bytes: int = 200 * 1024 * 1024
    split_min_confidence: float = 0.9
    kv_model: str | None = None  # the pairing artefact of unknown pages (None: extractors.kv_pairing's default)

    @classmethod
    def from_settings(cls, settings) -> "ActivityOptions":
        """The limits of ``formwerk.settings.Settings`` (``FORMWERK_*``)."""
        return cls(dpi=settings.render_dpi, max_pages=settings.max_pages,
                   max_image_pixels=settings.max_image_pixels, max_file_bytes=settings.max_file_bytes,
                   kv_model=settings.kv_model)


def boundary(fn):
    """Convert Formwerk errors into ApplicationErrors carrying code and message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FormwerkError as exc:
            if is_interruption(exc.__cause__):
                # Temporal raises its cancellation inside the activity's thread, wherever it is;
                # the guards around pdfium and PIL wrap it as a verdict on the file. It is an
                # interruption: passed on, retried, never a rejection.
                raise exc.__cause__ from None
            activity.logger.warning("%s: %s (%s)", exc.code, exc.message, exc.detail)
            # a file we refuse is an expected outcome, not a worker fault: the SDK
            # then logs it at debug level instead of a traceback on stderr
            expected = isinstance(exc, BadInputError)
            step = getattr(exc, "step", None)  # set by read_document: which of its steps failed
            raise ApplicationError(
                exc.message, exc.code, *([{STEP_DETAIL: step}] if step else []), type=exc.code,
                non_retryable=not exc.retryable,
                category=ApplicationErrorCategory.BENIGN if expected else ApplicationErrorCategory.UNSPECIFIED,
            ) from exc

    return wrapper


def _in_step(exc: Exception, step: str) -> ApplicationError:
    """The error of one of ``read_document``'s steps, marked with the step: the case's failure
    reason names the step a clerk recognises ("Lesen der Seiten"), not the combined activity.
    The message of an unforeseen error is not repeated (it may quote the document)."""
    if isinstance(exc, ApplicationError):  # a step's own boundary converted it already
        return ApplicationError(exc.message, *exc.details, {STEP_DETAIL: step}, type=exc.type,
                                non_retryable=exc.non_retryable, next_retry_delay=exc.next_retry_delay,
                                category=exc.category)
    return ApplicationError(f"{type(exc).__name__} in {step}", {STEP_DETAIL: step}, type=type(exc).__name__)


def _ms(start: float) -> int:
    return int((time.perf_counter() - start) * 1000)


def _quality(words) -> float:
    """Confident characters read: high for an upright page, low for a turned one."""
    return sum(len(w.text) * w.confidence for w in words if w.confidence >= 0.6)


def _reads_badly(words) -> bool:
    if not words:
        return False  # blank page: nothing to turn
    confident = [w for w in words if w.confidence >= 0.6 and len(w.text) >= 3]
    # Tesseract also reads a page on its side, line by line, with boxes taller
    # than wide: the text is fine but the geometry the extractor needs is not.
    long_words = [w for w in words if len(w.text) >= 4]
    upright = sum(1 for w in long_words if (w.bbox[2] - w.bbox[0]) > (w.bbox[3] - w.bbox[1]))
    sideways = len(long_words) >= 5 and upright < 0.5 * len(long_words)
    return sideways or len(confident) < 0.5 * len(words) or len(confident) < 8


class CaseActivities:
    def __init__(
        self,
        blobs: BlobStore,
        cases: CaseStore,
        ocr: OcrEngine,
        classifier: Classifier,
        extractor: Extractor,
        known_types: set[str],
        options: ActivityOptions | None = None,
    ) -> None:
        self.blobs = blobs
        self.cases = cases
        self.ocr = ocr
        self.classifier = classifier
        self.extractor = extractor
        self.known_types = known_types
        self.options = options or ActivityOptions()

    # -- helpers -----------------------------------------------------------

    def _put_json(self, obj: Any) -> str:
        return self.blobs.put(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode("utf-8"))

    def _load_content(self, ref: ContentRef, words: bool = True) -> DocumentContent:
        """The document's pages and form values; ``words``: also the deferred words of a filled
        form's text layer (read from the original now)."""
        pages = load_pages(self.blobs, ref.content_keys, words=words)
        acro: list[AcroFormValue] = []
        if ref.acroform_key:
            acro = [AcroFormValue.model_validate(v) for v in json.loads(self.blobs.get(ref.acroform_key))]
        return DocumentContent(pages=pages, acroform=acro)

    # -- activities --------------------------------------------------------

    @activity.defn(name="register_original")
    @boundary
    def register_original(self, inp: RegisterInput) -> RegisterOutput:
        """Check the stored original is intact (its key is its SHA-256)."""
        return self._register(inp, self.blobs.get(inp.blob_key))

    @staticmethod
    def _register(inp: RegisterInput, data: bytes) -> RegisterOutput:
        digest = sha256_hex(data)
        if inp.blob_key != f"sha256:{digest}":
            raise FormwerkError(detail=f"blob {inp.blob_key} does not match its content")
        return RegisterOutput(sha256=digest, size_bytes=len(data))

    @activity.defn(name="prepare_document")
    @boundary
    @keep_alive()
    def prepare_document(self, inp: PrepareInput) -> PrepareOutput:
        """Sniff, split into pages, read text layer and AcroForm; no PDF page is rendered.

        A page with a text layer is read from the PDF and needs no pixels; a
        scanned PDF page is rendered by the OCR activity that reads it, on an
        OCR slot, so rendering runs in parallel and no image travels through
        the blob store twice. Pages of image files are decoded here once.
        """
        return self._prepare(inp, self.blobs.get(inp.blob_key))

    def _prepare(self, inp: PrepareInput, data: bytes) -> PrepareOutput:
        start = time.perf_counter()
        opts = self.options
        if len(data) > opts.max_file_bytes:
            raise UnsupportedTypeError(
                f"Die Datei ist mit {len(data) // (1024 * 1024)} MB zu groß "
                f"(höchstens {opts.max_file_bytes // (1024 * 1024)} MB).",
                detail="file too large",
            )
        kind = sniff(data)
        done: list[PageJob] = []
        details = activity.info().heartbeat_details
        if details:  # resume after a retry: pages already decoded are in the store
            done = [PageJob.model_validate(d) for d in details[0]]
        acroform_key = None
        if kind == FileKind.PDF:
            # the text layer is counted or read only on the pages asked for: the others are skipped below
            info = read_pdf(data, opts.dpi, opts.max_pages, defer_words_of_filled_form=True,
                            text_pages=None if inp.pages is None else set(inp.pages))
            if info.has_filled_form:
                acroform_key = self._put_json([v.model_dump() for v in info.acroform])
            done = []
            for page in info.pages:
                number = page.index + 1
                if inp.pages is not None and number not in inp.pages:
                    continue
                job = PageJob(page=number, dpi=opts.dpi, needs_ocr=not page.has_text_layer,
                              source_key=inp.blob_key)
                if page.has_text_layer:
                    content = PageContent(
                        page=number, width=page.width_px, height=page.height_px, dpi=opts.dpi,
                        source="text_layer", words=page.words, source_key=inp.blob_key,
                        words_deferred=page.words_deferred,
                    )
                    job.content_key = self.blobs.put(content.model_dump_json().encode("utf-8"))
                done.append(job)
        else:
            pages = load_image_pages(data, kind, opts.max_image_pixels, opts.max_pages)
            numbered = [(i, pg) for i, pg in enumerate(pages, start=1)
                        if inp.pages is None or i in inp.pages]
            for i, (image, dpi) in numbered[len(done):]:
                done.append(PageJob(page=i, image_key=self.blobs.put(png_bytes(image)), dpi=dpi))
                activity.heartbeat([j.model_dump() for j in done])
        return PrepareOutput(kind=kind.value, pages=done, acroform_key=acroform_key,
                             duration_ms=_ms(start))

    @activity.defn(name="read_document")
    @boundary
    def read_document(self, inp: ReadDocumentInput) -> ReadDocumentOutput:
        """Register and prepare a PDF and, when none of its pages needs OCR, classify and extract it.

        A filled or digital form needs no OCR: as four local activities its steps cost a
        workflow activation, two payload conversions and a marker in the history each, more
        than the steps themselves. Here they run on one read of the original. A PDF with pages
        to OCR returns after ``prepared``; the workflow reads its pages and goes on step by step.
        """
        step = "register_original"
        try:
            data = self.blobs.get(inp.original.blob_key)
            registered = self._register(inp.original, data)
            step = "prepare_document"
            out = ReadDocumentOutput(registered=registered, prepared=self._prepare(inp.prepare, data))
            if any(p.needs_ocr for p in out.prepared.pages):
                return out
            content = ContentRef(content_keys=[p.content_key for p in out.prepared.pages],
                                 acroform_key=out.prepared.acroform_key)
            step = "classify_document"
            out.classified = self.classify_document(ClassifyInput(content=content, split=inp.split))
            if out.classified.segments:
                return out
            step = "extract_fields"
            out.extracted = self.extract_fields(ExtractInput(
                document_type=out.classified.classification.document_type, content=content,
                case_id=inp.original.case_id, parent_case_id=inp.parent_case_id))
            return out
        except FormwerkError as exc:
            exc.step = step  # boundary converts it, naming the step
            raise
        except Exception as exc:  # noqa: BLE001 - marked with its step and raised again
            if is_interruption(exc):
                raise  # a cancellation is retried, never a failure of the step
            raise _in_step(exc, step) from exc

    def _page_pixels(self, inp: OcrPageInput) -> Image.Image:
        if inp.image_key:  # an image file's page, or a history from before pages were rendered here
            image = Image.open(io.BytesIO(self.blobs.get(inp.image_key)))
            image.load()
            return image
        if not inp.source_key:
            raise FormwerkError(detail=f"page {inp.page}: neither an image nor an original to render")
        return render_page(self.blobs.get(inp.source_key), inp.page, inp.dpi,
                           self.options.max_image_pixels)

    @activity.defn(name="ocr_page")
    @boundary
    @keep_alive()
    def ocr_page(self, inp: OcrPageInput) -> OcrPageOutput:
        """Render or decode, deskew and OCR one page (one Tesseract thread); turn it if it reads badly."""
        start = time.perf_counter()
        image = self._page_pixels(inp)
        rendered_ms = _ms(start)
        image, skew = deskew(image)
        activity.heartbeat("ocr")
        words = self.ocr.recognise(image, inp.page)
        rotation = 0
        # Most pages arrive upright, so orientation detection (≈ 0.5 s) runs
        # only when the first reading looks like a page on its side or upside down.
        if _reads_badly(words):
            activity.heartbeat("orientation")
            detected = self.ocr.detect_rotation(image)
            # OSD can be unsure on noisy scans; upside down is then the most
            # likely way a page that reads badly went through the scanner
            for candidate in dict.fromkeys([detected or 180, 180]):
                turned, skew2 = deskew(rotate_upright(image, candidate))
                activity.heartbeat(f"ocr-rotated-{candidate}")
                turned_words = self.ocr.recognise(turned, inp.page)
                fixed = _reads_badly(words) and not _reads_badly(turned_words)
                if fixed or _quality(turned_words) > _quality(words):
                    image, words, skew, rotation = turned, turned_words, skew2, candidate
                if not _reads_badly(words):
                    break
        # the extractor and the clerk see the page as it was read: upright. A scanned PDF
        # page that needed no turning is not stored (PNG encoding cost a fifth of its
        # recognition): it is rendered again from the original and levelled by `skew`
        # (formwerk.pagerender.page_pixels); a turned page or an image file's levelled page is.
        if rotation or (inp.image_key and skew) or not (inp.image_key or inp.source_key):
            upright_key = self.blobs.put(png_bytes(image))
        else:
            upright_key = inp.image_key
        content = PageContent(
            page=inp.page, width=image.width, height=image.height, dpi=inp.dpi,
            source="ocr" if words else "empty", words=words, image_key=upright_key,
            source_key=inp.source_key, rotation_applied=rotation, skew_corrected=skew,
            ocr_ms=_ms(start),
        )
        key = self.blobs.put(content.model_dump_json().encode("utf-8"))
        metrics.OCR_PAGE_SECONDS.observe(time.perf_counter() - start)
        activity.logger.debug("page %d: pixels %d ms, all %d ms", inp.page, rendered_ms, _ms(start))
        return OcrPageOutput(page=inp.page, content_key=key, duration_ms=_ms(start))

    @activity.defn(name="classify_document")
    @boundary
    def classify_document(self, inp: ClassifyInput) -> ClassifyOutput:
        start = time.perf_counter()
        # a filled form is told by its fields: its pages' words are read only if they are not enough
        content = self._load_content(inp.content, words=False)
        result = self.classifier.classify(content)
        if not result.by_form_fields and any(p.words_deferred for p in content.pages):
            content = self._load_content(inp.content)
            result = self.classifier.classify(content)
        segments: list[DocumentSegment] = []
        splitter = getattr(self.classifier, "split_batch", None)
        # a filled form's own PDF is one document: no page-by-page encoder pass for a batch split
        if inp.split and splitter is not None and len(content.pages) > 1 and not result.by_form_fields:
            docs = batch_documents(splitter(content.pages), self.options.split_min_confidence)
            numbers = [p.page for p in content.pages]
            segments = [
                DocumentSegment(start=numbers[r.start - 1], end=numbers[r.end - 1],
                                document_type=r.document_type, confidence=r.confidence)
                for r in docs
            ]
        metrics.CLASSIFY_SECONDS.observe(time.perf_counter() - start)
        return ClassifyOutput(classification=result, segments=segments, duration_ms=_ms(start))

    @activity.defn(name="extract_fields")
    @boundary
    def extract_fields(self, inp: ExtractInput) -> ExtractOutput:
        start = time.perf_counter()
        if inp.document_type not in self.known_types:
            # no form template: question -> answer pairs for the clerk to read, and the case a letter cites
            pairs = self._unknown_pairs(inp.content)
            link = self._letter_link(inp)
            return ExtractOutput(extraction=None, pairs=pairs, duration_ms=_ms(start),
                                 linked_case_id=link.case_id if link else None,
                                 linked_reference=link.candidate.value if link else None)
        content = self._load_content(inp.content, words=False)
        by_number = {p.page: p for p in content.pages}
        cache: dict[int, Image.Image | None] = {}

        def page_image(page: int) -> Image.Image | None:
            # rendered only when a reader asks (ticks on a flattened form):
            # a filled AcroForm is read from its fields and never rendered
            if page not in cache:
                p = by_number.get(page)
                if p is None:
                    cache[page] = None
                else:
                    cache[page] = page_pixels(self.blobs, p.image_key, p.source_key, page, p.dpi,
                                              p.skew_corrected, self.options.max_image_pixels)
            return cache[page]

        extraction = self.extractor.extract(inp.document_type, content, page_image)
        if any(p.words_deferred for p in content.pages) and any(
                f.source != "acroform" for f in extraction.fields.values()):
            # a field the form's own fields do not hold is read from the page: with its words
            content = self._load_content(inp.content)
            by_number = {p.page: p for p in content.pages}
            extraction = self.extractor.extract(inp.document_type, content, page_image)
        metrics.EXTRACT_SECONDS.observe(time.perf_counter() - start)
        return ExtractOutput(extraction=extraction, duration_ms=_ms(start))

    def _unknown_pairs(self, ref: ContentRef) -> list[DetectedPair]:
        """The pairing of ``extractors.kv_pairing`` on the document's page words.

        A courtesy to the clerk: whatever goes wrong, the case goes on without
        pairs (logged at debug, the error's class only: no values).
        """
        start = time.perf_counter()
        try:
            from extractors.kv_pairing import detect_pairs, load_models

            pages = self._load_content(ref).pages
            pairs = detect_pairs(pages, load_models(self.options.kv_model))
        except Exception as exc:  # noqa: BLE001
            if is_interruption(exc):
                raise  # a cancellation is retried, never swallowed
            activity.logger.debug("unknown type: no pairs (%s)", type(exc).__name__)
            return []
        activity.logger.debug("unknown type: %d pairs on %d page(s) in %d ms", len(pairs), len(pages), _ms(start))
        return pairs

    def _letter_link(self, inp: ExtractInput):
        """The one other stored case the document cites by its reference (``extractors.letters``), or None.

        Like the pairs, a courtesy: a reading or lookup error links nothing and
        never fails the case (logged at debug, the error's class only).
        """
        try:
            from extractors.letters import link_candidates, read_letter

            found = read_letter(self._load_content(inp.content).pages).references
            own = inp.case_id or activity.info().workflow_id
            link = link_candidates(found, self.cases.cases_citing, exclude=[own, inp.parent_case_id or ""])
        except Exception as exc:  # noqa: BLE001
            if is_interruption(exc):
                raise
            activity.logger.debug("unknown type: no case link (%s)", type(exc).__name__)
            return None
        activity.logger.debug("unknown type: %d candidate reference(s), %s", len(found),
                              "linked" if link else "not linked")
        return link

    @activity.defn(name="save_result")
    @boundary
    def save_result(self, inp: SaveResultInput) -> None:
        # metrics count status transitions: a retry finds the new status stored and counts nothing
        previous = self.cases.status_of(inp.result.case_id)
        if self.cases.save_result(inp.result):
            metrics.case_saved(previous, inp.result)

    @activity.defn(name="save_corrections")
    @boundary
    def save_corrections(self, inp: SaveCorrectionsInput) -> None:
        self.cases.save_corrections(inp.case_id, inp.corrections)

    @activity.defn(name="deliver_webhook")
    async def deliver_webhook(self, inp: DeliverWebhookInput) -> DeliverWebhookOutput:
        """One signed POST to the subscriber; Temporal's retry policy does the backoff.

        Every attempt is recorded (time, status code or error, duration). A 2xx
        is delivered; a 4xx other than 408/429 is final (non-retryable); anything
        else raises, and the next attempt follows the workflow's retry policy (a
        ``Retry-After`` of the receiver is honoured up to the policy's maximum).
        """
        import asyncio

        from formwerk import webhooks

        info = activity.info()
        attempt = inp.attempts_before + info.attempt
        subs = webhooks.SubscriberStore(self.cases.engine)
        attempts = webhooks.AttemptStore(self.cases.engine)
        target = inp.target
        sub = await asyncio.to_thread(subs.get, target.subscriber)

        def record(outcome: "webhooks.AttemptOutcome", result: str):
            return asyncio.to_thread(attempts.record, case_id=inp.case_id, webhook_id=inp.webhook_id,
                                     attempt=attempt, event=inp.event, url=target.url,
                                     outcome=outcome, result=result)

        if sub is None:
            outcome = webhooks.AttemptOutcome(None, f"subscriber {target.subscriber!r} not configured", 0)
            await record(outcome, "failed")
            raise ApplicationError(outcome.error, type="webhook_unconfigured", non_retryable=True)
        body = webhooks.message_body(inp.event, inp.result, inp.created_at, target.api_base_url)
        now = datetime.now(timezone.utc)
        headers = webhooks.signed_headers(sub.signing_secrets(now), inp.webhook_id, body, now)
        outcome = await asyncio.to_thread(webhooks.post, target.url, headers, body, target.timeout_seconds)
        if outcome.delivered:
            await record(outcome, "delivered")
            return DeliverWebhookOutput(status_code=outcome.status_code, attempt=attempt,
                                        duration_ms=outcome.duration_ms)
        what = f"HTTP {outcome.status_code}" if outcome.status_code else outcome.error
        if outcome.permanent:
            await record(outcome, "failed")
            raise ApplicationError(f"webhook refused: {what}", outcome.status_code,
                                   type="webhook_refused", non_retryable=True)
        await record(outcome, "retry")
        delay = None
        if outcome.retry_after_s is not None:
            delay = timedelta(seconds=min(outcome.retry_after_s, target.retry_max_seconds))
        raise ApplicationError(f"webhook not delivered: {what}", outcome.status_code,
                               type="webhook_retry", next_retry_delay=delay)

    def all(self) -> list:
        return [
            self.register_original, self.prepare_document, self.read_document, self.classify_document,
            self.extract_fields, self.save_result, self.save_corrections, self.deliver_webhook,
        ]
