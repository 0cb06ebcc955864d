"""Blob store and case store; the case store against SQLite and real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from formwerk.db import CaseStore
from formwerk.errors import StorageError
from formwerk.models import CaseResult, CaseStatus, Correction, ExtractedField
from formwerk.storage import BlobStore, sha256_hex

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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


def _pg_available() -> bool:
    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def case_store(request, tmp_path):
    if request.param == "sqlite":
        yield CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.sqlite'}")
        return
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    url = PG_URL + f"?options=-csearch_path%3D{schema}"
    yield CaseStore.from_url(url)
    with admin.begin() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))


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
