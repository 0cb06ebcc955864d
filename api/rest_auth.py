"""Access to the REST API: Bearer tokens with scopes, a rate limit per token, a body size limit.

The API does not use the clerks' session cookies (and so needs no CSRF
token): every request names its token in ``Authorization: Bearer …``.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from dataclasses import dataclass, field

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import MEDIA_TYPE, Problem, language
from formwerk.tokens import ApiToken, TokenStore

bearer = HTTPBearer(auto_error=False, description="An API token from `formwerk token create` (fwk_…)")


@dataclass
class RateLimiter:
    """A token bucket per API token: ``burst`` requests at once, refilled at ``per_minute``.

    In-process: with several API instances each enforces its own share.
    """

    per_minute: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait before the next request is."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate if rate > 0 else 3600.0


def _api(request: Request) -> "ApiState":
    app = request.app
    api = getattr(app.state, "formwerk_api", None)
    if api is None:
        st = app.state.formwerk
        api = ApiState(tokens=TokenStore(st.cases.engine),
                       limiter=RateLimiter(st.settings.api_rate_limit_per_minute, st.settings.api_rate_burst))
        app.state.formwerk_api = api
    return api


@dataclass
class ApiState:
    tokens: TokenStore
    limiter: RateLimiter


async def authenticated(request: Request,
                        credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> ApiToken:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem("unauthorized", headers={"WWW-Authenticate": 'Bearer realm="formwerk"'})
    api = _api(request)
    token = await asyncio.to_thread(api.tokens.verify, credentials.credentials)
    if token is None:
        raise Problem("token_invalid", headers={"WWW-Authenticate": 'Bearer realm="formwerk", error="invalid_token"'})
    wait = api.limiter.take(token.id)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise Problem("rate_limited", retry_after=retry_after, headers={"Retry-After": str(retry_after)})
    request.state.api_token = token
    return token


def scope(name: str):
    """A dependency: the request's token, which must carry ``name`` (or ``admin``)."""

    async def check(token: ApiToken = Depends(authenticated)) -> ApiToken:
        if not token.allows(name):
            raise Problem("insufficient_scope", scope=name,
                          headers={"WWW-Authenticate": f'Bearer realm="formwerk", error="insufficient_scope", scope="{name}"'})
        return token

    check.__name__ = f"scope_{name.replace(':', '_')}"
    return check


class BodySizeLimit:
    """ASGI middleware: a request body under /api/ larger than ``limit`` bytes gets 413.

    Refused at once when Content-Length says so; a chunked body is counted as
    it arrives and the app's answer is replaced by the 413 once it goes over.
    """

    def __init__(self, app, limit_of, prefix: str = "/api/") -> None:
        self.app = app
        self.limit_of = limit_of  # () -> int, read per request (the settings may change in tests)
        self.prefix = prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        limit = int(self.limit_of())
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        lang = language(headers.get("accept-language"))
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return await self._refuse(scope, send, limit, lang)
        seen = 0
        over = False

        async def counting_receive():
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        started = False

        async def guarded_send(message):
            nonlocal started
            if over:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(scope, send, limit, lang)
                return
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    @staticmethod
    async def _refuse(scope, send, limit: int, lang: str) -> None:
        body = Problem("request_too_large", limit=limit).body(lang, scope["path"])
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(data)).encode()),
            (b"content-language", lang.encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})
