"""The dashboard's figures (formwerk.stats) on SQLite and PostgreSQL, and its pages.

Cases are saved through ``CaseStore.save_result`` (the path the workflow
uses), so the mirrored columns the SQL reads are the real ones; every figure
is checked against a count made by hand from the cases below.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from formwerk import casefacts, stats
from formwerk.db import CaseStore
from formwerk.models import CaseEvent, CaseResult, CaseStatus, Correction, ExtractedField, PendingApproval

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=timezone.utc)


def _case(i: int, status: CaseStatus, route: str, *, doc_type="gewerbeanmeldung", routed_ago=timedelta(hours=3),
          review_s: float | None = None, reason_code=None, escalated=False, due_in=timedelta(hours=45),
          awaiting_documents=False, pending=False, fields=None) -> CaseResult:
    routed = NOW - routed_ago
    events = [CaseEvent(at=routed, kind="routed", detail={"status": {
        "straight_through": "completed", "review": "needs_review", "rejected": "rejected"}[route]})]
    if review_s is not None:
        claimed = routed + timedelta(minutes=10)
        events.append(CaseEvent(at=claimed, kind="claimed", actor="anna"))
        kind = "rejected" if status == CaseStatus.REJECTED else "approved"
        events.append(CaseEvent(at=claimed + timedelta(seconds=review_s), kind=kind, actor="anna",
                                decision_id=f"d{i}"))
    if escalated:
        events.append(CaseEvent(at=routed + timedelta(hours=48), kind="escalated"))
    return CaseResult(
        case_id=f"case-{i}", reference=f"R-{i}", status=status, document_type=doc_type, routed_at=routed,
        due_at=routed + due_in if route == "review" else None, escalated=escalated, events=events,
        reason_code=reason_code, awaiting_documents=awaiting_documents,
        pending_approval=PendingApproval(clerk="ben", at=routed) if pending else None,
        fields=fields or {}, revision=1, timings_ms={"total": 4000},
    )


def _corpus() -> list[CaseResult]:
    C, R, N = CaseStatus.COMPLETED, CaseStatus.REJECTED, CaseStatus.NEEDS_REVIEW
    name = {"family_name": ExtractedField(name="family_name", value="Kensy", confidence=0.62, needs_review=True),
            "birth_date": ExtractedField(name="birth_date", value="2000-01-01", confidence=0.97)}
    return [
        _case(1, C, "straight_through"),
        _case(2, C, "straight_through", routed_ago=timedelta(hours=30)),
        _case(3, C, "straight_through", doc_type="kindergeld_kg1"),
        _case(4, C, "review", review_s=60, fields=name),
        _case(5, C, "review", review_s=300, fields=name, doc_type="kindergeld_kg1"),
        _case(6, R, "review", review_s=120, reason_code="incomplete"),
        _case(7, R, "rejected", doc_type=None, reason_code="encrypted_pdf"),
        _case(8, N, "review"),  # open, due in 45 h
        _case(9, N, "review", routed_ago=timedelta(hours=50), due_in=timedelta(hours=48), escalated=True),
        _case(10, N, "review", awaiting_documents=True),
        _case(11, N, "review", pending=True, routed_ago=timedelta(hours=5)),
        _case(12, C, "straight_through", routed_ago=timedelta(days=40)),  # outside a 7-day range
        CaseResult(case_id="batch-1", status=C, document_type="batch", routed_at=NOW - timedelta(hours=3),
                   events=[CaseEvent(at=NOW - timedelta(hours=3), kind="routed", detail={"status": "completed"})]),
    ]


def _fill(store: CaseStore) -> None:
    for c in _corpus():
        assert store.save_result(c)
    # created_at is the time of the first save: put it where the case says it arrived
    with store.engine.begin() as conn:
        for c in _corpus():
            conn.execute(text("update cases set created_at = :t where case_id = :id"),
                         {"t": c.routed_at - timedelta(minutes=1), "id": c.case_id})
    at = NOW - timedelta(hours=2)
    store.save_corrections("case-4", [Correction(field="family_name", machine_value="Kensy",
                                                 corrected_value="Kenzy", clerk="anna", at=at)])
    store.save_corrections("case-5", [Correction(field="family_name", machine_value="Kensy",
                                                 corrected_value="Kensi", clerk="anna", at=at),
                                      Correction(field="birth_date", machine_value="2000-01-01",
                                                 corrected_value="2000-01-02", clerk="anna", at=at),
                                      Correction(field="document_type", machine_value="gewerbeanmeldung",
                                                 corrected_value="kindergeld_kg1", clerk="anna", at=at)])


@pytest.fixture
def store(store_url):
    return CaseStore.from_url(store_url)


def test_case_facts_follow_the_history():
    cases = {c.case_id: c for c in _corpus()}
    assert casefacts.route(cases["case-1"]) == "straight_through"
    assert casefacts.route(cases["case-7"]) == "rejected"
    assert casefacts.review_seconds(cases["case-5"]) == 300
    assert casefacts.finished_at(cases["case-4"]) == NOW - timedelta(hours=3) + timedelta(minutes=10, seconds=60)
    assert casefacts.finished_at(cases["case-8"]) is None and casefacts.review_seconds(cases["case-8"]) is None
    # a four-eyes first approval is no decision; the confirmation is, counted from the confirmer's claim
    r = cases["case-11"].model_copy(deep=True)
    t0 = r.routed_at
    r.events += [CaseEvent(at=t0 + timedelta(minutes=1), kind="claimed", actor="ben"),
                 CaseEvent(at=t0 + timedelta(minutes=3), kind="approved", actor="ben",
                           detail={"awaiting_confirmation": True}),
                 CaseEvent(at=t0 + timedelta(minutes=5), kind="reassigned", actor="sara", detail={"to": "anna"}),
                 CaseEvent(at=t0 + timedelta(minutes=9), kind="confirmed", actor="anna")]
    assert casefacts.review_seconds(r) is None  # still waiting
    r.status = CaseStatus.COMPLETED
    assert casefacts.review_seconds(r) == 240


def test_figures_are_counted_in_sql(store):
    _fill(store)
    f = stats.figures(store.engine, NOW - timedelta(days=7), NOW, now=NOW, minutes_per_manual_case=10)
    # finished in range: straight 1,2,3 · reviewed 4,5 · rejected 6,7 (12 is older, the batch never counts)
    assert (f.straight_through, f.reviewed, f.rejected, f.finished) == (3, 2, 2, 7)
    assert f.received == 11
    assert f.staff_minutes_saved == 30
    by_type = {t.document_type: (t.straight_through, t.review) for t in f.by_type}
    assert by_type == {"gewerbeanmeldung": (2, 6), "kindergeld_kg1": (1, 1)}
    assert f.straight_through_rate == pytest.approx(3 / 10)
    queues = {q.queue: q.depth for q in f.queues}
    assert queues == {"open": 1, "escalated": 1, "awaiting_documents": 1, "awaiting_confirmation": 1}
    assert f.queue_depth == 4
    oldest = {q.queue: q.oldest_age_s for q in f.queues}
    assert oldest["escalated"] == pytest.approx(50 * 3600) and oldest["awaiting_confirmation"] == pytest.approx(5 * 3600)
    assert f.overdue_now == 1 and f.escalated_in_range == 1 and f.decided_late == 0  # case 9: due 2 h ago
    assert [e.case_id for e in f.escalated_cases] == ["case-9"]
    corr = {(c.document_type, c.field): (c.count, c.mean_confidence) for c in f.corrections}
    assert corr == {("gewerbeanmeldung", "family_name"): (1, pytest.approx(0.62)),
                    ("kindergeld_kg1", "family_name"): (1, pytest.approx(0.62)),
                    ("kindergeld_kg1", "birth_date"): (1, pytest.approx(0.97))}
    assert f.corrected_cases == 2 and f.reclassified == 1
    assert f.reviews == 3 and f.review_median_s == 120 and f.review_p90_s == 300
    assert dict(f.rejected_by_reason) == {"incomplete": 1, "encrypted_pdf": 1}
    # per day: every day of the range is there, the counts add up to the totals
    assert len(f.per_day) in (7, 8)
    assert sum(b.finished for b in f.per_day) == 7 and sum(b.received for b in f.per_day) == 11
    assert len(f.per_hour) == 49 and sum(b.straight_through for b in f.per_hour) == 3


def test_a_narrow_range_counts_only_what_happened_in_it(store):
    _fill(store)
    f = stats.figures(store.engine, NOW - timedelta(hours=24), NOW, now=NOW)
    assert (f.straight_through, f.reviewed, f.rejected) == (2, 2, 2)  # case 2 finished 30 h ago
    hours = {b.start.astimezone(timezone.utc).hour: b for b in f.per_hour}
    assert hours[9].straight_through == 2 and hours[9].received == 8  # routed 09:30 UTC, received 09:29
    empty = stats.figures(store.engine, NOW - timedelta(days=400), NOW - timedelta(days=300), now=NOW)
    assert empty.finished == 0 and empty.straight_through_rate is None and empty.review_median_s is None


def test_time_ranges():
    preset, start, end = stats.time_range("30d", None, None, NOW)
    assert preset == "30d" and end - start == timedelta(days=30)
    assert stats.time_range("nonsense", None, None, NOW)[0] == "7d"
    from datetime import date

    preset, start, end = stats.time_range("custom", date(2026, 3, 5), date(2026, 3, 1), NOW, tz=timezone.utc)
    assert (start, end) == (datetime(2026, 3, 1, tzinfo=timezone.utc), datetime(2026, 3, 6, tzinfo=timezone.utc))


# -- the pages ---------------------------------------------------------------


@pytest.fixture
def client(tmp_path):
    from api.app import create_app
    from formwerk.settings import Settings

    settings = Settings(data_dir=tmp_path, secret_key="test", minutes_per_manual_case=12)
    app = create_app(settings)
    st = app.state.formwerk
    corpus = _corpus()
    shift = datetime.now(timezone.utc) - NOW  # the corpus as if it happened just now
    for c in corpus:
        c = c.model_copy(update={"routed_at": c.routed_at + shift, "due_at": c.due_at and c.due_at + shift,
                                 "events": [e.model_copy(update={"at": e.at + shift}) for e in c.events]})
        st.cases.save_result(c)
    st.users.add("sara", "ein-langes-passwort", role="supervisor", display_name="Sara")
    st.users.add("anna", "ein-langes-passwort", role="clerk", display_name="Anna")
    with TestClient(app) as c:
        yield c


def _login(client, username):
    page = client.get("/login")
    import re

    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": username, "password": "ein-langes-passwort",
                                    "csrf_token": csrf, "next": "/queue"}, follow_redirects=False)
    assert r.status_code == 303


def test_only_supervisors_see_the_dashboard(client):
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and "/login" in r.headers["location"]
    _login(client, "anna")
    assert client.get("/dashboard").status_code == 403
    assert client.get("/dashboard.json").status_code == 403
    assert 'href="/dashboard"' not in client.get("/queue").text


def test_the_page_and_its_json_twin_show_the_same_figures(client):
    _login(client, "sara")
    page = client.get("/dashboard?range=7d")
    assert page.status_code == 200
    html = page.text
    assert 'href="/dashboard"' in html  # the nav link for supervisors
    assert html.count("<svg") >= 4 and "cdn" not in html.lower() and "<script" not in html.split("</main>")[0]
    data = client.get("/dashboard.json?range=7d").json()
    assert (data["straight_through"], data["reviewed"], data["rejected"], data["queue_depth"]) == (3, 2, 2, 4)
    assert data["staff_minutes_saved"] == 36  # 3 × the configured 12 minutes
    assert data["straight_through_rate"] == pytest.approx(0.3)
    import re

    kpi = lambda name: re.sub(r"\s+", " ", re.search(  # noqa: E731
        rf'data-testid="kpi-{name}".*?class="fw-kpi__value">([^<]*)<', html, re.S).group(1)).strip()
    assert kpi("finished") == "7" and kpi("rate") == "30 %" and kpi("queue") == "4" and kpi("saved") == "36 Min."
    assert kpi("review") == "2 Min."
    assert 'data-queue="escalated"><td class="kern-table__cell">eskaliert</td><td class="kern-table__cell" data-testid="depth">1<' in html
    assert "Verschlüsselte PDF-Datei" in html and "Antrag unvollständig" in html
    # a custom range of days, and a range with nothing in it
    empty = client.get("/dashboard.json?range=custom&from=2020-01-01&to=2020-01-31").json()
    assert empty["finished"] == 0 and len(empty["per_day"]) == 31
    assert client.get("/dashboard?range=custom&from=2020-01-01&to=2020-01-31").status_code == 200
    assert client.get("/dashboard?range=custom&from=kaputt").status_code == 200  # bad input: the default range


def test_the_dashboard_names_the_active_field_calibration(client):
    from formwerk import fieldcal
    from formwerk.fieldcal_store import reviewed_evidence

    _login(client, "sara")
    assert "keine Kalibrierung" in client.get("/dashboard").text
    st = client.app.state.formwerk
    evidence, n = reviewed_evidence(st.cases.engine)
    policies = {f.id: f.policy for f in st.catalogue}
    assert n == 2 and evidence  # the two cases clerks approved
    cal = fieldcal.fit(evidence, policies, version="fc1", created_at=NOW, cases=n)
    st.calibration.store.save(cal, activate=True)
    st.calibration.ttl_s = 0  # read again at once (the page re-reads it within 30 s)
    hint = re.search(r'data-testid="calibration-hint">([^<]*)<', client.get("/dashboard").text).group(1)
    assert "Kalibrierung fc1" in hint and f"aus {n} geprüften Fällen" in hint
    assert f"{cal.accepted_right} von {cal.accepted_values}" in hint
