"""The web app: the clerks' review screens now, the REST API and the dashboard next.

One FastAPI app, one login: ``create_app(settings)`` wires the stores, the
catalogue and a Temporal client (connected on first use, or handed in by the
caller) into ``app.state.formwerk``; routers read it from there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from api.i18n import DEFAULT_LANGUAGE, Translator
from api.security import CsrfFailed, Forbidden, LoginRequired, csrf_token
from forms.catalogue import Catalogue, load_catalogue
from formwerk.fieldcal_store import ActiveCalibration, CalibrationStore
from formwerk.db import CaseStore
from formwerk.pagerender import RenderedPages
from formwerk.settings import Settings
from formwerk.storage import BlobStore
from formwerk.users import UserStore

HERE = Path(__file__).resolve().parent
log = logging.getLogger("formwerk.api")


@dataclass
class AppState:
    settings: Settings
    cases: CaseStore
    users: UserStore
    blobs: BlobStore
    catalogue: Catalogue
    calibration: ActiveCalibration | None = None  # the active field calibration (formwerk.fieldcal)
    client: object | None = None  # temporalio Client
    # page images as the browser shows them (scaled JPEG), by original image key
    display_images: dict = field(default_factory=dict)
    rendered_pages: RenderedPages = field(default_factory=RenderedPages)  # text-layer pages, on demand
    _connecting: asyncio.Lock = field(default_factory=asyncio.Lock)

    def policies(self) -> dict:
        """Each form's routing policy, with the active field calibration's thresholds."""
        base = {f.id: f.policy for f in self.catalogue}
        return self.calibration.policies(base) if self.calibration is not None else base

    async def temporal(self):
        if self.client is None:
            async with self._connecting:
                if self.client is None:
                    from worker import connect

                    self.client = await connect(self.settings)
        return self.client


class CachedStatic(StaticFiles):
    """Static files the browser keeps for an hour: a case screen should not wait
    for the design system's stylesheet to be revalidated on every case."""

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=3600"
        return response


def templates() -> Jinja2Templates:
    tpl = Jinja2Templates(directory=str(HERE / "templates"))
    tpl.env.autoescape = True
    return tpl


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    t = Translator(user.language if user else request.session.get("lang", DEFAULT_LANGUAGE))
    flash = request.session.pop("flash", None)
    return request.app.state.templates.TemplateResponse(
        request, name, {"t": t, "user": user, "csrf": csrf_token(request), "flash": flash, **context},
        status_code=status_code,
    )


def create_app(settings: Settings | None = None, *, client=None, cases: CaseStore | None = None,
               users: UserStore | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.ensure_dirs()
    engine_url = settings.sqlalchemy_url
    cases = cases or CaseStore.from_url(engine_url)
    state = AppState(
        settings=settings,
        cases=cases,
        users=users or UserStore(cases.engine),
        blobs=BlobStore.from_settings(settings),
        catalogue=load_catalogue(),
        calibration=ActiveCalibration(CalibrationStore(cases.engine)),
        client=client,
    )
    app = FastAPI(title="Formwerk", version="0.1.0", docs_url="/docs", openapi_url="/openapi.json")
    app.state.formwerk = state
    app.state.templates = templates()
    app.add_middleware(
        SessionMiddleware, secret_key=settings.session_secret(), session_cookie="formwerk_session",
        max_age=int(settings.session_hours * 3600), same_site="lax", https_only=settings.secure_cookies,
    )
    static = HERE / "static"
    app.mount("/static", CachedStatic(directory=str(static)), name="static")

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):
        if request.url.path.startswith("/api/") or request.headers.get("accept") == "application/json":
            return HTMLResponse("login required", status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return render(request, "error.html", status_code=403, message_key="error.forbidden")

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed):
        log.warning("CSRF check failed: %s %s from %s", request.method, request.url.path,
                    request.client.host if request.client else "?")
        return render(request, "error.html", status_code=403, message_key="error.csrf")

    from api import dashboard, ui

    app.include_router(ui.router, include_in_schema=False)  # the clerks' pages are not the API

    from api import rest

    rest.install(app)  # /api/v1: router, problem+json errors, request size limit
    app.include_router(dashboard.router)  # /dashboard, /dashboard.json, /metrics
    from api import codec

    app.include_router(codec.router, include_in_schema=False)  # /codec/*: the Temporal UI's payload codec

    # compile every template now: the first clerk of the day should not wait for it
    for name in app.state.templates.env.list_templates():
        app.state.templates.env.get_template(name)

    return app
