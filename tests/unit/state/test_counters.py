"""Counters are declared once and exported by iterating the declaration."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.ops.metrics import PipelineCollector
from pipeline.state.counters import COUNTERS, spec_of, undeclared


def _scrape(stats: dict[str, int]) -> dict[str, list[tuple[dict[str, str], float]]]:
    registry = CollectorRegistry()
    registry.register(PipelineCollector(lambda: None, lambda: stats))
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def test_every_declared_counter_has_a_unique_field_and_metric() -> None:
    assert len({c.field for c in COUNTERS}) == len(COUNTERS)
    assert len({c.metric for c in COUNTERS}) == len(COUNTERS)


def test_labelled_fields_belong_to_their_family_and_unknown_ones_are_reported() -> None:
    assert spec_of("rejected:not_json") is not None
    assert spec_of("accepted:x") is None  # accepted is not a labelled family
    fields = ["accepted", "rejected:not_json", "latency:e2e:le:100", "sightings:false_positive", "typo"]
    assert undeclared(fields) == ["typo"]


def test_the_counters_the_sightings_and_poison_paths_write_are_exported() -> None:
    """Before the declaration, sightings, sightings_rejected, sightings_errors and fanout_errors were
    written to Redis but never reached /metrics."""
    stats = {
        "sightings": 3,
        "sightings:false_positive": 2,
        "sightings:blocked": 1,
        "sightings_rejected": 1,
        "sightings_rejected:bad_sighting": 1,
        "sightings_errors": 1,
        "fanout_errors": 2,
        "decayed": 4,
    }
    samples = _scrape(stats)
    assert samples["scamshare_sightings_total"] == [
        ({"kind": "blocked"}, 1.0),
        ({"kind": "false_positive"}, 2.0),
    ]
    assert samples["scamshare_sightings_rejected_total"] == [({"reason": "bad_sighting"}, 1.0)]
    assert samples["scamshare_sightings_errors_total"] == [({}, 1.0)]
    assert samples["scamshare_fanout_errors_total"] == [({}, 2.0)]
    assert samples["scamshare_decayed_total"] == [({}, 4.0)]
    assert undeclared(stats) == []
