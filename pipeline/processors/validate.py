"""Validate + canonicalise: raw submission bytes → accepted reports, or a Rejected with a reason.

Pure: no Kafka, no Redis, no clock. The wrapper in the worker sends a Rejected to the DLQ with the original
bytes. A submission is all-or-nothing: if any Indicator in its bundle is invalid, the whole message is
rejected (a producer fixes and resends one message, never half of one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.canon import REGISTRY, Canonical, Invalid, canonicalize
from pipeline.stix.ids import INDICATOR_EXTENSION_ID, producer_identity_id
from pipeline.stix.markings import MarkingIndex, Uninterpretable, marking_index, resolve_report_markings
from pipeline.stix.pattern import parse_simple_pattern
from pipeline.stix.times import epoch_ms, parse_timestamp
from pipeline.stix.tlp import TLP
from pipeline.wire.envelope import SUBMISSION_SPEC
from pipeline.wire.fields import MAX_SCAM_TYPES, PRODUCER_ID_RE, SUBMISSION_ID_RE, FieldError, scam_types
from pipeline.wire.limits import Limits
from pipeline.wire.rejected import Rejected


@dataclass(frozen=True, slots=True)
class Report:
    """One accepted report of one indicator by one producer."""

    submission_id: str
    producer: str
    canonical: Canonical
    tlp: TLP
    confidence: int | None
    scam_types: tuple[str, ...]
    revoked: bool
    observed_ms: int
    submitted_ms: int

    @property
    def indicator_id(self) -> str:
        return self.canonical.indicator_id


def validate_submission(
    raw: bytes,
    limits: Limits,
    *,
    header_producer: str | None = None,
    channel_org: str | None = None,
    default_tlp: TLP | None = None,
) -> list[Report] | Rejected:
    """Parse and check one submission message; never raises.

    ``channel_org`` is the organisation the message arrived from (its submissions topic, or the gateway's
    credential): the worker always gives it, and a message that names anyone else — in the envelope, the
    ``scamshare-producer`` header, an ``identity`` object or any ``created_by_ref`` — is rejected as
    ``identity_mismatch``. ``default_tlp`` (the organisation's, from the registry) marks unmarked reports.

    >>> validate_submission(b"{", Limits()).code
    'not_json'
    """
    if len(raw) > limits.max_bytes:
        return Rejected("too_large", f"message is {len(raw)} bytes; the limit is {limits.max_bytes}")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected("not_json", f"not valid UTF-8 JSON: {exc}")
    # A document cannot nest deeper than it has opening brackets (those in strings only add to the count):
    # counting them in C spares walking a typical submission, which has about 20.
    if raw.count(b"[") + raw.count(b"{") > limits.max_depth and deeper_than(doc, limits.max_depth):
        depth = json_depth(doc)
        return Rejected("too_deep", f"JSON nesting depth {depth} exceeds the limit of {limits.max_depth}")
    if not isinstance(doc, dict):
        return Rejected("bad_envelope", "a submission must be a JSON object")
    envelope = _check_envelope(doc, header_producer)
    if isinstance(envelope, Rejected):
        if channel_org is not None and envelope.code == "producer_mismatch":
            return Rejected("identity_mismatch", envelope.reason, channel_org)
        return envelope
    producer, submission_id, submitted_ms, objects = envelope
    if channel_org is not None:
        mismatch = identity_mismatch(channel_org, producer, header_producer, objects)
        if mismatch is not None:
            return Rejected("identity_mismatch", mismatch, channel_org)
    if len(objects) > limits.max_objects:
        return Rejected(
            "too_many_objects",
            f"bundle holds {len(objects)} objects; the limit is {limits.max_objects}",
            producer,
        )
    indicators = [o for o in objects if isinstance(o, dict) and o.get("type") == "indicator"]
    if not indicators:
        return Rejected("no_indicator", "bundle holds no indicator object", producer)
    reports: list[Report] = []
    unmarked = default_tlp if default_tlp is not None else limits.default_tlp
    markings = marking_index(objects)
    for index, obj in enumerate(indicators):
        sub_id = submission_id if len(indicators) == 1 else f"{submission_id}#{index}"
        report = _report_from_indicator(
            obj, producer, sub_id, submitted_ms, unmarked, markings=markings, objects=objects
        )
        if isinstance(report, Rejected):
            where = f"indicator {index} ({obj.get('id', 'no id')})"
            return Rejected(report.code, f"{where}: {report.reason}", producer)
        reports.append(report)
    return reports


def identity_mismatch(
    channel_org: str, producer: str, header_producer: str | None, objects: list[Any]
) -> str | None:
    """Why a submission that arrived from ``channel_org`` claims to be someone else's (None: it does not).

    The channel is the authority: the envelope, the producer header, every ``identity`` object in the
    bundle and every ``created_by_ref`` must name ``channel_org`` (or be absent).
    """
    if producer != channel_org:
        return f"envelope names producer {producer!r}, but the message came from {channel_org!r}'s channel"
    if header_producer is not None and header_producer != channel_org:
        return (
            f"header names producer {header_producer!r}, but the message came from {channel_org!r}'s channel"
        )
    own = producer_identity_id(channel_org)
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        if obj.get("type") == "identity" and obj.get("id") != own:
            return f"bundle holds identity {obj.get('id')!r}, which is not {channel_org!r}'s ({own})"
        ref = obj.get("created_by_ref")
        if ref is not None and ref != own:
            return (
                f"{obj.get('id', obj.get('type'))!r} is created_by_ref {ref!r}, not {channel_org!r} ({own})"
            )
    return None


def deeper_than(node: Any, limit: int) -> bool:
    """Whether ``node`` nests more than ``limit`` levels; stops as soon as it knows (the hot-path check).

    Recursion is bounded by ``limit`` (orjson already refuses documents nested over 1024 levels).
    """
    kind = type(node)
    if kind is dict:
        children = node.values()
    elif kind is list:
        children = node
    else:
        return False
    if limit <= 0:
        return True
    for child in children:
        child_kind = type(child)
        if (child_kind is dict or child_kind is list) and deeper_than(child, limit - 1):
            return True
    return False


def json_depth(doc: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, ``[]`` is 1), computed without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            depth += 1
            stack.extend((v, depth) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            depth += 1
            stack.extend((v, depth) for v in node if isinstance(v, dict | list))
        deepest = max(deepest, depth)
    return deepest


def _check_envelope(
    doc: dict[str, Any], header_producer: str | None
) -> tuple[str, str, int, list[Any]] | Rejected:
    if doc.get("spec") != SUBMISSION_SPEC:
        return Rejected("bad_envelope", f"'spec' must be {SUBMISSION_SPEC!r}, got {doc.get('spec')!r}")
    producer = doc.get("producer")
    if not isinstance(producer, str) or not PRODUCER_ID_RE.match(producer):
        return Rejected("bad_envelope", "'producer' must be 1-64 chars of a-z 0-9 . _ - (lower case)")
    if header_producer is not None and header_producer != producer:
        return Rejected(
            "producer_mismatch",
            f"header producer {header_producer!r} differs from envelope {producer!r}",
            producer,
        )
    submission_id = doc.get("submission_id")
    if not isinstance(submission_id, str) or not SUBMISSION_ID_RE.match(submission_id):
        return Rejected(
            "bad_envelope", "'submission_id' must be 1-128 chars of A-Z a-z 0-9 . _ : -", producer
        )
    try:
        submitted_ms = epoch_ms(parse_timestamp(str(doc.get("submitted_at", ""))))
    except ValueError:
        return Rejected("bad_envelope", "'submitted_at' must be an RFC 3339 timestamp", producer)
    bundle = doc.get("bundle")
    if (
        not isinstance(bundle, dict)
        or bundle.get("type") != "bundle"
        or not isinstance(bundle.get("objects"), list)
    ):
        return Rejected("bad_envelope", "'bundle' must be a STIX bundle with an 'objects' list", producer)
    return producer, submission_id, submitted_ms, bundle["objects"]


def _report_from_indicator(
    obj: dict[str, Any],
    producer: str,
    submission_id: str,
    submitted_ms: int,
    default_tlp: TLP,
    *,
    markings: MarkingIndex,
    objects: list[Any],
) -> Report | Rejected:
    if obj.get("pattern_type", "stix") != "stix":
        return Rejected("unsupported_pattern", f"pattern_type {obj.get('pattern_type')!r} is not 'stix'")
    pattern = obj.get("pattern")
    if not isinstance(pattern, str):
        return Rejected("invalid_pattern", "indicator has no 'pattern' string")
    comparisons = parse_simple_pattern(pattern)
    if isinstance(comparisons, str):
        return Rejected("invalid_pattern", comparisons)
    ext = _extension(obj)
    country = ext.get("country_hint") if isinstance(ext.get("country_hint"), str) else None
    target = observable_input(comparisons)
    if isinstance(target, Rejected):
        return target
    kind, value = target
    canonical = canonicalize(kind, value, country=country)
    if isinstance(canonical, Invalid):
        return Rejected("invalid_value", f"{kind} {value!r}: {canonical.reason}")
    confidence = obj.get("confidence")
    if confidence is not None and (
        isinstance(confidence, bool) or not isinstance(confidence, int) or not 0 <= confidence <= 100
    ):
        return Rejected("bad_field", "'confidence' must be an integer 0-100")
    resolved = resolve_report_markings(markings, obj, objects)
    if isinstance(resolved, Uninterpretable):
        return Rejected("uninterpretable_marking", resolved.reason)
    scam_types = _scam_types(ext.get("scam_types", []))
    if isinstance(scam_types, Rejected):
        return scam_types
    revoked = obj.get("revoked", False)
    if not isinstance(revoked, bool):
        return Rejected("bad_field", "'revoked' must be a boolean")
    try:
        observed_ms = epoch_ms(parse_timestamp(obj["valid_from"])) if "valid_from" in obj else submitted_ms
    except (ValueError, TypeError, AttributeError):
        return Rejected("bad_field", "'valid_from' must be an RFC 3339 timestamp")
    return Report(
        submission_id=submission_id,
        producer=producer,
        canonical=canonical,
        tlp=resolved.tlp if resolved.tlp is not None else default_tlp,
        confidence=confidence,
        scam_types=scam_types,
        revoked=revoked,
        observed_ms=min(observed_ms, submitted_ms),
        submitted_ms=submitted_ms,
    )


def observable_input(comparisons: list[tuple[str, str, str]]) -> tuple[str, str] | Rejected:
    """Map the comparisons of a simple pattern to a (kind, raw value) for :func:`canonicalize`.

    How a kind's properties become its raw value is declared with the kind (``Kind.stix_input``).
    """
    sco_types = {c[0] for c in comparisons}
    if len(sco_types) != 1:
        return Rejected("invalid_pattern", "pattern must compare properties of one observable type")
    sco_type = sco_types.pop()
    kind = REGISTRY.by_sco_type.get(sco_type)
    if kind is None:
        return Rejected("unknown_type", f"observable type {sco_type!r} is not one scamshare exchanges")
    props = {prop: value for _, prop, value in comparisons}
    value = kind.stix_input.read(props)
    if value is None:
        return Rejected("invalid_pattern", kind.stix_input.needs)
    return kind.name, value


def _extension(obj: dict[str, Any]) -> dict[str, Any]:
    extensions = obj.get("extensions")
    if not isinstance(extensions, dict):
        return {}
    ext = extensions.get(INDICATOR_EXTENSION_ID)
    return ext if isinstance(ext, dict) else {}


def _scam_types(value: Any) -> tuple[str, ...] | Rejected:
    if not isinstance(value, list):
        return Rejected("bad_field", f"'scam_types' must be a list of at most {MAX_SCAM_TYPES} strings")
    try:
        return tuple(sorted(scam_types(value)))
    except FieldError as exc:
        return Rejected("bad_field", str(exc))
