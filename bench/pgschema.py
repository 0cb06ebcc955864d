"""A private PostgreSQL schema for one test or benchmark run.

Tests and benchmarks share the machine's PostgreSQL (database ``test``); each
run works in a schema of its own, dropped afterwards, so reruns and parallel
runs never meet and no other table is touched.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, text

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_available() -> bool:
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def private_schema(prefix: str = "t") -> Iterator[str]:
    """Yields a database URL whose search path is a fresh schema; drops it afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    try:
        yield PG_URL + f"?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"drop schema {schema} cascade"))
        admin.dispose()
