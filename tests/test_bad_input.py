"""Hostile and odd input (issue 14, "Bad input").

Every such file ends as a rejection with a German reason that says what is
wrong, or is processed when it is a valid document (active content reported);
limits are checked before memory is spent. Unit tests per kind on the page
layer and intake, then one run through the real stack: a real Temporal dev
server, the project's workers with real activities and real Tesseract, the
hostile files in sequence and a valid PDF after them.
"""

from __future__ import annotations

import re

import pytest

from formwerk.documents import pdf as pdfmod
from formwerk.documents.images import load_image_pages
from formwerk.documents.pdf import (
    DEFAULT_MAX_PAGE_PIXELS,
    check_page_pixels,
    find_active_content,
    read_pdf,
    render_pdf_page,
)
from formwerk.documents.sniff import FileKind, sniff
from formwerk.errors import (
    BadInputError,
    CorruptFileError,
    DocumentTooComplexError,
    InvalidReferenceError,
    PageTooLargeError,
)
from formwerk.intake import (
    MAX_STORAGE_NAME_CHARS,
    check_reference,
    display_filename,
    storage_filename,
)
from tests import badfiles


def _read(data: bytes):
    """The worker's reading path: sniff, then the PDF or image reader with the default limits."""
    kind = sniff(data)
    if kind == FileKind.PDF:
        return read_pdf(data, 300, 50)
    return load_image_pages(data, kind, 200_000_000, 50)


def _german_sentence(message: str) -> bool:
    return message.endswith(".") and len(message) > 30 and re.search(r"\b(die|das|der|bitte)\b", message, re.I)


@pytest.mark.parametrize("name", sorted(badfiles.HOSTILE_INPUTS))
def test_hostile_file_is_rejected_with_its_reason(name):
    make, code, _ = badfiles.HOSTILE_INPUTS[name]
    with pytest.raises(BadInputError) as info:
        _read(make())
    assert info.value.code == code
    assert not info.value.retryable
    assert _german_sentence(info.value.message), info.value.message


@pytest.mark.parametrize("eof", [False, True])
def test_random_bytes_behind_a_pdf_header_are_not_called_cut_off(eof):
    with pytest.raises(BadInputError) as info:
        _read(badfiles.random_bytes_pdf(eof=eof))
    assert info.value.code == "unreadable_pdf"
    assert "kein lesbares PDF" in info.value.message and "abgeschnitten" not in info.value.message
    # a PDF that really was cut off still says so
    with pytest.raises(BadInputError) as cut:
        _read(badfiles.truncated_pdf())
    assert "abgeschnitten" in cut.value.message


def test_reasons_name_what_is_wrong():
    def reason(data):
        with pytest.raises(BadInputError) as info:
            _read(data)
        return info.value.message

    assert "2000 Seiten" in reason(badfiles.many_pages_pdf()) and "höchstens 50" in reason(badfiles.many_pages_pdf())
    assert "500 Seiten" in reason(badfiles.multipage_tiff())
    assert "508 × 508 cm" in reason(badfiles.square_page_pdf(14_400))
    assert "100000 × 100000" in reason(badfiles.png_header_claiming())
    assert "Word-Dokument" in reason(badfiles.docx_document()) and "als PDF" in reason(badfiles.docx_document())
    assert "Excel" in reason(badfiles.xlsx_document())
    assert "OpenDocument-Text" in reason(badfiles.odt_document())
    assert "GIF" in reason(badfiles.gif_image())
    assert "SVG" in reason(badfiles.svg_image())
    # a ZIP that is not an office document stays an archive
    assert "ZIP-Archiv" in reason(badfiles.zip_named_pdf())


@pytest.mark.parametrize("name", sorted(badfiles.ODD_VALID_INPUTS))
def test_odd_but_valid_pdf_is_processed_and_its_active_content_reported(name):
    make, active = badfiles.ODD_VALID_INPUTS[name]
    data = make()
    info = read_pdf(data, 300, 50)
    assert [p.has_text_layer for p in info.pages] == [True]
    assert info.active_content == active
    assert len(info.notes) == len(active)
    assert all(_german_sentence(n) for n in info.notes)
    image = render_pdf_page(data, 0, 300)
    assert image.width * image.height <= DEFAULT_MAX_PAGE_PIXELS
    assert image.convert("L").getextrema()[0] < 128  # ink: the page was really read


def test_broken_xref_pdf_really_is_broken_and_repaired():
    data = badfiles.broken_xref_pdf()
    assert b"startxref\n123\n" in data  # points into the middle of the first object
    words = [w.text for w in read_pdf(data, 300, 50).pages[0].words]
    assert "Gewerbe-Anmeldung" in words


def test_active_content_outside_the_name_tree_is_found():
    # pdfium counts only name-tree scripts; the open action is found by the scan
    assert find_active_content(badfiles.javascript_pdf("open_action")) == ["javascript"]
    assert find_active_content(badfiles.escaped_javascript_pdf()) == ["javascript"]
    assert find_active_content(badfiles.owner_encrypted_javascript_pdf()) == ["javascript"]  # walked by pypdf
    assert find_active_content(badfiles.embedded_file_pdf()) == ["embedded_file"]
    assert find_active_content(badfiles.simple_pdf()) == []


def test_page_pixels_are_checked_and_dpi_reduced_to_a_floor():
    assert check_page_pixels(595, 842, 300) == 300  # A4 fits as asked
    dpi = check_page_pixels(5000, 5000, 300, 200_000_000, 150)
    assert 150 <= dpi < 300
    assert (5000 * dpi / 72 + 1) ** 2 <= 200_000_000
    with pytest.raises(PageTooLargeError):
        check_page_pixels(14_400, 14_400, 300, 200_000_000, 150)
    # the floor is a setting: allowing 50 dpi makes the same page fit
    assert check_page_pixels(14_400, 14_400, 300, 200_000_000, 50) < 150
    with pytest.raises(CorruptFileError):
        check_page_pixels(0, 842, 300)
    with pytest.raises(CorruptFileError):
        check_page_pixels(float("nan"), 842, 300)


def test_huge_page_is_rejected_before_anything_is_rendered(monkeypatch):
    calls = []
    real = pdfmod.pdfium.PdfPage.render
    monkeypatch.setattr(pdfmod.pdfium.PdfPage, "render", lambda self, *a, **k: calls.append(k) or real(self, *a, **k))
    with pytest.raises(PageTooLargeError):
        render_pdf_page(badfiles.square_page_pdf(14_400), 0, 300)
    assert calls == []
    image = render_pdf_page(badfiles.square_page_pdf(5_000), 0, 300)
    [kwargs] = calls
    assert kwargs["grayscale"] is True  # a page this large is rendered in grey (a seventh of the memory)
    assert image.mode == "L" and image.info["dpi"][0] < 300
    assert image.width * image.height <= DEFAULT_MAX_PAGE_PIXELS


def test_reduced_dpi_is_the_same_in_reading_and_rendering():
    data = badfiles.square_page_pdf(5_000)
    page = read_pdf(data, 300, 50).pages[0]
    image = render_pdf_page(data, 0, 300)
    assert page.dpi == image.info["dpi"][0] < 300
    assert abs(page.width_px - image.width) <= 1
    # the words are in the pixels of that rendering
    assert all(0 <= w.bbox[2] <= image.width for w in page.words)


def test_page_limit_is_a_setting():
    with pytest.raises(BadInputError) as info:
        read_pdf(badfiles.many_pages_pdf(60), 300, 50)
    assert info.value.code == "too_many_pages"
    assert len(read_pdf(badfiles.many_pages_pdf(60), 300, 60).pages) == 60


def test_content_stream_bomb_is_refused_before_pdfium_opens_it(monkeypatch):
    opened = []
    real = pdfmod.pdfium.PdfDocument
    monkeypatch.setattr(pdfmod.pdfium, "PdfDocument", lambda *a, **k: opened.append(1) or real(*a, **k))
    data = badfiles.content_bomb_pdf(300)
    assert len(data) < 1_000_000  # 300 MB unpacked
    with pytest.raises(BadInputError) as info:
        read_pdf(data, 300, 50)
    assert info.value.code == "content_too_large" and opened == []
    # the bound is a setting: below it the same kind of file is read
    assert read_pdf(badfiles.content_bomb_pdf(5), 300, 50, max_stream_bytes=10 * 1024 * 1024).pages


def test_all_pages_of_an_image_file_together_are_bounded_before_decoding():
    data = badfiles.tiff_of_large_white_pages(frames=3, side=3000)
    with pytest.raises(BadInputError) as info:
        load_image_pages(data, FileKind.TIFF, 200_000_000, 50, max_total_pixels=20_000_000)
    assert info.value.code == "image_too_large" and "zusammen mit 27 Megapixeln" in info.value.message
    assert len(load_image_pages(data, FileKind.TIFF, 200_000_000, 50)) == 3


def test_reading_stops_at_its_time_budget():
    with pytest.raises(DocumentTooComplexError) as info:
        read_pdf(badfiles.simple_pdf(), 300, 50, max_seconds=0.0)
    assert info.value.code == "too_complex" and _german_sentence(info.value.message)
    assert read_pdf(badfiles.simple_pdf(), 300, 50, max_seconds=None).pages


def test_missing_page_is_a_clear_rejection():
    with pytest.raises(BadInputError) as info:
        render_pdf_page(badfiles.simple_pdf(), 3, 100)
    assert info.value.code == "no_pages"


@pytest.mark.parametrize("name", badfiles.ODD_FILENAMES)
def test_file_names_are_safe_for_storage_and_kept_for_display(name):
    stored = storage_filename(name)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stored), stored
    assert len(stored) <= MAX_STORAGE_NAME_CHARS and "/" not in stored and "\\" not in stored
    assert ".." not in stored.split(".")[0:1]
    shown = display_filename(name)
    assert not any(ord(c) < 32 or c == "\u202e" for c in shown)
    if name.isprintable():
        assert shown == name  # the applicant's own name, umlauts, spaces, slashes and all
    if name.endswith(".pdf"):
        assert stored.endswith(".pdf")


def test_storage_names_read_well():
    assert storage_filename("Antrag Müller Jürgen.pdf") == "Antrag_Mueller_Juergen.pdf"
    assert storage_filename("../../etc/passwd.pdf") == "passwd.pdf"
    assert storage_filename("C:\\Users\\amt\\antrag.pdf") == "antrag.pdf"
    assert storage_filename("") == "dokument"
    assert storage_filename("a" * 236 + ".pdf") == "a" * (MAX_STORAGE_NAME_CHARS - 4) + ".pdf"


@pytest.mark.parametrize("reference", badfiles.BAD_REFERENCES)
def test_bad_reference_is_refused_with_a_clear_message(reference):
    with pytest.raises(InvalidReferenceError) as info:
        check_reference(reference)
    assert info.value.code == "invalid_reference" and _german_sentence(info.value.message)
    assert "Aktenzeichen" in info.value.message


@pytest.mark.parametrize("reference", ["FV-2026-0042", "32-1/2026", "Az. 123.45:7", "Müller 2026", "sha256:ab12"])
def test_ordinary_references_pass(reference):
    assert check_reference(f" {reference} ") == reference


async def test_intake_refuses_a_bad_reference_before_storing(tmp_path):
    from formwerk.intake import submit
    from formwerk.storage import BlobStore

    blobs = BlobStore(tmp_path / "blobs")
    with pytest.raises(InvalidReferenceError):
        await submit(None, blobs, badfiles.simple_pdf(), filename="a.pdf", reference="../../x",
                     task_queue="q", ocr_task_queue="o", policies={})
    assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))


# -- through the real stack --------------------------------------------------------


async def test_hostile_files_in_sequence_then_a_valid_pdf_on_the_real_stack(temporal_env, queues, tmp_path):
    from formwerk.commands import wait_routed
    from formwerk.db import CaseStore
    from formwerk.intake import submit
    from formwerk.models import CaseStatus, RoutingPolicy
    from formwerk.ocr import make_engine
    from formwerk.storage import BlobStore
    from tests.fakes import FakeClassifier, FakeExtractor
    from workflows.activities import CaseActivities
    from worker import make_workers

    client = temporal_env.client
    blobs = BlobStore(tmp_path / "blobs")
    cases = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    activities = CaseActivities(blobs=blobs, cases=cases, ocr=make_engine("cli", "deu+eng"),
                                classifier=FakeClassifier(), extractor=FakeExtractor(),
                                known_types={"gewerbeanmeldung"})
    policies = {"gewerbeanmeldung": RoutingPolicy(min_field_confidence=0.9, required_fields=["family_name"])}

    async def run(data: bytes, filename: str, reference: str | None = None):
        sub = await submit(client, blobs, data, filename=filename, reference=reference,
                           task_queue=queues[0], ocr_task_queue=queues[1], policies=policies)
        return await wait_routed(sub.handle, 120)

    async with make_workers(client, activities, *queues, ocr_slots=1):
        for name, (make, code, filename) in badfiles.HOSTILE_INPUTS.items():
            result = await run(make(), filename)
            assert (result.status, result.reason_code) == (CaseStatus.REJECTED, code), (name, result.reason)
            assert _german_sentence(result.reason), (name, result.reason)
        for reference in badfiles.BAD_REFERENCES[:3]:
            with pytest.raises(InvalidReferenceError):
                await run(badfiles.simple_pdf(), "antrag.pdf", reference)
        for name, (make, _) in badfiles.ODD_VALID_INPUTS.items():
            result = await run(make(), f"{name}.pdf")
            assert result.status == CaseStatus.COMPLETED, (name, result.reason_code, result.reason)
        for i, odd_name in enumerate(badfiles.ODD_FILENAMES):
            result = await run(badfiles.simple_pdf(f"Gewerbe-Anmeldung nach allen Fehlern {i}"), odd_name)
            assert result.status == CaseStatus.COMPLETED, odd_name
            assert result.file == display_filename(odd_name)  # kept for display, control characters gone
        # and a scan read by the real Tesseract
        scan = await run(badfiles.text_image(["Gewerbe-Anmeldung", "Familienname Müller"]), "scan.png")
        assert scan.status == CaseStatus.COMPLETED and scan.page_count == 1
    stored = cases.get(result.case_id)
    assert stored is not None and stored.status == CaseStatus.COMPLETED


def test_a_cancelled_read_is_an_interruption_never_a_corrupt_file(monkeypatch):
    """Temporal raises its CancelledError inside the activity thread, in the middle of pdfium.

    Seen under load (bench.api_load): a valid scan's page render was
    cancelled and the guard around pdfium called the file corrupt, so the
    case was rejected for good instead of retried.
    """
    from temporalio.exceptions import ApplicationError, CancelledError

    from workflows.activities import boundary

    def cancelled(self, *a, **k):
        raise CancelledError("Cancelled")

    monkeypatch.setattr(pdfmod.pdfium.PdfPage, "render", cancelled)
    data = badfiles.square_page_pdf(600)
    # the guard around pdfium wraps it as a corrupt file; the activity boundary unwraps it
    with pytest.raises(CancelledError):
        boundary(lambda: render_pdf_page(data, 0, 150))()
    # and so for any other guard that wraps it into a file verdict

    def _wrapped():
        try:
            raise CancelledError("Cancelled")
        except CancelledError as exc:
            raise CorruptFileError(detail=f"page 1: {exc}") from exc

    with pytest.raises(CancelledError):
        boundary(_wrapped)()
    # a real corruption still crosses the boundary as the file's verdict
    with pytest.raises(ApplicationError) as err:
        boundary(lambda: (_ for _ in ()).throw(CorruptFileError(detail="broken")))()
    assert err.value.type == "corrupt_file" and err.value.non_retryable


def test_a_stream_measured_before_is_not_unpacked_again_and_a_bomb_is_still_refused(monkeypatch):
    """The unpacked sizes of streams seen before (the printed pages every copy of a form shares)
    are remembered by a hash of their packed bytes; a bomb, stopped at its limit, never is."""
    from formwerk.documents import pdfscan

    monkeypatch.setattr(pdfscan, "_SIZES", pdfscan._SizeMemo())
    unpacked = []
    real = pdfscan._unpack
    monkeypatch.setattr(pdfscan, "_unpack", lambda *a, **k: unpacked.append(1) or real(*a, **k))
    five = badfiles.content_bomb_pdf(5)  # 5 MB of page content
    first = pdfscan.scan_pdf(five, max_stream_bytes=10 * 1024 * 1024)
    measured = len(unpacked)
    assert measured >= 1
    assert pdfscan.scan_pdf(five, max_stream_bytes=10 * 1024 * 1024) == first
    assert len(unpacked) == measured  # answered from the memo
    # remembered at 5 MB, the same stream under a 1 MB bound is still too large
    with pytest.raises(BadInputError) as info:
        pdfscan.scan_pdf(five, max_stream_bytes=1024 * 1024)
    assert info.value.code == "content_too_large" and len(unpacked) == measured
    # a bomb is counted only up to the limit: not remembered, refused every time
    bomb = badfiles.content_bomb_pdf(300)
    for _ in range(2):
        with pytest.raises(BadInputError):
            read_pdf(bomb, 300, 50)
    assert len(pdfscan._SIZES._sizes) == measured
