"""Users, roles and logins: the store on SQLite and real PostgreSQL, and the CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from formwerk.user_commands import no_users_hint
from formwerk.users import LoginResult, Role, UnknownUser, User, UserExists, UserStore, failure_delay

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "korrekt-Pferd-42"


def cheap_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verifications = 0

    def verify(self, hash, password):  # noqa: A002 (argon2's own parameter name)
        self.verifications += 1
        return super().verify(hash, password)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def db_url(store_url):
    return store_url


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def hasher():
    return CountingHasher()


@pytest.fixture
def store(db_url, clock, hasher):
    s = UserStore.from_url(db_url, hasher=hasher, clock=clock)
    yield s
    s.engine.dispose()


def _name(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_add_get_list_count(store):
    assert store.count() == 0 and store.list() == []
    anna = store.add("Anna.Berg", PASSWORD, role=Role.ADMIN, display_name="Anna Berg", language="en")
    assert isinstance(anna, User)
    assert (anna.username, anna.display_name, anna.role, anna.language) == ("anna.berg", "Anna Berg",
                                                                            Role.ADMIN, "en")
    assert anna.active and anna.session_epoch == 0 and anna.is_supervisor
    bob = store.add("bob", PASSWORD, role="clerk")
    assert bob.display_name == "bob" and bob.role is Role.CLERK and not bob.is_supervisor
    assert store.add("sv", PASSWORD, role=Role.SUPERVISOR).is_supervisor
    assert store.count() == 3
    assert [u.username for u in store.list()] == ["anna.berg", "bob", "sv"]
    assert store.get("ANNA.berg") == anna  # usernames are case-insensitive
    assert store.get_by_id(bob.id) == bob
    assert store.get("nobody") is None and store.get_by_id(10_000) is None
    # the password is stored only as an Argon2 hash
    with store.engine.connect() as conn:
        stored = conn.execute(text("select password_hash from users where username = 'bob'")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_duplicate_refused(store):
    store.add("carla", PASSWORD)
    with pytest.raises(UserExists):
        store.add("carla", "ein-anderes-passwort")
    with pytest.raises(UserExists):
        store.add("Carla", "ein-anderes-passwort")
    assert store.count() == 1


@pytest.mark.parametrize("username,password,language,message", [
    ("dora", "kurz", "de", "at least 10"),
    ("dora", "", "de", "at least 10"),
    ("dora", "dora", "de", "at least 10"),
    ("dora.dora.", "dora.dora.", "de", "must not be the username"),
    ("d", PASSWORD, "de", "2-64 characters"),
    ("x" * 65, PASSWORD, "de", "2-64 characters"),
    ("dora berg", PASSWORD, "de", "2-64 characters"),
    ("dörte", PASSWORD, "de", "2-64 characters"),
    ("dora", PASSWORD, "fr", "language"),
])
def test_weak_password_and_bad_input_refused(store, username, password, language, message):
    with pytest.raises(ValueError, match=message):
        store.add(username, password, language=language)
    assert store.count() == 0
    with pytest.raises(ValueError):
        store.add("ok-user", PASSWORD, role="root")


def test_authenticate_right_and_wrong(store, caplog):
    user = store.add("emil", PASSWORD, display_name="Emil Ernst")
    ok = store.authenticate("emil", PASSWORD, client="10.0.0.1")
    assert isinstance(ok, LoginResult)
    assert ok.user == user and ok.delay_s == 0 and not ok.locked
    assert store.authenticate("EMIL", PASSWORD).user == user
    with caplog.at_level(logging.INFO, logger="formwerk.auth"):
        bad = store.authenticate("emil", "falsches-passwort", client="10.0.0.2")
    assert bad.user is None and bad.delay_s > 0 and not bad.locked
    warnings = [r for r in caplog.records if r.name == "formwerk.auth" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "emil" in warnings[0].getMessage() and "10.0.0.2" in warnings[0].getMessage()
    assert all("falsches-passwort" not in r.getMessage() for r in caplog.records)
    attempts = store.attempts("emil")
    assert [(a["ok"], a["client"]) for a in attempts] == [(False, "10.0.0.2"), (True, ""), (True, "10.0.0.1")]
    assert all("falsches" not in str(a) and PASSWORD not in str(a) for a in attempts)


def test_delay_grows_and_is_capped(store, clock):
    store.add("frieda", PASSWORD)
    delays = []
    for _ in range(7):
        delays.append(store.authenticate("frieda", "falsch-falsch", client="c1").delay_s)
        clock.advance(seconds=1)
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert [failure_delay(n) for n in (0, 1, 2, 3, 100)] == [0.0, 0.5, 1.0, 2.0, 8.0]
    # a success resets the username's count ...
    assert store.authenticate("frieda", PASSWORD, client="c2").user is not None
    assert store.authenticate("frieda", "falsch-falsch", client="c3").delay_s == 0.5
    # ... but one client trying many usernames is slowed down all the same
    for i in range(4):
        result = store.authenticate(_name("guess"), "falsch-falsch", client="c1")
    assert result.delay_s == 8.0
    # failures older than the window no longer count
    clock.advance(minutes=16)
    assert store.authenticate("frieda", "falsch-falsch", client="c1").delay_s == 0.5


def test_lockout_after_ten_failures_even_for_the_right_password(store, clock):
    user = store.add("gustav", PASSWORD)
    results = []
    for _ in range(10):
        results.append(store.authenticate("gustav", "falsch-falsch", client="x"))
        clock.advance(seconds=30)
    assert [r.locked for r in results] == [False] * 9 + [True]
    locked = store.authenticate("gustav", PASSWORD, client="y")
    assert locked.user is None and locked.locked and locked.delay_s > 0
    assert store.attempts("gustav", limit=1)[0]["reason"] == "locked"
    # attempts during the lock do not prolong it: 15 minutes after the tenth failure it ends
    clock.advance(minutes=10)
    assert store.authenticate("gustav", PASSWORD).locked
    clock.advance(minutes=5)
    after = store.authenticate("gustav", PASSWORD)
    assert after.user == user and not after.locked


def test_ten_failures_spread_over_more_than_the_window_do_not_lock(store, clock):
    store.add("hanna", PASSWORD)
    for _ in range(12):
        assert not store.authenticate("hanna", "falsch-falsch").locked
        clock.advance(minutes=2)
    assert store.authenticate("hanna", PASSWORD).user is not None


def test_unknown_username_locks_like_a_known_one(store):
    name = _name("ghost")
    results = [store.authenticate(name, "falsch-falsch") for _ in range(10)]
    assert [r.locked for r in results] == [False] * 9 + [True]


def test_disabled_user_refused(store):
    user = store.add("ida", PASSWORD)
    disabled = store.disable("ida")
    assert not disabled.active and disabled.session_epoch == user.session_epoch + 1
    result = store.authenticate("ida", PASSWORD)
    assert result.user is None and result.delay_s > 0
    assert store.attempts("ida", limit=1)[0]["reason"] == "disabled"
    enabled = store.enable("ida")
    assert enabled.active and enabled.session_epoch == disabled.session_epoch
    assert store.authenticate("ida", PASSWORD).user == enabled
    with pytest.raises(UnknownUser):
        store.disable("nobody")
    with pytest.raises(UnknownUser):
        store.enable("nobody")


def test_passwd_bumps_session_epoch_and_old_password_fails(store):
    user = store.add("jan", PASSWORD)
    new_password = "neues-Passwort-2026"
    changed = store.set_password("jan", new_password)
    assert changed.session_epoch == user.session_epoch + 1
    assert store.get("jan").session_epoch == user.session_epoch + 1
    assert store.authenticate("jan", PASSWORD).user is None
    assert store.authenticate("jan", new_password).user == changed
    with pytest.raises(ValueError, match="at least 10"):
        store.set_password("jan", "kurz")
    assert store.authenticate("jan", new_password).user is not None
    with pytest.raises(UnknownUser):
        store.set_password("nobody", new_password)


def test_unknown_user_refused_and_costs_one_verification(store, hasher):
    store.add("karl", PASSWORD)
    before = hasher.verifications
    result = store.authenticate("nobody", PASSWORD, client="1.2.3.4")
    assert result.user is None and result.delay_s == 0.5 and not result.locked
    assert hasher.verifications == before + 1  # verified against a dummy hash, like a real user
    store.authenticate("karl", "falsch-falsch")
    assert hasher.verifications == before + 2
    # a username that could never exist is refused the same way
    assert store.authenticate("'; drop table users; --" + "x" * 300, PASSWORD).user is None
    assert store.get("karl") is not None


def test_rehash_on_login_when_parameters_changed(db_url, clock):
    old = UserStore.from_url(db_url, hasher=cheap_hasher(), clock=clock)
    old.add("lena", PASSWORD)
    newer = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    store = UserStore.from_url(db_url, hasher=newer, clock=clock)

    def stored_hash() -> str:
        with store.engine.connect() as conn:
            return conn.execute(text("select password_hash from users where username='lena'")).scalar_one()

    first = stored_hash()
    assert newer.check_needs_rehash(first)
    assert store.authenticate("lena", "falsch-falsch").user is None
    assert stored_hash() == first  # a failed login changes nothing
    assert store.authenticate("lena", PASSWORD).user is not None
    assert stored_hash() != first and not newer.check_needs_rehash(stored_hash())
    assert store.authenticate("lena", PASSWORD).user is not None
    old.engine.dispose()
    store.engine.dispose()


def test_set_language(store):
    user = store.add("mia", PASSWORD)
    assert store.set_language(user.id, "en").language == "en"
    assert store.get("mia").language == "en"
    with pytest.raises(ValueError):
        store.set_language(user.id, "fr")
    with pytest.raises(UnknownUser):
        store.set_language(10_000, "de")


def _cli(env, *args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "formwerk"), "user", *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=60)


def test_cli_user_commands(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "FORMWERK_DATABASE_URL"}
    env["FORMWERK_DATA_DIR"] = str(tmp_path / "data")

    empty = _cli(env, "list")
    assert empty.returncode == 0 and no_users_hint() in empty.stdout

    added = _cli(env, "add", "anna", "--role", "admin", "--display-name", "Anna Berg",
                 "--language", "en", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr

    dup = _cli(env, "add", "anna", "--password-stdin", stdin=PASSWORD + "\n")
    assert dup.returncode == 1 and "exists" in dup.stderr
    weak = _cli(env, "add", "bert", "--password-stdin", stdin="kurz\n")
    assert weak.returncode == 1 and "at least 10" in weak.stderr
    assert _cli(env, "add", "bert", "--role", "root", "--password-stdin", stdin=PASSWORD).returncode == 2
    assert _cli(env, "disable", "nobody").returncode == 1
    assert _cli(env, "passwd", "nobody", "--password-stdin", stdin=PASSWORD).returncode == 1

    assert _cli(env, "add", "bert", "--password-stdin", stdin=PASSWORD + "\n").returncode == 0
    assert _cli(env, "disable", "bert").returncode == 0
    listing = _cli(env, "list")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DISPLAY", "NAME", "ROLE", "LANGUAGE", "ACTIVE"]
    assert lines[1].split() == ["anna", "Anna", "Berg", "admin", "en", "yes"]
    assert lines[2].split() == ["bert", "bert", "clerk", "de", "no"]

    new_password = "neues-Passwort-2026"
    changed = _cli(env, "passwd", "anna", "--password-stdin", stdin=new_password + "\r\n")
    assert changed.returncode == 0, changed.stderr

    store = UserStore.from_url(f"sqlite:///{tmp_path / 'data' / 'formwerk.sqlite'}")
    assert store.authenticate("anna", PASSWORD).user is None
    anna = store.authenticate("anna", new_password).user
    assert anna is not None and anna.role is Role.ADMIN and anna.session_epoch == 1
    assert store.authenticate("bert", PASSWORD).user is None  # disabled
    assert _cli(env, "enable", "bert").returncode == 0
    assert store.authenticate("bert", PASSWORD).user is not None
    store.engine.dispose()
