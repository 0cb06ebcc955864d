"""API tokens for back-office systems (``Authorization: Bearer fwk_<id>_<secret>``).

A token is shown once, when it is created (``formwerk token create``); the
store keeps only its SHA-256 (the secret part has 256 bits of entropy, so a
fast hash is safe: there is nothing to brute-force, and every request can be
checked with one indexed lookup). Tokens carry scopes:

* ``cases:submit`` — start cases, upload requested documents
* ``cases:read`` — status, results, exports
* ``documents:read`` — the original file and the page images
* ``admin`` — everything

A token may be bound to a webhook subscriber (``formwerk webhook add``): its
cases report back to that subscriber, signed with the subscriber's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from formwerk.db import _utc, api_tokens

SCOPES = ("cases:submit", "cases:read", "documents:read", "admin")
PREFIX = "fwk"
_TOKEN = re.compile(rf"^{PREFIX}_([a-z0-9]{{12}})_([A-Za-z0-9_-]{{43}})$")
#: last_used_at is written at most this often per token (not on every request)
_TOUCH_EVERY = timedelta(minutes=1)


class TokenError(Exception):
    """A token could not be created or revoked; the message says why."""


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    scopes: frozenset[str]
    subscriber: str | None
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _row(r) -> ApiToken:
    return ApiToken(id=r["id"], name=r["name"], scopes=frozenset(r["scopes"].split()),
                    subscriber=r["subscriber"], created_at=_utc(r["created_at"]),
                    last_used_at=_utc(r["last_used_at"]), revoked_at=_utc(r["revoked_at"]))


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, name: str, scopes: list[str] | tuple[str, ...],
               subscriber: str | None = None) -> tuple[ApiToken, str]:
        """A new token and its plain text (returned here once, never stored)."""
        name = name.strip()
        if not name:
            raise TokenError("A token needs a name (e.g. the back-office system's name).")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise TokenError(f"Unknown or missing scopes {unknown}: choose from {', '.join(SCOPES)}.")
        token_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        plain = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        now = datetime.now(timezone.utc)
        try:
            with self.engine.begin() as conn:
                conn.execute(api_tokens.insert().values(
                    id=token_id, name=name, token_hash=_hash(plain), scopes=" ".join(sorted(set(scopes))),
                    subscriber=subscriber, created_at=now))
        except IntegrityError:
            raise TokenError(f"A token named {name!r} exists already (revoked tokens keep their name).") from None
        return ApiToken(token_id, name, frozenset(scopes), subscriber, now), plain

    def list(self) -> list[ApiToken]:
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(select(api_tokens).order_by(api_tokens.c.created_at)).mappings()]

    def get(self, id_or_name: str) -> ApiToken | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(api_tokens).where(
                (api_tokens.c.id == id_or_name) | (api_tokens.c.name == id_or_name))).mappings().first()
        return _row(r) if r else None

    def revoke(self, id_or_name: str) -> ApiToken:
        token = self.get(id_or_name)
        if token is None:
            raise TokenError(f"No token {id_or_name!r} (see `formwerk token list`).")
        if token.revoked_at is None:
            with self.engine.begin() as conn:
                conn.execute(api_tokens.update().where(api_tokens.c.id == token.id)
                             .values(revoked_at=datetime.now(timezone.utc)))
        return self.get(token.id)

    def verify(self, plain: str) -> ApiToken | None:
        """The active token ``plain`` stands for, or None (unknown, malformed or revoked)."""
        m = _TOKEN.match(plain or "")
        if not m:
            return None
        with self.engine.connect() as conn:
            r = conn.execute(select(api_tokens).where(api_tokens.c.id == m.group(1))).mappings().first()
        if r is None or not hmac.compare_digest(r["token_hash"], _hash(plain)):
            return None
        token = _row(r)
        if not token.active:
            return None
        now = datetime.now(timezone.utc)
        if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(api_tokens.update().where(api_tokens.c.id == token.id).values(last_used_at=now))
        return token
