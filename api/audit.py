"""The web app's side of the audit log (formwerk.audit): one log per app, written off the event loop."""

from __future__ import annotations

import asyncio

from fastapi import Request

from formwerk.audit import AuditLog


def audit_log(request: Request) -> AuditLog:
    app = request.app
    log = getattr(app.state, "formwerk_audit", None)
    if log is None:
        log = AuditLog(app.state.formwerk.cases.engine)
        app.state.formwerk_audit = log
    return log


async def record(request: Request, actor: str, action: str, case_id: str | None = None, **detail) -> None:
    """Append an entry: who (``actor``), what, which case; ``detail`` never holds applicant values."""
    client = request.client.host if request.client else ""
    await asyncio.to_thread(audit_log(request).record, actor, action, case_id, via="web", client=client, **detail)
