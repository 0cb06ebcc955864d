"""The clerks' review screens in a real browser on the real stack.

Real here: the Temporal dev server (the time-skipping server for the SLA),
the worker with Tesseract, the trained classifier and the catalogue
extractor on a scan the test generates, the web app over HTTP, SQLite and
the PostgreSQL on 127.0.0.1:5432, Debian's chromium driven by playwright.
Screenshots of the queue and the case screen go to ``screenshots/``.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from formwerk.commands import wait_routed
from formwerk.models import CaseStatus
from bench.pgschema import private_schema
from bench.ui_stack import ONE_FLAGGED, PASSWORD, browser, engines_activities, login, running_stack, scan_bytes

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


@pytest.fixture(scope="session")
def scan() -> bytes:
    return scan_bytes(seed=5)


@pytest.fixture(scope="session")
def engines(tmp_path_factory):
    from formwerk.settings import Settings

    return engines_activities(Settings(data_dir=tmp_path_factory.mktemp("engines")))


@pytest_asyncio.fixture(scope="session")
async def chromium():
    async with browser() as b:
        yield b


@pytest_asyncio.fixture
async def stack(temporal_env, engines, tmp_path):
    async with running_stack(temporal_env.client, tmp_path, engines=engines) as s:
        for name, role in (("anna", "clerk"), ("ben", "clerk"), ("sara", "supervisor")):
            s.add_user(name, role, display_name={"anna": "Anna Berg", "ben": "Ben Yilmaz",
                                                 "sara": "Sara Lindqvist"}[name])
        yield s


async def _routed(sub, status=CaseStatus.NEEDS_REVIEW):
    routed = await wait_routed(sub.handle, 180)
    assert routed.status == status, routed.review_reasons
    return routed


async def _open_case(page, stack, case_id: str):
    """From the queue: the row's open button (opening claims the case)."""
    await page.goto(stack.base_url + "/queue")
    await page.locator(f'tr[data-case="{case_id}"] button').click()
    await page.wait_for_selector('.fw-case[data-ready="1"]')


async def _focused_field(page) -> str | None:
    return await page.evaluate("document.activeElement && document.activeElement.dataset.field || null")


async def _walk_through(stack, chromium, scan, shots: str | None):
    sub = await stack.submit(scan)
    routed = await _routed(sub)
    assert "low_confidence:family_name" in routed.review_reasons
    machine = routed.fields["family_name"]
    assert machine.bbox and machine.page

    page = await login(chromium, stack, "anna")
    assert await page.locator('[data-testid="queue-count"]').inner_text() == "Wartende Fälle: 1"
    row = page.locator(f'tr[data-case="{sub.case_id}"]')
    assert "Familienname: unsicher gelesen" in await row.inner_text()
    if shots:
        await page.screenshot(path=str(SCREENSHOTS / f"{shots}-queue.png"), full_page=True)

    # one key opens the next case and claims it
    await page.keyboard.press("n")
    await page.wait_for_url(re.compile(r".*/cases/.*"))
    await page.wait_for_selector('.fw-case[data-ready="1"]')
    assert "Sie bearbeiten diesen Fall" in await page.locator('[data-testid="claimed-by-you"]').inner_text()
    while await _focused_field(page) != "family_name":  # other flagged fields first: Enter accepts them
        assert await _focused_field(page) is not None
        await page.keyboard.press("Enter")

    # the focused field's box is drawn where its bbox says, on the scan's pixels
    drawn = await page.evaluate("""() => {
        const box = document.querySelector('.fw-box--active');
        const img = box.parentElement.querySelector('img');
        const b = box.getBoundingClientRect(), i = img.getBoundingClientRect();
        // boxes are in page pixels (the page's dpi), whatever size the browser was sent
        const k = Number(box.parentElement.dataset.width) / i.width;
        return {name: box.dataset.box, x0: (b.left - i.left) * k, y0: (b.top - i.top) * k,
                x1: (b.right - i.left) * k, y1: (b.bottom - i.top) * k, natural: Number(box.parentElement.dataset.width),
                visible: b.top >= 0 && b.bottom <= window.innerHeight + 1 && b.width > 0};
    }""")
    assert drawn["name"] == "family_name"
    page_px = routed.content_keys and drawn["natural"]
    for got, want in zip((drawn["x0"], drawn["y0"], drawn["x1"], drawn["y1"]), machine.bbox):
        assert abs(got - want) <= 0.01 * page_px, (drawn, machine.bbox)
    assert drawn["visible"], "the viewer scrolls the focused field's box into view"
    if shots:
        await page.screenshot(path=str(SCREENSHOTS / f"{shots}-case.png"), full_page=False)

    # keyboard alone: typing replaces the selected value, Enter accepts, Ctrl+Enter submits
    await page.keyboard.type("Schulze-Brandt")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Control+Enter")
    await page.wait_for_url("**/queue**")
    assert "Entscheidung gespeichert" in await page.locator('[data-testid="flash"]').inner_text()

    final = await asyncio.wait_for(sub.handle.result(), 60)
    assert final.status == CaseStatus.COMPLETED
    assert final.contract_json()["fields"]["family_name"]["value"] == "Schulze-Brandt"
    assert final.fields["family_name"].value == machine.value  # the machine output is kept apart
    corrections = stack.cases.corrections_for(sub.case_id)
    assert [(c.field, c.machine_value, c.corrected_value, c.clerk) for c in corrections] == [
        ("family_name", machine.value, "Schulze-Brandt", "anna")]
    # the history shows who changed what
    await page.goto(stack.base_url + f"/cases/{sub.case_id}")
    history = await page.locator('[data-testid="history"]').inner_text()
    assert "Übernommen durch anna" in history and "Schulze-Brandt" in history
    assert await page.locator("#approve").count() == 0  # finished: read-only
    await page.context.close()


async def test_clerk_corrects_a_flagged_field_by_keyboard_and_the_case_completes(stack, chromium, scan):
    SCREENSHOTS.mkdir(exist_ok=True)
    await _walk_through(stack, chromium, scan, shots="review")


async def test_the_same_walk_through_on_postgresql(temporal_env, engines, tmp_path, chromium, scan):
    with private_schema("ui") as url:
        async with running_stack(temporal_env.client, tmp_path, database_url=url, engines=engines) as s:
            assert s.cases.engine.dialect.name == "postgresql"
            s.add_user("anna", "clerk", display_name="Anna Berg")
            await _walk_through(s, chromium, scan, shots=None)


async def test_a_second_clerk_sees_a_claimed_case_read_only_and_cannot_submit(stack, chromium, scan):
    sub = await stack.submit(scan)
    await _routed(sub)
    anna = await login(chromium, stack, "anna")
    await _open_case(anna, stack, sub.case_id)
    ben = await login(chromium, stack, "ben")
    await ben.goto(stack.base_url + "/queue")
    assert await ben.locator(f'tr[data-case="{sub.case_id}"] [data-testid="holder"]').inner_text() == "anna"
    await _open_case(ben, stack, sub.case_id)
    assert "Anna Berg" in await ben.locator('[data-testid="claimed-by-other"]').inner_text()
    assert await ben.locator("#approve").count() == 0
    assert await ben.locator("#f-family_name").get_attribute("readonly") is not None
    # forging the submit from ben's session: the workflow's validator refuses it
    csrf = await ben.locator('meta[name="csrf-token"]').get_attribute("content")
    resp = await ben.request.post(stack.base_url + f"/cases/{sub.case_id}/approve",
                                  form={"csrf_token": csrf, "f.family_name": "Ben war hier"})
    assert resp.ok  # redirected back to the case with the refusal
    assert "bereits von anna bearbeitet" in await resp.text()
    state = stack.cases.get(sub.case_id)
    assert state.status == CaseStatus.NEEDS_REVIEW and state.claimed_by == "anna"
    assert stack.cases.corrections_for(sub.case_id) == []
    await anna.context.close()
    await ben.context.close()


async def test_an_expired_claim_returns_the_case_to_the_queue(stack, chromium, scan):
    sub = await stack.submit(scan, claim_idle_minutes=0.05)  # 3 s idle
    await _routed(sub)
    anna = await login(chromium, stack, "anna")
    await _open_case(anna, stack, sub.case_id)
    assert stack.cases.get(sub.case_id).claimed_by == "anna"
    for _ in range(100):  # the workflow's timer expires the claim (anna does nothing)
        if stack.cases.get(sub.case_id).claimed_by is None:
            break
        await asyncio.sleep(0.2)
    state = stack.cases.get(sub.case_id)
    assert state.claimed_by is None and state.events[-1].kind == "claim_expired"
    ben = await login(chromium, stack, "ben")
    assert await ben.locator(f'tr[data-case="{sub.case_id}"] [data-testid="holder"]').inner_text() == "frei"
    await ben.keyboard.press("n")
    await ben.wait_for_selector('.fw-case[data-ready="1"]')
    assert stack.cases.get(sub.case_id).claimed_by == "ben"
    await anna.context.close()
    await ben.context.close()


async def test_four_eyes_needs_a_second_clerk(stack, chromium, scan):
    sub = await stack.submit(scan, policy=ONE_FLAGGED.model_copy(update={"four_eyes": True}))
    routed = await _routed(sub)
    assert "four_eyes" in routed.review_reasons
    anna = await login(chromium, stack, "anna")
    await _open_case(anna, stack, sub.case_id)
    await anna.locator("#f-family_name").focus()
    await anna.keyboard.type("Vogelsang")
    await anna.keyboard.press("Control+Enter")
    await anna.wait_for_url("**/queue**")
    state = stack.cases.get(sub.case_id)
    assert state.status == CaseStatus.NEEDS_REVIEW and state.pending_approval.clerk == "anna"
    # anna cannot confirm her own approval: no button, and a forged request is refused
    await anna.goto(stack.base_url + f"/cases/{sub.case_id}")
    assert "Sie haben diesen Fall freigegeben" in await anna.locator('[data-testid="pending-approval"]').inner_text()
    assert await anna.locator("#approve").count() == 0
    csrf = await anna.locator('meta[name="csrf-token"]').get_attribute("content")
    resp = await anna.request.post(stack.base_url + f"/cases/{sub.case_id}/approve", form={"csrf_token": csrf})
    assert "eigene Freigabe" in await resp.text()
    assert stack.cases.get(sub.case_id).status == CaseStatus.NEEDS_REVIEW

    ben = await login(chromium, stack, "ben")
    await _open_case(ben, stack, sub.case_id)
    assert "Freigegeben von anna" in await ben.locator('[data-testid="pending-approval"]').inner_text()
    assert await ben.locator("#f-family_name").input_value() != "Vogelsang"  # the machine value is shown
    await ben.keyboard.press("Control+Enter")
    await ben.wait_for_url("**/queue**")
    final = await asyncio.wait_for(sub.handle.result(), 60)
    assert final.status == CaseStatus.COMPLETED and final.reviewed_by == "ben"
    assert final.contract_json()["fields"]["family_name"]["value"] == "Vogelsang"
    assert [(c.field, c.clerk) for c in stack.cases.corrections_for(sub.case_id)] == [("family_name", "anna")]
    await anna.context.close()
    await ben.context.close()


async def test_reclassify_re_extracts_for_the_new_type(stack, chromium, scan):
    sub = await stack.submit(scan)
    routed = await _routed(sub)
    assert routed.document_type == "gewerbeanmeldung" and "activity" in routed.fields
    anna = await login(chromium, stack, "anna")
    await _open_case(anna, stack, sub.case_id)
    await anna.locator("summary", has_text="Dokumenttyp ändern").click()
    await anna.select_option("#rc-type", "kindergeld_kg1")
    await anna.click("#reclassify")
    await anna.wait_for_selector('.fw-case[data-ready="1"]')
    assert "Antrag auf Kindergeld" in await anna.locator('[data-testid="doc-type"]').inner_text()
    state = stack.cases.get(sub.case_id)
    assert state.document_type == "kindergeld_kg1" and state.status == CaseStatus.NEEDS_REVIEW
    assert "children" in state.fields and "activity" not in state.fields  # the new type's fields
    assert await anna.locator('[data-testid="field-children"]').count() == 1
    assert [(c.field, c.machine_value, c.corrected_value) for c in stack.cases.corrections_for(sub.case_id)] == [
        ("document_type", "gewerbeanmeldung", "kindergeld_kg1")]
    await anna.context.close()


async def test_requested_documents_uploaded_through_the_ui_resume_the_review(stack, chromium, scan, tmp_path):
    sub = await stack.submit(scan)
    await _routed(sub)
    anna = await login(chromium, stack, "anna")
    await _open_case(anna, stack, sub.case_id)
    await anna.locator("summary", has_text="Unterlagen anfordern").click()
    await anna.fill("#rd-comment", "Bitte Personalausweis nachreichen.")
    await anna.click("#request-documents")
    await anna.wait_for_selector('[data-testid="awaiting-documents"]')
    state = stack.cases.get(sub.case_id)
    assert state.awaiting_documents and "documents_requested" in state.review_reasons
    attachment = tmp_path / "nachreichung.pdf"
    attachment.write_bytes(scan_bytes(seed=9, doc_type="invoice"))
    await anna.set_input_files("#at-file", str(attachment))
    await anna.click("#attach")
    await anna.wait_for_selector('[data-testid="attachments"]')
    assert "nachreichung.pdf" in await anna.locator('[data-testid="attachments"]').inner_text()
    assert await anna.locator('[data-testid="awaiting-documents"]').count() == 0
    state = stack.cases.get(sub.case_id)
    assert not state.awaiting_documents and state.status == CaseStatus.NEEDS_REVIEW
    assert state.attachments[0].page_count >= 1 and state.attachments[0].content_keys
    # the review goes on: the case can be decided now
    await _open_case(anna, stack, sub.case_id)
    await anna.keyboard.press("Control+Enter")
    await anna.wait_for_url("**/queue**")
    assert (await asyncio.wait_for(sub.handle.result(), 60)).status == CaseStatus.COMPLETED
    await anna.context.close()


async def test_a_wrong_csrf_token_and_a_wrong_role_are_refused(stack, chromium, scan):
    sub = await stack.submit(scan)
    await _routed(sub)
    anna = await login(chromium, stack, "anna")
    await _open_case(anna, stack, sub.case_id)
    # a state change without the session's token does nothing
    resp = await anna.request.post(stack.base_url + f"/cases/{sub.case_id}/reject",
                                   form={"csrf_token": "forged", "reason_code": "other"})
    assert resp.status == 403 and "Sicherheitsmerkmal" in await resp.text()
    resp = await anna.request.post(stack.base_url + f"/cases/{sub.case_id}/release", form={})
    assert resp.status == 403
    assert stack.cases.get(sub.case_id).claimed_by == "anna"
    # a clerk is not a supervisor: no escalation queue, no reassigning
    resp = await anna.request.get(stack.base_url + "/queue?escalated=1")
    assert resp.status == 403
    csrf = await anna.locator('meta[name="csrf-token"]').get_attribute("content")
    resp = await anna.request.post(stack.base_url + f"/cases/{sub.case_id}/reassign",
                                   form={"csrf_token": csrf, "assignee": "ben"})
    assert resp.status == 403
    assert stack.cases.get(sub.case_id).claimed_by == "anna"
    # the supervisor may
    sara = await login(chromium, stack, "sara")
    await sara.goto(stack.base_url + f"/cases/{sub.case_id}")
    await sara.select_option("#ra-user", "ben")
    await sara.click("#reassign")
    await sara.wait_for_selector('.fw-case[data-ready="1"]')
    assert stack.cases.get(sub.case_id).claimed_by == "ben"
    # without a session nothing is shown
    ctx = await chromium.new_context()
    resp = await ctx.request.get(stack.base_url + f"/cases/{sub.case_id}", max_redirects=0)
    assert resp.status == 303 and "/login" in resp.headers["location"]
    await ctx.close()
    await anna.context.close()
    await sara.context.close()


async def test_a_fresh_install_says_how_to_create_the_first_user(temporal_env, engines, tmp_path, chromium):
    async with running_stack(temporal_env.client, tmp_path, engines=engines) as s:
        ctx = await chromium.new_context()
        page = await ctx.new_page()
        await page.goto(s.base_url + "/queue")
        assert "/login" in page.url
        assert "formwerk user add" in await page.locator('[data-testid="no-users"]').inner_text()
        await page.fill("#username", "admin")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        assert "falsch" in await page.locator('[data-testid="login-error"]').inner_text()
        await ctx.close()


async def test_the_case_screen_is_labelled_german_and_works_at_200_percent(stack, chromium, scan):
    from api.i18n import MESSAGES

    sub = await stack.submit(scan)
    await _routed(sub)
    anna = await login(chromium, stack, "anna", viewport=(720, 450))  # 1440×900 at 200 %
    await _open_case(anna, stack, sub.case_id)
    SCREENSHOTS.mkdir(exist_ok=True)
    await anna.wait_for_function("document.querySelector('.fw-page img').complete")
    # the focused field is not hidden under the scan
    assert await anna.evaluate("""() => { const r = document.activeElement.getBoundingClientRect();
        const v = document.querySelector('.fw-viewer').getBoundingClientRect();
        return r.top >= v.bottom - 1 || r.bottom <= v.top + 1; }""")
    await anna.screenshot(path=str(SCREENSHOTS / "review-case-200pct.png"))
    await anna.locator("details#other-fields summary").click()
    unlabelled = await anna.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(el => el.type !== 'hidden')
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.name || el.id)""")
    assert unlabelled == []
    assert await anna.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
    body = await anna.locator("body").inner_text()
    english_only = {v for k, v in MESSAGES["en"].items()
                    if v != MESSAGES["de"][k] and "{" not in v and len(v) > 4}
    leaked = sorted(s for s in english_only if s in body)
    assert leaked == [], leaked
    assert "Tastenkürzel" in body and "Strg+Eingabe" in body
    # option buttons: typing a letter picks the option it starts with, Esc restores the machine's
    machine_choice = await anna.evaluate(
        "document.querySelector('input[name=\"f.sideline\"]').dataset.machine")
    await anna.locator('input[name="f.sideline"]:checked').focus()
    letter = "n" if machine_choice == "true" else "j"
    await anna.keyboard.press(letter)
    picked = await anna.evaluate("document.querySelector('input[name=\"f.sideline\"]:checked').value")
    assert picked == ("false" if machine_choice == "true" else "true")
    await anna.keyboard.press("Escape")
    assert await anna.evaluate(
        "document.querySelector('input[name=\"f.sideline\"]:checked').value") == machine_choice
    # an invalid correction is shown at once, announced, before submitting
    await anna.locator("#f-birth_date").focus()
    await anna.keyboard.type("31.02.1990")
    msg = anna.locator("#v-birth_date")
    await msg.wait_for(state="visible")
    assert await msg.get_attribute("aria-live") == "polite" and await msg.inner_text()
    await anna.keyboard.press("Control+Enter")
    await asyncio.sleep(0.5)
    assert "/cases/" in anna.url  # not submitted
    assert stack.cases.get(sub.case_id).status == CaseStatus.NEEDS_REVIEW
    # English per user
    await anna.locator("button", has_text="English").click()
    await anna.wait_for_selector('.fw-case[data-ready="1"]')
    assert "Keyboard shortcuts" in await anna.locator("body").inner_text()
    await anna.context.close()


async def test_sla_escalation_reaches_the_supervisors_queue(time_skipping_env, engines, tmp_path, chromium, scan):
    async with running_stack(time_skipping_env.client, tmp_path, engines=engines) as s:
        s.add_user("anna", "clerk")
        s.add_user("sara", "supervisor")
        sub = await s.submit(scan)
        await _routed(sub)
        assert not s.cases.get(sub.case_id).escalated
        await time_skipping_env.sleep(timedelta(hours=49))  # past the 48 h SLA
        for _ in range(50):
            if s.cases.get(sub.case_id).escalated:
                break
            await asyncio.sleep(0.1)
        state = s.cases.get(sub.case_id)
        assert state.escalated and any(e.kind == "escalated" for e in state.events)
        sara = await login(chromium, s, "sara")
        await sara.goto(s.base_url + "/queue?escalated=1")
        row = sara.locator(f'tr[data-case="{sub.case_id}"]')
        assert "eskaliert" in await row.inner_text()
        await sara.context.close()
