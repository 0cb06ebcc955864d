"""``formwerk calibrate ...``: per-field thresholds from clerks' decisions (formwerk.fieldcal).

    formwerk calibrate fit [--dry-run | --no-activate] [--target 0.995] [--level 0.95] [--min-band 30] [--json]
        fit thresholds on every approved reviewed case; stored as a new version
        and made active unless told otherwise; prints what changed and why
    formwerk calibrate list                 the versions, the active one marked
    formwerk calibrate show VERSION [--all] a version's fields with their evidence
    formwerk calibrate activate VERSION     route new cases with that version
    formwerk calibrate off                  route new cases with the forms' own thresholds

A case records the calibration that routed it (``calibration_version``);
cases already routed keep their decision. Fits, activations and ``off`` are
recorded in the audit log (actor ``cli:<os user>``; field names, no values).
"""

from __future__ import annotations

import json
import sys

from formwerk.settings import Settings


def _audit(store, action: str, **detail) -> None:
    """Which thresholds route new cases is a change of the office's rules: kept in the audit log."""
    import getpass

    from formwerk.audit import AuditLog

    AuditLog(store.engine).record(f"cli:{getpass.getuser()}", action, None, via="cli", **detail)


def add_parser(sub):
    c = sub.add_parser("calibrate", help="field thresholds re-fit from clerks' decisions")
    csub = c.add_subparsers(dest="calibrate_command", required=True)
    f = csub.add_parser("fit", help="fit thresholds on the reviewed cases (a new version)")
    mode = f.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the fit, store nothing")
    mode.add_argument("--no-activate", action="store_true", help="store the version without activating it")
    f.add_argument("--target", type=float, default=None, help="accuracy accepted values must reach (0.995)")
    f.add_argument("--level", type=float, default=None, help="one-sided confidence of the bounds (0.95)")
    f.add_argument("--min-band", type=int, default=None, help="decided values needed in a newly accepted band (30)")
    f.add_argument("--json", action="store_true", help="the fit as one JSON object")
    csub.add_parser("list", help="the stored versions")
    s = csub.add_parser("show", help="a version's fields and their evidence")
    s.add_argument("version")
    s.add_argument("--all", action="store_true", help="every field with evidence, not only the changed ones")
    a = csub.add_parser("activate", help="route new cases with this version")
    a.add_argument("version")
    csub.add_parser("off", help="route new cases with the forms' own thresholds")
    return c


def _table(fits) -> None:
    print(f"{'type':<24} {'field':<28} {'form':>5} {'now':>5} {'decided':>8} {'wrong':>6} "
          f"{'accepted':>9} {'lower':>7}  decision")
    for f in fits:
        now = "never" if f.threshold > 1.0 else f"{f.threshold:.3f}"
        print(f"{f.document_type:<24} {f.field:<28} {f.form_threshold:>5.2f} {now:>5} {f.evidence:>8} "
              f"{f.wrong:>6} {f.accepted:>9} {f.accepted_lower:>7.4f}  {f.decision}")


async def calibrate(settings: Settings, args) -> int:
    from formwerk.fieldcal_store import CalibrationStore, UnknownCalibration

    settings.ensure_dirs()
    store = CalibrationStore.from_url(settings.sqlalchemy_url)
    cmd = args.calibrate_command
    if cmd == "fit":
        return _fit(settings, store, args)
    if cmd == "list":
        rows = store.versions()
        if not rows:
            print("no field calibration yet: cases are routed with the forms' own thresholds")
        for version, created_at, active, cal in rows:
            mark = "*" if active else " "
            print(f"{mark} {version:<8} {created_at:%Y-%m-%d %H:%M}  {cal.cases:>6} reviewed cases  "
                  f"{len(cal.changed()):>3} thresholds changed")
        return 0
    try:
        if cmd == "show":
            cal = store.get(args.version)
            print(f"{cal.version}: fitted {cal.created_at:%Y-%m-%d %H:%M} from {cal.cases} reviewed cases, "
                  f"target {cal.target:.3%} at {cal.level:.0%} confidence over all its fields "
                  f"({cal.family_level:.4%} each)")
            _table(cal.fits if args.all else cal.changed())
            return 0
        if cmd == "activate":
            store.activate(args.version)
            _audit(store, "calibration.activate", version=args.version)
            print(f"{args.version} is active: new cases are routed with its thresholds")
            return 0
    except UnknownCalibration as exc:
        print(f"formwerk calibrate: no version {exc.args[0]!r} (see 'formwerk calibrate list')", file=sys.stderr)
        return 2
    if cmd == "off":
        store.activate(None)
        _audit(store, "calibration.off")
        print("no calibration active: new cases are routed with the forms' own thresholds")
        return 0
    return 2


def _fit(settings: Settings, store, args) -> int:
    from datetime import datetime, timezone

    from formwerk import fieldcal
    from formwerk.fieldcal_store import reviewed_evidence
    from formwerk.intake import policies_from_catalogue

    evidence, n_cases = reviewed_evidence(store.engine)
    options = {k: v for k, v in (("target", args.target), ("level", args.level), ("min_band", args.min_band))
               if v is not None}
    cal = fieldcal.fit(evidence, policies_from_catalogue(), version=store.next_version(),
                       created_at=datetime.now(timezone.utc), created_by="cli", cases=n_cases, **options)
    accepted, right = fieldcal.accepted_accuracy(evidence)
    if args.json:
        print(json.dumps({"calibration": cal.model_dump(mode="json"), "stored": not args.dry_run,
                          "active": not (args.dry_run or args.no_activate),
                          "accepted_as_routed": {"values": accepted, "right": right}}, ensure_ascii=False))
    else:
        share = f"{right / accepted:.2%}" if accepted else "-"
        print(f"{n_cases} reviewed cases, {len(evidence)} decided values; of the values that went through "
              f"unchecked on them, {right} of {accepted} right ({share})")
        changed = cal.changed()
        if changed:
            _table(changed)
        else:
            print("no threshold changes: the evidence does not yet show that any can move")
    if args.dry_run:
        return 0
    store.save(cal, activate=not args.no_activate)
    _audit(store, "calibration.fit", version=cal.version, active=not args.no_activate, cases=n_cases,
           changed=[f"{f.document_type}.{f.field}" for f in cal.changed()])
    if not args.json:
        state = "stored" if args.no_activate else "stored and active"
        print(f"{cal.version} {state}")
    return 0
