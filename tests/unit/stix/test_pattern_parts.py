"""The full STIX pattern grammar, read as disjunctive normal form per observation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.stix.pattern_parts import MAX_CONJUNCTIONS, pattern_conjunctions


def _shape(pattern: str) -> list[list[list[tuple[str, str, str, bool]]]]:
    parsed = pattern_conjunctions(pattern)
    assert not isinstance(parsed, str), parsed
    return [[[(a.text, a.op, a.value, a.negated) for a in c] for c in o] for o in parsed]


def test_and_binds_tighter_than_or() -> None:
    assert _shape("[url:value = 'a' AND url:value = 'b' OR url:value = 'c']") == [
        [[("url:value", "=", "a", False), ("url:value", "=", "b", False)], [("url:value", "=", "c", False)]]
    ]


def test_parentheses_distribute_and_in_lists_expand() -> None:
    shape = _shape("[x:a = '1' AND (x:b = '2' OR x:b IN ('3', '4'))]")
    assert [[a[2] for a in c] for c in shape[0]] == [["1", "2"], ["1", "3"], ["1", "4"]]


def test_observations_qualifiers_and_followedby() -> None:
    pattern = (
        "([a:v = '1'] REPEATS 5 TIMES FOLLOWEDBY [b:v = '2']) WITHIN 60 SECONDS "
        "OR [c:v = '3'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'"
    )
    assert [o[0][0][0] for o in _shape(pattern)] == ["a:v", "b:v", "c:v"]


def test_paths_operators_and_literals() -> None:
    shape = _shape(
        "[file:hashes.'SHA-256' = 'aa' AND file:size > 10 AND email-message:to_refs[*].value NOT LIKE '%x' "
        "AND artifact:payload_bin = b'AAAA' AND EXISTS process:pid]"
    )
    assert shape[0][0] == [
        ("file:hashes.SHA-256", "=", "aa", False),
        ("file:size", ">", "10", False),
        ("email-message:to_refs.[*].value", "LIKE", "%x", True),
        ("artifact:payload_bin", "=", "AAAA", False),
        ("process:pid", "EXISTS", "", False),
    ]


def test_escapes_in_string_literals() -> None:
    assert _shape(r"[url:value = 'it\'s \\ here']")[0][0][0][2] == "it's \\ here"


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "[url:value = 'a'",
        "url:value = 'a'",
        "[url:value 'a']",
        "[url:value = 'a'] WITHIN x SECONDS",
        "[a:b = 'x\\q']",
    ],
)
def test_malformed_patterns_give_a_reason(pattern: str) -> None:
    assert isinstance(pattern_conjunctions(pattern), str)


def test_an_exploding_normal_form_is_refused() -> None:
    factors = " AND ".join(f"(a:v = '{i}' OR a:v = '{i}x')" for i in range(12))  # 4096 alternatives
    result = pattern_conjunctions(f"[{factors}]")
    assert isinstance(result, str)
    assert str(MAX_CONJUNCTIONS) in result


@given(st.text(alphabet="[]()'=ANDORx:.v ab\\", max_size=60))
def test_any_text_gives_conjunctions_or_a_reason_and_never_raises(text: str) -> None:
    assert isinstance(pattern_conjunctions(text), list | str)
