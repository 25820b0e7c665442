"""Reports from MISP JSON: an event, a list of events, or an events / objects / attributes restSearch answer.

The document shapes and their JSON-path locations are listed in :mod:`pipeline.producers.misp_shapes`; how
each object template becomes (at most) one report in :mod:`pipeline.producers.misp_objects`.

An attribute outside any object is read by its type, as the kinds declare them: ``phone-number`` and ``prtn``
→ phone; ``domain``, ``hostname`` (and ``domain|ip``, ``hostname|port``, first part) → domain; ``url`` → url;
``email-src``, ``email`` → email (never ``email-dst``: the recipient is the victim); ``btc``, ``xmr``,
``dash`` → wallet of that chain; ``iban`` → bank account; ``imei`` → imei. Nothing vanishes silently;
every other entry is one of:

- skipped, counted by category: a type the exchange does not carry (``ip-dst``, ``md5``, ``sha256``,
  ``yara``, ``sigma``, ``comment``, ``text``, ``link``...) under its MISP type; ``to_ids: false`` as
  ``to_ids-false`` (MISP's "context, not for detection": a victim's number, a registrar's address) unless
  ``ReadOptions.include_non_ids``; a deleted attribute or object as ``deleted``; an object template the
  exchange does not map as ``object:<name>``; a system login as ``user-account:<type>``;
- rejected, for real errors only: a malformed attribute or object, a BIC with no IBAN or account to travel
  with, a field ``report_from_fields`` refuses.

Note that MISP's own default for ``phone-number`` is ``to_ids: false``: set the flag on scam numbers before
exporting, or pass ``--include-non-ids``.

``/attributes/restSearch`` answers name no object template (an attribute's ``Object`` holds only its id), so
attributes there that share an ``object_id`` are regrouped: mapped as their template when ``Object.name`` is
given, otherwise read like an object without a name, attribute by attribute, with the BIC attached to the IBAN
of the same object and recipients (``to``, ``cc``: victims) skipped.

TLP comes from ``tlp:*`` tags: the most restrictive of the event's (or the attribute's own ``Event`` summary),
the object's and the attribute's. First seen is the attribute's ``first_seen``, else the object's, else the
event ``date``; the description is the attribute ``comment``, else the object's, else the event ``info``.
``ReadOptions.country`` is the country of national numbers; a country the record gives wins (a phone-number
object's ``country-code``, a bank-account's ``country`` or BIC).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from pipeline.producers.misp_objects import (
    MISP_TYPES,
    RECIPIENT_RELATIONS,
    SELF_DESCRIBED_TYPES,
    TEMPLATES,
    Fail,
    Omit,
    Pick,
    context_skip,
    is_true,
    one_bic,
    rel_of,
)
from pipeline.producers.misp_shapes import (
    AttributesPart,
    Context,
    EventPart,
    context_of,
    is_misp_document,
    misp_parts,
    most_restrictive,
    tag_tlp,
)
from pipeline.producers.records import (
    ReadItem,
    ReadOptions,
    Rejected,
    ReportInput,
    Skipped,
    report_from_fields,
)

logger = logging.getLogger(__name__)

_LONE_BIC = "a BIC alone is not a report: put it in a MISP object together with the IBAN it belongs to"
_DEFAULT_OPTIONS = ReadOptions()
_Entry = tuple[str, Any]  # (location, attribute as found)


def read_misp(doc: Any, name: str, options: ReadOptions = _DEFAULT_OPTIONS) -> Iterator[ReadItem]:
    """Yield a report, reject or skip per entry of a parsed MISP document (see the module docstring).

    Raises InputError (at the first ``next``) when the document as a whole is not MISP.
    """
    for part in misp_parts(doc, name):
        if isinstance(part, EventPart):
            yield from _event_items(part.event, name, part.prefix, options)
        elif isinstance(part, AttributesPart):
            yield from _attribute_list_items(part.attributes, name, part.location, Context(), options)
        else:
            event = part.obj.get("Event") if isinstance(part.obj, dict) else None
            yield from _object_items(part.obj, name, part.location, context_of(event), options)


def _event_items(event: dict[str, Any], name: str, prefix: str, options: ReadOptions) -> Iterator[ReadItem]:
    context = context_of(event)
    yield from _attribute_list_items(event.get("Attribute", []), name, f"{prefix}Attribute", context, options)
    objects = event.get("Object", [])
    if not isinstance(objects, list):
        yield Rejected(f"{name}:{prefix}Object", "'Object' must be a list")
        return
    for index, obj in enumerate(objects):
        yield from _object_items(obj, name, f"{prefix}Object[{index}]", context, options)


def _object_key(attr: Any) -> tuple[str, str] | None:
    """(event id, object id) of an attribute that a search answer lists outside its object."""
    if not isinstance(attr, dict):
        return None
    summary = attr.get("Object")
    object_id = attr.get("object_id") or (summary.get("id") if isinstance(summary, dict) else None)
    if object_id in (None, "", "0", 0):
        return None
    return str(attr.get("event_id")), str(object_id)


def _attribute_list_items(
    attributes: Any, name: str, location: str, context: Context, options: ReadOptions
) -> Iterator[ReadItem]:
    if not isinstance(attributes, list):
        yield Rejected(f"{name}:{location}", "'Attribute' must be a list")
        return
    # An object's attributes are read together, where its first one stands (the list keeps the file's order).
    order: list[_Entry | list[_Entry]] = []
    groups: dict[tuple[str, str], list[_Entry]] = {}
    for index, attr in enumerate(attributes):
        entry = (f"{location}[{index}]", attr)
        key = _object_key(attr)
        if key is None:
            order.append(entry)
        elif key in groups:
            groups[key].append(entry)
        else:
            groups[key] = [entry]
            order.append(groups[key])
    for item in order:
        if isinstance(item, list):
            first = item[0][1]
            summary = first.get("Object")
            obj = {"name": summary.get("name")} if isinstance(summary, dict) else {}
            own = context_of(first.get("Event"), context)
            yield from _entries_items(obj, item, name, item[0][0], own, options)
        else:
            where, attr = item
            own = context_of(attr.get("Event"), context) if isinstance(attr, dict) else context
            yield _attribute_item(attr, name, where, own, options)


def _object_items(
    obj: Any, name: str, location: str, context: Context, options: ReadOptions
) -> Iterator[ReadItem]:
    if not isinstance(obj, dict) or not isinstance(obj.get("Attribute", []), list):
        yield Rejected(f"{name}:{location}", "a MISP object must be a JSON object with an 'Attribute' list")
        return
    entries = [(f"{location}.Attribute[{i}]", attr) for i, attr in enumerate(obj.get("Attribute", []))]
    yield from _entries_items(obj, entries, name, location, context, options)


def _entries_items(  # noqa: PLR0917 - private helper, its callers pass every argument
    obj: Mapping[str, Any],
    entries: list[_Entry],
    name: str,
    location: str,
    context: Context,
    options: ReadOptions,
) -> Iterator[ReadItem]:
    """The items of one object: its single report (and what it rejects or counts), or its skip."""
    if is_true(obj.get("deleted")):
        yield Skipped(f"{name}:{location}", "object is deleted", "deleted")
        return
    context = replace(context, tlp=most_restrictive(context.tlp, tag_tlp(obj)))
    template = obj.get("name")
    if not isinstance(template, str) or not template.strip():
        yield from _nameless_items(entries, name, context, options)
        return
    mapper = TEMPLATES.get(template)
    if mapper is None:
        reason = f"MISP object template {template!r} describes nothing the exchange carries"
        yield Skipped(f"{name}:{location}", reason, f"object:{template}")
        return
    rels = []
    for where, attr in entries:
        if not isinstance(attr, dict):
            yield Rejected(f"{name}:{where}", "a MISP attribute must be a JSON object")
        elif not is_true(attr.get("deleted")):
            rels.append(rel_of(where, attr))
    picked = mapper(template, rels)
    if isinstance(picked, Omit):
        yield Skipped(f"{name}:{location}", picked.reason, picked.category)
        return
    if isinstance(picked, Fail):
        yield Rejected(f"{name}:{picked.rel.location if picked.rel else location}", picked.reason)
        return
    for rel, reason in picked.problems:
        yield Rejected(f"{name}:{rel.location}", reason)
    report = _object_report(template, obj, picked, name, context, options)
    yield report
    if not isinstance(report, ReportInput):
        return
    taken = {picked.rel.location, *(r.location for r in picked.used)}
    for rel in rels:
        if rel.location not in taken and is_true(rel.attr.get("to_ids")):
            counted = context_skip(template, rel, picked)
            if counted is not None:
                yield Skipped(f"{name}:{rel.location}", counted[1], counted[0])


def _object_report(  # noqa: PLR0917 - private helper, one caller passing every argument
    template: str,
    obj: Mapping[str, Any],
    picked: Pick,
    name: str,
    context: Context,
    options: ReadOptions,
) -> ReadItem:
    rel = picked.rel
    source = f"{name}:{rel.location}"
    if (
        rel.type not in SELF_DESCRIBED_TYPES
        and "to_ids" in rel.attr
        and not is_true(rel.attr["to_ids"])
        and not options.include_non_ids
    ):
        reason = f"the {template} object's {rel.relation} has to_ids false (context, not for detection)"
        return Skipped(source, reason, "to_ids-false")
    fields = {
        **picked.fields,
        "first_seen": rel.attr.get("first_seen") or obj.get("first_seen") or context.date,
        "description": rel.attr.get("comment") or obj.get("comment") or context.info,
    }
    tlp = most_restrictive(context.tlp, tag_tlp(rel.attr))
    return report_from_fields(fields, source=source, location=rel.location, tlp=tlp, country=options.country)


def _nameless_items(
    entries: list[_Entry], name: str, context: Context, options: ReadOptions
) -> Iterator[ReadItem]:
    """An object with no template: attributes read one by one, a BIC attached to the IBAN beside it."""
    rels = [rel_of(where, attr) for where, attr in entries if isinstance(attr, dict)]
    bics = [r for r in rels if r.type == "bic" and not is_true(r.attr.get("deleted"))]
    bic: str | None = None
    if any(r.type == "iban" for r in rels):
        bic, problems = one_bic(bics)
        for rel, reason in problems:
            yield Rejected(f"{name}:{rel.location}", reason)
    else:
        for rel in bics:
            reason = "a BIC alone is not a report, and this object holds no IBAN to attach it"
            yield Rejected(f"{name}:{rel.location}", reason)
    for where, attr in entries:
        if isinstance(attr, dict) and attr.get("type") == "bic":
            continue
        relation = attr.get("object_relation") if isinstance(attr, dict) else None
        if relation in RECIPIENT_RELATIONS:
            reason = f"{relation} is a recipient: a victim, never reported"
            yield Skipped(f"{name}:{where}", reason, "recipient")
            continue
        yield _attribute_item(attr, name, where, context, options, bic=bic)


def _attribute_item(  # noqa: PLR0917 - private helper, called from two places with every argument
    attr: Any,
    name: str,
    location: str,
    context: Context,
    options: ReadOptions,
    bic: str | None = None,
) -> ReadItem:
    source = f"{name}:{location}"
    if not isinstance(attr, dict):
        return Rejected(source, "a MISP attribute must be a JSON object")
    misp_type = attr.get("type")
    if not isinstance(misp_type, str) or not misp_type.strip():
        return Rejected(source, "a MISP attribute needs a 'type'")
    if is_true(attr.get("deleted")):
        return Skipped(source, f"{misp_type} attribute is deleted", "deleted")
    if misp_type == "bic":
        return Rejected(source, _LONE_BIC)
    kind = MISP_TYPES.get(misp_type)
    if kind is None:
        return Skipped(
            source, f"MISP type {misp_type!r} is not an indicator kind the exchange carries", misp_type
        )
    if "to_ids" in attr and not is_true(attr["to_ids"]) and not options.include_non_ids:
        reason = f"{misp_type} attribute has to_ids false (context, not for detection)"
        return Skipped(source, reason, "to_ids-false")
    value = attr.get("value")
    if isinstance(value, str) and "|" in misp_type:
        value = value.split("|", 1)[0]
    fields = {
        "type": kind,
        "value": value,
        "first_seen": attr.get("first_seen") or context.date,
        "description": attr.get("comment") or context.info,
        "bic": bic if kind == "iban" else None,
    }
    tlp = most_restrictive(context.tlp, tag_tlp(attr))
    return report_from_fields(fields, source=source, location=location, tlp=tlp, country=options.country)


__all__ = ["MISP_TYPES", "is_misp_document", "read_misp"]
