"""Prometheus exposition of lag, status, counters, latency; alert rules and dashboard name real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.config import Settings
from pipeline.ops.canary import Canary
from pipeline.ops.lag import GroupLag, PartitionLag
from pipeline.ops.metrics import PipelineCollector, lag_metrics, stats_metrics
from pipeline.ops.timelag import LagSnapshot, MemoryHistory, evaluate
from pipeline.state.latency import observe

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

STATS = {
    "accepted": 240,
    "rejected": 3,
    "rejected:not_json": 1,
    "rejected:bad_envelope": 2,
    "duplicates": 60,
    "allowlisted": 4,
    "indicators": 176,
    "versions": 180,
    "revocations": 2,
    "revocations_delivered": 5,
    "delivered:telco-th": 136,
    "delivered:bank-sg": 194,
    "fanout_records": 180,
    **observe("e2e", [3.0, 40.0, 400.0, 70_000.0]),
    **observe("ingest", [2.0]),
}


def snapshot() -> LagSnapshot:
    history = MemoryHistory()
    lags = [
        GroupLag("scamshare", (PartitionLag("scam.submissions", 0, 10, 10, 0),), state="stable"),
        GroupLag("scamshare.sub.bank-sg", (PartitionLag("scam.feed.bank-sg", 0, 5, 15, 10),), state="empty"),
    ]
    evaluate(lags, history, now=100.0)
    return LagSnapshot(110.0, "fetch", evaluate(lags, history, now=110.0))


def scrape(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = generate_latest(registry).decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def exposed_names() -> set[str]:
    registry = CollectorRegistry()
    registry.register(PipelineCollector(snapshot, lambda: STATS))
    Canary(Settings(), registry)  # registers the canary's metrics; no I/O before setup()
    return set(scrape(registry))


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    matches = [v for lab, v in samples[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(matches) == 1, (name, labels, samples.get(name))
    return matches[0]


def test_lag_families_per_group_topic_partition() -> None:
    registry = CollectorRegistry()
    registry.register(PipelineCollector(snapshot, None))
    samples = scrape(registry)
    sub = {"group": "scamshare.sub.bank-sg", "topic": "scam.feed.bank-sg", "partition": "0"}
    assert value(samples, "scamshare_consumer_group_lag_messages", **sub) == 10
    assert value(samples, "scamshare_consumer_group_committed_offset", **sub) == 5
    assert value(samples, "scamshare_consumer_group_lag_seconds", **sub) == 10.0  # behind since t=100
    assert value(samples, "scamshare_partition_end_offset", topic="scam.feed.bank-sg", partition="0") == 15
    assert value(samples, "scamshare_consumer_group_status", group="scamshare", status="OK") == 1
    assert value(samples, "scamshare_consumer_group_status", group="scamshare", status="STOP") == 0
    statuses = [lab["status"] for lab, v in samples["scamshare_consumer_group_status"] if v == 1]
    assert len(statuses) == 2  # exactly one status per group


def test_counters_and_histograms_from_the_stats_hash() -> None:
    registry = CollectorRegistry()
    registry.register(PipelineCollector(lambda: None, lambda: STATS))
    samples = scrape(registry)
    assert value(samples, "scamshare_received_total") == 243
    assert value(samples, "scamshare_accepted_total") == 240
    assert value(samples, "scamshare_rejected_total", reason="bad_envelope") == 2
    assert value(samples, "scamshare_delivered_total", subscriber="bank-sg") == 194
    assert value(samples, "scamshare_allowlisted_total") == 4
    assert value(samples, "scamshare_revocations_total") == 2
    assert value(samples, "scamshare_redis_up") == 1
    e2e = {"stage": "e2e"}
    assert value(samples, "scamshare_processing_latency_seconds_count", **e2e) == 4
    assert value(samples, "scamshare_processing_latency_seconds_bucket", le="0.005", **e2e) == 1
    assert value(samples, "scamshare_processing_latency_seconds_bucket", le="0.5", **e2e) == 3
    assert value(samples, "scamshare_processing_latency_seconds_bucket", le="+Inf", **e2e) == 4
    assert value(samples, "scamshare_processing_latency_seconds_sum", **e2e) == 70.443


def test_names_follow_prometheus_conventions() -> None:
    families = lag_metrics(snapshot()) + stats_metrics(STATS)
    for family in families:
        assert family.name.startswith("scamshare_")
        if family.type == "counter":
            assert not family.name.endswith("_total")  # the exposition appends it
        if "latency" in family.name or family.name.endswith("lag_seconds"):
            assert family.name.endswith("_seconds")
    assert all(n.endswith("_total") for n in exposed_names() if n.startswith("scamshare_received"))


def expr_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\b(scamshare_[a-z0-9_]+)\b", expr))


def test_alert_rules_parse_and_name_exposed_metrics() -> None:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    names = {rule["alert"] for rule in rules}
    assert {"ScamshareSubscriberLagging", "ScamshareConsumerGroupStopped", "ScamshareDLQRate"} <= names
    assert "ScamshareCanaryLost" in names
    exposed = exposed_names()
    for rule in rules:
        assert set(rule) >= {"alert", "expr", "labels", "annotations"}, rule
        used = expr_metrics(rule["expr"])
        assert used, rule["alert"]
        assert used <= exposed, (rule["alert"], used - exposed)


def test_dashboard_parses_and_names_exposed_metrics() -> None:
    dash = json.loads((DEPLOY / "grafana" / "scamshare.json").read_text())
    exprs = [t["expr"] for panel in dash["panels"] for t in panel["targets"]]
    assert len(exprs) >= 8
    exposed = exposed_names()
    for expr in exprs:
        used = expr_metrics(expr)
        assert used and used <= exposed, (expr, used - exposed)
