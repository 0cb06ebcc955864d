"""Helpers for tests of the web app in-process (FastAPI's TestClient)."""

from __future__ import annotations

import re

#: the password the tests give their users
PASSWORD = "ein-langes-passwort"


class NoTemporal:
    """A Temporal client that knows no workflow (what a fresh server would say)."""

    def get_workflow_handle(self, *a, **k):
        from temporalio.service import RPCError, RPCStatusCode

        class Handle:
            async def describe(self, **kw):
                raise RPCError("not found", RPCStatusCode.NOT_FOUND, b"")

            async def query(self, *a, **kw):
                raise RPCError("not found", RPCStatusCode.NOT_FOUND, b"")

        return Handle()


def login(client, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form (its CSRF token included); asserts the redirect."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf_token": csrf, "next": "/queue"}, follow_redirects=False)
    assert r.status_code == 303
