"""The dashboard's load time with 100,000 cases in the store, SQLite and PostgreSQL.

    .venv/bin/python -m bench.dashboard_load --out bench-out/dashboard-load [--cases 100000]

Inserts ``--cases`` cases (90 days of office life: 60 % straight through,
30 % reviewed, 5 % rejected, the rest waiting; about one correction per
reviewed case) directly into a fresh store in bulk, then times, in one run:

* ``/dashboard`` (HTML, the 7-day and the 90-day range) and ``/dashboard.json``
  through the web app in-process (login, session, templates, SQL);
* the baseline of the same run: loading every case into Python
  (``CaseStore.list``), which is what figures computed outside the database
  would cost before counting anything;
* the review queue page, the clerks' page on the same store, for scale.

Prints a table and writes ``dashboard_load.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, text

from bench.pgschema import private_schema

TYPES = ["gewerbeanmeldung", "kindergeld_kg1", "meldebehoerde_anmeldung", "wohngeld_mietzuschuss", "invoice"]
FIELDS = ["family_name", "given_names", "birth_date", "address", "iban", "activity", "start_date"]


def populate(engine, n: int, seed: int = 7) -> None:
    from formwerk.db import cases, corrections

    rnd = random.Random(seed)
    now = datetime.now(timezone.utc)
    rows, corr = [], []
    for i in range(n):
        created = now - timedelta(seconds=rnd.uniform(0, 90 * 86400))
        routed = created + timedelta(seconds=rnd.uniform(5, 120))
        doc_type = rnd.choice(TYPES)
        u = rnd.random()
        row = dict(case_id=f"case-load-{i}", reference=f"L-{i}", filename="scan.pdf", sha256="", status="completed",
                   document_type=doc_type, document_type_confidence=0.97, page_count=2, result={"case_id": f"case-load-{i}"},
                   created_at=created, updated_at=routed, routed_at=routed, revision=3, reasons="", escalated=False,
                   awaiting_documents=False, route="straight_through", finished_at=routed)
        if u < 0.60:
            pass
        elif u < 0.90 or u >= 0.95 and routed < now - timedelta(days=3):
            claim = routed + timedelta(minutes=rnd.uniform(1, 600))
            review = rnd.lognormvariate(5.5, 0.8)
            row.update(route="review", due_at=routed + timedelta(hours=48), finished_at=claim + timedelta(seconds=review),
                       review_seconds=review)
            if rnd.random() < 0.1:
                row.update(status="rejected", reason_code=rnd.choice(["incomplete", "illegible", "duplicate"]))
            else:
                corr.append(dict(case_id=row["case_id"], field=rnd.choice(FIELDS), machine_value='"x"',
                                 corrected_value='"y"', clerk="anna", at=row["finished_at"], decision_id="",
                                 machine_confidence=rnd.uniform(0.3, 0.9)))
            if rnd.random() < 0.05:
                row["escalated_at"] = routed + timedelta(hours=48)
        elif u < 0.95:
            row.update(status="rejected", route="rejected", document_type=None,
                       reason_code=rnd.choice(["encrypted_pdf", "empty_file", "corrupt_file"]))
        else:  # still waiting (recent)
            row.update(status="needs_review", route="review", finished_at=None, due_at=routed + timedelta(hours=48),
                       reasons="low_confidence:family_name", escalated=routed < now - timedelta(hours=48))
        rows.append(row)
    keys = sorted({k for r in rows for k in r})
    rows = [{k: r.get(k) for k in keys} for r in rows]
    ckeys = sorted({k for r in corr for k in r})
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(cases), rows[start:start + 5000])
        for start in range(0, len(corr), 5000):
            conn.execute(insert(corrections), [{k: r.get(k) for k in ckeys} for r in corr[start:start + 5000]])
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("analyze cases"))
            conn.execute(text("analyze corrections"))


def _time(fn, repeat: int) -> dict:
    fn()  # warm: the first request compiles, the database fills its cache
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    ms.sort()
    return {"median_ms": round(statistics.median(ms), 1), "max_ms": round(ms[-1], 1), "runs": repeat}


def measure(url: str, n: int, data_dir: Path, repeat: int) -> dict:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from formwerk.db import CaseStore
    from formwerk.settings import Settings

    store = CaseStore.from_url(url)
    t0 = time.perf_counter()
    populate(store.engine, n)
    insert_s = time.perf_counter() - t0
    app = create_app(Settings(data_dir=data_dir, database_url=url, secret_key="bench"), cases=store)
    app.state.formwerk.users.add("sara", "ein-langes-passwort", role="supervisor")
    out = {"dialect": store.engine.dialect.name, "cases": n, "insert_s": round(insert_s, 1)}
    with TestClient(app) as c:
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/login").text).group(1)
        c.post("/login", data={"username": "sara", "password": "ein-langes-passwort", "csrf_token": csrf})

        def get(path):
            r = c.get(path)
            assert r.status_code == 200, (path, r.status_code)
            return r

        summary = get("/dashboard.json?range=90d").json()
        out["figures_90d"] = {k: summary[k] for k in ("received", "finished", "straight_through", "reviewed",
                                                      "rejected", "queue_depth", "reviews", "review_median_s")}
        out["dashboard_7d"] = _time(lambda: get("/dashboard?range=7d"), repeat)
        out["dashboard_90d"] = _time(lambda: get("/dashboard?range=90d"), repeat)
        out["json_90d"] = _time(lambda: get("/dashboard.json?range=90d"), repeat)
        out["queue_page"] = _time(lambda: get("/queue"), repeat)
    out["baseline_load_all_cases"] = _time(lambda: store.list(limit=n + 1), 1)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("bench-out/dashboard-load"))
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    import tempfile

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure(f"sqlite:///{tmp}/load.sqlite", args.cases, Path(tmp) / "sqlite", args.repeat))
        if not args.no_postgres:
            with private_schema("load") as url:
                results.append(measure(url, args.cases, Path(tmp) / "pg", args.repeat))
    (args.out / "dashboard_load.json").write_text(json.dumps(results, indent=2))
    print(f"dashboard load with {args.cases:,} cases (median of {args.repeat} after one warm-up, in-process HTTP)")
    print(f"{'store':<11}{'insert s':>9}{'dash 7d ms':>12}{'dash 90d ms':>13}{'json 90d ms':>13}"
          f"{'queue ms':>10}{'baseline: load all ms':>23}")
    for r in results:
        print(f"{r['dialect']:<11}{r['insert_s']:>9}{r['dashboard_7d']['median_ms']:>12}"
              f"{r['dashboard_90d']['median_ms']:>13}{r['json_90d']['median_ms']:>13}"
              f"{r['queue_page']['median_ms']:>10}{r['baseline_load_all_cases']['median_ms']:>23}")
    for r in results:
        print(r["dialect"], "90-day figures:", r["figures_90d"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
