"""bench.rule_fp: the per-rule false-positive table runs without ../shared/data and
keeps no rule that flags more right values than it catches wrong ones."""

from __future__ import annotations

import json
from pathlib import Path

from bench import rule_fp, rule_fp_corpus


def test_table_without_shared_data(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(rule_fp_corpus, "SHARED_DATA", tmp_path / "absent")
    assert rule_fp.main(["--out", str(tmp_path / "out"), "--per-locale", "5"]) == 0
    report = json.loads((tmp_path / "out" / "rule_fp.json").read_text())
    assert report["shared_data"] is False and report["right_values"] == report["wrong_values"] > 400
    rows = {r["rule"]: r for r in report["rules"]}
    current = [r for r in report["rules"] if r["kind"] != "before"]
    assert {r["rule"] for r in current} >= {"q_without_u", "capital_inside_name", "small_name_start", "g_echo"}
    assert [r["rule"] for r in current if r["verdict"] == "remove"] == []
    # the name rules catch what they are for ...
    assert rows["capital_inside_name"]["wrong_caught"] > 0 and rows["separator_in_name"]["wrong_caught"] > 0
    # ... and the spellings the old ones flagged pass now
    assert "Iqbal" in rows["q_without_u (names)"]["flagged_examples"]
    assert "DeLuca" in rows["capital_inside (old)"]["flagged_examples"]
    assert "DeLuca" not in rows["capital_inside_name"]["flagged_examples"]
    assert "verdict" in capsys.readouterr().out


def test_hand_written_spellings_pass_the_name_rules():
    from extractors.plausibility import PERSON_NAME_FIELDS, RULES, Context

    for field, values in (("given_names", rule_fp_corpus.REAL_GIVEN), ("family_name", rule_fp_corpus.REAL_FAMILY)):
        for v in values:
            flagged = [r.name for r in RULES if r.applies(field, "text") and field in PERSON_NAME_FIELDS
                       and r.name != "borrowed" and r.check(v, Context(field=field, type="text"))]
            assert flagged == [], (field, v, flagged)


def test_every_corruption_differs_from_its_right_value():
    rights = rule_fp.right_values(per_locale=2)
    wrongs = rule_fp.wrong_values(rights)
    assert wrongs and all(w["value"] != w["right"] for w in wrongs)
    assert {"g_as_q", "neighbour", "cut_start"} <= {w["corruption"] for w in wrongs}
