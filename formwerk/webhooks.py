"""Signed webhooks to back-office systems (the Standard Webhooks scheme).

A *subscriber* is one back-office system: a name, its callback URL (cases
may name another callback only on the same origin: no server-side request
to arbitrary hosts), the events it wants, and a signing secret
(``whsec_<base64>``), set from the CLI (``formwerk webhook add|rotate``).
The secret has to be kept in clear to sign; after a rotation the previous
one signs too for a day (two signatures in ``webhook-signature``), so the
receiver can switch without losing messages.

Every message carries ``webhook-id`` (the same on every attempt: receivers
deduplicate on it), ``webhook-timestamp`` (the attempt's time, Unix seconds)
and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of id.timestamp.body>``),
made by the ``standardwebhooks`` package. The body is identical on every
attempt. Each attempt is recorded in ``webhook_attempts``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from formwerk.db import _utc, webhook_attempts, webhook_subscribers
from formwerk.models import DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, CaseResult

#: how long the previous secret keeps signing after a rotation
ROTATION_GRACE = timedelta(days=1)
USER_AGENT = "Formwerk-Webhooks/1"


class WebhookConfigError(Exception):
    """A subscriber could not be set up; the message says why."""


@dataclass(frozen=True)
class Subscriber:
    name: str
    url: str
    events: tuple[str, ...]
    secret: str
    previous_secret: str | None = None
    rotated_at: datetime | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        out = [self.secret]
        if self.previous_secret and self.rotated_at and now - self.rotated_at < ROTATION_GRACE:
            out.append(self.previous_secret)
        return out


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookConfigError(f"Not an http(s) URL: {url!r}")
    return url


def same_origin(a: str, b: str) -> bool:
    """Whether ``b`` is on the scheme, host and port of ``a``."""
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}
    return (pa.scheme, (pa.hostname or "").lower(), pa.port or default.get(pa.scheme)) == \
           (pb.scheme, (pb.hostname or "").lower(), pb.port or default.get(pb.scheme))


def _events(events: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    chosen = tuple(events) if events else tuple(DEFAULT_WEBHOOK_EVENTS)
    unknown = sorted(set(chosen) - set(WEBHOOK_EVENTS))
    if unknown:
        raise WebhookConfigError(f"Unknown events {unknown}: choose from {', '.join(WEBHOOK_EVENTS)}.")
    return chosen


def _row(r) -> Subscriber:
    return Subscriber(name=r["name"], url=r["url"], events=tuple(r["events"].split()), secret=r["secret"],
                      previous_secret=r["previous_secret"], rotated_at=_utc(r["rotated_at"]))


class SubscriberStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, name: str, url: str, events: list[str] | None = None) -> Subscriber:
        sub = Subscriber(name=name.strip(), url=check_url(url), events=_events(events), secret=new_secret())
        if not sub.name:
            raise WebhookConfigError("A subscriber needs a name.")
        try:
            with self.engine.begin() as conn:
                conn.execute(webhook_subscribers.insert().values(
                    name=sub.name, url=sub.url, secret=sub.secret, events=" ".join(sub.events),
                    created_at=datetime.now(timezone.utc)))
        except IntegrityError:
            raise WebhookConfigError(f"A subscriber named {name!r} exists already "
                                     "(`formwerk webhook rotate` gives it a new secret).") from None
        return sub

    def get(self, name: str) -> Subscriber | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(webhook_subscribers).where(webhook_subscribers.c.name == name)).mappings().first()
        return _row(r) if r else None

    def list(self) -> list[Subscriber]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(webhook_subscribers).order_by(webhook_subscribers.c.name)).mappings()
            return [_row(r) for r in rows]

    def _require(self, name: str) -> Subscriber:
        sub = self.get(name)
        if sub is None:
            raise WebhookConfigError(f"No subscriber {name!r} (see `formwerk webhook list`).")
        return sub

    def rotate(self, name: str) -> Subscriber:
        sub = self._require(name)
        secret = new_secret()
        with self.engine.begin() as conn:
            conn.execute(webhook_subscribers.update().where(webhook_subscribers.c.name == name).values(
                secret=secret, previous_secret=sub.secret, rotated_at=datetime.now(timezone.utc)))
        return self._require(name)

    def update(self, name: str, url: str | None = None, events: list[str] | None = None) -> Subscriber:
        self._require(name)
        values: dict[str, Any] = {}
        if url:
            values["url"] = check_url(url)
        if events:
            values["events"] = " ".join(_events(events))
        if values:
            with self.engine.begin() as conn:
                conn.execute(webhook_subscribers.update().where(webhook_subscribers.c.name == name).values(**values))
        return self._require(name)

    def remove(self, name: str) -> None:
        self._require(name)
        with self.engine.begin() as conn:
            conn.execute(webhook_subscribers.delete().where(webhook_subscribers.c.name == name))


# -- messages ----------------------------------------------------------------


def message_body(event: str, case: CaseResult, at: datetime, api_base_url: str = "") -> bytes:
    """The JSON body (Standard Webhooks ``type``/``timestamp``/``data``), byte-identical on every attempt."""
    data: dict[str, Any] = {"reference": case.reference, **case.contract_json(),
                            "metadata": dict(case.metadata)}
    if api_base_url:
        base = api_base_url.rstrip("/") + f"/api/v1/cases/{case.case_id}"
        data["links"] = {"self": base, "result": base + "/result.json"}
        if case.document_type == "gewerbeanmeldung" and event == "case.completed":
            data["links"]["xgewerbeanzeige"] = base + "/xgewerbeanzeige.xml"
    body = {"type": event, "timestamp": at.astimezone(timezone.utc).isoformat(), "data": data}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def signed_headers(signing_secrets: list[str], webhook_id: str, body: bytes,
                   now: datetime | None = None) -> dict[str, str]:
    from standardwebhooks import Webhook

    now = now or datetime.now(timezone.utc)
    signatures = " ".join(Webhook(s).sign(webhook_id, now, body) for s in signing_secrets)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass
class AttemptOutcome:
    status_code: int | None
    error: str
    duration_ms: int
    retry_after_s: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def permanent(self) -> bool:
        """A 4xx other than 408/429: the receiver says it will never take this message."""
        code = self.status_code
        return code is not None and 400 <= code < 500 and code not in (408, 429)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return None


_client = None
_client_lock = threading.Lock()


def _http_client():
    """One HTTP client per process, shared by the delivery threads (httpx.Client is thread-safe).

    ``httpx.post`` builds a new client per call, and with it a TLS context
    that loads the CA bundle: under load that was 15 % of a worker's busy
    time. The shared client also keeps connections to a receiver open.
    """
    global _client
    with _client_lock:
        if _client is None:
            import httpx

            _client = httpx.Client(follow_redirects=False, limits=httpx.Limits(max_connections=64))
        return _client


def post(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> AttemptOutcome:
    """One attempt: POST and say how it went (never raises for network trouble)."""
    import httpx

    start = time.perf_counter()
    try:
        resp = _http_client().post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return AttemptOutcome(None, f"{type(exc).__name__}: {exc}"[:500], int((time.perf_counter() - start) * 1000))
    ms = int((time.perf_counter() - start) * 1000)
    error = "" if 200 <= resp.status_code < 300 else resp.text[:200]
    return AttemptOutcome(resp.status_code, error, ms, _retry_after(resp.headers.get("retry-after")))


class AttemptStore:
    """Every delivery attempt, for the API and the clerk's case screen."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, *, case_id: str, webhook_id: str, attempt: int, event: str, url: str,
               outcome: AttemptOutcome, result: str) -> None:
        row = dict(case_id=case_id, webhook_id=webhook_id, attempt=attempt, event=event, url=url,
                   at=datetime.now(timezone.utc), status_code=outcome.status_code, error=outcome.error,
                   duration_ms=outcome.duration_ms, outcome=result)
        try:
            with self.engine.begin() as conn:
                conn.execute(webhook_attempts.insert().values(**row))
        except IntegrityError:  # the same attempt recorded twice (activity retried after recording)
            with self.engine.begin() as conn:
                conn.execute(webhook_attempts.update().where(
                    (webhook_attempts.c.webhook_id == webhook_id) & (webhook_attempts.c.attempt == attempt)
                ).values(**row))

    def for_case(self, case_id: str) -> list[dict[str, Any]]:
        query = (select(webhook_attempts).where(webhook_attempts.c.case_id == case_id)
                 .order_by(webhook_attempts.c.at, webhook_attempts.c.attempt))
        with self.engine.connect() as conn:
            return [{**dict(r), "at": _utc(r["at"])} for r in conn.execute(query).mappings()]


def deliveries_of(case: CaseResult, attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The case's webhook messages with their attempts, newest message last.

    A message still being retried is known from its attempts before the
    case records how it ended (``pending``).
    """
    known = {d.webhook_id: d for d in case.webhooks}
    order: list[str] = [d.webhook_id for d in case.webhooks]
    for a in attempts:
        if a["webhook_id"] not in order:
            order.append(a["webhook_id"])
    out = []
    for wid in order:
        rows = [a for a in attempts if a["webhook_id"] == wid]
        d = known.get(wid)
        out.append({"webhook_id": wid, "event": d.event if d else rows[0]["event"],
                    "url": d.url if d else rows[0]["url"], "status": d.status if d else "pending",
                    "attempts": rows})
    return out
