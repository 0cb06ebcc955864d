"""deploy/: the compose file against the Compose Specification's JSON schema, and
the Prometheus configuration parsed and checked against the compose services.

No container engine runs here, so these checks are what CI can prove: the
files are valid, every Formwerk setting they set exists, every service the
issue names is there, and Prometheus scrapes every process on the port that
process is told to serve.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from formwerk.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((DEPLOY / "schema" / "compose-spec.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture(scope="module")
def prometheus() -> dict:
    return yaml.safe_load((DEPLOY / "prometheus.yml").read_text())


def _errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_matches_the_compose_specification(compose, validator):
    assert _errors(validator, compose) == []


def test_the_schema_check_catches_mistakes(compose, validator):
    broken = copy.deepcopy(compose)
    broken["services"]["api"]["restart_policy"] = "always"  # not a service key
    assert _errors(validator, broken)
    broken = copy.deepcopy(compose)
    broken["services"]["ocr-worker"]["deploy"]["replicas"] = [2]
    assert _errors(validator, broken)


def test_the_services_the_production_layout_needs(compose):
    services = compose["services"]
    for name in ("temporal", "temporal-db", "temporal-ui", "formwerk-db", "api", "case-worker",
                 "ocr-worker", "prometheus"):
        assert name in services, name
    assert services["temporal"]["environment"]["DB"].startswith("postgres")
    env = lambda s: services[s]["environment"]  # noqa: E731
    assert env("case-worker")["FORMWERK_WORKER_QUEUES"] == "cases"
    assert env("ocr-worker")["FORMWERK_WORKER_QUEUES"] == "ocr"
    for worker in ("case-worker", "ocr-worker"):
        assert "replicas" in services[worker]["deploy"]  # scaled apart
        assert "ports" not in services[worker]  # replicas cannot share a host port
    for s in ("api", "case-worker", "ocr-worker"):
        assert env(s)["FORMWERK_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@formwerk-db:" in env(s)["FORMWERK_DATABASE_URL"]
        assert env(s)["FORMWERK_EMBEDDED_TEMPORAL"] == "false"
        assert any(v.endswith(":/data") for v in services[s]["volumes"])  # one shared blob store


def test_every_formwerk_variable_is_a_real_setting(compose):
    known = {f"FORMWERK_{name.upper()}" for name in Settings.model_fields}
    used = set()
    for service in compose["services"].values():
        used |= {k for k in (service.get("environment") or {}) if k.startswith("FORMWERK_")}
    unknown = sorted(used - known - {"FORMWERK_DB_PASSWORD", "FORMWERK_IMAGE", "FORMWERK_CERT_DIR"})
    assert unknown == []
    # TLS / mTLS / API key reach every process that talks to Temporal
    for s in ("api", "case-worker", "ocr-worker"):
        env = compose["services"][s]["environment"]
        for key in ("FORMWERK_TEMPORAL_TLS_CERT", "FORMWERK_TEMPORAL_TLS_KEY", "FORMWERK_TEMPORAL_TLS_CA",
                    "FORMWERK_TEMPORAL_API_KEY", "FORMWERK_TEMPORAL_ADDRESS"):
            assert key in env, (s, key)


def test_secrets_are_required_not_defaulted(compose):
    text = (DEPLOY / "compose.yaml").read_text()
    for secret in ("FORMWERK_DB_PASSWORD", "TEMPORAL_DB_PASSWORD", "FORMWERK_SECRET_KEY"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), secret


def _targets(job) -> list[tuple[str, int]]:
    out = []
    for sc in job.get("static_configs", []):
        for t in sc["targets"]:
            host, port = t.rsplit(":", 1)
            out.append((host, int(port)))
    for sd in job.get("dns_sd_configs", []):
        out += [(name, int(sd["port"])) for name in sd["names"]]
    return out


def test_prometheus_scrapes_every_process_where_it_serves(prometheus, compose):
    assert re.fullmatch(r"\d+[smh]", prometheus["global"]["scrape_interval"])
    jobs = prometheus["scrape_configs"]
    names = [j["job_name"] for j in jobs]
    assert len(names) == len(set(names))
    services = compose["services"]
    scraped: dict[str, set[int]] = {}
    for job in jobs:
        assert _targets(job), job["job_name"]
        for host, port in _targets(job):
            if host == "localhost":
                continue
            assert host in services, (job["job_name"], host)
            scraped.setdefault(host, set()).add(port)
        for sd in job.get("dns_sd_configs", []):
            assert sd["type"] == "A"
    env = lambda s: services[s]["environment"]  # noqa: E731
    assert int(env("api")["FORMWERK_API_PORT"]) in scraped["api"]
    for worker in ("case-worker", "ocr-worker"):
        assert {int(env(worker)["FORMWERK_WORKER_METRICS_PORT"]),
                int(env(worker)["FORMWERK_TEMPORAL_METRICS_PORT"])} <= scraped[worker]
    assert int(services["temporal"]["environment"]["PROMETHEUS_ENDPOINT"].rsplit(":", 1)[1]) in scraped["temporal"]
    # Prometheus reads the file the compose file mounts
    mounts = services["prometheus"]["volumes"]
    assert any(m.startswith("./prometheus.yml:") for m in mounts)
    api_job = next(j for j in jobs if j["job_name"] == "formwerk-api")
    token_file = api_job["authorization"]["credentials_file"]
    assert any(f":{token_file}:" in m or m.endswith(f":{token_file}") for m in mounts)


def test_settings_build_the_tls_config(tmp_path):
    from temporalio.service import TLSConfig

    assert Settings(temporal_tls=False).temporal_tls_config() is False
    assert Settings(temporal_api_key="k").temporal_tls_config() is True  # Temporal Cloud: system CAs
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (tmp_path / "client.key").write_text("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    tls = Settings(temporal_tls_cert=cert, temporal_tls_key=str(tmp_path / "client.key"),
                   temporal_tls_server_name="temporal.intern").temporal_tls_config()
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == cert.encode() and tls.client_private_key.startswith(b"-----BEGIN PRIVATE KEY")
    assert tls.domain == "temporal.intern" and tls.server_root_ca_cert is None
    with pytest.raises(ValueError, match="belong together"):
        Settings(temporal_tls_cert=cert).temporal_tls_config()
