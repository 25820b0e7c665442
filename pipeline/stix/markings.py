"""Data markings → one access decision per report, failing closed.

One resolver for the worker (:mod:`pipeline.processors.validate`) and the producer tools
(:mod:`pipeline.producers.stix_input`). Build a :class:`MarkingIndex` once per bundle with
:func:`marking_index`, then call :func:`resolve_report_markings` per indicator.

Understood:

* TLP by id: the TLP 2.0 ids (OASIS), the TLP 1.0 ids (STIX 2.1 §7.2.1.4; WHITE is CLEAR) and OpenCTI's
  AMBER+STRICT id (OpenCTI uses the TLP 1.0 ids for the other levels).
* PAP by id: the OASIS PAP extension's ids (PAP:WHITE is CLEAR) and OpenCTI's PAP ids.
* A marking definition in the bundle (any id) that states its level by the TLP 2.0 extension (``tlp_2_0``)
  or the PAP extension (``pap``); by ``definition_type`` ``tlp``/``pap`` in any case with ``definition``
  ``{"tlp": level}`` (key and level in any case, ``"RED"`` or ``"TLP:RED"``: OpenCTI 4 and MISP write
  ``{"definition_type": "TLP", "definition": {"TLP": "RED"}}``); by OpenCTI's ``x_opencti_definition_type`` /
  ``x_opencti_definition`` (``"TLP:RED"``); or, when it states nothing else, by a name such as ``TLP:RED`` or
  ``pap:green`` (with a stated level, a name that is not a level is only a label). Every statement in one
  definition must agree; a definition of a well-known id must agree with what that id means.
* Where markings apply: ``object_marking_refs`` and every ``granular_markings[].marking_ref`` of the
  indicator, of every relationship in the bundle with the indicator at either end, and of the observable at
  the other end of those relationships. A granular marking restricts the whole report (scamshare shares the
  value, which any selector may cover). A granular marking with ``lang`` only is a language, not an access
  marking, and is ignored. The most restrictive TLP wins; PAP does not restrict distribution and the most
  restrictive PAP is reported as information.

Anything else holds the report: :class:`Uninterpretable` names the marking ref, where it was and why — a ref
that is neither well known nor defined in the bundle, a statement marking or any other definition type, a
level that is not a TLP (or PAP) level, a definition that contradicts itself or the well-known id it reuses,
an id defined twice with different meanings, a malformed ref list or granular marking.

Pure and fast (no python-stix2): one pass over the bundle builds the definitions and the id → related
objects map.

>>> objects = [{"type": "indicator", "id": "indicator--1", "object_marking_refs": [TLP.RED.marking_id]}]
>>> resolve_report_markings(marking_index(objects), objects[0], objects)
Resolved(tlp=<TLP.RED: 4>, pap=None)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, TypeAlias

import orjson

from pipeline.stix.tlp import TLP, TLP2_EXTENSION_ID, parse_tlp

#: The OASIS PAP marking extension (cti-stix-common-objects, pap-marking-definition-f8d).
PAP_EXTENSION_ID: Final = "extension-definition--f8d78575-edfd-406e-8e84-6162a8450f5b"


class PAP(Enum):
    """Permissible Actions Protocol levels, least to most restrictive (see :attr:`rank`)."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @property
    def rank(self) -> int:
        return _PAP_RANK[self]


_PAP_RANK: Final = {PAP.CLEAR: 0, PAP.GREEN: 1, PAP.AMBER: 2, PAP.RED: 3}
_PAP_BY_NAME: Final = {
    "clear": PAP.CLEAR,
    "white": PAP.CLEAR,
    "green": PAP.GREEN,
    "amber": PAP.AMBER,
    "red": PAP.RED,
}

#: PAP marking ids with a fixed meaning.
WELL_KNOWN_PAP_IDS: Final[Mapping[str, PAP]] = {
    # OASIS PAP extension objects
    "marking-definition--ad15a0cd-55b6-4588-a14c-a66105329b92": PAP.CLEAR,
    "marking-definition--a3bea94c-b469-41dc-9cfe-d6e7daba7730": PAP.CLEAR,  # PAP:WHITE
    "marking-definition--c43594d1-4b11-4c59-93ab-1c9b14d53ce9": PAP.GREEN,
    "marking-definition--60f8932b-e51e-4458-b265-a2e8be9a80ab": PAP.AMBER,
    "marking-definition--740d36e5-7714-4c30-961a-3ae632ceee0e": PAP.RED,
    # OpenCTI's: uuid5(OASIS namespace, '{"definition":"PAP:…","definition_type":"PAP"}'), as pycti makes them
    "marking-definition--4cdff7eb-acb8-543f-8573-829eb9fe8b34": PAP.CLEAR,
    "marking-definition--89484dde-e3d2-547f-a6c6-d14824429eb1": PAP.GREEN,
    "marking-definition--a6f20d4d-0360-59b6-ba22-3b48707828b1": PAP.AMBER,
    "marking-definition--4e4e3b84-de45-53df-9d9b-b21207699fd8": PAP.RED,
}

#: Types whose markings protect their own content, not the indicator's value: STIX 2.1 domain, relationship
#: and meta objects. Any other type at the other end of a relationship is taken as an observable, so an
#: unknown custom type errs toward applying its markings.
_NOT_OBSERVABLE: Final = frozenset(
    {
        "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident", "indicator",
        "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note", "observed-data",
        "opinion", "report", "threat-actor", "tool", "vulnerability", "relationship", "sighting",
        "marking-definition", "language-content", "extension-definition", "bundle",
    }
)  # fmt: skip
_NAME_KIND: Final = re.compile(r"\s*(tlp|pap)\b", re.IGNORECASE)
_NO_LEVEL: Final = (
    "states no TLP or PAP level (no definition_type, TLP 2.0 or PAP extension, or TLP:/PAP: name)"
)


@dataclass(frozen=True, slots=True)
class Uninterpretable:
    """The report's markings cannot be read: the report is held, never shared under a guessed TLP."""

    reason: str


@dataclass(frozen=True, slots=True)
class Resolved:
    """The most restrictive TLP (``None``: unmarked, the organisation's default applies) and PAP label."""

    tlp: TLP | None
    pap: str | None


Meaning: TypeAlias = "TLP | PAP | Uninterpretable"


@dataclass(frozen=True, slots=True)
class MarkingIndex:
    """What one bundle's markings mean, and what is related to each object; build with :func:`marking_index`.

    ``definitions`` holds the bundle's marking definitions (id → meaning); ``related`` maps an object id to
    the relationships with it at either end and the observables at their other ends.
    """

    definitions: Mapping[str, Meaning]
    related: Mapping[str, tuple[Mapping[str, Any], ...]]
    source: list[Any] = field(repr=False, compare=False)

    def meaning(self, ref: str) -> Meaning:
        """What ``ref`` means: the bundle's definition, else the well-known id, else uninterpretable."""
        defined = self.definitions.get(ref)
        if defined is not None:
            return defined
        known = _well_known(ref)
        if known is not None:
            return known
        return Uninterpretable("not defined in the bundle and not a known TLP or PAP marking")


def marking_index(objects: list[Any]) -> MarkingIndex:
    """Index a bundle's objects once: its marking definitions and the relationships around each object."""
    definitions: dict[str, Meaning] = {}
    observables: dict[str, Mapping[str, Any]] = {}
    relationships: list[Mapping[str, Any]] = []
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        kind, oid = obj.get("type"), obj.get("id")
        if kind == "relationship":
            relationships.append(obj)
        elif not isinstance(oid, str) or not isinstance(kind, str):
            continue
        elif kind == "marking-definition":
            meaning = _defined_remembered(oid, obj)
            previous = definitions.get(oid)
            if previous is not None and not _same(previous, meaning):
                meaning = Uninterpretable("defined more than once in the bundle, with different meanings")
            definitions[oid] = meaning
        elif kind not in _NOT_OBSERVABLE:
            observables[oid] = obj
    related: dict[str, list[Mapping[str, Any]]] = {}
    for rel in relationships:
        src, dst = rel.get("source_ref"), rel.get("target_ref")
        src = src if isinstance(src, str) else None
        dst = dst if isinstance(dst, str) else None
        if src is not None:
            _link(related, src, rel, observables.get(dst) if dst is not None and dst != src else None)
        if dst is not None and dst != src:
            _link(related, dst, rel, observables.get(src) if src is not None else None)
    return MarkingIndex(definitions, {k: tuple(v) for k, v in related.items()}, objects)


def resolve_report_markings(
    index: MarkingIndex, indicator: Mapping[str, Any], objects: list[Any]
) -> Resolved | Uninterpretable:
    """The markings that apply to ``indicator`` (an Indicator, or an observable reported on its own).

    ``objects`` is the bundle ``index`` was built from (then its related-objects map is reused); another
    list is indexed for this call.
    """
    related = index.related if objects is index.source else marking_index(objects).related
    oid = indicator.get("id")
    holders: tuple[Mapping[str, Any], ...] = (
        indicator,
        *(related.get(oid, ()) if isinstance(oid, str) else ()),
    )
    tlp: TLP | None = None
    pap: PAP | None = None
    for holder in holders:
        refs = _access_refs(holder)
        if isinstance(refs, Uninterpretable):
            return refs
        for where, ref in refs:
            meaning = index.meaning(ref)
            if isinstance(meaning, Uninterpretable):
                return Uninterpretable(f"{where} of {_name(holder)} is {_short(ref)}: {meaning.reason}")
            if isinstance(meaning, TLP):
                tlp = meaning if tlp is None else max(tlp, meaning)
            elif pap is None or meaning.rank > pap.rank:
                pap = meaning
    return Resolved(tlp, pap.value if pap is not None else None)


def _link(
    related: dict[str, list[Mapping[str, Any]]],
    end: str,
    rel: Mapping[str, Any],
    other: Mapping[str, Any] | None,
) -> None:
    bucket = related.setdefault(end, [])
    bucket.append(rel)
    if other is not None:
        bucket.append(other)


def _access_refs(obj: Mapping[str, Any]) -> list[tuple[str, str]] | Uninterpretable:
    """(where, marking ref) of every access marking on ``obj``; malformed lists are uninterpretable."""
    out: list[tuple[str, str]] = []
    if "object_marking_refs" in obj:
        refs = obj["object_marking_refs"]
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            why = f"'object_marking_refs' must be a list of marking-definition ids, got {_short(refs)}"
            return Uninterpretable(f"{_name(obj)}: {why}")
        out.extend((f"object_marking_refs[{i}]", ref) for i, ref in enumerate(refs))
    if "granular_markings" in obj:
        granular = obj["granular_markings"]
        if not isinstance(granular, list):
            return Uninterpretable(
                f"{_name(obj)}: 'granular_markings' must be a list, got {_short(granular)}"
            )
        for i, marking in enumerate(granular):
            where = f"granular_markings[{i}]"
            if not isinstance(marking, dict):
                return Uninterpretable(f"{_name(obj)}: {where} is not an object")
            selectors = marking.get("selectors")
            if (
                not isinstance(selectors, list)
                or not selectors
                or not all(isinstance(s, str) for s in selectors)
            ):
                return Uninterpretable(
                    f"{_name(obj)}: {where} needs 'selectors', a non-empty list of strings"
                )
            ref, lang = marking.get("marking_ref"), marking.get("lang")
            if ref is None and isinstance(lang, str):
                continue  # a language marking: says nothing about who may see the report
            if not isinstance(ref, str) or lang is not None:
                why = f"must have a 'marking_ref' id (or only a 'lang'), got {_short(marking)}"
                return Uninterpretable(f"{_name(obj)}: {where} {why}")
            out.append((f"{where}.marking_ref", ref))
    return out


def _well_known(ref: str) -> TLP | PAP | None:
    if not ref.startswith("marking-definition--"):
        return None
    tlp = parse_tlp(ref)
    return tlp if tlp is not None else WELL_KNOWN_PAP_IDS.get(ref)


#: what a marking definition means, by its exact JSON text: nearly every bundle carries one of the same few
#: definitions (the TLP 2.0 ones), and what a definition means depends on nothing but the definition
_DEFINED: dict[bytes, Meaning] = {}
_DEFINED_MAX: Final = 1024


def _defined_remembered(oid: str, obj: Mapping[str, Any]) -> Meaning:
    """:func:`_defined`, remembered by the definition's exact text (``oid`` is its ``id``, so in it)."""
    try:
        text = orjson.dumps(obj)
    except (TypeError, orjson.JSONEncodeError):
        return _defined(oid, obj)  # not what a parsed bundle holds; no text to remember it by
    meaning = _DEFINED.get(text)
    if meaning is None:
        if len(_DEFINED) >= _DEFINED_MAX:
            _DEFINED.clear()
        meaning = _DEFINED[text] = _defined(oid, obj)
    return meaning


def _defined(oid: str, obj: Mapping[str, Any]) -> Meaning:
    """The meaning of a marking definition in the bundle, checked against the well-known id it may reuse."""
    stated = _stated(obj)
    known = _well_known(oid)
    if known is None:
        return stated if stated is not None else Uninterpretable(_NO_LEVEL)
    if stated is None or _same(stated, known):
        return known
    says = stated.reason if isinstance(stated, Uninterpretable) else f"states {_label(stated)}"
    return Uninterpretable(f"claims the standard id of {_label(known)} but {says}")


def _stated(obj: Mapping[str, Any]) -> Meaning | None:
    """What a definition itself states (``None``: nothing)."""
    tlp: list[tuple[str, Any]] = []
    pap: list[tuple[str, Any]] = []
    extensions = obj.get("extensions")
    if isinstance(extensions, dict):
        for ext_id, key, into in ((TLP2_EXTENSION_ID, "tlp_2_0", tlp), (PAP_EXTENSION_ID, "pap", pap)):
            if ext_id in extensions:
                ext = extensions[ext_id]
                if not isinstance(ext, dict) or key not in ext:
                    return Uninterpretable(f"its {ext_id} extension has no {key!r}")
                into.append((f"extension {key}", ext[key]))
    for type_key, def_key in (
        ("definition_type", "definition"),
        ("x_opencti_definition_type", "x_opencti_definition"),
    ):
        if type_key not in obj:
            continue
        dtype = obj[type_key]
        kind = dtype.strip().lower() if isinstance(dtype, str) else None
        if kind == "statement":
            return Uninterpretable(
                f"{type_key} {dtype!r}: a statement marking, terms scamshare cannot enforce"
            )
        if kind not in ("tlp", "pap"):
            return Uninterpretable(f"{type_key} {_short(dtype)} is not TLP or PAP")
        values = _definition_values(obj.get(def_key), kind)
        if not values:
            return Uninterpretable(f"{type_key} is {dtype!r} but {def_key} states no level")
        (tlp if kind == "tlp" else pap).extend((def_key, v) for v in values)
    name = obj.get("name")
    if isinstance(name, str) and (match := _NAME_KIND.match(name)):
        kind = match.group(1).lower()
        if not (tlp or pap) or _level(kind, name) is not None:
            (tlp if kind == "tlp" else pap).append(("name", name))
    if tlp and pap:
        return Uninterpretable("states both a TLP and a PAP level")
    if tlp:
        return _agreed(tlp, "tlp")
    if pap:
        return _agreed(pap, "pap")
    return None


def _definition_values(definition: Any, kind: str) -> list[Any]:
    if isinstance(definition, dict):
        return [v for k, v in definition.items() if isinstance(k, str) and k.strip().lower() == kind]
    return [definition] if isinstance(definition, str) else []


def _level(kind: str, raw: Any) -> TLP | PAP | None:
    if not isinstance(raw, str) or raw.startswith("marking-definition--"):
        return None  # a level is a name; an id here would make a marking mean another marking
    if kind == "tlp":
        return parse_tlp(raw)
    name = raw.strip().lower().removeprefix("pap:").removeprefix("pap ").strip()
    return _PAP_BY_NAME.get(name)


def _agreed(values: list[tuple[str, Any]], kind: str) -> Meaning:
    levels: list[TLP | PAP] = []
    for where, raw in values:
        level = _level(kind, raw)
        if level is None:
            return Uninterpretable(f"{where} {_short(raw)} is not a {kind.upper()} level")
        levels.append(level)
    if any(level is not levels[0] for level in levels):
        stated = ", ".join(f"{where} {_short(raw)}" for where, raw in values)
        return Uninterpretable(f"states conflicting {kind.upper()} levels: {stated}")
    return levels[0]


def _same(a: Meaning, b: Meaning) -> bool:
    return type(a) is type(b) and a == b  # TLP is an IntEnum: never let TLP.GREEN equal a bare 1


def _label(level: TLP | PAP) -> str:
    return f"TLP:{level.label.upper()}" if isinstance(level, TLP) else f"PAP:{level.value.upper()}"


def _name(obj: Mapping[str, Any]) -> str:
    oid = obj.get("id")
    return _short(oid, quote=False) if isinstance(oid, str) else f"a {_short(obj.get('type'))} without an id"


def _short(value: Any, *, quote: bool = True) -> str:
    """A bounded rendering: reasons travel in a DLQ header and producer logs."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
