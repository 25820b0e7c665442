"""The Strimzi manifests (deploy/kubernetes/strimzi/) are the code's identity model, written down.

Every KafkaUser holds exactly the ACLs :mod:`pipeline.identity.acls` gives its principal for the registry in
``registry.yaml`` (read with the real loaders), every KafkaTopic is the spec :mod:`pipeline.kafka.topics`
would create, Kafka denies what no ACL allows, Redis needs a password and TLS, and the worker, the exporter
and the gateway each log in as their own user and use ``rediss://``. The gateway's user only writes the
organisations' input topics; its Deployment, Service, Ingress and NetworkPolicy are those of the plain
manifests (tests/unit/test_deploy.py checks those).
"""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis.asyncio as aioredis
import yaml

from pipeline.config import Settings
from pipeline.identity import acls as table
from pipeline.identity.acls import CANARY_ORG, Acl, Operation, PatternKind, ResourceKind, principal
from pipeline.kafka.topics import TopicSpec, feed_topic_spec, input_topic_spec, pipeline_topics
from pipeline.state.org import parse_orgs_yaml
from pipeline.subscribers.subscriptions import parse_yaml

STRIMZI = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "strimzi"
REGISTRY = STRIMZI / "registry.yaml"
NOT_MANIFESTS = {"registry.yaml", "kustomization.yaml"}
MANIFESTS = sorted(p for p in STRIMZI.glob("*.yaml") if p.name not in NOT_MANIFESTS)

Doc = dict[str, Any]

#: Strimzi's ACL vocabulary → the table's (anything else is a rule the table cannot express).
OPERATIONS: dict[str, Operation] = {
    "All": "ALL", "Read": "READ", "Write": "WRITE", "Describe": "DESCRIBE", "Create": "CREATE",
}  # fmt: skip
PATTERNS: dict[str, PatternKind] = {"literal": "literal", "prefix": "prefixed"}
RESOURCES: dict[str, ResourceKind] = {"topic": "topic", "group": "group"}

ORGS = parse_orgs_yaml(REGISTRY.read_text(encoding="utf-8"), str(REGISTRY))
SUBS = parse_yaml(REGISTRY.read_text(encoding="utf-8"), str(REGISTRY))


def documents(paths: list[Path] = MANIFESTS) -> list[Doc]:
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def of_kind(kind: str) -> list[Doc]:
    return [doc for doc in documents() if doc["kind"] == kind]


def one(kind: str, name: str | None = None) -> Doc:
    found: list[Doc] = [d for d in of_kind(kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


KAFKA = one("Kafka")
CLUSTER = KAFKA["metadata"]["name"]


def listener(authentication: str) -> Doc:
    listeners: list[Doc] = KAFKA["spec"]["kafka"]["listeners"]
    found = [x for x in listeners if x["authentication"]["type"] == authentication]
    assert len(found) == 1, found
    return found[0]


def users() -> dict[str, Doc]:
    return {u["metadata"]["name"]: u for u in of_kind("KafkaUser")}


def scram_users() -> dict[str, Doc]:
    return {n: u for n, u in users().items() if u["spec"]["authentication"]["type"] == "scram-sha-512"}


def user_acls(user: Doc) -> list[Acl]:
    """A KafkaUser's rules as the table's :class:`Acl` (one per operation); fails on any it cannot express."""
    who = principal(user["metadata"]["name"])  # Strimzi: a SCRAM user's principal is User:<metadata.name>
    authorization = user["spec"].get("authorization")
    if authorization is None:
        return []
    assert authorization["type"] == "simple"
    out = []
    for rule in authorization.get("acls", []):
        assert rule.get("type", "allow") == "allow", rule
        assert rule.get("host", "*") == "*", rule
        assert "operation" not in rule, f"`operation` is not in the v1 API: {rule}"
        resource = rule["resource"]
        assert resource["type"] in RESOURCES, rule
        assert resource["patternType"] in PATTERNS, f"write patternType out (literal or prefix): {rule}"
        kind, pattern = RESOURCES[resource["type"]], PATTERNS[resource["patternType"]]
        for op in rule["operations"]:
            assert op in OPERATIONS, f"{op} is not an operation of the ACL table: {rule}"
            out.append(Acl(who, kind, resource["name"], pattern, OPERATIONS[op]))
    return out


def matches(acl: Acl, name: str) -> bool:
    return acl.name == name if acl.pattern == "literal" else name.startswith(acl.name)


def declared_topics() -> dict[str, TopicSpec]:
    out = {}
    for doc in of_kind("KafkaTopic"):
        spec = doc["spec"]
        name = spec.get("topicName", doc["metadata"]["name"])
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == CLUSTER, name
        assert name not in out, f"{name} declared twice"
        config = {k: str(v) for k, v in spec.get("config", {}).items()}
        out[name] = TopicSpec(name, spec["partitions"], spec["replicas"], config)
    return out


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the worker and the exporter share (config.yaml)."""
    return settings_from(one("ConfigMap", "scamshare-strimzi")["data"], monkeypatch)


# --- the files ------------------------------------------------------------------------------------------


def test_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((STRIMZI / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)
    names = {p.name for p in MANIFESTS}
    assert {"kafka.yaml", "topics.yaml", "users.yaml", "redis.yaml", "gateway.yaml"} <= names


def test_registry_loads_with_the_real_loaders() -> None:
    assert {o.id: sorted(o.roles) for o in ORGS} == {"bank-sg": ["producer"], "telco-th": ["subscriber"]}
    assert [(s.id, s.organisation) for s in SUBS] == [("telco-th", "telco-th")]
    subscribers = {o.id for o in ORGS if o.subscribes}
    assert all(s.organisation in subscribers for s in SUBS)  # what `subscribers load` checks


def test_env_names_are_settings() -> None:
    fields = {f"SCAMSHARE_{name.upper()}" for name in Settings.model_fields}
    names: set[str] = set()
    for doc in documents():
        names |= set(doc.get("data") or {}) | set(doc.get("stringData") or {})
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            names |= {e["name"] for e in container.get("env", [])}
    used = {n for n in names if n.startswith("SCAMSHARE_")}
    assert used, "no SCAMSHARE_ variable found"
    assert used <= fields, used - fields


def test_shared_settings_are_those_of_the_plain_manifests() -> None:
    strimzi = one("ConfigMap", "scamshare-strimzi")["data"]
    plain = next(d for d in documents([STRIMZI.parent / "config.yaml"]) if d["kind"] == "ConfigMap")["data"]
    per_cluster = {"SCAMSHARE_BOOTSTRAP", "SCAMSHARE_KAFKA_OPTIONS"}
    shared = (set(strimzi) & set(plain)) - per_cluster
    assert {"SCAMSHARE_PARTITIONS", "SCAMSHARE_REPLICATION_FACTOR", "SCAMSHARE_TOPIC_PREFIX"} <= shared
    assert {k: strimzi[k] for k in shared} == {k: plain[k] for k in shared}
    assert "SCAMSHARE_KAFKA_OPTIONS" not in strimzi  # each app logs in as its own user (its Deployment)


# --- ACLs -----------------------------------------------------------------------------------------------


def test_the_users_acls_are_the_code_table(settings: Settings) -> None:
    manifest = [acl for user in users().values() for acl in user_acls(user)]
    assert len(manifest) == len(set(manifest)), "a rule is listed twice"
    expected = table.registry_acls(
        ORGS, SUBS, settings.topics, app_id=settings.app_id,
        pipeline_user=settings.pipeline_user, exporter_user=settings.exporter_user,
        gateway_user=settings.gateway_user,
    )  # fmt: skip
    missing = sorted(set(expected) - set(manifest))
    extra = sorted(set(manifest) - set(expected))
    assert not missing and not extra, f"missing {[str(a) for a in missing]}; extra {[str(a) for a in extra]}"


def test_each_user_holds_exactly_its_principals_acls(settings: Settings) -> None:
    topics = settings.topics
    expected = {
        settings.pipeline_user: table.pipeline_acls(settings.pipeline_user, topics, settings.app_id),
        settings.exporter_user: table.exporter_acls(settings.exporter_user, topics),
        settings.gateway_user: table.gateway_acls(settings.gateway_user, topics),
        **{org.id: table.org_acls(org, SUBS, topics) for org in ORGS},
    }
    found = scram_users()
    assert sorted(found) == sorted(expected), "one SCRAM KafkaUser per organisation and service user"
    for name, acls in expected.items():
        assert sorted(set(user_acls(found[name]))) == acls, name


def test_only_the_administrator_is_a_super_user() -> None:
    authorization = KAFKA["spec"]["kafka"]["authorization"]
    assert authorization["type"] == "simple"  # Strimzi: the StandardAuthorizer in KRaft mode
    assert authorization["superUsers"] == ["CN=scamshare-admin"]
    admin = users()["scamshare-admin"]
    assert admin["spec"]["authentication"]["type"] == "tls"  # principal User:CN=scamshare-admin
    assert user_acls(admin) == []
    assert set(users()) - set(scram_users()) == {"scamshare-admin"}
    for name, user in users().items():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == CLUSTER, name


def test_literal_topic_acls_name_declared_topics() -> None:
    declared = declared_topics()
    for user in users().values():
        for acl in user_acls(user):
            if acl.resource == "topic" and acl.pattern == "literal":
                assert acl.name in declared, f"{acl}: no KafkaTopic {acl.name} in topics.yaml"


def test_organisations_touch_only_their_own_topics(settings: Settings) -> None:
    t = settings.topics
    declared = declared_topics()
    shared = {t.indicators, t.dlq, t.submissions, t.sightings}
    for org in ORGS:
        own = {t.submissions_of(org.id)} if org.produces else set()
        if org.subscribes:
            own |= {t.sightings_of(org.id)} | {s.topic(t.prefix) for s in SUBS if s.organisation == org.id}
        acls = user_acls(scram_users()[org.id])
        assert acls, org.id
        for acl in acls:
            assert acl.operation not in ("CREATE", "ALL"), acl
            if acl.resource == "topic":
                assert acl.pattern == "literal" and acl.name in own, acl
            else:
                assert (acl.pattern, acl.name) == ("prefixed", f"{org.id}."), acl
        reachable = {name for name in [*declared, *shared] for acl in acls if acl.resource == "topic"
                     and matches(acl, name)}  # fmt: skip
        assert reachable <= own, f"{org.id} reaches {sorted(reachable - own)}"
        assert not reachable & shared


def test_the_gateway_only_writes_the_organisations_input_topics(settings: Settings) -> None:
    """It produces for whichever organisation a request authenticated as; it never consumes: no READ and
    no group (a consumer group would let it read), no CREATE, and no shared or pipeline topic."""
    t = settings.topics
    acls = user_acls(scram_users()[settings.gateway_user])
    assert acls
    for acl in acls:
        assert acl.resource == "topic", f"the gateway uses no consumer group: {acl}"
        assert acl.operation in ("WRITE", "DESCRIBE"), f"the gateway only produces: {acl}"
    inputs = {t.submissions_of(o.id) for o in ORGS if o.produces} | {t.sightings_of(o.id) for o in ORGS
                                                                      if o.subscribes}  # fmt: skip
    inputs.add(t.submissions_of(CANARY_ORG))
    writable = {name for name in [*declared_topics(), t.submissions, t.sightings] for acl in acls
                if acl.operation == "WRITE" and matches(acl, name)}  # fmt: skip
    assert writable == inputs, sorted(writable ^ inputs)


def test_organisation_group_prefixes_do_not_overlap(settings: Settings) -> None:
    ids = [o.id for o in ORGS]
    for a in ids:
        for b in ids:
            assert a == b or not f"{b}.".startswith(f"{a}."), (a, b)
        # The pipeline owns every group (and topic) whose name starts with the app id.
        assert not a.startswith(settings.app_id), f"{a}: the pipeline's prefix {settings.app_id!r} covers it"


# --- topics ---------------------------------------------------------------------------------------------


def test_topics_are_the_specs_the_code_creates(settings: Settings) -> None:
    t = settings.topics
    expected = [*pipeline_topics(settings)]
    for org in ORGS:
        if org.produces:
            expected.append(input_topic_spec(settings, t.submissions_of(org.id)))
        if org.subscribes:
            expected.append(input_topic_spec(settings, t.sightings_of(org.id)))
    expected += [feed_topic_spec(settings, s.topic(t.prefix)) for s in SUBS]
    # The exporter's canary creates these two (exporter_acls lets it); declared, they are configured here too.
    expected += [
        input_topic_spec(settings, t.submissions_of(CANARY_ORG)),
        feed_topic_spec(settings, t.feed(CANARY_ORG)),
    ]
    assert declared_topics() == {spec.name: spec for spec in expected}
    assert declared_topics()[t.indicators].config["cleanup.policy"] == "compact"


# --- the cluster ----------------------------------------------------------------------------------------


def test_kafka_denies_by_default_on_three_kraft_nodes() -> None:
    spec = KAFKA["spec"]
    assert "zookeeper" not in spec
    config = spec["kafka"]["config"]
    assert config["allow.everyone.if.no.acl.found"] is False
    assert config["auto.create.topics.enable"] is False
    assert config["min.insync.replicas"] == 2
    assert config["default.replication.factor"] == 3
    pools = [p for p in of_kind("KafkaNodePool") if p["metadata"]["labels"]["strimzi.io/cluster"] == CLUSTER]
    assert sum(p["spec"]["replicas"] for p in pools) == 3
    assert all(set(p["spec"]["roles"]) == {"controller", "broker"} for p in pools)


def test_every_listener_is_tls_and_authenticated() -> None:
    listeners = KAFKA["spec"]["kafka"]["listeners"]
    for x in listeners:
        assert x["tls"] is True and x["authentication"]["type"] in ("scram-sha-512", "tls"), x["name"]
    assert listener("scram-sha-512")["port"] == 9092
    assert listener("tls")["port"] == 9093


# --- the apps -------------------------------------------------------------------------------------------


def secret_value(name: str, key: str) -> str:
    return f"secret-{name}-{key}"  # what the pod would get from Secret <name>, key <key>


def container_env(container: Doc) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom ConfigMaps, then env in order, with
    secretKeyRef values as :func:`secret_value` and ``$(VAR)`` expanded from variables defined before."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= one("ConfigMap", source["configMapRef"]["name"])["data"]
    for item in container.get("env", []):
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret_value(ref["name"], ref["key"])
            continue
        value = item["value"]
        for name, defined in env.items():
            value = value.replace(f"$({name})", defined)
        assert "$(" not in value, f"{item['name']}: {value} refers to a variable not defined before it"
        env[item["name"]] = value
    return env


def mounted_secret(pod: Doc, container: Doc, path: str) -> tuple[str, str]:
    """(Secret, key) the file at ``path`` comes from; fails unless the volume mounts only listed keys."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if not PurePosixPath(path).is_relative_to(mount["mountPath"]):
            continue
        relative = PurePosixPath(path).relative_to(mount["mountPath"])
        secret = volumes[mount["name"]]["secret"]
        # Only the listed keys, never the whole Secret (the Redis server's key, the cluster CA's password).
        items = {item["path"]: item["key"] for item in secret["items"]}
        assert str(relative) in items, f"{path}: not one of the items of {secret['secretName']}"
        return secret["secretName"], items[str(relative)]
    raise AssertionError(f"{path} is not mounted")


def redis_server() -> tuple[dict[str, str], Doc, Doc]:
    """redis.conf's directives, and the Redis pod and container."""
    pod = one("StatefulSet", "scamshare-redis")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    conf = one("ConfigMap", "scamshare-redis")["data"]["redis.conf"]
    directives = {}
    for line in conf.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            directives[key] = value
    return directives, pod, container


APPS = [
    ("scamshare-worker", "pipeline_user"),
    ("scamshare-exporter", "exporter_user"),
    ("scamshare-gateway", "gateway_user"),
]


@pytest.mark.parametrize(("deployment", "user_field"), APPS)
def test_each_app_logs_in_as_its_own_user(
    deployment: str, user_field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pod = one("Deployment", deployment)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][0] == "scamshare"
    settings = settings_from(container_env(container), monkeypatch)
    user = getattr(settings, user_field)
    assert user in scram_users()
    conf = settings.librdkafka()
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.username"] == user
    assert conf["sasl.password"] == secret_value(user, "password")  # the User Operator's Secret for it
    assert conf["bootstrap.servers"] == f"{CLUSTER}-kafka-bootstrap:{listener('scram-sha-512')['port']}"
    assert mounted_secret(pod, container, conf["ssl.ca.location"]) == (f"{CLUSTER}-cluster-ca-cert", "ca.crt")
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    secrets |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert secrets == {user, "scamshare-redis", f"{CLUSTER}-cluster-ca-cert", "scamshare-redis-tls"}


@pytest.mark.parametrize("deployment", [name for name, _field in APPS])
def test_each_app_uses_rediss(deployment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    directives, _pod, server = redis_server()
    pod = one("Deployment", deployment)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    url = settings_from(container_env(container), monkeypatch).redis_url_value()
    assert url is not None
    parts = urlsplit(url)
    assert parts.scheme == "rediss"
    assert parts.hostname == one("Service", "scamshare-redis")["metadata"]["name"]
    assert parts.port == int(directives["tls-port"])
    (ref,) = [e["valueFrom"]["secretKeyRef"] for e in server["env"] if e["name"] == "REDIS_PASSWORD"]
    assert parts.password == secret_value(ref["name"], ref["key"])  # the password the server requires
    (ca,) = parse_qs(parts.query)["ssl_ca_certs"]
    assert mounted_secret(pod, container, ca) == ("scamshare-redis-tls", "ca.crt")
    pool = aioredis.Redis.from_url(url).connection_pool  # what RedisStore.from_url builds (no I/O)
    assert pool.connection_class.__name__ == "SSLConnection"
    assert pool.connection_kwargs["ssl_ca_certs"] == ca


def test_redis_requires_a_password_and_tls() -> None:
    directives, pod, container = redis_server()
    assert directives["port"] == "0"  # no plaintext port
    assert int(directives["tls-port"]) == one("Service", "scamshare-redis")["spec"]["ports"][0]["port"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    tls_mount = next(m for m in container["volumeMounts"] if "secret" in volumes[m["name"]])
    assert volumes[tls_mount["name"]]["secret"]["secretName"] == "scamshare-redis-tls"
    for key in ("tls-cert-file", "tls-key-file", "tls-ca-cert-file"):
        assert directives[key].startswith(f"{tls_mount['mountPath']}/"), key
    # requirepass is written at start from the Secret into the file redis.conf includes.
    assert "requirepass" not in directives
    script = " ".join(container["args"])
    assert f"> {directives['include']}" in script
    assert shlex.split(script)[:3] == ["printf", "requirepass %s\\n", "$REDIS_PASSWORD"]
    (password,) = [e for e in container["env"] if e["name"] == "REDIS_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": "scamshare-redis", "key": "password"}


def test_each_organisation_user_carries_its_registered_producer_byte_rate() -> None:
    by_name = users()
    for org in ORGS:
        quota = org.quotas.producer_byte_rate
        spec = by_name[org.id]["spec"]
        if quota is None:
            assert "quotas" not in spec, org.id
        else:
            assert spec["quotas"] == {"producerByteRate": quota}, org.id


# --- the gateway ----------------------------------------------------------------------------------------


def gateway_doc(path: Path, kind: str) -> Doc:
    (found,) = [d for d in documents([path]) if d["kind"] == kind]
    return found


def test_the_gateway_is_the_plain_one_logged_in_to_strimzi() -> None:
    """Service, Ingress (TLS, body limit, mTLS) and NetworkPolicy as in ../gateway.yaml, and the same
    container but for its Kafka and Redis logins (its env, envFrom and the CA volumes)."""
    plain, strimzi = STRIMZI.parent / "gateway.yaml", STRIMZI / "gateway.yaml"
    for kind in ("Service", "Ingress", "NetworkPolicy"):
        assert gateway_doc(strimzi, kind) == gateway_doc(plain, kind), kind
    login = {"env", "envFrom", "volumeMounts"}

    def pod(path: Path) -> tuple[Doc, Doc]:
        spec = dict(gateway_doc(path, "Deployment")["spec"]["template"]["spec"])
        (container,) = spec.pop("containers")
        spec.pop("volumes")
        return spec, {k: v for k, v in container.items() if k not in login}

    assert pod(strimzi) == pod(plain)
    (container,) = gateway_doc(strimzi, "Deployment")["spec"]["template"]["spec"]["containers"]
    (plain_container,) = gateway_doc(plain, "Deployment")["spec"]["template"]["spec"]["containers"]
    gateway_env = [e for e in container["env"] if e["name"].startswith("SCAMSHARE_GATEWAY_")]
    assert gateway_env == plain_container["env"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {m["mountPath"] for m in plain_container["volumeMounts"]} <= mounts


def test_the_gateways_probes_are_readyz_and_healthz() -> None:
    (container,) = one("Deployment", "scamshare-gateway")["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert ports[container[probe]["httpGet"]["port"]] == 8080, probe


def test_the_gateways_ingress_terminates_tls() -> None:
    spec = one("Ingress", "scamshare-gateway")["spec"]
    hosts = {rule["host"] for rule in spec["rules"]}
    assert hosts and {h for tls in spec["tls"] for h in tls["hosts"]} >= hosts
    assert [tls["secretName"] for tls in spec["tls"]] == ["scamshare-gateway-tls"]
