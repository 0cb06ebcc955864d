"""Keep a synchronous activity alive while it blocks (Tesseract, rendering).

A dead worker is noticed only when its heartbeat timeout passes; with one
heartbeat before Tesseract that timeout had to be minutes. ``keep_alive``
heartbeats from a background thread every few seconds while the activity
runs, so the heartbeat timeout can be seconds and a killed attempt is retried
almost at once.

Heartbeat *details* are what a retry resumes from (``prepare_document`` sends
its finished pages), so the background thread never sends details of its own:
it re-sends the latest details the activity itself sent.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

from temporalio import activity

F = TypeVar("F", bound=Callable[..., Any])

#: seconds between background heartbeats; the activities' heartbeat timeout must be a few times this
DEFAULT_INTERVAL = 3.0


def keep_alive(interval: float = DEFAULT_INTERVAL) -> Callable[[F], F]:
    """Decorator for a sync activity: heartbeat every ``interval`` s while it runs."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not activity.in_activity() or activity.info().is_local:
                # called directly (unit tests), or a local activity: it has no heartbeat of
                # its own (the workflow task is kept alive by the SDK), so nothing to keep alive
                return fn(*args, **kwargs)
            # the SDK's heartbeat function is thread-safe (it hands over to the
            # worker's event loop); the activity context itself is a contextvar
            # of this thread, so the function is captured here
            ctx = activity._Context.current()
            send = ctx.heartbeat
            if send is None:
                return fn(*args, **kwargs)
            lock = threading.Lock()
            last: list[tuple[Any, ...]] = [tuple(activity.info().heartbeat_details or ())]

            def recording(*details: Any) -> None:
                with lock:
                    last[0] = details
                    send(*details)

            stop = threading.Event()

            def beat() -> None:
                while not stop.wait(interval):
                    with lock:
                        send(*last[0])

            ctx.heartbeat = recording
            thread = threading.Thread(target=beat, name="activity-heartbeat", daemon=True)
            thread.start()
            try:
                return fn(*args, **kwargs)
            finally:
                stop.set()
                thread.join(timeout=interval + 1)
                ctx.heartbeat = send

        return wrapper  # type: ignore[return-value]

    return decorate
