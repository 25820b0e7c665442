"""Reports from MISP event JSON: ``{"Event": {...}}``, a bare event, a REST ``{"response": [...]}`` answer,
or a list of ``{"Event": ...}``.

Attribute types read (others are ignored) are those the kinds declare: ``phone-number`` and ``prtn`` →
phone; ``domain``, ``hostname`` (and ``domain|ip``, ``hostname|port``, first part) → domain; ``url`` → url;
``email-src``, ``email``, ``email-dst`` → email; ``btc``, ``xmr`` → wallet of that chain; ``iban`` → bank
account; ``imei`` → imei. A ``bic`` is not a report on its own: it is attached to the IBAN(s) of the same
MISP object, and rejected with a reason when the object has none (or when it stands outside any object).

``to_ids`` is respected: an attribute with ``to_ids: false`` is MISP's way of saying "context, not for
automated detection" (a victim's address, a registrar's e-mail), so it is skipped, and counted as skipped.
Note that MISP's own default for ``phone-number`` is ``to_ids: false``: set the flag on scam numbers before
exporting. Deleted attributes are skipped too.

TLP comes from ``tlp:*`` tags: the most restrictive of the event's and the attribute's (and its object's).
First seen is the attribute's ``first_seen``, else the event ``date``; the description is the attribute
``comment``, else the event ``info``. Locations are JSON paths: ``Attribute[3]``, ``Object[1].Attribute[0]``
(prefixed by ``response[2].`` or ``[2].`` when the file holds several events).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pipeline.canon import REGISTRY
from pipeline.errors import InputError
from pipeline.producers.records import ReadItem, Rejected, Skipped, report_from_fields
from pipeline.stix.tlp import TLP, parse_tlp

logger = logging.getLogger(__name__)

#: MISP attribute type → the type name given to :func:`report_from_fields` (kind or alias).
MISP_TYPES: Final[Mapping[str, str]] = REGISTRY.misp_types()
_FALSE: Final = (False, 0, "0", "false", "False", "no")


def is_misp_document(doc: Any) -> bool:
    """True for the MISP shapes this module reads."""
    if isinstance(doc, dict):
        return "Event" in doc or "response" in doc or "Attribute" in doc or "Object" in doc
    if isinstance(doc, list):
        return bool(doc) and all(isinstance(e, dict) and "Event" in e for e in doc)
    return False


def misp_events(doc: Any, name: str) -> list[tuple[str, dict[str, Any]]]:
    """``(location prefix, event)`` for every event of a MISP document."""
    if isinstance(doc, dict) and isinstance(doc.get("response"), list):
        entries, prefix = doc["response"], "response"
    elif isinstance(doc, list):
        entries, prefix = doc, ""
    elif isinstance(doc, dict):
        event = doc.get("Event", doc)
        if not isinstance(event, dict):
            raise InputError(name, None, "'Event' is not a JSON object")
        return [("", event)]
    else:
        raise InputError(name, None, "not a MISP event")
    events: list[tuple[str, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        event = entry.get("Event", entry) if isinstance(entry, dict) else None
        if not isinstance(event, dict):
            raise InputError(name, None, f"{prefix}[{index}] is not a MISP event")
        events.append((f"{prefix}[{index}].", event))
    return events


def read_misp(doc: Any, name: str) -> Iterator[ReadItem]:
    """Yield a report per indicator attribute of every event in a parsed MISP document."""
    for prefix, event in misp_events(doc, name):
        yield from _event_items(event, name, prefix)


def _tag_tlp(holder: Mapping[str, Any]) -> TLP | None:
    tags = holder.get("Tag")
    if not isinstance(tags, list):
        return None
    levels = [
        level
        for tag in tags
        if isinstance(tag, dict)
        and isinstance(tag.get("name"), str)
        and tag["name"].strip().lower().startswith("tlp:")
        and (level := parse_tlp(tag["name"])) is not None
    ]
    return max(levels) if levels else None


def _most_restrictive(*levels: TLP | None) -> TLP | None:
    known = [lvl for lvl in levels if lvl is not None]
    return max(known) if known else None


def _event_items(event: dict[str, Any], name: str, prefix: str) -> Iterator[ReadItem]:
    context = {
        "tlp": _tag_tlp(event),
        "date": event.get("date") if isinstance(event.get("date"), str) else None,
        "info": event.get("info") if isinstance(event.get("info"), str) else None,
    }
    attributes = event.get("Attribute", [])
    if not isinstance(attributes, list):
        yield Rejected(f"{name}:{prefix}Attribute", "'Attribute' must be a list")
        attributes = []
    for index, attr in enumerate(attributes):
        location = f"{prefix}Attribute[{index}]"
        if isinstance(attr, dict) and attr.get("type") == "bic":
            yield Rejected(
                f"{name}:{location}",
                "a BIC alone is not a report: put it in a MISP object together with the IBAN it belongs to",
            )
            continue
        item = _attribute_item(attr, name, location, context, None, None)
        if item is not None:
            yield item
    objects = event.get("Object", [])
    if not isinstance(objects, list):
        yield Rejected(f"{name}:{prefix}Object", "'Object' must be a list")
        objects = []
    for o_index, obj in enumerate(objects):
        yield from _object_items(obj, name, f"{prefix}Object[{o_index}]", context)


def _object_items(obj: Any, name: str, location: str, context: Mapping[str, Any]) -> Iterator[ReadItem]:
    if not isinstance(obj, dict) or not isinstance(obj.get("Attribute", []), list):
        yield Rejected(f"{name}:{location}", "a MISP object must be a JSON object with an 'Attribute' list")
        return
    attributes: list[Any] = obj.get("Attribute", [])
    object_tlp = _tag_tlp(obj)
    bics = [
        (i, a)
        for i, a in enumerate(attributes)
        if isinstance(a, dict) and a.get("type") == "bic" and not _is_true(a.get("deleted"))
    ]
    has_iban = any(isinstance(a, dict) and a.get("type") == "iban" for a in attributes)
    bic: str | None = None
    for position, (index, attr) in enumerate(bics):
        source = f"{name}:{location}.Attribute[{index}]"
        if not has_iban:
            yield Rejected(source, "a BIC alone is not a report, and this object holds no IBAN to attach it")
        elif not isinstance(attr.get("value"), str):
            yield Rejected(source, "BIC value must be a string")
        elif position == 0:
            bic = attr["value"]
        elif attr["value"].strip().upper() != (bic or "").strip().upper():
            yield Rejected(source, f"second BIC {attr['value']!r} in one object; attached only {bic!r}")
    for index, attr in enumerate(attributes):
        if isinstance(attr, dict) and attr.get("type") == "bic":
            continue
        item = _attribute_item(attr, name, f"{location}.Attribute[{index}]", context, object_tlp, bic)
        if item is not None:
            yield item


def _is_true(value: object) -> bool:
    return value not in (None, *_FALSE)


def _attribute_item(  # noqa: PLR0917 - private helper, called from two places with every argument
    attr: Any,
    name: str,
    location: str,
    context: Mapping[str, Any],
    object_tlp: TLP | None,
    bic: str | None,
) -> ReadItem | None:
    source = f"{name}:{location}"
    if not isinstance(attr, dict):
        return Rejected(source, "a MISP attribute must be a JSON object")
    misp_type = attr.get("type")
    if not isinstance(misp_type, str) or misp_type not in MISP_TYPES:
        return None  # not an indicator type scamshare exchanges (ip-dst, md5, comment, ...)
    kind = MISP_TYPES[misp_type]
    if _is_true(attr.get("deleted")):
        return Skipped(source, f"{misp_type} attribute is deleted")
    if "to_ids" in attr and not _is_true(attr["to_ids"]):
        return Skipped(source, f"{misp_type} attribute has to_ids false (context, not for detection)")
    value = attr.get("value")
    if isinstance(value, str) and "|" in misp_type:
        value = value.split("|", 1)[0]
    fields = {
        "type": kind,
        "value": value,
        "first_seen": attr.get("first_seen") or context["date"],
        "description": attr.get("comment") or context["info"],
        "bic": bic if kind == "iban" else None,
    }
    tlp = _most_restrictive(context["tlp"], object_tlp, _tag_tlp(attr))
    return report_from_fields(fields, source=source, location=location, tlp=tlp)
