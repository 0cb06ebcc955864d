"""Field thresholds re-fit from clerks' decisions (formwerk.fieldcal, formwerk.fieldcal_store)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from formwerk import fieldcal
from formwerk.fieldcal import ALWAYS_REVIEW, Evidence, evidence_from_case, fit, fit_field
from formwerk.fieldcal_store import CalibrationStore, UnknownCalibration, reviewed_evidence
from formwerk.models import (
    RECLASSIFICATION,
    CaseEvent,
    CaseResult,
    CaseStatus,
    Classification,
    Correction,
    ExtractedField,
    Extraction,
    RoutingPolicy,
    ValidationIssue,
)
from formwerk.routing import route

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
POLICIES = {"wohngeld": RoutingPolicy(min_field_confidence=0.9), "kindergeld": RoutingPolicy(min_field_confidence=0.9)}


def _points(n: int, conf: float, wrong: int = 0, field: str = "family_name", flagged: bool = False):
    return [Evidence("wohngeld", field, conf, i >= wrong, flagged) for i in range(n)]


def test_bounds_are_clopper_pearson():
    # 0 wrong of 598: the 95 % lower bound is just above 99.5 % (the rule of three: 3/n)
    assert fieldcal.lower_bound(598, 598) > 0.995 > fieldcal.lower_bound(500, 500)
    assert fieldcal.upper_bound(97, 100) < 0.995 < fieldcal.upper_bound(199, 200)
    assert fieldcal.lower_bound(0, 0) == 0.0 and fieldcal.upper_bound(0, 0) == 1.0


def test_enough_right_values_below_the_threshold_lower_it():
    points = _points(600, 0.97) + _points(40, 0.86, flagged=True) + _points(20, 0.7, wrong=5, flagged=True)
    f = fit_field("wohngeld", "family_name", points, 0.9)
    assert f.decision == "lowered" and f.threshold == pytest.approx(0.86)
    assert f.band == 40 and f.accepted == 640 and f.accepted_wrong == 0
    assert f.accepted_lower >= 0.995


def test_too_little_evidence_keeps_the_forms_threshold():
    # every value right, but 300 are too few to show 99.5 % with 95 % confidence
    f = fit_field("wohngeld", "family_name", _points(260, 0.97) + _points(40, 0.86, flagged=True), 0.9)
    assert f.threshold == 0.9 and f.decision == "kept_little_evidence"


def test_a_band_too_small_is_not_let_through():
    f = fit_field("wohngeld", "family_name", _points(700, 0.97) + _points(10, 0.86, flagged=True), 0.9)
    assert f.threshold == 0.9 and f.decision == "kept"


def test_a_wrong_value_in_the_band_stops_the_lowering_there():
    band_ok = _points(50, 0.88, flagged=True)
    band_bad = _points(50, 0.8, wrong=3, flagged=True)
    f = fit_field("wohngeld", "family_name", _points(800, 0.97) + band_ok + band_bad, 0.9)
    assert f.threshold == pytest.approx(0.88)


def test_never_below_the_floor():
    f = fit_field("wohngeld", "family_name", _points(800, 0.97) + _points(100, 0.4, flagged=True), 0.9)
    assert f.threshold == 0.9


def test_accepted_values_evidently_wrong_raise_the_threshold():
    # 4 of 100 accepted values at 0.92 were corrected (4 of 200 accepted: evidently below
    # 99.5 %); those at 0.99 are all right
    points = _points(100, 0.92, wrong=4) + _points(100, 0.99)
    f = fit_field("wohngeld", "family_name", points, 0.9)
    assert f.decision == "raised" and f.threshold == pytest.approx(0.99)
    assert f.accepted_wrong == 0
    # 4 of 400 is not evidently below 99.5 %: one bad week does not take a field off
    assert fit_field("wohngeld", "family_name", _points(100, 0.92, wrong=4) + _points(300, 0.99),
                     0.9).threshold == 0.9


def test_no_confidence_good_enough_means_always_review():
    f = fit_field("wohngeld", "iban", _points(100, 0.99, wrong=10), 0.9)
    assert f.threshold == ALWAYS_REVIEW
    # and routing then flags every value of that field
    ext = Extraction(document_type="wohngeld",
                     fields={"iban": ExtractedField(name="iban", value="DE02120300000000202051", confidence=1.0)})
    cal = fit([*_points(100, 0.99, wrong=10, field="iban")], POLICIES, version="fc1", created_at=T0)
    policy = fieldcal.apply(POLICIES, cal)["wohngeld"]
    decision = route(Classification(document_type="wohngeld", confidence=1.0), ext, policy)
    assert decision.reasons == ["low_confidence:iban"]


def test_apply_puts_thresholds_and_version_into_the_policies():
    cal = fit(_points(600, 0.97) + _points(40, 0.86, flagged=True), POLICIES, version="fc7", created_at=T0)
    policies = fieldcal.apply(POLICIES, cal)
    assert policies["wohngeld"].field_thresholds == {"family_name": pytest.approx(0.86)}
    assert policies["wohngeld"].calibration_version == "fc7"
    assert policies["kindergeld"].field_thresholds == {} and policies["kindergeld"].calibration_version == "fc7"
    assert fieldcal.apply(POLICIES, None) == POLICIES
    # a value at 0.87 now goes through, at 0.85 not
    for conf, status in ((0.87, CaseStatus.COMPLETED), (0.85, CaseStatus.NEEDS_REVIEW)):
        ext = Extraction(document_type="wohngeld",
                         fields={"family_name": ExtractedField(name="family_name", value="Nowak", confidence=conf)})
        assert route(Classification(document_type="wohngeld", confidence=1.0), ext,
                     policies["wohngeld"]).status == status


def _reviewed_case(case_id: str, corrections: list[Correction], *, status=CaseStatus.COMPLETED,
                   reviewed_by: str | None = "anna", doc_type: str = "wohngeld") -> CaseResult:
    fields = {
        "family_name": ExtractedField(name="family_name", value="Nowak", confidence=0.85, source="ocr",
                                      needs_review=True),
        "given_names": ExtractedField(name="given_names", value="Ewa", confidence=0.97, source="ocr"),
        "iban": ExtractedField(name="iban", value="DE00", confidence=0.9, source="ocr",
                               issues=[ValidationIssue(code="iban_checksum", message="x", fields=["iban"])]),
        "phone": ExtractedField(name="phone", value=None, confidence=0.0, source="none"),
    }
    events = [CaseEvent(at=T0, kind="routed", detail={"status": "needs_review"})]
    if reviewed_by:
        events.append(CaseEvent(at=T0, kind="approved", actor=reviewed_by))
    return CaseResult(case_id=case_id, reference=case_id, status=status, document_type=doc_type,
                      fields=fields, corrections=corrections, reviewed_by=reviewed_by,
                      review_reasons=["low_confidence:family_name"], events=events, routed_at=T0)


def test_evidence_from_a_reviewed_case():
    kept = evidence_from_case(_reviewed_case("a", []))
    # the failed check (iban) and the sure empty value (phone) are not routed by a threshold
    assert sorted((e.field, e.confidence, e.right, e.flagged) for e in kept) == [
        ("family_name", 0.85, True, True), ("given_names", 0.97, True, False)]
    fixed = evidence_from_case(_reviewed_case("b", [
        Correction(field="family_name", machine_value="Nowak", corrected_value="Nowakowski", clerk="anna"),
        Correction(field="given_names", machine_value="Ewa", corrected_value="Ewa ", clerk="anna"),
        Correction(field=RECLASSIFICATION, machine_value="kindergeld", corrected_value="wohngeld", clerk="anna"),
    ]))
    assert {e.field: e.right for e in fixed} == {"family_name": False, "given_names": True}
    assert evidence_from_case(_reviewed_case("c", [], reviewed_by=None)) == []  # straight through
    assert evidence_from_case(_reviewed_case("d", [], status=CaseStatus.REJECTED)) == []


def test_the_store_keeps_versions_and_one_active(store_url):
    from formwerk.db import CaseStore

    cases = CaseStore.from_url(store_url)
    store = CalibrationStore(cases.engine)
    assert store.active() is None and store.next_version() == "fc1"
    rng = random.Random(3)
    points = _points(600, 0.97) + _points(40, 0.86, flagged=True)
    rng.shuffle(points)
    first = fit(points, POLICIES, version=store.next_version(), created_at=T0, cases=640)
    store.save(first, activate=True)
    second = fit([], POLICIES, version=store.next_version(), created_at=T0, cases=0)
    store.save(second, activate=False)
    assert second.version == "fc2"
    assert store.active().version == "fc1"
    assert store.active().thresholds() == {"wohngeld": {"family_name": pytest.approx(0.86)}}
    store.activate("fc2")
    assert store.active().version == "fc2"
    assert [(v, a) for v, _, a, _ in store.versions()] == [("fc1", False), ("fc2", True)]
    store.activate(None)
    assert store.active() is None
    with pytest.raises(UnknownCalibration):
        store.activate("fc9")


def test_evidence_is_read_from_approved_reviewed_cases_only(store_url):
    from formwerk.db import CaseStore

    cases = CaseStore.from_url(store_url)
    reviewed = _reviewed_case("rev-1", [Correction(field="family_name", machine_value="Nowak",
                                                   corrected_value="Nowacki", clerk="anna")])
    waiting = _reviewed_case("wait-1", [], status=CaseStatus.NEEDS_REVIEW, reviewed_by=None)
    for r in (reviewed, waiting):
        cases.save_result(r)
    evidence, n = reviewed_evidence(cases.engine)
    assert n == 1
    assert {(e.field, e.right) for e in evidence} == {("family_name", False), ("given_names", True)}


def test_the_calibrate_command(tmp_path, capsys):
    import argparse
    import asyncio

    from formwerk.db import CaseStore
    from formwerk.fieldcal_commands import add_parser, calibrate
    from formwerk.settings import Settings

    settings = Settings(data_dir=tmp_path, secret_key="test")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))

    def run(*argv) -> tuple[int, str]:
        code = asyncio.run(calibrate(settings, parser.parse_args(["calibrate", *argv])))
        return code, capsys.readouterr().out

    cases = CaseStore.from_url(settings.sqlalchemy_url)
    fixed = [Correction(field="given_names", machine_value="Ewa", corrected_value="Eva", clerk="anna")]
    for i in range(3):
        cases.save_result(_reviewed_case(f"rev-{i}", fixed, doc_type="wohngeld_mietzuschuss"))
    code, out = run("fit", "--dry-run")
    assert code == 0 and "3 reviewed cases" in out and "0 of 3 right" in out
    assert "given_names" in out and "raised" in out
    assert run("list")[1].startswith("no field calibration yet")
    code, out = run("fit")
    assert code == 0 and "fc1 stored and active" in out
    assert CalibrationStore(cases.engine).active().thresholds() == {
        "wohngeld_mietzuschuss": {"given_names": ALWAYS_REVIEW}}
    assert "* fc1" in run("list")[1]
    assert "never" in run("show", "fc1")[1]
    assert run("off")[0] == 0 and CalibrationStore(cases.engine).active() is None
    assert run("activate", "fc1")[0] == 0 and CalibrationStore(cases.engine).active().version == "fc1"
    assert run("activate", "fc9")[0] == 2
    from formwerk.audit import AuditLog

    log = AuditLog(cases.engine)
    assert [e.action for e in log.entries()][-3:] == ["calibration.fit", "calibration.off", "calibration.activate"]
    assert log.verify().ok


def test_a_fit_over_many_fields_does_not_move_one_on_a_fluke():
    # one correction among 6 accepted values: alone, evidence enough that the field is below
    # 99.5 %; among 100 fields tested at once, what chance alone gives somewhere
    one = [Evidence("wohngeld", "phone", 0.97, i > 0, False) for i in range(6)]
    assert fit(one, POLICIES, version="fc1", created_at=T0).thresholds() == {
        "wohngeld": {"phone": pytest.approx(ALWAYS_REVIEW)}}
    many = one + [Evidence("wohngeld", f"f{k}", 0.97, True, False) for k in range(99) for _ in range(6)]
    cal = fit(many, POLICIES, version="fc1", created_at=T0)
    assert cal.family_level == pytest.approx(1 - 0.05 / 100)
    assert cal.thresholds() == {}
    # four corrections among 14 stay evidence even then
    bad = [Evidence("wohngeld", "phone", 0.97, i > 3, False) for i in range(14)]
    cal = fit(bad + many[6:], POLICIES, version="fc1", created_at=T0)
    assert cal.thresholds() == {"wohngeld": {"phone": pytest.approx(ALWAYS_REVIEW)}}
