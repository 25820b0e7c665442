"""The kind registry: one :class:`Kind` declaration per indicator kind, validated when it is built.

A declaration says everything the rest of the pipeline needs to know about a kind, as plain data: its
names (the CLI's TYPE and the aliases input files use), its STIX SCO type and, when the type is ours, the
new-sco extension definition id, description and JSON schema; the canonicaliser; the id-contributing and
pattern properties; the decay half-life; the enrichers that apply; how MISP attributes and STIX patterns
or observables map onto it. Layers above read it (``pipeline.wire.schemas``, ``processors``,
``producers``); none of them switches on a kind name.

A declaration with a missing or contradictory piece is refused by :func:`build_registry` with a
:class:`KindError` naming the kind and what to add, so a new kind fails at import, never later by a
silent default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from pipeline.errors import ScamshareError
from pipeline.stix.schemas import ID_CONTRIBUTING_KEYWORD, sco_schema_url

if TYPE_CHECKING:
    from pipeline.canon.core import Canonicaliser

#: The SCO types STIX 2.1 defines (section 6). Any other SCO type is ours and needs a new-sco definition.
STIX_SCO_TYPES: Final = frozenset(
    {
        "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file",
        "ipv4-addr", "ipv6-addr", "mac-addr", "mutex", "network-traffic", "process", "software", "url",
        "user-account", "windows-registry-key", "x509-certificate",
    }
)  # fmt: skip
#: The enrichers :mod:`pipeline.processors.enrich` implements; a kind names those that apply to it.
ENRICHERS: Final = ("facts", "lookalike", "host_class")
#: What a kind declares when no enricher applies: written out, so that "none" is a decision, not an omission.
NO_ENRICHERS: Final = "none"

_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# STIX 2.1 section 2.7 (type names): 3-250 characters of a-z, 0-9 and single hyphens.
_SCO_TYPE_RE: Final = re.compile(r"^(?=.{3,250}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_EXTENSION_ID_RE: Final = re.compile(r"^extension-definition--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab]")


class KindError(ScamshareError, ValueError):
    """A kind declaration is incomplete or contradicts another; the message names the kind and the fix."""


@dataclass(frozen=True, slots=True)
class NewSco:
    """A SCO type scamshare defines itself (``extension_type: new-sco``).

    ``schema`` builds the whole-object JSON schema (with :func:`pipeline.stix.schemas.sco_schema`); it is
    published as ``schemas/<sco-type>.json`` and the extension definition points at it.
    """

    extension_id: str
    description: str
    schema: Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StixInput:
    """How a STIX pattern or observable of the kind's SCO type becomes the raw value ``canonicalize`` reads.

    ``properties`` are the SCO properties that identify it (a bare observable is read from these);
    ``read`` maps the compared properties to the raw value, or ``None`` when they are not enough, and then
    ``needs`` is the reason given (``"bank-account needs iban, or account_number and country"``).
    """

    properties: tuple[str, ...]
    read: Callable[[Mapping[str, str]], str | None]
    needs: str


def value_input(sco_type: str) -> StixInput:
    """The STIX input of a kind identified by ``value`` alone (most of them)."""
    return StixInput(("value",), lambda props: props.get("value"), f"{sco_type} pattern must compare 'value'")


@dataclass(frozen=True, slots=True, kw_only=True)
class Kind:
    """Everything about one indicator kind. Only ``aliases``, ``misp_types`` and ``new_sco`` may be left
    out (none, none, a STIX 2.1 SCO type); every other piece is required.

    ``id_properties`` and ``pattern_properties`` list alternatives, the first whose properties are all
    present wins (a bank account is identified by ``iban``, or by ``account_number`` and ``country``).
    ``misp_types`` maps a MISP attribute type to the name it is read as: the kind's name or one of its
    aliases (``btc`` is a wallet alias that also names the chain). ``example`` is a raw value the
    canonicaliser accepts; the registry tests run every kind through the pipeline's steps with it.
    """

    name: str
    sco_type: str
    canonicalize: Canonicaliser
    id_properties: tuple[tuple[str, ...], ...]
    pattern_properties: tuple[tuple[str, ...], ...]
    half_life_days: float
    enrichers: tuple[str, ...] | Literal["none"]
    stix_input: StixInput
    example: str
    aliases: tuple[str, ...] = ()
    misp_types: Mapping[str, str] = field(default_factory=dict)
    new_sco: NewSco | None = None

    @property
    def enricher_names(self) -> tuple[str, ...]:
        """The enrichers that apply (empty for :data:`NO_ENRICHERS`)."""
        return () if self.enrichers == NO_ENRICHERS else tuple(self.enrichers)

    @property
    def extension_id(self) -> str | None:
        """The new-sco extension definition id, ``None`` for a STIX 2.1 SCO type."""
        return self.new_sco.extension_id if self.new_sco is not None else None


def _problems(kind: Kind) -> Iterator[str]:
    if not _NAME_RE.match(kind.name):
        yield "its name must be lower-case letters, digits and single hyphens"
    if not _SCO_TYPE_RE.match(kind.sco_type):
        yield f"SCO type {kind.sco_type!r} is not a STIX type name (3-250 of a-z, 0-9, single hyphens)"
    if not callable(kind.canonicalize):
        yield "canonicalize must be the kind's canonicaliser, (value, country) -> Canonical | Invalid"
    for label, alternatives in (
        ("id_properties", kind.id_properties),
        ("pattern_properties", kind.pattern_properties),
    ):
        if not alternatives or not all(alternatives):
            yield f"{label} must list at least one non-empty set of properties"
    if not isinstance(kind.half_life_days, int | float) or not (
        math.isfinite(kind.half_life_days) and kind.half_life_days > 0
    ):
        yield f"half_life_days must be a positive number of days, got {kind.half_life_days!r}"
    if kind.enrichers != NO_ENRICHERS:
        if not kind.enrichers:
            yield f"enrichers is empty: name those that apply ({', '.join(ENRICHERS)}) or write NO_ENRICHERS"
        unknown = [e for e in kind.enrichers if e not in ENRICHERS]
        if unknown:
            yield f"unknown enricher(s) {unknown}; expected some of {list(ENRICHERS)}"
    known = set(kind.stix_input.properties)
    if not known or not kind.stix_input.needs:
        yield "stix_input must name the identifying SCO properties and what a pattern needs"
    for props in kind.pattern_properties:
        if not set(props) <= known:
            yield f"pattern properties {list(props)} are not all among stix_input.properties {sorted(known)}"
    if kind.sco_type != kind.name and kind.sco_type not in kind.aliases:
        yield f"its SCO type {kind.sco_type!r} must be one of its aliases, so files may name it"
    for misp_type, read_as in kind.misp_types.items():
        if read_as != kind.name and read_as not in kind.aliases:
            yield f"MISP type {misp_type!r} is read as {read_as!r}, which is neither its name nor an alias"
    if not kind.example:
        yield "example must be a raw value its canonicaliser accepts"
    yield from _new_sco_problems(kind)


def _new_sco_problems(kind: Kind) -> Iterator[str]:
    ours = kind.sco_type not in STIX_SCO_TYPES
    if kind.new_sco is None:
        if ours:
            yield f"{kind.sco_type!r} is not a STIX 2.1 SCO type: declare new_sco (extension id, schema)"
        return
    if not ours:
        yield f"{kind.sco_type!r} is a STIX 2.1 SCO type: it takes no new-sco extension"
    if not _EXTENSION_ID_RE.match(kind.new_sco.extension_id):
        yield "new_sco.extension_id must be a deterministic id: extension_definition_id(<sco type>)"
    if "ID contributing properties" not in kind.new_sco.description:
        yield "new_sco.description must say its ID contributing properties"
    schema = kind.new_sco.schema()
    if schema.get("$id") != sco_schema_url(kind.sco_type) or schema.get("title") != kind.sco_type:
        yield f"its schema's $id and title must be those of {kind.sco_type!r} (build it with sco_schema)"
    if schema.get(ID_CONTRIBUTING_KEYWORD) != [list(p) for p in kind.id_properties]:
        yield f"its schema's {ID_CONTRIBUTING_KEYWORD} must equal id_properties"
    if kind.new_sco.extension_id not in schema.get("properties", {}).get("extensions", {}).get(
        "required", []
    ):
        yield "its schema must require its own new-sco extension"


@dataclass(frozen=True)
class Registry:
    """The validated kinds, in declaration order, looked up by name, SCO type, alias or MISP type."""

    kinds: tuple[Kind, ...]
    by_name: Mapping[str, Kind] = field(init=False)
    by_sco_type: Mapping[str, Kind] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {k.name: k for k in self.kinds})
        object.__setattr__(self, "by_sco_type", {k.sco_type: k for k in self.kinds})

    def __iter__(self) -> Iterator[Kind]:
        return iter(self.kinds)

    def __getitem__(self, name: str) -> Kind:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(
                f"unknown indicator kind {name!r}; expected one of {', '.join(self.by_name)}"
            ) from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.by_name)

    def aliases(self) -> dict[str, str]:
        """Alias → kind name, over every kind."""
        return {alias: k.name for k in self.kinds for alias in k.aliases}

    def misp_types(self) -> dict[str, str]:
        """MISP attribute type → the name it is read as (a kind or alias), over every kind."""
        return {t: read_as for k in self.kinds for t, read_as in k.misp_types.items()}

    def half_lives(self) -> dict[str, float]:
        """Kind → decay half-life in days."""
        return {k.name: float(k.half_life_days) for k in self.kinds}

    def enriched_by(self, enricher: str) -> frozenset[str]:
        """The kinds the enricher named ``enricher`` applies to."""
        return frozenset(k.name for k in self.kinds if enricher in k.enricher_names)

    def stix_properties(self) -> tuple[str, ...]:
        """Every identifying SCO property, in declaration order, once."""
        return tuple(dict.fromkeys(p for k in self.kinds for p in k.stix_input.properties))


def _clashes(kinds: Iterable[Kind]) -> Iterator[str]:
    seen: dict[tuple[str, str], str] = {}
    for kind in kinds:
        names = [("name or alias", kind.name)] + [
            ("name or alias", a) for a in kind.aliases if a != kind.name
        ]
        keys = [*names, ("SCO type", kind.sco_type), *(("MISP type", t) for t in kind.misp_types)]
        for what, key in keys:
            other = seen.setdefault((what, key), kind.name)
            if other != kind.name:
                yield f"kind {kind.name!r}: {what} {key!r} is already {other!r}'s"


def build_registry(kinds: Iterable[Kind]) -> Registry:
    """Validate ``kinds`` and index them. Raises :class:`KindError` listing every problem found."""
    kinds = tuple(kinds)
    problems = [f"kind {k.name!r}: {p}" for k in kinds for p in _problems(k)]
    problems += list(_clashes(kinds))
    if not kinds:
        problems.append("no kinds declared")
    if problems:
        raise KindError("invalid kind registry: " + "; ".join(problems))
    return Registry(kinds)


__all__ = [
    "ENRICHERS",
    "NO_ENRICHERS",
    "STIX_SCO_TYPES",
    "Kind",
    "KindError",
    "NewSco",
    "Registry",
    "StixInput",
    "build_registry",
    "value_input",
]
