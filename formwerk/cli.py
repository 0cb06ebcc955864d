"""The ``formwerk`` command line.

    formwerk up                       run the embedded stack (Temporal, worker, API)
    formwerk process [--json] FILE... run files through the real workflow, print results
    formwerk submit FILE [--reference R]   start a case and return at once
    formwerk status CASE              the case's current state as JSON
    formwerk reconcile                mark cases of terminated/timed-out workflows `failed`
    formwerk watch DIR                watched inbox folder (scanner drop)
    formwerk worker                   a worker only (production: many of these)
    formwerk train                    retrain the classifier from generated data + clerks' reclassifications
    formwerk api                      the web app / API only (no worker)
    formwerk user add|passwd|disable|enable|list   manage the web app's users
    formwerk token create|list|revoke      API tokens for back-office systems
    formwerk webhook add|rotate|set|list|remove   webhook subscribers and their secrets
    formwerk audit verify|list        check the audit log's hash chain, read it
    formwerk key list|rotate|new      the encryption keyring
    formwerk retention run|policy     purge originals/data of closed cases after their periods
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from formwerk.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="formwerk", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("process", help="run files through the workflow and print the results")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per file and line")
    p.add_argument("--reference", help="caller reference (only with one file)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait per file")
    p.add_argument("--no-worker", action="store_true",
                   help="do not run a worker in this process (one is already running)")

    s = sub.add_parser("submit", help="start a case and return its id")
    s.add_argument("file", type=Path)
    s.add_argument("--reference")

    st = sub.add_parser("status", help="print a case's state")
    st.add_argument("case_id")

    w = sub.add_parser("watch", help="process files dropped into a folder")
    w.add_argument("directory", type=Path)
    w.add_argument("--interval", type=float, default=2.0)

    sub.add_parser("worker", help="run a worker (needs a Temporal server)")

    sub.add_parser("reconcile", help="mark cases whose workflow closed without a result as failed")

    rt = sub.add_parser("retry", help="run a failed case again from its original (after the fault is fixed)")
    rt.add_argument("case_id")
    rt.add_argument("--wait", action="store_true", help="wait until the case is routed and print it")

    up = sub.add_parser("up", help="run the embedded stack: Temporal dev server, worker, API")
    up.add_argument("--no-api", action="store_true")
    up.add_argument("--worker-in-process", action="store_true",
                    help="run the worker in this process instead of a child process of its own")

    sub.add_parser("down", help="stop the embedded Temporal dev server")

    tr = sub.add_parser("train", help="retrain the classifier (generated documents + reclassifications)")
    tr.add_argument("--per-type", type=int, default=15, help="generated documents per type")

    ap = sub.add_parser("api", help="run the web app / API only (workers run elsewhere)")
    ap.add_argument("--host", help="listen address (default: the api_host setting)")
    ap.add_argument("--port", type=int, help="listen port (default: the api_port setting)")

    from formwerk import user_commands

    user_commands.add_parser(sub)

    from formwerk import token_commands

    token_commands.add_parsers(sub)

    from formwerk import audit_commands, key_commands

    audit_commands.add_parser(sub)
    key_commands.add_parser(sub)

    from formwerk import retention_commands

    retention_commands.add_parser(sub)

    from formwerk import fieldcal_commands

    fieldcal_commands.add_parser(sub)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings()
    from formwerk import commands

    handlers = {
        "process": commands.process,
        "submit": commands.submit_cmd,
        "status": commands.status,
        "reconcile": commands.reconcile_cmd,
        "retry": commands.retry_cmd,
        "watch": commands.watch,
        "worker": commands.worker,
        "up": commands.up,
        "down": commands.down,
        "train": commands.train,
        "api": getattr(commands, "api", None),
        "user": user_commands.user,
        "token": token_commands.token,
        "webhook": token_commands.webhook,
        "audit": audit_commands.audit,
        "key": key_commands.key,
        "retention": retention_commands.retention,
        "calibrate": fieldcal_commands.calibrate,
    }
    handler = handlers[args.command]
    if handler is None:
        print(f"formwerk {args.command}: not available in this version", file=sys.stderr)
        sys.stderr.flush()
        os._exit(2)
    try:
        code = asyncio.run(handler(settings, args)) or 0
    except KeyboardInterrupt:
        code = 130
    # Leave without interpreter finalisation: the Temporal client's Rust
    # runtime threads may still call into Python while it tears down, which
    # was seen to segfault (exit -11) after all output had been written.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
