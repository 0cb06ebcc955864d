"""Workflow, task-queue and message names: constants, never spelled twice."""

CASE_WORKFLOW = "CaseWorkflow"
DEFAULT_TASK_QUEUE = "formwerk-cases"
DEFAULT_OCR_TASK_QUEUE = "formwerk-ocr"
REVIEW_UPDATE = "review"
ROUTED_UPDATE = "routed"
DOCUMENT_ROUTED_SIGNAL = "document_routed"
STATE_QUERY = "state"


def analysis_task_queue(case_task_queue: str) -> str:
    """The queue of a scanned document's classification and extraction.

    Served by the case workers with one slot per core (like OCR): the encoder
    and the second reads of scans are CPU work that must not take the case
    queue's slots, where a filled digital form's light steps would wait
    behind them.
    """
    return f"{case_task_queue}-analysis"


def case_workflow_id(reference: str) -> str:
    """Workflow id from the caller's reference: same reference, same case.

    Readable references are kept as they are (handy in the Temporal UI); any
    other is hashed so the id stays short and free of odd characters.
    """
    import hashlib
    import re

    if re.fullmatch(r"[A-Za-z0-9._:-]{1,120}", reference):
        return f"case-{reference}"
    return "case-" + hashlib.sha256(reference.encode("utf-8")).hexdigest()[:40]
