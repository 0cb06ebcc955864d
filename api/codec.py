"""The codec endpoint for the Temporal web UI: ``POST /codec/encode`` and ``/codec/decode``.

Temporal stores Formwerk's payloads encrypted (formwerk.codec); the UI sends
them here to be shown. The protocol is Temporal's remote codec: a JSON body
``{"payloads": [{"metadata": {name: base64}, "data": base64}]}`` in, the
same shape out. Only signed-in supervisors and admins (session cookie; the
UI must send cross-origin credentials) or an API token with the ``admin``
scope (``Authorization: Bearer``, e.g. ``temporal workflow show
--codec-endpoint ... --codec-auth "Bearer fwk_..."``) may use it: decoding
shows applicants' data, so every call is recorded in the audit log.
Browsers may call it from the origins in ``FORMWERK_CODEC_CORS_ORIGINS``
(default: the embedded Temporal UI).
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from temporalio.api.common.v1 import Payload

from api.audit import record
from api.security import SUPERVISOR_ROLES, LoginRequired, current_user
from formwerk.codec import EncryptionCodec
from formwerk.crypto import Keyring, KeyringError

router = APIRouter(prefix="/codec")

MAX_PAYLOADS = 10_000


def _origins(settings) -> set[str]:
    if settings.codec_cors_origins.strip():
        return {o.strip().rstrip("/") for o in settings.codec_cors_origins.split(",") if o.strip()}
    port = settings.temporal_ui_port
    return {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}


def _cors(request: Request, response: Response) -> Response:
    origin = request.headers.get("origin", "").rstrip("/")
    if origin and origin in _origins(request.app.state.formwerk.settings):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Namespace, Authorization"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"
    return response


def _codec(request: Request) -> EncryptionCodec:
    app = request.app
    codec = getattr(app.state, "formwerk_codec", None)
    if codec is None:
        codec = EncryptionCodec(Keyring.from_settings(app.state.formwerk.settings))
        app.state.formwerk_codec = codec
    return codec


def _who(request: Request) -> tuple[str | None, int]:
    """(actor, 0) when allowed, else (None, 401 or 403)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        from formwerk.tokens import TokenStore

        token = TokenStore(request.app.state.formwerk.cases.engine).verify(auth[7:].strip())
        if token is None:
            return None, 401
        return (f"token:{token.name}", 0) if "admin" in token.scopes else (None, 403)
    try:
        user = current_user(request)
    except LoginRequired:
        return None, 401
    return (user.username, 0) if user.role in SUPERVISOR_ROLES else (None, 403)


def _payloads(body) -> list[Payload]:
    items = body.get("payloads") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) > MAX_PAYLOADS:
        raise ValueError("expected {\"payloads\": [...]}")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("a payload must be an object")
        meta = item.get("metadata") or {}
        if not isinstance(meta, dict):
            raise ValueError("metadata must be an object")
        out.append(Payload(metadata={str(k): base64.b64decode(v, validate=True) for k, v in meta.items()},
                           data=base64.b64decode(item.get("data") or "", validate=True)))
    return out


def _json(payloads: list[Payload]) -> dict:
    return {"payloads": [{"metadata": {k: base64.b64encode(v).decode("ascii") for k, v in p.metadata.items()},
                          "data": base64.b64encode(p.data).decode("ascii")} for p in payloads]}


@router.options("/{operation}")
async def preflight(request: Request, operation: str):
    return _cors(request, Response(status_code=204))


@router.post("/{operation}")
async def transcode(request: Request, operation: str):
    if operation not in ("encode", "decode"):
        return _cors(request, JSONResponse({"error": "use /codec/encode or /codec/decode"}, status_code=404))
    actor, status = _who(request)
    if actor is None:
        message = "sign in as a supervisor or admin" if status == 401 else "supervisors and admins only"
        return _cors(request, JSONResponse({"error": message}, status_code=status))
    try:
        payloads = _payloads(await request.json())
    except (ValueError, binascii.Error, TypeError):
        return _cors(request, JSONResponse({"error": "body: {\"payloads\": [{\"metadata\": {...}, "
                                                     "\"data\": base64}]}"}, status_code=400))
    codec = _codec(request)
    try:
        result = await (codec.encode(payloads) if operation == "encode" else codec.decode(payloads))
    except KeyringError as exc:
        return _cors(request, JSONResponse({"error": str(exc)}, status_code=422))
    if operation == "decode":
        await record(request, actor, "temporal.decode", None, payloads=len(payloads),
                     namespace=request.headers.get("x-namespace", ""))
    return _cors(request, JSONResponse(_json(result)))
