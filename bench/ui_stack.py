"""The real stack for the browser tests and the review benchmark (bench.review_ui).

A Temporal server (handed in), a worker with the real engines (Tesseract,
the trained classifier, the catalogue extractor), the web app served by
uvicorn on a free port, and Debian's chromium driven by playwright (never
``playwright install``).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from formwerk.db import CaseStore
from formwerk.intake import Submission, submit
from formwerk.models import RoutingPolicy
from formwerk.settings import Settings
from formwerk.storage import BlobStore
from formwerk.users import UserStore
from workflows.activities import CaseActivities

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "ein-langes-passwort"

#: a Gewerbe-Anmeldung whose family name always needs a look (and nothing else):
#: the real OCR and extraction run, the policy makes the review deterministic
ONE_FLAGGED = RoutingPolicy(min_type_confidence=0.0, min_field_confidence=0.0,
                            field_thresholds={"family_name": 1.01}, required_fields=[],
                            review_sla_hours=48)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scan_bytes(seed: int = 5, doc_type: str = "gewerbeanmeldung") -> bytes:
    """An image-only PDF: a generated form, printed and scanned (real OCR needed)."""
    from bench.synth import render_document
    from bench.synth.scan import scan_document

    return scan_document(render_document(doc_type, seed=seed), "office_300", seed)


@dataclass
class Stack:
    settings: Settings
    client: object
    cases: CaseStore
    users: UserStore
    blobs: BlobStore
    base_url: str
    queues: tuple[str, str]

    async def submit(self, data: bytes, reference: str | None = None, *, policy: RoutingPolicy = ONE_FLAGGED,
                     claim_idle_minutes: float = 15.0, doc_type: str = "gewerbeanmeldung") -> Submission:
        from formwerk.intake import policies_from_catalogue

        policies = {**policies_from_catalogue(), doc_type: policy}
        return await submit(self.client, self.blobs, data, filename="scan.pdf",
                            reference=reference or f"T-{uuid.uuid4().hex[:10]}",
                            task_queue=self.queues[0], ocr_task_queue=self.queues[1], policies=policies,
                            claim_idle_minutes=claim_idle_minutes)

    def add_user(self, username: str, role: str = "clerk", display_name: str = "", language: str = "de"):
        return self.users.add(username, PASSWORD, role=role, display_name=display_name or username.title(),
                              language=language)


def engines_activities(settings: Settings) -> CaseActivities:
    from worker import build_activities

    return build_activities(settings)


def with_stores(base: CaseActivities, blobs: BlobStore, cases: CaseStore) -> CaseActivities:
    """The same engines (loaded once) writing to another stack's stores."""
    return CaseActivities(blobs=blobs, cases=cases, ocr=base.ocr, classifier=base.classifier,
                          extractor=base.extractor, known_types=base.known_types, options=base.options)


@asynccontextmanager
async def running_stack(client, data_dir: Path, database_url: str = "", engines: CaseActivities | None = None,
                        claim_idle_minutes: float = 15.0):
    import uvicorn

    from api.app import create_app
    from worker import make_workers

    tag = uuid.uuid4().hex[:8]
    queues = (f"ui-cases-{tag}", f"ui-ocr-{tag}")
    port = free_port()
    settings = Settings(data_dir=data_dir, database_url=database_url, api_port=port,
                        task_queue=queues[0], ocr_task_queue=queues[1], secret_key="test-" + tag,
                        claim_idle_minutes=claim_idle_minutes)
    settings.ensure_dirs()
    cases = CaseStore.from_url(settings.sqlalchemy_url)
    blobs = BlobStore.from_settings(settings)
    users = UserStore(cases.engine)
    engines = engines or engines_activities(settings)
    acts = with_stores(engines, blobs, cases)
    app = create_app(settings, client=client, cases=cases, users=users)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serve = asyncio.create_task(server.serve())
    for _ in range(100):
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        async with make_workers(client, acts, queues[0], queues[1], ocr_slots=2, case_slots=settings.case_slots,
                                ocr_nice=settings.ocr_nice):
            yield Stack(settings=settings, client=client, cases=cases, users=users, blobs=blobs,
                        base_url=f"http://127.0.0.1:{port}", queues=queues)
    finally:
        server.should_exit = True
        await serve


@asynccontextmanager
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


async def login(browser, stack: Stack, username: str, viewport=(1440, 900)):
    """A fresh browser context signed in as ``username``; returns its page."""
    ctx = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="de-DE")
    page = await ctx.new_page()
    await page.goto(stack.base_url + "/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/queue**")
    return page
