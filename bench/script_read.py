"""The script-model read of names on real-world spellings: what it restores, what it breaks.

``python -m bench.script_read --out bench-out/script_read``

Every person name of ``bench.rule_fp_corpus``'s corpus of real-world spellings (its
hand-written lists of names from many countries, Faker locales other than
``de_DE``, the KoSIT XGewerbeanzeige messages when ``../shared/data`` is there)
is drawn as one value line in a typeface of this machine (DejaVu or Liberation,
regular or serif: none of them is the generator's or the extractor's), at 300
dpi crisp and at 200 dpi softened as an office scan, and read the way the
extractor reads a name box (``extractors.reocr.ocr_line``): once with the page
model ``deu+eng`` (the page read), once with the field's script model
(``Latin``). The script reading is taken where it only adds marks
(``extractors.fieldtext.marks_added``), as ``EditionReader.restore_script`` does.

The umlaut names of Faker's Austrian, Swiss and German lists (``umlaut_names``)
are read too, as right values the script read must leave alone; a table
counts, per mark the script read put where the page read wrote an umlaut,
whether it was right, broke a right umlaut, or both reads were wrong (the
evidence for which marks ``fieldtext.marks_added`` takes in place of an
umlaut). The script read is compared as the extractor compares it, after
``fieldtext.drop_umlaut_stutter``.

Per name it counts:

* **right values broken** — the page read was right and the script read
  changed it: the false positives of the repair, taken unseen (marks added
  to bare letters) or sent to a clerk (another mark in place of an umlaut);
* **wrong values restored** — the page read was wrong and the script read
  made it right, taken unseen or for a clerk to confirm;
* the page read's and the final value's share of right names, split by
  names with a letter outside German's alphabet and names without;
* the review rule for the other disagreements of the two models, in three
  variants: **any** (``fieldtext.models_disagree``: the reads differ other
  than by added marks, case or spacing), **more** (:func:`script_sees_more`:
  the script read also has a letter outside German's alphabet the page read
  lacks, or another number of letters) and **foreign** (``fieldtext.script_has_foreign_letter``:
  only the letter outside German's alphabet). Per variant: right page reads it
  sends to a clerk (its false positives) and wrong final values it sends
  there (caught; without it they would pass unseen).

The line is one value alone, without the form around it: the page read here
is a line read, not a page read, so the figures are the repair's own, not the
extractor's.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench.report import aligned

FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
]
GERMAN = set("abcdefghijklmnopqrstuvwxyzäöüßABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÜ -'.")
PAGE_LANG, SCRIPT_LANG = "deu+eng", "Latin"
#: the review rule's variants: any disagreement, or one where the script read sees more
VARIANTS = ("any", "more", "foreign")


def names(per_locale: int, seed: int) -> list[str]:
    """Distinct person names (given and family) of ``bench.rule_fp``'s right values."""
    from bench.rule_fp_corpus import right_values

    seen: dict[str, None] = {}
    for rec in right_values(per_locale, seed):
        if rec["field"] in ("given_names", "family_name"):
            seen.setdefault(unicodedata.normalize("NFC", rec["value"]), None)
    return list(seen)


#: Faker's person-name lists read for the umlaut names (right values the script read must leave
#: alone): Austrian and Swiss ones, which neither the generator nor the extractor draws from,
#: and German ones
UMLAUT_LOCALES = ("de_AT", "de_CH", "de_DE")
UMLAUTS = set("äöüÄÖÜ")
#: the script read's outcomes the extractor takes unseen (``fieldtext.marks_added``)
TAKEN = ("added", "accented")


def umlaut_names() -> list[str]:
    """Distinct given and family names with an umlaut of Faker's Austrian, Swiss and German lists."""
    import importlib

    seen: dict[str, None] = {}
    for loc in UMLAUT_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in ("last_names", "first_names", "first_names_male", "first_names_female"):
            values = getattr(provider, attr, ())
            for v in (values.keys() if isinstance(values, dict) else values):
                if set(v) & UMLAUTS:
                    seen.setdefault(unicodedata.normalize("NFC", v), None)
    return list(seen)


def umlaut_marks(page: str, script: str) -> str:
    """The marks the script read put where the page read wrote an umlaut ("Gaitän" / "Gaitán": "acute")."""
    marks = sorted({unicodedata.name(unicodedata.normalize("NFD", b)[1]).removeprefix("COMBINING ").lower()
                    if len(unicodedata.normalize("NFD", b)) == 2 else f"bare {b}"
                    for a, b in zip(page, script) if a != b and a in UMLAUTS})
    return " + ".join(marks)


def _fonts() -> list[str]:
    return [f for f in FONTS if Path(f).is_file()]


def draw(name: str, font_path: str, dpi: int, rng: random.Random) -> Image.Image:
    """``name`` as a scanned value line: 11 pt at 300 dpi, or at 200 dpi softened."""
    size = int(11 / 72 * 300)
    font = ImageFont.truetype(font_path, size)
    w = int(font.getlength(name)) + 80
    img = Image.new("L", (w, size * 2 + 40), 255)
    ImageDraw.Draw(img).text((40, 30 + rng.uniform(0, 1)), name, fill=rng.randint(10, 40), font=font)
    if dpi != 300:
        img = img.resize((int(img.width * dpi / 300), int(img.height * dpi / 300)), Image.LANCZOS)
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.6)))
        noise = np.asarray(img, dtype=np.float32) + np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, (img.height, img.width))
        img = Image.fromarray(noise.clip(0, 255).astype(np.uint8))
    return img.convert("RGB")


def read(img: Image.Image, lang: str) -> str:
    from extractors.normalise import normalise_text
    from extractors.reocr import ocr_line

    words = ocr_line(img, [0, 0, img.width, img.height], 1, lang=lang)
    return normalise_text(" ".join(w.text for w in words)) or ""


def script_sees_more(page, script) -> bool:
    """A wider variant of the extractor's review rule, counted beside it:
    ``fieldtext.script_has_foreign_letter``, or a disagreement with another
    number of letters ("Saini" for "Sain")."""
    from extractors.fieldtext import models_disagree, script_has_foreign_letter

    def letters(v: str) -> int:
        return sum(c.isalpha() for c in v)

    return script_has_foreign_letter(page, script) or (
        models_disagree(page, script) and letters(page) != letters(script))


def measure(all_names: list[str], seed: int, umlaut: frozenset[str] = frozenset()) -> dict:
    """``umlaut``: those of ``all_names`` that are umlaut names (``umlaut_names``)."""
    from extractors.fieldtext import drop_umlaut_stutter, marks_added, models_disagree, script_has_foreign_letter

    rng = random.Random(seed)
    fonts = _fonts()
    rows = []
    for name in all_names:
        font = rng.choice(fonts)
        dpi = rng.choice((300, 200))
        img = draw(name, font, dpi, rng)
        page = read(img, PAGE_LANG)
        script = drop_umlaut_stutter(read(img, SCRIPT_LANG))  # as the extractor takes it
        kind = marks_added(page, script)
        final = script if kind else page
        rows.append({"name": name, "font": Path(font).stem, "dpi": dpi, "page": page, "script": script,
                     "umlaut_name": name in umlaut,
                     "umlaut_marks": umlaut_marks(page, script) if kind in ("accented", "replaced") else None,
                     "final": final, "kind": kind, "outside_german": bool(set(name) - GERMAN),
                     "review_any": kind is None and models_disagree(page, script),
                     "review_more": kind is None and script_sees_more(page, script),
                     "review_foreign": kind is None and script_has_foreign_letter(page, script)})
    return summarise(rows)


def summarise(rows: list[dict]) -> dict:
    def group(rs: list[dict]) -> dict:
        n = len(rs)
        return {
            "names": n,
            "page_right": sum(r["page"] == r["name"] for r in rs),
            "final_right": sum(r["final"] == r["name"] for r in rs),
            # taken unseen (TAKEN) or for a clerk to check ("replaced": another mark for an umlaut)
            "right_broken": sum(r["page"] == r["name"] and r["final"] != r["name"] and r["kind"] in TAKEN
                                for r in rs),
            "right_broken_to_review": sum(r["page"] == r["name"] and r["final"] != r["name"]
                                          and r["kind"] == "replaced" for r in rs),
            "wrong_restored": sum(r["page"] != r["name"] and r["final"] == r["name"] and r["kind"] in TAKEN
                                  for r in rs),
            "wrong_restored_to_review": sum(r["page"] != r["name"] and r["final"] == r["name"]
                                            and r["kind"] == "replaced" for r in rs),
            "changed": sum(r["final"] != r["page"] for r in rs),
            # the review rule for other disagreements: right page reads sent to a clerk,
            # wrong final values sent there (caught), wrong final values left unseen
            **{f"{k}_{v}": n for v in VARIANTS for k, n in (
                ("right_to_review", sum(r["final"] == r["name"] and r[f"review_{v}"] for r in rs)),
                ("wrong_caught", sum(r["final"] != r["name"] and r[f"review_{v}"] for r in rs)),
                ("wrong_unseen", sum(r["final"] != r["name"] and not r[f"review_{v}"] and r["kind"] != "replaced"
                                     for r in rs)))},
        }

    marks: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["umlaut_marks"] is not None:
            outcome = ("script right" if r["script"] == r["name"] else
                       "page right (a right umlaut changed)" if r["page"] == r["name"] else "both wrong")
            per = marks.setdefault(f"{r['umlaut_marks']} ({r['kind']})", {})
            per[outcome] = per.get(outcome, 0) + 1
    return {
        "groups": {
            "outside German's alphabet": group([r for r in rows if r["outside_german"] and not r["umlaut_name"]]),
            "German alphabet only": group([r for r in rows if not r["outside_german"] and not r["umlaut_name"]]),
            f"umlaut names ({', '.join(UMLAUT_LOCALES)})": group([r for r in rows if r["umlaut_name"]]),
            "all": group(rows),
        },
        # a mark the script read put where the page read wrote an umlaut: what it was right about
        "marks_for_umlauts": marks,
        "broken": [r for r in rows if r["page"] == r["name"] and r["final"] != r["name"]],
        "sent_right": {v: [r for r in rows if r["final"] == r["name"] and r[f"review_{v}"]] for v in VARIANTS},
        "caught": {v: [r for r in rows if r["final"] != r["name"] and r[f"review_{v}"]] for v in VARIANTS},
        "restored_examples": [r for r in rows if r["page"] != r["name"] and r["final"] == r["name"]][:15],
        "rows": rows,
    }


def _share(k: int, n: int) -> str:
    return f"{100 * k / n:.1f} % ({k})" if n else "–"


def table(summary: dict) -> str:
    head = ("names", "count", "page read right", "after script read right", "right broken",
            "right broken, to review", "wrong restored", "wrong restored, to review")
    body = [(k, str(g["names"]), _share(g["page_right"], g["names"]), _share(g["final_right"], g["names"]),
             str(g["right_broken"]), str(g["right_broken_to_review"]), str(g["wrong_restored"]),
             str(g["wrong_restored_to_review"])) for k, g in summary["groups"].items()]
    lines = aligned([head, *body])
    lines.append("")
    lines.append("review rule for other disagreements of the two models (final value sent to a clerk):")
    head2 = ("names", *(f"{v}: right to review / wrong caught / wrong unseen" for v in VARIANTS))
    body2 = [(k, *(f"{g[f'right_to_review_{v}']} / {g[f'wrong_caught_{v}']} / {g[f'wrong_unseen_{v}']}"
                   for v in VARIANTS)) for k, g in summary["groups"].items()]
    lines += aligned([head2, *body2])
    lines.append("")
    lines.append("a mark the script read put where the page read wrote an umlaut (kind: taken unseen if accented):")
    outcomes = ("script right", "page right (a right umlaut changed)", "both wrong")
    lines += aligned([("marks (kind)", *outcomes),
                      *((k, *(str(v.get(o, 0)) for o in outcomes)) for k, v in sorted(summary["marks_for_umlauts"].items()))])
    for r in summary["broken"]:
        lines.append(f"  BROKEN ({r['kind']}) {r['name']!r}: page {r['page']!r} -> {r['final']!r} "
                     f"({r['font']}, {r['dpi']} dpi)")
    for v in VARIANTS:
        for r in summary["sent_right"][v]:
            lines.append(f"  TO REVIEW, RIGHT ({v}) {r['name']!r}: script {r['script']!r} ({r['font']}, {r['dpi']} dpi)")
        for r in summary["caught"][v]:
            lines.append(f"  CAUGHT ({v}) {r['name']!r}: page {r['page']!r}, script {r['script']!r}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.script_read", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="bench-out/script_read")
    ap.add_argument("--per-locale", type=int, default=10, help="Faker names per locale (bench.rule_fp's locales)")
    ap.add_argument("--seed", type=int, default=29)
    args = ap.parse_args(argv)
    if not _fonts():
        raise SystemExit("no DejaVu or Liberation font on this machine")
    t0 = time.perf_counter()
    corpus = names(args.per_locale, args.seed)
    umlaut = [n for n in umlaut_names() if n not in set(corpus)]
    summary = measure(corpus + umlaut, args.seed, frozenset(umlaut))
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    print(table(summary))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "script_read.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    print(f"wrote {out / 'script_read.json'} ({summary['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
