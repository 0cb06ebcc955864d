"""`formwerk train`: generated documents plus clerks' reclassifications → a new artefact."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from classifiers.training import latest_version_dir
from formwerk import commands
from formwerk.db import CaseStore
from formwerk.models import CaseResult, CaseStatus, Correction, PageContent, Word
from formwerk.settings import Settings
from formwerk.storage import BlobStore


def test_train_uses_reclassifications_and_writes_a_new_version(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path / "data", classifier_dir=str(tmp_path / "clf"))
    settings.ensure_dirs()
    blobs = BlobStore(settings.blob_dir)
    page = PageContent(page=1, width=100, height=100, words=[
        Word(text=t, bbox=[0, 0, 1, 1]) for t in "Antrag auf Hundesteuer Hund Rasse Halter".split()])
    key = blobs.put(page.model_dump_json().encode())
    store = CaseStore.from_url(settings.sqlalchemy_url)
    store.save_result(CaseResult(case_id="c1", reference="r", status=CaseStatus.COMPLETED,
                                 document_type="unknown", content_keys=[key]))
    store.save_corrections("c1", [Correction(field="document_type", machine_value="gewerbeanmeldung",
                                             corrected_value="unknown", clerk="anna")])
    assert latest_version_dir(tmp_path / "clf") is None
    asyncio.run(commands.train(settings, SimpleNamespace(per_type=2)))
    out = json.loads(capsys.readouterr().out)
    assert out["from_reclassifications"] == 1
    assert out["examples"] > 10
    assert latest_version_dir(tmp_path / "clf").name == out["version"]
