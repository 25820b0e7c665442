"""The deploy manifests parse, and every SCAMSHARE_* variable they set is a real setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))


def documents() -> list[dict[str, object]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_there_are_manifests() -> None:
    assert {p.name for p in MANIFESTS} >= {"config.yaml", "topics-job.yaml", "worker.yaml"}


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")  # type: ignore[index]
def test_env_names_are_settings(doc: dict[str, object]) -> None:
    data = doc.get("data") or doc.get("stringData") or {}
    assert isinstance(data, dict)
    fields = {f"SCAMSHARE_{name.upper()}" for name in Settings.model_fields}
    assert set(data) <= fields, set(data) - fields


def test_the_config_builds_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env: dict[str, str] = {}
    for doc in documents():
        if doc["kind"] in {"ConfigMap", "Secret"}:
            env |= doc.get("data") or doc.get("stringData") or {}  # type: ignore[arg-type]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.partitions == 12
    assert settings.librdkafka()["security.protocol"] == "SASL_SSL"
    assert settings.librdkafka()["sasl.password"] == "change-me"
    assert "change-me" not in json.dumps(settings.redacted())


def test_workers_run_the_cli_with_the_shared_config() -> None:
    for doc in documents():
        if doc["kind"] in {"Deployment", "Job"}:
            spec = doc["spec"]["template"]["spec"]  # type: ignore[index]
            container = spec["containers"][0]
            assert container["command"][0] == "scamshare"
            assert {r.get("configMapRef", r.get("secretRef"))["name"] for r in container["envFrom"]} == {
                "scamshare"
            }
