"""Canonicalisation: one pure function per indicator kind, dispatched by ``canonicalize``.

Every function takes the raw value (and an optional ISO 3166 alpha-2 country hint) and returns either a
:class:`Canonical` or an :class:`Invalid` with a precise reason. Nothing here raises on bad input, touches
the network or reads the clock. Canonicalisation is idempotent: ``canonicalize(k, c.value) == c``.

What a kind is (SCO type, schema, half-life, input mappings, ...) is declared once, next to its
canonicaliser, and registered in :data:`REGISTRY` (:mod:`pipeline.canon.kinds`); :data:`KINDS`,
:data:`SCO_TYPES` and :data:`KIND_BY_SCO_TYPE` are derived from it.

>>> c = canonicalize("domain", "WWW.Example.COM.")
>>> c.value, c.sco_id
('example.com', 'domain-name--...')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pipeline.canon.core import Canonical, Canonicaliser, Invalid, simple
from pipeline.canon.kinds import REGISTRY
from pipeline.canon.registry import Kind, KindError, Registry

#: Indicator kinds (the CLI's TYPE argument), in declaration order.
KINDS: Final[tuple[str, ...]] = REGISTRY.names
#: Kind → the STIX SCO type it maps to.
SCO_TYPES: Final[Mapping[str, str]] = {k.name: k.sco_type for k in REGISTRY}
KIND_BY_SCO_TYPE: Final[Mapping[str, str]] = {k.sco_type: k.name for k in REGISTRY}
#: New SCO type → its new-sco extension definition id (only the types scamshare defines).
NEW_SCO_EXTENSION_IDS: Final[Mapping[str, str]] = {
    k.sco_type: k.new_sco.extension_id for k in REGISTRY if k.new_sco is not None
}
_CANONICALISERS: Final[Mapping[str, Canonicaliser]] = {k.name: k.canonicalize for k in REGISTRY}


def canonicalize(kind: str, value: str, *, country: str | None = None) -> Canonical | Invalid:
    """Canonicalise ``value`` of ``kind`` (one of :data:`KINDS`); never raises on bad input."""
    fn = _CANONICALISERS.get(kind)
    if fn is None:
        return Invalid(kind, value, f"unknown indicator type {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(value, str) or not value.strip():
        return Invalid(kind, str(value), "empty value")
    if len(value) > 4096:
        return Invalid(kind, value[:64] + "...", "value longer than 4096 characters")
    hint = country.strip().upper() if country and country.strip() else None
    return fn(value, hint)


__all__ = [
    "KINDS",
    "KIND_BY_SCO_TYPE",
    "NEW_SCO_EXTENSION_IDS",
    "REGISTRY",
    "SCO_TYPES",
    "Canonical",
    "Canonicaliser",
    "Invalid",
    "Kind",
    "KindError",
    "Registry",
    "canonicalize",
    "simple",
]
