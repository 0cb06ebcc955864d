"""The supervisors' dashboard in a real browser after real cases ran.

Real here: the Temporal dev server, the worker with Tesseract, the trained
classifier and the catalogue extractor on generated scans, a clerk's
decision through the workflow (``formwerk.review.send_decision``), SQLite,
the web app over HTTP and Debian's chromium. The figures on the page are
checked against the cases this test created; a screenshot goes to
``screenshots/dashboard.png``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_asyncio

from bench.ui_stack import browser, engines_activities, login, running_stack, scan_bytes
from formwerk.commands import wait_routed
from formwerk.models import CaseStatus, ReviewAction, ReviewDecision, RoutingPolicy
from formwerk.review import send_decision

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
STRAIGHT = RoutingPolicy(min_type_confidence=0.0, min_field_confidence=0.0, required_fields=[])


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    from formwerk.settings import Settings

    return engines_activities(Settings(data_dir=tmp_path_factory.mktemp("engines")))


@pytest_asyncio.fixture(scope="module")
async def chromium():
    async with browser() as b:
        yield b


async def _text(page, selector: str) -> str:
    return " ".join((await page.locator(selector).inner_text()).split())


async def test_the_dashboard_shows_the_figures_of_the_cases_that_ran(temporal_env, engines, tmp_path, chromium):
    scan = scan_bytes(seed=5)
    async with running_stack(temporal_env.client, tmp_path, engines=engines) as stack:
        stack.add_user("anna", "clerk", display_name="Anna Berg")
        stack.add_user("sara", "supervisor", display_name="Sara Lindqvist")
        # the digital original (text layer, no OCR) of the same form: nothing to check with a lenient policy
        from bench.synth import render_document

        straight = await stack.submit(render_document("gewerbeanmeldung", seed=5).pdf_bytes, policy=STRAIGHT)
        reviewed = await stack.submit(scan)
        waiting = await stack.submit(scan)
        bad = await stack.submit(b"")
        routed = {s.case_id: await wait_routed(s.handle, 240) for s in (straight, reviewed, waiting, bad)}
        assert routed[straight.case_id].status == CaseStatus.COMPLETED, routed[straight.case_id].review_reasons
        assert routed[reviewed.case_id].status == routed[waiting.case_id].status == CaseStatus.NEEDS_REVIEW
        assert routed[bad.case_id].status == CaseStatus.REJECTED
        machine = routed[reviewed.case_id].fields["family_name"]
        # a clerk claims one case and approves it with a correction of the flagged field
        await send_decision(stack.client, reviewed.case_id, ReviewDecision(
            action=ReviewAction.CLAIM, clerk="anna", decision_id="dash-claim"), store=stack.cases)
        await send_decision(stack.client, reviewed.case_id, ReviewDecision(
            action=ReviewAction.APPROVE, clerk="anna", decision_id="dash-approve",
            corrections={"family_name": "Schulze-Brandt"}), store=stack.cases)
        assert (await asyncio.wait_for(reviewed.handle.result(), 60)).status == CaseStatus.COMPLETED

        # a clerk has no dashboard
        anna = await login(chromium, stack, "anna")
        assert await anna.locator('[data-testid="nav-dashboard"]').count() == 0
        resp = await anna.request.get(stack.base_url + "/dashboard")
        assert resp.status == 403
        await anna.context.close()

        sara = await login(chromium, stack, "sara")
        await sara.click('[data-testid="nav-dashboard"]')
        await sara.wait_for_url("**/dashboard**")
        await sara.select_option("#d-range", "24h")
        await sara.click("form.fw-dash-range button[type=submit]")
        await sara.wait_for_url("**range=24h**")
        assert "Kennzahlen" in await sara.title()
        value = lambda name: _text(sara, f'[data-testid="kpi-{name}"] .fw-kpi__value')  # noqa: E731
        assert await value("received") == "4"
        assert await value("finished") == "3"  # straight through, reviewed, rejected
        assert "1 ohne Prüfung, 1 nach Prüfung, 1 abgelehnt" in await _text(sara, '[data-testid="kpi-finished"]')
        assert await value("rate") == "33 %"  # 1 of the 3 recognised cases went straight through
        assert await value("queue") == "1"
        assert await value("saved") == "8 Min."  # 1 case × the default 8 minutes
        types = sara.locator('[data-testid="table-types"] tr[data-type="gewerbeanmeldung"] td')
        assert [" ".join((await types.nth(i).inner_text()).split()) for i in range(1, 4)] == ["3", "1", "33 %"]
        depth = sara.locator('[data-testid="table-queues"] tr[data-queue="open"] [data-testid="depth"]')
        assert await depth.inner_text() == "1"
        row = sara.locator('[data-testid="table-corrections"] tr[data-field="family_name"] td')
        assert await row.nth(1).inner_text() == "1"
        confidence = round(machine.confidence * 100)
        assert await row.nth(2).inner_text() == f"{confidence} %"
        assert "1 Fälle korrigiert" in await _text(sara, '[data-testid="corrections-hint"]')
        rejected = sara.locator('[data-testid="table-rejected"] tr[data-reason="empty_file"] td')
        assert await rejected.nth(1).inner_text() == "1"
        assert await sara.locator("svg.fw-chart").count() >= 5
        # the page and its JSON twin agree
        data = await (await sara.request.get(stack.base_url + "/dashboard.json?range=24h")).json()
        assert (data["straight_through"], data["reviewed"], data["rejected"], data["queue_depth"]) == (1, 1, 1, 1)
        assert data["reviews"] == 1 and data["review_median_s"] is not None
        SCREENSHOTS.mkdir(exist_ok=True)
        await sara.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
        # no horizontal scrolling at 200 % zoom (720 px wide)
        await sara.set_viewport_size({"width": 720, "height": 450})
        assert await sara.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
        await sara.context.close()
