"""Nothing lost, nothing leaked: the case store and the blob store failing under a running case.

On the real stack (Temporal dev server, a worker with the real engines in this
process, the web app, the real PostgreSQL at 127.0.0.1:5432):

* PostgreSQL goes away for a few seconds while a case is being read (a TCP
  proxy in front of it is cut: listener closed, open connections reset).
  The store writes fail, Temporal retries them, the case is routed once the
  database is back, and nothing is stored twice: one row, one workflow, each
  event once, one delivered webhook per message.
* The blob store fills up (ENOSPC) or turns read-only (EROFS) right after the
  original was stored. The case ends ``failed`` with a German sentence that
  says the document storage is full / not writable and what to do; the
  original is still there, and no half-written blob is left behind.
"""

from __future__ import annotations

import asyncio
import errno
import json
import socket
import struct
import threading
import time
import uuid

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bench.pgschema import pg_available, private_schema
from bench.ui_stack import engines_activities, free_port, running_stack, scan_bytes
from formwerk import storage
from formwerk.commands import wait_routed
from formwerk.db import cases as cases_table
from formwerk.db import webhook_attempts
from formwerk.intake import policies_from_catalogue, submit
from formwerk.models import CaseResult, CaseStatus, ReviewAction, ReviewDecision, RoutingPolicy, WebhookTarget
from formwerk.review import send_decision
from formwerk.tokens import TokenStore
from formwerk.webhooks import SubscriberStore
from workflows.case_workflow import CaseWorkflow
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.integration]

ROUTED = {CaseStatus.COMPLETED, CaseStatus.NEEDS_REVIEW, CaseStatus.REJECTED}
#: the machine routes a readable Gewerbe-Anmeldung straight through (only invalid values go to a clerk)
LENIENT = RoutingPolicy(min_type_confidence=0.0, min_field_confidence=0.0, required_fields=[],
                        review_sla_hours=48)
ALL_EVENTS = ["case.completed", "case.rejected", "case.failed", "case.needs_review"]


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from formwerk.settings import Settings

    return engines_activities(Settings(data_dir=tmp_path_factory.mktemp("faults-stores-engines")))


@pytest.fixture(scope="module")
def scan() -> bytes:
    return scan_bytes(seed=21)


@pytest.fixture(scope="module")
def digital() -> bytes:
    from bench.synth import render_document

    return render_document("gewerbeanmeldung", seed=23).pdf_bytes


#: PostgreSQL's simple-query message for COMMIT, as psycopg sends it
COMMIT_MESSAGE = b"Q\x00\x00\x00\x0bCOMMIT\x00"


def _reset(s: socket.socket) -> None:
    """Close with RST. Shutdown first: a bare close() from another thread neither wakes a pump
    blocked in recv() on it nor releases the socket, so the client would never learn and wait forever."""
    for step in (lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
                 lambda: s.shutdown(socket.SHUT_RDWR), s.close):
        try:
            step()
        except OSError:
            pass


class TcpProxy:
    """A TCP proxy in threads: ``cut()`` closes the listener and resets every open connection.

    ``lose_next_commit_ack()``: the next COMMIT a client sends reaches the
    server, but its answer never comes back; the proxy then cuts. The client
    cannot know whether its write is stored (it is): the retry must not store
    it twice. Threads, not asyncio: the stack calls the store synchronously
    from its event loop (setup, some handlers), which would stall a proxy on that loop.
    """

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.port = free_port()
        self.connections = 0  # accepted, over the proxy's whole life
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lose_commit_ack = False
        self.commit_ack_lost = threading.Event()
        self._refuser: socket.socket | None = None  # while cut: accepts and resets at once
        self.attempts_while_cut = 0

    def lose_next_commit_ack(self) -> None:
        self._lose_commit_ack = True

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # shut down by cut()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._open |= {client, upstream}
                self.connections += 1
            pair = {"swallow": False}  # answers of this connection no longer forwarded
            for src, dst, to_server in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, pair, to_server), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: dict, to_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not to_server and pair["swallow"]:
                    continue
                lose = to_server and self._lose_commit_ack and COMMIT_MESSAGE in data
                if lose:
                    self._lose_commit_ack = False
                    pair["swallow"] = True  # before forwarding: the answer must not slip through
                dst.sendall(data)
                if lose:
                    self.commit_ack_lost.set()
                    threading.Timer(0.5, self.cut).start()  # the server has committed by then
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """PostgreSQL unreachable: open connections reset (RST), new ones reset at once and counted
        (``attempts_while_cut``: the stack's store writes are seen to fail and be retried)."""
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets, self._open = list(self._open), set()
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
            except OSError:
                pass
            self._thread.join(5)
            listener.close()
        for s in open_sockets:
            _reset(s)
        if self._refuser is None:
            refuser = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            refuser.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            refuser.bind(("127.0.0.1", self.port))
            refuser.listen(128)
            self._refuser = refuser
            threading.Thread(target=self._refuse, args=(refuser,), daemon=True).start()

    def _refuse(self, refuser: socket.socket) -> None:
        while True:
            try:
                client, _ = refuser.accept()
            except OSError:  # restored
                return
            self.attempts_while_cut += 1
            _reset(client)

    def restore(self) -> None:
        refuser, self._refuser = self._refuser, None
        if refuser is not None:
            try:
                refuser.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            refuser.close()
        self.start()

    def close(self) -> None:
        self.cut()


async def _until(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"not reached within {timeout:.0f} s: {what}")


def _activity_attempts(history) -> dict[str, list[int]]:
    """Activity type -> the attempt number each of its executions finished with (activities
    and local activities, whose outcome the history keeps as a marker)."""
    scheduled = {}
    attempts: dict[str, list[int]] = {}
    for e in history.events:
        if e.HasField("activity_task_scheduled_event_attributes"):
            scheduled[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
        elif e.HasField("activity_task_started_event_attributes"):
            a = e.activity_task_started_event_attributes
            attempts.setdefault(scheduled[a.scheduled_event_id], []).append(a.attempt)
        elif e.HasField("marker_recorded_event_attributes"):
            m = e.marker_recorded_event_attributes
            if m.marker_name == "core_local_activity":
                data = json.loads(m.details["data"].payloads[0].data)
                attempts.setdefault(data["activity_type"], []).append(data["attempt"])
    return attempts


# -- PostgreSQL away ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["refused", "commit-ack-lost"])
async def test_postgresql_unreachable_for_seconds_case_completes_once(temporal_env, engines, tmp_path, scan, mode):
    """``refused``: cut while the page is read, so the routing's save fails outright.
    ``commit-ack-lost``: the routing's save is committed but its answer lost, then cut."""
    if not pg_available():
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432")
    receiver = Receiver()
    proxy = TcpProxy()
    proxy.start()
    try:
        with private_schema("pgcut") as direct_url:
            assert "127.0.0.1:5432/" in direct_url
            via_proxy = direct_url.replace("127.0.0.1:5432/", f"127.0.0.1:{proxy.port}/")
            direct = create_engine(direct_url)  # the test's own view, never through the proxy
            try:
                async with running_stack(temporal_env.client, tmp_path, database_url=via_proxy,
                                         engines=engines) as stack:
                    await _pg_outage(stack, proxy, direct, receiver, scan, mode)
            finally:
                direct.dispose()
    finally:
        proxy.close()
        receiver.close()


async def _pg_outage(stack, proxy: TcpProxy, direct, receiver: Receiver, scan: bytes, mode: str) -> None:
    sub = SubscriberStore(stack.cases.engine).add("fv", receiver.url, ALL_EVENTS)
    receiver.secret = sub.secret
    reference = f"PG-{uuid.uuid4().hex[:10]}"
    submission = await submit(
        stack.client, stack.blobs, scan, filename="scan.pdf", reference=reference,
        task_queue=stack.queues[0], ocr_task_queue=stack.queues[1],
        policies={**policies_from_catalogue(), "gewerbeanmeldung": LENIENT},
        webhook=WebhookTarget(url=receiver.url, subscriber="fv", events=ALL_EVENTS,
                              retry_initial_seconds=0.2, retry_max_seconds=2, timeout_seconds=5))
    case_id, handle = submission.case_id, submission.handle

    def stored_status() -> str | None:
        with direct.connect() as conn:
            return conn.execute(select(cases_table.c.status).where(cases_table.c.case_id == case_id)).scalar()

    async def being_processed():
        return await asyncio.to_thread(stored_status) == "processing"

    # the case is registered (first save) and its page goes to OCR: now the database goes away
    await _until(being_processed, 60, "case stored as processing")
    if mode == "refused":
        proxy.cut()
        assert await asyncio.to_thread(stored_status) == "processing", "routed before the outage began"
    else:
        proxy.lose_next_commit_ack()

        async def ack_lost():
            return proxy.commit_ack_lost.is_set()

        await _until(ack_lost, 45, "the routing's save committed")
    cut_at = time.monotonic()

    async def store_write_retried():
        # the case's saves are local activities (no pending activity to describe): the store's
        # connection attempts during the outage show a write failed and was tried again
        return proxy.attempts_while_cut >= 2

    # held until a store write has failed and waits for its retry, then a little longer
    # (the page's OCR, classification and extraction come first: on a busy machine, a while)
    await _until(store_write_retried, 120, "store write retried", step=0.2)
    await asyncio.sleep(2.0)
    during = await asyncio.to_thread(stored_status)
    if mode == "refused":
        assert during == "processing"  # nothing got through meanwhile
    else:
        assert during in {s.value for s in ROUTED}  # stored, though the worker was told it failed
    proxy.restore()
    outage_s = time.monotonic() - cut_at
    assert 2.0 < outage_s < 40

    routed = await wait_routed(handle, 60)
    assert routed.status in ROUTED, (routed.status, routed.reason)
    if routed.status == CaseStatus.NEEDS_REVIEW:  # an invalid value on the scan: a clerk approves it
        decision = ReviewDecision(action=ReviewAction.APPROVE, clerk="anna", decision_id=uuid.uuid4().hex)
        await send_decision(stack.client, case_id, decision, stack.cases)
    final: CaseResult = await asyncio.wait_for(handle.result(), 60)
    assert final.status == CaseStatus.COMPLETED, (final.reason_code, final.reason)

    # the store writes failed and were retried (no other way through an outage)
    history = await handle.fetch_history()
    attempts = _activity_attempts(history)
    assert max(attempts["save_result"]) >= 2, attempts
    # OCR, classification and extraction never touch the store: never retried
    assert all(a == 1 for name, runs in attempts.items() if name not in ("save_result", "deliver_webhook")
               for a in runs), attempts
    await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)

    # one workflow, one row, the row is the workflow's final result
    runs = [w async for w in stack.client.list_workflows(f"WorkflowId = '{case_id}'")]
    assert len(runs) == 1
    with direct.connect() as conn:
        rows = conn.execute(select(cases_table.c.case_id, cases_table.c.revision, cases_table.c.status)
                            .where(cases_table.c.reference == reference)).all()
        assert conn.execute(select(func.count()).select_from(cases_table)).scalar() == 1
        hooks = conn.execute(select(webhook_attempts.c.webhook_id, webhook_attempts.c.attempt,
                                    webhook_attempts.c.outcome)
                             .where(webhook_attempts.c.case_id == case_id)).all()
    assert [(r.case_id, r.status) for r in rows] == [(case_id, final.status.value)]
    stored = stack.cases.get(case_id)
    assert stored.revision == final.revision == rows[0].revision
    assert stored.events == final.events

    # each event once: routed once, every decision and every webhook once
    kinds = [e.kind for e in stored.events]
    assert kinds.count("routed") == 1, kinds
    assert len({(e.kind, e.at, e.decision_id, repr(sorted(e.detail.items()))) for e in stored.events}) == len(kinds)
    assert kinds.count("webhook_delivered") == len(stored.webhooks) >= 1
    assert kinds.count("approved") == (1 if routed.status == CaseStatus.NEEDS_REVIEW else 0)

    # webhooks: one message per status reported, each delivered once, recorded once
    ids = [w.webhook_id for w in stored.webhooks]
    assert len(ids) == len(set(ids)) and all(w.status == "delivered" for w in stored.webhooks)
    assert sorted({h.webhook_id for h in hooks}) == sorted(ids)
    assert sorted(h.webhook_id for h in hooks if h.outcome == "delivered") == sorted(ids)
    accepted = [q for q in receiver.requests if q["status"] == 204]
    assert len(receiver.requests) == len(accepted)  # every request correctly signed
    assert sorted(q["id"] for q in accepted) == sorted(ids)  # no message posted twice
    assert [q["payload"]["data"]["case_id"] for q in accepted] == [case_id] * len(ids)
    assert proxy.connections >= 2  # the store reconnected after the outage


# -- blob store full or read-only --------------------------------------------


class BrokenDisk:
    """``formwerk.storage``'s view of ``os`` once the disk breaks: every ``fsync`` fails with ``err``.

    The first ``allow`` writes still succeed (the original arrives while there is room).
    """

    def __init__(self, err: int, allow: int = 1) -> None:
        import os

        self._os, self.err, self.allow, self.refused = os, err, allow, 0
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self._os, name)

    def fsync(self, fd: int) -> None:
        with self._lock:
            if self.allow > 0:
                self.allow -= 1
                return self._os.fsync(fd)
            self.refused += 1
        raise OSError(self.err, self._os.strerror(self.err))


@pytest.mark.parametrize("err, code, opening, retried", [
    (errno.ENOSPC, "storage_full", "Ablage voll", True),
    (errno.EROFS, "storage_unwritable", "Ablage nicht beschreibbar", False),
], ids=["full", "read-only"])
async def test_blob_store_full_or_unwritable_fails_loudly_and_keeps_the_original(
        temporal_env, engines, tmp_path, digital, monkeypatch, err, code, opening, retried):
    async with running_stack(temporal_env.client, tmp_path, engines=engines) as stack:
        tokens = TokenStore(stack.cases.engine)
        _, token = tokens.create("fv", ["cases:submit", "cases:read", "documents:read"])
        auth = {"Authorization": f"Bearer {token}"}
        disk = BrokenDisk(err, allow=1)
        monkeypatch.setattr(storage, "os", disk)
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as c:
            r = await c.post("/api/v1/cases", headers=auth, files={"file": ("gewa1.pdf", digital)},
                             data={"reference": f"BL-{uuid.uuid4().hex[:10]}"})
            assert r.status_code == 202, r.text
            case_id = r.json()["case_id"]
            handle = stack.client.get_workflow_handle(case_id, result_type=CaseResult)
            with pytest.raises(WorkflowFailureError) as failure:
                await asyncio.wait_for(handle.result(), 50)
            case = (await c.get(f"/api/v1/cases/{case_id}", headers=auth)).json()

            # loud: `failed`, a German sentence a clerk understands, the step, who to call
            assert case["status"] == "failed", case
            assert case["reason_code"] == code
            reason = case["reason"]
            assert reason.startswith(opening) and "Dokumentenspeicher" in reason, reason
            assert "Lesen der Seiten" in reason and "IT-Betrieb" in reason, reason
            assert not any(w in reason for w in ("Errno", "OSError", "ENOSPC", "EROFS", "Traceback"))
            assert failure.value.cause.message == reason  # the workflow fails with the same sentence
            assert [e["kind"] for e in case["history"]].count("failed") == 1

            # full: retried (space may be freed); read-only: given up at once
            attempts = _activity_attempts(await handle.fetch_history())
            assert attempts["read_document"] == ([5] if retried else [1]), attempts  # a PDF: one local activity
            assert disk.refused == (5 if retried else 1)

            # nothing lost: the original is intact, in the store and over the API
            original_key = f"sha256:{storage.sha256_hex(digital)}"
            assert stack.blobs.get(original_key) == digital
            r = await c.get(f"/api/v1/cases/{case_id}/original", headers=auth)
            assert r.status_code == 200 and r.content == digital

        # nothing leaked: no temporary file, no half-written blob, only the original
        files = [p for p in stack.settings.blob_dir.rglob("*") if p.is_file()]
        assert [p for p in files if p.name.startswith(".tmp-")] == []
        assert [p.name for p in files] == [original_key.removeprefix("sha256:")]

        # once the disk has room again the operator retries the same case: it runs again from
        # its original, under the same id, and its result replaces the failure (`formwerk retry`)
        monkeypatch.setattr(storage, "os", disk._os)
        from formwerk.intake import NotRetryable, retry_failed

        failed_revision = stack.cases.get(case_id).revision
        retried = await retry_failed(stack.client, stack.cases, case_id, stack.queues[0])
        for _ in range(500):  # until the new run has stored its routing
            if stack.cases.get(case_id).status.value not in ("failed", "processing"):
                break
            await asyncio.sleep(0.1)
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as c:
            again = (await c.get(f"/api/v1/cases/{case_id}", headers=auth)).json()
        assert again["status"] in ("completed", "needs_review"), again
        assert again["document_type"] == "gewerbeanmeldung" and not again.get("reason_code")
        assert stack.cases.get(case_id).revision > failed_revision
        assert retried.result_run_id != handle.result_run_id
        # a case that did not fail is not started twice
        with pytest.raises(NotRetryable):
            await retry_failed(stack.client, stack.cases, case_id, stack.queues[0])
