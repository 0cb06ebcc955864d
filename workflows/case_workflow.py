"""The case workflow: one durable workflow per application.

Workflows decide, activities do: no I/O here, no settings, no clock but
``workflow.now()``. The routing policy travels in the input so every decision
is reproducible from the history.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ParentClosePolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from formwerk.models import (
        CaseInput,
        CaseResult,
        CaseStatus,
        Classification,
        Correction,
        DocumentSegment,
        RECLASSIFICATION,
        Extraction,
        ReviewAction,
        ReviewDecision,
    )
    from formwerk.routing import route
    from workflows.messages import (
        ClassifyInput,
        ClassifyOutput,
        ContentRef,
        ExtractOutput,
        OcrPageOutput,
        PrepareOutput,
        RegisterOutput,
        ExtractInput,
        OcrPageInput,
        PrepareInput,
        RegisterInput,
        SaveCorrectionsInput,
        SaveResultInput,
    )
    from workflows.names import (
        CASE_WORKFLOW,
        DEFAULT_OCR_TASK_QUEUE,
        DOCUMENT_ROUTED_SIGNAL,
        REVIEW_UPDATE,
        ROUTED_UPDATE,
        STATE_QUERY,
    )

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                    maximum_attempts=5)
SHORT = dict(start_to_close_timeout=timedelta(minutes=2), retry_policy=RETRY)
PREPARE = dict(start_to_close_timeout=timedelta(minutes=10), heartbeat_timeout=timedelta(minutes=2),
               retry_policy=RETRY)
OCR = dict(start_to_close_timeout=timedelta(minutes=5), heartbeat_timeout=timedelta(minutes=2),
           retry_policy=RETRY)

FINAL = {CaseStatus.COMPLETED, CaseStatus.REJECTED}


def _rejection(err: BaseException) -> tuple[str, str] | None:
    """(code, message) when the error is a non-retryable bad-input failure."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return cause.type or "bad_input", cause.message
    return None


@workflow.defn(name=CASE_WORKFLOW)
class CaseWorkflow:
    def __init__(self) -> None:
        self._result: CaseResult | None = None
        self._decision: ReviewDecision | None = None
        self._routed = False  # True once the machine's decision is stored
        self._children: dict[str, CaseResult] = {}  # a batch's routed documents
        self._ocr_queue = DEFAULT_OCR_TASK_QUEUE

    # -- messages ----------------------------------------------------------

    @workflow.signal(name=DOCUMENT_ROUTED_SIGNAL)
    def document_routed(self, child: CaseResult) -> None:
        self._children[child.case_id] = child

    @workflow.query(name=STATE_QUERY)
    def state(self) -> CaseResult | None:
        return self._result

    @workflow.update(name=ROUTED_UPDATE)
    async def routed(self) -> CaseResult:
        """Returns once the case is decided by the machine (or finished).

        Lets a caller wait for "completed / needs_review / rejected" without
        polling; the CLI uses it because `process` does not wait for clerks.
        """
        await workflow.wait_condition(lambda: self._routed)
        return self._result

    @workflow.update(name=REVIEW_UPDATE)
    async def review(self, decision: ReviewDecision) -> CaseResult:
        assert self._result is not None
        if decision.action == ReviewAction.CLAIM:
            self._result.claimed_by = decision.clerk
            await self._save()
        else:
            self._result.claimed_by = decision.clerk
            self._decision = decision
            # the main loop applies the decision; wait until it has
            await workflow.wait_condition(lambda: self._decision is None)
        return self._result

    @review.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        r = self._result
        if r is None or r.status != CaseStatus.NEEDS_REVIEW or self._decision is not None:
            raise ValueError("Der Fall wartet nicht auf eine Prüfung.")
        if r.claimed_by and r.claimed_by != decision.clerk:
            raise ValueError(f"Der Fall wird bereits von {r.claimed_by} bearbeitet.")
        if decision.action == ReviewAction.RECLASSIFY and not decision.document_type:
            raise ValueError("Für die Umklassifizierung fehlt der Dokumenttyp.")
        unknown = set(decision.corrections) - set(r.fields)
        if unknown:
            raise ValueError(f"Unbekannte Felder: {', '.join(sorted(unknown))}")

    # -- run ---------------------------------------------------------------

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseResult:
        started = workflow.now()
        info = workflow.info()
        self._ocr_queue = inp.ocr_task_queue or DEFAULT_OCR_TASK_QUEUE
        result = CaseResult(case_id=info.workflow_id, reference=inp.reference, file=inp.filename,
                            parent_case_id=inp.parent_case_id,
                            page_range=[min(inp.pages), max(inp.pages)] if inp.pages else None)
        self._result = result
        timings: dict[str, int] = {}
        try:
            reg = await workflow.execute_activity(
                "register_original",
                RegisterInput(case_id=info.workflow_id, reference=inp.reference,
                              blob_key=inp.blob_key, filename=inp.filename),
                result_type=RegisterOutput, **SHORT)
            result.sha256 = reg.sha256
            await self._save()
            content, ocr_ms = await self._read_pages(inp, timings)
            result.content_keys = content.content_keys
            classification, segments = await self._classify(inp, content, timings)
            if segments:  # a scanned batch of several documents
                await self._run_batch(inp, segments, started, timings)
                return result
            extraction = await self._extract(classification.document_type, content, timings)
        except ActivityError as err:
            rejection = _rejection(err)
            if rejection is None:
                raise  # infrastructure trouble: let Temporal retry/fail visibly
            result.status = CaseStatus.REJECTED
            result.reason_code, result.reason = rejection
            result.timings_ms = {**timings, "total": self._ms_since(started)}
            await self._save()
            await self._mark_routed(inp)
            await workflow.wait_condition(workflow.all_handlers_finished)
            return result

        self._apply(classification, extraction)
        policy = inp.policies.get(classification.document_type, inp.default_policy)
        decision = route(classification, extraction, policy)
        result.review_reasons = decision.reasons
        result.timings_ms = {**timings, "total": self._ms_since(started)}
        result.status = decision.status
        await self._save()
        await self._mark_routed(inp)

        if result.status == CaseStatus.NEEDS_REVIEW:
            await self._await_review(inp, content, policy.review_sla_hours)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    # -- steps -------------------------------------------------------------

    async def _read_pages(self, inp: CaseInput, timings: dict[str, int]):
        t0 = workflow.now()
        prepared = await workflow.execute_activity(
            "prepare_document",
            PrepareInput(blob_key=inp.blob_key, filename=inp.filename, pages=inp.pages),
            result_type=PrepareOutput, **PREPARE)
        self._result.page_count = len(prepared.pages)
        timings["pages"] = self._ms_since(t0)
        t1 = workflow.now()
        # one activity per page, all pages at once: the OCR workers' slots
        # (one per core) decide how many really run in parallel
        jobs = [
            workflow.execute_activity(
                "ocr_page", OcrPageInput(page=p.page, image_key=p.image_key, dpi=p.dpi),
                task_queue=self._ocr_queue, result_type=OcrPageOutput, **OCR)
            for p in prepared.pages if p.needs_ocr
        ]
        ocr_results = {o.page: o.content_key for o in await asyncio.gather(*jobs)}
        timings["ocr"] = self._ms_since(t1) if jobs else 0
        keys = [p.content_key if not p.needs_ocr else ocr_results[p.page] for p in prepared.pages]
        return ContentRef(content_keys=keys, acroform_key=prepared.acroform_key), timings["ocr"]

    async def _classify(self, inp: CaseInput, content: ContentRef, timings: dict[str, int]):
        out = await workflow.execute_activity(
            "classify_document", ClassifyInput(content=content, split=inp.pages is None),
            result_type=ClassifyOutput, **SHORT)
        timings["classify"] = out.duration_ms
        return out.classification, out.segments

    async def _mark_routed(self, inp: CaseInput) -> None:
        self._routed = True
        if inp.parent_case_id:  # tell the batch this document has been routed
            parent = workflow.get_external_workflow_handle(inp.parent_case_id)
            await parent.signal(DOCUMENT_ROUTED_SIGNAL, self._result)

    async def _run_batch(self, inp: CaseInput, segments: list[DocumentSegment], started,
                         timings: dict[str, int]) -> None:
        """Each document of the batch becomes its own case, linked to this one.

        The children outlive the batch (they may wait days for a clerk); the
        batch finishes once every document has been routed.
        """
        r = self._result
        r.document_type = "batch"
        ids = []
        for i, seg in enumerate(segments, start=1):
            child_id = f"{r.case_id}-doc{i}"
            ids.append(child_id)
            child = inp.model_copy(update={
                "pages": list(range(seg.start, seg.end + 1)),
                "parent_case_id": r.case_id,
                "reference": f"{inp.reference}#doc{i}",
                "filename": f"{inp.filename} (S. {seg.start}-{seg.end})",
            })
            await workflow.start_child_workflow(
                CASE_WORKFLOW, child, id=child_id, task_queue=workflow.info().task_queue,
                parent_close_policy=ParentClosePolicy.ABANDON)
        await workflow.wait_condition(lambda: all(i in self._children for i in ids))
        r.documents = [self._children[i] for i in ids]
        statuses = {d.status for d in r.documents}
        if CaseStatus.NEEDS_REVIEW in statuses:
            r.status = CaseStatus.NEEDS_REVIEW
        elif statuses == {CaseStatus.REJECTED}:
            r.status = CaseStatus.REJECTED
            r.reason_code, r.reason = "batch_rejected", "Alle Dokumente des Stapels wurden abgelehnt."
        else:
            r.status = CaseStatus.COMPLETED
        r.review_reasons = [f"document_needs_review:{d.case_id}" for d in r.documents
                            if d.status == CaseStatus.NEEDS_REVIEW]
        r.timings_ms = {**timings, "total": self._ms_since(started)}
        await self._save()
        self._routed = True
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _extract(self, document_type: str, content: ContentRef,
                       timings: dict[str, int]) -> Extraction | None:
        out = await workflow.execute_activity(
            "extract_fields", ExtractInput(document_type=document_type, content=content),
            result_type=ExtractOutput, **SHORT)
        timings["extract"] = out.duration_ms
        return out.extraction

    def _apply(self, classification: Classification, extraction: Extraction | None) -> None:
        r = self._result
        r.document_type = classification.document_type
        r.document_type_confidence = round(classification.confidence, 4)
        r.classification_reasons = classification.reasons
        r.model_version = classification.model_version
        r.fields = dict(extraction.fields) if extraction else {}
        r.issues = list(extraction.issues) if extraction else []

    async def _await_review(self, inp: CaseInput, content: ContentRef, sla_hours: float) -> None:
        r = self._result
        while r.status == CaseStatus.NEEDS_REVIEW:
            try:
                await workflow.wait_condition(
                    lambda: self._decision is not None,
                    timeout=None if r.escalated else timedelta(hours=sla_hours),
                )
            except asyncio.TimeoutError:
                r.escalated = True  # SLA breached: the supervisor queue shows it
                await self._save()
                continue
            await self._apply_decision(inp, content, self._decision)
            self._decision = None

    async def _apply_decision(self, inp: CaseInput, content: ContentRef,
                              decision: ReviewDecision) -> None:
        r = self._result
        r.reviewed_by = decision.clerk
        if decision.action == ReviewAction.REJECT:
            r.status = CaseStatus.REJECTED
            r.reason_code = "rejected_by_clerk"
            r.reason = decision.comment or "Vom Sachbearbeiter abgelehnt."
        elif decision.action == ReviewAction.REQUEST_DOCUMENTS:
            r.review_reasons = [*r.review_reasons, "documents_requested"]
        elif decision.action == ReviewAction.RECLASSIFY:
            # a clerk's word outranks the model: re-extract for the new type
            # and keep the case in review so the new fields get a look
            # kept as a correction: reclassifications are training data
            await workflow.execute_activity(
                "save_corrections", SaveCorrectionsInput(case_id=r.case_id, corrections=[Correction(
                    field=RECLASSIFICATION, machine_value=r.document_type,
                    corrected_value=decision.document_type, clerk=decision.clerk, at=workflow.now())]),
                **SHORT)
            classification = Classification(
                document_type=decision.document_type, confidence=1.0,
                reasons=[f"Umklassifiziert durch {decision.clerk}"], model_version="human")
            extraction = await self._extract(decision.document_type, content, r.timings_ms)
            self._apply(classification, extraction)
            policy = inp.policies.get(decision.document_type, inp.default_policy)
            r.review_reasons = route(classification, extraction, policy).reasons
        elif decision.action == ReviewAction.APPROVE:
            corrections = []
            for name, value in decision.corrections.items():
                field = r.fields[name]
                corrections.append(Correction(field=name, machine_value=field.value,
                                              corrected_value=value, clerk=decision.clerk,
                                              at=workflow.now()))
            r.corrections = corrections
            if corrections:
                await workflow.execute_activity(
                    "save_corrections", SaveCorrectionsInput(case_id=r.case_id, corrections=corrections),
                    **SHORT)
            r.status = CaseStatus.COMPLETED
        await self._save()

    async def _save(self) -> None:
        await workflow.execute_activity("save_result", SaveResultInput(result=self._result), **SHORT)

    @staticmethod
    def _ms_since(t) -> int:
        return int((workflow.now() - t).total_seconds() * 1000)
