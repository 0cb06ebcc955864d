"""Content-addressed blob store on the local file system.

Keys are ``sha256:<hex>`` of the content, so writing the same bytes twice is a
no-op (every write is idempotent, which makes activity retries safe). Derived
artefacts (page renderings, OCR words) are stored the same way. Blobs live in
``<root>/<first two hex>/<hex>``; the write goes through a temporary file and
an atomic rename so a crash never leaves a half-written blob under its key.

At rest (``BlobStore.from_settings``) every blob is sealed with the keyring
(AES-256-GCM, ``formwerk.crypto``); the key stays the SHA-256 of the
*plaintext*, so deduplication and idempotency work as before. Blobs written
before encryption carry no header and are read as they are. A store built
without a keyring (``BlobStore(path)``) writes plaintext and refuses to
return sealed blobs rather than hand out ciphertext.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path

from formwerk.errors import StorageError
from formwerk.failures import STORAGE_FULL, STORAGE_UNWRITABLE

KEY_PREFIX = "sha256:"


class StorageFullError(StorageError):
    """No space left: retried a few times (space may be freed), then the case fails."""

    code = STORAGE_FULL
    retryable = True
    default_message = ("Ablage voll: Im Dokumentenspeicher ist kein Platz mehr frei, "
                       "das Dokument konnte nicht abgelegt werden.")


class StorageUnwritableError(StorageError):
    """Permissions or a read-only file system: retrying does not help until someone acts."""

    code = STORAGE_UNWRITABLE
    retryable = False
    default_message = ("Ablage nicht beschreibbar: Der Dokumentenspeicher lässt keine neuen "
                       "Dateien zu (Berechtigung oder schreibgeschützt).")


_FULL = {errno.ENOSPC, errno.EDQUOT}
_UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def storage_error(exc: OSError) -> StorageError:
    """The StorageError a clerk can read for an OSError of a write (the errno names the cause)."""
    detail = f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror or exc}"
    if exc.errno in _FULL:
        return StorageFullError(detail=detail)
    if exc.errno in _UNWRITABLE:
        return StorageUnwritableError(detail=detail)
    return StorageError(detail=detail)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path, keyring=None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keyring = keyring  # formwerk.crypto.Keyring | None (plaintext)

    @classmethod
    def from_settings(cls, settings) -> "BlobStore":
        """The product's store: ``settings.blob_dir``, encrypted with the settings' keyring."""
        from formwerk.crypto import Keyring

        return cls(settings.blob_dir, keyring=Keyring.from_settings(settings))

    def _path(self, key: str) -> Path:
        if not key.startswith(KEY_PREFIX):
            raise StorageError(detail=f"not a blob key: {key!r}")
        digest = key[len(KEY_PREFIX):]
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise StorageError(detail=f"malformed blob key: {key!r}")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` under its SHA-256; a failed write leaves every stored blob as it was.

        An OSError (disk full, no permission, read-only) becomes a
        ``StorageError`` saying so in words; only the temporary file is removed.
        """
        key = KEY_PREFIX + sha256_hex(data)
        path = self._path(key)
        if path.exists():
            return key
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.keyring.seal(data) if self.keyring is not None else data)
                fh.flush()
                os.fsync(fh.fileno())  # ENOSPC shows here at the latest, not after the rename
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise storage_error(exc) from exc
        return key

    def get(self, key: str) -> bytes:
        try:
            stored = self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(detail=f"blob {key} not found") from exc
        from formwerk.crypto import KeyringError, is_sealed

        if not is_sealed(stored):
            return stored  # written before encryption
        if self.keyring is None:
            raise StorageError(detail=f"blob {key} is encrypted and this store has no keyring")
        try:
            return self.keyring.open(stored)
        except KeyringError as exc:
            raise StorageError(detail=f"blob {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> bool:
        """Remove a blob (retention). Returns whether it existed."""
        path = self._path(key)
        if path.exists():
            path.unlink()
            return True
        return False

    def path(self, key: str) -> Path:
        return self._path(key)
