"""Field validation of input records and canonicalisation into accepted reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.producers.records import (
    Accepted,
    Rejected,
    ReportInput,
    bundle_options,
    file_submission_id,
    normalise_kind,
    parse_confidence,
    parse_first_seen,
    parse_scam_types,
    parse_tlp_field,
    report_from_fields,
    split_rejected,
    to_canonical_report,
)
from pipeline.stix.tlp import TLP
from pipeline.wire.fields import FieldError


def _report(**fields: object) -> ReportInput:
    item = report_from_fields(fields, source="f.csv:2", location="2")
    assert isinstance(item, ReportInput), item
    return item


def _reason(**fields: object) -> str:
    item = report_from_fields(fields, source="f.csv:7", location="7")
    assert isinstance(item, Rejected), item
    assert item.source == "f.csv:7"
    return item.reason


@pytest.mark.parametrize(
    ("alias", "kind"),
    [
        ("phone", "phone"),
        ("phone-number", "phone"),
        ("Phone_Number", "phone"),
        ("domain-name", "domain"),
        ("hostname", "domain"),
        ("email-addr", "email"),
        ("iban", "bank-account"),
        ("bank_account", "bank-account"),
        ("btc", "wallet"),
        ("ETH", "wallet"),
        ("cryptocurrency-wallet", "wallet"),
        ("user-account", "social"),
        ("url", "url"),
    ],
)
def test_kind_aliases(alias: str, kind: str) -> None:
    assert normalise_kind(alias) == kind


def test_unknown_kind_is_none() -> None:
    assert normalise_kind("fax") is None


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), (" 80 ", 80), (0, 0), (100, 100), (55.0, 55)]
)
def test_confidence_accepted(raw: object, expected: int | None) -> None:
    assert parse_confidence(raw) == expected


@pytest.mark.parametrize("raw", [101, -1, "high", "80.5", 80.5, True, [80]])
def test_confidence_rejected(raw: object) -> None:
    with pytest.raises(FieldError, match="confidence"):
        parse_confidence(raw)


def test_tlp_names_and_ids() -> None:
    assert parse_tlp_field("amber") is TLP.AMBER
    assert parse_tlp_field("TLP:AMBER+STRICT") is TLP.AMBER_STRICT
    assert parse_tlp_field("white") is TLP.CLEAR
    assert parse_tlp_field("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed") is TLP.RED
    assert parse_tlp_field("") is None
    with pytest.raises(FieldError, match="unknown TLP 'purple'"):
        parse_tlp_field("purple")


def test_first_seen_forms() -> None:
    assert parse_first_seen("2026-11-02") == datetime(2026, 11, 2, tzinfo=UTC)
    assert parse_first_seen("2026-11-02T10:00:00+02:00") == datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert parse_first_seen("2026-11-02T10:00:00Z") == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert parse_first_seen("2026-11-02T10:00:00") == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert parse_first_seen(" ") is None
    with pytest.raises(FieldError, match="not an RFC 3339 timestamp or ISO date"):
        parse_first_seen("02/11/2026")
    with pytest.raises(FieldError):
        parse_first_seen(1730000000)


def test_scam_types_split_normalise_and_dedupe() -> None:
    assert parse_scam_types("Investment; romance | investment|") == ("investment", "romance")
    assert parse_scam_types(["Bank Impersonation", "tech_support"]) == ("bank-impersonation", "tech-support")
    assert parse_scam_types(None) == ()
    with pytest.raises(FieldError, match="1-48 characters"):
        parse_scam_types("money$$")
    with pytest.raises(FieldError, match="at most 16"):
        parse_scam_types([f"t{i}" for i in range(17)])
    with pytest.raises(FieldError, match="not a string"):
        parse_scam_types([1])


@given(st.lists(st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True), max_size=16))
def test_scam_types_idempotent(names: list[str]) -> None:
    once = parse_scam_types(names)
    assert parse_scam_types(list(once)) == once
    assert parse_scam_types(";".join(once)) == once


def test_report_from_fields_full_record() -> None:
    report = _report(
        type="phone-number",
        value=" 0412 345 678 ",
        country="au",
        scam_type="investment;impersonation",
        confidence="80",
        tlp="amber",
        first_seen="2026-11-01",
        description="  calls  ",
    )
    assert report == ReportInput(
        kind="phone",
        value="0412 345 678",
        source="f.csv:2",
        location="2",
        country="AU",
        scam_types=("investment", "impersonation"),
        confidence=80,
        tlp=TLP.AMBER,
        first_seen=datetime(2026, 11, 1, tzinfo=UTC),
        description="calls",
    )


def test_report_fields_accept_kind_and_scam_types_list() -> None:
    report = _report(kind="domain", value="example.com", scam_types=["phishing"])
    assert (report.kind, report.scam_types, report.tlp) == ("domain", ("phishing",), None)


def test_record_tlp_beats_the_context_tlp() -> None:
    item = report_from_fields(
        {"type": "url", "value": "http://x.com", "tlp": "red"}, source="s", tlp=TLP.GREEN
    )
    assert isinstance(item, ReportInput)
    assert item.tlp is TLP.RED
    item = report_from_fields({"type": "url", "value": "http://x.com"}, source="s", tlp=TLP.AMBER)
    assert isinstance(item, ReportInput)
    assert item.tlp is TLP.AMBER


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"value": "x"}, "missing 'type'"),
        ({"type": " ", "value": "x"}, "missing 'type'"),
        ({"type": 3, "value": "x"}, "'type' must be a string"),
        ({"type": "fax", "value": "x"}, "unknown type 'fax'; expected one of phone, domain"),
        ({"type": "phone"}, "missing 'value'"),
        ({"type": "phone", "value": "  "}, "missing 'value'"),
        ({"type": "phone", "value": 4155552671}, "'value' must be a string"),
        ({"type": "phone", "value": "x", "country": "AUS"}, "country 'AUS' must be an ISO 3166-1 alpha-2"),
        ({"type": "phone", "value": "x", "tlp": "purple"}, "unknown TLP"),
        ({"type": "phone", "value": "x", "description": 5}, "description must be a string"),
        ({"type": "phone", "value": "x", "description": "d" * 10_001}, "the limit is 10000"),
        ({"type": "iban", "value": "x", "bic": "NOTABIC"}, "BIC 'NOTABIC'"),
    ],
)
def test_report_from_fields_rejects(fields: dict[str, object], reason: str) -> None:
    assert reason in _reason(**fields)


@given(
    st.dictionaries(
        st.sampled_from(["type", "value", "country", "tlp", "confidence", "scam_type", "first_seen"]),
        st.one_of(st.none(), st.text(max_size=20), st.integers(), st.booleans()),
    )
)
def test_report_from_fields_never_raises(fields: dict[str, object]) -> None:
    item = report_from_fields(fields, source="s")
    assert isinstance(item, ReportInput | Rejected)


def test_to_canonical_report_accepts() -> None:
    report = _report(type="phone", value="0412 345 678", country="AU")
    result = to_canonical_report(report)
    assert isinstance(result, Accepted)
    canonical, same = result
    assert canonical.value == "+61412345678"
    assert same is report


def test_to_canonical_report_rejects_with_source() -> None:
    result = to_canonical_report(_report(type="email", value="not-an-email"))
    assert isinstance(result, Rejected)
    assert result.source == "f.csv:2"
    assert result.reason.startswith("invalid email 'not-an-email': ")


def test_chain_alias_must_match_the_address() -> None:
    btc_address = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    assert isinstance(to_canonical_report(_report(type="btc", value=btc_address)), Accepted)
    wrong = to_canonical_report(_report(type="eth", value=btc_address))
    assert isinstance(wrong, Rejected)
    assert "is a bitcoin address, but the input says ethereum" in wrong.reason


def test_bic_is_attached_without_changing_the_ids() -> None:
    plain = to_canonical_report(_report(type="iban", value="DE89 3704 0044 0532 0130 00"))
    with_bic = to_canonical_report(_report(type="iban", value="DE89 3704 0044 0532 0130 00", bic="cobadeff"))
    assert isinstance(plain, Accepted)
    assert isinstance(with_bic, Accepted)
    assert with_bic.canonical.props["bic"] == "COBADEFFXXX"
    assert with_bic.canonical.sco_id == plain.canonical.sco_id
    assert with_bic.canonical.indicator_id == plain.canonical.indicator_id


def test_two_different_bics_are_rejected() -> None:
    result = to_canonical_report(
        _report(type="iban", value="DE89370400440532013000 COBADEFFXXX", bic="DEUTDEFF")
    )
    assert isinstance(result, Rejected)
    assert "carries BIC COBADEFFXXX" in result.reason


def test_bundle_options_default_tlp_and_clear_is_kept() -> None:
    # TLP.CLEAR is 0 (falsy): it must not be replaced by the default.
    clear = _report(type="domain", value="example.com", tlp="clear")
    assert bundle_options(clear, default_tlp=TLP.AMBER)["tlp"] is TLP.CLEAR
    unset = _report(type="domain", value="example.com")
    options = bundle_options(unset, default_tlp=TLP.AMBER)
    assert options["tlp"] is TLP.AMBER
    assert options["raw_value"] == "example.com"


def test_file_submission_id_is_deterministic_uuid() -> None:
    a = file_submission_id("telco-au", "ab" * 32, "12")
    assert a == file_submission_id("telco-au", "ab" * 32, "12")
    assert uuid.UUID(a).version == 5
    assert (
        len(
            {
                a,
                file_submission_id("telco-nz", "ab" * 32, "12"),
                file_submission_id("telco-au", "cd" * 32, "12"),
                file_submission_id("telco-au", "ab" * 32, "13"),
            }
        )
        == 4
    )


def test_split_rejected_keeps_order() -> None:
    good = _report(type="domain", value="example.com")
    bad = Rejected("f:3", "nope")
    reports, rejected, skipped = split_rejected([bad, good])
    assert (reports, rejected, skipped) == ([good], [bad], [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, False), ("", False), ("true", True), ("YES", True), ("0", False), (True, True)],
)
def test_revoked_field(raw: object, expected: bool) -> None:
    report = report_from_fields({"type": "domain", "value": "x.example.com", "revoked": raw}, source="f:1")
    assert isinstance(report, ReportInput)
    assert report.revoked is expected
    assert bundle_options(report)["revoked"] is expected


def test_bad_revoked_value_names_the_field() -> None:
    rejected = report_from_fields(
        {"type": "domain", "value": "x.example.com", "revoked": "maybe"}, source="f:2"
    )
    assert isinstance(rejected, Rejected)
    assert "'revoked' must be true or false" in rejected.reason
