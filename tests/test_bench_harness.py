"""The benchmark harness end to end with fakes: corpus plan and generation with a
fake ``bench.synth``, the pipeline contract with a recorded fake ``formwerk``
CLI, metrics, report and plots. No OCR runs here (see test_bench_e2e.py)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import corpus, naive, pipeline, report
from bench.run import run

FORM_TRUTH = {"family_name": "Holsten", "birth_date": "1986-02-14", "employees_full_time": 3}


def _tiny_pdf(text: str) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return buf.getvalue()


class FakeSynth:
    """The ``bench.synth`` contract, minus realism (text-only PDFs, no degradation)."""

    @staticmethod
    def render_document(doc_type: str, seed: int):
        return SimpleNamespace(doc_type=doc_type, truth=dict(FORM_TRUTH), variant="boxed",
                               pdf_bytes=_tiny_pdf(f"Gewerbe-Anmeldung {seed}"))

    @staticmethod
    def scan_document(doc, profile: str, seed: int) -> bytes:
        return doc.pdf_bytes  # the harness only needs bytes of a document

    @staticmethod
    def fill_real_form(doc_type: str, seed: int):
        return None


# A recorded stand-in for `formwerk process --json`: reads the manifest next to
# each file and answers with the truth (forms: completed, confident), "unknown"
# for letters, and a rejection for blank pages; like the real CLI, one JSON
# object per file and line, with `file` as given on the command line.
FAKE_CLI = r'''
import json, sys, pathlib, os, time
assert os.environ["FORMWERK_DATA_DIR"]
if sys.argv[1:2] == ["worker"]:  # a long-lived worker: runs until SIGINT
    try:
        while True:
            time.sleep(0.1)
    except KeyboardInterrupt:
        sys.exit(0)
if sys.argv[1:2] == ["down"]:
    sys.exit(0)
for arg in sys.argv[1:]:
    if arg in ("process",) or arg.startswith("--"):
        continue
    p = pathlib.Path(arg)
    man = p.parent / "manifest.jsonl"
    items = {}
    if man.exists():
        items = {json.loads(l)["file"]: json.loads(l) for l in man.read_text().splitlines() if l.strip()}
    it = items.get(p.name)
    if it is None:  # the warm-up file
        print(json.dumps({"file": arg, "status": "needs_review", "document_type": "unknown", "fields": {}}))
        continue
    if it["category"] == "blank":
        print(json.dumps({"file": arg, "status": "rejected", "document_type": None, "fields": {},
                          "reason": "Die Seite ist leer.", "reason_code": "empty_document"}))
        continue
    fields = {k: {"value": v, "raw": str(v), "confidence": 0.97, "page": 1, "bbox": [0, 0, 1, 1],
                  "needs_review": False} for k, v in it["truth"].items()}
    status = "completed" if it["doc_type"] != "unknown" else "needs_review"
    print(json.dumps({"file": arg, "case_id": "c-" + p.stem, "status": status,
                      "document_type": it["doc_type"], "document_type_confidence": 0.99,
                      "review_reasons": [], "fields": fields,
                      "timings_ms": {"ocr": 2000, "classify": 10, "extract": 30, "total": 2100}}))
'''


def test_plan_is_deterministic_and_sized():
    inv = [f"INV_{i}" for i in range(26)]
    small = corpus.plan_corpus("small", 1, invoices=inv)
    assert small == corpus.plan_corpus("small", 1, invoices=inv)
    assert small != corpus.plan_corpus("small", 2, invoices=inv)  # seeds differ
    assert 36 <= len(small) <= 44
    full = corpus.plan_corpus("full", 1, invoices=inv)
    assert len(full) >= 200
    assert len(corpus.plan_corpus("full", 1, real_forms=False)) >= 200  # without shared data too
    cats = {s.category for s in full}
    assert cats == {"scan", "digital", "acroform", "real_scan", "invoice", "letter", "blank", "other_form", "batch"}
    assert {s.profile for s in full if s.category == "scan"} == set(corpus.PROFILES)
    assert not any(s.category in ("acroform", "real_scan") for s in corpus.plan_corpus("full", 1, real_forms=False))
    with pytest.raises(ValueError):
        corpus.plan_corpus("huge")


def test_build_tiny_corpus_with_fake_synth(tmp_path):
    items, skipped = corpus.build_corpus(tmp_path, "tiny", 5, synth=FakeSynth, data_dir=tmp_path / "no-data")
    assert skipped == []
    assert [i.category for i in items] == ["scan", "letter", "blank"]
    man = corpus.read_manifest(tmp_path / "corpus" / "manifest.jsonl")
    assert [m["file"] for m in man] == [i.file for i in items]
    assert man[0]["truth"] == FORM_TRUTH and man[0]["doc_type"] == "gewerbeanmeldung"
    assert man[2]["also_ok"] == ["rejected"] and man[1]["truth"] == {}
    for m in man:
        assert (tmp_path / "corpus" / m["file"]).read_bytes().startswith(b"%PDF")
        assert m["pages"] == 1
    # same seed -> same bytes
    again, _ = corpus.build_corpus(tmp_path / "again", "tiny", 5, synth=FakeSynth, data_dir=tmp_path / "no-data")
    for a, b in zip(items, again):
        assert (tmp_path / "corpus" / a.file).read_bytes() == (tmp_path / "again" / "corpus" / b.file).read_bytes()


def test_batch_is_its_parts_merged_with_their_page_ranges():
    spec = corpus.CorpusSpec("batch", "batch", 7, "office_300", "gewerbeanmeldung+letter+invoice")
    g = corpus.generate(spec, FakeSynth)
    assert corpus.count_pages(g.data) == 3 and g.category == "batch"
    assert g.truth == {"segments": [{"start": 1, "end": 1, "document_type": "gewerbeanmeldung"},
                                    {"start": 2, "end": 2, "document_type": "unknown"},
                                    {"start": 3, "end": 3, "document_type": "invoice"}]}


def test_missing_synth_is_reported_not_dropped(tmp_path):
    items, skipped = corpus.build_corpus(tmp_path, "tiny", 0, synth=None, data_dir=tmp_path / "no-data")
    assert [i.category for i in items] == ["letter", "blank"]
    assert len(skipped) == 1 and skipped[0]["category"] == "scan" and "synth" in skipped[0]["reason"]


def test_parse_output_ignores_noise():
    out = 'starting worker...\n{"file": "a.pdf", "status": "completed"}\n{broken\n'
    assert pipeline.parse_output(out) == [{"file": "a.pdf", "status": "completed"}]


def test_naive_regex_baseline():
    text = ("Gewerbe-Anmeldung nach § 14 GewO\nGeburtsdatum: 14.02.1986\nE-Mail: max@example.de\n"
            "Vollzeit 3\n")
    r = naive.naive_result("x.pdf", text)
    assert r["document_type"] == "gewerbeanmeldung"
    f = {k: v["value"] for k, v in r["fields"].items()}
    assert f["birth_date"] == "1986-02-14" and f["email"] == "max@example.de" and f["employees_full_time"] == 3
    inv = naive.naive_result("i.pdf", "Rechnung\nRechnungsnummer: R18-31\nGesamtbetrag 1.234,50 EUR\n"
                                      "IBAN DE02 1203 0000 0000 2020 51")
    g = {k: v["value"] for k, v in inv["fields"].items()}
    assert g == {"invoice_number": "R18-31", "total_amount": "1234.50", "iban": "DE02120300000000202051"}
    assert naive.classify("Sehr geehrte Damen und Herren") == "unknown"


def test_cii_truth(tmp_path):
    from bench.cii import invoice_truth

    xml = """<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
      xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
      xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
      <rsm:ExchangedDocument><ram:ID>471102</ram:ID><ram:IssueDateTime>
        <udt:DateTimeString format="102">20180305</udt:DateTimeString></ram:IssueDateTime></rsm:ExchangedDocument>
      <rsm:SupplyChainTradeTransaction><ram:ApplicableHeaderTradeAgreement><ram:SellerTradeParty>
        <ram:Name>Lieferant GmbH</ram:Name></ram:SellerTradeParty></ram:ApplicableHeaderTradeAgreement>
      <ram:ApplicableHeaderTradeSettlement><ram:SpecifiedTradeSettlementPaymentMeans>
        <ram:PayeePartyCreditorFinancialAccount><ram:IBANID>DE02 1203 0000 0000 2020 51</ram:IBANID>
        </ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>
        <ram:SpecifiedTradeSettlementHeaderMonetarySummation><ram:GrandTotalAmount>529.9</ram:GrandTotalAmount>
        </ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement>
      </rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>"""
    p = tmp_path / "x.cii.xml"
    p.write_text(xml)
    assert invoice_truth(p) == {"seller_name": "Lieferant GmbH", "invoice_number": "471102",
                                "invoice_date": "2018-03-05", "total_amount": "529.90",
                                "iban": "DE02120300000000202051"}


def test_run_with_fake_cli_writes_every_output(tmp_path):
    cli = tmp_path / "fake_formwerk.py"
    cli.write_text(FAKE_CLI)
    out = tmp_path / "bench-out"
    res = run(out, "tiny", 3, command=[sys.executable, str(cli)], baselines=False, synth=FakeSynth, batch_size=2)
    p = res["pipeline"]
    assert p["documents"] == 3 and p["errors"] == []
    assert p["doc_type"]["accuracy"] == 1.0  # blank page rejected counts as right
    assert p["fields"]["accuracy"] == 1.0 and p["fields"]["n"] == 3
    assert p["straight_through"]["rate"] == pytest.approx(1 / 3)
    assert p["review"]["auto_accepted_accuracy"] == 1.0
    assert p["threshold_curve"]["threshold_for_target"] == 0.0
    assert p["speed"]["stages"]["ocr"]["mean_ms"] == 2000
    assert p["speed"]["batches"] == 2 and p["speed"]["pages_per_minute"] > 0
    for name in ("results.json", "report.md", "reliability.png", "threshold_curve.png", "confusion.png",
                 "pipeline.jsonl"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "results.json").read_text())["meta"]["corpus"]["documents"] == 3
    md = (out / "report.md").read_text()
    assert "straight-through rate" in md and "confusion.png" in md
    table = report.stdout_table(res)
    assert "pages / minute" in table and "limit: tesseract CLI" in table


def test_missing_results_are_errors(tmp_path):
    cli = tmp_path / "silent.py"
    cli.write_text("import sys; sys.exit(3)\n")
    items, _ = corpus.build_corpus(tmp_path, "tiny", 0, synth=FakeSynth, data_dir=tmp_path / "no-data")
    files = [tmp_path / "corpus" / i.file for i in items]
    r = pipeline.run_pipeline(files, tmp_path / "data", command=[sys.executable, str(cli)], batch_size=10)
    assert r.results == {}
    assert any("exit code 3" in e for e in r.errors) and any("no result for 3" in e for e in r.errors)


@pytest.mark.skipif(__import__("shutil").which("tesseract") is None, reason="tesseract not installed")
def test_baselines_on_one_small_page(tmp_path):
    from reportlab.pdfgen import canvas

    from bench.baselines import naive_baseline, render_pages, tesseract_limit

    pdf = tmp_path / "inv.pdf"
    c = canvas.Canvas(str(pdf), pagesize=(420, 120), invariant=1)  # small page: fast OCR
    c.setFont("Helvetica", 14)
    c.drawString(20, 80, "Rechnung")
    c.drawString(20, 50, "Rechnungsnummer: R18-31")
    c.showPage()
    c.save()
    pages = render_pages(pdf, tmp_path / "pages")
    assert len(pages) == 1 and pages[0].exists()
    lim = tesseract_limit(pages * 2, workers=2)
    assert lim.errors == 0 and lim.pages == 2 and lim.pages_per_minute > 0
    nv = naive_baseline([("inv.pdf", pages)])
    r = nv.results["inv.pdf"]
    assert r["document_type"] == "invoice"
    assert r["fields"]["invoice_number"]["value"] == "R18-31"
    assert nv.throughput.pages == 1


def test_unfillable_real_form_falls_back_to_generated(tmp_path):
    g = corpus.generate(corpus.CorpusSpec("gewerbeanmeldung", "acroform", 7), FakeSynth, tmp_path)
    assert g.category == "digital" and g.truth == FORM_TRUTH
    g = corpus.generate(corpus.CorpusSpec("gewerbeanmeldung", "real_scan", 7, "fax"), FakeSynth, tmp_path)
    assert g.category == "scan"
    g = corpus.generate(corpus.CorpusSpec("unknown", "blank", 7), FakeSynth, tmp_path)
    assert g.also_ok == ["rejected"] and g.truth == {}



def test_rescore_reproduces_a_run(tmp_path):
    from bench.run import rescore

    cli = tmp_path / "fake_formwerk.py"
    cli.write_text(FAKE_CLI)
    out = tmp_path / "bench-out"
    first = run(out, "tiny", 3, command=[sys.executable, str(cli)], baselines=False, synth=FakeSynth)
    (out / "report.md").unlink()
    again = rescore(out)
    assert again["pipeline"]["fields"] == first["pipeline"]["fields"]
    assert again["pipeline"]["speed"] == first["pipeline"]["speed"]
    assert (out / "report.md").exists()


def test_warm_worker_mode_with_fake_formwerk(tmp_path):
    exe = tmp_path / "bin" / "formwerk"  # named like the real CLI: worker mode is used
    exe.parent.mkdir()
    exe.write_text(f"#!{sys.executable}\n" + FAKE_CLI)
    exe.chmod(0o755)
    items, _ = corpus.build_corpus(tmp_path, "tiny", 0, synth=FakeSynth, data_dir=tmp_path / "no-data")
    warm = tmp_path / "warm.pdf"
    warm.write_bytes(_tiny_pdf("warm-up"))
    r = pipeline.run_pipeline([tmp_path / "corpus" / i.file for i in items], tmp_path / "data",
                              command=[str(exe), "process", "--json"], warmup=warm)
    assert r.errors == []
    assert r.worker_pid is not None and r.worker_warmup_s is not None
    assert len(r.results) == 3
    assert (tmp_path / f"worker-warm.pdf").exists()
    with pytest.raises(ProcessLookupError):  # the worker was stopped
        import os
        os.kill(r.worker_pid, 0)
