"""IMEIs from every input format: CSV and JSON Lines (type ``imei``), STIX patterns and SCOs, MISP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pipeline.canon import Canonical, canonicalize
from pipeline.producers.misp_input import read_misp
from pipeline.producers.readers import SourceFile, read_source
from pipeline.producers.records import Accepted, ReadItem, Rejected, ReportInput, to_canonical_report
from pipeline.producers.stix_input import read_stix
from pipeline.stix.build import report_bundle, sco_object

IMEI = "352099001761481"


def _canonical(items: list[ReadItem]) -> list[tuple[str, str] | str]:
    """(kind, canonical value) per accepted report, the reason per rejected one."""
    out: list[tuple[str, str] | str] = []
    for item in items:
        assert isinstance(item, ReportInput | Rejected), item
        result = to_canonical_report(item) if isinstance(item, ReportInput) else item
        out.append(
            (result.canonical.kind, result.canonical.value) if isinstance(result, Accepted) else result.reason
        )
    return out


def test_csv() -> None:
    text = (
        "type,value,scam_type\n"
        "imei,35-209900-176148-1,investment\n"
        "IMEI,3520990017614823,investment\n"  # IMEISV, type in upper case
        "imeisv,35 209900 176148 23,\n"
        "imei,352099001761483,romance\n"
    )
    items = list(read_source(SourceFile("handsets.csv", text.encode())))
    assert _canonical(items) == [
        ("imei", IMEI),
        ("imei", IMEI),
        ("imei", IMEI),
        "invalid imei '352099001761483': IMEI check digit is 3, expected 1",
    ]
    assert [i.source for i in items] == [f"handsets.csv:{n}" for n in (2, 3, 4, 5)]


def test_jsonl() -> None:
    lines = [
        {"type": "imei", "value": "35/209900/176148/1", "scam_types": ["investment"]},
        {"type": "imei", "value": "35209900176148"},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    items = list(read_source(SourceFile("handsets.jsonl", data)))
    assert _canonical(items) == [
        ("imei", IMEI),
        "invalid imei '35209900176148': IMEI has 14 digits; expected 15 (IMEI) or 16 (IMEISV)",
    ]


def _imei() -> Canonical:
    c = canonicalize("imei", IMEI)
    assert isinstance(c, Canonical)
    return c


def test_stix_indicator_and_bare_sco() -> None:
    indicator: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "pattern": "[imei:value = '35-209900-176148-1']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
    }
    sco = sco_object(_imei())
    items = list(read_stix([indicator, sco], "b.json"))
    # The bare SCO names the same value as the Indicator's pattern once both are canonical: one report
    # (it used to be two, compared as raw text).
    assert [i.source for i in items] == ["b.json:[0]"]
    assert _canonical(items) == [("imei", IMEI)]


def test_stix_our_own_bundle_round_trips() -> None:
    bundle = report_bundle(_imei(), producer="telco-a", now=datetime(2026, 11, 22, tzinfo=UTC))
    [item] = read_stix(bundle, "b.json")  # the SCO is covered by the Indicator's relationship
    assert _canonical([item]) == [("imei", IMEI)]


def test_stix_pattern_without_value_is_rejected() -> None:
    indicator = {"type": "indicator", "id": "indicator--1", "pattern": "[imei:tac = '35209900']"}
    [item] = read_stix([indicator], "b.json")
    assert isinstance(item, Rejected)
    assert item.reason == "imei pattern must compare 'value'"


def test_misp_imei_attributes() -> None:
    event = {
        "Event": {
            "info": "handsets seized at a scam compound",
            "Attribute": [
                {"type": "imei", "value": "35-209900-176148-1", "to_ids": True},
                {"type": "imei", "value": "352099001761483", "to_ids": True},
                {"type": "imei", "value": "490154203237518", "to_ids": False},
            ],
        }
    }
    items = list(read_misp(event, "e.json"))
    assert [type(i).__name__ for i in items] == ["ReportInput", "ReportInput", "Skipped"]
    assert _canonical(items[:2]) == [
        ("imei", IMEI),
        "invalid imei '352099001761483': IMEI check digit is 3, expected 1",
    ]
