"""Every pipeline counter, declared once: its field in the stats hash, its metric name, help and label.

The steps write these fields (``Store.incr`` / ``count_once`` / the commit scripts); the Prometheus exporter
(:mod:`pipeline.ops.metrics`) exports them by iterating :data:`COUNTERS`, so a counter cannot be written
without being exported: :func:`undeclared` names any stats field no declaration covers, and the
integration tests assert it is empty after real worker runs.

A labelled counter is a family of fields ``<field>:<label value>`` (``rejected:invalid_value``); its bare
``<field>`` (when written) is the family's total and is not exported twice. Latency histogram fields
(``latency:<stage>:...``, :mod:`pipeline.state.latency`) and per-indicator delivery marks live beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """One counter: ``field`` in the stats hash → ``scamshare_<metric>_total``."""

    field: str
    metric: str
    help: str
    #: label name when the counter is a family of ``<field>:<value>`` fields
    label: str | None = None


COUNTERS: Final[tuple[CounterSpec, ...]] = (
    CounterSpec("accepted", "accepted", "Reports accepted by ingest."),
    CounterSpec("rejected", "rejected", "Messages sent to the DLQ, by reason.", label="reason"),
    CounterSpec("duplicates", "duplicates", "Accepted reports that changed nothing (no new version)."),
    CounterSpec("allowlisted", "allowlisted", "Reports held back by an allowlist."),
    CounterSpec("indicators", "indicators_created", "Indicators seen for the first time."),
    CounterSpec("versions", "versions", "Indicator versions published to the indicators topic."),
    CounterSpec("held", "held", "Messages held by their organisation's quotas, by quota.", label="quota"),
    CounterSpec("released", "released", "Held messages released once the quota allowed."),
    CounterSpec("revocations", "revocations", "Final revocations published (allowlist, erasure)."),
    CounterSpec("erasures", "erasures", "Values erased on request (`scamshare erase`): final, everywhere."),
    CounterSpec("suppressions", "suppressions", "Indicators suppressed by false positives (reversible)."),
    CounterSpec("decayed", "decayed", "Versions published by the decay sweep (lower band or expiry)."),
    CounterSpec(
        "revocations_delivered",
        "revocations_delivered",
        "Versions that say stop acting (suppressed, withdrawn, expired, revoked) sent to past recipients.",
    ),
    CounterSpec("delivered", "delivered", "Versions delivered to a subscriber.", label="subscriber"),
    CounterSpec("fanout_records", "fanout_records", "Indicator versions processed by fan-out."),
    CounterSpec("fanout_errors", "fanout_errors", "Records fan-out failed on (dead-lettered)."),
    CounterSpec("sightings", "sightings", "Sightings accepted, by kind.", label="kind"),
    CounterSpec(
        "sightings_rejected", "sightings_rejected", "Sightings sent to the DLQ, by reason.", label="reason"
    ),
    CounterSpec("sightings_errors", "sightings_errors", "Sightings the step failed on (dead-lettered)."),
    CounterSpec(
        "sightings_reported_count",
        "sightings_reported_count",
        "Sum of the STIX count of accepted sightings (information: each counts as one vote).",
    ),
)

#: Fields that are not counters of their own: histogram buckets (exported as a histogram).
NOT_COUNTERS: Final = ("latency:",)

_BY_FIELD: Final = {c.field: c for c in COUNTERS}


def spec_of(field: str) -> CounterSpec | None:
    """The declaration covering a stats field (``rejected:not_json`` → the ``rejected`` family)."""
    if field in _BY_FIELD:
        return _BY_FIELD[field]
    head, sep, _ = field.partition(":")
    spec = _BY_FIELD.get(head) if sep else None
    return spec if spec is not None and spec.label is not None else None


def undeclared(fields: Iterable[str]) -> list[str]:
    """Stats fields no declaration covers (a counter written but never exported): should be empty."""
    return sorted(f for f in fields if not f.startswith(NOT_COUNTERS) and spec_of(f) is None)


def labelled(stats: Mapping[str, int], spec: CounterSpec) -> list[tuple[str, int]]:
    """``(label value, count)`` of a labelled counter, sorted by label value."""
    prefix = spec.field + ":"
    return sorted((k[len(prefix) :], v) for k, v in stats.items() if k.startswith(prefix))
