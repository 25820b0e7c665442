"""The shapes a MISP JSON document comes in, cut into the parts :mod:`pipeline.producers.misp_input` reads.

MISP and PyMISP write the same records in several envelopes, depending on how they were exported:

===============================  =======================================  ===================================
shape                            example                                  locations
===============================  =======================================  ===================================
one event (or the bare event)    ``{"Event": {...}}``                     ``Attribute[3]``,
                                                                          ``Object[1].Attribute[0]``
list of events                   ``[{"Event": ...}, ...]``                ``[2].Attribute[0]``
``/events/restSearch``           ``{"response": [{"Event": ...}]}``       ``response[2].Attribute[0]``
``/objects/restSearch``          ``{"response": [{"Object": ...}]}``      ``response[2].Object.Attribute[0]``
list of objects                  ``[{"Object": ...}, ...]``               ``[2].Object.Attribute[0]``
one object                       ``{"Object": {...}}``                    ``Object.Attribute[0]``
``/attributes/restSearch``       ``{"response": {"Attribute": [...]}}``   ``response.Attribute[3]``
PyMISP attribute search          ``{"Attribute": [...]}`` (bare event)    ``Attribute[3]``
bare list of attributes          ``[{"type": ..., "value": ...}, ...]``   ``[3]``
===============================  =======================================  ===================================

An object from ``/objects/restSearch`` carries its event as ``Object.Event`` (``info``, ``date``, ``Tag``),
an attribute from ``/attributes/restSearch`` as ``Attribute.Event``; :func:`context_of` reads either. An empty
search answer (``{"response": []}``) is a MISP document with nothing in it.

Recognition (:func:`is_misp_document`) is by MISP's capitalised keys, so a STIX bundle (``type``/``objects``)
or a JSON Lines record (``type``/``value``) is never taken for MISP: a bare attribute list must also carry a
key MISP always writes on an attribute (``category`` or ``to_ids``) and no STIX ``spec_version``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.errors import InputError
from pipeline.stix.tlp import TLP, parse_tlp


@dataclass(frozen=True, slots=True)
class Context:
    """What an event says about the entries it holds: its TLP tag, ``date`` and ``info``."""

    tlp: TLP | None = None
    date: str | None = None
    info: str | None = None


@dataclass(frozen=True, slots=True)
class EventPart:
    """An event; its entries are at ``{prefix}Attribute[i]`` and ``{prefix}Object[i]``."""

    prefix: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ObjectPart:
    """An object outside any event (objects/restSearch); its attributes are at ``{location}.Attribute[i]``."""

    location: str
    obj: Any


@dataclass(frozen=True, slots=True)
class AttributesPart:
    """Attributes outside any event (attributes/restSearch, a bare list); each at ``{location}[i]``."""

    location: str
    attributes: Any


Part = EventPart | ObjectPart | AttributesPart


def tag_tlp(holder: Any) -> TLP | None:
    """The most restrictive ``tlp:*`` tag of an event, object or attribute (``None`` when it has none)."""
    tags = holder.get("Tag") if isinstance(holder, dict) else None
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


def most_restrictive(*levels: TLP | None) -> TLP | None:
    """The most restrictive of the levels given, ignoring ``None``."""
    known = [level for level in levels if level is not None]
    return max(known) if known else None


def context_of(holder: Any, parent: Context | None = None) -> Context:
    """The context of an event (or an event summary an object or attribute carries) within ``parent``.

    Its own ``date`` and ``info`` win; TLP is the most restrictive of both, so a summary never relaxes it.
    """
    base = parent or Context()
    if not isinstance(holder, dict):
        return base
    date, info = holder.get("date"), holder.get("info")
    return Context(
        tlp=most_restrictive(base.tlp, tag_tlp(holder)),
        date=date if isinstance(date, str) and date.strip() else base.date,
        info=info if isinstance(info, str) and info.strip() else base.info,
    )


def _is_wrapped(entry: Any) -> bool:
    return isinstance(entry, dict) and ("Event" in entry or isinstance(entry.get("Object"), dict))


def _is_bare_attribute(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("type"), str)
        and "value" in entry
        and ("category" in entry or "to_ids" in entry)
        and "spec_version" not in entry
    )


def is_misp_document(doc: Any) -> bool:
    """True for every shape in the module docstring; false for STIX bundles and JSON Lines records."""
    if isinstance(doc, dict):
        if "response" in doc:
            response = doc["response"]
            if isinstance(response, dict):
                return "Attribute" in response
            return isinstance(response, list) and all(_is_wrapped(e) for e in response)
        return "Event" in doc or "Attribute" in doc or "Object" in doc
    if isinstance(doc, list):
        return bool(doc) and (all(_is_wrapped(e) for e in doc) or all(_is_bare_attribute(e) for e in doc))
    return False


def misp_parts(doc: Any, name: str) -> list[Part]:
    """The events, objects and attribute lists of a parsed MISP document, with their JSON paths.

    Raises InputError when the document as a whole is not one of the shapes MISP writes.
    """
    if isinstance(doc, dict) and "response" in doc:
        response = doc["response"]
        if isinstance(response, dict) and "Attribute" in response:
            return [AttributesPart("response.Attribute", response["Attribute"])]
        if isinstance(response, list):
            return _entries(response, "response", name)
        raise InputError(
            name, None, "'response' must be a list of events or objects, or hold an 'Attribute' list"
        )
    if isinstance(doc, list):
        if doc and all(_is_bare_attribute(e) for e in doc):
            return [AttributesPart("", doc)]
        return _entries(doc, "", name)
    if isinstance(doc, dict):
        if "Event" in doc:
            if not isinstance(doc["Event"], dict):
                raise InputError(name, None, "'Event' is not a JSON object")
            return [EventPart("", doc["Event"])]
        if isinstance(doc.get("Object"), dict):
            return [ObjectPart("Object", doc["Object"])]
        return [EventPart("", doc)]
    raise InputError(name, None, "not a MISP event, search answer or attribute list")


def _entries(entries: list[Any], prefix: str, name: str) -> list[Part]:
    parts: list[Part] = []
    for index, entry in enumerate(entries):
        where = f"{prefix}[{index}]"
        if not isinstance(entry, dict):
            raise InputError(name, None, f"{where} is not a MISP event or object")
        if "Event" not in entry and isinstance(entry.get("Object"), dict):
            parts.append(ObjectPart(f"{where}.Object", entry["Object"]))
            continue
        event = entry.get("Event", entry)
        if not isinstance(event, dict):
            raise InputError(name, None, f"{where} is not a MISP event")
        parts.append(EventPart(f"{where}.", event))
    return parts
