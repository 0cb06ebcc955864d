"""Retention: originals, page images and OCR contents go N days after a case closed, data after M.

The purge runs on the real stores (SQLite and the machine's PostgreSQL) with an
explicit ``now`` as the clock; the API and the clerks' case screen run
in-process; the Temporal side runs on the real dev server.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from formwerk.audit import AuditLog
from formwerk.db import CaseStore, corrections as corrections_table
from formwerk.models import (
    Attachment,
    CaseEvent,
    CaseResult,
    CaseStatus,
    Correction,
    ExtractedField,
    PageContent,
    Word,
)
from formwerk.retention import (
    AUDIT_ACTION,
    AUDIT_ACTOR,
    RetentionPolicies,
    RetentionPolicy,
    parse_by_type,
    purge_expired,
)
from formwerk.settings import Settings
from formwerk.storage import BlobStore
from tests.webapp import NoTemporal as _NoTemporal, login as _login

KG1 = "kindergeld_kg1"
GEWERBE = "gewerbeanmeldung"
POLICIES = RetentionPolicies(RetentionPolicy(90, 365), {KG1: RetentionPolicy(180, 730)})


# -- the policy ----------------------------------------------------------------------------


def test_defaults_come_from_the_settings(monkeypatch):
    for name in ("ORIGINALS_DAYS", "DATA_DAYS", "BY_TYPE", "INTERVAL_HOURS"):
        monkeypatch.delenv(f"FORMWERK_RETENTION_{name}", raising=False)
    settings = Settings()
    assert (settings.retention_originals_days, settings.retention_data_days) == (90, 365)
    assert settings.retention_by_type == "" and settings.retention_interval_hours == 24.0
    policies = RetentionPolicies.from_settings(settings)
    assert policies.default == RetentionPolicy(90, 365) and policies.by_type == {}
    assert policies.for_type(KG1) == policies.for_type(None) == RetentionPolicy(90, 365)


def test_policies_per_document_type_are_parsed_from_the_environment(monkeypatch):
    monkeypatch.setenv("FORMWERK_RETENTION_ORIGINALS_DAYS", "30")
    monkeypatch.setenv("FORMWERK_RETENTION_DATA_DAYS", "400")
    monkeypatch.setenv("FORMWERK_RETENTION_BY_TYPE", " kindergeld_kg1=180/730 , invoice = 7 / 3650,")
    policies = RetentionPolicies.from_settings(Settings())
    assert policies.default == RetentionPolicy(30, 400)
    assert policies.by_type == {KG1: RetentionPolicy(180, 730), "invoice": RetentionPolicy(7, 3650)}
    assert policies.for_type(KG1) == RetentionPolicy(180, 730)
    assert policies.for_type(GEWERBE) == policies.for_type(None) == RetentionPolicy(30, 400)
    assert policies.shortest_days() == 7
    assert parse_by_type("") == {} and parse_by_type("  ,  ") == {}
    assert parse_by_type("a=0/0") == {"a": RetentionPolicy(0, 0)}


@pytest.mark.parametrize("text", ["kindergeld_kg1", "kindergeld_kg1=180", "kindergeld_kg1=abc/730",
                                  "kindergeld_kg1=180/730/1", "kindergeld_kg1=-1/730", "=180/730",
                                  "kindergeld_kg1=180/730, invoice"])
def test_a_malformed_policy_is_refused_with_the_setting_named(text):
    with pytest.raises(ValueError, match="FORMWERK_RETENTION_BY_TYPE"):
        parse_by_type(text)


def test_negative_periods_are_refused():
    with pytest.raises(ValueError):
        RetentionPolicy(-1, 10)
    with pytest.raises(ValueError):
        RetentionPolicy(10, -1)


# -- cases on real stores ------------------------------------------------------------------


def _png(seed: str) -> bytes:
    """A small page image, different for every seed (the seed is in a text chunk)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("seed", seed)
    buf = io.BytesIO()
    Image.new("L", (40, 56), color=255).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _closed_case(blobs: BlobStore, case_id: str, *, closed_at: datetime, status=CaseStatus.COMPLETED,
                 document_type: str | None = KG1, original: bytes | None = None, image: bytes | None = None,
                 ocr_ms: int = 0, attachment: bytes | None = None) -> CaseResult:
    """A case as the pipeline leaves it: original, page image and page content in the blob store."""
    original = original if original is not None else f"%PDF-1.7 scan of {case_id}".encode()
    original_key = blobs.put(original)
    image_key = blobs.put(image if image is not None else _png(case_id))
    content = PageContent(page=1, width=40, height=56, image_key=image_key, source_key=original_key,
                          ocr_ms=ocr_ms, words=[Word(text="Kensy", bbox=[1, 2, 3, 4])])
    content_key = blobs.put(content.model_dump_json().encode())
    attachments = []
    if attachment is not None:
        att_key = blobs.put(attachment)
        att_content = PageContent(page=1, width=40, height=56, source_key=att_key, source="text_layer",
                                  words=[Word(text="Mietvertrag", bbox=[1, 2, 3, 4])])
        attachments.append(Attachment(blob_key=att_key, filename="mietvertrag.pdf",
                                      content_keys=[blobs.put(att_content.model_dump_json().encode())]))
    events = [CaseEvent(at=closed_at, kind="routed", detail={"status": status.value})]
    if status == CaseStatus.COMPLETED:
        events.append(CaseEvent(at=closed_at, kind="approved", actor="anna",
                                detail={"comment": "Frau Kensy angerufen",
                                        "corrections": {"family_name": {"old": "Kensi", "new": "Kensy"}}}))
    reason = reason_code = None
    if status == CaseStatus.REJECTED:  # a clerk's rejection: the comment becomes the case's reason
        reason, reason_code = "Frau Kensy hat das Formular nicht unterschrieben.", "rejected_by_clerk"
        events.append(CaseEvent(at=closed_at, kind="rejected", actor="anna",
                                detail={"comment": reason, "reason_code": reason_code}))
    return CaseResult(
        reason=reason, reason_code=reason_code,
        case_id=case_id, reference=case_id.removeprefix("case-"), file=f"{case_id}-kensy.pdf", status=status,
        document_type=document_type, document_type_confidence=0.97, page_count=1,
        sha256=original_key.removeprefix("sha256:"), content_keys=[content_key], attachments=attachments,
        routed_at=closed_at, events=events, metadata={"vorgang": "4711"}, revision=3,
        fields={"family_name": ExtractedField(name="family_name", value="Kensi", raw="Kensi", confidence=0.6,
                                              source="ocr", page=1)},
        corrections=[Correction(field="family_name", machine_value="Kensi", corrected_value="Kensy",
                                clerk="anna", at=closed_at)],
        review_reasons=["low_confidence:family_name"],
    )


def _save(cases: CaseStore, result: CaseResult) -> CaseResult:
    assert cases.save_result(result)
    if result.corrections:
        cases.save_corrections(result.case_id, result.corrections)
    return result


def _blob_keys(result: CaseResult, blobs: BlobStore) -> dict[str, str]:
    """original / content / image (and attachment ones) of a case as saved before the purge."""
    content = PageContent.model_validate_json(blobs.get(result.content_keys[0]))
    keys = {"original": f"sha256:{result.sha256}", "content": result.content_keys[0], "image": content.image_key}
    for a in result.attachments:
        keys |= {"attachment": a.blob_key, "attachment_content": a.content_keys[0]}
    return keys


def _exists(blobs: BlobStore, keys: dict[str, str]) -> dict[str, bool]:
    return {name: blobs.exists(key) for name, key in keys.items()}


def _purge_entries(audit: AuditLog, case_id: str) -> list:
    return [e for e in audit.entries(case_id=case_id) if e.action == AUDIT_ACTION]


@pytest.fixture
def stores(store_url, tmp_path):
    cases = CaseStore.from_url(store_url)
    blobs = BlobStore(tmp_path / "blobs")
    audit = AuditLog(cases.engine)
    yield cases, blobs, audit
    cases.engine.dispose()


def test_the_purge_deletes_what_is_due_keeps_what_is_shared_or_open_and_records_it(stores):
    cases, blobs, audit = stores
    now = datetime.now(timezone.utc).replace(microsecond=0)
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    audit.record("anna", "case.view", "case-A")  # the chain has entries before the purge's
    scan_a, page_a = b"%PDF-1.7 the same scan, submitted twice", _png("shared with the twin")

    # kindergeld_kg1 keeps originals 180 days, data 730; every other type 90 / 365
    a = _save(cases, _closed_case(blobs, "case-A", closed_at=days(181), original=scan_a, image=page_a,
                                  attachment=b"%PDF-1.7 Mietvertrag"))
    # the same file under another reference, closed later: original and page image are the same blobs
    twin = _save(cases, _closed_case(blobs, "case-TWIN", closed_at=days(179), original=scan_a, image=page_a,
                                     ocr_ms=7))
    b = _save(cases, _closed_case(blobs, "case-B", closed_at=days(179)))  # N-1 days: untouched
    c = _save(cases, _closed_case(blobs, "case-C", closed_at=days(91), document_type=GEWERBE,
                                  image=_png("shared with case C")))
    g = _save(cases, _closed_case(blobs, "case-G", closed_at=days(366), document_type=None,
                                  status=CaseStatus.REJECTED))
    # open cases are never purged, however old: one in review shares case C's page image
    review = _save(cases, _closed_case(blobs, "case-REVIEW", closed_at=days(2000), document_type=GEWERBE,
                                       status=CaseStatus.NEEDS_REVIEW, image=_png("shared with case C")))
    processing = _save(cases, _closed_case(blobs, "case-PROC", closed_at=days(2000),
                                           status=CaseStatus.PROCESSING))
    keys = {r.case_id: _blob_keys(r, blobs) for r in (a, twin, b, c, g, review, processing)}
    assert keys["case-A"]["original"] == keys["case-TWIN"]["original"]  # one content address
    assert keys["case-A"]["image"] == keys["case-TWIN"]["image"]
    assert keys["case-A"]["content"] != keys["case-TWIN"]["content"]
    assert keys["case-C"]["image"] == keys["case-REVIEW"]["image"]
    before = {case_id: cases.get(case_id) for case_id in keys}

    # a dry run says what would go and changes nothing
    dry = purge_expired(cases, blobs, audit, POLICIES, now, dry_run=True)
    assert {p.case_id: p.parts for p in dry.cases} == {
        "case-A": ["originals"], "case-C": ["originals"], "case-G": ["originals", "data"]}
    assert all(all(_exists(blobs, k).values()) for k in keys.values())
    assert all(cases.get(i) == before[i] for i in keys) and _purge_entries(audit, "case-A") == []

    report = purge_expired(cases, blobs, audit, POLICIES, now)
    done = {p.case_id: p for p in report.cases}
    assert {i: p.parts for i, p in done.items()} == {
        "case-A": ["originals"], "case-C": ["originals"], "case-G": ["originals", "data"]}
    assert not any(p.deferred for p in report.cases)
    # A: its own page content and the attachment go; scan and page image stay for the twin
    assert _exists(blobs, keys["case-A"]) == {"original": True, "content": False, "image": True,
                                              "attachment": False, "attachment_content": False}
    assert (done["case-A"].blobs_deleted, done["case-A"].blobs_kept) == (3, 2)
    # C: scan and content go, the page image stays for the case in review
    assert _exists(blobs, keys["case-C"]) == {"original": False, "content": False, "image": True}
    assert (done["case-C"].blobs_deleted, done["case-C"].blobs_kept) == (2, 1)
    assert not any(_exists(blobs, keys["case-G"]).values())
    for case_id in ("case-TWIN", "case-B", "case-REVIEW", "case-PROC"):
        assert all(_exists(blobs, keys[case_id]).values()), case_id
        assert cases.get(case_id) == before[case_id], case_id
        assert cases.purge_dates(case_id) == (None, None), case_id

    # originals gone, data kept: values, corrections, file name still there
    after_a = cases.get("case-A")
    assert after_a.purged_originals_at == now and after_a.purged_data_at is None
    assert after_a.content_keys == [] and after_a.attachments[0].content_keys == []
    assert after_a.fields["family_name"].value == "Kensi" and after_a.corrections[0].corrected_value == "Kensy"
    assert after_a.file == "case-A-kensy.pdf" and after_a.metadata == {"vorgang": "4711"}
    assert after_a.sha256 == a.sha256 and after_a.revision == a.revision + 1
    assert cases.purge_dates("case-A") == (now, None)
    assert after_a.contract_json()["purged_originals_at"] == now.isoformat()
    # originals and data due at once (a type without its own policy: the default)
    after_g = cases.get("case-G")
    assert cases.purge_dates("case-G") == (now, now)
    assert after_g.fields["family_name"].value is None and after_g.fields["family_name"].raw == ""
    assert after_g.fields["family_name"].confidence == 0.6  # the skeleton stays for the statistics
    assert after_g.status == CaseStatus.REJECTED and after_g.review_reasons == g.review_reasons
    assert after_g.reason_code == "rejected_by_clerk" and after_g.reason is None  # the clerk's free text
    assert [e.kind for e in after_g.events] == ["routed", "rejected"] and after_g.events[1].detail["comment"] == ""
    assert after_g.file == "" and after_g.metadata == {} and after_g.attachments == []
    assert [(c.field, c.machine_value, c.corrected_value) for c in after_g.corrections] == [
        ("family_name", None, None)]
    assert "Kensy" not in after_g.model_dump_json() and "Kensi" not in after_g.model_dump_json()
    with cases.engine.connect() as conn:
        rows = conn.execute(select(corrections_table.c.case_id, corrections_table.c.machine_value,
                                   corrections_table.c.corrected_value).order_by(corrections_table.c.case_id)).all()
    stored = {r[0]: tuple(None if v is None else json.loads(v) for v in r[1:]) for r in rows}  # JSON text
    assert stored["case-G"] == (None, None) and stored["case-A"] == ("Kensi", "Kensy")

    # one audit entry per case and step, by the system, without applicant data; the chain holds
    (entry,) = _purge_entries(audit, "case-A")
    assert entry.actor == AUDIT_ACTOR and entry.detail["parts"] == ["originals"]
    assert entry.detail["document_type"] == KG1 and entry.detail["originals_days"] == 180
    assert (entry.detail["blobs_deleted"], entry.detail["blobs_kept"]) == (3, 2)
    assert _purge_entries(audit, "case-G")[0].detail["parts"] == ["originals", "data"]
    assert _purge_entries(audit, "case-C")[0].detail["originals_days"] == 90
    assert all(_purge_entries(audit, i) == [] for i in ("case-TWIN", "case-B", "case-REVIEW", "case-PROC"))
    verification = audit.verify()
    assert verification.ok, verification.problems
    assert verification.count == 4

    # a late save of the old result cannot bring the purged references back
    assert not cases.save_result(a.model_copy(update={"revision": a.revision + 10}))
    assert cases.get("case-A").content_keys == []

    # the same run again: nothing twice
    again = purge_expired(cases, blobs, audit, POLICIES, now)
    assert again.cases == [] and audit.verify().count == 4

    # 550 days later: A's data is due (731 days); the twin and B lose their originals (729 days),
    # and with no case left keeping them, the shared scan and page image go too
    later = now + timedelta(days=550)
    report = purge_expired(cases, blobs, audit, POLICIES, later)
    assert {p.case_id: p.parts for p in report.cases} == {
        "case-A": ["data"], "case-TWIN": ["originals"], "case-B": ["originals"], "case-C": ["data"]}
    assert cases.purge_dates("case-A") == (now, later)
    assert cases.get("case-A").fields["family_name"].value is None
    assert not any(_exists(blobs, keys["case-TWIN"]).values())
    assert not blobs.exists(keys["case-A"]["original"]) and not blobs.exists(keys["case-A"]["image"])
    assert cases.get("case-TWIN").fields["family_name"].value == "Kensi"  # data for 730 days
    assert all(_exists(blobs, keys["case-REVIEW"]).values()) and all(_exists(blobs, keys["case-PROC"]).values())
    assert cases.get("case-REVIEW") == before["case-REVIEW"] and cases.get("case-PROC") == before["case-PROC"]
    assert [e.detail["parts"] for e in _purge_entries(audit, "case-A")] == [["originals"], ["data"]]
    verification = audit.verify()
    assert verification.ok and verification.count == 8, verification.problems


def test_a_failed_case_closes_when_it_was_last_saved(stores):
    cases, blobs, audit = stores
    now = datetime.now(timezone.utc)
    failed = _closed_case(blobs, "case-F", closed_at=now, status=CaseStatus.FAILED)
    _save(cases, failed.model_copy(update={"routed_at": None, "events": [], "reason_code": "storage_full"}))
    assert purge_expired(cases, blobs, audit, POLICIES, now + timedelta(days=179)).cases == []
    report = purge_expired(cases, blobs, audit, POLICIES, now + timedelta(days=181))
    assert [(p.case_id, p.status, p.parts) for p in report.cases] == [("case-F", "failed", ["originals"])]
    assert not blobs.exists(f"sha256:{failed.sha256}")


def test_a_scan_still_being_read_in_another_case_defers_the_purge(stores):
    cases, blobs, audit = stores
    now = datetime.now(timezone.utc)
    scan = b"%PDF-1.7 submitted again while the first case expires"
    old = _save(cases, _closed_case(blobs, "case-OLD", closed_at=now - timedelta(days=200), original=scan))
    # the new case has only just started: its page contents are not named in its result yet
    _save(cases, CaseResult(case_id="case-NEW", reference="NEW", status=CaseStatus.PROCESSING,
                            sha256=old.sha256))
    report = purge_expired(cases, blobs, audit, POLICIES, now)
    assert [(p.case_id, p.parts, bool(p.deferred)) for p in report.cases] == [("case-OLD", [], True)]
    assert blobs.exists(f"sha256:{old.sha256}") and cases.purge_dates("case-OLD") == (None, None)
    assert _purge_entries(audit, "case-OLD") == []


class _LateSave:
    """A case store where a late save (a webhook's) lands between the purge's read and its write."""

    def __init__(self, cases: CaseStore) -> None:
        self._cases, self.saved = cases, False

    def __getattr__(self, name):
        return getattr(self._cases, name)

    def record_purge(self, result, **kw):
        if not self.saved:
            self.saved = True
            current = self._cases.get(result.case_id)
            assert self._cases.save_result(current.model_copy(update={"revision": current.revision + 1}))
        return self._cases.record_purge(result, **kw)


def test_a_case_saved_while_it_is_purged_does_not_keep_references_to_deleted_blobs(tmp_path):
    cases = CaseStore.from_url(f"sqlite:///{tmp_path / 'store.sqlite'}")
    blobs, audit = BlobStore(tmp_path / "blobs"), AuditLog(cases.engine)
    now = datetime.now(timezone.utc)
    case = _save(cases, _closed_case(blobs, "case-L", closed_at=now - timedelta(days=200)))
    racing = _LateSave(cases)
    report = purge_expired(racing, blobs, audit, POLICIES, now)
    assert racing.saved and [(p.case_id, p.parts) for p in report.cases] == [("case-L", ["originals"])]
    stored = cases.get("case-L")
    assert not blobs.exists(case.content_keys[0])
    assert stored.content_keys == [] and stored.purged_originals_at is not None  # no dangling keys
    assert len(_purge_entries(audit, "case-L")) == 1 and audit.verify().ok


# -- the command ---------------------------------------------------------------------------


def _cli(*argv: str):
    import argparse

    from formwerk import retention_commands

    parser = argparse.ArgumentParser()
    retention_commands.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["retention", *argv])


async def test_formwerk_retention_lists_the_policy_and_purges_as_of_a_given_time(tmp_path, capsys):
    from formwerk.retention_commands import retention

    settings = Settings(data_dir=tmp_path, retention_by_type="kindergeld_kg1=180/730")
    settings.ensure_dirs()
    cases, blobs = CaseStore.from_url(settings.sqlalchemy_url), BlobStore.from_settings(settings)
    closed = datetime(2025, 1, 10, 12, tzinfo=timezone.utc)
    case = _save(cases, _closed_case(blobs, "case-CLI", closed_at=closed))

    assert await retention(settings, _cli("policy")) == 0
    out = capsys.readouterr().out
    assert re.search(r"\(default\)\s+90\s+365", out) and re.search(r"kindergeld_kg1\s+180\s+730", out)

    assert await retention(settings, _cli("run", "--now", "2025-07-08T12:00:00", "--json")) == 0  # day 179
    assert json.loads(capsys.readouterr().out)["cases"] == []
    assert await retention(settings, _cli("run", "--now", "2025-07-10T12:00:00", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "case-CLI" in out and "would purge 1 case(s)" in out and "3 blob(s)" in out
    assert blobs.exists(case.content_keys[0])
    assert await retention(settings, _cli("run", "--now", "2025-07-10T12:00:00", "--json")) == 0  # day 181
    report = json.loads(capsys.readouterr().out)
    assert [(c["case_id"], c["parts"], c["blobs_deleted"]) for c in report["cases"]] == [
        ("case-CLI", ["originals"], 3)]
    assert cases.purge_dates("case-CLI") == (datetime(2025, 7, 10, 12, tzinfo=timezone.utc), None)
    assert not blobs.exists(case.content_keys[0]) and not blobs.exists(f"sha256:{case.sha256}")
    assert AuditLog(cases.engine).verify().ok

    assert await retention(settings, _cli("run", "--now", "yesterday")) == 2
    assert "--now" in capsys.readouterr().err
    bad = Settings(data_dir=tmp_path, retention_by_type="kindergeld_kg1=lange")
    assert await retention(bad, _cli("policy")) == 2
    assert "FORMWERK_RETENTION_BY_TYPE" in capsys.readouterr().err
    cases.engine.dispose()


# -- the API and the clerks' case screen --------------------------------------------------




def test_api_and_case_screen_say_the_originals_are_gone_instead_of_failing(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from formwerk.tokens import TokenStore

    app = create_app(Settings(data_dir=tmp_path, secret_key="t"), client=_NoTemporal())
    st = app.state.formwerk
    st.users.add("anna", "ein-langes-passwort", role="clerk")
    _, token = TokenStore(st.cases.engine).create("fachverfahren", ["cases:read", "documents:read"])
    auth = {"Authorization": f"Bearer {token}"}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # a gewerbeanmeldung (the default policy: originals 90 days, data 365) closed 400 days ago
    case = _save(st.cases, _closed_case(st.blobs, "case-UI", closed_at=now - timedelta(days=400),
                                        document_type=GEWERBE))
    with TestClient(app) as c:
        assert c.get("/api/v1/cases/case-UI/original", headers=auth).status_code == 200
        assert c.get("/api/v1/cases/case-UI/pages/1", headers=auth).content == st.blobs.get(
            PageContent.model_validate_json(st.blobs.get(case.content_keys[0])).image_key)
        _login(c, "anna")
        assert c.get("/cases/case-UI/pages/1").status_code == 200

        purged_at = now - timedelta(days=300)  # the purge ran on day 100 after closing: originals only
        purge_expired(st.cases, st.blobs, AuditLog(st.cases.engine), POLICIES, purged_at)
        assert not st.blobs.exists(f"sha256:{case.sha256}")

        for path in ("/api/v1/cases/case-UI/original", "/api/v1/cases/case-UI/pages/1"):
            r = c.get(path, headers=auth)
            assert r.status_code == 410, (path, r.text)
            body = r.json()
            assert r.headers["content-type"] == "application/problem+json"
            assert body["code"] == "original_purged" and body["case_id"] == "case-UI"
            assert datetime.fromisoformat(body["purged_originals_at"]) == purged_at
            assert body["detail"] == (f"Das Original des Falls case-UI wurde am {purged_at.date().isoformat()} "
                                      "gemäß Aufbewahrungsfrist gelöscht (mit Seitenbildern und OCR-Inhalten).")
        r = c.get("/api/v1/cases/case-UI/original", headers={**auth, "Accept-Language": "en"})
        assert r.status_code == 410 and "under the retention period" in r.json()["detail"]
        r = c.get("/api/v1/cases/case-UI", headers=auth)
        assert r.status_code == 200
        got = r.json()
        assert datetime.fromisoformat(got["purged_originals_at"]) == purged_at and got["purged_data_at"] is None
        assert got["fields"]["family_name"]["value"] is not None  # data kept until its own period
        r = c.get("/api/v1/cases/case-UI/result.json", headers=auth)
        assert r.status_code == 200 and "purged_originals_at" in r.json()

        # the clerk's case screen: the German sentence, no page viewer, no error
        page = c.get("/cases/case-UI")
        assert page.status_code == 200
        text = re.sub(r"\s+", " ", page.text)
        assert re.search(r'data-testid="originals-purged".*Originale gemäß Aufbewahrungsfrist am [^<]*'
                         r"gelöscht \(mit Seitenbildern und OCR-Inhalten\)\.", text)
        assert "/cases/case-UI/pages/1" not in page.text and 'data-testid="data-purged"' not in page.text
        assert c.get("/cases/case-UI/pages/1").status_code == 404

        purge_expired(st.cases, st.blobs, AuditLog(st.cases.engine), POLICIES, now)  # 365 days: data
        page = c.get("/cases/case-UI")
        assert page.status_code == 200
        assert re.search(r'data-testid="data-purged".*Erfasste Angaben gemäß Aufbewahrungsfrist am [^<]*gelöscht\.',
                         re.sub(r"\s+", " ", page.text))
        assert "Kensi" not in page.text and "Kensy" not in page.text
        got = c.get("/api/v1/cases/case-UI", headers=auth).json()
        assert got["purged_data_at"] is not None and got["fields"]["family_name"]["value"] is None
        # both answers are documented (the OpenAPI description still validates)
        from openapi_spec_validator import validate

        spec = c.get("/openapi.json").json()
        validate(spec)
        for path in ("/api/v1/cases/{case_id}/original", "/api/v1/cases/{case_id}/pages/{page}"):
            examples = spec["paths"][path]["get"]["responses"]["410"]["content"]["application/problem+json"]
            assert "original_purged" in examples["examples"], path
    assert AuditLog(st.cases.engine).verify().ok


# -- Temporal: the workflow, the schedule, the worker's wiring -------------------------------


def _due_store(tmp_path, now: datetime):
    cases = CaseStore.from_url(f"sqlite:///{tmp_path / 'store.sqlite'}")
    blobs = BlobStore(tmp_path / "blobs")
    case = _save(cases, _closed_case(blobs, "case-T", closed_at=now - timedelta(days=100),
                                     document_type=GEWERBE))
    return cases, blobs, case


def test_the_worker_builds_the_purge_on_its_own_stores_with_the_settings_policies(tmp_path):
    from worker import retention_activities

    cases, blobs, _ = _due_store(tmp_path, datetime.now(timezone.utc))
    settings = Settings(data_dir=tmp_path, retention_by_type="kindergeld_kg1=180/730", retention_data_days=400)
    built = retention_activities(settings, SimpleNamespace(cases=cases, blobs=blobs))
    assert built.cases is cases and built.blobs is blobs and built.audit.engine is cases.engine
    assert built.policies == RetentionPolicies(RetentionPolicy(90, 400), {KG1: RetentionPolicy(180, 730)})


async def test_the_retention_workflow_and_its_schedule_run_the_purge(temporal_env, tmp_path):
    from temporalio.worker import Worker

    from workflows.retention_workflow import (
        RETENTION_WORKFLOW,
        RetentionActivities,
        RetentionRun,
        RetentionWorkflow,
        ensure_schedule,
    )
    from formwerk.retention import PurgeReport

    client = temporal_env.client
    queue = f"retention-{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc)
    cases, blobs, case = _due_store(tmp_path, now)
    audit = AuditLog(cases.engine)
    acts = RetentionActivities(cases, blobs, audit, POLICIES)
    with ThreadPoolExecutor(max_workers=2) as pool:
        async with Worker(client, task_queue=queue, workflows=[RetentionWorkflow],
                          activities=[acts.purge_expired], activity_executor=pool):
            # a dry run as of an explicit time: the report, nothing deleted
            dry = await client.execute_workflow(
                RETENTION_WORKFLOW, RetentionRun(now=now, dry_run=True), id=f"retention-dry-{queue}",
                task_queue=queue, result_type=PurgeReport)
            assert dry.dry_run and [(p.case_id, p.parts) for p in dry.cases] == [("case-T", ["originals"])]
            assert blobs.exists(case.content_keys[0]) and cases.purge_dates("case-T") == (None, None)

            # the schedule: created once, a second worker's attempt leaves it alone
            schedule_id = f"formwerk-retention-{queue}"
            assert await ensure_schedule(client, queue, timedelta(days=1), schedule_id=schedule_id)
            assert not await ensure_schedule(client, queue, timedelta(hours=1), schedule_id=schedule_id)
            handle = client.get_schedule_handle(schedule_id)
            try:
                desc = await handle.describe()
                assert desc.schedule.spec.intervals[0].every == timedelta(days=1)
                await handle.trigger()  # a run now, as on the day it is due (now: the run's start time)
                for _ in range(150):
                    if cases.purge_dates("case-T")[0] is not None:
                        break
                    await asyncio.sleep(0.1)
                purged_at, data_at = cases.purge_dates("case-T")
                assert purged_at is not None and data_at is None
                assert abs(purged_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
                assert not blobs.exists(case.content_keys[0]) and not blobs.exists(f"sha256:{case.sha256}")
                (entry,) = _purge_entries(audit, "case-T")
                assert entry.detail["parts"] == ["originals"] and audit.verify().ok
                desc = await handle.describe()
                (action,) = desc.info.recent_actions
                run = client.get_workflow_handle(action.action.workflow_id,
                                                 run_id=action.action.first_execution_run_id,
                                                 result_type=PurgeReport)
                report = await run.result()
                assert [(p.case_id, p.parts) for p in report.cases] == [("case-T", ["originals"])]
                assert report.blobs_deleted == 3
            finally:
                await handle.delete()
    cases.engine.dispose()
