"""A ``scam.indicators`` record's bytes, and the routing header fan-out reads instead of parsing them.

:func:`encode_record` writes the record exactly as ``orjson.dumps(record)`` would (the value stays the
whole, self-describing record) and, alongside it, the ``scamshare-routing`` header: what routing needs of
each view (:class:`~pipeline.processors.output.RoutedView`) and where that view's STIX bundle lies in the
value, as byte offsets. Fan-out then routes from a header of a few hundred bytes and forwards each bundle as
a slice of the value, never parsing the record (most of what the record holds is bundles).

The header is only a shortcut. :func:`read_record` checks it against the value it came with (offsets in
range, each slice a JSON object) and, when there is no header or it does not hold, parses the value
itself; a record neither way can be read is refused with the reason. Only the worker writes
``scam.indicators`` (its ACLs), so the header is exactly as trustworthy as the value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from pipeline.processors.output import IndicatorView, RoutedView, view_of
from pipeline.stix.ids import INDICATOR_EXTENSION_ID
from pipeline.stix.tlp import TLP
from pipeline.wire.envelope import INDICATOR_SPEC

#: the routing header: {"id", "v", "k", "cc", "x", "views": {key: [seq, since, status, tlp, score, types,
#: start, end]}, "final": [start, end, status]}; offsets are into the record's value
HEADER_ROUTING: Final = "scamshare-routing"
ROUTING_VERSION: Final = 1

#: the labels build_record writes (``TLP.label``), exactly
_BY_LABEL: Final = {t.label: t for t in TLP}


def encode_record(record: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """``(value, routing header)``: ``value == orjson.dumps(record)``, built piece by piece so each bundle's
    span is known. Views that share one bundle object share its serialisation."""
    head = orjson.dumps({k: v for k, v in record.items() if k not in ("views", "final")})
    parts: list[bytes] = [head[:-1], b',"views":{']
    size = len(head) + 9  # the head without its "}", then ',"views":{'
    serialised: dict[int, bytes] = {}
    views: dict[str, list[Any]] = {}
    lead_comma = b""
    for key, view in record["views"].items():
        bundle = view["bundle"]
        raw = serialised.get(id(bundle))
        if raw is None:
            raw = serialised[id(bundle)] = orjson.dumps(bundle)
        # the fields the header repeats, in build_record's order (a literal: a comprehension costs 2 us)
        fields = {
            "seq": view["seq"], "since": view["since"], "status": view["status"], "tlp": view["tlp"],
            "score": view["score"], "scam_types": view["scam_types"],
        }  # fmt: skip
        # '{"key":{"seq":..,"scam_types":[..]}}' less its first byte and last two: the key and the view's
        # fields in one dumps, as orjson.dumps(record) writes them
        lead = lead_comma + orjson.dumps({key: fields})[1:-2] + b',"bundle":'
        lead_comma = b","
        start = size + len(lead)
        parts += [lead, raw, b"}"]
        size = start + len(raw) + 1
        views[key] = [*fields.values(), start, start + len(raw)]
    parts.append(b"}")
    size += 1
    routing: dict[str, Any] = {
        "rv": ROUTING_VERSION,
        "id": record["indicator_id"],
        "v": record["version"],
        "k": record["kind"],
        "cc": record.get("country", ""),
        "x": record["revoked"],
        "views": views,
    }
    if "final" in record:
        raw = orjson.dumps(record["final"])
        lead = b',"final":'
        start = size + len(lead)
        parts += [lead, raw]
        routing["final"] = [start, start + len(raw), final_status(record)]
    parts.append(b"}")
    return b"".join(parts), orjson.dumps(routing)


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """A record fan-out can route: its view, and each view's bundle bytes by audience key (None: final)."""

    view: IndicatorView
    #: the bundle bytes of an audience key's view, or of the final revocation for None
    bundle: Callable[[str | None], bytes]
    #: revoked records: the status the final bundle states (``erased`` or ``revoked``)
    final_status: str = "revoked"


def read_record(value: bytes, routing: bytes | None) -> ReadRecord:
    """The record in ``value``, routed from its header when the header holds (module docstring).

    Raises ValueError (or KeyError/TypeError from a malformed record) when the record cannot be read."""
    if routing is not None:
        fast = _from_header(value, routing)
        if fast is not None:
            return fast
    record = orjson.loads(value)
    if not isinstance(record, dict) or record.get("spec") != INDICATOR_SPEC:
        got = record.get("spec") if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"spec is {got!r}")
    view = view_of(record)
    cache: dict[str | None, bytes] = {}

    def bundle(key: str | None) -> bytes:
        if key not in cache:
            cache[key] = orjson.dumps(record["final"] if key is None else record["views"][key]["bundle"])
        return cache[key]

    return ReadRecord(view, bundle, final_status(record) if view.revoked else "revoked")


def _from_header(value: bytes, routing: bytes) -> ReadRecord | None:
    """The record routed from its header; None when the header does not hold for this value."""
    try:
        doc = orjson.loads(routing)
        if not isinstance(doc, dict) or doc.get("rv") != ROUTING_VERSION or not isinstance(doc["x"], bool):
            return None
        spans: dict[str | None, tuple[int, int]] = {}
        views: dict[str, RoutedView] = {}
        for key, (seq, since, status, tlp_label, score, types, start, end) in doc["views"].items():
            tlp = _BY_LABEL.get(tlp_label) if type(tlp_label) is str else None
            # (plain ``type() is`` tests, not a helper over a generator: this runs for every view routed)
            if (
                tlp is None
                or type(seq) is not int
                or type(since) is not int
                or type(score) is not int
                or type(start) is not int
                or type(end) is not int
                or type(status) is not str
                or type(types) is not list
            ):
                return None
            scam_types = frozenset(types)  # TypeError (so None) for a list or object among them
            for t in scam_types:  # JSON gives nothing but a string that equals a string: the set suffices
                if type(t) is not str:
                    return None
            views[key] = RoutedView(key, seq, since, status, tlp, score, scam_types)
            spans[key] = (start, end)
        status = "revoked"
        if doc["x"]:
            start, end, status = doc["final"]
            if not _ints(start, end) or status not in ("revoked", "erased"):
                return None
            spans[None] = (start, end)
        ident, version, kind, country = doc["id"], doc["v"], doc["k"], doc["cc"]
        if not (
            _ints(version) and isinstance(ident, str) and isinstance(kind, str) and isinstance(country, str)
        ):
            return None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
    for start, end in spans.values():
        if not 0 < start < end <= len(value) or value[start] != 0x7B or value[end - 1] != 0x7D:
            return None  # "{ ... }" where the header says: anything else, and the value is parsed instead
    view = IndicatorView(ident, version, kind, country, doc["x"], views)
    return ReadRecord(view, lambda key: value[slice(*spans[key])], status)


def _ints(*values: object) -> bool:
    return all(type(v) is int for v in values)


def final_status(record: Mapping[str, Any]) -> str:
    """The status a revoked record's final bundle states on its indicator: ``erased`` or ``revoked``."""
    try:
        for obj in record["final"]["objects"]:
            if obj["type"] == "indicator" and obj["extensions"][INDICATOR_EXTENSION_ID]["status"] == "erased":
                return "erased"
    except (KeyError, TypeError):
        return "revoked"  # view_of checked the record; a final bundle without the extension is a revocation
    return "revoked"
