"""What canonicalisers return: :class:`Canonical` (with its deterministic STIX ids) or :class:`Invalid`.

A Canonical's SCO type comes from its kind's declaration in the registry (:mod:`pipeline.canon.kinds`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pipeline.stix.ids import indicator_id, pattern_for, sco_id, value_ids


@functools.cache
def _declared(kind: str) -> tuple[str, str | None]:
    """(SCO type, new-sco extension id) of ``kind``; KeyError for a kind that is not registered."""
    # The registration list imports every kind module, and they import this one: read it on first use.
    from pipeline.canon.kinds import REGISTRY  # noqa: PLC0415

    declared = REGISTRY[kind]
    return declared.sco_type, declared.extension_id


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
        sco_type = _declared(self.kind)[0]
        pattern = pattern_for(sco_type, self.pattern_props)
        object.__setattr__(self, "sco_type", sco_type)
        object.__setattr__(self, "sco_id", sco_id(sco_type, self.id_props))
        object.__setattr__(self, "pattern", pattern)
        object.__setattr__(self, "indicator_id", indicator_id(pattern))

    def portable(self) -> tuple[Any, ...]:
        """Every field but the facts, as plain data, for :meth:`from_portable` in another process.

        Pickling the object itself costs about 40 µs (a phone number's facts carry libphonenumber's parsed
        number); this tuple about 3 µs. ``publish``'s process pool ships canonical values this way.
        """
        return tuple(getattr(self, name) for name in _PORTABLE)

    @classmethod
    def from_portable(cls, data: tuple[Any, ...]) -> Canonical:
        """The Canonical :meth:`portable` described, ids not recomputed; its facts are computed again, on
        first read, from its canonical value (canonicalisation is idempotent, facts included)."""
        obj = object.__new__(cls)
        for name, value in zip(_PORTABLE, data, strict=True):
            object.__setattr__(obj, name, value)
        object.__setattr__(obj, "facts", LazyFacts(functools.partial(_facts_again, data[0], data[1])))
        return obj

    @property
    def sco_extension_id(self) -> str | None:
        """The new-sco extension definition id of its SCO type, ``None`` for a STIX 2.1 SCO type."""
        return _declared(self.kind)[1]


_PORTABLE = (
    "kind",
    "value",
    "props",
    "id_props",
    "pattern_props",
    "sco_type",
    "sco_id",
    "pattern",
    "indicator_id",
)


def _facts_again(kind: str, value: str) -> Mapping[str, str]:
    from pipeline.canon import canonicalize  # noqa: PLC0415 - the package imports this module

    again = canonicalize(kind, value)
    return again.facts if isinstance(again, Canonical) else {}


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a value could not be canonicalised. ``reason`` is a short sentence a person can act on."""

    kind: str
    value: str
    reason: str


Canonicaliser = Callable[[str, "str | None"], "Canonical | Invalid"]


class LazyFacts(Mapping[str, str]):
    """Facts computed on first read: a phone number's carrier and geocoded region cost about as much as
    parsing it, and a producer checking a million rows never reads them (the worker does, once per value).

    It compares, pickles and prints as the dict it computes.
    """

    __slots__ = ("_compute", "_facts")

    def __init__(self, compute: Callable[[], Mapping[str, str]]) -> None:
        self._compute: Callable[[], Mapping[str, str]] | None = compute
        self._facts: dict[str, str] = {}

    def _resolved(self) -> dict[str, str]:
        if self._compute is not None:
            self._facts, self._compute = dict(self._compute()), None
        return self._facts

    def __getitem__(self, key: str) -> str:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())

    def __eq__(self, other: object) -> bool:
        return self._resolved() == other if isinstance(other, Mapping) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        # Unread facts travel as their recipe (a process pool canonicalises for `publish`), read ones as data.
        if self._compute is not None:
            return LazyFacts, (self._compute,)
        return dict, (self._facts,)

    def __repr__(self) -> str:
        return repr(self._resolved())


_SET: Final = object.__setattr__


def simple(kind: str, value: str, facts: Mapping[str, str] | None = None, **extra: str) -> Canonical:
    """A Canonical whose id and pattern are ``value`` alone (domain, url, email, phone, wallet, imei).

    Built field by field, the same object ``Canonical(...)`` builds (a test holds them equal), its ids
    those of the one-key ``{"value": value}`` written directly (:func:`~pipeline.stix.ids.value_ids`): about
    4.4 µs against 4.9 through ``__post_init__`` and 5.9 through the generated ``__init__`` with its keyword
    arguments, and every new value pays it. Its ``id_props`` and ``pattern_props`` are one read-only
    mapping."""
    obj = object.__new__(Canonical)
    one = {"value": value}
    sco_type = _declared(kind)[0]
    sco, pattern, indicator = value_ids(sco_type, value)
    _SET(obj, "kind", kind)
    _SET(obj, "value", value)
    _SET(obj, "props", {"value": value, **extra})
    _SET(obj, "id_props", one)
    _SET(obj, "pattern_props", one)
    _SET(obj, "facts", facts if isinstance(facts, LazyFacts) else dict(facts or {}))
    _SET(obj, "sco_type", sco_type)
    _SET(obj, "sco_id", sco)
    _SET(obj, "pattern", pattern)
    _SET(obj, "indicator_id", indicator)
    return obj


__all__ = ["Canonical", "Canonicaliser", "Invalid", "LazyFacts", "simple"]
