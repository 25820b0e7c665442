"""Reports from STIX 2.1 content: a bundle, a list of objects, or one object.

* Each Indicator's pattern is read whole (:mod:`pipeline.stix.pattern_parts`): every observable it names
  that the exchange carries becomes one report, so ``[domain-name:value = 'a' OR domain-name:value = 'b']``
  is two, and ``[bank-account:account_number = '1' AND bank-account:country = 'GB']`` one. Comparisons
  through a reference to a carried observable count (``email-message:from_ref.value``, the sender);
  other parts (``file:hashes``, ``ipv4-addr``, ``LIKE``, ``NOT``, ``!=``, an e-mail's subject) are skipped
  and counted by type. An Indicator with no carried observable, or of another ``pattern_type`` (YARA,
  Sigma, Snort, Suricata), is skipped, not rejected: it is ordinary content of a MISP or OpenCTI export. A
  pattern that does not parse is rejected. Confidence, ``valid_from`` (first seen), description and the
  scamshare property extension (scam types, country hint) travel with each report; without the extension,
  ``labels`` that read as scam types are used. A revoked Indicator (``revoked: true``) withdraws the
  producer's earlier reports of its values.
* A bare observable of a carried kind (phone-number, domain-name, url, email-addr, cryptocurrency-wallet,
  bank-account, user-account, imei) is a report too, unless an Indicator in the same file already covers it
  (a relationship to it, or a pattern naming the same value). Observables of other types and objects that
  are not indicators (malware, reports, campaigns, sightings) are skipped and counted by type; identities,
  marking definitions, relationships and extension definitions are the file's structure and not counted.
* Phone numbers in E.164 without the ``+`` (digits only, as some exports and one public extension schema
  write them) are read as E.164 when that is a valid number; the country of ``--country`` (or the
  extension's ``country_hint``) is the hint for national forms.
* TLP comes from the markings that apply to the report, read by :mod:`pipeline.stix.markings`: the
  object's ``object_marking_refs`` and granular markings, those of the relationships around it and of the
  observables at their other ends; well-known TLP/PAP ids and marking definitions in the file that state a
  level. An object whose markings cannot be interpreted (unknown id, statement marking, ...) is rejected
  with the reason, as the worker would hold it.

Locations are JSON paths: ``objects[3]`` in a bundle, ``[3]`` in a list; the second and later reports of
one pattern add ``.pattern[1]``, ``.pattern[2]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pipeline.canon import KIND_BY_SCO_TYPE, REGISTRY, Canonical, canonicalize
from pipeline.canon.registry import Kind
from pipeline.errors import InputError
from pipeline.processors.validate import observable_input
from pipeline.producers.records import (
    CHAIN_BY_ALIAS,
    DEFAULT_OPTIONS,
    ReadItem,
    ReadOptions,
    Rejected,
    Skipped,
    parse_scam_types,
    report_from_fields,
)
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.stix.markings import MarkingIndex, Uninterpretable, marking_index, resolve_report_markings
from pipeline.stix.pattern_parts import Atom, pattern_conjunctions
from pipeline.stix.tlp import TLP

logger = logging.getLogger(__name__)

Comparison = tuple[str, str, str]

#: SCO properties that identify the observable (what observable_input reads), as the kinds declare them.
_IDENTIFYING: Final = REGISTRY.stix_properties()
#: Objects that are a file's structure, not content: never counted as skipped.
_STRUCTURE: Final = frozenset(
    {"identity", "marking-definition", "relationship", "extension-definition", "language-content", "bundle"}
)
#: Property paths through a reference that name an observable the exchange carries.
_REFERENCES: Final[Mapping[tuple[str, tuple[str, ...]], tuple[str, str]]] = {
    ("email-message", ("from_ref", "value")): ("email-addr", "value"),
    ("email-message", ("sender_ref", "value")): ("email-addr", "value"),
}
_E164_DIGITS: Final = re.compile(r"[1-9][0-9]{6,14}")


def _known_properties(kind: Kind) -> frozenset[str]:
    """What a pattern may compare on a kind's SCO: its identifying properties and, for our own SCO types,
    the properties its schema defines (a wallet's ``chain``, an account's ``bic``)."""
    known = set(kind.stix_input.properties)
    if kind.new_sco is not None:
        known |= set(kind.new_sco.schema().get("properties", {})) - {
            "type",
            "id",
            "spec_version",
            "extensions",
        }
    return frozenset(known)


_PROPERTIES: Final = {kind.sco_type: _known_properties(kind) for kind in REGISTRY}


def is_stix_document(doc: Any) -> bool:
    """True for a bundle, a list of STIX objects (or an empty list), or a single STIX object."""
    if isinstance(doc, dict):
        return doc.get("type") == "bundle" or (isinstance(doc.get("type"), str) and "id" in doc)
    if isinstance(doc, list):
        return all(isinstance(o, dict) and "type" in o for o in doc)
    return False


def stix_objects(doc: Any, name: str) -> tuple[list[Any], str]:
    """The objects of a STIX document and the JSON path prefix of their locations."""
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        objects = doc.get("objects", [])
        if not isinstance(objects, list):
            raise InputError(name, None, "the bundle's 'objects' is not a list")
        return objects, "objects"
    if isinstance(doc, list):
        return doc, ""
    if isinstance(doc, dict) and isinstance(doc.get("type"), str):
        return [doc], ""
    raise InputError(name, None, "not a STIX bundle, list of STIX objects, or STIX object")


def read_stix(doc: Any, name: str, options: ReadOptions = DEFAULT_OPTIONS) -> Iterator[ReadItem]:
    """Yield reports for every Indicator and uncovered carried observable, and skips for the rest."""
    objects, prefix = stix_objects(doc, name)
    markings = marking_index(objects)
    patterns = {
        i: indicator_observables(o["pattern"])
        for i, o in enumerate(objects)
        if isinstance(o, dict)
        and o.get("type") == "indicator"
        and isinstance(o.get("pattern"), str)
        and o.get("pattern_type", "stix") == "stix"
    }
    covered_ids, covered_values = _covered(objects, patterns)
    context = _Context(markings, objects, covered_values, options)
    for index, obj in enumerate(objects):
        location = f"{prefix}[{index}]"
        source = f"{name}:{location}"
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            yield Rejected(source, "not a STIX object (a JSON object with a 'type')")
        elif obj["type"] == "indicator":
            yield from _from_indicator(obj, patterns.get(index), source, location, context)
        elif obj["type"] in KIND_BY_SCO_TYPE:
            if not isinstance(obj.get("id"), str | None):
                yield Rejected(source, f"{obj['type']} 'id' must be a string")
            elif obj.get("id") not in covered_ids:
                item = _from_sco(obj, source, location, context)
                if item is not None:
                    yield item
        elif obj["type"] not in _STRUCTURE:
            yield Skipped(
                source, f"{obj['type']} objects are not indicators the exchange carries", obj["type"]
            )


class _Context:
    __slots__ = ("covered_values", "markings", "objects", "options")

    def __init__(
        self, markings: MarkingIndex, objects: list[Any], covered: set[str], options: ReadOptions
    ) -> None:
        self.markings, self.objects, self.covered_values, self.options = markings, objects, covered, options


def _supported(atom: Atom) -> tuple[str, str] | None:
    """(SCO type, property) of a comparison the exchange reads, or None for a part it skips."""
    if atom.op != "=" or atom.negated or atom.literal != "string":
        return None
    referenced = _REFERENCES.get((atom.sco_type, atom.path))
    if referenced is not None:
        return referenced
    if len(atom.path) == 1 and atom.path[0] in _PROPERTIES.get(atom.sco_type, ()):
        return atom.sco_type, atom.path[0]
    return None


def indicator_observables(pattern: str) -> tuple[list[list[Comparison]], list[Atom]] | str:
    """The carried observables a pattern names (each as its comparisons) and the parts skipped; or why the
    pattern is malformed."""
    parsed = pattern_conjunctions(pattern)
    if isinstance(parsed, str):
        return parsed
    observables: list[list[Comparison]] = []
    seen: set[tuple[Comparison, ...]] = set()
    skipped: list[Atom] = []
    for observation in parsed:
        for conjunction in observation:
            groups: dict[str, list[Comparison]] = {}
            # Equality on a carried type's property it does not know: rejected below (with what the kind
            # needs) when nothing else identifies the observable, skipped beside a property that does.
            strays: dict[str, list[Atom]] = {}
            for atom in conjunction:
                target = _supported(atom)
                if target is not None:
                    groups.setdefault(target[0], []).append((target[0], target[1], atom.value))
                elif atom.sco_type in _PROPERTIES and atom.op == "=" and not atom.negated:
                    strays.setdefault(atom.sco_type, []).append(atom)
                else:
                    skipped.append(atom)
            for sco_type, atoms in strays.items():
                if sco_type in groups:
                    skipped.extend(atoms)
                else:
                    groups[sco_type] = [(sco_type, ".".join(a.path), a.value) for a in atoms]
            for comparisons in groups.values():
                key = tuple(sorted(comparisons))
                if key not in seen:
                    seen.add(key)
                    observables.append(comparisons)
    return observables, skipped


def _tlp(obj: Mapping[str, Any], context: _Context) -> TLP | str | None:
    """The TLP of the markings that apply to ``obj`` (None: unmarked), or why they cannot be read."""
    resolved = resolve_report_markings(context.markings, obj, context.objects)
    if isinstance(resolved, Uninterpretable):
        return f"uninterpretable marking: {resolved.reason}"
    return resolved.tlp


def _covered(objects: list[Any], patterns: Mapping[int, Any]) -> tuple[set[str], set[str]]:
    """SCO ids related to an Indicator in the file, and (kind, value) pairs the Indicators' patterns name."""
    indicator_ids = {
        o["id"]
        for o in objects
        if isinstance(o, dict) and o.get("type") == "indicator" and isinstance(o.get("id"), str)
    }
    ids: set[str] = set()
    for o in objects:
        if isinstance(o, dict) and o.get("type") == "relationship":
            src, dst = o.get("source_ref"), o.get("target_ref")
            if not (isinstance(src, str) and isinstance(dst, str)):
                continue  # a malformed relationship covers nothing
            if src in indicator_ids:
                ids.add(dst)
            if dst in indicator_ids:
                ids.add(src)
    values: set[str] = set()
    for parsed in patterns.values():
        if isinstance(parsed, tuple):
            for comparisons in parsed[0]:
                target = observable_input(comparisons)
                if isinstance(target, tuple):
                    values.add(_identity(*target))
    return ids, values


def _identity(kind: str, value: str) -> str:
    """What two spellings of one observable share: the indicator id of its canonical form (the raw text,
    lower-cased, when it does not canonicalise; it is rejected later, with the reason)."""
    canonical = canonicalize(kind, _e164(kind, value))
    return canonical.indicator_id if isinstance(canonical, Canonical) else f"{kind}:{value.strip().lower()}"


def _from_indicator(
    obj: dict[str, Any], parsed: Any, source: str, location: str, context: _Context
) -> Iterator[ReadItem]:
    pattern_type = obj.get("pattern_type", "stix")
    if pattern_type != "stix":
        category = f"indicator:{pattern_type}" if isinstance(pattern_type, str) else "indicator:other"
        yield Skipped(source, f"a {pattern_type} pattern names no observable the exchange carries", category)
        return
    if parsed is None:
        yield Rejected(source, "indicator has no 'pattern' string")
        return
    if isinstance(parsed, str):
        yield Rejected(source, f"pattern {_short(obj['pattern'])}: {parsed}")
        return
    observables, skipped = parsed
    if not observables:
        category = f"indicator:{_skipped_type(skipped[0])}" if skipped else "indicator:other"
        yield Skipped(source, f"the pattern names nothing the exchange carries: {_parts(skipped)}", category)
        return
    for atom_type in dict.fromkeys(_skipped_type(a) for a in skipped):
        parts = _parts([a for a in skipped if _skipped_type(a) == atom_type])
        yield Skipped(source, f"pattern part not carried by the exchange: {parts}", f"pattern:{atom_type}")
    tlp = _tlp(obj, context)
    if isinstance(tlp, str):
        yield Rejected(source, tlp)
        return
    extensions = obj.get("extensions")
    ext = extensions.get(INDICATOR_EXTENSION_ID) if isinstance(extensions, dict) else None
    ext = ext if isinstance(ext, dict) else {}
    reported: set[str] = set()
    for position, comparisons in enumerate(observables):
        where = location if position == 0 else f"{location}.pattern[{position}]"
        here = source if position == 0 else f"{source}.pattern[{position}]"
        twice = _compared_twice(comparisons)
        if twice is not None:
            yield Rejected(here, twice)
            continue
        target = observable_input(comparisons)
        if not isinstance(target, tuple):
            yield Rejected(here, target.reason)
            continue
        kind, value = target
        identity = _identity(kind, value)
        if identity in reported:
            continue  # 'a.com' OR 'A.COM' OR 'www.a.com': one observable, one report
        reported.add(identity)
        props = {prop: v for _, prop, v in comparisons}
        country = ext.get("country_hint")
        fields: dict[str, Any] = {
            "type": _kind_with_chain(kind, props.get("chain")),
            "value": _e164(kind, value),
            "confidence": obj.get("confidence"),
            "first_seen": obj.get("valid_from"),
            "description": obj.get("description"),
            "country": country,
            "bic": props.get("bic"),
            "scam_types": ext["scam_types"] if "scam_types" in ext else _label_scam_types(obj.get("labels")),
            "revoked": obj.get("revoked", False),
        }
        yield report_from_fields(
            fields, source=here, location=where, tlp=tlp, country=context.options.country
        )


def _compared_twice(comparisons: list[Comparison]) -> str | None:
    """Why one observable cannot be what an AND of two different values of one property describes."""
    values: dict[str, str] = {}
    for sco_type, prop, value in comparisons:
        if values.setdefault(prop, value) != value:
            return (
                f"the pattern's AND compares {sco_type}:{prop} with both {values[prop]!r} and {value!r}: "
                "no one observable has two; write OR for two observables"
            )
    return None


def _parts(atoms: list[Atom]) -> str:
    """``file:hashes.SHA-256, domain-name:value LIKE``: how a message names skipped comparisons."""
    return ", ".join(dict.fromkeys(a.text + _operator_note(a) for a in atoms))


def _operator_note(atom: Atom) -> str:
    if atom.op == "=" and not atom.negated:
        return ""
    return f" {'NOT ' if atom.negated else ''}{atom.op}"


def _skipped_type(atom: Atom) -> str:
    """How a skipped pattern part is counted: its SCO type, or the operator that puts it out of reach."""
    if atom.sco_type in _PROPERTIES and (atom.op != "=" or atom.negated):
        return "NOT" if atom.negated else atom.op
    return atom.sco_type


def _from_sco(obj: dict[str, Any], source: str, location: str, context: _Context) -> ReadItem | None:
    comparisons = [(obj["type"], k, v) for k, v in obj.items() if k in _IDENTIFYING and isinstance(v, str)]
    if not comparisons:
        wanted = ", ".join(_IDENTIFYING)
        return Rejected(source, f"{obj['type']} {obj.get('id', '')}: none of {wanted} is set")
    target = observable_input(comparisons)
    if not isinstance(target, tuple):
        return Rejected(source, f"{obj['type']} {obj.get('id', '')}: {target.reason}")
    kind, value = target
    if _identity(kind, value) in context.covered_values:
        return None
    tlp = _tlp(obj, context)
    if isinstance(tlp, str):
        return Rejected(source, tlp)
    fields = {
        "type": _kind_with_chain(kind, obj.get("chain")),
        "value": _e164(kind, value),
        "bic": obj.get("bic"),
    }
    return report_from_fields(
        fields, source=source, location=location, tlp=tlp, country=context.options.country
    )


def _e164(kind: str, value: str) -> str:
    """A phone number written as E.164 digits without the ``+`` gets it back, when that is a valid number."""
    digits = value.strip()
    if kind != "phone" or not _E164_DIGITS.fullmatch(digits):
        return value
    return "+" + digits if isinstance(canonicalize("phone", "+" + digits), Canonical) else value


def _kind_with_chain(kind: str, chain: object) -> str:
    """A wallet whose pattern or SCO names its chain is read through the chain's alias, so a mismatch between
    the declared chain and the address is caught."""
    if kind == "wallet" and isinstance(chain, str) and CHAIN_BY_ALIAS.get(chain) == chain:
        return chain
    return kind


def _label_scam_types(labels: object) -> tuple[str, ...]:
    """Labels that read as scam type names; others (tool tags, free text) are dropped, not rejected."""
    if not isinstance(labels, list):
        return ()
    out: list[str] = []
    for label in labels:
        try:
            out.extend(parse_scam_types([label]))
        except ValueError:
            logger.debug("ignoring label %r: not a scam type name", label)
    return tuple(dict.fromkeys(out))[:16]


def _short(text: str) -> str:
    return repr(text if len(text) <= 100 else text[:97] + "...")
