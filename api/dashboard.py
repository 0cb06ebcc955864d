"""The supervisors' dashboard (``/dashboard`` and its JSON twin) and Prometheus ``/metrics``.

The figures come from ``formwerk.stats`` (SQL on the case store, no case
loaded into Python); this module only picks the time range, labels and
formats them, and draws the charts as server-side SVG (``api.charts``).
``/dashboard.json`` returns the very same figures, so page and data cannot
drift apart.
"""

from __future__ import annotations

import hmac
from datetime import date, datetime, timezone

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.app import render
from api.charts import Series, hbars, stacked_bars
from api.fieldview import field_label
from api.i18n import Translator
from api.security import supervisor
from formwerk import stats

router = APIRouter()


def _state(request: Request):
    return request.app.state.formwerk


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


async def _figures(request: Request, range_: str, from_: str, to: str) -> stats.Figures:
    st = _state(request)
    now = datetime.now(timezone.utc)
    _, start, end = stats.time_range(range_, _day(from_), _day(to), now)
    return await run_in_threadpool(stats.figures, st.cases.engine, start, end, now=now,
                                   minutes_per_manual_case=st.settings.minutes_per_manual_case)


def _duration(t: Translator, seconds: float | None) -> str:
    if seconds is None:
        return t("dashboard.none")
    if seconds < 120:
        return t("dashboard.seconds", n=int(round(seconds)))
    if seconds < 120 * 60:
        return t("age.minutes", n=int(round(seconds / 60)))
    hours = seconds / 3600
    text = f"{hours:.1f}" if hours < 48 else f"{hours:.0f}"
    return t("dashboard.hours", n=text.replace(".", ",") if t.language == "de" else text)


def _type_label(t: Translator, catalogue, type_id: str | None) -> str:
    if not type_id:
        return t("doctype.unknown")
    if type_id in catalogue:
        return catalogue.get(type_id).title
    key = f"doctype.{type_id}"
    return t(key) if t.has(key) else type_id


def _reject_label(t: Translator, code: str) -> str:
    for key in (f"reject.{code}", f"rejected_code.{code}"):
        if t.has(key):
            return t(key)
    return t("rejected_code.other", code=code)


def _number(t: Translator, n: float) -> str:
    text = f"{n:,.0f}"
    return text.replace(",", ".") if t.language == "de" else text


def view(f: stats.Figures, t: Translator, catalogue) -> dict:
    """Everything the template shows, already labelled and formatted."""
    series = [Series("straight_through", t("dashboard.series.straight_through")),
              Series("reviewed", t("dashboard.series.reviewed")),
              Series("rejected", t("dashboard.series.rejected"))]
    n_hours = len(f.per_hour)
    hour_step = max(1, n_hours // 12)
    hour_chart = stacked_bars(
        f.per_hour, series, lambda b, i: b.start.strftime("%H") if i % hour_step == 0 else "",
        t("dashboard.throughput_hour"), "chart-hour")
    day_step = max(1, len(f.per_day) // 15)
    day_fmt = "%d.%m." if t.language == "de" else "%m-%d"
    day_chart = stacked_bars(
        f.per_day, series, lambda b, i: b.start.strftime(day_fmt) if i % day_step == 0 else "",
        t("dashboard.throughput_day"), "chart-day")
    hour_fmt = "%d.%m. %H:00" if t.language == "de" else "%m-%d %H:00"

    by_type = [{"label": _type_label(t, catalogue, r.document_type), "id": r.document_type,
                "routed": r.routed, "straight_through": r.straight_through, "rate": t.percent(r.rate)}
               for r in f.by_type]
    type_chart = hbars([(r["label"], (src.rate or 0.0) * 100, t("dashboard.rate_of", rate=r["rate"], n=r["routed"]))
                        for r, src in zip(by_type, f.by_type)],
                       t("dashboard.by_type"), "chart-types", max_value=100, colour="straight_through")

    corrections = []
    for c in f.corrections:
        form = catalogue.get(c.document_type) if c.document_type and c.document_type in catalogue else None
        corrections.append({
            "label": t("dashboard.field_of", field=field_label(form, c.field, t),
                       type=_type_label(t, catalogue, c.document_type)),
            "field": c.field, "type": c.document_type, "count": c.count,
            "confidence": t.percent(c.mean_confidence)})
    corrections_chart = hbars([(c["label"], c["count"], f'{c["count"]} · {c["confidence"]}') for c in corrections],
                              t("dashboard.corrections"), "chart-corrections", colour="accent")
    rejected = [{"label": _reject_label(t, code), "code": code, "count": n} for code, n in f.rejected_by_reason]
    rejected_chart = hbars([(r["label"], r["count"], str(r["count"])) for r in rejected],
                           t("dashboard.rejected"), "chart-rejected", colour="rejected")
    oldest = max((q.oldest_age_s or 0 for q in f.queues), default=0)
    queues = [{"id": q.queue, "label": t(f"dashboard.queue.{q.queue}"), "depth": q.depth,
               "oldest": _duration(t, q.oldest_age_s) if q.depth else t("dashboard.none")} for q in f.queues]
    escalated = [{"case_id": e.case_id, "reference": e.reference,
                  "type": _type_label(t, catalogue, e.document_type),
                  "holder": e.claimed_by, "due": t.datetime(e.due_at)} for e in f.escalated_cases]
    return {
        "f": f,
        "period": t("dashboard.period", start=t.datetime(f.start), end=t.datetime(f.end)),
        "received": _number(t, f.received), "finished": _number(t, f.finished),
        "finished_hint": t("dashboard.kpi.finished_hint", straight=_number(t, f.straight_through),
                           reviewed=_number(t, f.reviewed), rejected=_number(t, f.rejected)),
        "rate": t.percent(f.straight_through_rate),
        "queue_depth": _number(t, f.queue_depth),
        "failed": _number(t, f.failed_now),
        "oldest": _duration(t, oldest) if f.queue_depth else t("dashboard.none"),
        "saved": _duration(t, f.staff_minutes_saved * 60) if f.staff_minutes_saved else t("dashboard.none"),
        "saved_hint": t("dashboard.kpi.saved_hint", n=_number(t, f.straight_through),
                        minutes=f"{f.minutes_per_manual_case:g}"),
        "review_median": _duration(t, f.review_median_s), "review_p90": _duration(t, f.review_p90_s),
        "review_hint": t("dashboard.kpi.review_hint", n=_number(t, f.reviews)),
        "hour_chart": hour_chart, "day_chart": day_chart, "type_chart": type_chart,
        "corrections_chart": corrections_chart, "rejected_chart": rejected_chart,
        "hours": [{"label": b.start.strftime(hour_fmt), "b": b} for b in f.per_hour],
        "days": [{"label": b.start.strftime("%d.%m.%Y" if t.language == "de" else "%Y-%m-%d"), "b": b}
                 for b in f.per_day],
        "by_type": by_type, "corrections": corrections, "rejected": rejected, "queues": queues,
        "escalated": escalated,
        "corrections_hint": t("dashboard.corrections_hint", cases=_number(t, f.corrected_cases),
                              reclassified=_number(t, f.reclassified)),
    }


def _calibration_hint(t: Translator, cal) -> str:
    """Which field thresholds route new cases, and what the clerks' decisions say of them."""
    if cal is None:
        return t("dashboard.calibration_none")
    rate = t.percent(cal.accepted_right / cal.accepted_values) if cal.accepted_values else t("dashboard.none")
    return t("dashboard.calibration", version=cal.version, date=t.datetime(cal.created_at),
             cases=_number(t, cal.cases), changed=_number(t, len(cal.changed())),
             right=_number(t, cal.accepted_right), values=_number(t, cal.accepted_values), rate=rate)


@router.get("/dashboard")
async def dashboard(request: Request, range: str = "7d", to: str = ""):
    user = supervisor(request)
    request.state.user = user
    from_ = request.query_params.get("from", "")
    preset = range if range in (*stats.PRESETS, "custom") else "7d"
    f = await _figures(request, preset, from_, to)
    t = Translator(user.language)
    query = request.url.query
    calibration = await run_in_threadpool(_state(request).calibration.get)
    return render(request, "dashboard.html", preset=preset, presets=list(stats.PRESETS),
                  calibration_hint=_calibration_hint(t, calibration),
                  from_value=from_ if preset == "custom" else "", to_value=to if preset == "custom" else "",
                  json_url="/dashboard.json" + (f"?{query}" if query else ""),
                  **view(f, t, _state(request).catalogue))


@router.get("/dashboard.json")
async def dashboard_json(request: Request, range: str = "7d", to: str = ""):
    supervisor(request)
    f = await _figures(request, range, request.query_params.get("from", ""), to)
    return JSONResponse(f.to_json())


@router.get("/metrics")
async def metrics(request: Request):
    """Prometheus text format: this process's metrics and the store's queue gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from formwerk.metrics import api_exposition

    st = _state(request)
    token = st.settings.metrics_token
    if token:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return Response("unauthorized\n", status_code=401, media_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
    body = await run_in_threadpool(api_exposition, st.cases.engine)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
