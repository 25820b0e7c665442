"""The deploy manifests parse, and every SCAMSHARE_* variable they set is a real setting.

The gateway's manifests (plain and Strimzi) are checked here for what makes them safe to expose: probes on
/readyz and /healthz, a locked-down container, TLS on the Ingress with a body limit that is the gateway's, and
the client-certificate header trusted only where the Ingress overwrites it and nothing else reaches the pods.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
#: The gateway, plain and on Strimzi (tests/unit/test_deploy_strimzi.py checks the Strimzi one's logins).
GATEWAYS = [DEPLOY / "kubernetes" / "gateway.yaml", DEPLOY / "kubernetes" / "strimzi" / "gateway.yaml"]
GATEWAY = "scamshare-gateway"
PORT = 8080
#: ingress-nginx: the headers it sets from its own TLS handshake while auth-tls-secret is set.
NGINX = "nginx.ingress.kubernetes.io/"
CERT_HEADER = "ssl-client-subject-dn"


def documents() -> list[dict[str, object]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_there_are_manifests() -> None:
    assert {p.name for p in MANIFESTS} >= {"config.yaml", "topics-job.yaml", "worker.yaml", "gateway.yaml"}


def container_env_names(doc: dict[str, Any]) -> set[str]:
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    return {e["name"] for c in pod.get("containers", []) for e in c.get("env", [])}


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")  # type: ignore[index]
def test_env_names_are_settings(doc: dict[str, Any]) -> None:
    data = doc.get("data") or doc.get("stringData") or {}
    assert isinstance(data, dict)
    fields = {f"SCAMSHARE_{name.upper()}" for name in Settings.model_fields}
    assert set(data) <= fields, set(data) - fields
    used = {n for n in container_env_names(doc) if n.startswith("SCAMSHARE_")}
    assert used <= fields, used - fields


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


# --- the gateway ----------------------------------------------------------------------------------------


def gateway_docs(path: Path) -> dict[str, dict[str, Any]]:
    """The gateway's documents in ``path`` by kind (one of each)."""
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    by_kind = {doc["kind"]: doc for doc in docs}
    assert len(by_kind) == len(docs), "one document of each kind"
    assert set(by_kind) == {"Deployment", "Service", "Ingress", "NetworkPolicy"}
    assert {doc["metadata"]["name"] for doc in docs} == {GATEWAY}
    return by_kind


def gateway_container(path: Path) -> dict[str, Any]:
    (container,) = gateway_docs(path)["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def plain_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's literal ``env`` values (secretKeyRef ones left out)."""
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def nginx_size(value: str) -> int:
    """An nginx size (``10m`` = 10 MiB; ``k``, ``m``, ``g``; no unit: bytes) in bytes."""
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", value)
    assert match, value
    return int(match[1]) * 1024 ** " kmg".index(match[2].lower() or " ")


def pod_labels(path: Path) -> dict[str, str]:
    labels: dict[str, str] = gateway_docs(path)["Deployment"]["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.mark.parametrize("path", GATEWAYS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_the_gateway_serves_on_8080_with_its_probes(path: Path) -> None:
    deployment = gateway_docs(path)["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels(path).items()
    container = gateway_container(path)
    assert container["command"] == ["scamshare", "gateway", "--host", "0.0.0.0", "--port", str(PORT)]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": PORT}

    def probe(kind: str) -> tuple[str, int]:
        get = container[kind]["httpGet"]
        return get["path"], ports.get(get["port"], get["port"])

    assert probe("readinessProbe") == ("/readyz", PORT)  # Redis and Kafka ready, 503 otherwise
    assert probe("livenessProbe") == ("/healthz", PORT)  # the process serves (no dependency)
    assert "requests" in container["resources"] and "limits" in container["resources"]


@pytest.mark.parametrize("path", GATEWAYS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_the_gateway_container_is_locked_down(path: Path) -> None:
    security = gateway_container(path)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security.get("runAsUser", 1) != 0
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert "add" not in security["capabilities"]
    assert "privileged" not in security or security["privileged"] is False


@pytest.mark.parametrize("path", GATEWAYS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_the_gateway_service_sends_port_80_to_the_pods(path: Path) -> None:
    service = gateway_docs(path)["Service"]["spec"]
    assert service.get("type", "ClusterIP") == "ClusterIP"
    assert service["selector"] == pod_labels(path)
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]


@pytest.mark.parametrize("path", GATEWAYS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_the_gateway_ingress_has_tls_and_the_gateways_body_limit(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingress = gateway_docs(path)["Ingress"]
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    hosts = {rule["host"] for rule in spec["rules"]}
    assert hosts == {"gateway.scamshare.example"}
    assert spec["tls"] == [{"hosts": ["gateway.scamshare.example"], "secretName": "scamshare-gateway-tls"}]
    annotations = ingress["metadata"]["annotations"]
    assert annotations.get(f"{NGINX}ssl-redirect", "true") == "true"
    for key, value in plain_env(gateway_container(path)).items():
        monkeypatch.setenv(key, value)
    limit = Settings().gateway_max_body_bytes
    assert limit == 10 * 1024 * 1024
    assert nginx_size(annotations[f"{NGINX}proxy-body-size"]) == limit
    backends = [p["backend"]["service"] for rule in spec["rules"] for p in rule["http"]["paths"]]
    assert backends and all(b == {"name": GATEWAY, "port": {"name": "http"}} for b in backends)


@pytest.mark.parametrize("path", GATEWAYS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_the_ingress_routes_only_the_api(path: Path) -> None:
    """/metrics, /healthz and /readyz answer without a credential: they stay inside the cluster."""
    paths = [(p["path"], p["pathType"]) for rule in gateway_docs(path)["Ingress"]["spec"]["rules"]
             for p in rule["http"]["paths"]]  # fmt: skip
    assert ("/taxii2", "Prefix") in paths and ("/v1", "Prefix") in paths
    for inside in ("/metrics", "/healthz", "/readyz"):
        for route, kind in paths:
            assert not (inside == route or (kind == "Prefix" and inside.startswith(route))), (inside, route)


@pytest.mark.parametrize("path", GATEWAYS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_the_cert_header_is_trusted_only_where_the_ingress_sets_it(path: Path) -> None:
    """With SCAMSHARE_GATEWAY_CLIENT_CERT_HEADER set, the gateway believes ssl-client-subject-dn and
    ssl-client-verify. ingress-nginx overwrites client-sent ones only while auth-tls-secret is set, so the
    Ingress must verify client certificates (on or optional), and the NetworkPolicy must let nothing but
    the controller and Prometheus reach the pods."""
    docs = gateway_docs(path)
    header = plain_env(gateway_container(path)).get("SCAMSHARE_GATEWAY_CLIENT_CERT_HEADER")
    assert header == CERT_HEADER
    annotations = docs["Ingress"]["metadata"]["annotations"]
    assert annotations[f"{NGINX}auth-tls-verify-client"] in {"on", "optional"}
    namespace, _, secret = annotations[f"{NGINX}auth-tls-secret"].partition("/")
    assert namespace and secret, "ingress-nginx wants <namespace>/<secret>"
    assert annotations[f"{NGINX}auth-tls-pass-certificate-to-upstream"] == "true"
    # Nothing may reconfigure the headers behind the template's back.
    assert not {k for k in annotations if k.endswith("-snippet")}

    policy = docs["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"] == pod_labels(path)
    assert "Ingress" in policy["policyTypes"]
    sources = set()
    for rule in policy["ingress"]:
        assert rule["ports"] == [{"protocol": "TCP", "port": PORT}], rule
        assert rule["from"], "an empty `from` admits everyone"
        for peer in rule["from"]:
            assert set(peer) == {"namespaceSelector", "podSelector"}, f"namespace AND pod, no ipBlock: {peer}"
            (namespace_name,) = peer["namespaceSelector"]["matchLabels"].values()
            assert peer["podSelector"]["matchLabels"], peer
            sources.add(namespace_name)
    assert sources == {"ingress-nginx", "monitoring"}
