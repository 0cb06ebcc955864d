"""The keyring: AES-256-GCM keys with ids, for Temporal payloads and blobs at rest.

Rotation: the *current* key (the first) encrypts everything new; every key
in the ring decrypts, so data written under an older key stays readable as
long as that key is kept in the ring. Keys come from the setting
``FORMWERK_ENCRYPTION_KEYS`` (``id:base64key,id:base64key,...``, the first is
current; every worker and API instance needs the same value). Without it,
the embedded stack keeps its ring in ``<data_dir>/keys/keyring`` (one
``id:base64key`` a line, the first is current, file mode 0600), generated on
first start; ``formwerk key rotate`` puts a new current key on top.

Sealed format (``Keyring.seal``): ``MAGIC | len(key id) | key id | 12-byte
nonce | ciphertext+tag``; the magic and the key id are bound to the
ciphertext as associated data, so neither can be swapped unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("formwerk.crypto")

MAGIC = b"FWENC1\x00"  # sealed data starts with this; plaintext blobs never do (PDF, PNG, JSON, TIFF, JPEG)
NONCE_BYTES = 12
KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
KEYRING_FILE = "keyring"


class KeyringError(Exception):
    """A key is missing, malformed, or the data does not decrypt (tampered, wrong key)."""


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes  # 32 bytes; never logged, never in a repr

    def __repr__(self) -> str:
        return f"Key(id={self.id!r})"


def new_key_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d}-{secrets.token_hex(3)}"


def new_key() -> Key:
    return Key(new_key_id(), AESGCM.generate_key(bit_length=256))


def format_spec(keys: list[Key]) -> str:
    """``id:base64key,...``: the form of ``FORMWERK_ENCRYPTION_KEYS``."""
    return ",".join(f"{k.id}:{base64.b64encode(k.secret).decode('ascii')}" for k in keys)


def parse_spec(spec: str) -> list[Key]:
    """Keys from ``id:base64key`` items separated by commas or newlines; the first is current."""
    keys: list[Key] = []
    for n, item in enumerate(re.split(r"[,\n]", spec), start=1):
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        key_id, sep, encoded = item.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise KeyringError(f"encryption key #{n}: expected id:base64key with an id of letters, digits, "
                               "'.', '_' or '-' (e.g. 2026a:<44 base64 characters>)")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(f"encryption key {key_id!r}: the key is not valid base64") from None
        if len(secret) != KEY_BYTES:
            raise KeyringError(f"encryption key {key_id!r}: {len(secret)} bytes, AES-256 needs {KEY_BYTES} "
                               "(generate one with `formwerk key new`)")
        if any(k.id == key_id for k in keys):
            raise KeyringError(f"encryption key id {key_id!r} appears twice")
        keys.append(Key(key_id, secret))
    return keys


class Keyring:
    """Encrypts with the current key (the first), decrypts with any key of the ring."""

    def __init__(self, keys: list[Key]) -> None:
        if not keys:
            raise KeyringError("the keyring is empty")
        self.keys = list(keys)
        self._by_id = {k.id: AESGCM(k.secret) for k in keys}

    def __repr__(self) -> str:
        return f"Keyring(current={self.current_id!r}, ids={self.ids!r})"

    @property
    def current_id(self) -> str:
        return self.keys[0].id

    @property
    def ids(self) -> list[str]:
        return [k.id for k in self.keys]

    # -- raw AEAD: the caller keeps the key id (payload metadata) ---------------

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> tuple[str, bytes]:
        """(key id, nonce + ciphertext + tag) under the current key."""
        nonce = os.urandom(NONCE_BYTES)
        return self.current_id, nonce + self._by_id[self.current_id].encrypt(nonce, plaintext, aad)

    def decrypt(self, key_id: str, data: bytes, aad: bytes = b"") -> bytes:
        aead = self._by_id.get(key_id)
        if aead is None:
            raise KeyringError(f"data was encrypted with key {key_id!r}, which is not in the keyring "
                               f"(keys present: {', '.join(self.ids)}); add it to FORMWERK_ENCRYPTION_KEYS")
        if len(data) < NONCE_BYTES + 16:
            raise KeyringError("encrypted data is truncated")
        try:
            return aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], aad)
        except InvalidTag:
            raise KeyringError(f"data does not decrypt with key {key_id!r} (altered or damaged)") from None

    # -- self-describing: blobs at rest -------------------------------------------

    def seal(self, plaintext: bytes) -> bytes:
        kid = self.current_id.encode("ascii")
        header = MAGIC + bytes([len(kid)]) + kid
        _, body = self.encrypt(plaintext, aad=header)
        return header + body

    def open(self, sealed: bytes) -> bytes:
        if not is_sealed(sealed):
            raise KeyringError("not sealed data")
        n = sealed[len(MAGIC)]
        start = len(MAGIC) + 1
        kid = sealed[start:start + n]
        header = sealed[:start + n]
        return self.decrypt(kid.decode("ascii", "replace"), sealed[start + n:], aad=header)

    # -- where the keys come from ---------------------------------------------------

    @classmethod
    def from_spec(cls, spec: str) -> "Keyring":
        return cls(parse_spec(spec))

    @classmethod
    def from_settings(cls, settings) -> "Keyring":
        """``settings.encryption_keys``, else the data directory's keyring (generated on first use)."""
        spec = getattr(settings, "encryption_keys", "") or ""
        if spec.strip():
            return cls.from_spec(spec)
        return cls(load_or_create(keyring_path(settings)))


def is_sealed(data: bytes) -> bool:
    return data[:len(MAGIC)] == MAGIC


def keyring_path(settings) -> Path:
    return Path(settings.data_dir) / "keys" / KEYRING_FILE


def write_keyring(path: Path, keys: list[Key]) -> None:
    """Replace the keyring file atomically, mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(format_spec([k]) for k in keys) + "\n")
    os.replace(tmp, path)


def load_or_create(path: Path) -> list[Key]:
    """The keys in ``path``; a new one-key ring when it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = new_key()
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(format_spec([key]) + "\n")
        try:
            os.link(tmp, path)  # fails if another process created it meanwhile: theirs wins
            log.warning("generated encryption key %s into %s (mode 0600). Back this file up: without it "
                        "the Temporal histories and stored documents cannot be read.", key.id, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("keyring %s is readable by others (mode %o); chmod 600 it", path, mode)
    keys = parse_spec(path.read_text())
    if not keys:
        raise KeyringError(f"keyring {path} holds no key")
    return keys
