"""Keyring, payload codec, blobs at rest, the codec endpoint (issue 14, personal data)."""

from __future__ import annotations

import base64
import logging
import stat
import subprocess

import pytest
from fastapi.testclient import TestClient
from temporalio.api.common.v1 import Payload
from temporalio.exceptions import ApplicationError

from formwerk.codec import ENCODING, KEY_ID, EncryptionCodec, converter_for, data_converter
from formwerk.crypto import Keyring, KeyringError, format_spec, keyring_path, new_key, parse_spec
from formwerk.errors import StorageError
from formwerk.settings import Settings
from formwerk.storage import BlobStore, sha256_hex
from tests.conftest import _binary
from tests.webapp import login as _login

NAME = "Müller-Lüdenscheidt"


# -- keyring ---------------------------------------------------------------------


def test_rotation_encrypts_with_the_current_key_and_decrypts_with_all():
    old, new = new_key(), new_key()
    before = Keyring([old])
    kid, sealed = before.encrypt(b"Erika")
    after = Keyring.from_spec(format_spec([new, old]))  # the new key first: current
    assert after.current_id == new.id and after.ids == [new.id, old.id]
    assert after.decrypt(kid, sealed) == b"Erika"
    assert after.encrypt(b"x")[0] == new.id
    assert after.open(before.seal(b"Erika")) == b"Erika"
    only_new = Keyring([new])
    with pytest.raises(KeyringError, match=old.id):  # names the missing key
        only_new.decrypt(kid, sealed)
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(KeyringError, match="altered"):
        before.decrypt(kid, bytes(tampered))


def test_bad_key_specs_are_refused_without_echoing_the_key():
    good = format_spec([new_key()])
    assert len(parse_spec(good + "\n")) == 1
    secret = base64.b64encode(b"k" * 16).decode()
    with pytest.raises(KeyringError, match="16 bytes") as info:
        parse_spec(f"short:{secret}")
    assert secret not in str(info.value)
    with pytest.raises(KeyringError, match="base64"):
        parse_spec("a:not base64!!")
    with pytest.raises(KeyringError, match="twice"):
        parse_spec(f"{good},{good}")
    with pytest.raises(KeyringError, match="id:base64key"):
        parse_spec("no-colon-here")
    assert "secret" not in repr(new_key()) and repr(Keyring(parse_spec(good))).startswith("Keyring(current=")


def test_the_embedded_default_generates_a_private_keyring_once_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    settings = Settings(data_dir=tmp_path)
    first = Keyring.from_settings(settings)
    path = keyring_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"generated encryption key {first.current_id}" in caplog.text
    secret = base64.b64encode(first.keys[0].secret).decode()
    assert secret not in caplog.text  # said so, without printing the key
    caplog.clear()
    again = Keyring.from_settings(settings)
    assert again.keys == first.keys and "generated" not in caplog.text
    # a setting wins over the file
    spec = format_spec([new_key()])
    assert Keyring.from_settings(Settings(data_dir=tmp_path, encryption_keys=spec)).ids == [spec.split(":")[0]]


async def test_key_rotate_keeps_old_keys_readable(tmp_path, capsys):
    import argparse

    from formwerk.key_commands import key

    settings = Settings(data_dir=tmp_path)
    blobs = BlobStore.from_settings(settings)
    old_key = blobs.put(NAME.encode())
    old_id = Keyring.from_settings(settings).current_id
    assert await key(settings, argparse.Namespace(key_command="rotate")) == 0
    ring = Keyring.from_settings(settings)
    assert ring.ids[1] == old_id and ring.current_id != old_id
    assert stat.S_IMODE(keyring_path(settings).stat().st_mode) == 0o600
    rotated = BlobStore.from_settings(settings)
    assert rotated.get(old_key) == NAME.encode()
    new_blob = rotated.put(b"neu")
    assert ring.current_id.encode() in rotated.path(new_blob).read_bytes()[:40]
    assert await key(settings, argparse.Namespace(key_command="list")) == 0
    listed = capsys.readouterr().out
    assert old_id in listed and base64.b64encode(ring.keys[0].secret).decode() not in listed


# -- blobs at rest ----------------------------------------------------------------


def test_blobs_are_sealed_at_rest_and_keep_their_plaintext_address(tmp_path):
    ring = Keyring([new_key()])
    store = BlobStore(tmp_path, keyring=ring)
    data = f"Antrag von {NAME}".encode()
    key = store.put(data)
    assert key == "sha256:" + sha256_hex(data)  # dedup and idempotency as before
    assert store.put(data) == key and len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1
    on_disk = store.path(key).read_bytes()
    assert NAME.encode() not in on_disk and on_disk.startswith(b"FWENC1")
    assert store.get(key) == data
    # a blob written before encryption (no header) still reads
    legacy = BlobStore(tmp_path)
    old = legacy.put(b"%PDF-1.4 alt")
    assert store.get(old) == b"%PDF-1.4 alt"
    # a store without the keyring refuses sealed blobs instead of handing out ciphertext
    with pytest.raises(StorageError):
        legacy.get(key)
    # another keyring: refused, not garbage
    with pytest.raises(StorageError, match="not in the keyring"):
        BlobStore(tmp_path, keyring=Keyring([new_key()])).get(key)


# -- the payload codec -----------------------------------------------------------------


async def test_codec_encrypts_every_payload_with_its_key_id_and_passes_old_ones_through():
    ring = Keyring([new_key()])
    codec = EncryptionCodec(ring)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=f'"{NAME}"'.encode())
    [enc] = await codec.encode([plain])
    assert enc.metadata["encoding"] == ENCODING and enc.metadata[KEY_ID] == ring.current_id.encode()
    assert NAME.encode() not in enc.SerializeToString()
    assert await codec.decode([enc, plain]) == [plain, plain]  # plain: written before encryption

    converter = converter_for(ring)
    payloads = await converter.encode([{"family_name": NAME}])
    assert NAME.encode() not in payloads[0].SerializeToString()
    assert await converter.decode(payloads, [dict]) == [{"family_name": NAME}]


async def test_failure_messages_and_stack_traces_are_encrypted_too(tmp_path):
    converter = data_converter(Settings(data_dir=tmp_path))
    try:
        raise ApplicationError(f"kein Geburtsdatum für {NAME}", type="x")
    except ApplicationError as exc:
        error = exc
    from temporalio.api.failure.v1 import Failure

    failure = Failure()
    await converter.encode_failure(error, failure)
    wire = failure.SerializeToString()
    assert NAME.encode() not in wire and NAME.encode("unicode_escape") not in wire
    assert failure.message == "Encoded failure"
    back = await converter.decode_failure(failure)
    assert NAME in str(back)


# -- the codec endpoint ---------------------------------------------------------------


@pytest.fixture
def app_client(tmp_path):
    from api.app import create_app

    app = create_app(Settings(data_dir=tmp_path, secret_key="t"))
    st = app.state.formwerk
    st.users.add("sara", "ein-langes-passwort", role="supervisor")
    st.users.add("anna", "ein-langes-passwort", role="clerk")
    with TestClient(app) as c:
        yield c



def _body(p: Payload) -> dict:
    return {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                          "data": base64.b64encode(p.data).decode()}]}


def test_codec_endpoint_decodes_for_supervisors_only_and_is_audited(app_client):
    from formwerk.audit import AuditLog
    from formwerk.tokens import TokenStore

    app = app_client.app
    st = app.state.formwerk
    plain = Payload(metadata={"encoding": b"json/plain"}, data=f'"{NAME}"'.encode())
    ui = {"Origin": "http://127.0.0.1:8233"}

    assert app_client.post("/codec/decode", json=_body(plain), headers=ui).status_code == 401
    _login(app_client, "anna")
    assert app_client.post("/codec/decode", json=_body(plain), headers=ui).status_code == 403
    _login(app_client, "sara")
    r = app_client.post("/codec/encode", json=_body(plain), headers={**ui, "X-Namespace": "default"})
    assert r.status_code == 200
    encoded = r.json()["payloads"][0]
    assert base64.b64decode(encoded["metadata"]["encoding"]) == ENCODING
    assert NAME.encode() not in base64.b64decode(encoded["data"])
    assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
    assert r.headers["access-control-allow-credentials"] == "true"
    r = app_client.post("/codec/decode", json={"payloads": [encoded]}, headers={**ui, "X-Namespace": "default"})
    assert r.status_code == 200
    assert base64.b64decode(r.json()["payloads"][0]["data"]) == f'"{NAME}"'.encode()
    # what the workers wrote decodes here too: one keyring
    import asyncio

    [from_worker] = asyncio.run(EncryptionCodec(Keyring.from_settings(st.settings)).encode([plain]))
    r = app_client.post("/codec/decode", json=_body(from_worker))
    assert base64.b64decode(r.json()["payloads"][0]["data"]) == f'"{NAME}"'.encode()
    # a foreign origin gets no CORS grant; the preflight answers without a session
    r = app_client.options("/codec/decode", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    r = app_client.options("/codec/decode", headers={**ui, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204 and "X-Namespace" in r.headers["access-control-allow-headers"]
    assert app_client.post("/codec/decode", json={"payloads": "x"}).status_code == 400
    decodes = [e for e in AuditLog(st.cases.engine).entries() if e.action == "temporal.decode"]
    assert [e.actor for e in decodes] == ["sara", "sara"] and decodes[0].detail["namespace"] == "default"

    # an admin token works without a session (``temporal ... --codec-auth``); other tokens do not
    app_client.cookies.clear()
    tokens = TokenStore(st.cases.engine)
    admin = tokens.create("ops", ["admin"])[1]
    reader = tokens.create("reader", ["cases:read"])[1]
    r = app_client.post("/codec/decode", json={"payloads": [encoded]}, headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200
    assert app_client.post("/codec/decode", json={"payloads": [encoded]},
                           headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    assert app_client.post("/codec/decode", json={"payloads": [encoded]},
                           headers={"Authorization": "Bearer fwk_nope"}).status_code == 401


def test_the_embedded_temporal_ui_is_pointed_at_the_codec_endpoint(tmp_path, monkeypatch):
    from formwerk import embedded

    # the flag is the dev server's own (a renamed flag would make the server refuse to start)
    help_text = subprocess.run([_binary("temporal"), "server", "start-dev", "--help"],
                               capture_output=True, text=True, timeout=30).stdout
    assert "--ui-codec-endpoint" in help_text
    seen = {}

    class Started(Exception):
        pass

    def fake_popen(cmd, **kw):
        seen["cmd"] = cmd
        raise Started

    monkeypatch.setattr(embedded, "reachable", lambda *a, **k: False)
    monkeypatch.setattr(embedded.subprocess, "Popen", fake_popen)
    with pytest.raises(Started):
        embedded.ensure_temporal(Settings(data_dir=tmp_path, api_host="0.0.0.0", api_port=8123))
    cmd = seen["cmd"]
    flag = cmd.index("--ui-codec-endpoint")
    assert cmd[flag + 1] == "http://127.0.0.1:8123/codec"
