"""An organisation: who a participant of the exchange is, what it may do, and how far it is trusted.

The registry of organisations is the root of identity. A message counts only if it arrived on a channel that
belongs to a registered organisation (its own ``scam.submissions.<org>`` or ``scam.sightings.<org>`` topic,
or the gateway's credential), and it counts as that organisation's, whatever the message says.

Organisation ids contain no ``.``: Kafka's PREFIXED ACLs and consumer-group prefixes (``<org>.``) would
otherwise let ``bank`` match ``bank.sg``'s groups, and ``scam.submissions.<org>`` would be ambiguous.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.config import Topics
from pipeline.state.definitions import DefinitionError, parse_definition, parse_yaml_definitions, read_text
from pipeline.stix.tlp import TLP, parse_tlp
from pipeline.wire.fields import COUNTRY_RE, PRODUCER_ID_RE

#: 1-63 characters of a-z 0-9 _ -, starting with a letter or digit (no '.', see the module docstring).
ORG_ID_RE: Final = PRODUCER_ID_RE
ORG_ID_PATTERN: Final = ORG_ID_RE.pattern

Sector = Literal["telecom", "bank", "platform", "law-enforcement", "other"]
Role = Literal["producer", "subscriber"]
ROLES: Final[tuple[Role, ...]] = ("producer", "subscriber")
#: How an organisation's Kafka clients authenticate: a SCRAM-SHA-512 user named after the org, or an mTLS
#: client certificate whose subject CN the broker maps to ``User:<org>`` (``ssl.principal.mapping.rules``).
AuthKind = Literal["scram", "mtls"]


class Quotas(BaseModel):
    """Limits on what one organisation may submit (enforced by the trust issue's admission step).

    ``None`` means no limit of that kind.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reports_per_hour: int | None = Field(default=None, ge=0, le=100_000_000)
    new_indicators_per_day: int | None = Field(default=None, ge=0, le=100_000_000)
    reports_per_message: int | None = Field(default=None, ge=1, le=100_000)


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
    return parse_definition(Organisation, data, OrgError)


def apply_org_update(current: Organisation, changes: dict[str, Any]) -> Organisation:
    """``current`` with the given fields replaced (``None`` = not given); the id cannot change."""
    given = {k: v for k, v in changes.items() if v is not None}
    if "id" in given and given["id"] != current.id:
        raise OrgError(f"field 'id': cannot change {current.id!r} to {given['id']!r}; add a new one")
    return parse_org({**current.to_json(), **given})


def parse_orgs_yaml(text: str, name: str = "<yaml>") -> list[Organisation]:
    """Every organisation under ``organisations:`` in YAML text; InputError names file, line, entry, field."""
    return parse_yaml_definitions(text, name, key="organisations", parse=parse_org, id_of=lambda o: o.id)


def load_orgs_file(path: Path) -> list[Organisation]:
    """Every organisation in a YAML file (see :func:`parse_orgs_yaml`)."""
    return parse_orgs_yaml(read_text(path), str(path))
