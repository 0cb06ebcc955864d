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
    task_queue: str = DEFAULT_TASK_QUEUE
    ocr_task_queue: str = DEFAULT_OCR_TASK_QUEUE
    ocr_workers: int = max(1, os.cpu_count() or 1)  # concurrent OCR activities (1 thread each)
    ocr_languages: str = "deu+eng"
    # second reads of value boxes in the process (tesserocr) instead of a CLI call each
    ocr_in_process: bool = True
    render_dpi: int = 300
    max_pages: int = 50
    max_image_pixels: int = 200_000_000  # 200 MP ≈ A0 at 300 dpi; beyond: decompression bomb
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
    session_hours: float = 10.0  # a session ends after this long (one working day)
    # behind TLS in production: cookies only over https
    secure_cookies: bool = False
    # a clerk's claim on a case expires after this long without activity
    claim_idle_minutes: float = 15.0

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

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.blob_dir.mkdir(parents=True, exist_ok=True)


def get_settings() -> Settings:
    return Settings()
