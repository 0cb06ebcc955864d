"""Per-rule false positives: every repair and plausibility rule on real-world spellings.

``python -m bench.rule_fp --out bench-out/rule_fp`` runs each rule of
``extractors.plausibility.RULES`` and ``extractors.ocr_repairs.REPAIRS``
over two corpora of the fields it applies to and prints, per rule:

* **right values flagged** — real-world spellings the rule flags (a
  plausibility rule) or changes (a repair): false positives;
* **wrong values caught** — the same spellings with one OCR-style corruption
  each (character confusions, a letter beside its umlaut, a glyph inside a
  word, a cut start or cut digits, a neighbouring box taken too), which the
  rule flags, or which the repair turns back into the right spelling;
* a verdict: ``keep`` when it catches more wrong values than it flags right
  ones, else ``remove``.

The document-level block-capitals verdict (``extractors.evidence.capitals_verdict``)
is counted on whole real documents instead: each XFUND-de form's answers, each
KoSIT message's and each e-invoice's written values (right documents it marks as
filled in capitals), and the same documents written in capitals (caught).

The right values come from sources neither the extractor nor the benchmark's
generator (Faker ``de_DE``) uses (``bench.rule_fp_corpus``): hand-written lists of real spellings
(names, activities, addresses, register entries, places of birth, phone
numbers in the writing styles of forms), Faker locales other than ``de_DE``
(names and towns, only to count right values flagged), and, when
``../shared/data`` is there, the names and addresses of the KoSIT
XGewerbeanzeige test messages and of the e-invoice samples and the phone
numbers written on the real forms of XFUND-de. Every wrong value
is derived from one right value, one corruption each, so both corpora have
the same size.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from bench import rule_fp_corpus as corpus
from bench.rule_fp_corpus import right_values
from extractors.evidence import HAND_SURE, capitals_verdict, in_capitals
from extractors.ocr_repairs import REPAIRS
from extractors.plausibility import PERSON_NAME_FIELDS, PLACE_FIELDS, RULES, Context, PlausibilityRule, label_vocabulary, unlikely_q
from forms.catalogue import load_catalogue

# --------------------------------------------------------------------------
# OCR-style corruptions
# --------------------------------------------------------------------------

_UMLAUT_BASE = {"ä": "a", "ö": "o", "ü": "u", "Ä": "A", "Ö": "O", "Ü": "U"}
_CONFUSIONS = [("rn", "m"), ("m", "rn"), ("e", "c"), ("h", "b"), ("l", "1"), ("o", "0"), ("cl", "d"),
               ("ü", "u"), ("ö", "o"), ("ä", "a"), ("ß", "B"), ("i", "l"), ("n", "u")]


def _corruptions(rec: dict) -> list[tuple[str, str]]:
    """Every (kind, wrong value) OCR could make of this right value."""
    v, out = rec["value"], []
    for a, b in _CONFUSIONS:
        if a in v:
            out.append(("confusion", v.replace(a, b, 1)))
    if "g" in v:
        i = v.index("g")
        out.append(("g_as_q", v[:i] + "q" + v[i + 1:]))
        out.append(("g_echo", v[:i + 1] + "q" + v[i + 1:]))
        out.append(("q_before_g", v[:i] + "q" + v[i:]))  # a tail before it (the "@"'s) read as a "q"
    m = re.search(r"(?:^|[._\-])[a-z]?(j)o", v)
    if m and rec["type"] == "email":  # the enlarged reads' "i" for a "j" ("bioern")
        out.append(("j_as_i", v[:m.start(1)] + "i" + v[m.end(1):]))
    m = re.search(r"['’](?=\S)", v)
    if m:  # the print's gap after an apostrophe read as a space ("D’ Alia")
        out.append(("apostrophe_space", v[:m.end()] + " " + v[m.end():]))
    for u, base in _UMLAUT_BASE.items():
        if u in v:
            out.append(("umlaut_twin", v.replace(u, base + u, 1)))
    m = re.search(r"[a-zäöü]([lIi])[a-zäöü]", v)
    if m:
        out.append(("glyph", v[:m.start(1)] + random.Random(v).choice("!|") + v[m.end(1):]))
    m = re.search(r"(?<=[a-zäöüß])[a-zäöüß](?=[a-zäöüß]*$)", v.split(",")[0])
    if m and rec["type"] == "text":
        out.append(("capital_inside", v[:m.start()] + v[m.start()].upper() + v[m.end():]))
    m = re.search(r"(?:^|(?<=\s))I(?=[a-zäöü])", v)
    if m and rec["field"] in PERSON_NAME_FIELDS:  # a capital "I" read as a small "l" ("Emilian lustinian")
        out.append(("capital_i_as_l", v[:m.start()] + "l" + v[m.end():]))
    m = re.search(r"(?:^|(?<=[\s\-]))I(?=[a-zäöüș])", v)
    if m and (rec["field"] == "birth_place" or rec["type"] == "address"):  # "loannis-Str.", "lm Winkel", "lstanbul"
        out.append(("capital_i_as_l_place", v[:m.start()] + "l" + v[m.end():]))
    if rec["field"] in PERSON_NAME_FIELDS and len(v) > 2 and v[1].islower() and v[2].islower():
        out.append(("second_capital", v[0] + v[1].upper() + v[2:]))  # "Bùi" read "BUi"
    if v.startswith("Il"):
        out.append(("capital_i_pair", "II" + v[2:]))
    if rec["type"] == "text" and len(v) > 4:
        out.append(("cut_start", v[2:]))
    if rec["field"] == "activity" and len(v) > 4:
        out.append(("fragment", v[:2]))  # the value region cut to a word's first letters ("De")
    if rec["field"] == "register_entry":
        m = re.search(r"\d+(?!.*\d)", v)
        rng = random.Random(v)
        out.append(("glyph_after_number", v[:m.end()] + rng.choice("?!|") + v[m.end():]))
        out.append(("dot_after_number", v[:m.end()] + "." + v[m.end():]))
        for a, b in (("0", "O"), ("1", "l"), ("5", "S")):
            if a in v[m.start():m.end()]:
                out.append(("digit_as_letter", v[:m.start()] + v[m.start():m.end()].replace(a, b, 1) + v[m.end():]))
                break
        out.append(("digit_dropped", v[:m.end() - 1] + v[m.end():]))
    if rec["type"] == "phone":
        out += _phone_corruptions(v)
    if rec["type"] == "text" and rec["field"] in ("given_names", "family_name"):
        other = rec["others"]["family_name" if rec["field"] == "given_names" else "given_names"]
        out.append(("neighbour", f"{v} {other}" if rec["field"] == "given_names" else f"{v}, {other}"))
    if rec["field"] == "activity":
        if "§" in v:
            out.append(("section_sign", v.replace("§ ", random.Random(v).choice(["8 ", "S ", "$ "]), 1)))
        m = re.search(r"(?<=[a-zäöüß]{2}) (?=[A-ZÄÖÜ][a-zäöüß])", v)
        if m:
            out.append(("glued_colon", v[:m.start()] + ":" + v[m.end():]))
        out.append(("slid_onto_label", random.Random(v).choice(_LABEL_SLIDES)))
    if rec["type"] == "address":
        m = re.search(r"(straße|strasse|weg|platz|allee|ring|gasse|damm|chaussee|pfad) (\d)", v, re.I)
        if m:
            out.append(("dot_after_street", v[:m.end(1)] + "." + v[m.end(1):]))
        if "," in v:
            out.append(("semicolon", v.replace(",", ";", 1)))
        m = re.search(r"(?<=[a-zäöüß]{2})-(?=[A-ZÄÖÜ])", v)
        if m:
            out.append(("hyphen_as_dot", v[:m.start()] + "." + v[m.end():]))  # "Harri.Hendriks-Platz"
        if ". " in v:
            out.append(("doubled_dot", v.replace(". ", "..", 1)))  # the space read as a dot ("Trübstr..132")
        m = re.search(r"\d{5}", v)
        if m:
            out.append(("cut_digit", v[:m.start() + 2] + v[m.start() + 3:]))
    if rec["type"] == "email":
        local, _, domain = v.partition("@")
        if "g" in domain:
            out.append(("g_as_q", f"{local}@{domain.replace('g', 'q', 1)}"))
    if rec["field"] in PERSON_NAME_FIELDS:
        out.append(("stroke", random.Random(v).choice(["/", "1", "—", "-", "7"])))  # a stroke read as the name
    if rec["type"] == "address" and "ß" in v:
        out.append(("sz_as_R", v.replace("ß", "R", 1)))  # "Heinz-Otto-Gieß-Platz" read "…-GieR-Platz"
    if rec["type"] == "address":
        m = re.search(r"(?<=[a-zäöüß])-(?=[A-ZÄÖÜ])", v)
        if m:
            out.append(("hyphen_then_space", v[:m.end()] + " " + v[m.end():]))  # "Ricarda- Sorgatz-Platz"
    if (rec["type"] == "address" or rec["field"] == "birth_place") and v[-1:].isalpha():
        out.append(("trailing_dot", v + "."))  # a speck after the town read as a full stop
    return [(k, w) for k, w in out if w != v]


_DIGIT_CONFUSIONS = {"3": "8", "8": "3", "1": "7", "7": "1", "0": "8", "5": "6", "6": "5", "2": "7", "4": "1", "9": "8"}


def _phone_corruptions(v: str) -> list[tuple[str, str]]:
    """A digit put in, dropped or misread in the number's first group (the area code
    where one is written apart) or in its last digits."""
    out = []
    m = re.match(r"(?:\+49\s*(?:\(0\)\s*)?|0049\s*)?\(?(\d+)", v)
    if m is None:
        return out
    s, e = m.span(1)
    digits = [i for i in range(s, e) if v[i].isdigit()]
    rng = random.Random(v)
    i = rng.choice(digits[1:] or digits)
    out.append(("area_digit_inserted", v[:i] + v[rng.choice(digits)] + v[i:]))
    out.append(("area_digit_dropped", v[:i] + v[i + 1:]))
    out.append(("area_digit_misread", v[:i] + _DIGIT_CONFUSIONS[v[i]] + v[i + 1:]))
    j = max(k for k, c in enumerate(v) if c.isdigit())
    out.append(("last_digit_misread", v[:j] + _DIGIT_CONFUSIONS[v[j]] + v[j + 1:]))
    return out


# printed texts of the GewA 1 that a value region slides onto
_LABEL_SLIDES = ["(ggf. bei", "Angaben zum Betrieb", "Name des Betriebes", "Geburtsdatum", "Anschrift der Betriebsstätte"]


def wrong_values(rights: list[dict], seed: int = 17) -> list[dict]:
    """One corruption per right value: of the kinds that apply to it, the one
    used least so far (ties at random), so that rare kinds ("§" read as "8")
    occur as often as the corpus allows and common ones do not crowd them out."""
    rng = random.Random(seed)
    used: dict[str, int] = {}
    out = []
    for rec in rights:
        options = _corruptions(rec)
        if options:
            least = min(used.get(k, 0) for k, _ in options)
            kind, w = rng.choice([o for o in options if used.get(o[0], 0) == least])
            used[kind] = used.get(kind, 0) + 1
            out.append({**rec, "value": w, "right": rec["value"], "corruption": kind})
    return out


# --------------------------------------------------------------------------
# the name rules as they were before this table (kind "before"), counted beside
# the narrower ones that replaced them
# --------------------------------------------------------------------------

_OLD_CAPITAL_INSIDE = re.compile(r"[a-zäöüß](?<!\bMc)(?<!\bMac)[A-ZÄÖÜ]")
_OLD_PARTICLES = {"von", "vom", "van", "de", "der", "den", "del", "della", "di", "da", "dos", "du", "zu", "zum",
                  "zur", "ten", "ter", "le", "la", "al", "el", "bin", "ibn", "op"}


def _old_small_start(name: str, value: str) -> bool:
    first = next(iter(value.split()), "")
    return first[:1].islower() and (name == "given_names" or first.casefold() not in _OLD_PARTICLES)


RETIRED = [
    PlausibilityRule("q_without_u (names)", 'before: a "q" without "u" in person names too',
                     lambda v, c: unlikely_q(v), "UNLIKELY_READING", fields=PERSON_NAME_FIELDS, sources=("ocr",)),
    PlausibilityRule("capital_inside (old)", "before: a capital after a small letter, only Mc/Mac excepted",
                     lambda v, c: bool(_OLD_CAPITAL_INSIDE.search(v)), "UNLIKELY_READING",
                     fields=PERSON_NAME_FIELDS, sources=("ocr",)),
    PlausibilityRule("small_start (old)", "before: the shorter particle list, no d'/al- forms",
                     lambda v, c: _old_small_start(c.field, v), "UNLIKELY_READING",
                     fields=PERSON_NAME_FIELDS, sources=("ocr",)),
]

#: wider forms of the new rules, counted beside them: why the rules are as narrow as they are
VARIANTS = [
    PlausibilityRule("r_for_sz (word end)", 'variant: a capital "R" after small letters only at a word\'s end or before a hyphen',
                     lambda v, c: bool(re.search(r"[a-zäöü]R(?=$|[\s\-,.])", v)), "UNLIKELY_READING", types=("address",),
                     sources=("ocr",)),
    PlausibilityRule("trailing_dot (any)", "variant: any address ending with a dot",
                     lambda v, c: v.rstrip().endswith("."), "UNLIKELY_READING", types=("address",),
                     sources=("ocr",)),
    PlausibilityRule("trailing_dot (any place)", "variant: any place ending with a dot",
                     lambda v, c: v.rstrip().endswith("."), "UNLIKELY_READING", fields=PLACE_FIELDS,
                     sources=("ocr",)),
]


# --------------------------------------------------------------------------
# counting
# --------------------------------------------------------------------------


def _ctx(rec: dict, vocab: set[str]) -> Context:
    others = {k: v for k, v in rec["others"].items() if k != rec["field"]}
    return Context(field=rec["field"], type=rec["type"], required=rec["required"], others=others, vocab=vocab)


def count(rights: list[dict], wrongs: list[dict], vocab: set[str], retired: bool = True) -> list[dict]:
    """Per rule and repair: right values it applies to and flags, wrong values it catches."""
    rows = []
    for rule in RULES + (RETIRED + VARIANTS if retired else []):
        r_in = [r for r in rights if rule.applies(r["field"], r["type"])]
        w_in = [w for w in wrongs if rule.applies(w["field"], w["type"])]
        fp = [r["value"] for r in r_in if rule.check(r["value"], _ctx(r, vocab))]
        tp = [w for w in w_in if rule.check(w["value"], _ctx(w, vocab))]
        kind = "before" if rule in RETIRED else "variant" if rule in VARIANTS else "plausibility"
        rows.append(_row(kind, rule.name, rule.flags, r_in, fp, w_in, tp))
    for rep in REPAIRS:
        r_in = [r for r in rights if r["type"] in rep.types]
        w_in = [w for w in wrongs if w["type"] in rep.types]
        fp = [r["value"] for r in r_in if rep.fn(r["value"]) != r["value"]]
        tp = [w for w in w_in if rep.fn(w["value"]) == w["right"]]
        rows.append(_row("repair", rep.name, rep.repairs, r_in, fp, w_in, tp))
    return rows


def capitals_rows(docs: list[tuple[str, list[str]]]) -> list[dict]:
    """The block-capitals verdict (``extractors.evidence.capitals_verdict``) per source of real
    documents: right documents it marks as filled in capitals, and the same documents written
    in capitals (as a hand fills a form in block capitals) it catches. Documents with fewer
    values than the verdict needs are not counted."""
    rows = []
    for source in sorted({s for s, _ in docs}):
        mine = [vals for s, vals in docs if s == source and capitals_verdict(vals) is not None]
        flagged = [vals for vals in mine if capitals_verdict(vals) >= HAND_SURE]
        caught = [vals for vals in mine if capitals_verdict([v.upper() for v in vals]) >= HAND_SURE]
        shares = [_capitals_share(vals) for vals in mine]
        rows.append({"kind": "document", "rule": "block_capitals", "source": source,
                     "right_values": len(mine), "right_flagged": len(flagged),
                     "wrong_values": len(mine), "wrong_caught": len(caught),
                     "verdict": _verdict(len(flagged), len(caught)),
                     "highest_share": max(shares, default=0.0)})
    return rows


def _capitals_share(values: list[str]) -> float:
    votes = [v for v in (in_capitals(x) for x in values) if v is not None]
    return sum(votes) / len(votes) if votes else 0.0


def _row(kind, name, what, r_in, fp, w_in, tp) -> dict:
    return {"kind": kind, "rule": name, "what": what, "right_values": len(r_in), "right_flagged": len(fp),
            "wrong_values": len(w_in), "wrong_caught": len(tp),
            "verdict": _verdict(len(fp), len(tp)),
            "flagged_examples": sorted(set(fp))[:12],
            "caught_by_corruption": _by_kind(tp)}


def _verdict(flagged: int, caught: int) -> str:
    """Rules that flag more right values than they catch wrong ones go."""
    if flagged > caught:
        return "remove"
    return "keep" if caught else "no evidence"


def _by_kind(tp: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for w in tp:
        out[w["corruption"]] = out.get(w["corruption"], 0) + 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("bench-out/rule_fp"))
    ap.add_argument("--per-locale", type=int, default=40, help="Faker persons per non-de_DE locale")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args(argv)

    vocab = label_vocabulary(load_catalogue().get("gewerbeanmeldung"))
    rights = right_values(args.per_locale, args.seed)
    wrongs = wrong_values(rights, args.seed)
    rows = count(rights, wrongs, vocab)
    sources: dict[str, int] = {}
    for r in rights:
        sources[r["source"].split()[0]] = sources.get(r["source"].split()[0], 0) + 1
    print(f"right values: {len(rights)} ({', '.join(f'{k} {v}' for k, v in sorted(sources.items()))}); "
          f"wrong values: {len(wrongs)} (one OCR-style corruption each); shared/data "
          f"{'used' if corpus.SHARED_DATA.is_dir() else 'absent'}")
    print(f"{'kind':<13} {'rule':<22} {'right flagged':>15} {'wrong caught':>15}  verdict")
    for r in rows:
        print(f"{r['kind']:<13} {r['rule']:<22} {r['right_flagged']:>6} of {r['right_values']:<6} "
              f"{r['wrong_caught']:>6} of {r['wrong_values']:<6}  {r['verdict']}")
        if r["flagged_examples"]:
            print(f"{'':<37}flags e.g. {', '.join(r['flagged_examples'][:6])}")
    docs = capitals_rows(corpus.written_documents())
    for r in docs:
        print(f"{'document':<13} {'block_capitals':<22} {r['right_flagged']:>6} of {r['right_values']:<6} "
              f"{r['wrong_caught']:>6} of {r['wrong_values']:<6}  {r['verdict']}  ({r['source']}; "
              f"highest share in capitals {r['highest_share']:.2f})")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rule_fp.json").write_text(json.dumps(
        {"right_values": len(rights), "wrong_values": len(wrongs), "sources": sources,
         "shared_data": corpus.SHARED_DATA.is_dir(), "rules": rows, "documents": docs}, ensure_ascii=False, indent=1))
    print(f"wrote {args.out / 'rule_fp.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
