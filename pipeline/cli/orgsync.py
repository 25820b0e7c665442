"""What ``scamshare orgs`` and ``subscribers`` do on the broker: topics always; users and ACLs where the
broker has an authorizer (Apache Kafka with the StandardAuthorizer); each organisation's producer byte-rate
client quota where the broker has client quotas (Apache Kafka). The embedded broker has neither, and the
commands say so instead of failing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError as ClientError
from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from pipeline.config import Settings
from pipeline.errors import KafkaError
from pipeline.identity import credentials, kafka_admin, quotas
from pipeline.identity.acls import Acl, org_acls, principal, registry_acls
from pipeline.kafka.clients import build_admin
from pipeline.kafka.topics import ensure_topics, input_topic_spec
from pipeline.state.org import Organisation, own_topics
from pipeline.state.redis_store import RedisStore
from pipeline.state.subscription import Subscription

NO_AUTHORIZER = "the broker has no ACLs (embedded broker): identity is by topic only, no user was created"


def broker_enforces_acls(admin: AdminClient, timeout: float = 10.0) -> bool:
    """Whether the broker has an authorizer.

    The embedded broker (tansu) reports no authorised operations for the cluster (None); Apache Kafka
    without an authorizer reports them but answers an ACL request with ``SECURITY_DISABLED`` (a delete of
    a binding no one has, so the probe changes nothing).
    """
    try:
        cluster = admin.describe_cluster(include_authorized_operations=True, request_timeout=timeout)
        if cluster.result(timeout=timeout + 5).authorized_operations is None:
            return False
        probe = AclBindingFilter(
            ResourceType.TOPIC, "__scamshare_acl_probe__", ResourcePatternType.LITERAL,
            "User:__scamshare_acl_probe__", "*", AclOperation.ANY, AclPermissionType.ANY,
        )  # fmt: skip
        for future in admin.delete_acls([probe], request_timeout=timeout).values():
            future.result(timeout=timeout + 5)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if isinstance(err, ClientError) and err.code() == ClientError.SECURITY_DISABLED:
            return False
        if "SECURITY_DISABLED" in str(exc) or "No Authorizer" in str(exc):
            return False
        raise KafkaError(f"could not tell whether the broker enforces ACLs (as admin?): {exc}") from exc
    return True


def sync_quota(settings: Settings, org_id: str, expected: float | None) -> tuple[bool, str]:
    """Make ``org_id``'s producer byte-rate quota ``expected`` (None: none); (broker has quotas, a note)."""
    try:
        outcome = quotas.sync_user_quota(settings, org_id, expected)
    except quotas.QuotasUnsupportedError:
        return False, quotas.UNSUPPORTED
    if expected is None:
        return True, "producer quota removed" if outcome == "removed" else "no producer quota"
    return True, f"producer quota {expected:.0f} B/s {'set' if outcome == 'set' else 'unchanged'}"


def registry(settings: Settings) -> tuple[list[Organisation], list[Subscription]]:

    async def read() -> tuple[list[Organisation], list[Subscription]]:
        store = RedisStore.from_settings(settings)
        try:
            return (await store.organisations())[1], (await store.subscriptions())[1]
        finally:
            await store.close()

    return asyncio.run(read())


@dataclass
class Provisioned:
    """What provisioning did on the broker."""

    topics: dict[str, str] = field(default_factory=dict)
    secured: bool = False
    user: str | None = None
    secret: str | None = None
    credentials: Path | None = None
    acls_added: int = 0
    acls_removed: int = 0
    quotas_supported: bool = False
    producer_byte_rate: float | None = None
    quota: str | None = None  # what was done about the quota, in words

    @property
    def summary(self) -> str:
        parts = [f"topics {', '.join(f'{t} ({r})' for t, r in self.topics.items()) or 'none'}"]
        if not self.secured:
            parts.append(NO_AUTHORIZER)
        else:
            parts.append(f"ACLs +{self.acls_added} -{self.acls_removed}")
            if self.user:
                parts.append(f"user {self.user} created")
            if self.credentials:
                parts.append(f"credentials written to {self.credentials}")
        if self.quota:
            parts.append(self.quota)
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "topics": self.topics, "acls_enforced": self.secured, "user_created": self.user,
            "credentials_file": str(self.credentials) if self.credentials else None,
            "acls_added": self.acls_added, "acls_removed": self.acls_removed,
            "quotas_supported": self.quotas_supported, "producer_byte_rate": self.producer_byte_rate,
            "summary": self.summary,
        }  # fmt: skip


def provision(
    settings: Settings,
    org: Organisation,
    credentials_out: Path | None,
    public_bootstrap: str | None,
    *,
    create_user: bool = True,
    print_secret: bool = True,
) -> Provisioned:
    """Create ``org``'s topics; where the broker has ACLs, its user (once) and exactly its ACLs; where it
    has client quotas, its user's producer byte rate (``quotas.producer_byte_rate``; None removes it)."""
    admin = build_admin(settings)
    out = Provisioned(
        topics=ensure_topics(admin, [input_topic_spec(settings, n) for n in own_topics(org, settings.topics)])
    )
    out.producer_byte_rate = quotas.producer_quota(org)
    out.quotas_supported, out.quota = sync_quota(settings, org.id, out.producer_byte_rate)
    if not broker_enforces_acls(admin):
        return out
    out.secured = True
    _orgs, subs = registry(settings)
    out.acls_added, out.acls_removed = sync_acls(
        admin, set(org_acls(org, subs, settings.topics)), principal(org.id)
    )
    if create_user and org.auth == "scram" and org.id not in kafka_admin.scram_users(admin):
        secret = kafka_admin.create_scram_user(admin, org.id)
        out.user = org.id
        if credentials_out is not None:
            options = {
                "security.protocol": settings.librdkafka().get("security.protocol", "SASL_SSL"),
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": org.id,
                "sasl.password": secret,
            }
            bootstrap = public_bootstrap or settings.librdkafka().get("bootstrap.servers")
            credentials.write_credentials(credentials_out, org.id, bootstrap, options)
            out.credentials = credentials_out
        elif print_secret:
            out.secret = secret
    return out


def sync_acls(admin: AdminClient, expected: set[Acl], who: str) -> tuple[int, int]:
    """Make ``who``'s ACLs exactly ``expected``; returns (added, removed)."""
    actual = set(kafka_admin.current_acls(admin, [who]))
    drift = kafka_admin.acl_drift(expected, actual)
    if drift.missing:
        kafka_admin.create_acls(admin, drift.missing)
    if drift.extra:
        kafka_admin.delete_acls(admin, drift.extra)
    return len(drift.missing), len(drift.extra)


def sync_org(settings: Settings, org_id: str) -> int | None:
    """Re-apply one organisation's ACLs after its subscriptions changed; None without an authorizer."""
    admin = build_admin(settings)
    if not broker_enforces_acls(admin):
        return None
    orgs, subs = registry(settings)
    org = next((o for o in orgs if o.id == org_id), None)
    expected = set(org_acls(org, subs, settings.topics)) if org is not None else set()
    added, removed = sync_acls(admin, expected, principal(org_id))
    return added + removed


def deprovision(settings: Settings, org_id: str) -> str | None:
    """Delete ``org_id``'s ACLs and SCRAM user where the broker has ACLs, and its producer quota where it
    has client quotas; a note saying what happened."""
    admin = build_admin(settings)
    _supported, quota = sync_quota(settings, org_id, None)
    if not broker_enforces_acls(admin):
        return f"the broker has no ACLs: nothing to delete there; {quota}"
    acls = set(kafka_admin.current_acls(admin, [principal(org_id)]))
    kafka_admin.deprovision_org(admin, settings, org_id, acls)
    return f"{len(acls)} ACL(s) and its user deleted; {quota}"


@dataclass
class CheckReport:
    secured: bool
    missing: list[Acl] = field(default_factory=list)
    extra: list[Acl] = field(default_factory=list)
    quotas_supported: bool = False
    quota_drift: list[quotas.QuotaMismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.quota_drift)

    def lines(self) -> list[str]:
        if not self.secured:
            out = [NO_AUTHORIZER.replace(", no user was created", "")]
        else:
            out = [f"missing {a}" for a in self.missing] + [f"extra   {a}" for a in self.extra]
            out = out or ["ACLs match the registry"]
        if not self.quotas_supported:
            return [*out, quotas.UNSUPPORTED]
        return [*out, *(f"quota   {m}" for m in self.quota_drift)] if self.quota_drift else [
            *out, "producer quotas match the registry"]  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "acls_enforced": self.secured, "ok": self.ok,
            "missing": [str(a) for a in self.missing], "extra": [str(a) for a in self.extra],
            "quotas_supported": self.quotas_supported,
            "quota_drift": [
                {"user": m.user, "expected": m.expected, "actual": m.actual} for m in self.quota_drift
            ],
        }  # fmt: skip


def check_quotas(settings: Settings, orgs: list[Organisation]) -> tuple[bool, list[quotas.QuotaMismatch]]:
    """(broker has client quotas, registered users whose producer quota differs from the registry's)."""
    expected = quotas.registry_quotas(orgs)
    try:
        actual = quotas.describe_user_quotas(settings, expected if len(expected) == 1 else None)
    except quotas.QuotasUnsupportedError:
        return False, []
    return True, quotas.quota_drift(expected, actual)


def check(settings: Settings) -> CheckReport:
    """The registry's ACLs against the broker's (every ALLOW binding on the broker is compared), and each
    registered organisation's producer quota against its user's on the broker."""
    admin = build_admin(settings)
    orgs, subs = registry(settings)
    supported, quota_drift = check_quotas(settings, orgs)
    if not broker_enforces_acls(admin):
        return CheckReport(secured=False, quotas_supported=supported, quota_drift=quota_drift)
    expected = registry_acls(
        orgs, subs, settings.topics, app_id=settings.app_id,
        pipeline_user=settings.pipeline_user, exporter_user=settings.exporter_user,
        gateway_user=settings.gateway_user,
    )  # fmt: skip
    drift = kafka_admin.acl_drift(expected, kafka_admin.current_acls(admin, None))
    return CheckReport(True, list(drift.missing), list(drift.extra), supported, quota_drift)
