"""The audit log: hash chain on SQLite and PostgreSQL, ``formwerk audit verify``, web app entries."""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from formwerk.audit import GENESIS, AuditLog, audit_log
from formwerk.audit_commands import audit
from formwerk.settings import Settings

FORMWERK = str(Path(sys.executable).parent / "formwerk")


@pytest.fixture
def log(store_url):
    return AuditLog.from_url(store_url)


def _fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.record("anna", "case.view", f"case-{i}", page=i)


def test_entries_are_chained_and_an_intact_log_verifies(log):
    assert log.verify().ok and log.verify().head == GENESIS
    _fill(log)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    assert entries[2].detail == {"page": 2} and entries[2].actor == "anna"
    result = log.verify()
    assert result.ok and result.count == 5 and result.head == entries[-1].hash
    assert [e.case_id for e in log.entries(case_id="case-3")] == ["case-3"]


def test_an_edited_entry_is_named(log):
    _fill(log)
    with log.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.seq == 3).values(actor="mallory"))
    result = log.verify()
    assert not result.ok and result.first_broken == 3
    assert "entry 3" in result.problems[0] and "edited" in result.problems[0]


def test_an_edited_and_rehashed_entry_breaks_the_next_link(log):
    from formwerk.audit import entry_hash

    _fill(log)
    e = log.entries()[1]
    forged = entry_hash(e.seq, e.at, "mallory", e.action, e.case_id, '{"page":1}', e.prev_hash)
    with log.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(actor="mallory", hash=forged))
    result = log.verify()
    assert not result.ok and result.first_broken == 3 and "entry 2" in result.problems[0]


def test_a_removed_entry_is_named(log):
    _fill(log)
    with log.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 2))
    result = log.verify()
    assert not result.ok and result.first_broken == 2 and "entry 2 removed" in result.problems[0]
    # appending goes on from the end; the gap stays visible
    log.record("sara", "case.view", "case-9")
    assert log.verify().first_broken == 2


def test_writers_racing_from_two_logs_never_fork_the_chain(log):
    import threading

    other = AuditLog(log.engine)  # a second process's log on the same table

    def write(target, who):
        for i in range(10):
            target.record(who, "case.view", f"c-{i}")

    threads = [threading.Thread(target=write, args=(lg, name)) for lg, name in ((log, "a"), (other, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = log.verify()
    assert result.ok and result.count == 20


async def test_audit_verify_command_exits_non_zero_naming_the_entry(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path)
    log = AuditLog.from_url(settings.sqlalchemy_url)
    _fill(log, 4)
    assert await audit(settings, argparse.Namespace(audit_command="verify")) == 0
    assert "4 entries" in capsys.readouterr().out
    with log.engine.begin() as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 3))
    assert await audit(settings, argparse.Namespace(audit_command="verify")) == 1
    assert "entry 3" in capsys.readouterr().err
    assert await audit(settings, argparse.Namespace(audit_command="list", case_id="case-1", limit=5)) == 0
    assert '"case_id": "case-1"' in capsys.readouterr().out
    # registered on the real command line
    proc = subprocess.run([FORMWERK, "audit", "verify"], env=dict(os.environ, FORMWERK_DATA_DIR=str(tmp_path)),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "entry 3" in proc.stderr, proc.stderr


# -- the web app records views, page reads and decisions ----------------------------


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (60, 80), 255).save(buf, format="PNG")
    return buf.getvalue()


def test_case_views_page_reads_and_decisions_are_recorded(tmp_path, monkeypatch):
    from api import ui
    from api.app import create_app
    from formwerk.models import CaseResult, CaseStatus, ExtractedField, PageContent

    app = create_app(Settings(data_dir=tmp_path, secret_key="t"), client=object())  # decisions: faked below
    st = app.state.formwerk
    st.users.add("anna", "ein-langes-passwort", role="clerk")
    image = st.blobs.put(_png())
    page = st.blobs.put(PageContent(page=1, width=60, height=80, image_key=image).model_dump_json().encode())
    case = CaseResult(case_id="case-a1", reference="a1", file="a.pdf", status=CaseStatus.NEEDS_REVIEW,
                      document_type="gewerbeanmeldung", document_type_confidence=0.99, page_count=1,
                      content_keys=[page], review_reasons=["low_confidence:family_name"],
                      fields={"family_name": ExtractedField(name="family_name", value="Nachname-Geheim",
                                                           confidence=0.4, needs_review=True)})
    st.cases.save_result(case)

    async def fake_send(client, case_id, decision, store=None):
        return case

    monkeypatch.setattr(ui, "send_decision", fake_send)
    with TestClient(app) as c:
        page_html = c.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page_html.text).group(1)
        assert c.post("/login", data={"username": "anna", "password": "ein-langes-passwort",
                                      "csrf_token": csrf}, follow_redirects=False).status_code == 303
        assert c.get("/cases/case-a1").status_code == 200
        assert c.get("/cases/case-a1/pages/1?full=1").status_code == 200
        assert c.get("/cases/case-a1/pages/1").status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/cases/case-a1").text).group(1)
        r = c.post("/cases/case-a1/reject", data={"csrf_token": csrf, "reason_code": "other",
                                                  "comment": "Nachname-Geheim unleserlich"},
                   follow_redirects=False)
        assert r.status_code == 303
    entries = AuditLog(st.cases.engine).entries(case_id="case-a1")
    assert [e.action for e in entries] == ["case.view", "case.page_image", "case.page_image", "case.view",
                                           "case.decision"]
    assert {e.actor for e in entries} == {"anna"} and all(e.detail["via"] == "web" for e in entries)
    assert entries[1].detail["page"] == 1 and entries[1].detail["full"] is True
    assert entries[-1].detail["decision"] == "reject" and entries[-1].detail["reason_code"] == "other"
    # no applicant value (nor the clerk's free text) in the log
    with st.cases.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(audit_log.select()))
    assert "Nachname-Geheim" not in dump
    assert AuditLog(st.cases.engine).verify().ok
