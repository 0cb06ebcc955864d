"""A real HTTP webhook receiver for the stack tests, in a thread.

Every POST is kept (path, ``webhook-id``, event type, payload, the answer
given). With a ``secret`` the signature is verified with the
``standardwebhooks`` library and a bad one is answered 401; ``answer``
chooses the status of a verified request from its path and the earlier
requests to that path (a flaky receiver, one that is gone).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Answer = Callable[[str, list[dict]], int]


class Receiver:
    def __init__(self, secret: str = "", answer: Answer | None = None) -> None:
        self.secret = secret
        self.answer: Answer = answer or (lambda path, earlier: 204)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified: bool | None = None
                try:
                    if outer.secret:
                        from standardwebhooks import Webhook

                        payload = Webhook(outer.secret).verify(body, headers)
                        verified = True
                    else:
                        payload = json.loads(body)
                except Exception:
                    payload, verified = None, False if outer.secret else None
                with outer.lock:
                    earlier = [r for r in outer.requests if r["path"] == self.path]
                    status = 401 if verified is False else outer.answer(self.path, earlier)
                    outer.requests.append({
                        "path": self.path, "id": headers.get("webhook-id"), "verified": verified,
                        "status": status, "payload": payload,
                        "event": payload.get("type") if isinstance(payload, dict) else None})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base_url + "/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
