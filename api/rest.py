"""The REST API for back-office systems (Fachverfahren), versioned under ``/api/v1``.

Start a case with a file under the caller's reference (idempotent), read its
status and result (optionally waiting until it is routed), fetch the
original and page images, upload documents a clerk requested, export the
result as JSON or (Gewerbe-Anmeldung) XGewerbeanzeige XML. Cases report back
by signed webhooks (formwerk.webhooks). Errors are RFC 9457 problem details
(api.problems). Reading comes from the case store the workflow keeps
current; every change goes to the case's workflow.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from api import rest_idempotency as idem
from api.problems import Problem, responses
from api.rest_auth import BodySizeLimit, scope
from api.rest_views import (
    ACCEPTED_EXAMPLE,
    CASE_EXAMPLE,
    PAGE_EXAMPLE,
    RESULT_EXAMPLE,
    UNKNOWN_CASE_EXAMPLE,
    XML_EXAMPLE,
    CaseAccepted,
    CaseOut,
    CasePage,
    CaseSummary,
    case_out,
    links,
)
from formwerk.models import CaseResult, CaseStatus, PageContent, ReviewAction, ReviewDecision, WebhookTarget
from formwerk.pagerender import stored_or_rendered_png
from formwerk.tokens import ApiToken

router = APIRouter(prefix="/api/v1", tags=["cases"])

AUTH = ("unauthorized", "token_invalid", "insufficient_scope", "rate_limited")
MAX_METADATA = 4096  # bytes of JSON
CaseId = Annotated[str, Path(description="the case id (``case-<reference>``)", examples=["case-FV-2026-0042"])]


def _st(request: Request):
    return request.app.state.formwerk


def _json_example(example: Any, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"example": example}}}


async def _stored(request: Request, case_id: str) -> CaseResult:
    st = _st(request)
    case = await asyncio.to_thread(st.cases.get, case_id)
    if case is None:
        from formwerk.review import case_state

        try:  # submitted a moment ago: the workflow knows it before the store does
            case = await case_state(await st.temporal(), case_id, None)
        except Exception:
            case = None
    if case is None:
        raise Problem("case_not_found", case_id=case_id)
    return case


def _updated_at(request: Request, case_id: str) -> datetime | None:
    from sqlalchemy import select

    from formwerk.db import _utc, cases

    with _st(request).cases.engine.connect() as conn:
        row = conn.execute(select(cases.c.updated_at).where(cases.c.case_id == case_id)).first()
    return _utc(row[0]) if row else None


def _fingerprint(reference, document_type, callback_url, metadata, notify_review, files) -> str:
    body = json.dumps([reference, document_type, callback_url, metadata, notify_review,
                       [(name, hashlib.sha256(data).hexdigest()) for name, data in files]], sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _webhook(request: Request, token: ApiToken, callback_url: str | None, notify_review: bool) -> WebhookTarget | None:
    from formwerk.webhooks import SubscriberStore, same_origin

    st = _st(request)
    sub = SubscriberStore(st.cases.engine).get(token.subscriber) if token.subscriber else None
    if sub is None:
        if callback_url:
            raise Problem("callback_not_allowed", reason=(
                "Für dieses Token ist kein Webhook-Empfänger eingerichtet "
                "(formwerk webhook add …; formwerk token create … --webhook NAME)."))
        return None
    url = callback_url or sub.url
    if not same_origin(sub.url, url):
        raise Problem("callback_not_allowed", reason=(
            f"Die Rückruf-URL muss auf dem Server des Empfängers liegen ({sub.url})."))
    events = list(sub.events)
    if notify_review and "case.needs_review" not in events:
        events.append("case.needs_review")
    s = st.settings
    return WebhookTarget(url=url, subscriber=sub.name, events=events,
                         retry_initial_seconds=s.webhook_retry_initial_seconds,
                         retry_max_seconds=s.webhook_retry_max_seconds,
                         retry_for_seconds=s.webhook_retry_for_hours * 3600,
                         timeout_seconds=s.webhook_timeout_seconds,
                         api_base_url=str(request.base_url).rstrip("/"))


def _metadata(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    if len(raw.encode("utf-8")) > MAX_METADATA:
        raise Problem("invalid_metadata", reason=f"höchstens {MAX_METADATA} Bytes")
    try:
        value = json.loads(raw)
    except ValueError:
        raise Problem("invalid_metadata", reason="kein JSON") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise Problem("invalid_metadata", reason="nur Texte als Werte")
    return value


def _accepted(case_id: str, reference: str, status: str, created: bool) -> JSONResponse:
    body = CaseAccepted(case_id=case_id, reference=reference, status=status, created=created,
                        links=links(case_id)).model_dump(mode="json")
    return JSONResponse(body, status_code=202 if created else 200,
                        headers={"Location": f"/api/v1/cases/{case_id}"})


@router.post(
    "/cases", status_code=202, response_model=CaseAccepted,
    summary="Start a case",
    description=(
        "Upload the application (`file`; further `file` parts become attachments of the case) under your own "
        "`reference`. Answers **202** with the case id and a `Location` at once; reading runs in the "
        "background. Idempotent on the reference: the same reference with the same file(s) (SHA-256) answers "
        "**200** with the existing case (`created: false`); the same reference with another file is **409** "
        "`reference_conflict`. Without a reference the file's hash is the reference. An `Idempotency-Key` "
        "header makes any retry safe: the same key and request answer with the first case, the same key with "
        "another request is **422**. `document_type` is what you expect it to be (another type goes to "
        "review); `callback_url` (on your webhook subscriber's server) receives the signed webhooks; "
        "`notify_review=true` also reports when the case starts waiting for a clerk; `metadata` is a JSON "
        "object of strings returned with the case."),
    responses={202: _json_example(ACCEPTED_EXAMPLE, "Case started"),
               200: _json_example({**ACCEPTED_EXAMPLE, "created": False}, "The reference names this case already"),
               **responses(*AUTH, "reference_conflict", "idempotency_key_reused", "idempotency_in_progress",
                           "file_missing", "file_too_large", "request_too_large", "unknown_document_type",
                           "invalid_metadata", "callback_not_allowed", "validation_failed",
                           "temporal_unavailable", scope="cases:submit")},
)
async def submit_case(
    request: Request,
    token: Annotated[ApiToken, Depends(scope("cases:submit"))],
    file: Annotated[list[UploadFile], File(description="the application first, then any attachments")],
    reference: Annotated[str | None, Form(max_length=500, description="your own reference, e.g. FV-2026-0042")] = None,
    document_type: Annotated[str | None, Form(description="the type you expect, e.g. gewerbeanmeldung")] = None,
    callback_url: Annotated[str | None, Form(max_length=2000, description="webhook URL (your subscriber's origin)")] = None,
    metadata: Annotated[str | None, Form(description='JSON object of strings, e.g. {"vorgang": "4711"}')] = None,
    notify_review: Annotated[bool, Form(description="also send case.needs_review")] = False,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
):
    from formwerk.intake import ReferenceConflict, submit

    st = _st(request)
    reference = (reference or "").strip() or None
    if document_type and document_type not in st.catalogue and document_type != "invoice":
        raise Problem("unknown_document_type", document_type=document_type, known=", ".join(st.catalogue.ids))
    meta = _metadata(metadata)
    files: list[tuple[str, bytes]] = []
    for f in file:
        data = await f.read()
        if len(data) > st.settings.max_file_bytes:
            raise Problem("file_too_large", filename=f.filename or "", limit=st.settings.max_file_bytes)
        files.append((f.filename or "upload", data))
    if not files or not files[0][1]:
        raise Problem("file_missing")
    webhook = _webhook(request, token, callback_url, notify_review)
    engine = st.cases.engine
    if idempotency_key:
        fp = _fingerprint(reference, document_type, callback_url, meta, notify_review, files)
        state, case_id = await asyncio.to_thread(idem.claim, engine, token.id, idempotency_key, fp)
        if state == "mismatch":
            raise Problem("idempotency_key_reused")
        if state == "in_flight":
            raise Problem("idempotency_in_progress", headers={"Retry-After": "1"})
        if state == "replay":
            case = await _stored(request, case_id)
            resp = _accepted(case_id, case.reference, case.status.value, created=True)
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
    try:
        sub = await submit(
            await st.temporal(), st.blobs, files[0][1], filename=files[0][0], reference=reference,
            task_queue=st.settings.task_queue, ocr_task_queue=st.settings.ocr_task_queue,
            policies=st.policies(), claim_idle_minutes=st.settings.claim_idle_minutes,
            webhook=webhook, expected_type=document_type, metadata=meta, extra_files=files[1:])
    except ReferenceConflict as exc:
        if idempotency_key:
            await asyncio.to_thread(idem.release, engine, token.id, idempotency_key)
        raise Problem("reference_conflict", reference=exc.reference, case_id=exc.case_id,
                      extra={"case_id": exc.case_id}) from None
    except Exception:
        if idempotency_key:
            await asyncio.to_thread(idem.release, engine, token.id, idempotency_key)
        raise
    if idempotency_key:
        await asyncio.to_thread(idem.complete, engine, token.id, idempotency_key, sub.case_id)
    # a case started by this request is processing; an existing one says where it stands
    stored = None if sub.created else await asyncio.to_thread(st.cases.get, sub.case_id)
    status = stored.status.value if stored else CaseStatus.PROCESSING.value
    return _accepted(sub.case_id, stored.reference if stored else (reference or files_key(files)), status,
                     sub.created)


def files_key(files: list[tuple[str, bytes]]) -> str:
    """The reference intake gives a case submitted without one: its file's content key."""
    return "sha256:" + hashlib.sha256(files[0][1]).hexdigest()


@router.get(
    "/cases/{case_id}", response_model=CaseOut,
    summary="A case: status, type, fields, history, webhooks",
    description=(
        "The case as it stands: status, document type with confidence, every field in the delivered view "
        "(normalised value, confidence, page, box in page pixels; a clerk's correction with who and when), "
        "for a document of unknown type (no form template) the question → answer `pairs` read from its pages "
        "and, when it cites an existing case's reference (a letter: \"Az.: FV-2026-0042\"), that case as "
        "`linked_case_id`, "
        "review history, timings, the documents of a split batch, attachments and every webhook attempt. "
        "`?wait=N` (seconds, at most the server's limit) answers as soon as the case is routed "
        "(completed, needs_review or rejected), so there is no need to poll."),
    responses={200: {"description": "The case", "content": {"application/json": {"examples": {
        "form": {"summary": "A Gewerbe-Anmeldung, a field corrected by a clerk", "value": CASE_EXAMPLE},
        "unknown": {"summary": "A letter (unknown type): question → answer pairs, no fields, the case it cites",
                    "value": UNKNOWN_CASE_EXAMPLE}}}}},
               **responses(*AUTH, "case_not_found")},
)
async def get_case(request: Request, case_id: CaseId,
                   token: Annotated[ApiToken, Depends(scope("cases:read"))],
                   wait: Annotated[float, Query(ge=0, description="seconds to wait for routing")] = 0):
    from formwerk.webhooks import AttemptStore

    st = _st(request)
    case = await _stored(request, case_id)
    if wait and case.status == CaseStatus.PROCESSING:
        from formwerk.commands import wait_routed

        handle = (await st.temporal()).get_workflow_handle(case_id, result_type=CaseResult)
        try:
            await wait_routed(handle, min(wait, st.settings.api_max_wait_seconds))
        except (asyncio.TimeoutError, Exception):  # not routed in time (or gone): answer what is known
            pass
        case = await _stored(request, case_id)
    attempts = await asyncio.to_thread(AttemptStore(st.cases.engine).for_case, case_id)
    children = {}
    for d in case.documents:
        child = await asyncio.to_thread(st.cases.get, d.case_id)
        if child is not None:
            children[d.case_id] = child
    updated = await asyncio.to_thread(_updated_at, request, case_id)
    return case_out(case, attempts=attempts, children=children, updated_at=updated)


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        at, case_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return datetime.fromisoformat(at), str(case_id)
    except Exception:
        raise Problem("invalid_cursor") from None


@router.get(
    "/cases", response_model=CasePage,
    summary="List cases (filters, cursor pages)",
    description=(
        "Cases in the order they last changed, oldest first: filter by `status`, `document_type` and "
        "`updated_since` (ISO 8601); `limit` per page (≤ 500). Pass `next_cursor` as `cursor` for the next "
        "page. To keep a back-office system in sync, remember the last `updated_at` and ask with "
        "`updated_since` next time."),
    responses={200: _json_example(PAGE_EXAMPLE, "One page of cases"),
               **responses(*AUTH, "invalid_cursor", "validation_failed")},
)
async def list_cases(request: Request, token: Annotated[ApiToken, Depends(scope("cases:read"))],
                     status: Annotated[CaseStatus | None, Query(description="only this status")] = None,
                     document_type: Annotated[str | None, Query(description="only this type")] = None,
                     updated_since: Annotated[datetime | None, Query(description="ISO 8601")] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     cursor: Annotated[str | None, Query(description="from next_cursor")] = None):
    after = _cursor(cursor)
    rows = await asyncio.to_thread(_st(request).cases.page, status=status.value if status else None,
                                   document_type=document_type, updated_since=updated_since, after=after,
                                   limit=limit)
    items = [CaseSummary(case_id=c.case_id, reference=c.reference, status=c.status.value,
                         document_type=c.document_type, updated_at=at,
                         links=links(c.case_id, c.document_type, c.status.value)) for c, at in rows]
    nxt = None
    if len(rows) == limit:
        last_case, last_at = rows[-1]
        nxt = base64.urlsafe_b64encode(json.dumps([last_at.isoformat(), last_case.case_id]).encode()).decode().rstrip("=")
    return CasePage(items=items, next_cursor=nxt)


@router.get(
    "/cases/{case_id}/result.json",
    summary="The result (FORMS.md field names)",
    description=(
        "The case's result in the public contract of PRODUCT.md (the same object `formwerk process --json` "
        "prints), with the clerks' corrections merged, plus your `reference` and `metadata`. **409** while "
        "the case is still being read."),
    responses={200: _json_example(RESULT_EXAMPLE, "The result"),
               **responses(*AUTH, "case_not_found", "case_processing")},
)
async def result_json(request: Request, case_id: CaseId, token: Annotated[ApiToken, Depends(scope("cases:read"))]):
    case = await _stored(request, case_id)
    if case.status == CaseStatus.PROCESSING:
        raise Problem("case_processing", case_id=case_id)
    return JSONResponse({**case.contract_json(), "reference": case.reference, "metadata": case.metadata})


@router.get(
    "/cases/{case_id}/xgewerbeanzeige.xml",
    summary="XGewerbeanzeige export (Gewerbe-Anmeldung)",
    description=(
        "A completed Gewerbe-Anmeldung as XGewerbeanzeige 2.2-shaped XML (`abh.gewerbemeldung.0500`), "
        "validated against Formwerk's subset schema (`forms/xsd/xgewerbeanzeige-2.2-formwerk.xsd`) before it "
        "is sent. **409** for other types or while the case is not completed."),
    responses={200: {"description": "The export", "content": {"application/xml": {"example": XML_EXAMPLE}}},
               **responses(*AUTH, "case_not_found", "export_not_available")},
)
async def xgewerbeanzeige(request: Request, case_id: CaseId,
                          token: Annotated[ApiToken, Depends(scope("cases:read"))]):
    from formwerk.xgewerbe import ExportError, build

    case = await _stored(request, case_id)
    try:
        data = await asyncio.to_thread(build, case)
    except ExportError as exc:
        raise Problem("export_not_available", reason=exc.message) from None
    return Response(data, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{case_id}.xml"'})


@router.get(
    "/cases/{case_id}/original",
    summary="The original file",
    description="The file as it was submitted (byte for byte; its SHA-256 is the case's `sha256`). Scope `documents:read`.",
    responses={200: {"description": "The original", "content": {"application/pdf": {"example": "%PDF-1.7 …"}}},
               **responses(*AUTH, "case_not_found", "original_purged", scope="documents:read",
                           purged_on="2026-03-01")},
)
async def original(request: Request, case_id: CaseId, token: Annotated[ApiToken, Depends(scope("documents:read"))]):
    from api.problems import original_purged
    from formwerk.documents.sniff import sniff

    st = _st(request)
    case = await _stored(request, case_id)
    if case.purged_originals_at:  # deleted under the retention period: say so, not "not found"
        raise original_purged(case)
    key = f"sha256:{case.sha256}"
    if not case.sha256 or not st.blobs.exists(key):
        raise Problem("case_not_found", case_id=case_id)
    data = await asyncio.to_thread(st.blobs.get, key)
    try:
        kind = sniff(data).value
    except Exception:
        kind = "bin"
    media = {"pdf": "application/pdf", "tiff": "image/tiff", "png": "image/png", "jpeg": "image/jpeg"}.get(
        kind, "application/octet-stream")
    return Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{case.file or case_id}"', "Cache-Control": "private, immutable"})


@router.get(
    "/cases/{case_id}/pages/{page}",
    summary="A page image (PNG)",
    description=("Page `page` (from 1) of the case as read: rendered at the page's dpi, turned upright and "
                 "deskewed; field boxes are in this image's pixels. Scope `documents:read`."),
    responses={200: {"description": "The page", "content": {"image/png": {"example": "(PNG bytes)"}}},
               **responses(*AUTH, "case_not_found", "page_not_found", "original_purged", scope="documents:read",
                           purged_on="2026-03-01")},
)
async def page_image(request: Request, case_id: CaseId, page: Annotated[int, Path(ge=1, examples=[1])],
                     token: Annotated[ApiToken, Depends(scope("documents:read"))]):
    from api.problems import original_purged

    st = _st(request)
    case = await _stored(request, case_id)
    if case.purged_originals_at:  # the page images went with the original: 410, not "no such page"
        raise original_purged(case)
    if page > len(case.content_keys):
        raise Problem("page_not_found", page=page)
    content = PageContent.model_validate_json(await asyncio.to_thread(st.blobs.get, case.content_keys[page - 1]))
    data = await asyncio.to_thread(stored_or_rendered_png, st.blobs, st.rendered_pages, content.image_key,
                                   content.source_key, content.page, content.dpi, content.skew_corrected)
    if data is None:
        raise Problem("page_not_found", page=page)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.post(
    "/cases/{case_id}/documents", status_code=202, response_model=CaseAccepted,
    summary="Upload requested documents",
    description=(
        "A document a clerk asked for (the case is waiting for review, usually with `awaiting_documents`): "
        "stored first, then read by the case's pipeline as an attachment; the review resumes. With an "
        "`Idempotency-Key` a retried upload is applied once. **409** when the case does not take documents "
        "(finished, or not yet routed)."),
    responses={202: _json_example({**ACCEPTED_EXAMPLE, "status": "needs_review"}, "Document taken"),
               **responses(*AUTH, "case_not_found", "review_refused", "file_missing", "file_too_large",
                           "request_too_large", scope="cases:submit")},
)
async def upload_documents(
    request: Request, case_id: CaseId, token: Annotated[ApiToken, Depends(scope("cases:submit"))],
    file: Annotated[UploadFile, File(description="the requested document")],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
):
    from formwerk.review import ReviewRefused, send_decision

    st = _st(request)
    await _stored(request, case_id)
    data = await file.read()
    if not data:
        raise Problem("file_missing")
    if len(data) > st.settings.max_file_bytes:
        raise Problem("file_too_large", filename=file.filename or "", limit=st.settings.max_file_bytes)
    key = await asyncio.to_thread(st.blobs.put, data)
    decision_id = "api-" + hashlib.sha256(f"{token.id}:{idempotency_key or uuid.uuid4().hex}".encode()).hexdigest()[:32]
    decision = ReviewDecision(action=ReviewAction.ATTACH, clerk=f"api:{token.name}", decision_id=decision_id,
                              blob_key=key, filename=file.filename or "")
    try:
        case = await send_decision(await st.temporal(), case_id, decision, st.cases)
    except ReviewRefused as exc:
        raise Problem("review_refused", reason=exc.message) from None
    return _accepted(case_id, case.reference, case.status.value, created=True)


def install(app) -> None:
    """Include the API in the web app: its router, problem+json handlers, the body size limit."""
    from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler

    from api import problems

    app.include_router(router)
    _clerk_screen_deliveries(app)
    problems.install(app, http_exception_handler, request_validation_exception_handler)
    app.add_middleware(BodySizeLimit, limit_of=lambda: app.state.formwerk.settings.api_max_request_bytes)


def _clerk_screen_deliveries(app) -> None:
    """``webhook_deliveries(case)`` for the clerk's case screen (case.html): messages and attempts."""
    from formwerk.webhooks import AttemptStore, deliveries_of

    def webhook_deliveries(case: CaseResult) -> list[dict]:
        try:
            attempts = AttemptStore(app.state.formwerk.cases.engine).for_case(case.case_id)
        except Exception:  # the screen must open even if this part cannot be read
            attempts = []
        return deliveries_of(case, attempts)

    app.state.templates.env.globals["webhook_deliveries"] = webhook_deliveries
