"""The clerks' pages: login, the review queue, the case screen and its actions.

Reading comes from the case store the activities keep current (instant);
every change goes to the case's workflow as a Temporal update, whose
validator has the last word (claims, four-eyes, roles). Every POST checks
the CSRF token first and the role second; nothing relies on the page.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.app import render
from api.audit import record
from api.fieldview import check, corrections_from_form, field_label, field_views
from api.i18n import LANGUAGES, REJECT_REASONS, Translator
from api.security import (
    SUPERVISOR_ROLES,
    check_csrf,
    current_user,
    reviewer,
    sign_in,
    sign_out,
    supervisor,
)
from formwerk.db import QueueFilter
from formwerk.models import CaseResult, CaseStatus, PageContent, ReviewAction, ReviewDecision
from formwerk.pagerender import stored_or_rendered_png
from formwerk.review import ReviewRefused, send_decision

router = APIRouter()
log = logging.getLogger("formwerk.api")

PER_PAGE = 25


def _state(request: Request):
    return request.app.state.formwerk


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _flash(request: Request, key: str, level: str = "success", **values) -> None:
    request.session["flash"] = {"key": key, "level": level, "values": values}


def _safe_next(target: str | None) -> str:
    # only local paths: no open redirect through the login form
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/queue"


# -- login -----------------------------------------------------------------


@router.get("/")
async def home(request: Request):
    return _see_other("/queue")


@router.get("/login")
async def login_page(request: Request, next: str = "/queue"):
    from formwerk.user_commands import no_users_hint

    no_users = _state(request).users.count() == 0
    return render(request, "login.html", next=_safe_next(next), no_users=no_users,
                  no_users_command="formwerk user add NAME --role admin" if no_users else "",
                  hint=no_users_hint() if no_users else "")


@router.post("/login")
async def login(request: Request):
    await check_csrf(request)
    form = await request.form()
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    client = request.client.host if request.client else ""
    result = _state(request).users.authenticate(username, password, client=client)
    if result.user is None:
        # slow down guessing: the store says how long, growing with recent failures
        await asyncio.sleep(result.delay_s)
        return render(request, "login.html", status_code=401, next=_safe_next(form.get("next")),
                      error_key="login.locked" if result.locked else "login.failed",
                      username=username, no_users=False)
    sign_in(request, result.user)
    return _see_other(_safe_next(str(form.get("next") or "")))


@router.post("/logout")
async def logout(request: Request):
    await check_csrf(request)
    sign_out(request)
    request.session["flash"] = {"key": "login.logged_out", "level": "info", "values": {}}
    return _see_other("/login")


@router.post("/language")
async def language(request: Request):
    await check_csrf(request)
    user = current_user(request)
    form = await request.form()
    lang = str(form.get("language") or "")
    if lang in LANGUAGES:
        _state(request).users.set_language(user.id, lang)
    return _see_other(_safe_next(str(form.get("next") or "")))


# -- queue -----------------------------------------------------------------


def _doc_type_label(t: Translator, catalogue, type_id: str | None) -> str:
    if not type_id:
        return "–"
    if type_id in catalogue:
        return catalogue.get(type_id).title
    key = f"doctype.{type_id}"
    return t(key) if t.has(key) else type_id


def _labeller(catalogue, type_id: str | None, t: Translator | None = None):
    form = catalogue.get(type_id) if type_id and type_id in catalogue else None
    return lambda name: field_label(form, name, t)


REASON_KINDS = ("low_confidence", "unreadable", "missing", "invalid", "rule", "unknown_document_type",
                "low_type_confidence", "four_eyes", "documents_requested", "awaiting_confirmation",
                "linked_to_case")


@router.get("/queue")
async def queue(request: Request, type: str = "", reason: str = "", escalated: str = "",
                mine: str = "", sort: str = "due", desc: str = "", page: int = 1):
    user = reviewer(request)
    request.state.user = user
    if escalated and user.role not in SUPERVISOR_ROLES:
        from api.security import Forbidden

        raise Forbidden()
    st = _state(request)
    t = Translator(user.language)
    flt = QueueFilter(
        document_type=type or None, reason=reason or None, escalated=True if escalated else None,
        claimed_by=user.username if mine else None,
        sort=sort if sort in ("due", "age", "type") else "due", descending=bool(desc),
        page=max(1, page), per_page=PER_PAGE,
    )
    rows, total = st.cases.review_queue(flt)
    now = datetime.now(timezone.utc)
    items = []
    for case in rows:
        label = _labeller(st.catalogue, case.document_type, t)
        reasons = [t.reason(code, label) for code in case.review_reasons]
        holder = case.claimed_by if case.claimed_by and case.claim_expires_at and case.claim_expires_at > now else None
        items.append({
            "case": case, "type": _doc_type_label(t, st.catalogue, case.document_type),
            "reasons": reasons[:3], "more": max(0, len(reasons) - 3),
            "age": t.age(case.routed_at, now), "due": t.datetime(case.due_at),
            "overdue": bool(case.due_at and case.due_at < now), "holder": holder,
        })
    pages = max(1, math.ceil(total / PER_PAGE))
    params = {k: v for k, v in dict(type=type, reason=reason, escalated=escalated, mine=mine,
                                     sort=sort, desc=desc).items() if v}
    types = [(f.id, f.title) for f in st.catalogue] + [("unknown", t("doctype.unknown"))]
    return render(request, "queue.html", items=items, total=total, page=flt.page, pages=pages,
                  params=params, query=lambda **kw: urlencode({**params, **kw}),
                  types=types, reason_kinds=REASON_KINDS, flt=flt, escalated_view=bool(escalated))


@router.post("/queue/next")
async def open_next(request: Request):
    await check_csrf(request)
    user = reviewer(request)
    st = _state(request)
    # a few tries: another clerk may claim the same case between our read and our claim
    for _ in range(5):
        case = st.cases.next_for(user.username, datetime.now(timezone.utc))
        if case is None:
            break
        try:
            await _decide(request, user, case.case_id, ReviewAction.CLAIM)
            return _see_other(f"/cases/{quote(case.case_id)}")
        except ReviewRefused:
            continue
    _flash(request, "queue.none_next", "info")
    return _see_other("/queue")


# -- case screen -------------------------------------------------------------


async def _decide(request: Request, user, case_id: str, action: ReviewAction,
                  decision_id: str | None = None, **kwargs) -> CaseResult:
    st = _state(request)
    decision = ReviewDecision(action=action, clerk=user.username, role=user.role.value,
                              decision_id=decision_id or uuid.uuid4().hex, **kwargs)
    client = await st.temporal()
    result = await send_decision(client, case_id, decision, store=st.cases)
    # the decision, never the values: corrected field names, codes, ids
    await record(request, user.username, "case.decision", case_id, decision=action.value,
                 decision_id=decision.decision_id, fields=sorted(decision.corrections),
                 **{k: kwargs[k] for k in ("document_type", "reason_code", "assignee") if kwargs.get(k)})
    return result


def _load_case(request: Request, case_id: str) -> CaseResult:
    case = _state(request).cases.get(case_id)
    if case is None:
        from fastapi import HTTPException

        raise HTTPException(status_code=404)
    return case


@router.post("/cases/{case_id}/open")
async def open_case(request: Request, case_id: str):
    """Opening a case claims it; a case held by someone else opens read-only."""
    await check_csrf(request)
    user = reviewer(request)
    case = _load_case(request, case_id)
    if case.status == CaseStatus.NEEDS_REVIEW:
        try:
            await _decide(request, user, case_id, ReviewAction.CLAIM)
        except ReviewRefused as exc:
            request.session["flash"] = {"text": exc.message, "level": "warning"}
    return _see_other(f"/cases/{quote(case_id)}")


@dataclass(frozen=True)
class _PageMeta:
    image_key: str | None  # the stored (upright) image of a scanned page
    source_key: str | None  # the original, for pages rendered on demand
    number: int
    dpi: int
    width: int
    height: int
    skew: float = 0.0  # a scanned page rendered on demand is levelled as it was read

    @property
    def viewable(self) -> bool:
        return bool(self.image_key or self.source_key)

    @property
    def cache_key(self) -> str:
        return self.image_key or f"{self.source_key}#{self.number}@{self.dpi}~{self.skew}"


@lru_cache(maxsize=512)
def _page_meta(blobs, key: str) -> _PageMeta:
    page = PageContent.model_validate_json(blobs.get(key))
    return _PageMeta(page.image_key, page.source_key, page.page, page.dpi, page.width, page.height,
                     page.skew_corrected)


def _pages(request: Request, case: CaseResult) -> list[dict]:
    st = _state(request)
    out = []
    first = case.page_range[0] if case.page_range else 1
    for i, key in enumerate(case.content_keys):
        meta = _page_meta(st.blobs, key)
        out.append({"index": i + 1, "number": first + i, "width": meta.width, "height": meta.height,
                    "url": f"/cases/{quote(case.case_id)}/pages/{i + 1}"})
    return out


@router.get("/cases/{case_id}")
async def case_screen(request: Request, case_id: str):
    user = reviewer(request)
    request.state.user = user
    st = _state(request)
    case = _load_case(request, case_id)
    await record(request, user.username, "case.view", case_id)
    t = Translator(user.language)
    now = datetime.now(timezone.utc)
    form = st.catalogue.get(case.document_type) if case.document_type in st.catalogue else None
    views = field_views(case, form, t)
    claim_live = bool(case.claimed_by and case.claim_expires_at and case.claim_expires_at > now)
    mine = claim_live and case.claimed_by == user.username
    editable = case.status == CaseStatus.NEEDS_REVIEW and mine
    holder = None
    if claim_live and not mine:
        holder_user = st.users.get(case.claimed_by)
        holder = holder_user.display_name if holder_user and holder_user.display_name else case.claimed_by
    pending = case.pending_approval
    label = _labeller(st.catalogue, case.document_type, t)
    policy = form.policy if form else None
    return render(
        request, "case.html", case=case, views=views, flagged=[v for v in views if v.flagged],
        others=[v for v in views if not v.flagged], editable=editable, mine=mine, holder=holder,
        pages=_pages(request, case), doc_type=_doc_type_label(t, st.catalogue, case.document_type),
        reasons=[t.reason(code, label) for code in case.review_reasons],
        general_reasons=[t.reason(code, label) for code in case.review_reasons if ":" not in code
                         or code.startswith("rule:")],
        field_reasons={v.name: [t.reason(c, label) for c in v.reasons] for v in views},
        types=[(f.id, f.title) for f in st.catalogue] + [("unknown", t("doctype.unknown"))],
        reject_reasons=REJECT_REASONS, decision_id=uuid.uuid4().hex,
        four_eyes=bool(policy and policy.four_eyes), pending=pending,
        own_pending=bool(pending and pending.clerk == user.username),
        history=st.cases.history(case_id), corrections=st.cases.corrections_for(case_id),
        label=label, is_supervisor=user.role in SUPERVISOR_ROLES,
        reviewers=[u for u in st.users.list() if u.active] if user.role in SUPERVISOR_ROLES else [],
        extend_every_s=max(5, int(st.settings.claim_idle_minutes * 60 / 3)),
        boxes=json.dumps({v.name: v.box for v in views if v.box}),
    )


DISPLAY_WIDTH = 2000  # px: sharp at the viewer's 3x zoom, a tenth of the 300 dpi PNG's bytes


def _page_png(st, meta: _PageMeta) -> bytes:
    return stored_or_rendered_png(st.blobs, st.rendered_pages, meta.image_key, meta.source_key,
                                  meta.number, meta.dpi, meta.skew)


def _display_image(original: bytes, width: int) -> tuple[bytes, str]:
    """The page scaled to ``width`` as JPEG (what the browser shows); boxes are in
    percent of the page, so they fit any size. Returns (bytes, media type)."""
    from PIL import Image

    img = Image.open(io.BytesIO(original))
    if img.width <= width:
        return original, "image/png"
    img = img.convert("L") if img.mode not in ("L", "RGB") else img
    img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85, optimize=True)
    return buf.getvalue(), "image/jpeg"


@router.get("/cases/{case_id}/pages/{index}")
async def page_image(request: Request, case_id: str, index: int, full: int = 0):
    user = reviewer(request)
    st = _state(request)
    case = _load_case(request, case_id)
    if not 1 <= index <= len(case.content_keys):
        return Response(status_code=404)
    meta = _page_meta(st.blobs, case.content_keys[index - 1])
    if not meta.viewable:
        return Response(status_code=404)
    await record(request, user.username, "case.page_image", case_id, page=index, full=bool(full))
    if full:
        data, media = await asyncio.to_thread(_page_png, st, meta), "image/png"
    else:
        cache = st.display_images
        if meta.cache_key not in cache:
            png = await asyncio.to_thread(_page_png, st, meta)
            cache[meta.cache_key] = await asyncio.to_thread(_display_image, png, DISPLAY_WIDTH)
            while len(cache) > 64:  # a few clerks' current cases; older ones are re-made on demand
                cache.pop(next(iter(cache)))
        data, media = cache[meta.cache_key]
    # content-addressed: the same key always has the same bytes
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.post("/cases/{case_id}/validate")
async def validate_field(request: Request, case_id: str):
    """Check one typed value with the pipeline's normaliser and validators."""
    await check_csrf(request)
    user = reviewer(request)
    st = _state(request)
    case = _load_case(request, case_id)
    body = await request.json()
    name, text = str(body.get("field", "")), str(body.get("value", ""))
    form = st.catalogue.get(case.document_type) if case.document_type in st.catalogue else None
    views = {v.name: v for v in field_views(case, form)}
    view = views.get(name)
    if view is None:
        return JSONResponse({"ok": False, "message": ""}, status_code=404)
    t = Translator(user.language)
    if view.type in ("choice", "table"):
        return JSONResponse({"ok": True, "message": ""})
    checked = check(view.type, view.validators, text)
    if checked.unparseable:
        msg = t("validation.unparseable", type=t(f"type.{view.type}"))
    else:
        msg = " ".join(checked.messages)
    return JSONResponse({"ok": checked.ok, "message": msg, "value": checked.value,
                         "changed": text.strip() != view.text.strip()})


async def _action(request: Request, case_id: str, action: ReviewAction, **kwargs):
    user = reviewer(request)
    form = await request.form()
    decision_id = str(form.get("decision_id") or "") or None
    try:
        await _decide(request, user, case_id, action, decision_id=decision_id, **kwargs)
    except ReviewRefused as exc:
        request.session["flash"] = {"text": exc.message, "level": "danger"}
        return None
    return user


@router.post("/cases/{case_id}/extend")
async def extend_claim(request: Request, case_id: str):
    await check_csrf(request)
    user = reviewer(request)
    try:
        case = await _decide(request, user, case_id, ReviewAction.EXTEND)
    except ReviewRefused as exc:
        return JSONResponse({"ok": False, "message": exc.message}, status_code=409)
    return JSONResponse({"ok": True, "until": case.claim_expires_at.isoformat() if case.claim_expires_at else None})


@router.post("/cases/{case_id}/claim")
async def claim(request: Request, case_id: str):
    await check_csrf(request)
    await _action(request, case_id, ReviewAction.CLAIM)
    return _see_other(f"/cases/{quote(case_id)}")


@router.post("/cases/{case_id}/release")
async def release(request: Request, case_id: str):
    await check_csrf(request)
    await _action(request, case_id, ReviewAction.RELEASE)
    return _see_other("/queue")


@router.post("/cases/{case_id}/reassign")
async def reassign(request: Request, case_id: str):
    await check_csrf(request)
    supervisor(request)
    form = await request.form()
    assignee = str(form.get("assignee") or "")
    if not _state(request).users.get(assignee):
        request.session["flash"] = {"text": assignee, "level": "danger"}
        return _see_other(f"/cases/{quote(case_id)}")
    await _action(request, case_id, ReviewAction.REASSIGN, assignee=assignee)
    return _see_other(f"/cases/{quote(case_id)}")


@router.post("/cases/{case_id}/approve")
async def approve(request: Request, case_id: str):
    """Approve with the clerk's corrections (or confirm a four-eyes approval)."""
    await check_csrf(request)
    user = reviewer(request)
    request.state.user = user
    st = _state(request)
    case = _load_case(request, case_id)
    form_def = st.catalogue.get(case.document_type) if case.document_type in st.catalogue else None
    t = Translator(user.language)
    views = field_views(case, form_def, t)
    form = await request.form()
    corrections, errors = corrections_from_form(views, form)
    if errors:
        request.session["flash"] = {"key": "case.invalid_before_submit", "level": "danger", "values": {},
                                    "detail": [f"{field_label(form_def, n, t)}: {'; '.join(m)}" for n, m in errors.items()]}
        return _see_other(f"/cases/{quote(case_id)}")
    action = ReviewAction.CONFIRM if case.pending_approval else ReviewAction.APPROVE
    if await _action(request, case_id, action, corrections=corrections) is None:
        return _see_other(f"/cases/{quote(case_id)}")
    _flash(request, "case.decision_done")
    return _see_other("/queue")


@router.post("/cases/{case_id}/reclassify")
async def reclassify(request: Request, case_id: str):
    await check_csrf(request)
    form = await request.form()
    new_type = str(form.get("document_type") or "")
    if new_type not in _state(request).catalogue and new_type != "unknown":
        return Response(status_code=422)
    if await _action(request, case_id, ReviewAction.RECLASSIFY, document_type=new_type) is not None:
        _flash(request, "case.decision_done")
    return _see_other(f"/cases/{quote(case_id)}")


@router.post("/cases/{case_id}/reject")
async def reject(request: Request, case_id: str):
    await check_csrf(request)
    form = await request.form()
    code = str(form.get("reason_code") or "other")
    code = code if code in REJECT_REASONS else "other"
    comment = str(form.get("comment") or "").strip()
    if not comment:
        comment = Translator("de")(f"reject.{code}")  # the delivered reason is German
    if await _action(request, case_id, ReviewAction.REJECT, reason_code=code, comment=comment) is None:
        return _see_other(f"/cases/{quote(case_id)}")
    _flash(request, "case.decision_done")
    return _see_other("/queue")


@router.post("/cases/{case_id}/request-documents")
async def request_documents(request: Request, case_id: str):
    await check_csrf(request)
    form = await request.form()
    comment = str(form.get("comment") or "").strip()
    if await _action(request, case_id, ReviewAction.REQUEST_DOCUMENTS, comment=comment) is not None:
        _flash(request, "case.decision_done")
    return _see_other(f"/cases/{quote(case_id)}")


@router.post("/cases/{case_id}/attach")
async def attach(request: Request, case_id: str):
    """A requested document arrives: stored first, then read by the case's workflow."""
    await check_csrf(request)
    user = reviewer(request)
    form = await request.form()
    upload = form.get("file")
    if upload is None or not hasattr(upload, "read"):
        return Response(status_code=422)
    data = await upload.read()
    if not data:
        return Response(status_code=422)
    max_bytes = _state(request).settings.max_file_bytes
    if len(data) > max_bytes:
        return Response(status_code=413)
    key = await asyncio.to_thread(_state(request).blobs.put, data)
    try:
        await _decide(request, user, case_id, ReviewAction.ATTACH,
                      decision_id=str(form.get("decision_id") or "") or None,
                      blob_key=key, filename=upload.filename or "")
    except ReviewRefused as exc:
        request.session["flash"] = {"text": exc.message, "level": "danger"}
        return _see_other(f"/cases/{quote(case_id)}")
    _flash(request, "case.decision_done")
    return _see_other(f"/cases/{quote(case_id)}")
