"""Intake: store the original, then start (or attach to) its case workflow.

The original is written to the content-addressed store *before* anything else
happens; the workflow id derives from the caller's reference, so submitting
the same reference twice attaches to the existing case instead of creating a
second one (also after it has finished).
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from formwerk.errors import InvalidReferenceError
from formwerk.models import CaseInput, CaseResult, FileRef, RoutingPolicy, WebhookTarget
from formwerk.storage import BlobStore
from workflows.names import CASE_WORKFLOW, case_workflow_id

#: memo keys on every case workflow: which files it was started with, by which submission
MEMO_FILES = "blob_keys"
MEMO_SUBMISSION = "submission_id"


@dataclass
class Submission:
    case_id: str
    handle: WorkflowHandle
    created: bool  # False when it attached to an existing case (same reference, same file)


class ReferenceConflict(Exception):
    """The reference already names a case started with another file.

    Nothing is replaced: the existing case keeps its file; the new file is
    stored (content-addressed) but no case uses it.
    """

    def __init__(self, case_id: str, reference: str, existing: list[str], submitted: list[str]) -> None:
        super().__init__(f"reference {reference!r} is case {case_id}, started with another file")
        self.case_id = case_id
        self.reference = reference
        self.existing = existing  # blob keys (sha256:...) the case was started with
        self.submitted = submitted


#: longest reference (Aktenzeichen) accepted; workflow ids hash longer readable ones anyway
MAX_REFERENCE_CHARS = 200
#: longest file name kept for display (the case store's column holds 500)
MAX_DISPLAY_NAME_CHARS = 255
#: longest file name used for storage (downloads, folders); most file systems allow 255 bytes
MAX_STORAGE_NAME_CHARS = 120

# control (Cc), format (Cf: e.g. U+202E, which shows "fdp.exe" as "exe.pdf"), line/paragraph separators
_INVISIBLE = {"Cc", "Cf", "Zl", "Zp"}
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})


def _invisible(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _INVISIBLE]


def check_reference(reference: str | None) -> str | None:
    """The caller's reference as it names the case, or InvalidReferenceError.

    References end up in workflow ids, file names of exports and log lines:
    control characters and path traversal are refused with a sentence saying
    which, before anything is stored. Empty means "none" (the file's hash).
    """
    if reference is None or not reference.strip():
        return None
    bad = _invisible(reference)
    if bad:
        raise InvalidReferenceError(
            "Das Aktenzeichen enthält Steuerzeichen oder unsichtbare Zeichen und wird nicht angenommen. "
            "Bitte geben Sie es ohne diese Zeichen erneut ein.",
            detail=f"invisible characters {', '.join(bad[:5])}",
        )
    reference = reference.strip()
    parts = re.split(r"[/\\]", reference)
    if ".." in parts or "." in parts or reference[0] in "/\\" or "\\" in reference:
        raise InvalidReferenceError(
            "Das Aktenzeichen sieht wie eine Pfadangabe aus (z. B. „../“ oder „\\“) und wird nicht "
            "angenommen. Bitte verwenden Sie Buchstaben, Ziffern, Bindestriche, Punkte und Schrägstriche.",
            detail="path-like reference",
        )
    if len(reference) > MAX_REFERENCE_CHARS:
        raise InvalidReferenceError(
            f"Das Aktenzeichen ist mit {len(reference)} Zeichen zu lang (höchstens {MAX_REFERENCE_CHARS}).",
            detail="reference too long",
        )
    return reference


def _cut_keeping_extension(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and 0 < len(ext) <= 10:
        return stem[: limit - len(ext) - 1] + "." + ext
    return name[:limit]


def display_filename(name: str | None) -> str:
    """The file's name as the applicant or scanner gave it, for clerks to read.

    Kept as it was (umlauts, spaces, even slashes) except what no one can
    read: control and invisible characters go, the text is NFC-normalised
    and at most MAX_DISPLAY_NAME_CHARS long (the extension kept).
    """
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(" " if unicodedata.category(c) in _INVISIBLE else c for c in text)
    text = re.sub(r"\s+", " ", text).strip()
    return _cut_keeping_extension(text, MAX_DISPLAY_NAME_CHARS)


def storage_filename(name: str | None) -> str:
    """A name safe on any file system and in any HTTP header, made from the file's name.

    Only its last path component, German umlauts transliterated, other
    letters without accents, anything but ``A-Za-z0-9._-`` as ``_``, no
    leading dot, at most MAX_STORAGE_NAME_CHARS: ``../../Anträge/Müller Jürgen.pdf``
    becomes ``Mueller_Juergen.pdf``. Never empty.
    """
    base = re.split(r"[/\\]", display_filename(name))[-1]
    ascii_name = unicodedata.normalize("NFKD", base.translate(_GERMAN)).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._") or "dokument"
    return _cut_keeping_extension(safe, MAX_STORAGE_NAME_CHARS)


def policies_from_catalogue(store_url: str | None = None) -> dict[str, RoutingPolicy]:
    """Each form's routing policy; with ``store_url``, with the thresholds of that store's
    active field calibration (formwerk.fieldcal)."""
    from forms.catalogue import load_catalogue

    base = {f.id: f.policy for f in load_catalogue().forms.values()}
    if store_url is None:
        return base
    from formwerk.fieldcal_store import calibrated_policies

    return calibrated_policies(base, store_url)


async def submit(
    client: Client,
    blobs: BlobStore,
    data: bytes,
    *,
    filename: str,
    reference: str | None,
    task_queue: str,
    ocr_task_queue: str,
    policies: dict[str, RoutingPolicy],
    callback_url: str | None = None,
    claim_idle_minutes: float = 15.0,
    webhook: WebhookTarget | None = None,
    expected_type: str | None = None,
    metadata: dict[str, str] | None = None,
    extra_files: list[tuple[str, bytes]] | None = None,
    steps_as_activities: bool = False,
) -> Submission:
    """Start the case for ``reference`` (by default: the file's own hash), or attach to it.

    Same reference and same file(s) (SHA-256): the existing case
    (``created=False``). Same reference, other file(s): ``ReferenceConflict``.
    A reference with control characters or path traversal: InvalidReferenceError
    (a BadInputError; nothing stored). File names are kept for display
    (display_filename); use storage_filename wherever a name touches a disk or a header.
    """
    # a reference that cannot name a case is refused before anything is stored
    reference = check_reference(reference)
    filename = display_filename(filename)
    # first: nothing is lost whatever happens next (in a thread: the write waits for the disk, and
    # the API's event loop serves the other requests meanwhile)
    blob_key = await asyncio.to_thread(blobs.put, data)
    extras = [FileRef(blob_key=await asyncio.to_thread(blobs.put, d), filename=display_filename(n))
              for n, d in (extra_files or [])]
    keys = [blob_key, *(f.blob_key for f in extras)]
    reference = reference or blob_key  # same file, same case
    case_id = case_workflow_id(reference)
    inp = CaseInput(
        reference=reference, blob_key=blob_key, filename=filename, policies=policies,
        submitted_at=datetime.now(timezone.utc), callback_url=callback_url or (webhook.url if webhook else None),
        ocr_task_queue=ocr_task_queue, claim_idle_minutes=claim_idle_minutes, webhook=webhook,
        expected_type=expected_type, metadata=dict(metadata or {}), extra_files=extras,
        steps_as_activities=steps_as_activities,
    )
    submission_id = uuid.uuid4().hex
    try:
        handle = await client.start_workflow(
            CASE_WORKFLOW, inp, id=case_id, task_queue=task_queue, result_type=CaseResult,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            memo={MEMO_FILES: keys, MEMO_SUBMISSION: submission_id},
        )
    except WorkflowAlreadyStartedError:  # finished already (the id is never reused)
        handle = client.get_workflow_handle(case_id, result_type=CaseResult)
    # the server says whether this request started the run; the SDK keeps its answer on the handle
    # (not a public attribute: without it, the memo tells, at the cost of one more round trip)
    answer = getattr(handle, "_start_workflow_response", None)
    if answer is not None and getattr(answer, "started", False):
        return Submission(case_id, handle, created=True)
    started_with, started_by = await _started_with(client, handle)
    if started_by == submission_id:
        return Submission(case_id, handle, created=True)
    if started_with != keys:
        raise ReferenceConflict(case_id, reference, started_with, keys)
    return Submission(case_id, handle, created=False)


class NotRetryable(Exception):
    """The case cannot be retried: unknown, or not `failed`."""


async def retry_failed(client: Client, cases, case_id: str, task_queue: str) -> WorkflowHandle:
    """Run a `failed` case again from its original (after the fault was fixed).

    The failed run's own input (first event of its history) is started again
    under the same workflow id, which Temporal allows only because that run
    failed, was terminated or timed out; the new run continues the stored
    revision, so its results replace the failed one. Nothing is resubmitted
    by the caller, and a case that did not fail cannot be started twice.
    """
    stored = cases.get(case_id)
    if stored is None:
        raise NotRetryable(f"Fall {case_id} nicht gefunden.")
    if stored.status.value != "failed":
        raise NotRetryable(f"Fall {case_id} ist nicht fehlgeschlagen (Status: {stored.status.value}).")
    old = client.get_workflow_handle(case_id)
    history = await old.fetch_history()
    attrs = history.events[0].workflow_execution_started_event_attributes
    [inp] = await client.data_converter.decode(attrs.input.payloads, [CaseInput])
    desc = await old.describe()
    memo = await desc.memo()
    inp.revision_base = stored.revision
    try:
        return await client.start_workflow(
            CASE_WORKFLOW, inp, id=case_id, task_queue=task_queue, result_type=CaseResult,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            memo={MEMO_FILES: memo.get(MEMO_FILES, [inp.blob_key, *(f.blob_key for f in inp.extra_files)]),
                  MEMO_SUBMISSION: uuid.uuid4().hex},
        )
    except WorkflowAlreadyStartedError as exc:
        raise NotRetryable(f"Fall {case_id} läuft bereits oder wurde nicht wegen eines Fehlers beendet.") from exc


async def _started_with(client: Client, handle: WorkflowHandle) -> tuple[list[str], str]:
    """(blob keys, submission id) the case workflow was started with.

    From the memo; for cases started before the memo existed, from the
    first event of the history (its input).
    """
    desc = await handle.describe()
    memo = await desc.memo()
    if MEMO_FILES in memo:
        return list(memo[MEMO_FILES]), str(memo.get(MEMO_SUBMISSION, ""))
    history = await handle.fetch_history()
    attrs = history.events[0].workflow_execution_started_event_attributes
    [inp] = await client.data_converter.decode(attrs.input.payloads, [CaseInput])
    return [inp.blob_key, *(f.blob_key for f in inp.extra_files)], ""
