"""Users, roles and logins, in the case store's database (SQLite or PostgreSQL).

Passwords are kept only as Argon2id hashes (argon2-cffi). Every login attempt
is recorded in ``login_attempts``; failed attempts are slowed down (the caller
sleeps ``LoginResult.delay_s`` before answering) and ten failures for one
username within 15 minutes lock that username for 15 minutes, whether the
account exists or not, so neither the answer nor its timing tells an unknown
username from a wrong password.

``session_epoch`` is bumped whenever the password changes or the account is
disabled; sessions carry the epoch they were issued under and are invalid once
it differs.
"""

from __future__ import annotations

import builtins
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

log = logging.getLogger("formwerk.auth")

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("role", String(32), nullable=False),
    Column("language", String(8), nullable=False, default="de"),
    Column("active", Boolean, nullable=False, default=True),
    Column("session_epoch", Integer, nullable=False, default=0),
    Column("password_hash", String(512), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False),
    Column("client", String(200), nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ok", Boolean, nullable=False),
    # ok | wrong_password | unknown_user | disabled | locked (internal, never shown to the caller)
    Column("reason", String(32), nullable=False, default=""),
    Index("ix_login_attempts_username_at", "username", "at"),
    Index("ix_login_attempts_client_at", "client", "at"),
)

USERNAME_RE = re.compile(r"[A-Za-z0-9._-]{2,64}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
LANGUAGES = ("de", "en")

LOCK_AFTER_FAILURES = 10
LOCK_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
DELAY_BASE_S = 0.5
DELAY_MAX_S = 8.0


class Role(str, Enum):
    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class User(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    language: str = "de"
    active: bool = True
    # increases on passwd/disable so existing sessions become invalid
    session_epoch: int = 0

    @property
    def is_supervisor(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class UserExists(Exception):
    pass


class UnknownUser(Exception):
    pass


@dataclass
class LoginResult:
    user: User | None  # None: refused (wrong/unknown/disabled/locked, deliberately not told apart)
    delay_s: float  # seconds the caller waits before answering; 0 on success
    locked: bool


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def normalise_username(username: str) -> str:
    """Usernames are case-insensitive: kept and looked up in lower case."""
    return username.strip().lower()


def validate_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_RE.fullmatch(name):
        raise ValueError(
            "username must be 2-64 characters of letters, digits, '.', '_' or '-' "
            f"(got {username!r})"
        )
    return name


def validate_password(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password too long: at most {MAX_PASSWORD_LENGTH} characters")
    if username and password.strip().lower() == username.lower():
        raise ValueError("password must not be the username")


def validate_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)} (got {language!r})")
    return language


def failure_delay(failures: int) -> float:
    """Seconds to wait after the n-th recent failure: 0.5 s · 2^(n-1), at most 8 s."""
    if failures <= 0:
        return 0.0
    return min(DELAY_MAX_S, DELAY_BASE_S * 2 ** min(failures - 1, 16))


def _row_to_user(row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        language=row["language"],
        active=bool(row["active"]),
        session_epoch=row["session_epoch"],
    )


_USER_COLUMNS = [users.c[name] for name in
                 ("id", "username", "display_name", "role", "language", "active", "session_epoch")]


class UserStore:
    """Users and login attempts. ``hasher``: a cheaper PasswordHasher in tests only;
    ``clock``: a stand-in for the current UTC time in tests."""

    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self._clock = clock or _utc_now
        self._dummy_hash: str | None = None
        from formwerk.db import create_tables

        create_tables(engine, metadata)  # other processes may be creating them right now

    @classmethod
    def from_url(cls, url: str, **kwargs) -> "UserStore":
        from formwerk.db import make_engine

        return cls(make_engine(url), **kwargs)

    # -- administration --------------------------------------------------

    def add(self, username: str, password: str, role: Role | str = Role.CLERK,
            display_name: str = "", language: str = "de") -> User:
        name = validate_username(username)
        validate_password(password, name)
        role = Role(role)
        validate_language(language)
        now = self._clock()
        row = {
            "username": name,
            "display_name": display_name.strip() or name,
            "role": role.value,
            "language": language,
            "active": True,
            "session_epoch": 0,
            "password_hash": self.hasher.hash(password),
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(users.c.id).where(users.c.username == name)).first():
                    raise UserExists(f"user {name!r} exists already")
                conn.execute(users.insert().values(**row))
        except IntegrityError as exc:  # a concurrent add won the race
            raise UserExists(f"user {name!r} exists already") from exc
        log.info("user %r added (role %s)", name, role.value)
        user = self.get(name)
        assert user is not None
        return user

    def _update(self, username: str, bump_epoch: bool = False, **values) -> User:
        name = normalise_username(username)
        values["updated_at"] = self._clock()
        if bump_epoch:
            values["session_epoch"] = users.c.session_epoch + 1
        with self.engine.begin() as conn:
            result = conn.execute(users.update().where(users.c.username == name).values(**values))
            if result.rowcount == 0:
                raise UnknownUser(f"no user {name!r}")
        user = self.get(name)
        assert user is not None
        return user

    def set_password(self, username: str, password: str) -> User:
        name = normalise_username(username)
        validate_password(password, name)
        if self.get(name) is None:
            raise UnknownUser(f"no user {name!r}")
        user = self._update(name, bump_epoch=True, password_hash=self.hasher.hash(password))
        log.info("password of user %r changed", name)
        return user

    def disable(self, username: str) -> User:
        user = self._update(username, bump_epoch=True, active=False)
        log.info("user %r disabled", user.username)
        return user

    def enable(self, username: str) -> User:
        user = self._update(username, active=True)
        log.info("user %r enabled", user.username)
        return user

    def set_role(self, username: str, role: Role | str) -> User:
        role = Role(role)
        # a changed role changes what a session may do: start afresh
        return self._update(username, bump_epoch=True, role=role.value)

    def set_display_name(self, username: str, display_name: str) -> User:
        name = normalise_username(username)
        return self._update(name, display_name=display_name.strip() or name)

    def set_language(self, user_id: int, language: str) -> User:
        validate_language(language)
        with self.engine.begin() as conn:
            result = conn.execute(users.update().where(users.c.id == user_id)
                                  .values(language=language, updated_at=self._clock()))
            if result.rowcount == 0:
                raise UnknownUser(f"no user with id {user_id}")
        user = self.get_by_id(user_id)
        assert user is not None
        return user

    # -- queries ---------------------------------------------------------

    def get(self, username: str) -> User | None:
        name = normalise_username(username)
        with self.engine.connect() as conn:
            row = conn.execute(select(*_USER_COLUMNS).where(users.c.username == name)).mappings().first()
        return _row_to_user(row) if row else None

    def get_by_id(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_USER_COLUMNS).where(users.c.id == user_id)).mappings().first()
        return _row_to_user(row) if row else None

    def list(self) -> builtins.list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(*_USER_COLUMNS).order_by(users.c.username)).mappings()
            return [_row_to_user(r) for r in rows]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(users)).scalar_one()

    def attempts(self, username: str | None = None, limit: int = 100) -> builtins.list[dict]:
        """Recent login attempts, newest first (for the admin and the tests)."""
        query = select(login_attempts).order_by(login_attempts.c.id.desc()).limit(limit)
        if username is not None:
            query = query.where(login_attempts.c.username == normalise_username(username)[:200])
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def purge_attempts(self, older_than: timedelta = timedelta(days=90)) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(login_attempts.delete()
                                  .where(login_attempts.c.at < self._clock() - older_than))
            return result.rowcount

    # -- login -----------------------------------------------------------

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(24))
        return self._dummy_hash

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _lock_state(self, conn, name: str, now: datetime) -> tuple[bool, int]:
        """(locked, recent failures for this username since its last success)."""
        since = now - LOCK_WINDOW - LOCK_DURATION
        last_ok = conn.execute(
            select(func.max(login_attempts.c.at))
            .where((login_attempts.c.username == name) & login_attempts.c.ok)
        ).scalar()
        if last_ok is not None:
            since = max(since, _aware(last_ok))
        rows = conn.execute(
            select(login_attempts.c.at, login_attempts.c.reason)
            .where((login_attempts.c.username == name) & ~login_attempts.c.ok
                   & (login_attempts.c.at > since))
            .order_by(login_attempts.c.at)
        ).all()
        recent = sum(1 for at, _ in rows if _aware(at) > now - LOCK_WINDOW)
        # attempts refused during a lock do not prolong it
        counted = [_aware(at) for at, reason in rows if reason != "locked"]
        k = LOCK_AFTER_FAILURES
        for i in range(k - 1, len(counted)):
            if counted[i] - counted[i - k + 1] <= LOCK_WINDOW and now < counted[i] + LOCK_DURATION:
                return True, recent
        return False, recent

    def _client_failures(self, conn, client: str, now: datetime) -> int:
        if not client:
            return 0
        return conn.execute(
            select(func.count()).select_from(login_attempts)
            .where((login_attempts.c.client == client) & ~login_attempts.c.ok
                   & (login_attempts.c.at > now - LOCK_WINDOW))
        ).scalar_one()

    def authenticate(self, username: str, password: str, client: str = "") -> LoginResult:
        name = normalise_username(username)[:200]
        client = (client or "")[:200]
        now = self._clock()
        with self.engine.connect() as conn:
            row = None
            if USERNAME_RE.fullmatch(name):
                row = conn.execute(
                    select(*_USER_COLUMNS, users.c.password_hash).where(users.c.username == name)
                ).mappings().first()
            locked, user_failures = self._lock_state(conn, name, now)
            client_failures = self._client_failures(conn, client, now)

        # always one verification, so unknown, disabled and locked cost the same time
        password_ok = self._verify(row["password_hash"] if row else self._dummy(), password)
        if locked:  # an unknown username locks exactly like a known one
            reason = "locked"
        elif row is None:
            reason = "unknown_user"
        elif not password_ok:
            reason = "wrong_password"
        elif not row["active"]:
            reason = "disabled"
        else:
            reason = "ok"

        ok = reason == "ok"
        with self.engine.begin() as conn:
            conn.execute(login_attempts.insert().values(
                username=name, client=client, at=now, ok=ok, reason=reason))
            if ok and self.hasher.check_needs_rehash(row["password_hash"]):
                conn.execute(users.update().where(users.c.id == row["id"])
                             .values(password_hash=self.hasher.hash(password)))

        if ok:
            log.info("login %r from %r", name, client)
            return LoginResult(user=_row_to_user(row), delay_s=0.0, locked=False)

        failures = max(user_failures, client_failures) + 1  # this one included
        delay = failure_delay(failures)
        if not locked:
            locked, _ = self._lock_state_after_failure(name, now)
        log.warning("login failed for %r from %r (%s; %d recent failures%s)", name, client,
                    reason, failures, ", locked" if locked else "")
        return LoginResult(user=None, delay_s=delay, locked=locked)

    def _lock_state_after_failure(self, name: str, now: datetime) -> tuple[bool, int]:
        # the failure just recorded may be the tenth: tell the caller at once
        with self.engine.connect() as conn:
            return self._lock_state(conn, name, now)
