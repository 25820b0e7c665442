"""Canonicalisation: one pure function per indicator kind, dispatched by ``canonicalize``.

Every function takes the raw value (and an optional ISO 3166 alpha-2 country hint) and returns either a
:class:`Canonical` or an :class:`Invalid` with a precise reason. Nothing here raises on bad input, touches
the network or reads the clock. Canonicalisation is idempotent: ``canonicalize(k, c.value) == c``.

>>> c = canonicalize("domain", "WWW.Example.COM.")
>>> c.value, c.sco_id
('www.example.com', 'domain-name--...')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from pipeline.stix.ids import indicator_id, pattern_for, sco_id

#: Indicator kinds (the CLI's TYPE argument) and the STIX SCO type each maps to.
SCO_TYPES: Final[Mapping[str, str]] = {
    "phone": "phone-number",
    "domain": "domain-name",
    "url": "url",
    "email": "email-addr",
    "wallet": "cryptocurrency-wallet",
    "bank-account": "bank-account",
    "social": "user-account",
}
KINDS: Final[tuple[str, ...]] = tuple(SCO_TYPES)
KIND_BY_SCO_TYPE: Final[Mapping[str, str]] = {v: k for k, v in SCO_TYPES.items()}


@dataclass(frozen=True, slots=True)
class Canonical:
    """A canonical observable with its deterministic STIX ids and pattern.

    ``props`` are the SCO's properties (besides type/id/spec_version); ``id_props`` is the subset that
    contributes to the SCO id (STIX 2.1 section 2.9 or our extension definition); ``pattern_props`` are the
    properties the Indicator pattern compares. ``facts`` carries derived, non-STIX facts that later stages
    and the CLI use: ``country`` (ISO alpha-2), ``domain`` (for URLs and e-mails), ``chain``, ``asset``...
    """

    kind: str
    value: str
    props: Mapping[str, str]
    id_props: Mapping[str, str]
    pattern_props: Mapping[str, str]
    facts: Mapping[str, str] = field(default_factory=dict)
    sco_type: str = field(init=False)
    sco_id: str = field(init=False)
    pattern: str = field(init=False)
    indicator_id: str = field(init=False)

    def __post_init__(self) -> None:
        sco_type = SCO_TYPES[self.kind]
        pattern = pattern_for(sco_type, self.pattern_props)
        object.__setattr__(self, "sco_type", sco_type)
        object.__setattr__(self, "sco_id", sco_id(sco_type, self.id_props))
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "indicator_id", indicator_id(pattern))


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a value could not be canonicalised. ``reason`` is a short sentence a person can act on."""

    kind: str
    value: str
    reason: str


Canonicaliser = Callable[[str, "str | None"], "Canonical | Invalid"]


def simple(kind: str, value: str, facts: Mapping[str, str] | None = None, **extra: str) -> Canonical:
    """A Canonical whose id and pattern are ``value`` alone (domain, url, email, phone, wallet)."""
    props = {"value": value, **extra}
    return Canonical(
        kind=kind,
        value=value,
        props=props,
        id_props={"value": value},
        pattern_props={"value": value},
        facts=dict(facts or {}),
    )


def _registry() -> dict[str, Canonicaliser]:
    from pipeline.canon import bank, domain, email, phone, social, url, wallet  # noqa: PLC0415

    return {
        "phone": phone.canonicalize,
        "domain": domain.canonicalize,
        "url": url.canonicalize,
        "email": email.canonicalize,
        "wallet": wallet.canonicalize,
        "bank-account": bank.canonicalize,
        "social": social.canonicalize,
    }


_REGISTRY: dict[str, Canonicaliser] = {}


def canonicalize(kind: str, value: str, *, country: str | None = None) -> Canonical | Invalid:
    """Canonicalise ``value`` of ``kind`` (one of :data:`KINDS`); never raises on bad input."""
    if not _REGISTRY:
        _REGISTRY.update(_registry())
    fn = _REGISTRY.get(kind)
    if fn is None:
        return Invalid(kind, value, f"unknown indicator type {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(value, str) or not value.strip():
        return Invalid(kind, str(value), "empty value")
    if len(value) > 4096:
        return Invalid(kind, value[:64] + "...", "value longer than 4096 characters")
    hint = country.strip().upper() if country and country.strip() else None
    return fn(value, hint)


__all__ = ["KINDS", "KIND_BY_SCO_TYPE", "SCO_TYPES", "Canonical", "Invalid", "canonicalize", "simple"]
