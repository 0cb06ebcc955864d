"""RFC 9457 problem details for the REST API (``application/problem+json``).

Every error the API answers carries a machine ``code`` (stable, documented),
the HTTP ``status``, a short ``title`` and a ``detail`` sentence in German or
English, chosen by the request's ``Accept-Language`` (German by default).
``type`` is ``urn:formwerk:problem:<code>``. Extra members (e.g. ``case_id``
of a conflicting case) are added beside them.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

MEDIA_TYPE = "application/problem+json"

#: code -> (status, {lang: (title, detail)}); details may hold {placeholders}
CATALOGUE: dict[str, tuple[int, dict[str, tuple[str, str]]]] = {
    "unauthorized": (401, {
        "de": ("Anmeldung erforderlich", "Es fehlt ein gültiges API-Token (Authorization: Bearer …)."),
        "en": ("Authentication required", "A valid API token is missing (Authorization: Bearer …)."),
    }),
    "token_invalid": (401, {
        "de": ("Token ungültig", "Das API-Token ist unbekannt oder wurde widerrufen."),
        "en": ("Invalid token", "The API token is unknown or has been revoked."),
    }),
    "insufficient_scope": (403, {
        "de": ("Berechtigung fehlt", "Dem API-Token fehlt die Berechtigung „{scope}“."),
        "en": ("Missing permission", "The API token lacks the scope '{scope}'."),
    }),
    "rate_limited": (429, {
        "de": ("Zu viele Anfragen", "Zu viele Anfragen mit diesem Token. Bitte nach {retry_after} s erneut versuchen."),
        "en": ("Too many requests", "Too many requests with this token. Please retry after {retry_after} s."),
    }),
    "request_too_large": (413, {
        "de": ("Anfrage zu groß", "Die Anfrage ist größer als erlaubt (höchstens {limit} Bytes)."),
        "en": ("Request too large", "The request is larger than allowed (at most {limit} bytes)."),
    }),
    "case_not_found": (404, {
        "de": ("Fall nicht gefunden", "Es gibt keinen Fall {case_id}."),
        "en": ("Case not found", "There is no case {case_id}."),
    }),
    "page_not_found": (404, {
        "de": ("Seite nicht gefunden", "Der Fall hat keine Seite {page}."),
        "en": ("Page not found", "The case has no page {page}."),
    }),
    "original_purged": (410, {
        "de": ("Original gelöscht",
               "Das Original des Falls {case_id} wurde am {purged_on} gemäß Aufbewahrungsfrist gelöscht "
               "(mit Seitenbildern und OCR-Inhalten)."),
        "en": ("Original deleted",
               "The original of case {case_id} was deleted on {purged_on} under the retention period "
               "(with its page images and OCR contents)."),
    }),
    "reference_conflict": (409, {
        "de": ("Aktenzeichen bereits vergeben",
               "Unter dem Aktenzeichen „{reference}“ läuft bereits der Fall {case_id} mit einer anderen Datei. "
               "Die neue Datei wurde nicht übernommen; bitte ein neues Aktenzeichen verwenden."),
        "en": ("Reference already in use",
               "The reference '{reference}' already names case {case_id}, started with a different file. "
               "The new file was not taken; please use a new reference."),
    }),
    "idempotency_key_reused": (422, {
        "de": ("Idempotency-Key wiederverwendet",
               "Der Idempotency-Key wurde schon für eine andere Anfrage verwendet."),
        "en": ("Idempotency key reused", "The Idempotency-Key was already used for a different request."),
    }),
    "idempotency_in_progress": (409, {
        "de": ("Anfrage läuft noch", "Eine Anfrage mit diesem Idempotency-Key wird gerade bearbeitet. "
                                     "Bitte gleich erneut versuchen."),
        "en": ("Request in progress", "A request with this Idempotency-Key is being processed. Please retry shortly."),
    }),
    "file_missing": (422, {
        "de": ("Datei fehlt", "Die Anfrage enthält keine (oder eine leere) Datei im Feld „file“."),
        "en": ("File missing", "The request holds no (or an empty) file in the field 'file'."),
    }),
    "file_too_large": (413, {
        "de": ("Datei zu groß", "Die Datei „{filename}“ ist größer als erlaubt (höchstens {limit} Bytes)."),
        "en": ("File too large", "The file '{filename}' is larger than allowed (at most {limit} bytes)."),
    }),
    "unknown_document_type": (422, {
        "de": ("Unbekannter Dokumenttyp", "„{document_type}“ ist kein Dokumenttyp des Katalogs ({known})."),
        "en": ("Unknown document type", "'{document_type}' is not a document type of the catalogue ({known})."),
    }),
    "invalid_metadata": (422, {
        "de": ("Metadaten ungültig", "Die Metadaten müssen ein JSON-Objekt mit Texten sein ({reason})."),
        "en": ("Invalid metadata", "The metadata must be a JSON object of strings ({reason})."),
    }),
    "callback_not_allowed": (422, {
        "de": ("Rückruf-URL nicht erlaubt", "{reason}"),
        "en": ("Callback URL not allowed", "{reason}"),
    }),
    "invalid_cursor": (422, {
        "de": ("Cursor ungültig", "Der Cursor ist ungültig; bitte mit der ersten Seite beginnen."),
        "en": ("Invalid cursor", "The cursor is invalid; please start from the first page."),
    }),
    "case_processing": (409, {
        "de": ("Fall in Bearbeitung", "Der Fall {case_id} wird noch maschinell gelesen; bitte später abrufen "
                                      "(oder GET /api/v1/cases/{case_id}?wait=30)."),
        "en": ("Case still processing", "Case {case_id} is still being read; please fetch it later "
                                        "(or GET /api/v1/cases/{case_id}?wait=30)."),
    }),
    "export_not_available": (409, {
        "de": ("Export nicht verfügbar", "{reason}"),
        "en": ("Export not available", "{reason}"),
    }),
    "review_refused": (409, {
        "de": ("Nicht angenommen", "{reason}"),
        "en": ("Not accepted", "{reason}"),
    }),
    "temporal_unavailable": (503, {
        "de": ("Vorübergehend nicht erreichbar", "Die Fallbearbeitung ist gerade nicht erreichbar. "
                                                 "Bitte später erneut versuchen."),
        "en": ("Temporarily unavailable", "Case processing cannot be reached right now. Please retry later."),
    }),
    "validation_failed": (422, {
        "de": ("Anfrage ungültig", "Die Anfrage ist ungültig: {errors}"),
        "en": ("Invalid request", "The request is invalid: {errors}"),
    }),
    "not_found": (404, {
        "de": ("Nicht gefunden", "Diese Adresse gibt es in der API nicht."),
        "en": ("Not found", "This address does not exist in the API."),
    }),
    "method_not_allowed": (405, {
        "de": ("Methode nicht erlaubt", "Diese Methode ist für diese Adresse nicht erlaubt."),
        "en": ("Method not allowed", "This method is not allowed for this address."),
    }),
    "http_error": (400, {
        "de": ("Fehler", "Die Anfrage konnte nicht bearbeitet werden (HTTP {http_status})."),
        "en": ("Error", "The request could not be processed (HTTP {http_status})."),
    }),
}


def language(accept_language: str | None) -> str:
    """'de' or 'en' from an Accept-Language header (q-values honoured; German by default)."""
    best, best_q = "de", -1.0
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("de", "en") and q > best_q:
            best, best_q = primary, q
    return best


class Problem(Exception):
    """Raise anywhere in the API: rendered as problem+json in the caller's language."""

    def __init__(self, code: str, *, status: int | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None, **values: Any) -> None:
        super().__init__(code)
        if code not in CATALOGUE:
            raise KeyError(f"problem code {code!r} is not in the catalogue")
        self.code = code
        self.status = status or CATALOGUE[code][0]
        self.headers = headers or {}
        self.values = values
        self.extra = extra or {}

    def body(self, lang: str, instance: str = "") -> dict[str, Any]:
        title, detail = CATALOGUE[self.code][1][lang]
        body: dict[str, Any] = {
            "type": f"urn:formwerk:problem:{self.code}",
            "title": title,
            "status": self.status,
            "detail": detail.format(**self.values),
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def original_purged(case) -> Problem:
    """410 Gone for a case whose original went under the retention period (``case.purged_originals_at``)."""
    at = case.purged_originals_at
    return Problem("original_purged", case_id=case.case_id, purged_on=at.date().isoformat(),
                   extra={"case_id": case.case_id, "purged_originals_at": at.isoformat()})


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    lang = language(request.headers.get("accept-language"))
    return JSONResponse(problem.body(lang, request.url.path), status_code=problem.status,
                        media_type=MEDIA_TYPE, headers={**problem.headers, "Content-Language": lang})


def example(code: str, lang: str = "de", **values: Any) -> dict[str, Any]:
    """A documented example of a problem (for the OpenAPI ``responses``)."""
    return Problem(code, **values).body(lang)


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "urn:formwerk:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "German or English, by Accept-Language"},
        "code": {"type": "string", "description": "stable machine code", "enum": sorted(CATALOGUE)},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


def responses(*codes: str, **values: Any) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries (problem+json with an example) for the given codes."""
    out: dict[int | str, dict[str, Any]] = {}
    defaults = dict(scope="cases:read", retry_after=3, limit=209780736, case_id="case-FV-2026-0042",
                    page=3, reference="FV-2026-0042", filename="antrag.pdf", document_type="meldeschein",
                    known="gewerbeanmeldung, …", reason="…", errors="file: Field required", http_status=400)
    defaults.update(values)
    for code in codes:
        status = CATALOGUE[code][0]
        entry = out.setdefault(status, {"description": "", "content": {MEDIA_TYPE: {
            "schema": PROBLEM_SCHEMA, "examples": {}}}})
        entry["description"] = (entry["description"] + " / " if entry["description"] else "") + \
            CATALOGUE[code][1]["en"][0]
        entry["content"][MEDIA_TYPE]["examples"][code] = {"summary": CATALOGUE[code][1]["en"][0],
                                                          "value": example(code, "de", **defaults)}
    return out


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def install(app, fallback_http, fallback_validation) -> None:
    """Exception handlers: problem+json under /api/, the app's usual answers elsewhere."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if not _is_api(request):
            return await fallback_http(request, exc)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem_response(request, Problem(code, status=exc.status_code, headers=dict(exc.headers or {}),
                                                 http_status=exc.status_code))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if not _is_api(request):
            return await fallback_validation(request, exc)
        errors = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()) if x != 'body')}: {e.get('msg', '')}"
                           for e in exc.errors())
        return problem_response(request, Problem("validation_failed", errors=errors,
                                                 extra={"errors": jsonable(exc.errors())}))


def jsonable(errors) -> list[dict[str, Any]]:
    return [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors]
