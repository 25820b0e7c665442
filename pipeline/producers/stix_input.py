"""Reports from STIX 2.1 content: a bundle, a list of objects, or one object.

* Each Indicator with a simple pattern (``[phone-number:value = '+44...']``, comparisons joined by AND, see
  :func:`pipeline.stix.pattern.parse_simple_pattern`) is one report. Confidence, ``valid_from`` (first
  seen), description and the scamshare property extension (scam types, country hint) travel with it;
  without the extension, ``labels`` that read as scam types are used. A revoked Indicator
  (``revoked: true``) is published as a withdrawal of the producer's earlier report of that value.
* A bare observable of a scam kind (the SCO type of a registered kind: phone-number, domain-name, url,
  email-addr, cryptocurrency-wallet, bank-account, user-account, imei) is a report too, unless an
  Indicator in the same file already covers it (a relationship to it, or a pattern naming the same value).
  Observables of other types are ignored.
* TLP comes from the markings that apply to the report, read by :mod:`pipeline.stix.markings`: the
  object's ``object_marking_refs`` and granular markings, those of the relationships around it and of the
  observables at their other ends; well-known TLP/PAP ids and marking definitions in the file that state a
  level. An object whose markings cannot be interpreted (unknown id, statement marking, ...) is rejected
  with the reason, as the worker would hold it.

Locations are JSON paths: ``objects[3]`` in a bundle, ``[3]`` in a list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pipeline.canon import KIND_BY_SCO_TYPE, REGISTRY
from pipeline.errors import InputError
from pipeline.processors.validate import observable_input
from pipeline.producers.records import ReadItem, Rejected, parse_scam_types, report_from_fields
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.stix.markings import MarkingIndex, Uninterpretable, marking_index, resolve_report_markings
from pipeline.stix.pattern import parse_simple_pattern
from pipeline.stix.tlp import TLP

logger = logging.getLogger(__name__)

#: SCO properties that identify the observable (what observable_input reads), as the kinds declare them.
_IDENTIFYING: Final = REGISTRY.stix_properties()


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


def read_stix(doc: Any, name: str) -> Iterator[ReadItem]:
    """Yield a report per Indicator and per uncovered scam observable of a parsed STIX document."""
    objects, prefix = stix_objects(doc, name)
    markings = marking_index(objects)
    patterns = {
        i: parse_simple_pattern(o["pattern"])
        for i, o in enumerate(objects)
        if isinstance(o, dict) and o.get("type") == "indicator" and isinstance(o.get("pattern"), str)
    }
    covered_ids, covered_values = _covered(objects, patterns)
    for index, obj in enumerate(objects):
        location = f"{prefix}[{index}]"
        source = f"{name}:{location}"
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            yield Rejected(source, "not a STIX object (a JSON object with a 'type')")
            continue
        if obj["type"] == "indicator":
            yield _from_indicator(
                obj, patterns.get(index), source, location, markings=markings, objects=objects
            )
        elif obj["type"] in KIND_BY_SCO_TYPE and obj.get("id") not in covered_ids:
            item = _from_sco(
                obj, source, location, markings=markings, objects=objects, covered_values=covered_values
            )
            if item is not None:
                yield item


def _tlp(obj: Mapping[str, Any], markings: MarkingIndex, objects: list[Any]) -> TLP | str | None:
    """The TLP of the markings that apply to ``obj`` (None: unmarked), or why they cannot be read."""
    resolved = resolve_report_markings(markings, obj, objects)
    if isinstance(resolved, Uninterpretable):
        return f"uninterpretable marking: {resolved.reason}"
    return resolved.tlp


def _covered(objects: list[Any], patterns: Mapping[int, Any]) -> tuple[set[str], set[tuple[str, str]]]:
    """SCO ids related to an Indicator in the file, and (kind, value) pairs the Indicators' patterns name."""
    indicator_ids = {
        o.get("id") for o in objects if isinstance(o, dict) and o.get("type") == "indicator" and o.get("id")
    }
    ids: set[str] = set()
    for o in objects:
        if isinstance(o, dict) and o.get("type") == "relationship":
            src, dst = o.get("source_ref"), o.get("target_ref")
            if src in indicator_ids and isinstance(dst, str):
                ids.add(dst)
            if dst in indicator_ids and isinstance(src, str):
                ids.add(src)
    values: set[tuple[str, str]] = set()
    for comparisons in patterns.values():
        if isinstance(comparisons, list):
            target = observable_input(comparisons)
            if isinstance(target, tuple):
                values.add((target[0], target[1].strip().lower()))
    return ids, values


def _from_indicator(
    obj: dict[str, Any],
    comparisons: Any,
    source: str,
    location: str,
    *,
    markings: MarkingIndex,
    objects: list[Any],
) -> ReadItem:
    if obj.get("pattern_type", "stix") != "stix":
        return Rejected(source, f"pattern_type {obj.get('pattern_type')!r} is not supported (only 'stix')")
    if comparisons is None:
        return Rejected(source, "indicator has no 'pattern' string")
    if isinstance(comparisons, str):
        return Rejected(source, f"pattern {_short(obj['pattern'])}: {comparisons}")
    target = observable_input(comparisons)
    if not isinstance(target, tuple):
        return Rejected(source, target.reason)
    kind, value = target
    tlp = _tlp(obj, markings, objects)
    if isinstance(tlp, str):
        return Rejected(source, tlp)
    props = {prop: v for _, prop, v in comparisons}
    extensions = obj.get("extensions")
    ext = extensions.get(INDICATOR_EXTENSION_ID) if isinstance(extensions, dict) else None
    ext = ext if isinstance(ext, dict) else {}
    fields: dict[str, Any] = {
        "type": _kind_with_chain(kind, props.get("chain")),
        "value": value,
        "confidence": obj.get("confidence"),
        "first_seen": obj.get("valid_from"),
        "description": obj.get("description"),
        "country": ext.get("country_hint"),
        "bic": props.get("bic"),
        "scam_types": ext["scam_types"] if "scam_types" in ext else _label_scam_types(obj.get("labels")),
        "revoked": obj.get("revoked", False),
    }
    return report_from_fields(fields, source=source, location=location, tlp=tlp)


def _from_sco(
    obj: dict[str, Any],
    source: str,
    location: str,
    *,
    markings: MarkingIndex,
    objects: list[Any],
    covered_values: set[tuple[str, str]],
) -> ReadItem | None:
    comparisons = [(obj["type"], k, v) for k, v in obj.items() if k in _IDENTIFYING and isinstance(v, str)]
    if not comparisons:
        wanted = ", ".join(_IDENTIFYING)
        return Rejected(source, f"{obj['type']} {obj.get('id', '')}: none of {wanted} is set")
    target = observable_input(comparisons)
    if not isinstance(target, tuple):
        return Rejected(source, f"{obj['type']} {obj.get('id', '')}: {target.reason}")
    kind, value = target
    if (kind, value.strip().lower()) in covered_values:
        return None
    tlp = _tlp(obj, markings, objects)
    if isinstance(tlp, str):
        return Rejected(source, tlp)
    fields = {
        "type": _kind_with_chain(kind, obj.get("chain")),
        "value": value,
        "bic": obj.get("bic"),
    }
    return report_from_fields(fields, source=source, location=location, tlp=tlp)


def _kind_with_chain(kind: str, chain: object) -> str:
    """A wallet whose pattern or SCO names its chain is read through the chain alias, so a mismatch between
    the declared chain and the address is caught."""
    if kind == "wallet" and chain in ("bitcoin", "ethereum", "monero"):
        return str(chain)
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
