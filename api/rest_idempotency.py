"""``Idempotency-Key`` for POST /api/v1/cases: a retried request gets the first answer.

Keys are per token. The first request with a key claims it (row without a
case id), then records the case it started. A later request with the same
key and the same fingerprint (reference, options and the files' SHA-256) is
answered with that case; with another fingerprint it is refused (422); while
the first is still in flight, 409. A claim left behind by a crashed request
is taken over after ``STALE``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from formwerk.db import _utc, idempotency_keys

STALE = timedelta(minutes=5)

Claim = Literal["new", "replay", "mismatch", "in_flight"]


def claim(engine: Engine, token_id: str, key: str, fingerprint: str) -> tuple[Claim, str | None]:
    now = datetime.now(timezone.utc)
    table = idempotency_keys
    where = (table.c.token_id == token_id) & (table.c.key == key)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert().values(token_id=token_id, key=key, fingerprint=fingerprint,
                                               case_id=None, created_at=now))
        return "new", None
    except IntegrityError:
        pass
    with engine.begin() as conn:
        row = conn.execute(select(table).where(where)).mappings().first()
        if row is None:  # deleted meanwhile (a failed first request released it)
            return claim(engine, token_id, key, fingerprint)
        if row["fingerprint"] != fingerprint:
            return "mismatch", row["case_id"]
        if row["case_id"]:
            return "replay", row["case_id"]
        if now - _utc(row["created_at"]) > STALE:
            taken = conn.execute(table.update().where(where & (table.c.created_at == row["created_at"]))
                                 .values(created_at=now)).rowcount
            return ("new", None) if taken else ("in_flight", None)
        return "in_flight", None


def complete(engine: Engine, token_id: str, key: str, case_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(idempotency_keys.update().where(
            (idempotency_keys.c.token_id == token_id) & (idempotency_keys.c.key == key)).values(case_id=case_id))


def release(engine: Engine, token_id: str, key: str) -> None:
    """The first request failed before a case existed: the key may be used again."""
    with engine.begin() as conn:
        conn.execute(idempotency_keys.delete().where(
            (idempotency_keys.c.token_id == token_id) & (idempotency_keys.c.key == key)
            & idempotency_keys.c.case_id.is_(None)))
