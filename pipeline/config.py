"""One settings object, built once at the edge (the CLI) and passed down.

Every field reads from an environment variable with the ``SCAMSHARE_`` prefix
(``SCAMSHARE_BOOTSTRAP``, ``SCAMSHARE_REDIS_URL``, ``SCAMSHARE_TOPIC_PREFIX`` ...).
Kafka client options pass through 1:1 under their librdkafka names in
``kafka_options`` (``SCAMSHARE_KAFKA_OPTIONS='{"security.protocol": "SASL_SSL"}'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: librdkafka option names whose values are never printed.
_SECRET_MARKERS = ("password", "secret", "key.pem", "token", "sasl.oauthbearer.config")

CompressionType = Literal["none", "gzip", "snappy", "lz4", "zstd"]


@dataclass(frozen=True, slots=True)
class Topics:
    """The pipeline's topic names, derived from one prefix."""

    prefix: str

    @property
    def submissions(self) -> str:
        return f"{self.prefix}submissions"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}dlq"

    @property
    def indicators(self) -> str:
        return f"{self.prefix}indicators"

    @property
    def sightings(self) -> str:
        return f"{self.prefix}sightings"

    def submissions_of(self, org_id: str) -> str:
        """The submissions topic only ``org_id`` may write: ``scam.submissions.<org>``."""
        return f"{self.submissions}.{org_id}"

    def sightings_of(self, org_id: str) -> str:
        """The sightings topic only ``org_id`` may write: ``scam.sightings.<org>``."""
        return f"{self.sightings}.{org_id}"

    def feed(self, subscriber_id: str) -> str:
        """Default feed topic of one subscriber: ``scam.feed.<id>``."""
        return f"{self.prefix}feed.{subscriber_id}"

    def core(self) -> tuple[str, ...]:
        return (self.submissions, self.dlq, self.indicators, self.sightings)


class Settings(BaseSettings):
    """All configuration of scamshare. Construct once; pass it down."""

    model_config = SettingsConfigDict(env_prefix="SCAMSHARE_", extra="ignore", frozen=True)

    # --- Kafka -------------------------------------------------------------------------------------
    bootstrap: str | None = Field(
        default=None, description="Kafka bootstrap servers (host:port,...). Unset: use `scamshare dev up`."
    )
    kafka_options: dict[str, str] = Field(
        default_factory=dict, description="Extra librdkafka options, passed through as-is."
    )
    sasl_password: SecretStr | None = Field(default=None, description="Maps to librdkafka sasl.password.")
    ssl_key_password: SecretStr | None = Field(
        default=None, description="Maps to librdkafka ssl.key.password."
    )
    topic_prefix: str = Field(default="scam.", description="Prefix of every pipeline topic.")
    org: str | None = Field(
        default=None,
        description="The organisation this client speaks for (its own topics and group prefix); unset = "
        "the one in credentials_file.",
    )
    credentials_file: Path | None = Field(
        default=None,
        description="An organisation's credentials as `scamshare orgs add` wrote them (JSON: org, bootstrap, "
        "kafka_options); its options are merged under kafka_options.",
    )
    pipeline_user: str = Field(
        default="scamshare-pipeline", description="Kafka user of the worker (the ACL table's pipeline)."
    )
    exporter_user: str = Field(default="scamshare-exporter", description="Kafka user of the lag exporter.")
    gateway_user: str = Field(default="scamshare-gateway", description="Kafka user of the HTTP gateway.")
    insecure: bool = Field(
        default=False,
        description="Let the worker use PLAINTEXT to a broker that is not on loopback (no identity at all).",
    )
    partitions: int = Field(default=4, ge=1, le=10_000)
    replication_factor: int = Field(default=1, ge=1, le=32)
    kafka_cache: Path | None = Field(
        default=None,
        description="Where `dev up --broker kafka` keeps the Apache Kafka jars; unset = ~/.cache/scamshare.",
    )
    min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        le=32,
        description="Topic min.insync.replicas; unset = replication factor - 1 (2 of 3), at least 1. "
        "With acks=all a write then survives the loss of one broker.",
    )
    retention_submissions_ms: int = Field(default=7 * 86_400_000, ge=-1, description="-1 = keep for ever.")
    retention_dlq_ms: int = Field(default=30 * 86_400_000, ge=-1, description="Rejects stay to be looked at.")
    retention_feeds_ms: int = Field(
        default=30 * 86_400_000, ge=-1, description="How long a subscriber can be away and catch up."
    )
    retention_sightings_ms: int = Field(default=30 * 86_400_000, ge=-1)
    compression: CompressionType = "lz4"
    linger_ms: int = Field(default=5, ge=0, le=10_000)
    consumer_fetch_max_wait_ms: int = Field(
        default=20,
        ge=1,
        le=30_000,
        description="Longest a consumer's fetch waits for data (librdkafka fetch.wait.max.ms; also the faust "
        "worker's). Low by default: the embedded broker holds a fetch for the whole wait. On Apache Kafka it "
        "only bounds idle polling (deploy/ sets 500).",
    )
    session_timeout_ms: int = Field(
        default=6000,
        ge=1000,
        description="Consumer-group session timeout. Low by default: the embedded broker holds a join "
        "for about half of it (ENVIRONMENT.md).",
    )

    # --- Redis -------------------------------------------------------------------------------------
    redis_url: SecretStr | None = Field(default=None, description="redis://[:password@]host:port/db")
    redis_key_prefix: str = Field(default="ss:", description="Prefix of every Redis key scamshare writes.")
    redis_cluster: bool = Field(default=False, description="redis_url is one node of a Redis Cluster: the "
        "clients discover the others and send each key to the primary of its slot.")  # fmt: skip

    # --- Worker ------------------------------------------------------------------------------------
    app_id: str = Field(
        default="scamshare", description="faust app id = consumer-group id of the processors."
    )
    worker_batch_size: int = Field(default=1000, ge=1, le=100_000)
    worker_batch_within_s: float = Field(default=0.05, gt=0, le=10)
    #: a batch closes when no message came for this long (or it is full, or within_s passed)
    worker_batch_gap_s: float = Field(default=0.002, gt=0, le=10)
    worker_web_port: int | None = Field(default=None, description="faust web port; unset = web server off.")
    decay_interval_s: float = Field(
        default=60.0,
        ge=0.1,
        description="How often the leader worker examines the next slice for score decay.",
    )
    decay_batch: int = Field(
        default=1000, ge=1, le=100_000, description="Indicators examined per decay tick."
    )
    dedup_window_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="How long a submission id is remembered for idempotency."
    )
    state_grace_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="How long an indicator's state outlives its validity (valid_until) before Redis expires "
        "it, with its delivery marks: a late sighting or report within the grace still finds it.",
    )
    max_message_bytes: int = Field(default=1_000_000, ge=1024)
    max_objects_per_bundle: int = Field(default=1000, ge=1)
    max_json_depth: int = Field(default=32, ge=2)

    # --- Identity ----------------------------------------------------------------------------------
    registry_refresh_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often the worker re-reads the organisation registry and subscribes to the topics "
        "of newly registered organisations (a new organisation is consumed within about this + a rebalance).",
    )

    # --- Trust: scores, suppression, quotas -----------------------------------------------------------
    min_corroboration: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Distinct organisations (reporters and true-positive sighters) a view needs before its "
        "score may reach the blocking band; one organisation alone stays below it.",
    )
    corroboration_diversity: Literal["sector", "country"] | None = Field(
        default=None, description="If set, those organisations must also differ in sector (or country)."
    )
    fp_quorum: int = Field(
        default=2,
        ge=1,
        le=100,
        description="False-positive organisations needed to suppress an indicator (and more of them than "
        "organisations that support it); reversible.",
    )
    quotas_enforced: bool = Field(
        default=True, description="Apply each organisation's quotas (over-quota messages are held, not lost)."
    )
    max_held_per_org: int = Field(
        default=100_000, ge=1, description="Held messages per organisation before new ones go to the DLQ."
    )

    # --- Enrichment and allowlists -------------------------------------------------------------------
    allowlist_file: Path | None = Field(
        default=None, description="YAML allowlist (held, never fanned out); unset = the bundled sample list."
    )
    brands_file: Path | None = Field(
        default=None, description="YAML protected brands for look-alike detection; unset = bundled list."
    )
    hosts_file: Path | None = Field(
        default=None,
        description="YAML shortener / link-in-bio / free-mail / disposable hosts; unset = bundled.",
    )
    enrichment_ttl_s: int = Field(default=24 * 3600, ge=60, description="How long enrichment stays cached.")
    online_enrichers: list[Literal["dns", "rdap"]] = Field(
        default_factory=list, description="Online enrichers to run (off by default): dns, rdap."
    )
    online_timeout_s: float = Field(default=2.0, gt=0, le=60, description="Timeout of one online lookup.")
    rdap_url: str = Field(default="https://rdap.org/", description="RDAP service for the rdap enricher.")

    # --- Gateway (HTTP) ----------------------------------------------------------------------------
    gateway_host: str = Field(default="127.0.0.1", description="Address `scamshare gateway` listens on.")
    gateway_port: int = Field(default=8080, ge=0, le=65535)
    gateway_rate_limit: int = Field(
        default=6000, ge=1, description="Requests one API key may make per gateway_rate_window_s."
    )
    gateway_rate_window_s: int = Field(default=60, ge=1, le=3600)
    gateway_max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest request body (TAXII max_content_length)."
    )
    gateway_page_limit: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Most objects one TAXII page returns (a bigger limit is cut).",
    )
    gateway_lookup_batch: int = Field(
        default=1000, ge=1, le=10_000, description="Most values per POST lookup."
    )
    gateway_client_cert_header: str | None = Field(
        default=None,
        description="Trust this header for a client certificate subject verified by the TLS proxy in front "
        "(e.g. ssl-client-subject-dn from ingress-nginx); unset = API keys only. Only set it when nothing "
        "but that proxy can reach the gateway.",
    )
    gateway_public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="The URL clients reach the gateway at (https://gateway.example), for the API root URLs "
        "TAXII discovery advertises; unset = the URL of the request as this process saw it.",
    )
    gateway_ack_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="How long a submission waits for the broker's acknowledgement.",
    )

    # --- Local state -------------------------------------------------------------------------------
    state_dir: Path = Field(default=Path(".scamshare"), description="Where `scamshare dev` keeps its state.")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_is_topic_safe(cls, value: str) -> str:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        if not set(value) <= allowed:
            raise ValueError("topic_prefix may only use letters, digits, '.', '_' and '-'")
        return value

    def model_post_init(self, context: Any, /) -> None:
        creds = read_credentials(self.credentials_file) if self.credentials_file else None
        object.__setattr__(self, "_credentials", creds)

    @property
    def credentials(self) -> Credentials | None:
        """The organisation credentials read from ``credentials_file`` (None when unset)."""
        creds: Credentials | None = getattr(self, "_credentials", None)
        return creds

    @property
    def org_id(self) -> str | None:
        """The organisation this client speaks for: ``org``, else the credentials file's."""
        if self.org:
            return self.org
        return self.credentials.org if self.credentials else None

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def dev_file(self) -> Path:
        return self.state_dir / "dev.json"

    def redis_url_value(self) -> str | None:
        return self.redis_url.get_secret_value() if self.redis_url else None

    def librdkafka(self, **overrides: Any) -> dict[str, Any]:
        """Client configuration in librdkafka names: bootstrap + pass-through + secrets + overrides."""
        conf: dict[str, Any] = {}
        creds = self.credentials
        if creds is not None:
            if creds.bootstrap:
                conf["bootstrap.servers"] = creds.bootstrap
            conf.update(creds.kafka_options)
        if self.bootstrap:
            conf["bootstrap.servers"] = self.bootstrap
        conf.update(self.kafka_options)
        if self.sasl_password is not None:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_key_password is not None:
            conf["ssl.key.password"] = self.ssl_key_password.get_secret_value()
        conf.update(overrides)
        return conf

    def replace(self, **overrides: Any) -> Settings:
        """A re-validated copy with the given fields replaced; ``None`` means "not given" (keeps the value).

        Raises pydantic's ValidationError when a value is invalid.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        data = self.model_dump()
        for secret in ("redis_url", "sasl_password", "ssl_key_password"):
            value = getattr(self, secret)
            data[secret] = value.get_secret_value() if value is not None else None
        data.update(given)
        return Settings.model_validate(data)

    def redacted(self) -> dict[str, Any]:
        """Settings as a JSON-able dict with every secret masked, for `scamshare config`."""
        data = self.model_dump(mode="json")
        data["kafka_options"] = redact_options(self.kafka_options)
        for key in ("sasl_password", "ssl_key_password"):
            data[key] = "**********" if getattr(self, key) is not None else None
        data["redis_url"] = redact_url(self.redis_url_value())
        return data


class CredentialsError(ValueError):
    """A credentials file cannot be read or is malformed (the message names the file)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """An organisation's Kafka credentials file (written once by `scamshare orgs add`)."""

    org: str
    bootstrap: str | None
    kafka_options: dict[str, str]


def read_credentials(path: Path) -> Credentials:
    """Read a credentials file; raises CredentialsError naming the file and the problem."""
    import json  # noqa: PLC0415

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read credentials: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CredentialsError(f"{path}: credentials are not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("org"), str) or not doc["org"]:
        raise CredentialsError(f"{path}: credentials need an 'org' string")
    options = doc.get("kafka_options", {})
    if not isinstance(options, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in options.items()
    ):
        raise CredentialsError(f"{path}: 'kafka_options' must map librdkafka option names to strings")
    bootstrap = doc.get("bootstrap")
    if bootstrap is not None and not isinstance(bootstrap, str):
        raise CredentialsError(f"{path}: 'bootstrap' must be a string")
    return Credentials(org=doc["org"], bootstrap=bootstrap, kafka_options=dict(options))


def redact_options(options: dict[str, str]) -> dict[str, str]:
    """Mask the values of librdkafka options that hold secrets."""
    return {k: ("**********" if any(m in k for m in _SECRET_MARKERS) else v) for k, v in options.items()}


def redact_url(url: str | None) -> str | None:
    """Mask the password in ``redis://user:password@host``."""
    if not url or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:**********@{host}"


def default(name: str) -> Any:
    """The default of a Settings field: the one place a default is written (components reuse it).

    >>> default("dedup_window_s")
    604800
    """
    return Settings.model_fields[name].default
