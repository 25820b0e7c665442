"""The submission message a producer sends: key, headers, envelope, and what the validate stage says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
import stix2validator

from pipeline.canon import Canonical, canonicalize
from pipeline.errors import ConfigError
from pipeline.processors.validate import validate_submission
from pipeline.producers.publisher import build_submission, check_producer_id
from pipeline.producers.records import ReportInput, report_from_fields
from pipeline.stix.tlp import TLP
from pipeline.wire.envelope import SUBMISSION_CONTENT_TYPE, SUBMISSION_SPEC
from pipeline.wire.headers import HEADER_CONTENT_TYPE, HEADER_PRODUCER, HEADER_SCHEMA, HEADER_SUBMITTED_MS
from pipeline.wire.limits import Limits

NOW = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)


def _canonical(kind: str, value: str, country: str | None = None) -> Canonical:
    c = canonicalize(kind, value, country=country)
    assert isinstance(c, Canonical), c
    return c


def _report(**fields: object) -> ReportInput:
    r = report_from_fields(fields, source="f.csv:2", location="2")
    assert isinstance(r, ReportInput)
    return r


def test_key_headers_and_envelope() -> None:
    c = _canonical("phone", "0412 345 678", "AU")
    report = _report(
        type="phone",
        value="0412 345 678",
        country="AU",
        tlp="amber",
        confidence="80",
        scam_type="investment",
        first_seen="2026-11-01",
    )
    sub = build_submission(
        c, producer="telco-au", now=NOW, submission_id="8d7a4b8e-0000-4000-8000-000000000001", report=report
    )
    assert sub.key == c.indicator_id
    assert dict(sub.headers) == {
        HEADER_PRODUCER: b"telco-au",
        HEADER_CONTENT_TYPE: SUBMISSION_CONTENT_TYPE.encode(),
        HEADER_SCHEMA: b"1",
        HEADER_SUBMITTED_MS: b"1795341600123",
    }
    envelope = orjson.loads(sub.value)
    assert envelope["spec"] == SUBMISSION_SPEC
    assert envelope["submission_id"] == sub.submission_id == "8d7a4b8e-0000-4000-8000-000000000001"
    assert envelope["producer"] == "telco-au"
    assert envelope["submitted_at"] == "2026-11-22T10:00:00.123Z"
    indicator = envelope["bundle"]["objects"][0]
    assert indicator["id"] == c.indicator_id
    assert indicator["object_marking_refs"] == [TLP.AMBER.marking_id]
    assert indicator["confidence"] == 80
    assert indicator["valid_from"] == "2026-11-01T00:00:00.000Z"


def test_the_validate_stage_accepts_what_the_producer_sends() -> None:
    c = _canonical("wallet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    report = _report(
        type="btc",
        value="bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        scam_type="investment|romance",
        tlp="red",
        confidence=60,
    )
    sub = build_submission(c, producer="bank-nz", now=NOW, report=report)
    result = validate_submission(sub.value, Limits(), header_producer="bank-nz")
    assert isinstance(result, list), result
    (accepted,) = result
    assert accepted.canonical == c
    assert (accepted.tlp, accepted.confidence, accepted.scam_types) == (
        TLP.RED,
        60,
        ("investment", "romance"),
    )
    assert accepted.submission_id == sub.submission_id


def test_submission_id_defaults_to_uuid4() -> None:
    c = _canonical("domain", "example.com")
    a = build_submission(c, producer="p", now=NOW)
    b = build_submission(c, producer="p", now=NOW)
    assert a.submission_id != b.submission_id
    assert uuid.UUID(a.submission_id).version == 4


def test_keyword_fields_override_the_report_and_default_tlp_applies() -> None:
    c = _canonical("domain", "example.com")
    report = _report(type="domain", value="example.com", confidence=10)
    sub = build_submission(c, producer="p", now=NOW, report=report, confidence=90, default_tlp=TLP.AMBER)
    indicator = sub.bundle["objects"][0]
    assert indicator["confidence"] == 90
    assert indicator["object_marking_refs"] == [TLP.AMBER.marking_id]
    bare = build_submission(c, producer="p", now=NOW)
    assert bare.bundle["objects"][0]["object_marking_refs"] == [TLP.GREEN.marking_id]


def test_bundle_passes_the_oasis_validator() -> None:
    c = _canonical("social", "https://t.me/fake_support_bot")
    sub = build_submission(
        c, producer="platform-x", now=NOW, report=_report(type="social", value="x", tlp="clear")
    )
    result = stix2validator.validate_string(orjson.dumps(sub.bundle).decode())
    assert result.is_valid


@pytest.mark.parametrize("bad", ["", "Telco", "telco au", "-telco", "x" * 65])
def test_producer_id_rules(bad: str) -> None:
    with pytest.raises(ConfigError, match="producer id"):
        check_producer_id(bad)
    assert check_producer_id("telco-au_2") == "telco-au_2"
    with pytest.raises(ConfigError, match="producer id"):  # a dot would make topic and group names ambiguous
        check_producer_id("telco.au")
