"""The fast pattern parser: a table of accepted and rejected patterns, fuzzing, round-trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.stix.ids import pattern_for
from pipeline.stix.pattern import (
    MAX_PATTERN_LENGTH,
    is_valid_stix_pattern,
    parse_simple_pattern,
    parse_with_scanner,
)

ACCEPTED = [
    ("[domain-name:value = 'example.com']", [("domain-name", "value", "example.com")]),
    ("[phone-number:value='+14155552671']", [("phone-number", "value", "+14155552671")]),
    ("  [ url:value = 'https://a.example/' ]  ", [("url", "value", "https://a.example/")]),
    ("[domain-name : value = 'a.example']", [("domain-name", "value", "a.example")]),
    ("[url:value = 'it\\'s']", [("url", "value", "it's")]),
    ("[url:value = 'back\\\\slash']", [("url", "value", "back\\slash")]),
    ("[url:value = '\\\\\\'']", [("url", "value", "\\'")]),
    ("[url:value = '']", [("url", "value", "")]),
    ("[url:value = 'multi\nline']", [("url", "value", "multi\nline")]),
    ("[email-addr:value = 'ü@bücher.example']", [("email-addr", "value", "ü@bücher.example")]),
    (
        "[bank-account:account_number = '123' AND bank-account:country = 'AU']",
        [("bank-account", "account_number", "123"), ("bank-account", "country", "AU")],
    ),
    (
        "[user-account:account_login = 'x' AND user-account:account_type = 'telegram']",
        [("user-account", "account_login", "x"), ("user-account", "account_type", "telegram")],
    ),
    ("[url:value = 'a AND b OR c ] [']", [("url", "value", "a AND b OR c ] [")]),
]

REJECTED = [
    ("", "invalid pattern: empty"),
    ("   ", "invalid pattern: empty"),
    ("[domain-name:value = 'a' OR domain-name:value = 'b']", "unsupported pattern: OR"),
    ("[domain-name:value = 'a'] AND [domain-name:value = 'b']", "unsupported pattern: multiple observations"),
    ("[domain-name:value = 'a'] OR [url:value = 'b']", "unsupported pattern: multiple observations"),
    ("[domain-name:value = 'a'] FOLLOWEDBY [url:value = 'b']", "unsupported pattern: multiple observations"),
    ("[domain-name:value = 'a'] WITHIN 300 SECONDS", "unsupported pattern: qualifiers"),
    ("[domain-name:value = 'a'] REPEATS 5 TIMES", "unsupported pattern: qualifiers"),
    (
        "[domain-name:value = 'a'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'",
        "unsupported pattern: qualifiers",
    ),
    ("[domain-name:value LIKE 'a%']", "unsupported pattern: operator LIKE"),
    ("[domain-name:value MATCHES '^a']", "unsupported pattern: operator MATCHES"),
    ("[domain-name:value IN ('a', 'b')]", "unsupported pattern: operator IN"),
    ("[domain-name:value NOT = 'a']", "unsupported pattern: operator NOT"),
    ("[ipv4-addr:value ISSUBSET '10.0.0.0/8']", "unsupported pattern: operator ISSUBSET"),
    ("[domain-name:value != 'a']", "unsupported pattern: operator !="),
    ("[domain-name:value <> 'a']", "unsupported pattern: operator <>"),
    ("[x:count > 5]", "unsupported pattern: operator >"),
    ("[x:count <= 5]", "unsupported pattern: operator <="),
    ("[x:count = 5]", "unsupported pattern: non-string literal"),
    ("[x:flag = true]", "unsupported pattern: non-string literal"),
    ("[x:t = t'2026-01-01T00:00:00Z']", "unsupported pattern: non-string literal"),
    ("[x:h = h'ff']", "unsupported pattern: non-string literal"),
    (
        "[file:hashes.'SHA-256' = 'ab']",
        "unsupported pattern: property path with sub-property, index or reference",
    ),
    ("[file:hashes.MD5 = 'ab']", "unsupported pattern: property path with sub-property, index or reference"),
    ("[x:refs[0].value = 'a']", "unsupported pattern: property path with sub-property, index or reference"),
    ("[x:refs[*].value = 'a']", "unsupported pattern: property path with sub-property, index or reference"),
    ("([domain-name:value = 'a'])", "unsupported pattern: parentheses"),
    ("[(domain-name:value = 'a')]", "unsupported pattern: parentheses"),
    (
        "[domain-name:value = 'a' AND url:value = 'b']",
        "unsupported pattern: comparisons on different object types",
    ),
    ("[domain-name:value = 'a'", "invalid pattern: missing ']'"),
    ("domain-name:value = 'a'", "invalid pattern: expected '[' at offset 0"),
    ("[domain-name:value = 'a]", "invalid pattern: unterminated string literal"),
    ("[domain-name:value = 'a\\", "invalid pattern: unterminated string literal"),
    ("[domain-name:value = 'a\\nb']", "invalid pattern: unknown escape \\n in string literal"),
    (
        "[domain-name:value = 'a' and domain-name:value = 'b']",
        "invalid pattern: unexpected 'and' at offset 28",
    ),
    ("[domain-name:value = 'a'] x", "invalid pattern: unexpected text after ']' at offset 27"),
    ("[domain-name:value = 'a'] []", "invalid pattern: unexpected text after ']' at offset 26"),
    ("[domain-name value = 'a']", "invalid pattern: expected ':' after 'domain-name' at offset 13"),
    ("[:value = 'a']", "invalid pattern: expected an object type at offset 1"),
    ("[domain-name: = 'a']", "unsupported pattern: property path at offset 14"),
    ("[domain-name:value 'a']", "invalid pattern: expected '=' at offset 19"),
    ("[[domain-name:value = 'a']]", "invalid pattern: nested '['"),
    ("[]", "invalid pattern: expected an object type at offset 1"),
    (
        "[" + "x:v = 'a' AND " * 2000 + "x:v = 'a']",
        f"invalid pattern: longer than {MAX_PATTERN_LENGTH} characters",
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), ACCEPTED)
def test_accepted(pattern: str, expected: list[tuple[str, str, str]]) -> None:
    assert parse_simple_pattern(pattern) == expected


@pytest.mark.parametrize(("pattern", "expected"), ACCEPTED)
def test_accepted_patterns_are_valid_stix(pattern: str, expected: list[tuple[str, str, str]]) -> None:
    assert expected
    assert is_valid_stix_pattern(pattern)


@pytest.mark.parametrize(("pattern", "reason"), REJECTED)
def test_rejected(pattern: str, reason: str) -> None:
    assert parse_simple_pattern(pattern) == reason


def test_non_string_input_is_a_reason() -> None:
    assert parse_simple_pattern(None) == "invalid pattern: not a string"  # type: ignore[arg-type]
    assert parse_simple_pattern(b"[x:y = 'a']") == "invalid pattern: not a string"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pattern",
    [
        "[domain-name:value = 'a'] AND [domain-name:value = 'b']",
        "[domain-name:value LIKE 'a%']",
        "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
        "[domain-name:value = 'a'] WITHIN 300 SECONDS",
    ],
)
def test_valid_stix_outside_the_subset_is_rejected_with_unsupported(pattern: str) -> None:
    assert is_valid_stix_pattern(pattern)
    result = parse_simple_pattern(pattern)
    assert isinstance(result, str)
    assert result.startswith("unsupported pattern:")


@pytest.mark.parametrize(
    "pattern",
    ["", "   ", "[", "no brackets", "[x:y = 'a' and x:y = 'b']", "[x:y = 'a\\q']", "\x00", "[x:y = 'a'"],
)
def test_is_valid_stix_pattern_rejects_garbage(pattern: str) -> None:
    assert is_valid_stix_pattern(pattern) is False


def test_is_valid_stix_pattern_never_raises_on_non_strings() -> None:
    assert is_valid_stix_pattern(None) is False  # type: ignore[arg-type]


# --- fuzzing ----------------------------------------------------------------------------------------

TOKENS = st.sampled_from(
    [
        "[", "]", "(", ")", ":", "=", "!=", "<", ">=", " ", "'", "\\", "\\'", "\\\\", "AND", "OR", "NOT",
        "LIKE", "FOLLOWEDBY", "WITHIN", "domain-name", "value", "x", ".", "*", "t'", "h'", "1", "\n", "ü",
    ]
)  # fmt: skip
PATTERNISH = st.lists(TOKENS, max_size=30).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_on_any_text(text: str) -> None:
    result = parse_simple_pattern(text)
    assert isinstance(result, (str, list))


@settings(max_examples=1000, deadline=None)
@given(PATTERNISH)
def test_never_raises_on_pattern_like_text(text: str) -> None:
    result = parse_simple_pattern(text)
    if isinstance(result, list):
        assert result
        assert all(isinstance(part, str) for comparison in result for part in comparison)
        assert len({sco_type for sco_type, _, _ in result}) == 1
    else:
        assert result.startswith(("invalid pattern:", "unsupported pattern:"))


SCO_TYPES = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,8}){0,2}", fullmatch=True)
PROPERTIES = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)
VALUES = st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(sco_type=SCO_TYPES, props=st.dictionaries(PROPERTIES, VALUES, min_size=1, max_size=4))
def test_round_trip_with_pattern_for(sco_type: str, props: dict[str, str]) -> None:
    pattern = pattern_for(sco_type, props)
    assert parse_simple_pattern(pattern) == [(sco_type, k, v) for k, v in sorted(props.items())]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sco_type=SCO_TYPES, props=st.dictionaries(PROPERTIES, VALUES, min_size=1, max_size=3))
def test_patterns_we_build_are_valid_stix(sco_type: str, props: dict[str, str]) -> None:
    assert is_valid_stix_pattern(pattern_for(sco_type, props))


@settings(max_examples=200, deadline=None)
@given(PATTERNISH)
def test_accepted_means_valid_stix(text: str) -> None:
    """Whatever the fast parser accepts, the full OASIS grammar accepts too."""
    if isinstance(parse_simple_pattern(text), list):
        assert is_valid_stix_pattern(text)


SPACE = st.sampled_from(["", " ", "  ", "\t", "\n"])


@st.composite
def spaced_patterns(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, str]]]:
    """A pattern inside the subset, with random whitespace, and the comparisons it holds."""
    sco_type = draw(SCO_TYPES)
    comparisons = [(sco_type, draw(PROPERTIES), draw(VALUES)) for _ in range(draw(st.integers(1, 3)))]
    parts = []
    for t, p, v in comparisons:
        literal = "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        parts.append(f"{t}{draw(SPACE)}:{draw(SPACE)}{p}{draw(SPACE)}={draw(SPACE)}{literal}")
    joiner = draw(st.sampled_from([" AND ", "\tAND\n", "  AND  "]))
    text = f"{draw(SPACE)}[{draw(SPACE)}{joiner.join(parts)}{draw(SPACE)}]{draw(SPACE)}"
    return text, comparisons


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaced_patterns())
def test_spaced_patterns_parse_and_are_valid_stix(case: tuple[str, list[tuple[str, str, str]]]) -> None:
    text, comparisons = case
    assert parse_simple_pattern(text) == comparisons
    assert is_valid_stix_pattern(text)


#: one comparison written exactly as the shortcut reads it, and its near misses (keywords as types, hyphens,
#: escapes, a sub-property, spacing, trailing text)
ONE_COMPARISON_LIKE = st.builds(
    lambda t, p, v, tail: f"[{t}:{p} = '{v}']{tail}",
    st.sampled_from(["url", "domain-name", "NOT", "EXISTS", "LIKE", "x-a_b", "_t", "9t", "a.b", ""]),
    st.sampled_from(["value", "account_number", "a-b", "v.x", "v[0]", "_", ""]),
    st.text(alphabet=st.sampled_from("ab'\\ \n]["), max_size=8),
    st.sampled_from(["", " ", "]", " AND x:y = 'z'", " WITHIN 5 SECONDS"]),
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(ONE_COMPARISON_LIKE, PATTERNISH))
def test_the_one_comparison_shortcut_gives_what_the_scanner_gives(text: str) -> None:
    assert parse_simple_pattern(text) == parse_with_scanner(text)


@pytest.mark.parametrize(("pattern", "expected"), ACCEPTED)
def test_the_shortcut_agrees_on_every_accepted_pattern(pattern: str, expected: object) -> None:
    assert parse_with_scanner(pattern) == expected == parse_simple_pattern(pattern)


@pytest.mark.parametrize(("pattern", "reason"), REJECTED)
def test_the_shortcut_agrees_on_every_rejected_pattern(pattern: str, reason: str) -> None:
    assert parse_with_scanner(pattern) == reason == parse_simple_pattern(pattern)
