"""Blob store and case store; the case store against SQLite and real PostgreSQL."""

from __future__ import annotations


import pytest
from sqlalchemy import text

from formwerk.db import CaseStore
from formwerk.errors import StorageError
from formwerk.models import CaseResult, CaseStatus, Correction, ExtractedField
from formwerk.storage import BlobStore, sha256_hex



def test_blob_store_is_content_addressed_and_idempotent(tmp_path):
    store = BlobStore(tmp_path)
    key = store.put(b"Antrag")
    assert key == "sha256:" + sha256_hex(b"Antrag")
    assert store.put(b"Antrag") == key
    assert store.get(key) == b"Antrag"
    assert len(list(tmp_path.rglob("*"))) == 2  # one folder, one file: no duplicate
    with pytest.raises(StorageError):
        store.get("sha256:" + "0" * 64)
    with pytest.raises(StorageError):
        store.get("../../etc/passwd")


@pytest.fixture
def case_store(store_url):
    return CaseStore.from_url(store_url)


def test_case_store_upserts_and_keeps_corrections_apart(case_store):
    result = CaseResult(case_id="case-1", reference="ref-1", file="a.pdf", status=CaseStatus.NEEDS_REVIEW,
                        document_type="gewerbeanmeldung", document_type_confidence=0.97,
                        fields={"family_name": ExtractedField(name="family_name", value="Mueller",
                                                             confidence=0.6)})
    case_store.save_result(result)
    case_store.save_result(result)  # retried activity: still one row
    assert case_store.count_by_status() == {"needs_review": 1}
    corr = Correction(field="family_name", machine_value="Mueller", corrected_value="Müller", clerk="anna")
    case_store.save_corrections("case-1", [corr])
    case_store.save_corrections("case-1", [corr])  # idempotent
    result.status = CaseStatus.COMPLETED
    case_store.save_result(result)
    loaded = case_store.get("case-1")
    assert loaded.status == CaseStatus.COMPLETED
    assert loaded.fields["family_name"].value == "Mueller"  # machine output unchanged
    stored = case_store.corrections_for("case-1")
    assert [(c.field, c.machine_value, c.corrected_value) for c in stored] == [
        ("family_name", "Mueller", "Müller")]
    assert case_store.get("nope") is None
    assert [r.case_id for r in case_store.list(CaseStatus.COMPLETED)] == ["case-1"]


def test_reclassifications_are_listed_as_training_data(case_store):
    case_store.save_result(CaseResult(case_id="c2", reference="r2", status=CaseStatus.COMPLETED,
                                      document_type="gewerbeanmeldung", content_keys=["sha256:" + "a" * 64]))
    case_store.save_corrections("c2", [Correction(field="document_type", machine_value="unknown",
                                                  corrected_value="gewerbeanmeldung", clerk="anna")])
    case_store.save_corrections("c2", [Correction(field="family_name", corrected_value="X", clerk="anna")])
    [(case, label)] = case_store.reclassifications()
    assert case.case_id == "c2" and label == "gewerbeanmeldung" and case.content_keys


# -- review queues ---------------------------------------------------------

from datetime import datetime, timedelta, timezone  # noqa: E402

from formwerk.db import QueueFilter  # noqa: E402
from formwerk.models import CaseEvent, PendingApproval  # noqa: E402

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _review_case(case_id, due_h, **kw) -> CaseResult:
    base = dict(case_id=case_id, reference=case_id, status=CaseStatus.NEEDS_REVIEW,
                document_type="gewerbeanmeldung", routed_at=T0, due_at=T0 + timedelta(hours=due_h),
                review_reasons=["low_confidence:birth_date"], revision=1)
    base.update(kw)
    return CaseResult(**base)


def test_an_older_revision_never_replaces_a_newer_one(case_store):
    new = _review_case("rev-1", 48, revision=5, claimed_by="anna",
                       events=[CaseEvent(at=T0, kind="claimed", actor="anna", decision_id="d-1")])
    assert case_store.save_result(new)
    old = new.model_copy(update={"revision": 4, "claimed_by": None, "status": CaseStatus.COMPLETED})
    assert not case_store.save_result(old)  # arrived late: ignored
    stored = case_store.get("rev-1")
    assert (stored.revision, stored.claimed_by, stored.status) == (5, "anna", CaseStatus.NEEDS_REVIEW)
    assert case_store.save_result(new)  # the same revision again (a retried save) is fine
    assert case_store.save_result(new.model_copy(update={"revision": 6, "claimed_by": None}))
    assert case_store.get("rev-1").claimed_by is None
    assert [(e.kind, e.decision_id) for e in case_store.history("rev-1")] == [("claimed", "d-1")]
    assert case_store.history("nope") == []


def test_review_queue_filters_sorts_and_pages(case_store):
    case_store.save_result(_review_case("q-a", 30, escalated=True, claimed_by="anna"))
    case_store.save_result(_review_case("q-b", 10, document_type="invoice",
                                        review_reasons=["unknown_document_type"]))
    case_store.save_result(_review_case("q-c", 20, review_reasons=["missing:family_name", "four_eyes"]))
    case_store.save_result(_review_case("q-d", 5, status=CaseStatus.COMPLETED))  # not waiting
    case_store.save_result(_review_case("q-batch", 1, document_type="batch"))  # its documents are the cases
    case_store.save_result(_review_case("q-e", 0, due_at=None, review_reasons=["low_type_confidence"]))

    def ids(**kw):
        items, total = case_store.review_queue(QueueFilter(**kw))
        return [c.case_id for c in items], total

    assert ids() == (["q-b", "q-c", "q-a", "q-e"], 4)  # due first, no due date last
    assert ids(descending=True)[0][:3] == ["q-a", "q-c", "q-b"]
    assert ids(document_type="invoice") == (["q-b"], 1)
    assert ids(reason="low_confidence") == (["q-a"], 1)  # a kind ...
    assert ids(reason="low_confidence:birth_date") == (["q-a"], 1)  # ... or a full code
    assert ids(reason="low_confidence:birth") == ([], 0)
    assert ids(reason="four_eyes") == (["q-c"], 1)
    assert ids(reason="low") == ([], 0)  # kinds match whole, also "_" is no wildcard
    assert ids(reason="low_type_confidence") == (["q-e"], 1)
    assert ids(escalated=True) == (["q-a"], 1)
    assert ids(escalated=False)[1] == 3
    assert ids(claimed_by="anna") == (["q-a"], 1)
    assert ids(claimed_by="")[1] == 3  # unclaimed
    assert ids(sort="type")[0] == ["q-c", "q-a", "q-e", "q-b"]  # by type, then due
    assert ids(sort="age")[0] == ["q-a", "q-b", "q-c", "q-e"]
    assert ids(per_page=2, page=1) == (["q-b", "q-c"], 4)
    assert ids(per_page=2, page=2) == (["q-a", "q-e"], 4)
    assert ids(per_page=2, page=3) == ([], 4)
    with pytest.raises(ValueError):
        ids(sort="colour")


def test_next_for_offers_only_what_the_user_may_claim(case_store):
    now = T0 + timedelta(hours=1)
    case_store.save_result(_review_case("n-1", 5, claimed_by="ben", claim_expires_at=now + timedelta(minutes=5)))
    case_store.save_result(_review_case("n-2", 6, awaiting_documents=True))
    case_store.save_result(_review_case("n-3", 7, pending_approval=PendingApproval(clerk="anna", at=T0)))
    case_store.save_result(_review_case("n-4", 8, claimed_by="carla", claim_expires_at=now - timedelta(minutes=1)))
    case_store.save_result(_review_case("n-5", 9))
    assert case_store.next_for("anna", now).case_id == "n-4"  # carla's claim has lapsed
    assert case_store.next_for("ben", now).case_id == "n-1"  # his own claim
    assert case_store.next_for("dora", now).case_id == "n-3"  # anna's approval needs a second person
    # a naive "now" is UTC; before carla's claim lapsed, n-4 is not offered to anna
    assert case_store.next_for("anna", (now - timedelta(minutes=2)).replace(tzinfo=None)).case_id == "n-5"


def _old_schema(engine) -> None:
    """The tables as the first release created them (before the review columns)."""
    from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, String, Table, Text

    md = MetaData()
    Table("cases", md, Column("case_id", String(200), primary_key=True),
          Column("reference", String(500), nullable=False), Column("filename", String(500), nullable=False),
          Column("sha256", String(64), nullable=False), Column("status", String(32), nullable=False),
          Column("document_type", String(100)), Column("document_type_confidence", Float),
          Column("page_count", Integer, nullable=False), Column("result", JSON, nullable=False),
          Column("created_at", DateTime(timezone=True), nullable=False),
          Column("updated_at", DateTime(timezone=True), nullable=False))
    Table("corrections", md, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("case_id", String(200), nullable=False), Column("field", String(200), nullable=False),
          Column("machine_value", Text), Column("corrected_value", Text),
          Column("clerk", String(200), nullable=False), Column("at", DateTime(timezone=True), nullable=False))
    md.create_all(engine)
    old = _review_case("old-1", 12, revision=3, escalated=True)
    with engine.begin() as conn:
        conn.execute(md.tables["cases"].insert().values(
            case_id="old-1", reference="old-1", filename="", sha256="", status="needs_review",
            document_type="gewerbeanmeldung", page_count=1, result=old.model_dump(mode="json"),
            created_at=T0, updated_at=T0))
        conn.execute(md.tables["corrections"].insert().values(
            case_id="old-1", field="family_name", machine_value='"A"', corrected_value='"B"',
            clerk="anna", at=T0))


def test_a_database_of_the_old_schema_gets_the_new_columns(case_store):
    from sqlalchemy import inspect as sa_inspect

    url = case_store.engine.url
    case_store.engine.dispose()
    # a fresh database of the old layout: drop what the fixture created, build the old tables
    with case_store.engine.begin() as conn:
        conn.execute(text("drop table corrections"))
        conn.execute(text("drop table cases"))
    _old_schema(case_store.engine)
    store = CaseStore.from_url(url.render_as_string(hide_password=False))
    CaseStore.from_url(url.render_as_string(hide_password=False))  # a second start: nothing left to add
    columns = {c["name"] for c in sa_inspect(store.engine).get_columns("cases")}
    assert {"claimed_by", "claim_expires_at", "escalated", "due_at", "routed_at", "awaiting_documents",
            "revision", "reasons"} <= columns
    # the old row's mirrored columns were filled in from its stored result
    assert [c.case_id for c in store.review_queue(QueueFilter(escalated=True))[0]] == ["old-1"]
    assert not store.save_result(_review_case("old-1", 12, revision=2))  # its revision counts
    assert [c.clerk for c in store.corrections_for("old-1")] == ["anna"]
    store.save_corrections("old-1", [Correction(field="x", corrected_value=1, clerk="ben", decision_id="d-9")])
    assert store.corrections_for("old-1")[-1].decision_id == "d-9"


def test_postgres_connections_give_up_on_a_silent_network(store_url):
    """A dropped network without a reset must not hold a worker thread for minutes."""
    from formwerk.db import make_engine

    engine = make_engine(store_url)
    if engine.dialect.name != "postgresql":
        pytest.skip("libpq settings")
    with engine.connect() as conn:
        dsn = conn.connection.dbapi_connection.info.dsn
    assert "connect_timeout=10" in dsn and "tcp_user_timeout=30000" in dsn and "keepalives=1" in dsn, dsn


def test_processes_starting_together_on_a_fresh_database_all_get_their_tables(store_url):
    """An API and workers starting at once each create the schema: none may die of 'already exists'."""
    import subprocess
    import sys
    import time

    # as an API and a worker start: the case store, then the audit log's and the users' tables;
    # each process imports first, then all create at the same moment
    code = ("import sys, time; from sqlalchemy import create_engine; from formwerk.db import CaseStore; "
            "from formwerk.audit import AuditLog; from formwerk.users import UserStore; "
            "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); "
            "e = create_engine(sys.argv[1]); AuditLog(e); UserStore(e); "
            "s = CaseStore.from_url(sys.argv[1]); print(s.count_by_status())")
    start = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", code, store_url, start], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-800:] for _, err in outs]
