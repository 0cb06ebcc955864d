"""The REST API's parts without Temporal: problems, tokens, limits, signatures, the export, OpenAPI.

The app runs in-process (httpx over ASGI) on a real SQLite store; where a
handler would ask Temporal, a stand-in answers "not found".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api.problems import CATALOGUE, Problem, language
from api.rest_auth import RateLimiter
from formwerk.db import api_tokens, make_engine
from formwerk.models import CaseResult, CaseStatus, Correction, ExtractedField
from formwerk.settings import Settings
from formwerk.tokens import TokenStore
from formwerk.webhooks import AttemptOutcome, SubscriberStore, message_body, same_origin, signed_headers
from formwerk import xgewerbe
from tests.webapp import NoTemporal as _NoTemporal

SHARED_XGA = Path(__file__).resolve().parents[2] / "shared" / "data" / "xgewerbeanzeige" / "beispiele"


# -- problems ---------------------------------------------------------------


def test_accept_language_picks_german_or_english_with_q_values():
    assert language(None) == "de"
    assert language("en-GB,en;q=0.9") == "en"
    assert language("fr-FR, en;q=0.5, de;q=0.8") == "de"
    assert language("fr") == "de"
    assert language("de;q=0.1, en;q=0.2") == "en"


def test_every_problem_has_both_languages_with_the_same_placeholders():
    import string

    for code, (status, texts) in CATALOGUE.items():
        assert 400 <= status < 600, code
        assert set(texts) == {"de", "en"}, code
        fields = [{f for _, f, _, _ in string.Formatter().parse(texts[lang][1]) if f} for lang in ("de", "en")]
        assert fields[0] == fields[1], code
    body = Problem("reference_conflict", reference="R-1", case_id="case-R-1").body("en", "/api/v1/cases")
    assert body["code"] == "reference_conflict" and body["status"] == 409
    assert body["type"] == "urn:formwerk:problem:reference_conflict" and "R-1" in body["detail"]
    with pytest.raises(KeyError):
        Problem("no_such_code")


# -- tokens -------------------------------------------------------------------


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'api.sqlite'}")


def test_a_token_is_shown_once_and_stored_only_as_a_hash(engine):
    store = TokenStore(engine)
    token, plain = store.create("fachverfahren", ["cases:read"])
    assert plain.startswith(f"fwk_{token.id}_")
    with engine.connect() as conn:
        row = dict(conn.execute(select(api_tokens)).mappings().one())
    secret = plain.rsplit("_", 1)[1]
    assert all(secret not in str(v) for v in row.values())  # nowhere in clear
    assert row["token_hash"] != plain and len(row["token_hash"]) == 64
    assert store.verify(plain).id == token.id
    assert store.verify(plain[:-1] + ("A" if plain[-1] != "A" else "B")) is None  # one character off
    assert store.verify("fwk_nonsense") is None
    assert store.verify(plain).allows("cases:read") and not store.verify(plain).allows("cases:submit")
    store.revoke("fachverfahren")
    assert store.verify(plain) is None
    assert store.list()[0].revoked_at is not None


def test_token_names_and_scopes_are_checked(engine):
    from formwerk.tokens import TokenError

    store = TokenStore(engine)
    with pytest.raises(TokenError):
        store.create("x", ["cases:write"])
    with pytest.raises(TokenError):
        store.create("x", [])
    store.create("x", ["admin"])
    with pytest.raises(TokenError):
        store.create("x", ["cases:read"])
    admin = store.list()[0]
    assert admin.allows("documents:read") and admin.allows("cases:submit")


def test_rate_limiter_allows_a_burst_then_asks_to_wait_then_refills():
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.take("t", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("t", now=100.0)
    assert 0.9 <= wait <= 1.0
    assert limiter.take("other", now=100.0) == 0.0  # per token
    assert limiter.take("t", now=101.1) == 0.0  # one second refills one request


# -- webhooks -----------------------------------------------------------------


def test_signed_headers_verify_with_the_standardwebhooks_library(engine):
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    subs = SubscriberStore(engine)
    sub = subs.add("fv", "https://fv.example/hook")
    case = CaseResult(case_id="case-A", reference="A", status=CaseStatus.REJECTED, reason="kaputt",
                      reason_code="corrupt_file", metadata={"vorgang": "1"})
    at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    body = message_body("case.rejected", case, at, "https://formwerk.example")
    assert body == message_body("case.rejected", case, at, "https://formwerk.example")  # same on every attempt
    headers = signed_headers(sub.signing_secrets(datetime.now(timezone.utc)), "msg_1", body)
    payload = Webhook(sub.secret).verify(body, headers)
    assert payload["type"] == "case.rejected" and payload["data"]["reason_code"] == "corrupt_file"
    assert payload["data"]["metadata"] == {"vorgang": "1"}
    assert payload["data"]["links"]["self"] == "https://formwerk.example/api/v1/cases/case-A"
    with pytest.raises(WebhookVerificationError):
        Webhook(sub.secret).verify(body + b" ", headers)

    # after a rotation both secrets sign for a day: the receiver may still hold the old one
    rotated = subs.rotate("fv")
    secrets_now = rotated.signing_secrets(datetime.now(timezone.utc))
    assert secrets_now == [rotated.secret, sub.secret]
    headers = signed_headers(secrets_now, "msg_2", body)
    assert len(headers["webhook-signature"].split()) == 2
    Webhook(sub.secret).verify(body, headers)
    Webhook(rotated.secret).verify(body, headers)
    assert rotated.signing_secrets(datetime.now(timezone.utc) + timedelta(days=2)) == [rotated.secret]


def test_which_answers_end_the_retries():
    assert AttemptOutcome(204, "", 1).delivered
    for code in (400, 401, 404, 410, 422):
        assert AttemptOutcome(code, "", 1).permanent, code
    for code in (408, 429, 500, 503, None):
        assert not AttemptOutcome(code, "", 1).permanent, code
    assert same_origin("https://fv.example/hook", "https://FV.example:443/other?x=1")
    assert not same_origin("https://fv.example/hook", "http://fv.example/hook")
    assert not same_origin("https://fv.example/hook", "https://fv.example.evil.test/hook")


# -- XGewerbeanzeige export ----------------------------------------------------


def _gewerbe_case(**overrides) -> CaseResult:
    values = {
        "registered_name": "Tibor Pick e.K.", "register_entry": "Amtsgericht Cottbus HRA 11111",
        "family_name": "Pick", "given_names": "Tibor", "sex": "male", "birth_name": "Rodríguez",
        "birth_date": "1965-10-12", "birth_place": "Santiago, Chile", "nationality": "german",
        "home_address": "Ewald-Hase-Str. 4, 03044 Cottbus", "phone": "0355 141455", "email": "t@pick.example",
        "business_address": "Spremberger Str. 90, 03046 Cottbus", "activity": "Friseur",
        "activity_start": "2016-08-01", "employees_full_time": 0, "employees_part_time": 2, "sideline": False,
        "business_kind": "craft", "establishment_kind": "main_branch", "reason": "new_business",
        "signature_date": "2016-07-02",
    }
    values.update(overrides)
    fields = {k: ExtractedField(name=k, value=v, confidence=0.99) for k, v in values.items()}
    return CaseResult(case_id="case-GA-1", reference="GA-1", status=CaseStatus.COMPLETED,
                      document_type="gewerbeanmeldung", fields=fields,
                      routed_at=datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc))


def test_the_export_validates_and_carries_the_delivered_values():
    case = _gewerbe_case()
    case.corrections = [Correction(field="family_name", machine_value="Pick", corrected_value="Pick-Rodríguez",
                                   clerk="anna")]
    data = xgewerbe.build(case)
    assert xgewerbe.validate(data) == []
    text = data.decode("utf-8")
    assert "<xga:familienname>Pick-Rodríguez</xga:familienname>" in text  # the clerk's correction
    assert "<xga:geburtsdatum>12101965</xga:geburtsdatum>" in text
    assert "<xga:plz>03046</xga:plz>" in text and "<xga:hausNrVon>90</xga:hausNrVon>" in text
    assert re.search(r"<xga:handwerk>\s*<code>1</code>", text)
    assert re.search(r"<xga:grundAnmeldungSchluessel>\s*<code>01</code>", text)
    assert "<xga:eintragungNr>HRA 11111</xga:eintragungNr>" in text and "<xga:eintragungOrt>Cottbus<" in text


def test_the_schema_refuses_what_the_standard_would_refuse():
    data = xgewerbe.build(_gewerbe_case())
    broken = data.replace(b"<xga:plz>03046</xga:plz>", b"<xga:plz>3046</xga:plz>")
    assert xgewerbe.validate(broken)
    without = re.sub(rb"<xga:istKorrektur>.*?</xga:istKorrektur>", b"", data, flags=re.S)  # required
    assert xgewerbe.validate(without)
    a, b = re.search(rb"<xga:gueltigAb>.*?</xga:gueltigAb>", data), re.search(rb"<xga:datumMeldung>.*?</xga:datumMeldung>", data)
    swapped = data[:a.start()] + b.group(0) + data[a.end():b.start()] + a.group(0) + data[b.end():]
    assert xgewerbe.validate(swapped)  # order matters
    assert xgewerbe.validate(b"<not-xml")


def test_only_completed_gewerbeanmeldungen_are_exported():
    with pytest.raises(xgewerbe.ExportError):
        xgewerbe.build(_gewerbe_case().model_copy(update={"status": CaseStatus.NEEDS_REVIEW}))
    with pytest.raises(xgewerbe.ExportError):
        xgewerbe.build(_gewerbe_case().model_copy(update={"document_type": "kindergeld_kg1"}))
    with pytest.raises(xgewerbe.ExportError):
        xgewerbe.build(_gewerbe_case(family_name=None))
    sparse = _gewerbe_case(business_address=None, birth_date="not a date", sex=None, email="")
    assert xgewerbe.validate(xgewerbe.build(sparse)) == []


def test_addresses_split_into_street_number_postcode_and_town():
    assert xgewerbe.split_address("Hauptstraße 12a, 07743 Jena") == {
        "strasse": "Hauptstraße", "hausNrVon": "12a", "plz": "07743", "ort": "Jena"}
    assert xgewerbe.split_address("Am Markt 3-5, 12345 Bad Homburg v. d. Höhe")["hausNrVon"] == "3-5"
    assert xgewerbe.split_address("Straße des 17. Juni 100, 10623 Berlin")["strasse"] == "Straße des 17. Juni"
    assert xgewerbe.split_address(None) == {}


@pytest.mark.skipif(not (SHARED_XGA / "xgwa2.2-valid.xml").exists(), reason="../shared/data absent")
def test_the_export_has_the_structure_of_the_kosit_2_2_message():
    """Every element we write exists at the same path in the KoSIT message, siblings in its order."""
    ours = xgewerbe.element_paths(xgewerbe.build(_gewerbe_case()))
    theirs = xgewerbe.element_paths((SHARED_XGA / "xgwa2.2-valid.xml").read_bytes())
    position = {}
    for i, path in enumerate(theirs):
        position.setdefault(path, i)
    missing = sorted({p for p in ours if p not in position})
    assert missing == [], missing
    # siblings in the same order as the standard's example
    by_parent: dict[tuple, list[tuple]] = {}
    for p in ours:
        by_parent.setdefault(p[:-1], [])
        if p not in by_parent[p[:-1]]:
            by_parent[p[:-1]].append(p)
    for parent, children in by_parent.items():
        order = [position[c] for c in children]
        assert order == sorted(order), (parent, children)
    root_ns = re.search(rb'xmlns:xga="([^"]+)"', (SHARED_XGA / "xgwa2.2-valid.xml").read_bytes()).group(1)
    assert root_ns.decode() == xgewerbe.NS


# -- the app in-process --------------------------------------------------------



@pytest.fixture
def app(tmp_path):
    from api.app import create_app

    settings = Settings(data_dir=tmp_path, secret_key="t", api_rate_burst=5, api_rate_limit_per_minute=60,
                        api_max_request_bytes=50_000)
    return create_app(settings, client=_NoTemporal())


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://formwerk.test")


def _token(app, *scopes: str) -> str:
    return TokenStore(app.state.formwerk.cases.engine).create(f"t-{'-'.join(scopes)}-{len(scopes)}", list(scopes))[1]


async def test_requests_without_a_valid_token_or_scope_are_refused_as_problems(app):
    reader = _token(app, "cases:read")
    async with _client(app) as c:
        r = await c.get("/api/v1/cases")
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "unauthorized" and "Bearer" in r.headers["www-authenticate"]
        r = await c.get("/api/v1/cases", headers={"Authorization": "Bearer fwk_aaaaaaaaaaaa_" + "x" * 43})
        assert r.status_code == 401 and r.json()["code"] == "token_invalid"
        r = await c.post("/api/v1/cases", headers={"Authorization": f"Bearer {reader}", "Accept-Language": "en"},
                         files={"file": ("a.pdf", b"%PDF-1.4")})
        assert r.status_code == 403 and r.json()["code"] == "insufficient_scope"
        assert "cases:submit" in r.json()["detail"] and r.headers["content-language"] == "en"
        r = await c.get("/api/v1/cases/case-nope", headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 404 and r.json()["code"] == "case_not_found"
        assert r.json()["detail"] == "Es gibt keinen Fall case-nope."  # German by default
        r = await c.get("/api/v1/cases?cursor=%%%", headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 422 and r.json()["code"] == "invalid_cursor"
        r = await c.get("/api/v1/cases?limit=0", headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 422 and r.json()["code"] == "validation_failed"
        r = await c.get("/api/v1/nothing-here", headers={"Authorization": f"Bearer {reader}"})
        assert r.status_code == 404 and r.json()["code"] == "not_found"


async def test_a_token_over_its_rate_gets_429_with_retry_after(app):
    token = _token(app, "cases:read")
    async with _client(app) as c:
        codes = [(await c.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})).status_code
                 for _ in range(6)]
        assert codes[:5] == [200] * 5 and codes[5] == 429
        r = await c.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
        assert r.json()["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1


async def test_a_request_over_the_size_limit_gets_413_declared_or_streamed(app):
    token = _token(app, "cases:submit")
    headers = {"Authorization": f"Bearer {token}"}
    async with _client(app) as c:
        r = await c.post("/api/v1/cases", headers=headers, files={"file": ("big.pdf", b"x" * 60_000)})
        assert r.status_code == 413 and r.json()["code"] == "request_too_large"

        body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
                b"Content-Type: application/pdf\r\n\r\n" + b"y" * 100_000 + b"\r\n--b--\r\n")

        async def chunks():  # no Content-Length: counted as it arrives
            for i in range(0, len(body), 10_000):
                yield body[i:i + 10_000]

        r = await c.post("/api/v1/cases", headers={**headers, "Content-Type": "multipart/form-data; boundary=b"},
                         content=chunks())
        assert r.status_code == 413 and r.json()["code"] == "request_too_large"


async def test_openapi_validates_and_every_api_operation_is_described_with_an_example(app):
    from openapi_spec_validator import validate

    async with _client(app) as c:
        spec = (await c.get("/openapi.json")).json()
        assert (await c.get("/docs")).status_code == 200
    validate(spec)
    ops = [(path, method, op) for path, item in spec["paths"].items() if path.startswith("/api/v1/")
           for method, op in item.items()]
    assert len(ops) >= 7
    for path, method, op in ops:
        assert op.get("summary") and len(op.get("description", "")) > 40, (path, method)
        examples = [m for r in op["responses"].values() for m in r.get("content", {}).values()
                    if "example" in m or m.get("examples")]
        assert examples, (path, method)
        ok = [s for s in op["responses"] if s.startswith("2")]
        assert any("example" in m or m.get("examples") for s in ok
                   for m in op["responses"][s].get("content", {}).values()), (path, method)
        assert any(str(s).startswith("4") for s in op["responses"]), (path, method)
    assert not any(p in spec["paths"] for p in ("/queue", "/login", "/cases/{case_id}"))  # the clerks' pages
