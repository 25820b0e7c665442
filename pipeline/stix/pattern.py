"""A small, fast parser for the STIX pattern subset producers send, and a full validator for the edges.

Producers send one observation of equality comparisons joined by AND::

    [phone-number:value = '+14155552671']
    [bank-account:account_number = '12345678' AND bank-account:country = 'GB']

:func:`parse_simple_pattern` reads exactly that subset in one pass (no ANTLR) and returns the comparisons, or
a short reason when the pattern is outside it. It never raises. :func:`is_valid_stix_pattern` runs the full
OASIS grammar (``stix2-patterns``); it is far slower and meant for the CLI and tests, not the hot path.

>>> parse_simple_pattern("[domain-name:value = 'example.com']")
[('domain-name', 'value', 'example.com')]
>>> parse_simple_pattern("[domain-name:value = 'a.com' OR domain-name:value = 'b.com']")
'unsupported pattern: OR'
"""

from __future__ import annotations

import logging
import re
from typing import Final

logger = logging.getLogger(__name__)

Comparison = tuple[str, str, str]

#: Object type and property names as the STIX pattern grammar allows them (types may contain hyphens).
_TYPE_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_PROP_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_SPACE: Final = frozenset(" \t\r\n\f\v")

_COMPARISON_KEYWORDS: Final = frozenset({"LIKE", "MATCHES", "IN", "ISSUBSET", "ISSUPERSET", "NOT", "EXISTS"})
_QUALIFIERS: Final = frozenset({"WITHIN", "REPEATS", "START", "STOP"})
_OBSERVATION_OPERATORS: Final = frozenset({"AND", "OR", "FOLLOWEDBY"})
_SYMBOL_OPERATORS: Final = ("!=", "<>", "<=", ">=", "<", ">")
MAX_PATTERN_LENGTH: Final = 8192
#: the form nearly every report's pattern has, one comparison written exactly so: read by one regex, with the
#: same result :func:`_parse` gives it (a test holds them equal); anything else goes through the scanner
_ONE_COMPARISON: Final = re.compile(r"\[([A-Za-z_][A-Za-z0-9_-]*):([A-Za-z_][A-Za-z0-9_]*) = '([^'\\]*)'\]")


class _Reject(Exception):  # noqa: N818 - internal control flow, never escapes this module
    """Raised inside the scanner to stop at the first problem; turned into a reason string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Scanner:
    """Cursor over the pattern text."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        self.pos = pos

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            raise _Reject(f"invalid pattern: expected {what} at offset {self.pos}")
        self.pos += 1

    def match(self, regex: re.Pattern[str]) -> str | None:
        self.skip_space()
        m = regex.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group()

    def string_literal(self) -> str:
        """Read ``'...'`` with STIX escapes (only ``\\'`` and ``\\\\`` are defined)."""
        text = self.text
        pos = self.pos + 1  # past the opening quote
        out: list[str] = []
        start = pos
        while True:
            end = _next_special(text, pos)
            if end < 0:
                raise _Reject("invalid pattern: unterminated string literal")
            if text[end] == "'":
                out.append(text[start:end])
                self.pos = end + 1
                return "".join(out)
            # a backslash
            if end + 1 >= len(text):
                raise _Reject("invalid pattern: unterminated string literal")
            escaped = text[end + 1]
            if escaped not in "'\\":
                raise _Reject(f"invalid pattern: unknown escape \\{escaped} in string literal")
            out.append(text[start:end])
            out.append(escaped)
            pos = start = end + 2


def _next_special(text: str, pos: int) -> int:
    """Index of the next quote or backslash at or after ``pos``, -1 if none."""
    quote = text.find("'", pos)
    backslash = text.find("\\", pos)
    if backslash < 0 or (0 <= quote < backslash):
        return quote
    return backslash


def parse_simple_pattern(pattern: str) -> list[Comparison] | str:
    """The ``(sco_type, property, value)`` comparisons of a one-observation, AND-only, equality pattern.

    Returns a reason string instead when the pattern is malformed or outside the subset:
    ``"unsupported pattern: OR"``, ``"... multiple observations"``, ``"... qualifiers"``,
    ``"... operator LIKE"``, ``"... non-string literal"``, ``"... property path ..."``,
    ``"... comparisons on different object types"``, ``"... parentheses"``. Never raises.
    """
    if isinstance(pattern, str) and len(pattern) <= MAX_PATTERN_LENGTH:
        one = _ONE_COMPARISON.fullmatch(pattern)
        if one is not None and one.group(1) not in _COMPARISON_KEYWORDS:
            return [(one.group(1), one.group(2), one.group(3))]
    return parse_with_scanner(pattern)


def parse_with_scanner(pattern: str) -> list[Comparison] | str:
    """:func:`parse_simple_pattern` without its one-comparison shortcut (for its tests)."""
    if not isinstance(pattern, str):
        return "invalid pattern: not a string"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"invalid pattern: longer than {MAX_PATTERN_LENGTH} characters"
    try:
        return _parse(_Scanner(pattern))
    except _Reject as rejected:
        return rejected.reason
    except Exception:  # a bug here must not kill a processor: report it as data
        logger.exception("pattern parser failed pattern=%r", pattern[:200])
        return "invalid pattern: parser error"


def _parse(s: _Scanner) -> list[Comparison]:
    if s.at_end():
        raise _Reject("invalid pattern: empty")
    if s.peek() == "(":
        raise _Reject("unsupported pattern: parentheses")
    s.expect("[", "'['")
    comparisons: list[Comparison] = []
    while True:
        comparisons.append(_comparison(s))
        char = s.peek()
        if char == "]":
            s.pos += 1
            break
        word = s.match(_WORD_RE)
        if word == "AND":
            continue
        if word == "OR":
            raise _Reject("unsupported pattern: OR")
        if word is None and char == "":
            raise _Reject("invalid pattern: missing ']'")
        raise _Reject(f"invalid pattern: unexpected {word or char!r} at offset {s.pos}")
    if not s.at_end():
        _trailing(s)
    if len({sco_type for sco_type, _, _ in comparisons}) > 1:
        raise _Reject("unsupported pattern: comparisons on different object types")
    return comparisons


def _trailing(s: _Scanner) -> None:
    """Explain what follows the closing bracket (always a rejection)."""
    word = s.match(_WORD_RE)
    if word in _QUALIFIERS:
        raise _Reject("unsupported pattern: qualifiers")
    if word in _OBSERVATION_OPERATORS:
        raise _Reject("unsupported pattern: multiple observations")
    raise _Reject(f"invalid pattern: unexpected text after ']' at offset {s.pos}")


def _comparison(s: _Scanner) -> Comparison:
    char = s.peek()
    if char == "(":
        raise _Reject("unsupported pattern: parentheses")
    if char == "[":
        raise _Reject("invalid pattern: nested '['")
    sco_type = s.match(_TYPE_RE)
    if sco_type is None:
        raise _Reject(f"invalid pattern: expected an object type at offset {s.pos}")
    if sco_type in _COMPARISON_KEYWORDS:
        raise _Reject(f"unsupported pattern: operator {sco_type}")
    s.expect(":", f"':' after {sco_type!r}")
    s.skip_space()
    prop = _PROP_RE.match(s.text, s.pos)
    if prop is None:
        raise _Reject(f"unsupported pattern: property path at offset {s.pos}")
    s.pos = prop.end()
    if s.pos < len(s.text) and s.text[s.pos] in ".[":
        raise _Reject("unsupported pattern: property path with sub-property, index or reference")
    _operator(s)
    if s.peek() != "'":
        raise _Reject("unsupported pattern: non-string literal")
    return sco_type, prop.group(), s.string_literal()


def _operator(s: _Scanner) -> None:
    char = s.peek()
    if char == "=":
        s.pos += 1
        return
    for symbol in _SYMBOL_OPERATORS:
        if s.text.startswith(symbol, s.pos):
            raise _Reject(f"unsupported pattern: operator {symbol}")
    word = s.match(_WORD_RE)
    if word in _COMPARISON_KEYWORDS:
        raise _Reject(f"unsupported pattern: operator {word}")
    raise _Reject(f"invalid pattern: expected '=' at offset {s.pos}")


def is_valid_stix_pattern(pattern: str, *, stix_version: str = "2.1") -> bool:
    """Whether ``pattern`` is valid under the full STIX grammar (``stix2-patterns``). Slow: edges only."""
    from stix2patterns.validator import run_validator  # noqa: PLC0415 - ANTLR import is slow; edge use only

    if not isinstance(pattern, str) or not pattern.strip():
        return False
    try:
        return not run_validator(pattern, stix_version=stix_version)
    except Exception:  # the ANTLR runtime can raise on odd input; that input is not a valid pattern
        logger.debug("stix2-patterns raised pattern=%r", pattern[:200], exc_info=True)
        return False
