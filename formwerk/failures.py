"""Why a case failed, in words a clerk understands (pure functions, no I/O).

A ``failed`` case is not a verdict on the document: the processing broke for
a reason outside the file. The workflow (``CaseWorkflow.run``) and the
reconciler (``formwerk.reconcile``) both describe the failure here, so the
clerk reads the same kind of sentence whichever of the two noticed it. Only
codes, activity names and exception class names go in: never an exception's
message, which may quote applicant data.
"""

from __future__ import annotations

#: codes of ``StorageError``s: the blob store is full or not writable
STORAGE_FULL = "storage_full"
STORAGE_UNWRITABLE = "storage_unwritable"
#: non-retryable activity errors that are the installation's fault, not the file's:
#: the case fails instead of being rejected
INFRASTRUCTURE_CODES = frozenset({STORAGE_FULL, STORAGE_UNWRITABLE})

INTERNAL = "internal_error"
ACTIVITY_TIMEOUT = "activity_timeout"

#: the step a clerk recognises, per activity
STEP_OF_ACTIVITY = {
    "register_original": "Prüfen des Originals",
    "prepare_document": "Lesen der Seiten",
    "read_document": "Lesen des Dokuments",
    "ocr_page": "Texterkennung",
    "classify_document": "Erkennen des Dokumenttyps",
    "extract_fields": "Auslesen der Felder",
    "save_result": "Speichern des Falls",
    "save_corrections": "Speichern der Korrekturen",
}

# the IT operator restarts the case with `formwerk retry CASE` once the fault is fixed
_AFTERWARDS = "Bitte wenden Sie sich an den IT-Betrieb; der Fall kann danach neu gestartet werden."

#: Temporal's close status (``WorkflowExecutionStatus`` name) -> reason code and sentence
_CLOSED = {
    "TERMINATED": ("workflow_terminated",
                   "Die Verarbeitung wurde vom IT-Betrieb abgebrochen (Workflow beendet)."),
    "TIMED_OUT": ("workflow_timed_out",
                  "Die Verarbeitung hat die erlaubte Gesamtdauer überschritten und wurde abgebrochen."),
    "CANCELED": ("workflow_canceled", "Die Verarbeitung wurde abgebrochen."),
    "FAILED": ("workflow_failed", "Die Verarbeitung ist an einem technischen Fehler gescheitert."),
    "CONTINUED_AS_NEW": ("workflow_continued", "Die Verarbeitung wurde unvollständig beendet."),
    "NOT_FOUND": ("workflow_missing",
                  "Zu diesem Fall gibt es keine laufende Verarbeitung mehr (Workflow nicht gefunden)."),
}


def activity_failure(activity_type: str, code: str | None, message: str | None,
                     timed_out: bool = False) -> tuple[str, str]:
    """(reason code, German sentence) for an activity that failed after its retries.

    ``code``/``message`` are those of a ``FormwerkError`` (its message is
    written for clerks); any other error gets a generic sentence naming the step.
    """
    step = STEP_OF_ACTIVITY.get(activity_type, "Verarbeitung")
    if code and message:
        return code, f"{message} (Schritt: {step}) {_AFTERWARDS}"
    if timed_out:
        return ACTIVITY_TIMEOUT, (f"Der Schritt „{step}“ hat wiederholt nicht rechtzeitig geantwortet. "
                                  f"{_AFTERWARDS}")
    return INTERNAL, f"Beim Schritt „{step}“ ist ein technischer Fehler aufgetreten. {_AFTERWARDS}"


def workflow_failure() -> tuple[str, str]:
    """(reason code, sentence) for an unforeseen error in the workflow's own code."""
    return INTERNAL, f"Bei der Verarbeitung ist ein unerwarteter technischer Fehler aufgetreten. {_AFTERWARDS}"


def closed_failure(close_status: str) -> tuple[str, str]:
    """(reason code, sentence) for a workflow that closed without storing a final status."""
    code, sentence = _CLOSED.get(close_status, ("workflow_closed", "Die Verarbeitung wurde beendet."))
    return code, f"{sentence} {_AFTERWARDS}"
