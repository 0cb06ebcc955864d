"""One settings object, read only at the edges (worker.py, CLI, API).

Every value can be set from the environment with the ``FORMWERK_`` prefix,
e.g. ``FORMWERK_DATABASE_URL=postgresql+psycopg://localhost/formwerk``.
Code below the edges receives explicit option objects, never this one.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from workflows.names import DEFAULT_OCR_TASK_QUEUE, DEFAULT_TASK_QUEUE

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "formwerk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORMWERK_", extra="ignore")

    data_dir: Path = _default_data_dir()
    # empty → SQLite file in data_dir; production: postgresql+psycopg://user@host/db
    database_url: str = ""
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    # start a local Temporal dev server when none answers at temporal_address
    embedded_temporal: bool = True
    # SQLite pragmas of the embedded dev server's database (comma-separated PRAGMA=VALUE). WAL lets
    # history reads run beside the writes; synchronous stays FULL, so a commit survives a power cut
    embedded_temporal_sqlite_pragmas: str = "journal_mode=wal"
    task_queue: str = DEFAULT_TASK_QUEUE
    ocr_task_queue: str = DEFAULT_OCR_TASK_QUEUE
    ocr_workers: int = max(1, os.cpu_count() or 1)  # concurrent OCR activities (1 thread each)
    # OCR threads run at this nice value: Tesseract keeps every core busy, and a
    # digital document or a clerk's request should not wait behind a scan's pages
    ocr_nice: int = 10
    # concurrent case activities (reading PDFs, classification, extraction, saving): mostly short
    case_slots: int = 8
    # `formwerk up`: worker processes that run workflows and the light steps of digital documents.
    # 1: one process serves every queue. N > 1: N case workers and one page worker (OCR and a
    # scan's analysis). One process runs Python on one core at a time (its interpreter lock), so
    # digital forms alone reach both cores only with two case workers (bench.digital --workers);
    # each process holds its own copy of the models (about 1.1 GiB)
    case_worker_processes: int = 1
    ocr_languages: str = "deu+eng"
    # page OCR: "tesserocr" (Tesseract loaded once per OCR slot, pages from memory) or "cli"
    # (one tesseract process per page, as before; also the fallback without tesserocr)
    ocr_engine: str = "tesserocr"
    ocr_timeout_s: int = 180  # one page's recognition; a pathological page must not hold a slot
    # second reads of value boxes in the process (tesserocr) instead of a CLI call each
    ocr_in_process: bool = True
    render_dpi: int = 300
    max_pages: int = 50
    max_image_pixels: int = 200_000_000  # 200 MP ≈ A0 at 300 dpi; beyond: decompression bomb
    # bad input: a PDF page too large for max_image_pixels at render_dpi is rendered at a lower dpi,
    # down to this floor (below, it is rejected); reading one PDF's structure, text and fields
    # stops (rejected as too complex) after max_read_seconds
    min_render_dpi: int = 150
    max_read_seconds: float = 60.0
    max_total_pixels: int = 600_000_000  # all pages of an image file together (held decoded at once)
    max_stream_bytes: int = 100 * 1024 * 1024  # a PDF's non-image streams unpacked, together
    max_file_bytes: int = 200 * 1024 * 1024
    encoder: str = str(REPO_ROOT / "models" / "e5-small")
    classifier_dir: str = str(REPO_ROOT / "models" / "classifier")
    # key-value pairing for unknown pages; trained in set-up when XFUND-de is present
    # (its licence keeps it internal: the artefact is never committed), rules otherwise
    kv_model: str = str(REPO_ROOT / "models" / "kv_pairing.json")
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # signs session cookies; empty: a random key kept in data_dir/secret_key (0600)
    secret_key: str = ""
    # payloads in Temporal and blobs at rest: "id:base64key,..." (AES-256, the first encrypts,
    # all decrypt); empty: a keyring generated into data_dir/keys/keyring (0600) on first start
    encryption_keys: str = ""
    # origins allowed to call /codec/* from a browser (the Temporal web UI); empty: the embedded UI
    codec_cors_origins: str = ""
    session_hours: float = 10.0  # a session ends after this long (one working day)
    # behind TLS in production: cookies only over https
    secure_cookies: bool = False
    # a clerk's claim on a case expires after this long without activity
    claim_idle_minutes: float = 15.0
    # REST API (/api/v1): a request body larger than this is refused with 413
    # (uploads: the file limit plus room for the multipart envelope)
    api_max_request_bytes: int = 200 * 1024 * 1024 + 64 * 1024
    # requests per minute per API token (a token bucket; ``api_rate_burst`` at once)
    api_rate_limit_per_minute: float = 600.0
    api_rate_burst: int = 60
    # longest ``?wait=`` a caller may ask for on GET /api/v1/cases/{id}
    api_max_wait_seconds: float = 60.0
    # webhooks: Temporal retries from ``initial`` doubling to ``max`` for ``for_hours``
    webhook_retry_initial_seconds: float = 1.0
    webhook_retry_max_seconds: float = 3600.0
    webhook_retry_for_hours: float = 24.0
    webhook_timeout_seconds: float = 10.0
    # how often a case worker marks cases of terminated/timed-out workflows `failed` (0: never)
    reconcile_interval_seconds: float = 60.0
    # -- production: a Temporal cluster or Temporal Cloud, metrics, scaling ----------
    # TLS to the Temporal frontend; implied by a client certificate, a CA or an API key
    temporal_tls: bool = False
    # PEM files (or the PEM text itself): mTLS client certificate and key, the server's CA
    temporal_tls_cert: str = ""
    temporal_tls_key: str = ""
    temporal_tls_ca: str = ""
    temporal_tls_server_name: str = ""  # when the certificate's name differs from the address
    temporal_api_key: str = ""  # Temporal Cloud API key (instead of, or with, mTLS)
    # which task queues this worker serves: all | cases | ocr (separately scalable)
    worker_queues: str = "all"
    # Prometheus endpoints of a worker (0: off): Formwerk's own metrics, the Temporal SDK's
    worker_metrics_port: int = 0
    temporal_metrics_port: int = 0
    metrics_host: str = "127.0.0.1"  # where the worker's metrics listen (0.0.0.0 in a container)
    # the API's /metrics: empty = open (keep it on the internal network), else a bearer token
    metrics_token: str = ""
    # dashboard: staff time saved = cases straight through x this
    minutes_per_manual_case: float = 8.0
    # retention (formwerk.retention): days after a case closed until its original, page images
    # and OCR contents go, and until its extracted values go; per type "type=orig/data,..."
    # (e.g. "kindergeld_kg1=180/730"); the worker purges every retention_interval_hours (0: never)
    retention_originals_days: int = 90
    retention_data_days: int = 365
    retention_by_type: str = ""
    retention_interval_hours: float = 24.0

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'formwerk.sqlite'}"

    def session_secret(self) -> str:
        """The cookie-signing key: the setting, or one generated once per data dir."""
        if self.secret_key:
            return self.secret_key
        import secrets

        self.ensure_dirs()
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def temporal_tls_config(self):
        """``temporalio.service.TLSConfig`` from the settings, ``True`` (system CAs) or ``False``."""
        wants = self.temporal_tls or bool(self.temporal_tls_cert or self.temporal_api_key or self.temporal_tls_ca)
        if not wants:
            return False
        if not (self.temporal_tls_cert or self.temporal_tls_ca or self.temporal_tls_server_name):
            return True
        if bool(self.temporal_tls_cert) != bool(self.temporal_tls_key):
            raise ValueError("FORMWERK_TEMPORAL_TLS_CERT and FORMWERK_TEMPORAL_TLS_KEY belong together "
                             "(mTLS needs the client certificate and its key)")
        from temporalio.service import TLSConfig

        return TLSConfig(
            server_root_ca_cert=_pem(self.temporal_tls_ca),
            client_cert=_pem(self.temporal_tls_cert),
            client_private_key=_pem(self.temporal_tls_key),
            domain=self.temporal_tls_server_name or None,
        )

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.blob_dir.mkdir(parents=True, exist_ok=True)


def _pem(value: str) -> bytes | None:
    """A PEM given inline (``-----BEGIN ...``) or as a file path; None when empty."""
    if not value:
        return None
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii")
    return Path(value).expanduser().read_bytes()


def get_settings() -> Settings:
    return Settings()
