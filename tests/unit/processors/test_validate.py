from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.processors.validate import deeper_than, json_depth, validate_submission
from pipeline.stix.tlp import TLP
from pipeline.wire.limits import Limits
from pipeline.wire.rejected import Rejected

from .factories import indicator_obj, phone_submission, submission

LIMITS = Limits()


def test_national_phone_with_country_hint_becomes_e164() -> None:
    reports = validate_submission(phone_submission("081 234 5678", country="TH"), LIMITS)
    assert not isinstance(reports, Rejected)
    (r,) = reports
    assert r.canonical.value == "+66812345678"
    assert r.producer == "telco-a"
    assert r.submission_id == "sub-1"
    assert r.tlp == TLP.GREEN
    assert r.confidence == 70


def test_two_formats_of_one_number_share_an_indicator_id() -> None:
    a = validate_submission(phone_submission("+66 81 234 5678"), LIMITS)
    b = validate_submission(phone_submission("0812345678", country="TH", producer="bank-b"), LIMITS)
    assert not isinstance(a, Rejected) and not isinstance(b, Rejected)
    assert a[0].indicator_id == b[0].indicator_id


def test_tlp1_marking_is_normalised_and_missing_marking_gets_default() -> None:
    tlp1_amber = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
    obj = indicator_obj(
        "domain-name", {"value": "evil.example.com"}, tlp=None, object_marking_refs=[tlp1_amber]
    )
    (r,) = validate_submission(submission(obj), LIMITS)  # type: ignore[misc]
    assert r.tlp == TLP.AMBER
    (r2,) = validate_submission(
        submission(indicator_obj("domain-name", {"value": "x.com"}, tlp=None)), LIMITS
    )  # type: ignore[misc]
    assert r2.tlp == LIMITS.default_tlp


def test_bundle_with_several_indicators_yields_suffixed_submission_ids() -> None:
    a = indicator_obj("domain-name", {"value": "a.example.com"})
    b = indicator_obj("url", {"value": "http://b.example.com/login"})
    reports = validate_submission(submission(a, b, submission_id="batch-7"), LIMITS)
    assert not isinstance(reports, Rejected)
    assert [r.submission_id for r in reports] == ["batch-7#0", "batch-7#1"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[]", "bad_envelope"),
        (b"[" * 40 + b"]" * 40, "too_deep"),
        (submission(spec="other/1"), "bad_envelope"),
        (submission(producer="Bad Producer!"), "bad_envelope"),
        (submission(submission_id=""), "bad_envelope"),
        (submission(submitted_at="yesterday"), "bad_envelope"),
        (submission(bundle={"type": "bundle"}), "bad_envelope"),
        (submission({"type": "identity"}), "no_indicator"),
        (
            submission(indicator_obj("phone-number", {"value": "+66812345678"}, pattern="[a OR b]")),
            "invalid_pattern",
        ),
        (submission(indicator_obj("file", {"name": "x.exe"})), "unknown_type"),
        (submission(indicator_obj("phone-number", {"value": "12"})), "invalid_value"),
        (submission(indicator_obj("domain-name", {"value": "example.com"}, confidence=101)), "bad_field"),
        (submission(indicator_obj("domain-name", {"value": "example.com"}, revoked="yes")), "bad_field"),
        (
            submission(indicator_obj("domain-name", {"value": "example.com"}, pattern_type="sigma")),
            "unsupported_pattern",
        ),
    ],
)
def test_rejects_carry_a_stable_code_and_a_reason(raw: bytes, code: str) -> None:
    outcome = validate_submission(raw, LIMITS)
    assert isinstance(outcome, Rejected)
    assert outcome.code == code
    assert outcome.reason


def test_limits_are_enforced_with_the_limit_in_the_reason() -> None:
    big = submission(indicator_obj("domain-name", {"value": "example.com"}, description="x" * 2000))
    rejected = validate_submission(big, Limits(max_bytes=1024))
    assert isinstance(rejected, Rejected) and rejected.code == "too_large" and "1024" in rejected.reason
    many = submission(*[indicator_obj("domain-name", {"value": f"d{i}.example.com"}) for i in range(5)])
    rejected = validate_submission(many, Limits(max_objects=4))
    assert isinstance(rejected, Rejected) and rejected.code == "too_many_objects"


def test_one_bad_indicator_rejects_the_whole_submission_and_names_it() -> None:
    good = indicator_obj("domain-name", {"value": "good.example.com"})
    bad = indicator_obj(
        "phone-number", {"value": "not a number"}, id="indicator--00000000-0000-4000-8000-00000000000b"
    )
    rejected = validate_submission(submission(good, bad), LIMITS)
    assert isinstance(rejected, Rejected)
    assert "indicator 1" in rejected.reason and "00000000000b" in rejected.reason


def test_header_producer_must_match_envelope() -> None:
    rejected = validate_submission(phone_submission("+66812345678"), LIMITS, header_producer="someone-else")
    assert isinstance(rejected, Rejected) and rejected.code == "producer_mismatch"


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.integers(),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    ),
    st.integers(0, 8),
)
def test_deeper_than_agrees_with_json_depth(doc: object, limit: int) -> None:
    assert deeper_than(doc, limit) == (json_depth(doc) > limit)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.integers(-(2**63), 2**63 - 1) | st.text(alphabet="[]{}a", max_size=4),
        lambda c: (
            st.lists(c, max_size=3) | st.dictionaries(st.text(alphabet="[{a", max_size=3), c, max_size=3)
        ),
    ),
    st.integers(2, 8),
)
def test_a_document_too_deep_is_refused_whatever_its_bracket_count(doc: object, limit: int) -> None:
    # The validator walks the document only when it has more opening brackets than the limit: the count
    # bounds the depth from above (brackets in strings only add), so the verdict is the walk's.
    raw = orjson.dumps(doc)
    assert json_depth(doc) <= raw.count(b"[") + raw.count(b"{")
    verdict = validate_submission(raw, Limits(max_depth=limit))
    assert (isinstance(verdict, Rejected) and verdict.code == "too_deep") == (json_depth(doc) > limit)


def test_json_depth() -> None:
    assert json_depth(1) == 0
    assert json_depth([]) == 1
    assert json_depth({"a": [{"b": 1}]}) == 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_raise(raw: bytes) -> None:
    assert isinstance(validate_submission(raw, LIMITS), Rejected)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_json_never_raises(doc: object) -> None:
    outcome = validate_submission(orjson.dumps(doc), LIMITS)
    assert isinstance(outcome, Rejected)


# --- markings fail closed (pipeline.stix.markings) ---------------------------------------------------------

IND_ID = "indicator--6a0c5f1e-8d4b-4f4e-9a53-3c1f2b6d7e81"  # indicator_obj's id
SCO_ID = "domain-name--00000000-0000-5000-8000-0000000000d1"
CUSTOM = "marking-definition--7b9d2a3e-1f44-4d6b-9c0e-5a8f3e2d1c00"
UNKNOWN = "marking-definition--00000000-0000-4000-8000-00000000abcd"
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
OASIS_PAP_RED = "marking-definition--740d36e5-7714-4c30-961a-3ae632ceee0e"


def _domain_indicator(**extra: Any) -> dict[str, Any]:
    return indicator_obj("domain-name", {"value": "evil.example.com"}, tlp=None, **extra)


def _sco(**extra: Any) -> dict[str, Any]:
    return {"type": "domain-name", "spec_version": "2.1", "id": SCO_ID, "value": "evil.example.com", **extra}


def _rel(**extra: Any) -> dict[str, Any]:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--00000000-0000-4000-8000-0000000000e1",
        "relationship_type": "based-on",
        "source_ref": IND_ID,
        "target_ref": SCO_ID,
        **extra,
    }


def _marking(**fields: Any) -> dict[str, Any]:
    return {"type": "marking-definition", "spec_version": "2.1", "id": CUSTOM, **fields}


def _tlp(*objects: dict[str, Any], default_tlp: TLP | None = None) -> TLP:
    outcome = validate_submission(submission(*objects), LIMITS, default_tlp=default_tlp)
    assert not isinstance(outcome, Rejected), outcome
    (report,) = outcome
    return report.tlp


def _held(*objects: dict[str, Any]) -> str:
    outcome = validate_submission(submission(*objects), LIMITS)
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code == "uninterpretable_marking"
    assert outcome.producer == "telco-a"
    return outcome.reason


def test_unknown_marking_id_is_held_not_passed_as_the_default() -> None:
    reason = _held(_domain_indicator(object_marking_refs=[UNKNOWN]))
    assert reason.startswith(f"indicator 0 ({IND_ID}): ") and UNKNOWN in reason


def test_statement_marking_is_held() -> None:
    statement = _marking(definition_type="statement", definition={"statement": "Do not share"})
    assert "statement" in _held(statement, _domain_indicator(object_marking_refs=[CUSTOM]))


def test_granular_red_on_the_indicator_is_red() -> None:
    granular = [{"marking_ref": TLP.RED.marking_id, "selectors": ["pattern"]}]
    ind = _domain_indicator(object_marking_refs=[TLP.GREEN.marking_id], granular_markings=granular)
    assert _tlp(ind) is TLP.RED


def test_marking_only_on_the_sco_applies() -> None:
    assert _tlp(_domain_indicator(), _rel(), _sco(object_marking_refs=[TLP.RED.marking_id])) is TLP.RED


def test_marking_only_on_the_relationship_applies() -> None:
    assert _tlp(_domain_indicator(), _rel(object_marking_refs=[TLP.RED.marking_id]), _sco()) is TLP.RED


@pytest.mark.parametrize(
    "fields",
    [
        {"definition_type": "TLP", "definition": {"TLP": "RED"}},  # OpenCTI 4 / MISP
        {"definition_type": "tlp", "definition": {"tlp": "red"}},
        {"definition_type": "Tlp", "definition": {"Tlp": "tlp:Red"}},
        {"x_opencti_definition_type": "TLP", "x_opencti_definition": "TLP:RED"},
        {"name": "TLP:RED"},
    ],
    ids=["opencti4", "lower", "mixed", "x_opencti", "name"],
)
def test_custom_red_defined_in_the_bundle_is_red(fields: dict[str, Any]) -> None:
    assert _tlp(_marking(**fields), _domain_indicator(object_marking_refs=[CUSTOM])) is TLP.RED


def test_pap_red_alongside_tlp_green_is_green_and_pap_alone_gets_the_default() -> None:
    assert _tlp(_domain_indicator(object_marking_refs=[TLP.GREEN.marking_id, OASIS_PAP_RED])) is TLP.GREEN
    assert _tlp(_domain_indicator(object_marking_refs=[OASIS_PAP_RED]), default_tlp=TLP.AMBER) is TLP.AMBER


def test_two_markings_most_restrictive_wins() -> None:
    ind = _domain_indicator(object_marking_refs=[TLP.AMBER.marking_id, TLP.GREEN.marking_id])
    assert _tlp(ind) is TLP.AMBER
    assert _tlp(ind, _rel(), _sco(object_marking_refs=[TLP.AMBER_STRICT.marking_id])) is TLP.AMBER_STRICT


def test_unmarked_gets_the_organisations_default_and_tlp1_white_is_clear() -> None:
    assert _tlp(_domain_indicator(), default_tlp=TLP.AMBER_STRICT) is TLP.AMBER_STRICT
    assert _tlp(_domain_indicator(object_marking_refs=[TLP1_WHITE]), default_tlp=TLP.RED) is TLP.CLEAR


def test_forged_standard_id_and_malformed_refs_are_held() -> None:
    forged = {**TLP.CLEAR.marking_definition(), "name": "TLP:RED"}
    forged["extensions"] = {k: {**v, "tlp_2_0": "red"} for k, v in forged["extensions"].items()}
    assert "claims the standard id" in _held(
        forged, _domain_indicator(object_marking_refs=[TLP.CLEAR.marking_id])
    )
    assert "'object_marking_refs' must be a list" in _held(_domain_indicator(object_marking_refs="x"))
    assert "granular_markings" in _held(_domain_indicator(granular_markings=[{"marking_ref": TLP1_WHITE}]))


def test_one_uninterpretable_indicator_holds_the_whole_submission() -> None:
    good = indicator_obj("domain-name", {"value": "good.example.com"})
    bad = indicator_obj(
        "domain-name",
        {"value": "bad.example.com"},
        tlp=None,
        id="indicator--00000000-0000-4000-8000-00000000000b",
        object_marking_refs=[UNKNOWN],
    )
    assert _held(good, bad).startswith("indicator 1 (indicator--00000000-0000-4000-8000-00000000000b): ")
