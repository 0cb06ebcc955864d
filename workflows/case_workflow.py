"""The case workflow: one durable workflow per application.

Workflows decide, activities do: no I/O here, no settings, no clock but
``workflow.now()``. The routing policy travels in the input so every decision
is reproducible from the history.

Review phase (Temporal is the source of truth, the case store a mirror):

* claims (``claim`` / ``extend`` / ``release`` / ``reassign``) are applied by
  the ``review`` update handler itself; a claim that is not extended expires
  by a durable timer in the main loop and the case returns to the queue;
* decisions (``approve`` / ``confirm`` / ``reclassify`` / ``reject`` /
  ``request_documents`` / ``attach``) are queued by the handler and applied by
  the main loop, one at a time; the update returns once it is applied;
* every decision may carry a ``decision_id``: a repeated id is accepted and
  answered with the current result without being applied again;
* the review SLA (``due_at``) escalates the case once by a durable timer,
  except while the case waits for requested documents.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ParentClosePolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

with workflow.unsafe.imports_passed_through():
    from formwerk.models import (
        SUPERVISOR_ROLES,
        Attachment,
        CaseEvent,
        CaseInput,
        CaseResult,
        CaseStatus,
        Classification,
        Correction,
        DocumentSegment,
        PendingApproval,
        RECLASSIFICATION,
        Extraction,
        ReviewAction,
        ReviewDecision,
        RoutingPolicy,
        WebhookDelivery,
    )
    from formwerk import failures
    from formwerk.failures import INFRASTRUCTURE_CODES
    from formwerk.routing import route
    from workflows.messages import (
        ClassifyInput,
        ClassifyOutput,
        ContentRef,
        DeliverWebhookInput,
        DeliverWebhookOutput,
        ExtractOutput,
        OcrPageOutput,
        PrepareOutput,
        RegisterOutput,
        ExtractInput,
        OcrPageInput,
        PrepareInput,
        ReadDocumentInput,
        ReadDocumentOutput,
        RegisterInput,
        STEP_DETAIL,
        SaveCorrectionsInput,
        SaveResultInput,
    )
    from workflows.names import (
        CASE_WORKFLOW,
        DEFAULT_OCR_TASK_QUEUE,
        DOCUMENT_ROUTED_SIGNAL,
        analysis_task_queue,
        REVIEW_UPDATE,
        ROUTED_UPDATE,
        STATE_QUERY,
    )

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                    maximum_attempts=5)
SHORT = dict(start_to_close_timeout=timedelta(minutes=2), retry_policy=RETRY)
# heartbeats every 3 s (workflows.heartbeat, worker.HEARTBEAT_THROTTLE): a dead worker's attempt
# is retried 10 s after its last beat
PREPARE = dict(start_to_close_timeout=timedelta(minutes=10), heartbeat_timeout=timedelta(seconds=10),
               retry_policy=RETRY)
OCR = dict(start_to_close_timeout=timedelta(minutes=5), heartbeat_timeout=timedelta(seconds=10),
           retry_policy=RETRY)
# a PDF's pages are split and their text layer read without rendering: light, run locally
PREPARE_LOCAL = dict(start_to_close_timeout=timedelta(minutes=10), retry_policy=RETRY)
#: Runs started with this marker run their light steps (register, prepare a PDF, save, and the
#: classification and extraction of a document that needed no OCR) as local activities, in the
#: worker that runs the workflow: no task queue round trip per step, so a filled digital form is
#: routed in one or two workflow tasks. Heavy steps (OCR, the encoder and second reads of scans,
#: webhooks with their day of retries) stay activities. Runs started before keep their history.
LIGHT_STEPS_LOCAL = "light-steps-local-1"
#: Runs started with this marker read a PDF in one local activity (``read_document``): register,
#: pages and, when no page needs OCR, classification and extraction; the case is first saved
#: when it is routed (or, with pages to OCR, before they are read). A filled form is then routed
#: in one workflow task with two local activities (read, save) instead of six.
READ_IN_ONE_STEP = "read-in-one-step-1"
#: Runs started with this marker make a webhook's first attempt as a local activity, right after
#: the case is routed, in the same workflow task; only if it fails do the retries (seconds up to
#: an hour, for a day) go to the task queue as an activity, with the same message id.
WEBHOOK_FIRST_ATTEMPT_LOCAL = "webhook-first-attempt-local-1"

FINAL = {CaseStatus.COMPLETED, CaseStatus.REJECTED}
CLAIM_ACTIONS = {ReviewAction.CLAIM, ReviewAction.EXTEND, ReviewAction.RELEASE, ReviewAction.REASSIGN}
# decisions that take (or need) the claim; ATTACH needs none
CLAIMING_DECISIONS = {ReviewAction.APPROVE, ReviewAction.CONFIRM, ReviewAction.RECLASSIFY,
                      ReviewAction.REJECT, ReviewAction.REQUEST_DOCUMENTS}
DOCUMENTS_REQUESTED = "documents_requested"
AWAITING_CONFIRMATION = "awaiting_confirmation"
REFUSED = "review_refused"  # ApplicationError type of a decision refused after acceptance
UNEXPECTED_TYPE = "unexpected_document_type"  # not the type the caller said it would be
LINKED_TO_CASE = "linked_to_case"  # a letter citing an existing case's reference: a clerk joins them
#: a webhook the receiver refused for good (4xx other than 408/429) or cannot be signed
WEBHOOK_FINAL_ERRORS = ["webhook_refused", "webhook_unconfigured"]
EVENT_OF_STATUS = {CaseStatus.COMPLETED: "case.completed", CaseStatus.REJECTED: "case.rejected",
                   CaseStatus.NEEDS_REVIEW: "case.needs_review", CaseStatus.FAILED: "case.failed"}


def _rejection(err: BaseException) -> tuple[str, str] | None:
    """(code, message) when the error is a non-retryable bad-input failure."""
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return cause.type or "bad_input", cause.message
    return None


def _failed_step(cause: BaseException | None) -> str | None:
    """The step ``read_document`` names in its failure (``{STEP_DETAIL: ...}``), if any."""
    details = cause.details if isinstance(cause, ApplicationError) else ()
    for d in details:
        if isinstance(d, dict) and isinstance(d.get(STEP_DETAIL), str):
            return d[STEP_DETAIL]
    return None


def _as_activity_error(name: str) -> ActivityError:
    """A local activity's failure arrives unwrapped; wrapped like an activity's, the rest of the
    workflow (rejection, `failed` with its step) reads both alike."""
    return ActivityError(f"local activity {name} failed", scheduled_event_id=0, started_event_id=0,
                         identity="", activity_type=name, activity_id="", retry_state=None)


def _json_value(value: Any) -> Any:
    """A correction value as it goes into an event's detail (plain JSON)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


def _changes(corrections: list[Correction]) -> dict[str, dict[str, Any]]:
    """An event's detail for corrections: field -> {"old": machine value, "new": clerk's value}."""
    return {c.field: {"old": _json_value(c.machine_value), "new": _json_value(c.corrected_value)}
            for c in corrections}


@workflow.defn(name=CASE_WORKFLOW)
class CaseWorkflow:
    def __init__(self) -> None:
        self._result: CaseResult | None = None
        self._decision: ReviewDecision | None = None  # queued for the main loop
        self._routed = False  # True once the machine's decision is stored
        self._batch = False  # a scanned batch: its documents are reviewed one by one
        self._children: dict[str, CaseResult] = {}  # a batch's routed documents
        self._ocr_queue = DEFAULT_OCR_TASK_QUEUE
        self._policy: RoutingPolicy | None = None
        self._claim_idle = timedelta(minutes=15)
        self._seen_ids: set[str] = set()  # decision ids accepted (applied or being applied)
        self._applied_ids: set[str] = set()  # decision ids applied
        self._version = 0  # bumped when a deadline (claim expiry, due date) changes
        self._notifications: list[asyncio.Task] = []  # webhook deliveries still running
        self._local = False  # light steps as local activities (LIGHT_STEPS_LOCAL)

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
        did = decision.decision_id
        if did and did in self._seen_ids:  # double click / retried request: applied once
            await workflow.wait_condition(lambda: did in self._applied_ids)
            return self._result
        while decision.action not in CLAIM_ACTIONS and self._decision is not None:
            # two decisions accepted in one go: the second waits its turn, then is checked again
            await workflow.wait_condition(lambda: self._decision is None)
            if did and did in self._seen_ids:
                await workflow.wait_condition(lambda: did in self._applied_ids)
                return self._result
        try:
            self._check(decision)
        except ValueError as exc:
            raise ApplicationError(str(exc), type=REFUSED, non_retryable=True) from None
        if did:
            self._seen_ids.add(did)
        r = self._result
        if decision.action in CLAIM_ACTIONS:
            self._apply_claim(decision)
            self._mark_applied(decision)
            await self._save()
            return self._result
        if decision.action in CLAIMING_DECISIONS:  # implicit claim while it is applied
            r.claimed_by = decision.clerk
            r.claim_expires_at = workflow.now() + self._claim_idle
        self._decision = decision
        # the main loop applies the decision; wait until it has
        await workflow.wait_condition(lambda: self._decision is not decision)
        return self._result

    @review.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        if decision.decision_id and decision.decision_id in self._seen_ids:
            return  # already applied (or being applied): answered with the current result
        if decision.action not in CLAIM_ACTIONS and self._decision is not None:
            raise ValueError("Zu diesem Fall wird gerade eine Entscheidung verarbeitet. "
                             "Bitte versuchen Sie es gleich noch einmal.")
        self._check(decision)

    def _holder(self, now: datetime) -> str | None:
        """The user holding an unexpired claim, if any."""
        r = self._result
        if r.claimed_by and (r.claim_expires_at is None or r.claim_expires_at > now):
            return r.claimed_by
        return None

    def _check(self, decision: ReviewDecision) -> None:
        """Raises ValueError (a German sentence) when the decision may not be applied now."""
        r = self._result
        if r is None or r.status == CaseStatus.PROCESSING:
            raise ValueError("Der Fall wartet nicht auf eine Prüfung.")
        if r.status in FINAL:
            raise ValueError("Der Fall ist bereits abgeschlossen.")
        if self._batch:
            raise ValueError("Die Dokumente dieses Stapels werden jeweils als eigener Fall geprüft.")
        if not decision.clerk:
            raise ValueError("Es fehlt die Angabe, wer entscheidet.")
        action = decision.action
        holder = self._holder(workflow.now())
        supervisor = decision.role in SUPERVISOR_ROLES
        if action == ReviewAction.CLAIM:
            if holder and holder != decision.clerk:
                raise ValueError(f"Der Fall wird bereits von {holder} bearbeitet.")
        elif action == ReviewAction.EXTEND:
            if r.claimed_by != decision.clerk:
                raise ValueError("Sie haben diesen Fall nicht (mehr) in Bearbeitung.")
        elif action == ReviewAction.RELEASE:
            if not r.claimed_by:
                raise ValueError("Der Fall ist von niemandem in Bearbeitung.")
            if r.claimed_by != decision.clerk and not supervisor:
                raise ValueError("Nur wer den Fall bearbeitet oder die Teamleitung kann ihn freigeben.")
        elif action == ReviewAction.REASSIGN:
            if not supervisor:
                raise ValueError("Nur die Teamleitung kann Fälle neu zuweisen.")
            if not decision.assignee:
                raise ValueError("Für die Neuzuweisung fehlt die Person, die den Fall übernehmen soll.")
        elif action == ReviewAction.ATTACH:
            if not decision.blob_key:
                raise ValueError("Für den Anhang fehlt die Datei.")
        else:
            if holder and holder != decision.clerk:
                raise ValueError(f"Der Fall wird bereits von {holder} bearbeitet.")
            pending = r.pending_approval
            if action == ReviewAction.APPROVE and pending is not None:
                raise ValueError(f"Der Fall wurde bereits von {pending.clerk} freigegeben und wartet "
                                 "auf die Bestätigung durch eine zweite Person.")
            if action == ReviewAction.CONFIRM:
                if pending is None:
                    raise ValueError("Es liegt keine Freigabe vor, die bestätigt werden könnte.")
                if pending.clerk == decision.clerk:
                    raise ValueError("Sie können Ihre eigene Freigabe nicht bestätigen.")
            if action == ReviewAction.RECLASSIFY and not decision.document_type:
                raise ValueError("Für die Umklassifizierung fehlt der Dokumenttyp.")
        unknown = set(decision.corrections) - set(r.fields)
        if unknown:
            raise ValueError(f"Unbekannte Felder: {', '.join(sorted(unknown))}")
        if decision.corrections and action not in (ReviewAction.APPROVE, ReviewAction.CONFIRM):
            raise ValueError("Korrekturen sind nur mit einer Freigabe möglich.")

    def _apply_claim(self, d: ReviewDecision) -> None:
        """Claim, extend, release, reassign: state only (the handler saves)."""
        r = self._result
        now = workflow.now()
        if d.action == ReviewAction.CLAIM:
            fresh = self._holder(now) != d.clerk  # re-claiming by the holder just extends
            r.claimed_by = d.clerk
            r.claim_expires_at = now + self._claim_idle
            if fresh:
                self._event("claimed", d, expires_at=r.claim_expires_at.isoformat())
        elif d.action == ReviewAction.EXTEND:
            r.claim_expires_at = now + self._claim_idle  # no event: far too noisy
        elif d.action == ReviewAction.RELEASE:
            self._event("released", d, holder=r.claimed_by)
            r.claimed_by = r.claim_expires_at = None
        elif d.action == ReviewAction.REASSIGN:
            previous = self._holder(now)
            r.claimed_by = d.assignee
            r.claim_expires_at = now + self._claim_idle
            self._event("reassigned", d, **{"from": previous, "to": d.assignee})
        self._version += 1

    def _mark_applied(self, d: ReviewDecision) -> None:
        if d.decision_id:
            self._seen_ids.add(d.decision_id)
            self._applied_ids.add(d.decision_id)

    def _event(self, kind: str, d: ReviewDecision | None = None, **detail: Any) -> None:
        self._result.events.append(CaseEvent(
            at=workflow.now(), kind=kind, actor=d.clerk if d else "",
            decision_id=d.decision_id if d else "", detail=detail))

    # -- run ---------------------------------------------------------------

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseResult:
        started = workflow.now()
        info = workflow.info()
        self._local = not inp.steps_as_activities and workflow.patched(LIGHT_STEPS_LOCAL)
        self._ocr_queue = inp.ocr_task_queue or DEFAULT_OCR_TASK_QUEUE
        self._claim_idle = timedelta(minutes=inp.claim_idle_minutes)
        result = CaseResult(case_id=info.workflow_id, reference=inp.reference, file=inp.filename,
                            parent_case_id=inp.parent_case_id,
                            page_range=[min(inp.pages), max(inp.pages)] if inp.pages else None,
                            metadata=dict(inp.metadata), expected_type=inp.expected_type,
                            revision=inp.revision_base)
        self._result = result
        timings: dict[str, int] = {}
        try:
            register = RegisterInput(case_id=info.workflow_id, reference=inp.reference,
                                     blob_key=inp.blob_key, filename=inp.filename)
            read: ReadDocumentOutput | None = None
            if self._local and inp.filename.lower().endswith(".pdf") and workflow.patched(READ_IN_ONE_STEP):
                read = await self._read_in_one_step(inp, register, timings)
                content = self._content_read(read)
                if content is None:  # pages to OCR: the case is saved as processing while they are read
                    await self._save()
                    content = await self._ocr_timed(read.prepared, timings)
                else:
                    timings["ocr"] = 0
            else:
                reg = await self._light("register_original", register, RegisterOutput)
                result.sha256 = reg.sha256
                await self._save()
                content, ocr_ms = await self._read_pages(inp, timings)
            result.content_keys = content.content_keys
            if read is not None and read.classified is not None:
                classification, segments = read.classified.classification, read.classified.segments
                timings["classify"] = read.classified.duration_ms
            else:
                classification, segments = await self._classify(inp, content, timings)
            if segments:  # a scanned batch of several documents
                await self._run_batch(inp, segments, started, timings)
                return result
            if read is not None and read.extracted is not None:
                extraction = self._took_extraction(read.extracted, timings)
            else:
                extraction = await self._extract(classification.document_type, content, timings)
            for extra in inp.extra_files:  # further files of the submission: the case's attachments
                await self._attach(ReviewDecision(action=ReviewAction.ATTACH, clerk="", blob_key=extra.blob_key,
                                                  filename=extra.filename))
            result.due_at = None  # set when (and if) the case goes to review
        except Exception as err:  # noqa: BLE001 - nothing unforeseen may leave a case `processing`
            rejection = _rejection(err) if isinstance(err, ActivityError) else None
            if rejection is None or rejection[0] in INFRASTRUCTURE_CODES:
                # not the file's fault (retries used up, storage full, a bug): `failed`, then fail the workflow
                await self._fail(inp, err, timings, started)
            result.status = CaseStatus.REJECTED
            result.reason_code, result.reason = rejection
            self._keep_registration(inp, err)
            result.timings_ms = {**timings, "total": self._ms_since(started)}
            result.routed_at = workflow.now()
            self._event("routed", status=result.status.value, reasons=[result.reason_code])
            await self._save()
            await self._mark_routed(inp)
            await self._notify(inp)
            await workflow.wait_condition(workflow.all_handlers_finished)
            return result

        self._apply(classification, extraction)
        policy = inp.policies.get(classification.document_type, inp.default_policy)
        self._policy = policy
        decision = route(classification, extraction, policy)
        result.calibration_version = policy.calibration_version
        if inp.expected_type and classification.document_type != inp.expected_type:
            # the caller knows what it sent: a different type is for a clerk to settle
            decision.status = CaseStatus.NEEDS_REVIEW
            decision.reasons = [*decision.reasons, UNEXPECTED_TYPE]
        if result.linked_case_id:
            decision.status = CaseStatus.NEEDS_REVIEW
            decision.reasons = [*decision.reasons, LINKED_TO_CASE]
        result.review_reasons = decision.reasons
        result.timings_ms = {**timings, "total": self._ms_since(started)}
        result.status = decision.status
        result.routed_at = workflow.now()
        if result.status == CaseStatus.NEEDS_REVIEW:
            result.due_at = result.routed_at + timedelta(hours=policy.review_sla_hours)
        self._event("routed", status=result.status.value, reasons=list(decision.reasons))
        await self._save()
        await self._mark_routed(inp)

        if result.status == CaseStatus.NEEDS_REVIEW:
            self._notify_later(inp)  # the review does not wait for the receiver
            await self._await_review(inp, content)
        await self._notify(inp)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _fail(self, inp: CaseInput, err: Exception, timings: dict[str, int], started) -> None:
        """Store the case as `failed` with a clerk's reason, notify, then fail the workflow.

        Each step is best effort: if even the store is unreachable the
        workflow still fails, and ``formwerk.reconcile`` marks the case from
        the closed workflow. The reason names the step and the error's code
        or class, never its message (it may quote applicant data).
        """
        r = self._result
        step = ""
        if isinstance(err, ActivityError):
            cause = err.cause
            step = _failed_step(cause) or err.activity_type or ""
            # a FormwerkError crosses the boundary with its code as type and first detail
            known = (isinstance(cause, ApplicationError) and bool(cause.details)
                     and cause.details[0] == cause.type)
            code, reason = failures.activity_failure(
                step, cause.type if known else None, cause.message if known else None,
                timed_out=isinstance(cause, TemporalTimeoutError))
            error_type = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
        else:
            code, reason = failures.workflow_failure()
            error_type = type(err).__name__
        self._keep_registration(inp, err)
        r.status = CaseStatus.FAILED
        r.reason_code, r.reason = code, reason
        r.timings_ms = {**timings, "total": self._ms_since(started)}
        r.routed_at = workflow.now()
        self._event("failed", reason_code=code, error_type=error_type, activity=step)
        workflow.logger.warning("case failed: %s (%s in %s)", code, error_type, step or "workflow")
        try:
            await self._save()
        except ActivityError:
            pass  # the store is down too: the reconciler marks the case from the closed workflow
        try:
            await self._mark_routed(inp)
        except Exception:  # noqa: BLE001 - a vanished batch parent must not hide the failure
            self._routed = True
        if inp.webhook is not None and EVENT_OF_STATUS[CaseStatus.FAILED] in inp.webhook.events:
            try:
                await self._deliver(inp, CaseStatus.FAILED)
            except ActivityError:
                pass  # delivered or not, the delivery is recorded on the case
        if self._notifications:
            await asyncio.gather(*self._notifications, return_exceptions=True)
        await workflow.wait_condition(workflow.all_handlers_finished)
        raise ApplicationError(reason, code, type=code, non_retryable=True)

    def _keep_registration(self, inp: CaseInput, err: Exception) -> None:
        """``read_document`` registers the original before it reads it: when a later step of it
        failed, the original was found intact under its key, which is its SHA-256 (kept, and
        offered for download on the case)."""
        if (not self._result.sha256 and isinstance(err, ActivityError) and err.activity_type == "read_document"
                and _failed_step(err.cause) not in (None, "register_original")):
            self._result.sha256 = inp.blob_key.removeprefix("sha256:")

    # -- steps -------------------------------------------------------------

    async def _read_pages(self, inp: CaseInput, timings: dict[str, int]):
        t0 = workflow.now()
        prepared = await self._prepare(PrepareInput(blob_key=inp.blob_key, filename=inp.filename,
                                                    pages=inp.pages))
        self._result.page_count = len(prepared.pages)
        timings["pages"] = self._ms_since(t0)
        content = await self._ocr_timed(prepared, timings)
        return content, timings["ocr"]

    async def _read_in_one_step(self, inp: CaseInput, register: RegisterInput,
                                timings: dict[str, int]) -> ReadDocumentOutput:
        read = await self._light(
            "read_document",
            ReadDocumentInput(original=register, split=inp.pages is None, parent_case_id=inp.parent_case_id,
                              prepare=PrepareInput(blob_key=inp.blob_key, filename=inp.filename, pages=inp.pages)),
            ReadDocumentOutput, **PREPARE_LOCAL)
        self._result.sha256 = read.registered.sha256
        self._result.page_count = len(read.prepared.pages)
        timings["pages"] = read.prepared.duration_ms
        return read

    @staticmethod
    def _content_read(read: ReadDocumentOutput) -> ContentRef | None:
        """The pages ``read_document`` read from the PDF itself; None if some need OCR."""
        if read.classified is None:
            return None
        return ContentRef(content_keys=[p.content_key for p in read.prepared.pages],
                          acroform_key=read.prepared.acroform_key)

    async def _ocr_timed(self, prepared: PrepareOutput, timings: dict[str, int]) -> ContentRef:
        t1 = workflow.now()
        content = await self._ocr(prepared)
        timings["ocr"] = self._ms_since(t1) if any(p.needs_ocr for p in prepared.pages) else 0
        return content

    async def _ocr(self, prepared: PrepareOutput) -> ContentRef:
        # one activity per page, all pages at once: the OCR workers' slots
        # (one per core) decide how many really run in parallel
        jobs = [
            workflow.execute_activity(
                "ocr_page", OcrPageInput(page=p.page, image_key=p.image_key, source_key=p.source_key,
                                         dpi=p.dpi),
                task_queue=self._ocr_queue, result_type=OcrPageOutput, **OCR)
            for p in prepared.pages if p.needs_ocr
        ]
        ocr_results = {o.page: o.content_key for o in await asyncio.gather(*jobs)}
        keys = [p.content_key if not p.needs_ocr else ocr_results[p.page] for p in prepared.pages]
        return ContentRef(content_keys=keys, acroform_key=prepared.acroform_key, ocr_pages=len(ocr_results))

    async def _light(self, name: str, arg: Any, result_type: type | None = None, **options: Any) -> Any:
        """A light step: a local activity (LIGHT_STEPS_LOCAL), in older runs an activity."""
        options = options or SHORT
        if not self._local:
            return await workflow.execute_activity(name, arg, result_type=result_type, **options)
        try:
            return await workflow.execute_local_activity(name, arg, result_type=result_type, **options)
        except (ApplicationError, TemporalTimeoutError) as exc:
            raise _as_activity_error(name) from exc

    async def _prepare(self, inp: PrepareInput) -> PrepareOutput:
        """Split into pages: a PDF locally; an image file (decoded page by page, resumed after a
        retry from its heartbeats) as an activity."""
        if self._local and inp.filename.lower().endswith(".pdf"):
            return await self._light("prepare_document", inp, PrepareOutput, **PREPARE_LOCAL)
        return await workflow.execute_activity("prepare_document", inp, result_type=PrepareOutput, **PREPARE)

    async def _analyse(self, name: str, arg: Any, content: ContentRef, result_type: type) -> Any:
        """Classification or extraction: light for a document with a text layer or form fields;
        for OCR-read pages heavy (the encoder, second reads), on the analysis queue's per-core slots."""
        if self._local and content.ocr_pages:
            return await workflow.execute_activity(
                name, arg, result_type=result_type, task_queue=analysis_task_queue(workflow.info().task_queue),
                **SHORT)
        return await self._light(name, arg, result_type)

    async def _classify(self, inp: CaseInput, content: ContentRef, timings: dict[str, int]):
        out = await self._analyse("classify_document", ClassifyInput(content=content, split=inp.pages is None),
                                  content, ClassifyOutput)
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
        self._batch = True
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
        r.routed_at = workflow.now()
        self._event("routed", status=r.status.value, reasons=list(r.review_reasons))
        await self._save()
        self._routed = True
        await self._notify(inp)
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _extract(self, document_type: str, content: ContentRef,
                       timings: dict[str, int]) -> Extraction | None:
        out = await self._analyse(
            "extract_fields", ExtractInput(document_type=document_type, content=content,
                                           case_id=self._result.case_id,
                                           parent_case_id=self._result.parent_case_id),
            content, ExtractOutput)
        return self._took_extraction(out, timings)

    def _took_extraction(self, out: ExtractOutput, timings: dict[str, int]) -> Extraction | None:
        timings["extract"] = out.duration_ms
        self._result.pairs = list(out.pairs)  # unknown type only; a reclassification to a form clears them
        self._result.linked_case_id, self._result.linked_reference = out.linked_case_id, out.linked_reference
        return out.extraction

    def _apply(self, classification: Classification, extraction: Extraction | None) -> None:
        r = self._result
        r.document_type = classification.document_type
        r.document_type_confidence = round(classification.confidence, 4)
        r.classification_reasons = classification.reasons
        r.model_version = classification.model_version
        r.fields = dict(extraction.fields) if extraction else {}
        r.issues = list(extraction.issues) if extraction else []

    # -- review ------------------------------------------------------------

    def _next_deadline(self) -> datetime | None:
        r = self._result
        deadlines = []
        if r.claimed_by and r.claim_expires_at:
            deadlines.append(r.claim_expires_at)
        if r.due_at and not r.escalated and not r.awaiting_documents:
            deadlines.append(r.due_at)
        return min(deadlines) if deadlines else None

    async def _on_deadlines(self) -> None:
        """Expire a lapsed claim, escalate a breached SLA (each saved once)."""
        r = self._result
        now = workflow.now()
        changed = False
        if r.claimed_by and r.claim_expires_at and r.claim_expires_at <= now:
            self._event("claim_expired", holder=r.claimed_by)
            r.claimed_by = r.claim_expires_at = None
            changed = True
        if r.due_at and not r.escalated and not r.awaiting_documents and r.due_at <= now:
            r.escalated = True  # SLA breached: the supervisor queue shows it
            self._event("escalated", due_at=r.due_at.isoformat())
            changed = True
        if changed:
            await self._save()

    async def _await_review(self, inp: CaseInput, content: ContentRef) -> None:
        r = self._result
        while r.status == CaseStatus.NEEDS_REVIEW:
            if self._decision is None:
                version = self._version
                deadline = self._next_deadline()
                timeout = None if deadline is None else deadline - workflow.now()
                if timeout is None or timeout > timedelta(0):
                    try:
                        await workflow.wait_condition(
                            lambda: self._decision is not None or self._version != version,
                            timeout=None if timeout is None else max(timeout, timedelta(milliseconds=1)),
                        )
                    except asyncio.TimeoutError:
                        pass
                await self._on_deadlines()
                continue
            decision = self._decision
            await self._apply_decision(inp, content, decision)
            self._mark_applied(decision)
            self._decision = None

    async def _apply_decision(self, inp: CaseInput, content: ContentRef,
                              decision: ReviewDecision) -> None:
        r = self._result
        now = workflow.now()
        action = decision.action
        if action == ReviewAction.REJECT:
            r.reviewed_by = decision.clerk
            r.status = CaseStatus.REJECTED
            r.reason_code = decision.reason_code or "rejected_by_clerk"
            r.reason = decision.comment.strip() or "Der Antrag wurde bei der Prüfung abgelehnt."
            self._finish_claim()
            self._event("rejected", decision, reason_code=r.reason_code, comment=decision.comment)
        elif action == ReviewAction.REQUEST_DOCUMENTS:
            r.awaiting_documents = True
            self._add_reason(DOCUMENTS_REQUESTED)
            r.claimed_by = r.claim_expires_at = None  # back to the queue until the documents arrive
            self._event("documents_requested", decision, comment=decision.comment)
        elif action == ReviewAction.ATTACH:
            await self._attach(decision)
        elif action == ReviewAction.RECLASSIFY:
            await self._reclassify(inp, content, decision)
        elif action == ReviewAction.APPROVE:
            corrections = self._corrections(decision.corrections, decision.clerk, now,
                                            decision.decision_id)
            detail = _changes(corrections)
            if self._policy is not None and self._policy.four_eyes:
                # four eyes: a second, different person has to confirm
                r.pending_approval = PendingApproval(clerk=decision.clerk, at=now,
                                                     decision_id=decision.decision_id,
                                                     corrections=dict(decision.corrections))
                self._add_reason(AWAITING_CONFIRMATION)
                r.claimed_by = r.claim_expires_at = None
                self._event("approved", decision, corrections=detail, awaiting_confirmation=True)
            else:
                await self._complete(decision, corrections)
                self._event("approved", decision, corrections=detail)
        elif action == ReviewAction.CONFIRM:
            pending = r.pending_approval
            first = self._corrections(pending.corrections, pending.clerk, pending.at,
                                      pending.decision_id)
            own = self._corrections(decision.corrections, decision.clerk, now, decision.decision_id)
            await self._complete(decision, first + own)
            self._event("confirmed", decision, approved_by=pending.clerk, corrections=_changes(own))
        self._version += 1
        await self._save()

    def _corrections(self, values: dict[str, Any], clerk: str, at: datetime,
                     decision_id: str) -> list[Correction]:
        r = self._result
        return [Correction(field=name, machine_value=r.fields[name].value, corrected_value=value,
                           clerk=clerk, at=at, decision_id=decision_id)
                for name, value in values.items() if name in r.fields]

    async def _complete(self, decision: ReviewDecision, corrections: list[Correction]) -> None:
        r = self._result
        # the machine output in ``fields`` stays as it is; corrections are kept apart
        kept = [c for c in r.corrections if c.field == RECLASSIFICATION]
        r.corrections = kept + corrections
        if corrections:
            await self._light("save_corrections", SaveCorrectionsInput(case_id=r.case_id,
                                                                       corrections=corrections))
        r.reviewed_by = decision.clerk
        r.status = CaseStatus.COMPLETED
        r.pending_approval = None
        r.review_reasons = [x for x in r.review_reasons if x != AWAITING_CONFIRMATION]
        self._finish_claim()

    def _finish_claim(self) -> None:
        """The case is decided: nobody holds it, nothing is awaited any more."""
        r = self._result
        r.claimed_by = r.claim_expires_at = None
        r.awaiting_documents = False

    def _add_reason(self, reason: str) -> None:
        r = self._result
        if reason not in r.review_reasons:
            r.review_reasons = [*r.review_reasons, reason]

    async def _reclassify(self, inp: CaseInput, content: ContentRef, decision: ReviewDecision) -> None:
        # a clerk's word outranks the model: re-extract for the new type
        # and keep the case in review so the new fields get a look
        r = self._result
        previous = r.document_type
        correction = Correction(field=RECLASSIFICATION, machine_value=previous,
                                corrected_value=decision.document_type, clerk=decision.clerk,
                                at=workflow.now(), decision_id=decision.decision_id)
        # kept as a correction: reclassifications are training data
        await self._light("save_corrections", SaveCorrectionsInput(case_id=r.case_id, corrections=[correction]))
        r.corrections = [c for c in r.corrections if c.field != RECLASSIFICATION] + [correction]
        classification = Classification(
            document_type=decision.document_type, confidence=1.0,
            reasons=[f"Umklassifiziert durch {decision.clerk}"], model_version="human")
        extraction = await self._extract(decision.document_type, content, r.timings_ms)
        self._apply(classification, extraction)
        self._policy = inp.policies.get(decision.document_type, inp.default_policy)
        reasons = route(classification, extraction, self._policy).reasons  # flags the new fields
        r.calibration_version = self._policy.calibration_version
        if r.linked_case_id:
            reasons.append(LINKED_TO_CASE)
        if r.awaiting_documents:
            reasons.append(DOCUMENTS_REQUESTED)
        r.review_reasons = reasons
        r.pending_approval = None  # a four-eyes approval was given for the old type
        self._event("reclassified", decision, **{"from": previous, "to": decision.document_type})

    async def _attach(self, decision: ReviewDecision) -> None:
        """Read a requested document with the pipeline's own activities."""
        r = self._result
        now = workflow.now()
        try:
            reg = await self._light(
                "register_original",
                RegisterInput(case_id=r.case_id, reference=r.reference, blob_key=decision.blob_key,
                              filename=decision.filename), RegisterOutput)
            prepared = await self._prepare(PrepareInput(blob_key=decision.blob_key, filename=decision.filename))
            content = await self._ocr(prepared)
            classified = await self._analyse("classify_document", ClassifyInput(content=content, split=False),
                                             content, ClassifyOutput)
        except ActivityError as err:
            # a bad attachment must not break the case: note it, keep waiting for documents
            code, message = _rejection(err) or (
                "attachment_failed", "Der Anhang konnte nicht verarbeitet werden.")
            self._event("document_attached", decision, filename=decision.filename,
                        blob_key=decision.blob_key, rejected=message, reason_code=code)
            return
        c = classified.classification
        r.attachments = [*r.attachments, Attachment(
            blob_key=decision.blob_key, filename=decision.filename, sha256=reg.sha256,
            page_count=len(prepared.pages), document_type=c.document_type,
            document_type_confidence=round(c.confidence, 4), content_keys=content.content_keys,
            attached_by=decision.clerk, at=now)]
        r.awaiting_documents = False
        r.review_reasons = [x for x in r.review_reasons if x != DOCUMENTS_REQUESTED]
        sla = self._policy.review_sla_hours if self._policy else 48.0
        r.due_at = now + timedelta(hours=sla)
        self._event("document_attached", decision, filename=decision.filename,
                    blob_key=decision.blob_key, document_type=c.document_type,
                    page_count=len(prepared.pages))

    # -- webhooks ----------------------------------------------------------

    def _notify_later(self, inp: CaseInput) -> None:
        """Report the current status in the background (the case goes on meanwhile)."""
        if inp.webhook is not None and EVENT_OF_STATUS.get(self._result.status) in inp.webhook.events:
            self._notifications.append(asyncio.create_task(self._deliver(inp, self._result.status)))

    async def _notify(self, inp: CaseInput) -> None:
        """Report the case's final status, then wait for every delivery still running."""
        r = self._result
        if inp.webhook is not None and r.status in FINAL and EVENT_OF_STATUS[r.status] in inp.webhook.events:
            await self._deliver(inp, r.status)
        if self._notifications:
            await asyncio.gather(*self._notifications)

    async def _deliver(self, inp: CaseInput, status: CaseStatus) -> None:
        """One webhook message, retried by Temporal from seconds up to an hour for up to a day.

        The message id comes from the workflow's deterministic uuid: the same
        on every attempt (and on replay), so the receiver can deduplicate.
        """
        target = inp.webhook
        r = self._result
        event = EVENT_OF_STATUS[status]
        delivery = WebhookDelivery(webhook_id=f"msg_{workflow.uuid4().hex}", event=event, url=target.url,
                                   created_at=workflow.now())
        r.webhooks = [*r.webhooks, delivery]
        snapshot = r.model_copy(update={"events": [], "webhooks": []})
        retry = RetryPolicy(initial_interval=timedelta(seconds=target.retry_initial_seconds),
                            backoff_coefficient=2.0,
                            maximum_interval=timedelta(seconds=target.retry_max_seconds),
                            maximum_attempts=0, non_retryable_error_types=WEBHOOK_FINAL_ERRORS)
        message = DeliverWebhookInput(case_id=r.case_id, webhook_id=delivery.webhook_id, event=event,
                                      target=target, result=snapshot, created_at=delivery.created_at)
        try:
            out = None
            if self._local and workflow.patched(WEBHOOK_FIRST_ATTEMPT_LOCAL):
                out, wait = await self._first_attempt(message)
                if out is None:  # not delivered, not refused: the durable retries take over after the backoff
                    message.attempts_before = 1
                    await workflow.sleep(wait)
            if out is None:
                out = await workflow.execute_activity(
                    "deliver_webhook", message, result_type=DeliverWebhookOutput,
                    start_to_close_timeout=timedelta(seconds=target.timeout_seconds + 10),
                    schedule_to_close_timeout=timedelta(seconds=target.retry_for_seconds),
                    retry_policy=retry)
            delivery.status, delivery.attempts, delivery.status_code = "delivered", out.attempt, out.status_code
            self._event("webhook_delivered", webhook_id=delivery.webhook_id, event=event,
                        status_code=out.status_code, attempts=out.attempt)
        except ActivityError as err:
            cause = err.cause
            delivery.status = "failed"
            delivery.error = getattr(cause, "message", "") or str(err)
            if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], int):
                delivery.status_code = cause.details[0]
            self._event("webhook_failed", webhook_id=delivery.webhook_id, event=event,
                        error=delivery.error, status_code=delivery.status_code)
        delivery.finished_at = workflow.now()
        await self._save()

    async def _first_attempt(self, message: DeliverWebhookInput) -> tuple[DeliverWebhookOutput | None, timedelta]:
        """One attempt as a local activity: (the delivery, 0) or (None, the wait before the next attempt).

        A refusal for good (``WEBHOOK_FINAL_ERRORS``) is raised as from the activity.
        """
        target = message.target
        try:
            out = await workflow.execute_local_activity(
                "deliver_webhook", message, result_type=DeliverWebhookOutput,
                start_to_close_timeout=timedelta(seconds=target.timeout_seconds + 10),
                retry_policy=RetryPolicy(maximum_attempts=1))
            return out, timedelta(0)
        except ActivityError as err:
            cause = err.cause
        except (ApplicationError, TemporalTimeoutError) as err:
            cause = err
        if isinstance(cause, ApplicationError) and cause.type in WEBHOOK_FINAL_ERRORS:
            raise _as_activity_error("deliver_webhook") from cause
        wait = timedelta(seconds=target.retry_initial_seconds)
        if isinstance(cause, ApplicationError) and cause.next_retry_delay is not None:  # the receiver's Retry-After
            wait = cause.next_retry_delay
        return None, wait

    async def _save(self) -> None:
        self._result.revision += 1
        await self._light("save_result", SaveResultInput(result=self._result))

    @staticmethod
    def _ms_since(t) -> int:
        return int((workflow.now() - t).total_seconds() * 1000)
