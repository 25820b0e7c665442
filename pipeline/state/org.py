"""An organisation: who a participant of the exchange is, what it may do, and how far it is trusted.

The registry of organisations is the root of identity. A message counts only if it arrived on a channel that
belongs to a registered organisation (its own ``scam.submissions.<org>`` or ``scam.sightings.<org>`` topic,
or the gateway's credential), and it counts as that organisation's, whatever the message says.

Organisation ids contain no ``.``: Kafka's PREFIXED ACLs and consumer-group prefixes (``<org>.``) would
otherwise let ``bank`` match ``bank.sg``'s groups, and ``scam.submissions.<org>`` would be ambiguous.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config import Topics
from pipeline.state.definitions import DefinitionError, parse_definition, parse_yaml_definitions, read_text
from pipeline.stix.tlp import TLP, parse_tlp
from pipeline.wire.fields import COUNTRY_RE, PRODUCER_ID_RE

logger = logging.getLogger(__name__)

#: 1-63 characters of a-z 0-9 _ -, starting with a letter or digit (no '.', see the module docstring).
ORG_ID_RE: Final = PRODUCER_ID_RE
ORG_ID_PATTERN: Final = ORG_ID_RE.pattern

Sector = Literal["telecom", "bank", "platform", "law-enforcement", "other"]
Role = Literal["producer", "subscriber"]
ROLES: Final[tuple[Role, ...]] = ("producer", "subscriber")
#: How an organisation's Kafka clients authenticate: a SCRAM-SHA-512 user named after the org, or an mTLS
#: client certificate whose subject CN the broker maps to ``User:<org>`` (``ssl.principal.mapping.rules``).
AuthKind = Literal["scram", "mtls"]


#: Quota fields of earlier releases (never enforced): dropped when a stored record is read, refused in a
#: definition with the field that replaced them.
RETIRED_QUOTAS: Final[dict[str, str | None]] = {
    "reports_per_hour": "reports_per_second",
    "new_indicators_per_day": "new_indicators_per_hour",
    "reports_per_message": None,
}


class Quotas(BaseModel):
    """Limits on what one organisation may send; ``None`` means unlimited, 0 means none at all.

    The exchange's admission step counts the first three per organisation; ``producer_byte_rate`` is the
    broker's own: ``scamshare orgs add|update|load`` set it on Apache Kafka as a client quota of the org's
    user (``user=<org>``), which throttles every producer that logs in as it. The defaults suit a
    participant of a national exchange; raise them for the big reporters.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    new_indicators_per_hour: int | None = Field(
        default=10_000, ge=0, description="indicators it may report first (new to the exchange) per hour"
    )
    reports_per_second: int | None = Field(
        default=200, ge=0, description="reports (one indicator each) it may submit per second"
    )
    sightings_per_hour: int | None = Field(
        default=5_000, ge=0, description="sightings it may report per hour"
    )
    producer_byte_rate: int | None = Field(
        default=1_048_576,
        ge=0,
        description="bytes per second the broker lets its Kafka user produce (a client quota; 1 MiB/s)",
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not RETIRED_QUOTAS.keys() & data.keys():
            return data
        dropped = {k: data[k] for k in RETIRED_QUOTAS if data.get(k) is not None}
        if dropped:  # parse_org refuses these in a definition; a stored record must still load
            logger.warning("retired quota fields dropped (they were never enforced): %s", dropped)
        return {k: v for k, v in data.items() if k not in RETIRED_QUOTAS}


class Organisation(BaseModel):
    """One registered participant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=ORG_ID_PATTERN, description="lower-case id; also its Kafka user name")]
    name: str = Field(min_length=1, max_length=200)
    sector: Sector
    country: str | None = Field(default=None, description="ISO 3166 alpha-2 of its home country")
    roles: frozenset[Role] = Field(description="producer (reports), subscriber (feeds, sightings), or both")
    trust: float = Field(default=0.5, ge=0, le=1, description="weight of its reports in the score")
    default_tlp: TLP = Field(default=TLP.AMBER, description="TLP of its reports that carry no marking")
    default_confidence: int = Field(
        default=50, ge=0, le=100, description="confidence of its reports that state none"
    )
    quotas: Quotas = Field(default_factory=Quotas)
    auth: AuthKind = "scram"
    cert_cn: str | None = Field(
        default=None, min_length=1, max_length=255, description="mTLS: the subject CN of its certificate"
    )

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        code = str(value).strip().upper()
        if not COUNTRY_RE.match(code):
            raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code")
        return code

    @field_validator("roles", mode="before")
    @classmethod
    def _roles(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else list(value or [])
        unknown = [r for r in items if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown role(s) {unknown}; expected some of {list(ROLES)}")
        if not items:
            raise ValueError(f"at least one role is required ({', '.join(ROLES)})")
        return frozenset(items)

    @field_validator("default_tlp", mode="before")
    @classmethod
    def _tlp(cls, value: Any) -> Any:
        if isinstance(value, str):
            level = parse_tlp(value)
            if level is None:
                raise ValueError(f"{value!r} is not a TLP level (clear, green, amber, amber+strict, red)")
            return level
        return value

    @model_validator(mode="after")
    def _auth(self) -> Organisation:
        if self.auth == "mtls" and not self.cert_cn:
            raise ValueError("auth mtls needs cert_cn: the subject CN of the org's client certificate")
        if self.auth == "scram" and self.cert_cn:
            raise ValueError("cert_cn is only used with auth: mtls")
        return self

    @property
    def produces(self) -> bool:
        return "producer" in self.roles

    @property
    def subscribes(self) -> bool:
        return "subscriber" in self.roles

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["default_tlp"] = TLP(self.default_tlp).label
        data["roles"] = sorted(data["roles"])
        return data


def own_topics(org: Organisation, topics: Topics) -> list[str]:
    """The input topics that are ``org``'s alone: its submissions topic if it produces, its sightings topic
    if it subscribes."""
    return [
        *([topics.submissions_of(org.id)] if org.produces else []),
        *([topics.sightings_of(org.id)] if org.subscribes else []),
    ]


def org_of_topic(topic: str, base: str) -> str | None:
    """The organisation a per-org topic belongs to: ``scam.submissions.bank-sg`` → ``bank-sg``.

    None when ``topic`` is not ``<base>.<org id>`` (the shared topic itself, or a name no org can have).

    >>> org_of_topic("scam.submissions.bank-sg", "scam.submissions")
    'bank-sg'
    >>> org_of_topic("scam.submissions", "scam.submissions") is None
    True
    """
    head, dot, org = topic.rpartition(".")
    if not dot or head != base or not ORG_ID_RE.match(org):
        return None
    return org


class OrgError(DefinitionError):
    """An organisation definition is invalid, or names an organisation that does (not) exist."""


def parse_org(data: Any) -> Organisation:
    """Validate one definition (a mapping); raises OrgError naming each bad field."""
    quotas = data.get("quotas") if isinstance(data, Mapping) else None
    if isinstance(quotas, Mapping):
        retired = [k for k in RETIRED_QUOTAS if k in quotas]
        if retired:
            fixes = [f"{k} → {RETIRED_QUOTAS[k]}" if RETIRED_QUOTAS[k] else f"{k} (drop it)" for k in retired]
            raise OrgError(f"field 'quotas': retired field(s) {retired}; use {', '.join(fixes)}")
    return parse_definition(Organisation, data, OrgError)


def apply_org_update(current: Organisation, changes: dict[str, Any]) -> Organisation:
    """``current`` with the given fields replaced (``None`` = not given); the id cannot change.

    ``quotas`` is merged key by key: ``{"reports_per_second": None}`` makes that one unlimited and keeps
    the others.
    """
    given = {k: v for k, v in changes.items() if v is not None}
    if "id" in given and given["id"] != current.id:
        raise OrgError(f"field 'id': cannot change {current.id!r} to {given['id']!r}; add a new one")
    if isinstance(given.get("quotas"), Mapping):
        given["quotas"] = {**current.quotas.model_dump(), **given["quotas"]}
    return parse_org({**current.to_json(), **given})


def parse_orgs_yaml(text: str, name: str = "<yaml>") -> list[Organisation]:
    """Every organisation under ``organisations:`` in YAML text; InputError names file, line, entry, field."""
    return parse_yaml_definitions(text, name, key="organisations", parse=parse_org, id_of=lambda o: o.id)


def load_orgs_file(path: Path) -> list[Organisation]:
    """Every organisation in a YAML file (see :func:`parse_orgs_yaml`)."""
    return parse_orgs_yaml(read_text(path), str(path))
