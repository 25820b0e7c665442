"""The scam.indicators record's bytes and routing header: the value is the record, the header a checked
shortcut, and a header that does not hold for its value is never believed."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.processors.merge import merge_many
from pipeline.processors.output import build_record, view_of
from pipeline.processors.record_wire import HEADER_ROUTING, encode_record, read_record
from pipeline.processors.score import ScoreModel
from pipeline.state.indicator import IndicatorState
from pipeline.stix.tlp import TLP
from tests.unit.processors.factories import T0, canonical, report

MODEL = ScoreModel()
PHONE = canonical("phone", "+66812345678")


def merged(*reports: object) -> IndicatorState:
    state, _, _ = merge_many(None, list(reports), MODEL, T0)  # type: ignore[arg-type]
    return state


def records() -> list[dict[str, object]]:
    """Records with one view, several views (own audiences at every TLP), a revocation and an erasure."""
    one = merged(report())
    many = merged(
        report(producer="telco-a", tlp=TLP.GREEN),
        report(producer="bank-b", tlp=TLP.AMBER, sub="s2"),
        report(producer="police-c", tlp=TLP.AMBER_STRICT, sub="s3", scam_types=("romance",)),
        report(producer="telco-d", tlp=TLP.CLEAR, sub="s4"),
    )
    revoked = replace(many, revoked=True, version=many.version + 1)
    return [
        build_record(one, PHONE, MODEL, T0),
        build_record(many, PHONE, MODEL, T0),
        build_record(revoked, PHONE, MODEL, T0),
        build_record(revoked, PHONE, MODEL, T0, erased=True),
    ]


@pytest.mark.parametrize("record", records(), ids=["one-view", "many-views", "revoked", "erased"])
def test_the_value_is_exactly_the_record_and_the_header_reads_as_the_value_does(record: dict) -> None:
    value, routing = encode_record(record)
    assert value == orjson.dumps(record)
    fast, slow = read_record(value, routing), read_record(value, None)
    assert fast.view == slow.view == view_of(record)
    assert fast.final_status == slow.final_status
    keys: list[str | None] = [*record["views"], *([None] if record["revoked"] else [])]  # type: ignore[list-item]
    assert keys, "every record here has something to deliver"
    for key in keys:
        assert fast.bundle(key) == slow.bundle(key)
        assert orjson.loads(fast.bundle(key)) == (
            record["final"] if key is None else record["views"][key]["bundle"]  # type: ignore[index]
        )


def test_a_record_with_several_views_has_their_spans_in_the_header() -> None:
    record = records()[1]
    assert len(record["views"]) > 3  # type: ignore[arg-type]
    _, routing = encode_record(record)
    assert set(orjson.loads(routing)["views"]) == set(record["views"])  # type: ignore[arg-type]
    assert len(routing) < len(orjson.dumps(record)) / 4  # routing reads the small part only


def _span(doc: dict) -> list:
    """The list holding the first span of a header (a view's, else the final bundle's), and its index."""
    return next(iter(doc["views"].values())) if doc["views"] else doc["final"]


def _lying_headers(routing: bytes, size: int) -> list[bytes]:
    doc = orjson.loads(routing)
    at = 6 if doc["views"] else 0
    out = []
    for start, end in ((0, 10), (5, size + 10), (-3, 4), (10, 5), (1.5, 9), ("7", 9)):
        bad = orjson.loads(routing)
        _span(bad)[at : at + 2] = [start, end]
        out.append(orjson.dumps(bad))
    # A span inside the value that is not one JSON object (it starts in the middle of a string).
    bad = orjson.loads(routing)
    _span(bad)[at] += 1
    out.append(orjson.dumps(bad))
    for change in ({"rv": 99}, {"x": "yes"}, {"x": None}, {"v": "2"}, {"final": [1, 2, "deleted"]}):
        out.append(orjson.dumps({**doc, **change}))
    out.append(orjson.dumps({**doc, "views": {"1": [1, 1, "active", "purple", 0, [], 1, 2]}}))
    if doc["views"]:  # a view's fields of the wrong JSON type: scam types that are not strings, a bool seq
        for index, wrong in (
            (5, [1]),
            (5, ["romance", ["x"]]),
            (5, [None]),
            (5, "romance"),
            (0, True),
            (2, 1),
        ):
            bad = orjson.loads(routing)
            _span(bad)[index] = wrong
            out.append(orjson.dumps(bad))
    out += [b"", b"not json", b"[]", b'{"rv": 1}', orjson.dumps({**doc, "views": None})]
    return out


@pytest.mark.parametrize("record", records()[1:3], ids=["views", "revoked"])
def test_a_header_that_does_not_hold_for_its_value_is_ignored_and_the_value_read(record: dict) -> None:
    value, routing = encode_record(record)
    truth = read_record(value, None)
    for lie in _lying_headers(routing, len(value)):
        read = read_record(value, lie)
        assert read.view == truth.view, lie
        for key in [*record["views"], *([None] if record["revoked"] else [])]:
            assert read.bundle(key) == truth.bundle(key), lie


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_header_bytes_give_the_record_the_value_holds(junk: bytes) -> None:
    record = records()[1]
    value, _ = encode_record(record)
    assert read_record(value, junk).view == view_of(record)


@pytest.mark.parametrize(
    "value",
    [b"not json", b"[]", orjson.dumps({"spec": "scamshare.indicator/1"}), orjson.dumps({"spec": None})],
)
def test_a_value_that_is_no_record_is_refused_with_or_without_a_header(value: bytes) -> None:
    _, routing = encode_record(records()[0])
    for header in (None, routing):
        with pytest.raises((ValueError, KeyError, TypeError)):
            read_record(value, header)


def test_the_header_name_is_the_one_fan_out_reads() -> None:
    assert HEADER_ROUTING == "scamshare-routing"
