"""The REST API on the real stack: Temporal dev server, a worker with the real engines, the web
app over HTTP (uvicorn), the store on SQLite and on the PostgreSQL at 127.0.0.1:5432, and a real
webhook receiver that checks signatures with the ``standardwebhooks`` library.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from bench.pgschema import private_schema
from bench.ui_stack import PASSWORD, engines_activities, running_stack
from formwerk.models import ReviewAction, ReviewDecision
from formwerk.review import send_decision
from formwerk.tokens import TokenStore
from formwerk.webhooks import SubscriberStore
from formwerk import xgewerbe
from workflows.case_workflow import CaseWorkflow
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.integration]



@pytest.fixture(scope="session")
def engines(tmp_path_factory):
    from formwerk.settings import Settings

    return engines_activities(Settings(data_dir=tmp_path_factory.mktemp("api-engines")))


@pytest.fixture(scope="session")
def digital() -> tuple[bytes, bytes]:
    """Two different digital Gewerbe-Anmeldungen (text layer: no OCR)."""
    from bench.synth import render_document

    return render_document("gewerbeanmeldung", seed=11).pdf_bytes, render_document("gewerbeanmeldung", seed=12).pdf_bytes


def _flaky_then_gone(path: str, earlier: list[dict]) -> int:
    """/gone refuses for good (410); any other path fails twice (503), then accepts (204)."""
    return 410 if path == "/gone" else (503 if len(earlier) < 2 else 204)


def _auth(token: str, **more) -> dict:
    return {"Authorization": f"Bearer {token}", **more}


async def _lifecycle(stack, digital):
    """Submit → wait → result; idempotency; refusals; requested documents; exports."""
    first, other = digital
    # one Temporal server serves every test: a file without reference must be new to it
    other = other + f"\n% {uuid.uuid4().hex}\n".encode()
    tokens = TokenStore(stack.cases.engine)
    _, submitter = tokens.create("fv-submit", ["cases:submit", "cases:read"])
    _, reader = tokens.create("fv-read", ["cases:read"])
    _, docs = tokens.create("fv-docs", ["documents:read"])
    revoked_token, revoked = tokens.create("fv-old", ["admin"])
    tokens.revoke(revoked_token.id)
    ref = f"FV-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as c:
        # access: no token, a wrong scope, a revoked token
        assert (await c.post("/api/v1/cases", files={"file": ("a.pdf", first)})).status_code == 401
        r = await c.post("/api/v1/cases", headers=_auth(reader), files={"file": ("a.pdf", first)},
                         data={"reference": ref})
        assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
        r = await c.get("/api/v1/cases", headers=_auth(revoked))
        assert r.status_code == 401 and r.json()["code"] == "token_invalid"

        # submit → 202 + Location → wait → routed
        r = await c.post("/api/v1/cases", headers=_auth(submitter), files={"file": ("gewa1.pdf", first)},
                         data={"reference": ref, "document_type": "gewerbeanmeldung",
                               "metadata": json.dumps({"vorgang": "4711"})})
        assert r.status_code == 202, r.text
        case_id = r.json()["case_id"]
        assert r.headers["location"] == f"/api/v1/cases/{case_id}" and r.json()["created"] is True
        r = await c.get(f"{r.headers['location']}?wait=90", headers=_auth(reader))
        case = r.json()
        assert case["status"] in ("completed", "needs_review"), case
        assert case["document_type"] == "gewerbeanmeldung" and case["metadata"] == {"vorgang": "4711"}
        assert case["fields"]["family_name"]["value"] and case["fields"]["family_name"]["page"] == 1
        assert case["history"][0]["kind"] == "routed" and case["timings_ms"]["total"] > 0
        result = (await c.get(f"/api/v1/cases/{case_id}/result.json", headers=_auth(reader))).json()
        assert result["case_id"] == case_id and result["reference"] == ref
        assert set(result["fields"]) == set(case["fields"])

        # the same reference with the same file: the same case; with another file: 409
        r = await c.post("/api/v1/cases", headers=_auth(submitter), files={"file": ("gewa1.pdf", first)},
                         data={"reference": ref})
        assert r.status_code == 200 and r.json()["case_id"] == case_id and r.json()["created"] is False
        r = await c.post("/api/v1/cases", headers=_auth(submitter, **{"Accept-Language": "en"}),
                         files={"file": ("gewa1.pdf", other)}, data={"reference": ref})
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "reference_conflict" and r.json()["case_id"] == case_id
        assert "different file" in r.json()["detail"]
        page = (await c.get("/api/v1/cases", headers=_auth(reader), params={"limit": 500})).json()
        assert [i["case_id"] for i in page["items"]].count(case_id) == 1

        # Idempotency-Key: a retry without reference gives one case; the key with another file is 422
        key = uuid.uuid4().hex
        r1 = await c.post("/api/v1/cases", headers=_auth(submitter, **{"Idempotency-Key": key}),
                          files={"file": ("anderer.pdf", other)}, data={"document_type": "kindergeld_kg1"})
        r2 = await c.post("/api/v1/cases", headers=_auth(submitter, **{"Idempotency-Key": key}),
                          files={"file": ("anderer.pdf", other)}, data={"document_type": "kindergeld_kg1"})
        assert r1.status_code == 202 and r2.status_code == 202, (r1.text, r2.text)
        assert r1.json()["case_id"] == r2.json()["case_id"] and r2.headers["idempotent-replayed"] == "true"
        r3 = await c.post("/api/v1/cases", headers=_auth(submitter, **{"Idempotency-Key": key}),
                          files={"file": ("anderer.pdf", first)})
        assert r3.status_code == 422 and r3.json()["code"] == "idempotency_key_reused"

        # expected another type → review; a clerk requests documents, the Fachverfahren uploads them
        second = r1.json()["case_id"]
        waiting = (await c.get(f"/api/v1/cases/{second}?wait=90", headers=_auth(reader))).json()
        assert waiting["status"] == "needs_review" and "unexpected_document_type" in waiting["review_reasons"]
        await send_decision(stack.client, second, ReviewDecision(
            action=ReviewAction.REQUEST_DOCUMENTS, clerk="anna", decision_id=uuid.uuid4().hex,
            comment="Bitte Handwerkskarte nachreichen"), stack.cases)
        from bench.synth import render_document

        attachment = render_document("invoice", seed=3).pdf_bytes
        r = await c.post(f"/api/v1/cases/{second}/documents", headers=_auth(submitter),
                         files={"file": ("karte.pdf", attachment)})
        assert r.status_code == 202, r.text
        after = (await c.get(f"/api/v1/cases/{second}", headers=_auth(reader))).json()
        assert not after["awaiting_documents"] and [a["filename"] for a in after["attachments"]] == ["karte.pdf"]

        # a clerk approves it: the XGewerbeanzeige export validates
        r = await c.get(f"/api/v1/cases/{second}/xgewerbeanzeige.xml", headers=_auth(reader))
        assert r.status_code == 409 and r.json()["code"] == "export_not_available"
        await send_decision(stack.client, second, ReviewDecision(
            action=ReviewAction.APPROVE, clerk="anna", decision_id=uuid.uuid4().hex,
            corrections={"family_name": "Schulze-Brandt"}), stack.cases)
        done = (await c.get(f"/api/v1/cases/{second}", headers=_auth(reader))).json()
        assert done["status"] == "completed"
        assert done["fields"]["family_name"]["value"] == "Schulze-Brandt"
        assert done["fields"]["family_name"]["corrected_by"] == "anna"
        r = await c.get(done["links"]["xgewerbeanzeige"], headers=_auth(reader))
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
        assert xgewerbe.validate(r.content) == []
        assert b"<xga:familienname>Schulze-Brandt</xga:familienname>" in r.content

        # the original and the page images need their own scope
        assert (await c.get(f"/api/v1/cases/{case_id}/original", headers=_auth(reader))).status_code == 403
        r = await c.get(f"/api/v1/cases/{case_id}/original", headers=_auth(docs))
        assert r.status_code == 200 and r.content == first and r.headers["content-type"] == "application/pdf"
        r = await c.get(f"/api/v1/cases/{case_id}/pages/1", headers=_auth(docs))
        assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
        r = await c.get(f"/api/v1/cases/{case_id}/pages/99", headers=_auth(docs))
        assert r.status_code == 404 and r.json()["code"] == "page_not_found"

        # filters and cursor pages: every case once
        seen, cursor = [], None
        while True:
            params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
            page = (await c.get("/api/v1/cases", headers=_auth(reader), params=params)).json()
            seen += [i["case_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted({case_id, second}) and len(seen) == len(set(seen))
        done_only = (await c.get("/api/v1/cases", headers=_auth(reader),
                                 params={"status": "completed", "document_type": "gewerbeanmeldung"})).json()
        assert second in [i["case_id"] for i in done_only["items"]]


async def test_the_api_lifecycle_on_sqlite(temporal_env, engines, tmp_path, digital):
    async with running_stack(temporal_env.client, tmp_path, engines=engines) as stack:
        await _lifecycle(stack, digital)


async def test_the_api_lifecycle_on_postgresql(temporal_env, engines, tmp_path, digital):
    with private_schema("api") as url:
        async with running_stack(temporal_env.client, tmp_path, database_url=url, engines=engines) as stack:
            assert stack.cases.engine.dialect.name == "postgresql"
            await _lifecycle(stack, digital)


async def _wait_for(predicate, timeout: float = 60.0):
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


async def test_webhooks_are_signed_retried_with_one_id_and_recorded(temporal_env, engines, tmp_path):
    receiver = Receiver(answer=_flaky_then_gone)
    try:
        async with running_stack(temporal_env.client, tmp_path, engines=engines) as stack:
            stack.settings.webhook_retry_initial_seconds = 0.2  # real Temporal retries, made quick
            sub = SubscriberStore(stack.cases.engine).add("fv", receiver.base_url + "/flaky")
            receiver.secret = sub.secret
            _, token = TokenStore(stack.cases.engine).create("fv", ["cases:submit", "cases:read"], subscriber="fv")
            async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as c:
                # a callback on another origin is refused (no requests to arbitrary hosts)
                r = await c.post("/api/v1/cases", headers=_auth(token), files={"file": ("x.txt", b"kein Dokument")},
                                 data={"callback_url": "http://127.0.0.2:1/hook"})
                assert r.status_code == 422 and r.json()["code"] == "callback_not_allowed"
                # not a document: rejected at once (no OCR), reported by webhook
                r = await c.post("/api/v1/cases", headers=_auth(token), files={"file": ("x.txt", b"kein Dokument")},
                                 data={"reference": f"W-{uuid.uuid4().hex[:8]}"})
                assert r.status_code == 202, r.text
                case_id = r.json()["case_id"]
                await _wait_for(lambda: any(q["status"] == 204 for q in receiver.requests))
                flaky = [q for q in receiver.requests if q["path"] == "/flaky"]
                assert [q["status"] for q in flaky] == [503, 503, 204]
                assert all(q["verified"] for q in flaky)
                assert len({q["id"] for q in flaky}) == 1  # the same webhook-id on every attempt
                accepted = [q for q in flaky if q["status"] == 204]
                assert len(accepted) == 1
                payload = accepted[0]["payload"]
                assert payload["type"] == "case.rejected" and payload["data"]["case_id"] == case_id
                assert payload["data"]["reason_code"] and payload["data"]["links"]["self"].endswith(case_id)

                async def deliveries():
                    return (await c.get(f"/api/v1/cases/{case_id}", headers=_auth(token))).json()["webhooks"]

                for _ in range(100):  # the workflow records the outcome once the activity returned
                    hooks = await deliveries()
                    if hooks and hooks[0]["status"] != "pending":
                        break
                    await asyncio.sleep(0.1)
                [hook] = hooks
                assert hook["status"] == "delivered" and hook["webhook_id"] == flaky[0]["id"]
                assert [(a["attempt"], a["status_code"], a["outcome"]) for a in hook["attempts"]] == [
                    (1, 503, "retry"), (2, 503, "retry"), (3, 204, "delivered")]

                # a 4xx other than 408/429 stops the retries at once
                r = await c.post("/api/v1/cases", headers=_auth(token), files={"file": ("y.txt", b"auch keins")},
                                 data={"reference": f"G-{uuid.uuid4().hex[:8]}", "callback_url": receiver.base_url + "/gone"})
                gone_id = r.json()["case_id"]
                handle = stack.client.get_workflow_handle(gone_id)
                await asyncio.wait_for(handle.result(), 60)
                [hook] = (await c.get(f"/api/v1/cases/{gone_id}", headers=_auth(token))).json()["webhooks"]
                assert hook["status"] == "failed" and [a["status_code"] for a in hook["attempts"]] == [410]
                assert [q["status"] for q in receiver.requests if q["path"] == "/gone"] == [410]

                # the clerk's case screen lists the attempts
                stack.add_user("anna", "clerk")
                page = await c.get("/login")
                csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
                await c.post("/login", data={"username": "anna", "password": PASSWORD, "csrf_token": csrf,
                                             "next": "/queue"})
                html = (await c.get(f"/cases/{case_id}")).text
                section = html[html.index('data-testid="webhooks"'):]
                assert "zugestellt" in section and "HTTP 503" in section and "HTTP 204" in section

            # the delivery step replays deterministically from its history
            history = await stack.client.get_workflow_handle(case_id).fetch_history()
            # the first attempt ran locally, right after routing; the retries as one activity on the queue
            local = [json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)["activity_type"]
                     for e in history.events if e.HasField("marker_recorded_event_attributes")
                     and e.marker_recorded_event_attributes.marker_name == "core_local_activity"]
            queued = [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
                      if e.HasField("activity_task_scheduled_event_attributes")]
            assert local.count("deliver_webhook") == 1 and queued.count("deliver_webhook") == 1
            await Replayer(workflows=[CaseWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)
    finally:
        receiver.close()
